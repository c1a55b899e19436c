package web

import "github.com/gofiber/fiber/v2"

// eventRoutes registers the routes of this file under the authenticated /api/v5 group.
func (s *Server) eventRoutes(r fiber.Router) {}
