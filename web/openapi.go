package web

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openapiDoc is the OpenAPI 3.0 description of every route under /api/v5. openapi_test.go
// checks that it documents exactly the routes New registers, so a new route fails the tests
// until it is described here.
//
//go:embed openapi.json
var openapiDoc []byte

// openapi is GET /api/v5/openapi.json, public like /status: the API's OpenAPI document.
func (s *Server) openapi(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openapiDoc)
}
