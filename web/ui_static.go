package web

import (
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/static"
)

// uiStatic is GET /static/*: the embedded browser files. Pages link them with their content
// hash (static.URL); an address with the current hash may be cached for a year, any other
// must be revalidated (ETag).
func (s *Server) uiStatic(c *fiber.Ctx) error {
	name := c.Params("*")
	f, ok := static.Lookup(name)
	if !ok {
		return notFound("no such file: /static/" + name)
	}
	etag := `"` + f.Hash + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set("X-Content-Type-Options", "nosniff")
	if c.Query("v") == f.Hash {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && strings.Contains(match, etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = fiber.MIMETextPlainCharsetUTF8
	}
	c.Set(fiber.HeaderContentType, ctype)
	return c.Send(f.Data)
}
