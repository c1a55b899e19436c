package views_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func TestLayoutLoggedIn(t *testing.T) {
	p := views.Page{Title: "Overview", Active: views.NavOverview, User: "admin",
		Flash: []views.Flash{{Kind: views.FlashSuccess, Text: "Saved."}}}
	doc := vt.Render(t, views.OverviewPage(p, views.Overview{}), "tok-123")

	if got := doc.Find("title").Text(); got != "Overview · xgate" {
		t.Errorf("title %q", got)
	}
	for _, item := range views.NavItems() {
		a := vt.One(t, doc, "nav-"+item.ID)
		if href, _ := a.Attr("href"); href != item.Href {
			t.Errorf("nav %s: href %q, want %q", item.ID, href, item.Href)
		}
		_, current := a.Attr("aria-current")
		if current != (item.ID == views.NavOverview) {
			t.Errorf("nav %s: aria-current %v", item.ID, current)
		}
	}
	if got := vt.Text(t, doc, "current-user"); got != "admin" {
		t.Errorf("current user %q", got)
	}
	logout := vt.One(t, doc, "logout")
	form := logout.Closest("form")
	if action, _ := form.Attr("action"); action != "/logout" || strings.ToLower(form.AttrOr("method", "")) != "post" {
		t.Errorf("logout form: action %q method %q", action, form.AttrOr("method", ""))
	}
	if got := form.Find(`input[name="`+views.CSRFFieldName+`"]`).AttrOr("value", ""); got != "tok-123" {
		t.Errorf("logout form CSRF field %q", got)
	}
	if got := doc.Find(`meta[name="csrf-token"]`).AttrOr("content", ""); got != "tok-123" {
		t.Errorf("csrf meta %q", got)
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(doc.Find("body").AttrOr("hx-headers", "")), &headers); err != nil || headers[views.CSRFHeader] != "tok-123" {
		t.Errorf("hx-headers %v (%v)", headers, err)
	}
	if vt.Has(doc, "default-password-banner") {
		t.Error("banner shown without DefaultPassword")
	}
	if got := vt.Text(t, doc, "flash-success"); got != "Saved." {
		t.Errorf("flash %q", got)
	}
	if _, ok := vt.One(t, doc, "flash").Attr("aria-live"); !ok {
		t.Error("flash area is not a live region")
	}
}

func TestLayoutDefaultPasswordBanner(t *testing.T) {
	doc := vt.Render(t, views.OverviewPage(views.Page{Title: "x", User: "admin", DefaultPassword: true}, views.Overview{}), "t")
	banner := vt.One(t, doc, "default-password-banner")
	if !strings.Contains(banner.Text(), "default password") || banner.AttrOr("role", "") != "alert" {
		t.Errorf("banner %q role %q", banner.Text(), banner.AttrOr("role", ""))
	}
}

func TestLayoutWithoutSession(t *testing.T) {
	// Login and error pages have no user: no navigation, no logout, no banner even if the
	// password is the default one, no CSRF header.
	doc := vt.Render(t, views.ErrorPage(views.Page{Title: "Not Found", DefaultPassword: true},
		views.ErrorInfo{Status: 404, Title: "Not Found", Message: "There is no page at /x."}), "")
	for _, id := range []string{"nav", "logout", "current-user", "default-password-banner"} {
		if vt.Has(doc, id) {
			t.Errorf("%s shown without a session", id)
		}
	}
	if _, ok := doc.Find("body").Attr("hx-headers"); ok {
		t.Error("hx-headers without a token")
	}
	if got := vt.Text(t, doc, "error-message"); got != "There is no page at /x." {
		t.Errorf("message %q", got)
	}
	if got := vt.Text(t, doc, "error-status"); got != "HTTP 404" {
		t.Errorf("status %q", got)
	}
}

func TestAssetsAreLocalWithHash(t *testing.T) {
	doc := vt.Render(t, views.LoginPage(views.Page{Title: "Log in"}, views.Login{}), "t")
	var urls []string
	doc.Find("link[rel=stylesheet], script[src]").Each(func(_ int, s *goquery.Selection) {
		urls = append(urls, s.AttrOr("href", s.AttrOr("src", "")))
	})
	if len(urls) < 4 {
		t.Fatalf("assets %v", urls)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "/static/") || !strings.Contains(u, "?v=") {
			t.Errorf("asset %q: want a local /static/ file with its hash", u)
		}
	}
	if doc.Find("script:not([src])").Length() != 0 {
		t.Error("inline script: the Content-Security-Policy forbids it")
	}
}

func TestLoginPage(t *testing.T) {
	t.Run("fresh", func(t *testing.T) {
		doc := vt.Render(t, views.LoginPage(views.Page{Title: "Log in"}, views.Login{Next: "/clients"}), "login-tok")
		form := vt.One(t, doc, "login-form")
		if form.AttrOr("action", "") != "/login" || form.AttrOr("method", "") != "post" {
			t.Errorf("form action %q method %q", form.AttrOr("action", ""), form.AttrOr("method", ""))
		}
		if got := form.Find(`input[name="_csrf"]`).AttrOr("value", ""); got != "login-tok" {
			t.Errorf("csrf %q", got)
		}
		if got := form.Find(`input[name="next"]`).AttrOr("value", ""); got != "/clients" {
			t.Errorf("next %q", got)
		}
		for _, id := range []string{"login-username", "login-password"} {
			in := vt.One(t, doc, id)
			inputID := in.AttrOr("id", "")
			if inputID == "" || doc.Find(`label[for="`+inputID+`"]`).Length() != 1 {
				t.Errorf("%s: no label", id)
			}
			if _, ok := in.Attr("required"); !ok {
				t.Errorf("%s: not required", id)
			}
		}
		if vt.One(t, doc, "login-password").AttrOr("type", "") != "password" {
			t.Error("password input is not type=password")
		}
		if vt.Has(doc, "login-error") {
			t.Error("error shown")
		}
		vt.One(t, doc, "login-submit")
	})
	t.Run("failed", func(t *testing.T) {
		doc := vt.Render(t, views.LoginPage(views.Page{Title: "Log in"},
			views.Login{Username: "bob", Error: "Wrong username or password."}), "t")
		if got := vt.Text(t, doc, "login-error"); got != "Wrong username or password." {
			t.Errorf("error %q", got)
		}
		user := vt.One(t, doc, "login-username")
		if user.AttrOr("value", "") != "bob" || user.AttrOr("aria-invalid", "") != "true" {
			t.Errorf("username value %q aria-invalid %q", user.AttrOr("value", ""), user.AttrOr("aria-invalid", ""))
		}
		if _, ok := vt.One(t, doc, "login-password").Attr("autofocus"); !ok {
			t.Error("focus should go to the password")
		}
	})
}

func overviewModel() views.Overview {
	t0 := float64(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Unix())
	one, two := 1.0, 2.0
	return views.Overview{
		UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Refresh:   2 * time.Second,
		Gateways: []views.GatewaySummary{
			{Name: "coap", Status: "unloaded"},
			{Name: "stomp", Status: "running", Connections: 3, MessagesIn: 10, MessagesOut: 7, Dropped: 1,
				Listeners: []views.ListenerSummary{
					{ID: "stomp:tcp:default", Type: "tcp", Name: "default", Bind: "0.0.0.0:61613", Enabled: true, Running: true, Connections: 3},
					{ID: "stomp:ssl:default", Type: "ssl", Name: "default", Bind: "61614", Enabled: true,
						Error: "listen tcp :61614: bind: address already in use <script>"},
					{ID: "stomp:tcp:off", Type: "tcp", Name: "off", Bind: "61615"},
				}},
		},
		Charts: []views.Chart{{ID: "connections", Title: "Connections", Unit: "connections", Series: []string{"stomp"},
			Data: [][]*float64{{&t0}, {&two}}}, {ID: "messages", Title: "Messages per second", Unit: "messages/s",
			Series: []string{"in", "out"}, Data: [][]*float64{{&t0}, {&one}, {nil}}}},
	}
}

func TestOverviewPage(t *testing.T) {
	doc := vt.Render(t, views.OverviewPage(views.Page{Title: "Overview", User: "admin", Active: views.NavOverview}, overviewModel()), "t")

	stomp := vt.One(t, doc, "gateway-stomp")
	if stomp.AttrOr("data-status", "") != "running" || vt.Text(t, stomp, "gateway-status-stomp") != "running" {
		t.Errorf("stomp status %q", stomp.AttrOr("data-status", ""))
	}
	for id, want := range map[string]string{"gateway-connections-stomp": "3", "gateway-messages-in-stomp": "10",
		"gateway-messages-out-stomp": "7", "gateway-dropped-stomp": "1"} {
		if got := vt.Text(t, stomp, id); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	for id, want := range map[string]string{"stomp:tcp:default": "running", "stomp:ssl:default": "error", "stomp:tcp:off": "disabled"} {
		row := vt.One(t, stomp, "listener-"+id)
		if row.AttrOr("data-state", "") != want || vt.Text(t, row, "listener-state-"+id) != want {
			t.Errorf("listener %s: state %q, want %q", id, row.AttrOr("data-state", ""), want)
		}
	}
	if got := vt.Text(t, stomp, "listener-connections-stomp:tcp:default"); got != "3" {
		t.Errorf("listener connections %q", got)
	}
	// The error text is shown as text, never as markup.
	if got := vt.Text(t, stomp, "listener-error-stomp:ssl:default"); !strings.HasSuffix(got, "<script>") {
		t.Errorf("listener error %q", got)
	}
	coap := vt.One(t, doc, "gateway-coap")
	if coap.AttrOr("data-status", "") != "unloaded" || !vt.Has(coap, "gateway-no-listeners-coap") {
		t.Error("coap: want unloaded without listeners")
	}

	live := vt.One(t, doc, "overview-live")
	if live.AttrOr("hx-get", "") != "/overview/live" || live.AttrOr("hx-trigger", "") != "every 2000ms" {
		t.Errorf("live section polls %q %q", live.AttrOr("hx-get", ""), live.AttrOr("hx-trigger", ""))
	}
	if got := vt.One(t, live, "overview-updated-at").AttrOr("datetime", ""); got != "2025-01-02T03:04:05Z" {
		t.Errorf("updated at %q", got)
	}
	// Charts: the figures outside the polled part, their data inside it.
	for _, id := range []string{"connections", "messages"} {
		fig := vt.One(t, doc, "chart-"+id)
		if fig.Closest("#overview-live").Length() != 0 {
			t.Errorf("chart %s inside the polled section: it would be redrawn from scratch", id)
		}
		data := live.Find("script#chart-data-" + id)
		if data.AttrOr("type", "") != "application/json" {
			t.Fatalf("chart %s: no JSON data in the live section", id)
		}
		var spec struct {
			Unit   string
			Series []string
			Data   [][]*float64
		}
		if err := json.Unmarshal([]byte(data.Text()), &spec); err != nil || len(spec.Data) != 1+len(spec.Series) {
			t.Errorf("chart %s data %q: %v", id, data.Text(), err)
		}
	}
}

func TestOverviewLiveAlone(t *testing.T) {
	// The fragment htmx swaps in is the same markup as in the full page, without the layout.
	doc := vt.Render(t, views.OverviewLive(overviewModel()), "")
	if doc.Find("html > head > title").Length() != 0 || vt.Has(doc, "nav") {
		t.Error("fragment carries the layout")
	}
	vt.One(t, doc, "overview-live")
	vt.One(t, doc, "gateway-stomp")
}

func TestFlashMessages(t *testing.T) {
	doc := vt.Render(t, views.FlashMessages([]views.Flash{{Kind: views.FlashError, Text: "port <in> use"}}), "")
	if got := vt.Text(t, doc, "flash-error"); got != "port <in> use" {
		t.Errorf("flash %q", got)
	}
}
