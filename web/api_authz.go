package web

import "github.com/gofiber/fiber/v2"

// authzRoutes registers the routes of this file under the authenticated /api/v5 group.
func (s *Server) authzRoutes(r fiber.Router) {}
