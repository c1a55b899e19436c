package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/views"
)

// The account page: the logged-in user changes their own password. It takes the API's steps
// (admCheckOldPassword, then admSetPassword, as POST /api/v5/users/{username}/change_pwd), so
// the same password rule applies, a wrong current password counts towards the login lockout
// and a locked user is refused.
//
// A change replaces the user's token epoch, which ends every token issued before, this
// session's included. The handler then issues a new token for this browser: the user has
// just proved both passwords in a session that was valid, so asking for the new one again
// would add nothing; every other session (other browsers, API tokens) stays ended.

func (s *Server) uiAccountRoutes(ui uiRouter) {
	ui.Get(views.AccountPasswordURL, s.uipwPage)
	ui.Post(views.AccountPasswordURL, s.uipwChange)
}

// uipwRule is EMQX's password rule (admPasswordProblem), said for the form.
const uipwRule = "8 to 64 characters (ASCII only), mixing at least two of: letters, digits, other characters."

// uipwPage is GET /account/password.
func (s *Server) uipwPage(c *fiber.Ctx) error {
	return s.uipwRender(c, fiber.StatusOK, views.AccountPassword{})
}

func (s *Server) uipwRender(c *fiber.Ctx, status int, m views.AccountPassword) error {
	m.Username, m.Rule = uiSessionOf(c).claims.Subject, uipwRule
	return s.uiRender(c, status, views.AccountPasswordPage(s.uiPage(c, "Change password", views.NavAccount), m))
}

// uipwChange is POST /account/password (current_password, new_password, repeat_password).
// Every field is checked, so that all the reasons show at once; nothing is stored unless all
// pass. On success the browser gets a new session cookie and goes to the overview.
func (s *Server) uipwChange(c *fiber.Ctx) error {
	ctx := c.UserContext()
	username := uiSessionOf(c).claims.Subject
	current := c.FormValue(views.AccountFieldCurrent)
	newPwd := c.FormValue(views.AccountFieldNew)
	repeat := c.FormValue(views.AccountFieldRepeat)

	var m views.AccountPassword
	if current == "" {
		m.CurrentError = "Enter your current password."
	} else if err := s.admCheckOldPassword(ctx, username, current); err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != fiber.StatusBadRequest {
			return err
		}
		m.CurrentError = "This is not your current password."
		if ae.Code == "LOGIN_LOCKED" {
			m.CurrentError = "Too many wrong passwords: " + username + " is locked for a few minutes. Try again later."
		}
	}
	if problem := admPasswordProblem(newPwd); problem != "" {
		m.NewError = uipwSentence(problem)
	}
	switch {
	case repeat == "":
		m.RepeatError = "Repeat the new password."
	case repeat != newPwd:
		m.RepeatError = "Does not match the new password."
	}
	if m.HasErrors() {
		return s.uipwRender(c, fiber.StatusUnprocessableEntity, m)
	}

	if err := s.admSetPassword(ctx, username, newPwd); err != nil {
		return err
	}
	// This session's token ended with the old epoch: issue one with the new epoch.
	a, ok, err := s.deps.Store.Admin(ctx, username)
	if err != nil {
		return err
	}
	if !ok {
		return admUserNotFound(username)
	}
	token, err := s.issueToken(a)
	if err != nil {
		return err
	}
	s.uiSetSession(c, token)
	uiFlash(c, views.FlashSuccess, "Password changed. Other sessions of "+username+" have been logged out.")
	return c.Redirect("/", fiber.StatusSeeOther)
}

// uipwSentence makes one of admPasswordProblem's answers a sentence.
func uipwSentence(problem string) string {
	if problem == "is required" {
		return "Enter a new password."
	}
	return strings.ToUpper(problem[:1]) + problem[1:] + "."
}
