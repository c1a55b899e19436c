package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/views"
)

// The dashboard: server-rendered pages (views, templ) with htmx for the parts that change.
// Handlers are thin: read the request, call the same service layer as the API
// (changeGateway, the store, the Manager), build a view model, render. ui_<page>.go holds a
// page's handlers and its routes function, which uiRoutes calls.

const (
	// uiSessionCookie holds the admin's JWT, the same token the API's login returns.
	uiSessionCookie = "xgate_session"
	// uiLoginCSRFCookie holds the login form's CSRF token (there is no session yet to bind
	// it to): the form must send the same value.
	uiLoginCSRFCookie = "xgate_login_csrf"
	// uiFlashCookie carries one message to the next page shown (after a redirect).
	uiFlashCookie = "xgate_flash"
	// uiLocalSession is the c.Locals key of the request's *uiSession.
	uiLocalSession = "ui_session"
)

// uiSession is a logged-in dashboard request.
type uiSession struct {
	claims *admClaims
	csrf   string // the token every unsafe request of this session must carry
}

// uiRouter registers dashboard routes behind the session check and the CSRF check. Its
// routes are at the top level ("/", "/gateways"), so they cannot share a fiber group:
// a group's middleware would run for every path of the app, the API's included.
type uiRouter struct {
	app *fiber.App
	mw  []fiber.Handler
}

func (r uiRouter) add(method, path string, h fiber.Handler) {
	r.app.Add(method, path, slices.Concat(r.mw, []fiber.Handler{h})...)
}

// Get registers a page or a fragment.
func (r uiRouter) Get(path string, h fiber.Handler) { r.add(fiber.MethodGet, path, h) }

// Post, Put, Patch and Delete register actions; each request must carry the CSRF token.
func (r uiRouter) Post(path string, h fiber.Handler)   { r.add(fiber.MethodPost, path, h) }
func (r uiRouter) Put(path string, h fiber.Handler)    { r.add(fiber.MethodPut, path, h) }
func (r uiRouter) Patch(path string, h fiber.Handler)  { r.add(fiber.MethodPatch, path, h) }
func (r uiRouter) Delete(path string, h fiber.Handler) { r.add(fiber.MethodDelete, path, h) }

// uiRoutes registers the dashboard. Each page adds its routes function here.
func (s *Server) uiRoutes() {
	s.app.Get("/static/*", s.uiStatic)
	s.app.Get("/login", s.uiLoginPage)
	s.app.Post("/login", s.uiLogin)
	ui := uiRouter{app: s.app, mw: []fiber.Handler{s.uiRequireSession, s.uiCheckCSRF}}
	ui.Post("/logout", s.uiLogout)
	s.uiOverviewRoutes(ui)
	s.uiGatewaysRoutes(ui)
	s.uiAuthzRoutes(ui)
	s.uiEventsRoutes(ui)
	s.uiClientsRoutes(ui)
	s.uiAuthnRoutes(ui)
	s.uiAccountRoutes(ui)
}

// uiRequireSession admits requests with a valid session cookie. Without one, a page request
// is sent to the login page (which comes back here afterwards) and an htmx request gets 401
// with HX-Redirect, which makes htmx load the login page.
func (s *Server) uiRequireSession(c *fiber.Ctx) error {
	token := c.Cookies(uiSessionCookie)
	if token == "" {
		return s.uiToLogin(c)
	}
	claims, err := s.verifyToken(c.UserContext(), token)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == fiber.StatusUnauthorized {
		uiClearCookie(c, uiSessionCookie)
		return s.uiToLogin(c)
	}
	if err != nil {
		return err
	}
	c.Locals(uiLocalSession, &uiSession{claims: claims, csrf: s.csrfToken(claims.ID)})
	return c.Next()
}

// uiToLogin answers a request that needs a session it does not have.
func (s *Server) uiToLogin(c *fiber.Ctx) error {
	if uiIsHTMX(c) {
		next := ""
		if u, err := url.Parse(c.Get("HX-Current-URL")); err == nil {
			next = uiSafeNext(u.RequestURI())
		}
		c.Set("HX-Redirect", uiLoginURL(next, ""))
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	next := ""
	if c.Method() == fiber.MethodGet {
		next = uiSafeNext(string(c.Request().RequestURI()))
	}
	return c.Redirect(uiLoginURL(next, ""), fiber.StatusSeeOther)
}

// uiLoginURL is the login page's address with its query: next (a local path) and a notice.
func uiLoginURL(next, notice string) string {
	q := url.Values{}
	if next != "" && next != "/" {
		q.Set("next", next)
	}
	if notice != "" {
		q.Set("notice", notice)
	}
	if len(q) == 0 {
		return "/login"
	}
	return "/login?" + q.Encode()
}

// uiSafeNext returns next if it is a path on this server, else "": the login page must not
// send anyone elsewhere.
func uiSafeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(strings.ToLower(u.Path), "/login") {
		return ""
	}
	return next
}

// csrfToken is the CSRF token of the session whose token has the id jti: derived from it with
// the signing key, so it needs no storage and ends with the session.
func (s *Server) csrfToken(jti string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("xgate dashboard csrf\x00"))
	m.Write([]byte(jti))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// uiCheckCSRF refuses an unsafe request (anything but GET, HEAD, OPTIONS) that does not carry
// the session's CSRF token, in the header views.CSRFHeader (htmx) or the form field
// views.CSRFFieldName (plain forms). The session cookie is SameSite=Strict, so this is the
// second line of defence.
func (s *Server) uiCheckCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	sess := uiSessionOf(c)
	got := c.Get(views.CSRFHeader)
	if got == "" {
		got = c.FormValue(views.CSRFFieldName)
	}
	if sess == nil || !hmac.Equal([]byte(got), []byte(sess.csrf)) {
		return &APIError{Status: fiber.StatusForbidden, Code: "FORBIDDEN",
			Message: "This form has expired or did not come from this dashboard. Reload the page and try again."}
	}
	return c.Next()
}

// uiSessionOf is the request's session, nil before uiRequireSession.
func uiSessionOf(c *fiber.Ctx) *uiSession {
	sess, _ := c.Locals(uiLocalSession).(*uiSession)
	return sess
}

func uiIsHTMX(c *fiber.Ctx) bool { return c.Get("HX-Request") == "true" }

// uiPage is the layout's model for a page of the logged-in admin: title, active navigation
// entry, user, default-password banner, and the flash message left by the last redirect.
func (s *Server) uiPage(c *fiber.Ctx, title, active string) views.Page {
	p := views.Page{Title: title, Active: active, DefaultPassword: s.defaultPasswordInUse()}
	if sess := uiSessionOf(c); sess != nil {
		p.User = sess.claims.Subject
	}
	if f, ok := uiTakeFlash(c); ok {
		p.Flash = append(p.Flash, f)
	}
	return p
}

// uiRender sends a component as an HTML answer with status. It renders into a buffer first,
// so a failing component becomes an error page rather than half a page.
func (s *Server) uiRender(c *fiber.Ctx, status int, component templ.Component) error {
	ctx := c.UserContext()
	if sess := uiSessionOf(c); sess != nil {
		ctx = views.WithCSRF(ctx, sess.csrf)
	} else if token, ok := c.Locals(uiLocalLoginCSRF).(string); ok {
		ctx = views.WithCSRF(ctx, token)
	}
	var buf bytes.Buffer
	if err := component.Render(ctx, &buf); err != nil {
		return err
	}
	uiSecurityHeaders(c)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// uiSecurityHeaders: pages load scripts and styles only from /static (no inline scripts,
// so markup injected into a page cannot run), cannot be framed, and are never cached (they
// carry the CSRF token and live numbers). Pico draws some controls with data: images;
// inline styles are allowed because uPlot and htmx set them.
func uiSecurityHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
	c.Set("X-Frame-Options", "DENY")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
}

// uiError answers a failed dashboard request (errorHandler sends every error of a path
// outside /api here) in HTML: an htmx request gets the message in the flash area, a page
// request an error page.
func (s *Server) uiError(c *fiber.Ctx, ae *APIError) error {
	msg := ae.Message
	if ae.Status >= fiber.StatusInternalServerError {
		msg = "Something went wrong on the server; the log has the details."
	}
	if uiIsHTMX(c) {
		c.Set("HX-Retarget", "#flash")
		c.Set("HX-Reswap", "innerHTML")
		return s.uiRender(c, ae.Status, views.FlashMessages([]views.Flash{{Kind: views.FlashError, Text: msg}}))
	}
	title := http.StatusText(ae.Status)
	if title == "" {
		title = "Error"
	}
	if ae.Status == fiber.StatusNotFound {
		msg = "There is no page at " + c.Path() + "."
	}
	p := views.Page{Title: title}
	if sess := uiSessionOf(c); sess != nil {
		p.User, p.DefaultPassword = sess.claims.Subject, s.defaultPasswordInUse()
	}
	return s.uiRender(c, ae.Status, views.ErrorPage(p, views.ErrorInfo{Status: ae.Status, Title: title, Message: msg}))
}

// uiIsAPIPath reports whether path belongs to the JSON API (routing ignores case).
func uiIsAPIPath(path string) bool {
	return len(path) >= len("/api/") && strings.EqualFold(path[:len("/api/")], "/api/")
}

// uiFlash leaves a message for the next page this browser is shown, for an action that
// answers with a redirect.
func uiFlash(c *fiber.Ctx, kind views.FlashKind, text string) {
	c.Cookie(&fiber.Cookie{Name: uiFlashCookie, Value: url.QueryEscape(string(kind) + ":" + text), Path: "/",
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https",
		Expires: time.Now().Add(time.Minute)})
}

// uiTakeFlash reads and clears the flash message.
func uiTakeFlash(c *fiber.Ctx) (views.Flash, bool) {
	raw := c.Cookies(uiFlashCookie)
	if raw == "" {
		return views.Flash{}, false
	}
	uiClearCookie(c, uiFlashCookie)
	v, err := url.QueryUnescape(raw)
	if err != nil {
		return views.Flash{}, false
	}
	kind, text, ok := strings.Cut(v, ":")
	switch views.FlashKind(kind) {
	case views.FlashInfo, views.FlashSuccess, views.FlashError:
	default:
		ok = false
	}
	if !ok || text == "" {
		return views.Flash{}, false
	}
	return views.Flash{Kind: views.FlashKind(kind), Text: text}, true
}

// uiClearCookie tells the browser to forget a cookie.
// uiSetSession puts a login token in the session cookie: HttpOnly, SameSite=Strict, and
// Secure behind HTTPS.
func (s *Server) uiSetSession(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{Name: uiSessionCookie, Value: token, Path: "/", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https",
		Expires: time.Now().Add(s.deps.TokenTTL)})
}

func uiClearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Expires: time.Unix(0, 0), MaxAge: -1})
}
