package web

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/views"
)

// uiLocalLoginCSRF is the c.Locals key of the login form's CSRF token, for uiRender.
const uiLocalLoginCSRF = "ui_login_csrf"

// uiLoginNotice is the message the login page shows for its ?notice= parameter.
func uiLoginNotice(notice string) string {
	switch notice {
	case "logged_out":
		return "You have logged out."
	}
	return ""
}

// uiLoginPage is GET /login. A browser that is already logged in goes to the overview.
func (s *Server) uiLoginPage(c *fiber.Ctx) error {
	if token := c.Cookies(uiSessionCookie); token != "" {
		if _, err := s.verifyToken(c.UserContext(), token); err == nil {
			return c.Redirect("/", fiber.StatusSeeOther)
		}
	}
	m := views.Login{Next: uiSafeNext(c.Query("next")), Notice: uiLoginNotice(c.Query("notice"))}
	return s.uiRenderLogin(c, fiber.StatusOK, m)
}

// uiRenderLogin renders the login page with a new login CSRF token, in the form and in its
// cookie.
func (s *Server) uiRenderLogin(c *fiber.Ctx, status int, m views.Login) error {
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	c.Cookie(&fiber.Cookie{Name: uiLoginCSRFCookie, Value: token, Path: "/", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https", Expires: time.Now().Add(time.Hour)})
	c.Locals(uiLocalLoginCSRF, token)
	return s.uiRender(c, status, views.LoginPage(views.Page{Title: "Log in"}, m))
}

// uiLogin is POST /login (a form: username, password, next). It checks the credentials as
// the API's login does, lockout included; on success the token goes into an HttpOnly,
// SameSite=Strict cookie and the browser to the overview (or the page it came for).
func (s *Server) uiLogin(c *fiber.Ctx) error {
	// Form values point into fasthttp's buffers; the lockout keeps the username.
	username := strings.Clone(c.FormValue("username"))
	password := c.FormValue("password")
	m := views.Login{Username: username, Next: uiSafeNext(c.FormValue("next"))}

	want := c.Cookies(uiLoginCSRFCookie)
	if want == "" || !hmac.Equal([]byte(want), []byte(c.FormValue(views.CSRFFieldName))) {
		m.Error = "The login form expired. Please try again."
		return s.uiRenderLogin(c, fiber.StatusForbidden, m)
	}
	a, err := s.authenticateAdmin(c.UserContext(), username, password)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == fiber.StatusUnauthorized {
		m.Error = "Wrong username or password."
		if ae.Code == "LOGIN_LOCKED" {
			m.Error = ae.Message + "."
		}
		return s.uiRenderLogin(c, fiber.StatusUnauthorized, m)
	}
	if err != nil {
		return err
	}
	token, err := s.issueToken(a)
	if err != nil {
		return err
	}
	s.uiSetSession(c, token)
	uiClearCookie(c, uiLoginCSRFCookie)
	next := m.Next
	if next == "" {
		next = "/"
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// uiLogout is POST /logout: the session's token is revoked (as the API's logout does) and
// its cookie cleared.
func (s *Server) uiLogout(c *fiber.Ctx) error {
	claims := uiSessionOf(c).claims
	if err := s.deps.Store.RevokeToken(c.UserContext(), claims.ID, claims.ExpiresAt.Unix(), time.Now().Unix()); err != nil {
		return err
	}
	uiClearCookie(c, uiSessionCookie)
	to := uiLoginURL("", "logged_out")
	if uiIsHTMX(c) {
		c.Set("HX-Redirect", to)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}
