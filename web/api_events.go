package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
)

// eventRoutes registers the routes of this file under the authenticated /api/v5 group.
// As in authzRoutes, handlers use c.UserContext() as their context.
func (s *Server) eventRoutes(r fiber.Router) {
	r.Get("/events", s.evStream)
	r.Get("/webhooks", s.evListWebhooks)
	r.Post("/webhooks", s.evCreateWebhook)
	r.Get("/webhooks/:name", s.evGetWebhook)
	r.Put("/webhooks/:name", s.evUpdateWebhook)
	r.Delete("/webhooks/:name", s.evDeleteWebhook)
}

func (s *Server) evBus() (*Events, error) {
	if s.deps.Events == nil {
		return nil, &APIError{Status: fiber.StatusServiceUnavailable, Code: "SERVICE_UNAVAILABLE", Message: "events are not enabled"}
	}
	return s.deps.Events, nil
}

// evStream is GET /api/v5/events: the live gateway events as Server-Sent Events, one JSON
// object per event, filtered by ?gateway=, ?clientid= and ?type= (repeated or
// comma-separated). The stream ends when the client goes away or the server stops.
func (s *Server) evStream(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	var typeValues []string
	for _, v := range c.Context().QueryArgs().PeekMulti("type") {
		typeValues = append(typeValues, string(v))
	}
	types, gw, err := s.evParseFilter(typeValues, c.Query("gateway"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no") // reverse proxies must not hold the stream back
	if c.Method() == fiber.MethodHead {
		return nil // no body, so no stream to keep open
	}
	sink, ok := bus.openStream(types, gw, c.Query("clientid"))
	if !ok {
		return &APIError{Status: fiber.StatusServiceUnavailable, Code: "SERVICE_UNAVAILABLE", Message: "shutting down"}
	}
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) { bus.stream(w, sink) })
	return nil
}

// evParseFilter reads a stream's filter: typeValues are event type names, each value maybe
// comma-separated (none: every type), gw a gateway name or "". A bad value is a 400 whose
// message starts with "type:" or "gateway:". The API's stream and the dashboard's use it.
func (s *Server) evParseFilter(typeValues []string, gw string) (evMask, string, error) {
	types := evAllTypes
	if len(typeValues) > 0 {
		types = 0
		for _, v := range typeValues {
			for name := range strings.SplitSeq(v, ",") {
				name = strings.TrimSpace(name)
				if name == "" {
					continue
				}
				bit := evTypeBit(gateway.EventType(name))
				if bit == 0 {
					return 0, "", badRequest(fmt.Sprintf("type: %q is not an event type (%s)", name, evTypeList()))
				}
				types |= bit
			}
		}
		if types == 0 {
			return 0, "", badRequest("type: empty; name at least one event type")
		}
	}
	if gw != "" && !slices.Contains(s.deps.Manager.Protocols(), gw) {
		return 0, "", badRequest(fmt.Sprintf("gateway: %q is not a gateway (%s)", gw, strings.Join(s.deps.Manager.Protocols(), ", ")))
	}
	return types, gw, nil
}

func evTypeList() string {
	names := make([]string, len(evEventTypes))
	for i, t := range evEventTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// evWebhookBody is the JSON of POST and PUT /webhooks.
type evWebhookBody struct {
	Name    *string           `json:"name"`
	URL     string            `json:"url"`
	Events  []string          `json:"events"`
	Headers map[string]string `json:"headers"`
	Enable  *bool             `json:"enable"`
}

// evWebhookView is a webhook as the API shows it: its configuration with secrets masked,
// whether its worker runs, and its counters.
type evWebhookView struct {
	db.Webhook
	Status  string           `json:"status"` // running | stopped
	Metrics evWebhookMetrics `json:"metrics"`
}

func (s *Server) evView(bus *Events, w db.Webhook) evWebhookView {
	w.URL = evMaskURL(w.URL)
	w.Headers = evMaskHeaders(w.Headers)
	if w.Events == nil {
		w.Events = []string{}
	}
	m, running := bus.webhookMetrics(w.Name)
	v := evWebhookView{Webhook: w, Status: "stopped", Metrics: m}
	if running {
		v.Status = "running"
	}
	return v
}

// evListWebhooks is GET /api/v5/webhooks.
func (s *Server) evListWebhooks(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	list, err := s.deps.Store.Webhooks(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]evWebhookView, 0, len(list))
	for _, w := range list {
		out = append(out, s.evView(bus, w))
	}
	return c.JSON(out)
}

// evGetWebhook is GET /api/v5/webhooks/{name}.
func (s *Server) evGetWebhook(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	w, err := s.evStored(c)
	if err != nil {
		return err
	}
	return c.JSON(s.evView(bus, w))
}

func (s *Server) evStored(c *fiber.Ctx) (db.Webhook, error) {
	name := c.Params("name")
	w, ok, err := s.deps.Store.Webhook(c.UserContext(), name)
	if err != nil {
		return db.Webhook{}, err
	}
	if !ok {
		return db.Webhook{}, evNotFound(name)
	}
	return w, nil
}

func evNotFound(name string) error {
	return &APIError{Status: fiber.StatusNotFound, Code: "NOT_FOUND", Message: "webhook not found: " + name}
}

// evCreateWebhook is POST /api/v5/webhooks: 201 with the new webhook, whose worker runs
// at once when it is enabled.
func (s *Server) evCreateWebhook(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	var body evWebhookBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return badRequest("name: required")
	}
	w := body.webhook(*body.Name)
	if err := s.evCreate(c.UserContext(), bus, w); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.evView(bus, w))
}

// evCreate validates and stores a new webhook and starts its worker when it is enabled: the
// API's POST and the dashboard's form. A refused webhook is a 400 whose message starts with
// its field ("url: ..."), or a 409 when the name is taken.
func (s *Server) evCreate(ctx context.Context, bus *Events, w db.Webhook) error {
	if err := evValidateWebhook(w); err != nil {
		return err
	}
	err := bus.changeWebhooks(ctx, func() error { return s.deps.Store.AddWebhook(ctx, w) })
	if errors.Is(err, db.ErrExists) {
		return &APIError{Status: fiber.StatusConflict, Code: "ALREADY_EXISTS", Message: "webhook already exists: " + w.Name}
	}
	return err
}

// evUpdateWebhook is PUT /api/v5/webhooks/{name}: the whole webhook is replaced (a masked
// secret sent back keeps its stored value) and its worker restarted.
func (s *Server) evUpdateWebhook(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	var body evWebhookBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	stored, err := s.evStored(c)
	if err != nil {
		return err
	}
	if body.Name != nil && *body.Name != stored.Name {
		return badRequest(fmt.Sprintf("name: %q differs from the path's %q; a webhook cannot be renamed", *body.Name, stored.Name))
	}
	w, err := s.evUpdate(c.UserContext(), bus, stored, body.webhook(stored.Name))
	if err != nil {
		return err
	}
	return c.JSON(s.evView(bus, w))
}

// evUpdate replaces the stored webhook with w (same name; a masked URL password or header
// value sent back keeps the stored one) and restarts its worker: the API's PUT and the
// dashboard's form. It returns what was stored.
func (s *Server) evUpdate(ctx context.Context, bus *Events, stored, w db.Webhook) (db.Webhook, error) {
	if w.URL == evMaskURL(stored.URL) {
		w.URL = stored.URL
	}
	evUnmaskHeaders(w.Headers, stored.Headers)
	if err := evValidateWebhook(w); err != nil {
		return db.Webhook{}, err
	}
	err := bus.changeWebhooks(ctx, func() error { return s.deps.Store.UpdateWebhook(ctx, w) })
	if errors.Is(err, db.ErrNotFound) {
		return db.Webhook{}, evNotFound(w.Name)
	}
	if err != nil {
		return db.Webhook{}, err
	}
	return w, nil
}

// evDeleteWebhook is DELETE /api/v5/webhooks/{name}: its worker stops, queued events are
// discarded.
func (s *Server) evDeleteWebhook(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	if err := s.evDelete(c.UserContext(), bus, c.Params("name")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// evDelete deletes the webhook name and stops its worker.
func (s *Server) evDelete(ctx context.Context, bus *Events, name string) error {
	err := bus.changeWebhooks(ctx, func() error { return s.deps.Store.DeleteWebhook(ctx, name) })
	if errors.Is(err, db.ErrNotFound) {
		return evNotFound(name)
	}
	return err
}

func (b evWebhookBody) webhook(name string) db.Webhook {
	w := db.Webhook{Name: name, URL: b.URL, Events: b.Events, Headers: b.Headers, Enable: true}
	if b.Enable != nil {
		w.Enable = *b.Enable
	}
	if len(w.Headers) == 0 {
		w.Headers = nil
	}
	return w
}

var evNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// evValidateWebhook checks a webhook before it is stored; the error is a 400 naming the
// field.
func evValidateWebhook(w db.Webhook) error {
	if !evNamePattern.MatchString(w.Name) {
		return badRequest(fmt.Sprintf("name: %q must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", w.Name))
	}
	if w.URL == "" {
		return badRequest("url: required")
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		return badRequest("url: not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return badRequest("url: must be an http:// or https:// URL with a host")
	}
	if len(w.Events) == 0 {
		return badRequest("events: name at least one event type (" + evTypeList() + ")")
	}
	seen := map[string]bool{}
	for i, t := range w.Events {
		if evTypeBit(gateway.EventType(t)) == 0 {
			return badRequest(fmt.Sprintf("events[%d]: %q is not an event type (%s)", i, t, evTypeList()))
		}
		if seen[t] {
			return badRequest(fmt.Sprintf("events[%d]: %q is listed twice", i, t))
		}
		seen[t] = true
	}
	for k, v := range w.Headers {
		if !evHeaderName(k) {
			return badRequest(fmt.Sprintf("headers: %q is not a header name", k))
		}
		switch strings.ToLower(k) {
		case "host", "content-length", "transfer-encoding", "connection":
			return badRequest(fmt.Sprintf("headers.%s: set by xgate, not configurable", k))
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return badRequest(fmt.Sprintf("headers.%s: a value may not contain line breaks or NUL", k))
		}
	}
	return nil
}

// evHeaderName reports whether k is an HTTP token (RFC 9110 §5.6.2).
func evHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}
