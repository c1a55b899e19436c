package web

import "github.com/gofiber/fiber/v2"

// clientRoutes registers the routes of this file under the authenticated /api/v5 group.
func (s *Server) clientRoutes(r fiber.Router) {}
