package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xgate/xgate/static"
	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func TestUILoginSetsSessionCookie(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	resp := b.login("admin", testAdminPassword)
	if loc := resp.Header.Get("Location"); loc != "/" {
		t.Errorf("redirect to %q, want /", loc)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == uiSessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no session cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.Value == "" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", session)
	}
	// The cookie holds a token the API accepts too: it is the same login.
	if _, err := a.srv.verifyToken(t.Context(), session.Value); err != nil {
		t.Errorf("token in the cookie: %v", err)
	}
	if _, ok := b.cookies[uiLoginCSRFCookie]; ok {
		t.Error("login CSRF cookie not cleared after login")
	}
	// Logged in, the login page sends the browser on.
	if r := b.get("/login"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Errorf("GET /login when logged in: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestUILoginRefused(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	resp := b.submitLogin("admin", "wrong", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	doc := resp.doc(t)
	if got := vt.Text(t, doc, "login-error"); got != "Wrong username or password." {
		t.Errorf("error %q", got)
	}
	if got := vt.One(t, doc, "login-username").AttrOr("value", ""); got != "admin" {
		t.Errorf("username not kept: %q", got)
	}
	if _, ok := b.cookies[uiSessionCookie]; ok {
		t.Error("session cookie set after a failed login")
	}
	// The lockout is the API's: four more failures lock the user for both.
	for range admMaxFailures - 1 {
		b.submitLogin("admin", "wrong", "")
	}
	resp = b.submitLogin("admin", testAdminPassword, "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(vt.Text(t, resp.doc(t), "login-error"), "locked") {
		t.Errorf("right password after %d failures: %d %s", admMaxFailures, resp.StatusCode, resp.body)
	}
	status, body := a.doWith("POST", "/api/v5/login", `{"username":"admin","password":"`+testAdminPassword+`"}`, "")
	a.wantError(status, body, 401, "LOGIN_LOCKED")
}

func TestUILoginNeedsFormToken(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.get("/login") // sets the login CSRF cookie
	for _, tc := range []struct {
		name  string
		token string
	}{{"missing", ""}, {"wrong", "not-the-token"}} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do("POST", "/login", url.Values{"username": {"admin"}, "password": {testAdminPassword}, "_csrf": {tc.token}})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d, want 403", resp.StatusCode)
			}
			if _, ok := b.cookies[uiSessionCookie]; ok {
				t.Error("logged in without the form's token")
			}
			vt.One(t, resp.doc(t), "login-error")
		})
	}
}

func TestUIWithoutSession(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	for _, tc := range []struct {
		name, method, path string
		header             []string
		wantStatus         int
		wantLocation       string // Location, or HX-Redirect for htmx
	}{
		{name: "overview", method: "GET", path: "/", wantStatus: 303, wantLocation: "/login"},
		{name: "deep page keeps where it was going", method: "GET", path: "/overview/live?x=1", wantStatus: 303,
			wantLocation: "/login?next=%2Foverview%2Flive%3Fx%3D1"},
		{name: "post", method: "POST", path: "/logout", wantStatus: 303, wantLocation: "/login"},
		{name: "htmx", method: "GET", path: "/overview/live", header: []string{"HX-Request", "true", "HX-Current-URL", "http://example.com/clients?page=2"},
			wantStatus: 401, wantLocation: "/login?next=%2Fclients%3Fpage%3D2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do(tc.method, tc.path, nil, tc.header...)
			loc := resp.Header.Get("Location")
			if tc.wantStatus == 401 {
				loc = resp.Header.Get("HX-Redirect")
			}
			if resp.StatusCode != tc.wantStatus || loc != tc.wantLocation {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, loc, tc.wantStatus, tc.wantLocation)
			}
		})
	}
	t.Run("bad cookie is cleared", func(t *testing.T) {
		b.cookies[uiSessionCookie] = "not-a-token"
		resp := b.get("/")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("got %d", resp.StatusCode)
		}
		if _, ok := b.cookies[uiSessionCookie]; ok {
			t.Error("bad session cookie kept")
		}
	})
}

func TestUILoginGoesToNext(t *testing.T) {
	a := newTestAPI(t)
	for _, tc := range []struct{ next, want string }{
		{"/overview/live", "/overview/live"},
		{"https://evil.example/", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example", "/"},
	} {
		t.Run(tc.next, func(t *testing.T) {
			b := newUIBrowser(t, a.srv)
			resp := b.submitLogin("admin", testAdminPassword, tc.next)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
				t.Errorf("got %d %q, want 303 %q", resp.StatusCode, resp.Header.Get("Location"), tc.want)
			}
		})
	}
}

func TestUICSRF(t *testing.T) {
	a := newTestAPI(t)
	for _, tc := range []struct {
		name       string
		form       url.Values
		header     []string
		wantStatus int
	}{
		{name: "missing", wantStatus: 403},
		{name: "wrong field", form: url.Values{"_csrf": {"forged"}}, wantStatus: 403},
		{name: "wrong header", header: []string{views.CSRFHeader, "forged"}, wantStatus: 403},
		{name: "field", form: url.Values{"_csrf": {"<token>"}}, wantStatus: 303},
		{name: "header", header: []string{views.CSRFHeader, "<token>"}, wantStatus: 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newUIBrowser(t, a.srv)
			b.login("admin", testAdminPassword)
			token := b.csrf()
			for k := range tc.form {
				if tc.form.Get(k) == "<token>" {
					tc.form.Set(k, token)
				}
			}
			for i := range tc.header {
				if tc.header[i] == "<token>" {
					tc.header[i] = token
				}
			}
			resp := b.do("POST", "/logout", tc.form, tc.header...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("got %d, want %d: %s", resp.StatusCode, tc.wantStatus, resp.body)
			}
			if tc.wantStatus == 403 {
				vt.One(t, resp.doc(t), "error-page")
				if _, ok := b.cookies[uiSessionCookie]; !ok {
					t.Error("refused logout cleared the session")
				}
			}
		})
	}
	t.Run("token is the session's", func(t *testing.T) {
		b1, b2 := newUIBrowser(t, a.srv), newUIBrowser(t, a.srv)
		b1.login("admin", testAdminPassword)
		b2.login("admin", testAdminPassword)
		if resp := b1.do("POST", "/logout", nil, views.CSRFHeader, b2.csrf()); resp.StatusCode != 403 {
			t.Errorf("another session's token: %d", resp.StatusCode)
		}
	})
	t.Run("htmx error goes to the flash area", func(t *testing.T) {
		b := newUIBrowser(t, a.srv)
		b.login("admin", testAdminPassword)
		resp := b.do("POST", "/logout", nil, "HX-Request", "true")
		if resp.StatusCode != 403 || resp.Header.Get("HX-Retarget") != "#flash" {
			t.Fatalf("got %d retarget %q", resp.StatusCode, resp.Header.Get("HX-Retarget"))
		}
		if !strings.Contains(vt.Text(t, resp.doc(t), "flash-error"), "expired") {
			t.Errorf("flash: %s", resp.body)
		}
	})
}

func TestUILogout(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	token := b.cookies[uiSessionCookie]
	resp := b.do("POST", "/logout", nil, views.CSRFHeader, b.csrf())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?notice=logged_out" {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, ok := b.cookies[uiSessionCookie]; ok {
		t.Error("session cookie not cleared")
	}
	if got := vt.Text(t, b.get("/login?notice=logged_out").doc(t), "login-notice"); got != "You have logged out." {
		t.Errorf("notice %q", got)
	}
	// The token is revoked: a copy of the cookie no longer works, nor does it for the API.
	b.cookies[uiSessionCookie] = token
	if r := b.get("/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("revoked cookie: %d", r.StatusCode)
	}
	status, body := a.doWith("GET", "/api/v5/gateways", "", "Bearer "+token)
	a.wantError(status, body, 401, "BAD_TOKEN")
}

func TestUIOverviewListsGateways(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	resp := b.get("/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("overview: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	doc := resp.doc(t)
	if got := doc.Find(`[data-testid^="gateway-"][data-status]`).Length(); got != 3 {
		t.Errorf("%d gateways, want 3", got)
	}
	for _, name := range []string{"stomp", "mqttsn", "coap"} {
		g := vt.One(t, doc, "gateway-"+name)
		if got := vt.Text(t, g, "gateway-status-"+name); got != "running" {
			t.Errorf("%s: status %q", name, got)
		}
		rows := g.Find(`tr[data-testid^="listener-"]`)
		if rows.Length() != 1 || rows.AttrOr("data-state", "") != "running" {
			t.Errorf("%s: %d listeners, state %q", name, rows.Length(), rows.AttrOr("data-state", ""))
		}
	}
	if got := vt.Text(t, doc, "current-user"); got != "admin" {
		t.Errorf("user %q", got)
	}
	if vt.Has(doc, "default-password-banner") {
		t.Error("banner with XGATE_ADMIN_PASSWORD set")
	}
	vt.One(t, doc, "chart-connections")
	vt.One(t, doc, "chart-messages")
	if _, ok := vt.One(t, doc, "nav-overview").Attr("aria-current"); !ok {
		t.Error("overview not marked as the current page")
	}
}

func TestUIOverviewLiveFragment(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	a.srv.sampler.take(time.Now().Add(-5 * time.Second))
	a.srv.sampler.take(time.Now())
	resp := b.do("GET", "/overview/live", nil, "HX-Request", "true")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live: %d", resp.StatusCode)
	}
	doc := resp.doc(t)
	if vt.Has(doc, "nav") || doc.Find("title").Length() != 0 {
		t.Error("fragment has the layout")
	}
	vt.One(t, doc, "gateway-stomp")
	data := doc.Find("script#chart-data-connections").Text()
	if !strings.Contains(data, `"series":["coap","mqttsn","stomp"]`) {
		t.Errorf("connections chart data %s", data)
	}
}

func TestUIDefaultPasswordBanner(t *testing.T) {
	a := newTestAPI(t)
	a.srv.admNotePassword(defaultAdmin, defaultPassword)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	vt.One(t, b.get("/").doc(t), "default-password-banner")
}

func TestUINotFound(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	resp := b.get("/no-such-page")
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(vt.Text(t, resp.doc(t), "error-message"), "/no-such-page") {
		t.Errorf("body %s", resp.body)
	}
	// The API keeps answering in JSON.
	status, body := a.do("GET", "/api/v5/no-such-thing", "")
	a.wantError(status, body, 404, "NOT_FOUND")
}

func TestUIStatic(t *testing.T) {
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	f, ok := static.Lookup("app.js")
	if !ok {
		t.Fatal("app.js not embedded")
	}
	for _, tc := range []struct {
		name, path  string
		header      []string
		wantStatus  int
		wantCaching string
	}{
		{name: "with hash", path: static.URL("app.js"), wantStatus: 200, wantCaching: "public, max-age=31536000, immutable"},
		{name: "without hash", path: "/static/app.js", wantStatus: 200, wantCaching: "no-cache"},
		{name: "revalidated", path: "/static/app.js", header: []string{"If-None-Match", `"` + f.Hash + `"`}, wantStatus: 304, wantCaching: "no-cache"},
		{name: "vendor file", path: static.URL("lib/htmx.min.js"), wantStatus: 200, wantCaching: "public, max-age=31536000, immutable"},
		{name: "unknown", path: "/static/nope.js", wantStatus: 404},
		{name: "outside", path: "/static/../static.go", wantStatus: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.do("GET", tc.path, nil, tc.header...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("got %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantCaching != "" && resp.Header.Get("Cache-Control") != tc.wantCaching {
				t.Errorf("Cache-Control %q, want %q", resp.Header.Get("Cache-Control"), tc.wantCaching)
			}
			if tc.wantStatus == 200 && !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestUISafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/clients?page=2", "/clients?page=2"},
		{"", ""},
		{"clients", ""},
		{"//evil.example", ""},
		{"/\\evil.example", ""},
		{"https://evil.example/", ""},
		{"/login?next=/x", ""},
		{"/x\r\nSet-Cookie: a=b", ""},
	} {
		if got := uiSafeNext(tc.in); got != tc.want {
			t.Errorf("uiSafeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
