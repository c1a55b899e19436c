package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

// uipwHasPassword reports whether username's stored hash is that of pw, without a login
// (which would touch the lockout).
func uipwHasPassword(t *testing.T, a *testAPI, username, pw string) bool {
	t.Helper()
	adm, ok, err := a.store.Admin(t.Context(), username)
	if err != nil || !ok {
		t.Fatalf("admin %s: %v %v", username, ok, err)
	}
	return bcrypt.CompareHashAndPassword([]byte(adm.PasswordHash), []byte(pw)) == nil
}

// uipwForm is the password form as the browser sends it.
func uipwForm(csrf, current, newPwd, repeat string) url.Values {
	return url.Values{views.CSRFFieldName: {csrf}, "username": {"admin"}, views.AccountFieldCurrent: {current},
		views.AccountFieldNew: {newPwd}, views.AccountFieldRepeat: {repeat}}
}

func TestUIAccountPasswordPage(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	resp := b.get("/account/password")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("page: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if got := vt.Text(t, doc, "account-username"); got != "admin" {
		t.Errorf("user %q", got)
	}
	if got := vt.One(t, doc, "nav-account-password").AttrOr("aria-current", ""); got != "page" {
		t.Errorf("header link aria-current %q", got)
	}
	for _, name := range []string{views.AccountFieldCurrent, views.AccountFieldNew, views.AccountFieldRepeat} {
		vt.One(t, doc, "account-"+name)
	}
	if got := vt.Text(t, doc, "account-help-"+views.AccountFieldNew); !strings.Contains(got, "8 to 64") {
		t.Errorf("rule %q", got)
	}
}

// TestUIAccountChangePassword: the change ends every earlier token, this browser's too, and
// this browser gets a new one; the banner goes once admin no longer has "public".
func TestUIAccountChangePassword(t *testing.T) {
	a := newTestAPI(t)
	// Start from the default password, as a first start without XGATE_ADMIN_PASSWORD.
	hash, _ := a.srv.admHash(defaultPassword)
	if err := a.store.SetAdminPassword(t.Context(), "admin", hash); err != nil {
		t.Fatal(err)
	}
	a.srv.admNotePassword("admin", defaultPassword)
	// An API token and another browser's session from before the change.
	status, body := a.doWith("POST", "/api/v5/login", `{"username":"admin","password":"public"}`, "")
	if status != 200 {
		t.Fatalf("API login: %d %s", status, body)
	}
	var login struct{ Token string }
	json.Unmarshal(body, &login)
	a.token = login.Token
	other := newUIBrowser(t, a.srv)
	other.login("admin", defaultPassword)

	b := newUIBrowser(t, a.srv)
	b.login("admin", defaultPassword)
	home := b.get("/").doc(t)
	link := vt.One(t, vt.One(t, home, "default-password-banner"), "default-password-link")
	if link.AttrOr("href", "") != "/account/password" {
		t.Fatalf("banner link %q", link.AttrOr("href", ""))
	}
	oldToken := b.cookies[uiSessionCookie]
	csrf := home.Find(`meta[name="csrf-token"]`).AttrOr("content", "")

	resp := b.do("POST", "/account/password", uipwForm(csrf, defaultPassword, "better-pass1", "better-pass1"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("change: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), resp.body)
	}
	if !uipwHasPassword(t, a, "admin", "better-pass1") {
		t.Fatal("password not stored")
	}
	newToken := b.cookies[uiSessionCookie]
	if newToken == "" || newToken == oldToken {
		t.Fatal("no new session cookie")
	}
	// This browser is still logged in, with the message, and without the banner.
	page := b.get("/")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("after the change: %d %q", page.StatusCode, page.Header.Get("Location"))
	}
	doc := page.doc(t)
	if got := vt.Text(t, doc, "flash-success"); !strings.Contains(got, "Password changed") {
		t.Errorf("flash %q", got)
	}
	if vt.Has(doc, "default-password-banner") {
		t.Error("banner still shown")
	}
	if a.srv.defaultPasswordInUse() {
		t.Error("default-password flag still set")
	}
	// The new CSRF token is the new session's: the old one no longer works.
	if r := b.do("POST", "/logout", nil, views.CSRFHeader, csrf); r.StatusCode != http.StatusForbidden {
		t.Errorf("old CSRF token after the change: %d", r.StatusCode)
	}
	// Every token from before is ended: this browser's old cookie, the other browser, the API.
	if _, err := a.srv.verifyToken(t.Context(), oldToken); err == nil {
		t.Error("the old session token still works")
	}
	if r := other.get("/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("other browser after the change: %d", r.StatusCode)
	}
	status, body = a.do("GET", "/api/v5/gateways", "")
	a.wantError(status, body, 401, "BAD_TOKEN")
	// The new password logs in, the old one does not.
	if r := newUIBrowser(t, a.srv).submitLogin("admin", defaultPassword, ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with the old password: %d", r.StatusCode)
	}
	newUIBrowser(t, a.srv).login("admin", "better-pass1")
}

// TestUIAccountRefused: each refusal comes back as the form (422) with the reason next to
// its field; nothing is stored and the session goes on.
func TestUIAccountRefused(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		current, newPwd, repeat string
		wantErrors              map[string]string // field -> part of its error
	}{
		{name: "wrong current", current: "not-the-pass1", newPwd: "better-pass1", repeat: "better-pass1",
			wantErrors: map[string]string{views.AccountFieldCurrent: "not your current password"}},
		{name: "weak new", current: testAdminPassword, newPwd: "short", repeat: "short",
			wantErrors: map[string]string{views.AccountFieldNew: "Must be 8 to 64 characters long."}},
		{name: "one kind of character", current: testAdminPassword, newPwd: "onlyletters", repeat: "onlyletters",
			wantErrors: map[string]string{views.AccountFieldNew: "at least two of letters, digits"}},
		{name: "default password", current: testAdminPassword, newPwd: "public", repeat: "public",
			wantErrors: map[string]string{views.AccountFieldNew: "8 to 64"}},
		{name: "mismatch", current: testAdminPassword, newPwd: "better-pass1", repeat: "better-pass2",
			wantErrors: map[string]string{views.AccountFieldRepeat: "Does not match"}},
		{name: "empty", wantErrors: map[string]string{views.AccountFieldCurrent: "Enter your current password",
			views.AccountFieldNew: "Enter a new password", views.AccountFieldRepeat: "Repeat the new password"}},
		{name: "all at once", current: "not-the-pass1", newPwd: "1234", repeat: "123",
			wantErrors: map[string]string{views.AccountFieldCurrent: "not your current password",
				views.AccountFieldNew: "8 to 64", views.AccountFieldRepeat: "Does not match"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t)
			b := newUIBrowser(t, a.srv)
			b.login("admin", testAdminPassword)
			session := b.cookies[uiSessionCookie]
			resp := b.do("POST", "/account/password", uipwForm(b.csrf(), tc.current, tc.newPwd, tc.repeat))
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("got %d, want 422: %s", resp.StatusCode, resp.body)
			}
			doc := resp.doc(t)
			vt.One(t, doc, "account-refused")
			for _, name := range []string{views.AccountFieldCurrent, views.AccountFieldNew, views.AccountFieldRepeat} {
				field := vt.One(t, doc, "account-field-"+name)
				want, refused := tc.wantErrors[name]
				if got := vt.Find(field, "account-error-"+name); refused != (got.Length() == 1) || !strings.Contains(got.Text(), want) {
					t.Errorf("%s: error %q, want one containing %q: %v", name, got.Text(), want, refused)
				}
				// The passwords typed are not sent back.
				if v := vt.One(t, field, "account-"+name).AttrOr("value", ""); v != "" {
					t.Errorf("%s: value %q sent back", name, v)
				}
			}
			if !uipwHasPassword(t, a, "admin", testAdminPassword) {
				t.Error("password changed by a refused form")
			}
			if b.cookies[uiSessionCookie] != session {
				t.Error("session cookie changed by a refused form")
			}
			if r := b.get("/"); r.StatusCode != http.StatusOK {
				t.Errorf("session after the refusal: %d", r.StatusCode)
			}
			status, _ := a.do("GET", "/api/v5/gateways", "")
			if status != 200 {
				t.Errorf("API token after the refusal: %d", status)
			}
		})
	}
}

// TestUIAccountLockout: a wrong current password counts as a failed login, for the form and
// for the API's change_pwd alike: the name locks, and while it is locked even the right
// password changes nothing.
func TestUIAccountLockout(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	csrf := b.csrf()
	// Two failures through the API, the rest through the form: they add up.
	for range 2 {
		status, body := a.do("POST", "/api/v5/users/admin/change_pwd", `{"old_pwd":"wrong-pass1","new_pwd":"better-pass1"}`)
		a.wantError(status, body, 400, "ERROR_PWD_NOT_MATCH")
	}
	for range admMaxFailures - 2 {
		if r := b.do("POST", "/account/password", uipwForm(csrf, "wrong-pass1", "better-pass1", "better-pass1")); r.StatusCode != 422 {
			t.Fatalf("wrong current: %d", r.StatusCode)
		}
	}
	resp := b.do("POST", "/account/password", uipwForm(csrf, testAdminPassword, "better-pass1", "better-pass1"))
	if resp.StatusCode != 422 {
		t.Fatalf("right password while locked: %d %s", resp.StatusCode, resp.body)
	}
	if got := vt.Text(t, resp.doc(t), "account-error-"+views.AccountFieldCurrent); !strings.Contains(got, "locked") {
		t.Errorf("error %q", got)
	}
	status, body := a.do("POST", "/api/v5/users/admin/change_pwd", `{"old_pwd":"`+testAdminPassword+`","new_pwd":"better-pass1"}`)
	a.wantError(status, body, 400, "LOGIN_LOCKED")
	status, body = a.doWith("POST", "/api/v5/login", `{"username":"admin","password":"`+testAdminPassword+`"}`, "")
	a.wantError(status, body, 401, "LOGIN_LOCKED")
	if !uipwHasPassword(t, a, "admin", testAdminPassword) {
		t.Error("password changed while locked")
	}
}

func TestUIAccountCSRF(t *testing.T) {
	a := newTestAPI(t)
	b, other := newUIBrowser(t, a.srv), newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	other.login("admin", testAdminPassword)
	for _, tc := range []struct{ name, token string }{
		{"missing", ""}, {"forged", "forged"}, {"another session's", other.csrf()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do("POST", "/account/password", uipwForm(tc.token, testAdminPassword, "better-pass1", "better-pass1"))
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d, want 403", resp.StatusCode)
			}
			vt.One(t, resp.doc(t), "error-page")
			if !uipwHasPassword(t, a, "admin", testAdminPassword) {
				t.Fatal("password changed without the CSRF token")
			}
		})
	}
}
