package web

import "github.com/gofiber/fiber/v2"

// adminRoutes registers the routes of this file under the authenticated /api/v5 group.
func (s *Server) adminRoutes(r fiber.Router) {}
