package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

const (
	uiauListenerPage = "/gateways/stomp/listeners/stomp:tcp:default/authentication"
	uiauListenerAPI  = "/api/v5/gateways/stomp/listeners/stomp:tcp:default/authentication"
)

// uiauSession is a logged-in browser with its CSRF token, sending htmx requests.
type uiauSession struct {
	*uiBrowser
	token string
}

func newUIAuthnSession(t *testing.T, a *testAPI) uiauSession {
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	return uiauSession{uiBrowser: b, token: b.csrf()}
}

// hx sends an htmx request with the CSRF header.
func (s uiauSession) hx(method, path string, form url.Values) uiResponse {
	s.t.Helper()
	return s.do(method, path, form, "HX-Request", "true", views.CSRFHeader, s.token)
}

// upload posts a multipart form (fields, and one file in the field filename) as htmx.
func (s uiauSession) upload(path string, fields map[string]string, filename, content string) uiResponse {
	s.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if filename != "" {
		fw, _ := w.CreateFormFile("filename", filename)
		io.WriteString(fw, content)
	}
	w.Close()
	req := httptest.NewRequest("POST", path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("HX-Request", "true")
	req.Header.Set(views.CSRFHeader, s.token)
	for name, value := range s.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := s.srv.App().Test(req, -1)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return uiResponse{Response: resp, body: string(raw)}
}

func uiauWant(t *testing.T, r uiResponse, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("got %d, want %d: %s", r.StatusCode, status, r.body)
	}
}

// uiauBuiltinForm is the form as a browser sends it for a built-in database authenticator.
func uiauBuiltinForm(hash string, extra ...string) url.Values {
	v := url.Values{"shown": {views.AuthnBuiltin}, "backend": {views.AuthnBuiltin}, "enable": {"true"},
		"user_id_type": {"username"}, "password_hash_algorithm.name": {hash}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// The whole built-in flow on a listener, through the pages only: create the authenticator
// (a refused one first), add users, import, search, edit, delete, remove; real STOMP
// clients see each step.
func TestUIAuthnListenerBuiltinFlow(t *testing.T) {
	a := newTestAPI(t)
	s := newUIAuthnSession(t, a)
	addr := a.gwAddr("stomp", "tcp:default")

	page := s.get(uiauListenerPage)
	uiauWant(t, page, 200)
	doc := page.doc(t)
	if got := vt.One(t, doc, "authn-form").AttrOr("data-backend", "x"); got != "" {
		t.Fatalf("backend without an authenticator: %q", got)
	}
	if vt.Has(doc, "authn-users") || vt.Has(doc, "authn-listener-off") {
		t.Fatal("users or the off banner without an authenticator")
	}
	if got := vt.One(t, doc, "nav-gateways").AttrOr("aria-current", ""); got != "page" {
		t.Errorf("navigation: gateways is not current (%q)", got)
	}

	// Choosing the built-in database redraws the form with its defaults; nothing is stored.
	r := s.hx("POST", uiauListenerPage+"/form", url.Values{"shown": {""}, "backend": {views.AuthnBuiltin}})
	uiauWant(t, r, 200)
	doc = r.doc(t)
	if got := vt.One(t, doc, "authn-hash-name").Find("option[selected]").AttrOr("value", ""); got != "sha256" {
		t.Errorf("default algorithm %q", got)
	}
	if _, on := vt.One(t, doc, "authn-enable").Attr("checked"); !on || !vt.Has(doc, "authn-salt-position") {
		t.Error("defaults: enabled, salt position")
	}
	// ... and choosing bcrypt shows its salt rounds instead of the salt position.
	r = s.hx("POST", uiauListenerPage+"/form", uiauBuiltinForm("bcrypt", "password_hash_algorithm.salt_position", "prefix"))
	doc = r.doc(t)
	if vt.One(t, doc, "authn-salt-rounds").AttrOr("value", "") != "10" || vt.Has(doc, "authn-salt-position") {
		t.Errorf("bcrypt fields: %s", r.body)
	}
	if status, _ := a.do("GET", uiauListenerAPI, ""); status != 204 {
		t.Fatalf("redrawing stored something: %d", status)
	}

	// Refused: the reason is next to the field and nothing is stored.
	r = s.hx("POST", uiauListenerPage, uiauBuiltinForm("bcrypt", "password_hash_algorithm.salt_rounds", "4"))
	uiauWant(t, r, 422)
	doc = r.doc(t)
	if got := vt.Text(t, doc, "authn-error-salt-rounds"); got != "must be between 5 and 10" {
		t.Errorf("error next to salt rounds: %q (%s)", got, r.body)
	}
	if vt.One(t, doc, "authn-salt-rounds").AttrOr("value", "") != "4" {
		t.Error("refused value not shown back")
	}
	if status, _ := a.do("GET", uiauListenerAPI, ""); status != 204 {
		t.Fatalf("a refused form was stored: %d", status)
	}
	// Not even a number.
	r = s.hx("POST", uiauListenerPage, uiauBuiltinForm("pbkdf2", "password_hash_algorithm.mac_fun", "sha256",
		"password_hash_algorithm.iterations", "many"))
	uiauWant(t, r, 422)
	if got := vt.Text(t, r.doc(t), "authn-error-iterations"); got != "must be a whole number" {
		t.Errorf("iterations: %q", got)
	}

	r = s.hx("POST", uiauListenerPage, uiauBuiltinForm("bcrypt", "password_hash_algorithm.salt_rounds", "5"))
	uiauWant(t, r, 200)
	if r.Header.Get("HX-Retarget") != "#authn-content" {
		t.Errorf("saved form not retargeted to the content: %q", r.Header.Get("HX-Retarget"))
	}
	doc = r.doc(t)
	if got := vt.Text(t, doc, "flash-success"); !strings.Contains(got, "created") {
		t.Errorf("flash %q", got)
	}
	vt.One(t, doc, "authn-users")
	var stored map[string]any
	gwDecode(t, a.gwWant(200, "GET", uiauListenerAPI, ""), &stored)
	if alg, _ := stored["password_hash_algorithm"].(map[string]any); alg["name"] != "bcrypt" || alg["salt_rounds"] != float64(5) {
		t.Fatalf("stored %v", stored)
	}
	// Anonymous clients are now refused.
	if _, f := gwStompConnect(t, addr); !strings.HasPrefix(f, "ERROR") {
		t.Fatalf("anonymous after authn: %q", f)
	}

	// Add a user: the form comes back empty and the table is told to reload.
	r = s.hx("POST", uiauListenerPage+"/users", url.Values{"user_id": {"alice"}, "password": {"secret"}})
	uiauWant(t, r, 200)
	if r.Header.Get("HX-Trigger") != uiauUsersChanged || vt.One(t, r.doc(t), "authn-user-add-id").AttrOr("value", "x") != "" {
		t.Errorf("add: trigger %q, %s", r.Header.Get("HX-Trigger"), r.body)
	}
	r = s.hx("POST", uiauListenerPage+"/users", url.Values{"user_id": {"alice"}, "password": {"other"}})
	uiauWant(t, r, 422)
	if got := vt.Text(t, r.doc(t), "authn-user-add-id-error"); got != "a user with this id exists already" {
		t.Errorf("duplicate: %q", got)
	}
	r = s.hx("POST", uiauListenerPage+"/users", url.Values{"user_id": {"bob"}})
	uiauWant(t, r, 422)
	if got := vt.Text(t, r.doc(t), "authn-user-add-password-error"); got != "required" {
		t.Errorf("no password: %q", got)
	}
	if f := uiauStomp(t, addr, "alice", "wrong"); !strings.HasPrefix(f, "ERROR") || !strings.Contains(f, "Login Failed") {
		t.Fatalf("wrong password: %q", f)
	}
	if f := uiauStomp(t, addr, "alice", "secret"); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("right password: %q", f)
	}

	// Import: a summary, and the users log in.
	r = s.upload(uiauListenerPage+"/import_users", map[string]string{"type": "plain"}, "users.csv",
		"user_id,password,is_superuser\ncsv1,pw1,false\ncsv2,pw2,true\ncsv1,pw3,false\n,nopw,\n")
	uiauWant(t, r, 200)
	doc = r.doc(t)
	for id, want := range map[string]string{"authn-import-total": "4", "authn-import-success": "2", "authn-import-override": "0",
		"authn-import-skipped": "1", "authn-import-failed": "1"} {
		if got := vt.Text(t, doc, id); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if f := uiauStomp(t, addr, "csv2", "pw2"); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("imported user: %q", f)
	}
	r = s.upload(uiauListenerPage+"/import_users", map[string]string{"type": "plain"}, "users.txt", "x")
	uiauWant(t, r, 422)
	if got := vt.Text(t, r.doc(t), "authn-import-file-error"); !strings.Contains(got, ".csv or .json") {
		t.Errorf("bad file: %q", got)
	}

	// Search and filter.
	r = s.hx("GET", uiauListenerPage+"/users?like_user_id=csv", nil)
	uiauWant(t, r, 200)
	doc = r.doc(t)
	if !vt.Has(doc, "authn-user-csv1") || !vt.Has(doc, "authn-user-csv2") || vt.Has(doc, "authn-user-alice") {
		t.Errorf("search csv: %s", vt.Text(t, doc, "authn-users-table"))
	}
	r = s.hx("GET", uiauListenerPage+"/users?is_superuser=true", nil)
	if doc = r.doc(t); !vt.Has(doc, "authn-user-csv2") || vt.Find(doc, "authn-users-table").Find("tbody tr").Length() != 1 {
		t.Errorf("superusers: %s", vt.Text(t, doc, "authn-users-table"))
	}

	// Edit: a new password and superuser.
	r = s.hx("GET", uiauListenerPage+"/users/alice/edit", nil)
	uiauWant(t, r, 200)
	vt.One(t, uiauRowDoc(t, r), "authn-user-edit-password")
	r = s.hx("PUT", uiauListenerPage+"/users/alice", url.Values{"password": {"newer"}, "is_superuser": {"true"}})
	uiauWant(t, r, 200)
	if got := vt.Text(t, uiauRowDoc(t, r), "authn-user-superuser-alice"); got != "yes" {
		t.Errorf("after edit: superuser %q", got)
	}
	if f := uiauStomp(t, addr, "alice", "newer"); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("new password: %q", f)
	}
	// Edit without a password keeps it.
	s.hx("PUT", uiauListenerPage+"/users/alice", url.Values{})
	if f := uiauStomp(t, addr, "alice", "newer"); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("password lost by an edit without one: %q", f)
	}
	r = s.hx("PUT", uiauListenerPage+"/users/alice", url.Values{"password": {strings.Repeat("x", 80)}})
	uiauWant(t, r, 422)
	if got := vt.Text(t, uiauRowDoc(t, r), "authn-user-edit-password-error"); !strings.Contains(got, "72 bytes") {
		t.Errorf("long bcrypt password: %q", got)
	}

	// Ids that need escaping in a URL work through the URLs the page builds.
	uiauWant(t, s.hx("POST", uiauListenerPage+"/users", url.Values{"user_id": {"a b/c?d"}, "password": {"x"}}), 200)
	r = s.hx("GET", uiauListenerPage+"/users?like_user_id=a+b", nil)
	del := vt.One(t, r.doc(t), "authn-user-delete-a b/c?d").AttrOr("hx-delete", "")
	edit := vt.One(t, r.doc(t), "authn-user-edit-a b/c?d").AttrOr("hx-get", "")
	uiauWant(t, s.hx("GET", edit, nil), 200)
	uiauWant(t, s.hx("DELETE", del, nil), 200)
	a.gwWant(404, "GET", uiauListenerAPI+"/users/"+url.PathEscape("a b/c?d"), "")

	// Delete.
	r = s.hx("DELETE", uiauListenerPage+"/users/alice", nil)
	uiauWant(t, r, 200)
	if r.Header.Get("HX-Trigger") != uiauUsersChanged {
		t.Error("delete does not reload the table")
	}
	a.gwWant(404, "GET", uiauListenerAPI+"/users/alice", "")
	uiauWant(t, s.hx("DELETE", uiauListenerPage+"/users/alice", nil), 404)

	// Remove the authenticator: anonymous clients are back.
	r = s.hx("DELETE", uiauListenerPage, nil)
	uiauWant(t, r, 200)
	if doc = r.doc(t); vt.Has(doc, "authn-users") || vt.One(t, doc, "authn-form").AttrOr("data-stored", "x") != "" {
		t.Errorf("after removal: %s", r.body)
	}
	if status, _ := a.do("GET", uiauListenerAPI, ""); status != 204 {
		t.Fatalf("removed authenticator still stored: %d", status)
	}
	if _, f := gwStompConnect(t, addr); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("anonymous after removal: %q", f)
	}
}

// uiauRowDoc parses an answer that is a table row, as htmx does: inside a table.
func uiauRowDoc(t *testing.T, r uiResponse) *goquery.Document {
	t.Helper()
	return vt.Parse(t, strings.NewReader("<table><tbody>"+r.body+"</tbody></table>"))
}

// uiauStomp connects with login and passcode and returns the first frame.
func uiauStomp(t *testing.T, addr, login, passcode string) string {
	t.Helper()
	c, f := gwStompConnect(t, addr, "login:"+login, "passcode:"+passcode)
	c.conn.Close()
	return f
}

// Every change needs the session's CSRF token, and a refused one changes nothing.
func TestUIAuthnCSRF(t *testing.T) {
	a := newTestAPI(t)
	a.gwWant(201, "POST", uiauListenerAPI, gwBuiltin)
	a.gwWant(201, "POST", uiauListenerAPI+"/users", `{"user_id":"u1","password":"p1"}`)
	s := newUIAuthnSession(t, a)
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"POST", uiauListenerPage, uiauBuiltinForm("md5")},
		{"DELETE", uiauListenerPage, nil},
		{"POST", uiauListenerPage + "/users", url.Values{"user_id": {"u2"}, "password": {"p"}}},
		{"PUT", uiauListenerPage + "/users/u1", url.Values{"password": {"p2"}}},
		{"DELETE", uiauListenerPage + "/users/u1", nil},
		{"POST", uiauListenerPage + "/enable_authn", nil},
	} {
		for _, token := range []string{"", "forged"} {
			r := s.do(tc.method, tc.path, tc.form, "HX-Request", "true", views.CSRFHeader, token)
			if r.StatusCode != 403 {
				t.Errorf("%s %s with token %q: %d", tc.method, tc.path, token, r.StatusCode)
			}
		}
	}
	var stored map[string]any
	gwDecode(t, a.gwWant(200, "GET", uiauListenerAPI, ""), &stored)
	if stored["password_hash_algorithm"] != nil && stored["password_hash_algorithm"].(map[string]any)["name"] == "md5" {
		t.Error("authenticator changed without a token")
	}
	a.gwWant(200, "GET", uiauListenerAPI+"/users/u1", "")
	a.gwWant(404, "GET", uiauListenerAPI+"/users/u2", "")
	if f := uiauStomp(t, a.gwAddr("stomp", "tcp:default"), "u1", "p1"); !strings.HasPrefix(f, "CONNECTED") {
		t.Errorf("u1's password changed without a token: %q", f)
	}
	// The token in the form field (a plain form) works as well as the header.
	form := uiauBuiltinForm("md5")
	form.Set(views.CSRFFieldName, s.token)
	if r := s.do("POST", uiauListenerPage, form); r.StatusCode != 303 || r.Header.Get("Location") != uiauListenerPage {
		t.Errorf("plain form: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// Without htmx the form posts and redirects with a flash message; a refusal is the whole
// page with the error next to the field.
func TestUIAuthnPlainForm(t *testing.T) {
	a := newTestAPI(t)
	s := newUIAuthnSession(t, a)
	form := uiauBuiltinForm("sha256", "password_hash_algorithm.salt_position", "middle", views.CSRFFieldName, s.token)
	r := s.do("POST", "/gateways/stomp/authentication", form)
	uiauWant(t, r, 422)
	doc := r.doc(t)
	vt.One(t, doc, "authn-title")
	if got := vt.Text(t, doc, "authn-error-salt-position"); !strings.Contains(got, "must be one of") {
		t.Errorf("salt position error %q", got)
	}
	form.Set("password_hash_algorithm.salt_position", "suffix")
	r = s.do("POST", "/gateways/stomp/authentication", form)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/gateways/stomp/authentication" {
		t.Fatalf("saved: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	doc = s.get("/gateways/stomp/authentication").doc(t)
	if got := vt.Text(t, doc, "flash-success"); !strings.Contains(got, "created") {
		t.Errorf("flash %q", got)
	}
	if got := vt.One(t, doc, "authn-salt-position").Find("option[selected]").AttrOr("value", ""); got != "suffix" {
		t.Errorf("stored salt position shown as %q", got)
	}
	// The gateway page lists its listeners and what authenticates them.
	if got := vt.Text(t, doc, "authn-listener-by-stomp:tcp:default"); got != "the gateway's" {
		t.Errorf("listener row %q", got)
	}
	if got := vt.One(t, doc, "authn-listener-link-stomp:tcp:default").AttrOr("href", ""); got != uiauListenerPage {
		t.Errorf("listener link %q", got)
	}
	// Without htmx the search is the page's query.
	a.gwWant(201, "POST", "/api/v5/gateways/stomp/authentication/users", `{"user_id":"u1","password":"p"}`)
	a.gwWant(201, "POST", "/api/v5/gateways/stomp/authentication/users", `{"user_id":"u2","password":"p","is_superuser":true}`)
	doc = s.get("/gateways/stomp/authentication?is_superuser=true").doc(t)
	if !vt.Has(doc, "authn-user-u2") || vt.Has(doc, "authn-user-u1") {
		t.Errorf("search by query: %s", vt.Text(t, doc, "authn-users-table"))
	}
	if got := vt.One(t, doc, "authn-users-superuser").Find("option[selected]").AttrOr("value", ""); got != "true" {
		t.Errorf("search field shows %q", got)
	}

	// The listener page says which authenticator applies without its own.
	doc = s.get(uiauListenerPage).doc(t)
	if got := vt.Text(t, doc, "authn-scope"); !strings.Contains(got, "built-in database") {
		t.Errorf("listener scope %q", got)
	}
}

// The HTTP form: refusals by field (row ones on their row), secret headers hidden and kept,
// and the tester's real request.
func TestUIAuthnHTTP(t *testing.T) {
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Api-Token") != "s3cret" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":"bad token"}`)
			return
		}
		if body["password"] == "good" && body["username"] == "ann" {
			io.WriteString(w, `{"result":"allow","is_superuser":false}`)
			return
		}
		io.WriteString(w, `{"result":"deny"}`)
	}))
	t.Cleanup(auth.Close)
	a := newTestAPI(t)
	s := newUIAuthnSession(t, a)
	httpForm := func(url string, extra ...string) url.Values {
		v := map[string][]string{"shown": {views.AuthnHTTP}, "backend": {views.AuthnHTTP}, "enable": {"true"},
			"method": {"post"}, "url": {url}, "request_timeout": {"5s"}, "pool_size": {"8"}, "ssl.verify": {"verify_none"},
			"headers_key": {"X-Api-Token", "x-extra"}, "headers_value": {"s3cret", "${username}"}, "headers_json": {"false", "false"},
			"body_key": {"username", "password"}, "body_value": {"${username}", "${password}"}, "body_json": {"false", "false"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v[extra[i]] = []string{extra[i+1]}
		}
		return v
	}

	// Switching to HTTP pre-fills a body with the placeholders.
	r := s.hx("POST", uiauListenerPage+"/form", url.Values{"shown": {""}, "backend": {views.AuthnHTTP}})
	doc := r.doc(t)
	if vt.One(t, doc, "authn-body-1-value").AttrOr("value", "") != "${password}" || vt.One(t, doc, "authn-method").Find("option[selected]").AttrOr("value", "") != "post" {
		t.Errorf("HTTP defaults: %s", r.body)
	}
	// Rows are added and removed by redrawing.
	f := httpForm(auth.URL)
	f.Set("row_action", "add:headers")
	if doc = s.hx("POST", uiauListenerPage+"/form", f).doc(t); !vt.Has(doc, "authn-header-2-key") {
		t.Error("no header row added")
	}
	f.Set("row_action", "remove:body:0")
	if doc = s.hx("POST", uiauListenerPage+"/form", f).doc(t); vt.One(t, doc, "authn-body-0-key").AttrOr("value", "") != "password" || vt.Has(doc, "authn-body-1-key") {
		t.Error("body row not removed")
	}

	for _, tc := range []struct {
		name      string
		form      url.Values
		errID     string
		wantError string
	}{
		{"url", httpForm("ftp://auth"), "authn-error-url", `scheme "ftp" is not http or https`},
		{"body placeholder", httpForm(auth.URL, "body_key", "who", "body_value", "${nobody}", "body_json", "false"),
			"authn-error-body-0", "unknown placeholder ${nobody}"},
		{"timeout", httpForm(auth.URL, "request_timeout", "soon"), "authn-error-request-timeout", "want a duration"},
		{"https without tls", httpForm("https://auth"), "authn-error-ssl-enable", "must be true for an https url"},
		{"bad json row", httpForm(auth.URL, "body_key", "n", "body_value", "{", "body_json", "true"), "authn-error-body-0", "not a valid JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.hx("POST", uiauListenerPage, tc.form)
			uiauWant(t, r, 422)
			if got := vt.Text(t, r.doc(t), tc.errID); !strings.Contains(got, tc.wantError) {
				t.Errorf("%s = %q, want %q", tc.errID, got, tc.wantError)
			}
			if status, _ := a.do("GET", uiauListenerAPI, ""); status != 204 {
				t.Fatalf("refused form stored: %d", status)
			}
		})
	}
	bad := httpForm(auth.URL)
	bad["headers_value"] = []string{"s3cret", "${nobody}"}
	r = s.hx("POST", uiauListenerPage, bad)
	uiauWant(t, r, 422)
	if got := vt.Text(t, r.doc(t), "authn-error-header-1"); !strings.Contains(got, "unknown placeholder ${nobody}") {
		t.Errorf("header row error %q", got)
	}

	// The tester runs one real request with the settings as typed, before they are saved.
	probe := func(form url.Values, user, pw string) uiResponse {
		form = uiauClone(form)
		form.Set("test_username", user)
		form.Set("test_password", pw)
		form.Set("test_clientid", "c1")
		return s.hx("POST", uiauListenerPage+"/test", form)
	}
	r = probe(httpForm(auth.URL), "ann", "good")
	uiauWant(t, r, 200)
	doc = r.doc(t)
	if vt.Text(t, doc, "authn-test-decision") != "allow" || vt.Text(t, doc, "authn-test-status") != "200" ||
		!strings.Contains(vt.Text(t, doc, "authn-test-body"), `"allow"`) {
		t.Errorf("allow: %s", r.body)
	}
	if doc = probe(httpForm(auth.URL), "ann", "bad").doc(t); vt.Text(t, doc, "authn-test-decision") != "deny" {
		t.Errorf("deny: %s", doc.Text())
	}
	r = probe(httpForm("ftp://x"), "ann", "good")
	uiauWant(t, r, 422)
	if !strings.Contains(vt.Text(t, r.doc(t), "authn-test-invalid"), "url") {
		t.Errorf("invalid: %s", r.body)
	}

	// Saved, the token is hidden in the page and kept when the form is saved back.
	uiauWant(t, s.hx("POST", uiauListenerPage, httpForm(auth.URL)), 200)
	doc = s.get(uiauListenerPage).doc(t)
	if got := vt.One(t, doc, "authn-header-0-value").AttrOr("value", ""); got != gwHidden {
		t.Fatalf("token shown as %q", got)
	}
	if vt.One(t, doc, "authn-header-0-key").AttrOr("value", "") != "X-Api-Token" {
		t.Fatalf("header name %q", vt.One(t, doc, "authn-header-0-key").AttrOr("value", ""))
	}
	if strings.Contains(s.get(uiauListenerPage).body, "s3cret") {
		t.Fatal("the page carries the secret")
	}
	again := httpForm(auth.URL, "request_timeout", "3s")
	again["headers_value"] = []string{gwHidden, "${username}"}
	uiauWant(t, s.hx("POST", uiauListenerPage, again), 200)
	// The tester reveals hidden values too.
	if doc = probe(again, "ann", "good").doc(t); vt.Text(t, doc, "authn-test-decision") != "allow" {
		t.Errorf("probe with the hidden token: %s", doc.Text())
	}
	// A hidden value under a new name has nothing to stand for: refused on its row.
	renamed := uiauClone(again)
	renamed["headers_key"] = []string{"X-Other-Token", "x-extra"}
	r = s.hx("POST", uiauListenerPage, renamed)
	uiauWant(t, r, 422)
	if got := vt.Text(t, r.doc(t), "authn-error-header-0"); !strings.Contains(got, "stands for a stored value") {
		t.Errorf("renamed hidden header: %q (%s)", got, r.body)
	}
	addr := a.gwAddr("stomp", "tcp:default")
	if f := uiauStomp(t, addr, "ann", "good"); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("HTTP-allowed client: %q", f)
	}
	if f := uiauStomp(t, addr, "ann", "bad"); !strings.HasPrefix(f, "ERROR") {
		t.Fatalf("HTTP-denied client: %q", f)
	}
	// Users are only for the built-in database.
	r = s.hx("GET", uiauListenerPage+"/users", nil)
	if r.StatusCode != 400 || !strings.Contains(vt.Text(t, r.doc(t), "flash-error"), "built_in_database") {
		t.Errorf("users of an HTTP authenticator: %d %s", r.StatusCode, r.body)
	}
}

func uiauClone(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// A listener with enable_authn false says so, and the page can turn it on.
func TestUIAuthnListenerOff(t *testing.T) {
	a := newTestAPI(t)
	if _, err := a.srv.changeGateway(context.Background(), "stomp", func(gw *gateway.Config) error {
		l, _ := gw.Listener(gateway.TCP, "default")
		l.EnableAuthn = false
		*gw = gw.WithListener(l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := newUIAuthnSession(t, a)
	doc := s.get(uiauListenerPage).doc(t)
	vt.One(t, doc, "authn-listener-off")
	if got := vt.Text(t, s.get("/gateways/stomp/authentication").doc(t), "authn-listener-by-stomp:tcp:default"); got != "nobody (authentication off)" {
		t.Errorf("gateway page: %q", got)
	}
	r := s.hx("POST", uiauListenerPage+"/enable_authn", nil)
	uiauWant(t, r, 200)
	if vt.Has(r.doc(t), "authn-listener-off") {
		t.Error("banner still shown")
	}
	gw, _ := a.srv.gwStored(context.Background(), "stomp")
	if l, _ := gw.Listener(gateway.TCP, "default"); !l.EnableAuthn {
		t.Error("enable_authn still false")
	}
	uiauWant(t, s.hx("POST", "/gateways/stomp/authentication/enable_authn", nil), 404)
}

func TestUIAuthnNotFound(t *testing.T) {
	a := newTestAPI(t)
	s := newUIAuthnSession(t, a)
	for _, path := range []string{"/gateways/nope/authentication", "/gateways/stomp/listeners/stomp:tcp:nope/authentication",
		"/gateways/stomp/listeners/coap:udp:default/authentication"} {
		if r := s.get(path); r.StatusCode != 404 {
			t.Errorf("%s: %d", path, r.StatusCode)
		}
	}
	if r := s.get("/gateways/stomp/listeners/bad/authentication"); r.StatusCode != 400 {
		t.Errorf("bad listener id: %d", r.StatusCode)
	}
	// Without a session, the page sends the browser to the login page and back.
	b := newUIBrowser(t, a.srv)
	if r := b.get(uiauListenerPage); r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
		t.Errorf("no session: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// No users without a built-in authenticator.
	if r := s.hx("GET", uiauListenerPage+"/users", nil); r.StatusCode != 404 {
		t.Errorf("users without an authenticator: %d", r.StatusCode)
	}
}
