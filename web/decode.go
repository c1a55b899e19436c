package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// decodeStrict decodes the JSON request body into v. An unknown field, a wrong type or
// trailing data is a 400 that names the problem.
func decodeStrict(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(decodeMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("unexpected data after the JSON body")
	}
	return nil
}

func decodeMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return "the body must be a JSON " + typeErr.Type.Kind().String()
		}
		return fmt.Sprintf("%s: must be %s, not %s", typeErr.Field, typeErr.Type.Kind(), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.EOF):
		return "the body must be a JSON object"
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + name
	}
	return err.Error()
}

func badRequest(msg string) error {
	return &APIError{Status: fiber.StatusBadRequest, Code: "BAD_REQUEST", Message: msg}
}

func notFound(msg string) error {
	return &APIError{Status: fiber.StatusNotFound, Code: "RESOURCE_NOT_FOUND", Message: msg}
}
