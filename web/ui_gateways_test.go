package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/protocols/coap"
	"github.com/xgate/xgate/protocols/mqttsn"
	"github.com/xgate/xgate/protocols/stomp"
	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

// uigwLogin is a test appliance with a logged-in dashboard browser.
func uigwLogin(t *testing.T) (*testAPI, *uiBrowser) {
	t.Helper()
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	return a, b
}

// uigwFormValues reads a form of a page as a browser would submit it: named inputs with
// their values, checked boxes only, each select's selected (or first) option, textareas.
func uigwBrowserForm(form *goquery.Selection) url.Values {
	vals := url.Values{}
	form.Find("input[name], select[name], textarea[name]").Each(func(_ int, s *goquery.Selection) {
		if s.Closest("template").Length() > 0 {
			return
		}
		name := s.AttrOr("name", "")
		switch goquery.NodeName(s) {
		case "select":
			opt := s.Find("option[selected]")
			if opt.Length() == 0 {
				opt = s.Find("option").First()
			}
			vals.Add(name, opt.AttrOr("value", ""))
		case "textarea":
			vals.Add(name, s.Text())
		default:
			switch s.AttrOr("type", "text") {
			case "checkbox":
				if _, ok := s.Attr("checked"); ok {
					vals.Add(name, s.AttrOr("value", "on"))
				}
			case "file":
			default:
				vals.Add(name, s.AttrOr("value", ""))
			}
		}
	})
	return vals
}

// uigwSettings loads gateway name's page and returns its settings form's values.
func uigwSettings(t *testing.T, b *uiBrowser, name string) url.Values {
	t.Helper()
	resp := b.get("/gateways/" + name)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /gateways/%s: %d %s", name, resp.StatusCode, resp.body)
	}
	return uigwBrowserForm(vt.One(t, resp.doc(t), "gw-settings-form"))
}

// uigwStored is gateway name's stored configuration.
func uigwStored(t *testing.T, a *testAPI, name string) gateway.Config {
	t.Helper()
	snap, err := a.store.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg, ok := snap.Gateway(name)
	if !ok {
		t.Fatalf("gateway %s not stored", name)
	}
	return cfg
}

// uigwSettingsOf is gateway name's stored protocol settings, decoded.
func uigwSettingsOf[T any](t *testing.T, a *testAPI, name string) T {
	t.Helper()
	p := a.mgr.Protocol(name)
	v, err := p.ParseSettings(uigwStored(t, a, name).Settings)
	if err != nil {
		t.Fatal(err)
	}
	return v.(T)
}

// uigwPost posts form values as htmx does (with the CSRF header).
func uigwPost(b *uiBrowser, path string, vals url.Values) uiResponse {
	b.t.Helper()
	return b.do("POST", path, vals, "HX-Request", "true", views.CSRFHeader, b.csrf())
}

// uigwMultipart posts values and files as a multipart form, as the listener form does.
func uigwMultipart(b *uiBrowser, method, path string, vals url.Values, files map[string][]byte) uiResponse {
	b.t.Helper()
	csrf := b.csrf()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range vals {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	for field, data := range files {
		fw, err := w.CreateFormFile(field, filepath.Base(field)+".pem")
		if err != nil {
			b.t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	req := httptest.NewRequest(method, path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("HX-Request", "true")
	req.Header.Set(views.CSRFHeader, csrf)
	for name, value := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := b.srv.App().Test(req, -1)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return uiResponse{Response: resp, body: string(raw)}
}

func TestUIGatewaysList(t *testing.T) {
	a, b := uigwLogin(t)
	a.gwUnload("coap")
	resp := b.get("/gateways")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /gateways: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if got := doc.Find(vt.Selector("gateways-table") + " tbody tr").Length(); got != 3 {
		t.Errorf("%d rows, want every protocol (3)", got)
	}
	for _, name := range []string{"stomp", "mqttsn"} {
		if got := vt.Text(t, doc, "gateways-status-"+name); got != "running" {
			t.Errorf("%s: status %q", name, got)
		}
		if got := vt.Text(t, doc, "gateways-listeners-"+name); got != "1" {
			t.Errorf("%s: listeners %q", name, got)
		}
		if got := vt.Text(t, doc, "gateways-running-"+name); got != "(1 running)" {
			t.Errorf("%s: running %q", name, got)
		}
		if got := vt.One(t, doc, "gateways-link-"+name).AttrOr("href", ""); got != "/gateways/"+name {
			t.Errorf("%s: link %q", name, got)
		}
	}
	if got := vt.Text(t, doc, "gateways-status-coap"); got != "unloaded" {
		t.Errorf("coap: status %q, want unloaded", got)
	}
	if got := vt.One(t, doc, "nav-gateways").AttrOr("aria-current", ""); got != "page" {
		t.Errorf("nav: aria-current %q", got)
	}
}

func TestUIGatewayPageFormIsGenerated(t *testing.T) {
	_, b := uigwLogin(t)
	doc := b.get("/gateways/stomp").doc(t)
	for id, want := range map[string]string{
		"settings-field-idle_timeout":          "30s",
		"settings-field-mountpoint":            "",
		"settings-field-frame.max_headers":     "10",
		"settings-field-frame.max_body_length": "65536",
		"settings-field-ack_window":            "32",
	} {
		if got := vt.One(t, doc, id).AttrOr("value", "?"); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if got := vt.One(t, doc, "settings-field-frame.max_headers").AttrOr("type", ""); got != "number" {
		t.Errorf("max_headers input type %q", got)
	}
	if _, checked := vt.One(t, doc, "settings-field-enable_stats").Attr("checked"); !checked {
		t.Error("enable_stats not checked")
	}
	if got := vt.Text(t, doc, "settings-help-frame.max_headers"); !strings.Contains(got, "Most header lines") || !strings.Contains(got, "Default: 10") {
		t.Errorf("help %q", got)
	}
	vt.One(t, doc, "settings-group-frame")
	vt.One(t, doc, "settings-group-clientinfo_override")
	if got := vt.One(t, doc, "settings-field-clientinfo_override.password").AttrOr("type", ""); got != "password" {
		t.Errorf("clientinfo_override.password type %q", got)
	}
	// Every input has a label.
	doc.Find(vt.Selector("gw-settings-form") + " input:not([type=hidden]), select, textarea").Each(func(_ int, s *goquery.Selection) {
		if s.Closest("template").Length() > 0 {
			return
		}
		id := s.AttrOr("id", "")
		if id == "" || doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("input %s has no label", s.AttrOr("name", "?"))
		}
	})

	// The other protocols' forms come from their own settings: enums as selects, the
	// predefined topics as a table.
	doc = b.get("/gateways/coap").doc(t)
	sel := vt.One(t, doc, "settings-field-notify_type")
	if goquery.NodeName(sel) != "select" || sel.Find("option").Length() != 3 || sel.Find("option[selected]").AttrOr("value", "") != "qos" {
		t.Errorf("notify_type: %s", uigwMust(goquery.OuterHtml(sel)))
	}
	doc = b.get("/gateways/mqttsn").doc(t)
	vt.One(t, doc, "settings-table-predefined")
	vt.One(t, doc, "settings-add-row-predefined")
	if got := vt.One(t, doc, "settings-field-gateway_id").AttrOr("max", ""); got != "255" {
		t.Errorf("gateway_id max %q", got)
	}
	if got := vt.One(t, doc, "settings-field-session_expiry_interval").AttrOr("value", ""); got != "2h" {
		t.Errorf("session_expiry_interval %q", got)
	}
}

func uigwMust(s string, err error) string {
	if err != nil {
		return err.Error()
	}
	return s
}

func TestUIGatewaySaveSettings(t *testing.T) {
	a, b := uigwLogin(t)
	vals := uigwSettings(t, b, "stomp")
	vals.Set("frame.max_headers", "20")
	vals.Set("idle_timeout", "45s")
	vals.Set("mountpoint", "site1/")
	vals.Set("clientinfo_override.password", "pw")
	vals.Del("enable_stats")
	resp := uigwPost(b, "/gateways/stomp/settings", vals)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if !strings.Contains(vt.Text(t, doc, "settings-notice"), "saved") {
		t.Errorf("notice %q", vt.Text(t, doc, "settings-notice"))
	}
	if got := vt.One(t, doc, "settings-field-frame.max_headers").AttrOr("value", ""); got != "20" {
		t.Errorf("form after saving: max_headers %q", got)
	}
	cfg := uigwStored(t, a, "stomp")
	if cfg.IdleTimeout.D() != 45*time.Second || cfg.Mountpoint != "site1/" || cfg.EnableStats || !cfg.Enable ||
		cfg.ClientInfoOverride == nil || cfg.ClientInfoOverride.Password != "pw" || len(cfg.Listeners) != 1 {
		t.Errorf("stored %+v", cfg)
	}
	if s := uigwSettingsOf[stomp.Settings](t, a, "stomp"); s.Frame.MaxHeaders != 20 || s.AckWindow != 32 {
		t.Errorf("stored settings %+v", s)
	}
	// The password is not shown again, and keeping the placeholder keeps it.
	vals = uigwSettings(t, b, "stomp")
	if got := vals.Get("clientinfo_override.password"); got != gwHidden {
		t.Errorf("password shown as %q", got)
	}
	vals.Set("clientinfo_override.username", "${Packet.headers.login}")
	if resp := uigwPost(b, "/gateways/stomp/settings", vals); resp.StatusCode != http.StatusOK {
		t.Fatalf("save again: %d %s", resp.StatusCode, resp.body)
	}
	if o := uigwStored(t, a, "stomp").ClientInfoOverride; o == nil || o.Password != "pw" || o.Username != "${Packet.headers.login}" {
		t.Errorf("override %+v", o)
	}
	// Emptied, the override is gone.
	vals.Set("clientinfo_override.username", "")
	vals.Set("clientinfo_override.password", "")
	uigwPost(b, "/gateways/stomp/settings", vals)
	if o := uigwStored(t, a, "stomp").ClientInfoOverride; o != nil {
		t.Errorf("override %+v, want none", o)
	}
}

func TestUIGatewaySettingsRefused(t *testing.T) {
	a, b := uigwLogin(t)
	before := uigwStored(t, a, "stomp")
	for _, tc := range []struct {
		name, field, value, errID, want string
	}{
		{"validation", "frame.max_headers", "0", "settings-error-frame.max_headers", "must be at least 1"},
		{"range", "ack_window", "70000", "settings-error-ack_window", "must be between 1 and 65535"},
		{"not a number", "max_pending", "many", "settings-error-max_pending", `"many" is not a whole number`},
		{"duration", "idle_timeout", "soon", "settings-error-idle_timeout", `"soon" is not a duration`},
		{"common validation", "idle_timeout", "-5s", "settings-error-idle_timeout", "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := uigwSettings(t, b, "stomp")
			vals.Set(tc.field, tc.value)
			resp := uigwPost(b, "/gateways/stomp/settings", vals)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%d %s", resp.StatusCode, resp.body)
			}
			doc := resp.doc(t)
			if got := vt.Text(t, doc, tc.errID); !strings.Contains(got, tc.want) {
				t.Errorf("error %q, want %q", got, tc.want)
			}
			in := vt.One(t, doc, "settings-field-"+tc.field)
			if in.AttrOr("value", "") != tc.value || in.AttrOr("aria-invalid", "") != "true" {
				t.Errorf("input %s", uigwMust(goquery.OuterHtml(in)))
			}
			if vt.Has(doc, "settings-notice") {
				t.Error("saved notice on a refusal")
			}
			after := uigwStored(t, a, "stomp")
			if !reflect.DeepEqual(before.Settings, after.Settings) || before.IdleTimeout != after.IdleTimeout {
				t.Errorf("stored changed: %s %v", after.Settings, after.IdleTimeout)
			}
		})
	}

	// A select only takes its choices.
	vals := uigwSettings(t, b, "coap")
	vals.Set("notify_type", "sometimes")
	resp := uigwPost(b, "/gateways/coap/settings", vals)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(vt.Text(t, resp.doc(t), "settings-error-notify_type"), "non, con, qos") {
		t.Errorf("notify_type: %d %s", resp.StatusCode, resp.body)
	}

	// Without a plain form's htmx, the page comes back with the error.
	vals = uigwSettings(t, b, "stomp")
	vals.Set("frame.max_headers", "0")
	vals.Set(views.CSRFFieldName, b.csrf())
	resp = b.do("POST", "/gateways/stomp/settings", vals)
	if resp.StatusCode != http.StatusUnprocessableEntity || !vt.Has(resp.doc(t), "settings-error-frame.max_headers") || !vt.Has(resp.doc(t), "gw-listeners") {
		t.Errorf("plain form: %d", resp.StatusCode)
	}
}

func TestUIGatewayPredefinedTable(t *testing.T) {
	a, b := uigwLogin(t)
	vals := uigwSettings(t, b, "mqttsn")
	// Rows as the browser sends them after adding and removing: gaps, and an empty row.
	vals.Set("predefined.3.id", "5")
	vals.Set("predefined.3.topic", "sensors/a")
	vals.Set("predefined.7.id", "")
	vals.Set("predefined.7.topic", "")
	vals.Set("predefined.9.id", "6")
	vals.Set("predefined.9.topic", "sensors/b")
	if resp := uigwPost(b, "/gateways/mqttsn/settings", vals); resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.body)
	}
	s := uigwSettingsOf[mqttsn.Settings](t, a, "mqttsn")
	want := []mqttsn.Predefined{{ID: 5, Topic: "sensors/a"}, {ID: 6, Topic: "sensors/b"}}
	if !reflect.DeepEqual(s.Predefined, want) {
		t.Errorf("predefined %+v, want %+v", s.Predefined, want)
	}
	doc := b.get("/gateways/mqttsn").doc(t)
	if got := vt.One(t, doc, "settings-field-predefined.1.topic").AttrOr("value", ""); got != "sensors/b" {
		t.Errorf("row 1 topic %q", got)
	}

	// A refusal naming a row shows next to it; nothing is stored.
	vals = uigwSettings(t, b, "mqttsn")
	vals.Set("predefined.1.topic", "sensors/a")
	resp := uigwPost(b, "/gateways/mqttsn/settings", vals)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate: %d %s", resp.StatusCode, resp.body)
	}
	if got := vt.Text(t, resp.doc(t), "settings-error-predefined.1"); !strings.Contains(got, "defined twice") {
		t.Errorf("row error %q", got)
	}
	vals.Set("predefined.1.topic", "sensors/#")
	resp = uigwPost(b, "/gateways/mqttsn/settings", vals)
	if got := vt.Text(t, resp.doc(t), "settings-error-predefined.1.topic"); !strings.Contains(got, "without wildcards") {
		t.Errorf("cell error %q", got)
	}
	if s := uigwSettingsOf[mqttsn.Settings](t, a, "mqttsn"); !reflect.DeepEqual(s.Predefined, want) {
		t.Errorf("stored after refusals %+v", s.Predefined)
	}

	// Removing every row empties the table.
	vals = uigwSettings(t, b, "mqttsn")
	for k := range vals {
		if strings.HasPrefix(k, "predefined.") {
			vals.Del(k)
		}
	}
	uigwPost(b, "/gateways/mqttsn/settings", vals)
	if s := uigwSettingsOf[mqttsn.Settings](t, a, "mqttsn"); len(s.Predefined) != 0 {
		t.Errorf("predefined %+v, want none", s.Predefined)
	}
}

func TestUIGatewayFormRoundTrip(t *testing.T) {
	// A form showing a protocol's defaults submits exactly its defaults.
	for _, p := range []gateway.Protocol{stomp.New(), mqttsn.New(), coap.New()} {
		t.Run(p.Name(), func(t *testing.T) {
			def, _ := p.ParseSettings(nil)
			vals := url.Values{}
			uigwValues(reflect.ValueOf(def), "", nil, vals)
			// The browser leaves unchecked boxes out.
			for k, vs := range vals {
				if vs[0] == "false" {
					vals.Del(k)
				}
			}
			d := newUIGWDecoder(vals)
			obj := d.object(reflect.TypeOf(def), "", "", nil)
			if len(d.errs) > 0 {
				t.Fatalf("errors %v", d.errs)
			}
			raw, _ := json.Marshal(obj)
			got, err := p.ParseSettings(raw)
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if !reflect.DeepEqual(got, def) {
				t.Errorf("got %+v, want %+v", got, def)
			}
		})
	}
}

func TestUIGatewayErrorPath(t *testing.T) {
	for _, tc := range []struct{ msg, path, text string }{
		{"gateway stomp: frame.max_headers: must be at least 1", "frame.max_headers", "must be at least 1"},
		{"gateway coap: notify_type: \"x\" is not non, con or qos", "notify_type", "\"x\" is not non, con or qos"},
		{"gateway mqttsn: predefined[2].id: 0 is not in 1..1024", "predefined.2.id", "0 is not in 1..1024"},
		{"gateway stomp: listener tcp:x: listen tcp 127.0.0.1:1: bind: address already in use", "listen",
			"listen tcp 127.0.0.1:1: bind: address already in use"},
		{"gateway stomp: listeners[1]: bind: port 70000 out of range", "bind", "port 70000 out of range"},
		{"gateway stomp: listener ssl:x: ssl_options.certfile/keyfile: open /x: no such file", "ssl_options.certfile",
			"ssl_options.certfile/keyfile: open /x: no such file"},
		{"gateway stomp: json: cannot unmarshal string into Go struct field Settings.frame.max_headers of type int",
			"frame.max_headers", "cannot unmarshal string into Go struct field Settings.frame.max_headers of type int"},
		{"nothing to see", "", "nothing to see"},
	} {
		path, text, _ := uigwErrorPath(tc.msg)
		if path != tc.path || text != tc.text {
			t.Errorf("%q: got %q, %q; want %q, %q", tc.msg, path, text, tc.path, tc.text)
		}
	}
}

func TestUIGatewayCSRF(t *testing.T) {
	a, b := uigwLogin(t)
	vals := uigwSettings(t, b, "stomp")
	vals.Set("frame.max_headers", "33")
	vals.Del(views.CSRFFieldName)
	for _, path := range []string{"/gateways/stomp/settings", "/gateways/stomp/enable", "/gateways/stomp/listeners"} {
		if resp := b.do("POST", path, vals, "HX-Request", "true"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without the token: %d", path, resp.StatusCode)
		}
	}
	if resp := b.do("DELETE", "/gateways/stomp/listeners/stomp:tcp:default", nil, "HX-Request", "true"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("DELETE without the token: %d", resp.StatusCode)
	}
	cfg := uigwStored(t, a, "stomp")
	if s := uigwSettingsOf[stomp.Settings](t, a, "stomp"); s.Frame.MaxHeaders != 10 || len(cfg.Listeners) != 1 || !cfg.Enable {
		t.Errorf("changed without a token: %+v %+v", s, cfg)
	}
	// And without a session, the login page.
	anon := newUIBrowser(t, a.srv)
	if resp := anon.get("/gateways/stomp"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("anonymous: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestUIGatewayEnableToggle(t *testing.T) {
	a, b := uigwLogin(t)
	resp := uigwPost(b, "/gateways/stomp/enable", url.Values{"enable": {"false"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("disable: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if got := vt.Text(t, doc, "gw-status"); got != "stopped" {
		t.Errorf("status %q", got)
	}
	if got := vt.One(t, doc, "gw-toggle").AttrOr("data-enabled", ""); got != "false" {
		t.Errorf("toggle data-enabled %q", got)
	}
	if resp.Header.Get("HX-Trigger") != uigwListenersChanged {
		t.Errorf("HX-Trigger %q", resp.Header.Get("HX-Trigger"))
	}
	if uigwStored(t, a, "stomp").Enable {
		t.Error("still enabled")
	}
	// Enabling while the listener's port is taken is refused and shown.
	cfg := uigwStored(t, a, "stomp")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := a.srv.changeGateway(t.Context(), "stomp", func(gw *gateway.Config) error {
		gw.Listeners[0].Bind = busy.Addr().String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	resp = uigwPost(b, "/gateways/stomp/enable", url.Values{"enable": {"true"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(vt.Text(t, resp.doc(t), "gw-state-error"), "address already in use") {
		t.Errorf("enable on a busy port: %d %s", resp.StatusCode, resp.body)
	}
	if uigwStored(t, a, "stomp").Enable {
		t.Error("enabled although refused")
	}
	_ = cfg
}

func TestUIGatewayUnloaded(t *testing.T) {
	a, b := uigwLogin(t)
	a.gwUnload("coap")
	doc := b.get("/gateways/coap").doc(t)
	if got := vt.Text(t, doc, "gw-status"); got != "unloaded" {
		t.Errorf("status %q", got)
	}
	if vt.Has(doc, "gw-settings-form") || vt.Has(doc, "gw-listeners") {
		t.Error("settings or listeners of an unloaded gateway")
	}
	vt.One(t, doc, "gw-load")
	resp := b.do("POST", "/gateways/coap/load", url.Values{views.CSRFFieldName: {b.csrf()}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("load: %d %s", resp.StatusCode, resp.body)
	}
	doc = b.get("/gateways/coap").doc(t)
	vt.One(t, doc, "gw-settings-form")
	vt.One(t, doc, "gw-no-listeners")
	if got := vt.Text(t, doc, "flash-success"); got != "Gateway coap loaded." {
		t.Errorf("flash %q", got)
	}
	if resp := b.get("/gateways/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown gateway: %d", resp.StatusCode)
	}
}

// uigwNewListenerForm loads the add form of gateway name and returns its values.
func uigwNewListenerForm(t *testing.T, b *uiBrowser, name string) url.Values {
	t.Helper()
	resp := b.get("/gateways/"+name+"/listeners/new", "HX-Request", "true")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("new listener form: %d %s", resp.StatusCode, resp.body)
	}
	return uigwBrowserForm(vt.One(t, resp.doc(t), "lform"))
}

func TestUIGatewayListenerLifecycle(t *testing.T) {
	a, b := uigwLogin(t)
	vals := uigwNewListenerForm(t, b, "stomp")
	if vals.Get("type") != "tcp" || vals.Get("max_connections") != "1024" || vals.Get("enable") != "true" {
		t.Errorf("add form values %v", vals)
	}
	port := gwFreePort(t)
	vals.Set("name", "ui")
	vals.Set("bind", fmt.Sprintf("127.0.0.1:%d", port))
	vals.Set("max_connections", "10")
	resp := uigwMultipart(b, "POST", "/gateways/stomp/listeners", vals, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("add: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if got := vt.Text(t, doc, "gw-listeners-notice"); got != "Listener stomp:tcp:ui added." {
		t.Errorf("notice %q", got)
	}
	if got := vt.One(t, doc, "gw-listener-stomp:tcp:ui").AttrOr("data-state", ""); got != "running" {
		t.Errorf("state %q", got)
	}
	if got := vt.Text(t, doc, "gw-listener-max-stomp:tcp:ui"); got != "10" {
		t.Errorf("max %q", got)
	}
	vt.One(t, doc, "gw-listener-add") // the form is closed
	l, ok := uigwStored(t, a, "stomp").Listener(gateway.TCP, "ui")
	if !ok || l.MaxConnections != 10 || !l.Enable || l.Mountpoint != nil || !l.EnableAuthn {
		t.Fatalf("stored %+v %v", l, ok)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if _, frame := gwStompConnect(t, addr); !strings.HasPrefix(frame, "CONNECTED") {
		t.Fatalf("STOMP on the new listener: %q", frame)
	}
	// The polled table shows the connection.
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		doc := b.get("/gateways/stomp/listeners", "HX-Request", "true").doc(t)
		if got := vt.Text(t, doc, "gw-listener-connections-stomp:tcp:ui"); got != "1" {
			return fmt.Errorf("connections %q", got)
		}
		return nil
	})

	// The same name again is refused next to the name.
	resp = uigwMultipart(b, "POST", "/gateways/stomp/listeners", vals, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(vt.Text(t, resp.doc(t), "lform-error-name"), "already has") {
		t.Errorf("same name: %d %s", resp.StatusCode, resp.body)
	}

	// Edit: the name and type stay, the rest is replaced; the authentication is kept.
	if _, err := a.srv.changeGateway(t.Context(), "stomp", func(gw *gateway.Config) error {
		l, _ := gw.Listener(gateway.TCP, "ui")
		l.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"built_in_database"}`)
		*gw = gw.WithListener(l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	resp = b.get("/gateways/stomp/listeners/stomp:tcp:ui/edit", "HX-Request", "true")
	doc = resp.doc(t)
	if _, ro := vt.One(t, doc, "lform-field-name").Attr("readonly"); !ro {
		t.Error("name editable")
	}
	vals = uigwBrowserForm(vt.One(t, doc, "lform"))
	vals.Set("max_connections", "0")
	vals.Set("mountpoint", "ui/")
	resp = uigwMultipart(b, "POST", "/gateways/stomp/listeners/stomp:tcp:ui", vals, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("edit: %d %s", resp.StatusCode, resp.body)
	}
	if got := vt.Text(t, resp.doc(t), "gw-listener-max-stomp:tcp:ui"); got != "no limit" {
		t.Errorf("max %q", got)
	}
	l, _ = uigwStored(t, a, "stomp").Listener(gateway.TCP, "ui")
	if l.MaxConnections != 0 || l.Mountpoint == nil || *l.Mountpoint != "ui/" || len(l.Authentication) == 0 || l.Bind != addr {
		t.Errorf("stored after edit %+v", l)
	}

	// Delete.
	resp = b.do("DELETE", "/gateways/stomp/listeners/stomp:tcp:ui", nil, "HX-Request", "true", views.CSRFHeader, b.csrf())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delete: %d %s", resp.StatusCode, resp.body)
	}
	if doc := resp.doc(t); vt.Has(doc, "gw-listener-stomp:tcp:ui") || vt.Text(t, doc, "gw-listeners-notice") != "Listener stomp:tcp:ui deleted." {
		t.Errorf("after delete: %s", resp.body)
	}
	if _, ok := uigwStored(t, a, "stomp").Listener(gateway.TCP, "ui"); ok {
		t.Error("still stored")
	}
}

func TestUIGatewayListenerRefused(t *testing.T) {
	a, b := uigwLogin(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	before := uigwStored(t, a, "stomp")
	for _, tc := range []struct {
		name, field, value, errID, want string
	}{
		{"port in use", "bind", busy.Addr().String(), "lform-error-bind", "address already in use"},
		{"bad port", "bind", "70000", "lform-error-bind", "port 70000 out of range"},
		{"no bind", "bind", "", "lform-error-bind", "required"},
		{"bad name", "name", "a b", "lform-error-name", "must be non-empty"},
		{"bad number", "max_conn_rate", "fast", "lform-error-max_conn_rate", "not a whole number"},
		{"transport of another gateway", "type", "udp", "lform-error-type", "not a transport of stomp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := uigwNewListenerForm(t, b, "stomp")
			vals.Set("name", "busy")
			vals.Set("bind", "127.0.0.1:0")
			vals.Set(tc.field, tc.value)
			resp := uigwMultipart(b, "POST", "/gateways/stomp/listeners", vals, nil)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%d %s", resp.StatusCode, resp.body)
			}
			doc := resp.doc(t)
			if got := vt.Text(t, doc, tc.errID); !strings.Contains(got, tc.want) {
				t.Errorf("error %q, want %q", got, tc.want)
			}
			if got := vt.One(t, doc, "lform-field-"+tc.field).AttrOr("aria-invalid", ""); got != "true" {
				t.Errorf("input not marked invalid")
			}
			vt.One(t, doc, "lform") // the form stays open with what was sent
			if !reflect.DeepEqual(uigwStored(t, a, "stomp").Listeners, before.Listeners) {
				t.Error("listeners changed")
			}
		})
	}
}

func TestUIGatewayListenerCertificateUpload(t *testing.T) {
	a, b := uigwLogin(t)
	a.srv.deps.DataDir = t.TempDir()
	certs := gatewaytest.Certs(t)
	certPEM, keyPEM := gatewaytest.ReadFile(t, certs.CertFile), gatewaytest.ReadFile(t, certs.KeyFile)
	vals := uigwNewListenerForm(t, b, "stomp")
	vals.Set("name", "tls")
	vals.Set("type", "ssl")
	vals.Set("bind", "127.0.0.1:0")
	vals.Set("tls.certfile", "")
	vals.Set("tls.keyfile", "")

	// A file that is no certificate is refused next to the certificate, and not kept.
	resp := uigwMultipart(b, "POST", "/gateways/stomp/listeners", vals,
		map[string][]byte{"tls.certfile_upload": []byte("not a certificate"), "tls.keyfile_upload": keyPEM})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad certificate: %d %s", resp.StatusCode, resp.body)
	}
	if got := vt.Text(t, resp.doc(t), "lform-error-tls.certfile"); !strings.Contains(got, "ssl_options.certfile/keyfile") {
		t.Errorf("error %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(a.srv.deps.DataDir, "certs")); len(entries) != 0 {
		t.Errorf("refused uploads kept: %v", entries)
	}
	if _, ok := uigwStored(t, a, "stomp").Listener(gateway.SSL, "tls"); ok {
		t.Fatal("stored although refused")
	}

	resp = uigwMultipart(b, "POST", "/gateways/stomp/listeners", vals,
		map[string][]byte{"tls.certfile_upload": certPEM, "tls.keyfile_upload": keyPEM})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, resp.body)
	}
	l, ok := uigwStored(t, a, "stomp").Listener(gateway.SSL, "tls")
	if !ok || l.SSLOptions == nil || l.DTLSOptions != nil {
		t.Fatalf("stored %+v", l)
	}
	certDir := filepath.Join(a.srv.deps.DataDir, "certs") + string(filepath.Separator)
	if !strings.HasPrefix(l.SSLOptions.CertFile, certDir) || !bytes.Equal(gatewaytest.ReadFile(t, l.SSLOptions.CertFile), certPEM) ||
		!strings.HasPrefix(l.SSLOptions.KeyFile, certDir) || l.SSLOptions.Verify != "verify_none" || len(l.SSLOptions.PSK) != 0 {
		t.Errorf("ssl_options %+v", l.SSLOptions)
	}
	if fi, err := os.Stat(l.SSLOptions.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %v %v", fi, err)
	}
}

func TestUIGatewayDTLSPreSharedKeys(t *testing.T) {
	a, b := uigwLogin(t)
	vals := uigwNewListenerForm(t, b, "coap")
	vals.Set("name", "psk")
	vals.Set("type", "dtls")
	vals.Set("bind", "127.0.0.1:0")
	vals.Set("tls.certfile", "")
	vals.Set("tls.keyfile", "")
	vals.Set("tls.psk.0.identity", "dev1")
	vals.Set("tls.psk.0.key", "secret1")
	vals.Set("tls.psk.1.identity", "dev2")
	vals.Set("tls.psk.1.key", "secret2")
	if resp := uigwMultipart(b, "POST", "/gateways/coap/listeners", vals, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("add: %d %s", resp.StatusCode, resp.body)
	}
	// The edit form hides the keys; removing a row and keeping the others' placeholders
	// keeps their keys (matched by identity).
	doc := b.get("/gateways/coap/listeners/coap:dtls:psk/edit", "HX-Request", "true").doc(t)
	if got := vt.One(t, doc, "lform-field-tls.psk.1.key").AttrOr("value", ""); got != gwHidden {
		t.Errorf("key shown as %q", got)
	}
	vals = uigwBrowserForm(vt.One(t, doc, "lform"))
	vals.Del("tls.psk.0.identity")
	vals.Del("tls.psk.0.key")
	if resp := uigwMultipart(b, "POST", "/gateways/coap/listeners/coap:dtls:psk", vals, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("edit: %d %s", resp.StatusCode, resp.body)
	}
	l, _ := uigwStored(t, a, "coap").Listener(gateway.DTLS, "psk")
	if l.DTLSOptions == nil || !reflect.DeepEqual(l.DTLSOptions.PSK, []gateway.PSKIdentity{{Identity: "dev2", Key: "secret2"}}) {
		t.Errorf("dtls_options %+v", l.DTLSOptions)
	}
}

func TestUIGatewayMergeKeepsWhatFormsDoNotEdit(t *testing.T) {
	stored := map[string]any{"frame": map[string]any{"max_headers": 10.0, "extra": "kept"}, "map_field": map[string]any{"a": 1.0},
		"predefined": []any{map[string]any{"id": 1.0}}, "clientinfo": map[string]any{"x": 1.0}}
	uigwMerge(stored, map[string]any{"frame": map[string]any{"max_headers": int64(20)}, "predefined": []any{}, "clientinfo": nil})
	want := map[string]any{"frame": map[string]any{"max_headers": int64(20), "extra": "kept"}, "map_field": map[string]any{"a": 1.0},
		"predefined": []any{}, "clientinfo": nil}
	if !reflect.DeepEqual(stored, want) {
		t.Errorf("merged %v, want %v", stored, want)
	}
}
