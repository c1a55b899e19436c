// Package web serves xgate's HTTP surface: the JSON API under /api/v5 (EMQX-shaped paths)
// and the dashboard (ui*.go: server-rendered pages from package views, htmx). Both change the configuration through the same steps:
// validate, store in one SQLite transaction, apply to the running gateways, commit.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
)

// Deps are what the HTTP handlers use.
type Deps struct {
	Log     *slog.Logger
	Node    string
	Version string

	Store   *db.DB
	Manager *gateway.Manager
	Access  *Access
	Events  *Events // the live event bus (SSE, webhooks); nil disables those routes

	// AdminPassword is the first admin's password on a fresh database (XGATE_ADMIN_PASSWORD);
	// empty means EMQX's default "public", with a warning.
	AdminPassword string
	// TokenTTL is how long a login token is valid (EMQX: 60 minutes).
	TokenTTL time.Duration
	// PasswordCost is the bcrypt cost of new admin and API key hashes; 0 means bcrypt's
	// default. Tests lower it.
	PasswordCost int
	// DataDir is xgate's data directory (absolute). The dashboard stores uploaded listener
	// certificates and keys in its certs directory; empty refuses uploads (paths still work).
	DataDir string
	// SampleEvery is how often the dashboard's charts sample the gateways' counters (and how
	// often the overview refreshes); 0 means 5 s.
	SampleEvery time.Duration
}

// Server is the HTTP server.
type Server struct {
	app  *fiber.App
	deps Deps
	key  []byte // JWT signing key
	ln   net.Listener
	done chan error
	adm  admState // login lockout, API key cache, default-password flag (auth.go)
	// sampler keeps the counters' recent history for the dashboard's charts; its goroutine
	// runs from Listen to Shutdown.
	sampler *sampler
}

// APIError is the JSON error body EMQX's API returns.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// New builds the HTTP app: it loads (or, on the first start, creates) the token signing
// key and the first admin user.
func New(ctx context.Context, deps Deps) (*Server, error) {
	if deps.TokenTTL <= 0 {
		deps.TokenTTL = 60 * time.Minute
	}
	if deps.SampleEvery <= 0 {
		deps.SampleEvery = defaultSampleEvery
	}
	s := &Server{deps: deps}
	s.sampler = newSampler(deps.SampleEvery, chartWindow, func() []gateway.GatewayStatus {
		if deps.Manager == nil { // handler tests of the admin API run without gateways
			return nil
		}
		return deps.Manager.Status()
	})
	s.adm.hashCost = deps.PasswordCost
	var err error
	if s.key, err = signingKey(ctx, deps.Store); err != nil {
		return nil, fmt.Errorf("web: signing key: %w", err)
	}
	if err := s.ensureAdmin(ctx); err != nil {
		return nil, fmt.Errorf("web: first admin: %w", err)
	}
	s.app = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// Values from c.Params, c.Query and c.FormValue outlive the request when they are
		// stored (a subscription id, a filter): they must not alias fasthttp's reused buffers.
		Immutable:    true,
		ErrorHandler: s.errorHandler,
		ReadTimeout:  30 * time.Second,
		IdleTimeout:  60 * time.Second,
		BodyLimit:    64 << 20, // user imports
	})
	api := s.app.Group("/api/v5")
	api.Get("/status", s.status)
	api.Get("/openapi.json", s.openapi)
	api.Post("/login", s.login)
	protected := api.Group("", s.requireAuth)
	s.adminRoutes(protected)
	s.gatewayRoutes(protected)
	s.clientRoutes(protected)
	s.authzRoutes(protected)
	s.eventRoutes(protected)
	s.uiRoutes()
	// Last: anything not matched above. Outside /api the error handler answers in HTML.
	s.app.Use(func(c *fiber.Ctx) error {
		return &APIError{Status: fiber.StatusNotFound, Code: "NOT_FOUND", Message: "no such path: " + c.Path()}
	})
	return s, nil
}

// App exposes the fiber app for handler tests (app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Listen binds addr; serving starts with Serve. A busy port is reported here.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("http listener %s: %w", addr, err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() { s.done <- s.app.Listener(ln) }()
	s.sampler.start()
	s.deps.Log.Info("http listener started", "bind", ln.Addr().String())
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops accepting and waits for requests in flight (bounded by ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	s.sampler.stop()
	if s.ln == nil {
		return nil
	}
	err := s.app.ShutdownWithContext(ctx)
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	return err
}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var ae *APIError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = &APIError{Status: fe.Code, Code: codeFor(fe.Code), Message: fe.Message}
	default:
		s.deps.Log.Error("http handler", "path", c.Path(), "error", err)
		ae = &APIError{Status: fiber.StatusInternalServerError, Code: "UNKNOWN_ERROR", Message: "internal error"}
	}
	if !uiIsAPIPath(c.Path()) {
		return s.uiError(c, ae)
	}
	return c.Status(ae.Status).JSON(ae)
}

func codeFor(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "BAD_REQUEST"
	case fiber.StatusUnauthorized:
		return "UNAUTHORIZED"
	case fiber.StatusForbidden:
		return "FORBIDDEN"
	case fiber.StatusNotFound:
		return "NOT_FOUND"
	case fiber.StatusMethodNotAllowed:
		return "METHOD_NOT_ALLOWED"
	case fiber.StatusConflict:
		return "CONFLICT"
	}
	return "UNKNOWN_ERROR"
}

// status answers like EMQX's GET /api/v5/status: plain text by default, JSON with
// ?format=json.
func (s *Server) status(c *fiber.Ctx) error {
	if c.Query("format") == "json" {
		return c.JSON(fiber.Map{"node": s.deps.Node, "status": "running", "rel_vsn": s.deps.Version})
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString(fmt.Sprintf("Node %s is started\nxgate is running\n", s.deps.Node))
}
