package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

// uiBrowser drives the dashboard through app.Test like a browser: it keeps the cookies the
// server sets and sends them back, and can log in through the login form.
type uiBrowser struct {
	t       *testing.T
	srv     *Server
	cookies map[string]string
}

func newUIBrowser(t *testing.T, srv *Server) *uiBrowser {
	return &uiBrowser{t: t, srv: srv, cookies: map[string]string{}}
}

// uiResponse is an answer with its body read.
type uiResponse struct {
	*http.Response
	body string
}

// doc parses the answer as HTML.
func (r uiResponse) doc(t *testing.T) *goquery.Document {
	t.Helper()
	return vt.Parse(t, strings.NewReader(r.body))
}

// do sends a request; form (may be nil) goes as an urlencoded body; header pairs are
// name, value, ...
func (b *uiBrowser) do(method, path string, form url.Values, header ...string) uiResponse {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	for name, value := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := b.srv.App().Test(req, -1)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return uiResponse{Response: resp, body: string(raw)}
}

// login logs in through the form and checks that it worked.
func (b *uiBrowser) login(username, password string) uiResponse {
	b.t.Helper()
	resp := b.submitLogin(username, password, "")
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login: %d %s", resp.StatusCode, resp.body)
	}
	return resp
}

// submitLogin loads the login page and posts its form.
func (b *uiBrowser) submitLogin(username, password, next string) uiResponse {
	b.t.Helper()
	page := b.get("/login")
	if page.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /login: %d %s", page.StatusCode, page.body)
	}
	csrf := page.doc(b.t).Find(`input[name="`+views.CSRFFieldName+`"]`).AttrOr("value", "")
	form := url.Values{"username": {username}, "password": {password}, views.CSRFFieldName: {csrf}}
	if next != "" {
		form.Set("next", next)
	}
	return b.do("POST", "/login", form)
}

// csrf is the session's CSRF token, read from a page's meta tag.
func (b *uiBrowser) csrf() string {
	b.t.Helper()
	resp := b.get("/")
	token := resp.doc(b.t).Find(`meta[name="csrf-token"]`).AttrOr("content", "")
	if token == "" {
		b.t.Fatalf("no CSRF token on the overview: %d %s", resp.StatusCode, resp.body)
	}
	return token
}

// get is do for a GET without a body.
func (b *uiBrowser) get(path string, header ...string) uiResponse {
	b.t.Helper()
	return b.do("GET", path, nil, header...)
}
