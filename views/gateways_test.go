package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func TestGatewaysPage(t *testing.T) {
	m := views.GatewayList{Gateways: []views.GatewayListItem{
		{Name: "coap", Status: "unloaded"},
		{Name: "stomp", Status: "running", Listeners: 2, RunningListeners: 1, Connections: 7},
	}}
	doc := vt.Render(t, views.GatewaysPage(views.Page{Title: "Gateways", User: "admin", Active: views.NavGateways}, m), "tok")
	if got := vt.One(t, doc, "gateways-row-stomp").AttrOr("data-status", ""); got != "running" {
		t.Errorf("data-status %q", got)
	}
	for id, want := range map[string]string{
		"gateways-status-stomp":      "running",
		"gateways-listeners-stomp":   "2",
		"gateways-running-stomp":     "(1 running)",
		"gateways-connections-stomp": "7",
		"gateways-status-coap":       "unloaded",
		"gateways-listeners-coap":    "0",
	} {
		if got := vt.Text(t, doc, id); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if vt.Has(doc, "gateways-running-coap") {
		t.Error("running count without listeners")
	}
	if got := vt.One(t, doc, "gateways-link-stomp").AttrOr("href", ""); got != "/gateways/stomp" {
		t.Errorf("link %q", got)
	}
}

func uigwPageFixture() views.Gateway {
	return views.Gateway{Name: "stomp", Status: "running", Loaded: true, Enabled: true, Connections: 3,
		Listeners: views.GatewayListeners{Gateway: "stomp", Refresh: 2 * time.Second, Rows: []views.GatewayListener{
			{ListenerSummary: views.ListenerSummary{ID: "stomp:tcp:default", Type: "tcp", Name: "default", Bind: "61613",
				Enabled: true, Running: true, Connections: 3}, MaxConnections: 1024},
			{ListenerSummary: views.ListenerSummary{ID: "stomp:ssl:default", Type: "ssl", Name: "default", Bind: "61614",
				Enabled: true, Error: "listen tcp :61614: bind: address already in use"}},
		}},
		Settings: views.Form{Prefix: "settings", Sections: []views.FormSection{{ID: "common", Title: "Every gateway",
			Fields: []views.FormField{{Path: "idle_timeout", Label: "Idle timeout", Kind: views.FieldDuration, Value: "30s"}}}}},
	}
}

func TestGatewayPage(t *testing.T) {
	doc := vt.Render(t, views.GatewayPage(views.Page{Title: "Gateway stomp", User: "admin"}, uigwPageFixture()), "tok")
	if vt.Text(t, doc, "gw-name") != "stomp" || vt.Text(t, doc, "gw-status") != "running" || vt.Text(t, doc, "gw-connections") != "3" {
		t.Error("state")
	}
	toggle := vt.One(t, doc, "gw-toggle")
	form := toggle.Closest("form")
	if toggle.Text() != "Disable gateway" || form.AttrOr("hx-post", "") != "/gateways/stomp/enable" ||
		form.Find(`input[name="enable"]`).AttrOr("value", "") != "false" || form.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" {
		t.Errorf("toggle: %s", uigwHTML(form))
	}

	// The listeners table polls itself.
	table := vt.One(t, doc, "gw-listeners-table")
	if table.AttrOr("hx-get", "") != "/gateways/stomp/listeners" || !strings.HasPrefix(table.AttrOr("hx-trigger", ""), "every 2000ms") ||
		!strings.Contains(table.AttrOr("hx-trigger", ""), "uigw-listeners from:body") {
		t.Errorf("table polling: %s", table.AttrOr("hx-trigger", ""))
	}
	row := vt.One(t, doc, "gw-listener-stomp:tcp:default")
	if row.AttrOr("data-state", "") != "running" || vt.Text(t, doc, "gw-listener-connections-stomp:tcp:default") != "3" ||
		vt.Text(t, doc, "gw-listener-max-stomp:tcp:default") != "1024" || vt.Text(t, doc, "gw-listener-bind-stomp:tcp:default") != "61613" {
		t.Errorf("row: %s", uigwHTML(row))
	}
	if vt.One(t, doc, "gw-listener-stomp:ssl:default").AttrOr("data-state", "") != "error" ||
		!strings.Contains(vt.Text(t, doc, "gw-listener-error-stomp:ssl:default"), "address already in use") ||
		vt.Text(t, doc, "gw-listener-max-stomp:ssl:default") != "no limit" {
		t.Error("failed listener")
	}
	del := vt.One(t, doc, "gw-listener-delete-stomp:tcp:default")
	if del.AttrOr("hx-delete", "") != "/gateways/stomp/listeners/stomp:tcp:default" || !strings.Contains(del.AttrOr("hx-confirm", ""), "Delete listener stomp:tcp:default?") ||
		del.AttrOr("hx-target", "") != "#gw-listeners" {
		t.Errorf("delete: %s", uigwHTML(del))
	}
	if got := vt.One(t, doc, "gw-listener-edit-stomp:tcp:default").AttrOr("hx-get", ""); got != "/gateways/stomp/listeners/stomp:tcp:default/edit" {
		t.Errorf("edit %q", got)
	}
	for id, want := range map[string]string{
		"gw-listener-authn-stomp:tcp:default": "/gateways/stomp/listeners/stomp:tcp:default/authentication",
		"gw-link-clients":                     "/gateways/stomp/clients",
		"gw-link-authn":                       "/gateways/stomp/authentication",
	} {
		if got := vt.One(t, doc, id).AttrOr("href", ""); got != want {
			t.Errorf("%s: href %q, want %q", id, got, want)
		}
	}
	if got := vt.One(t, doc, "gw-listener-add").AttrOr("hx-get", ""); got != "/gateways/stomp/listeners/new" {
		t.Errorf("add %q", got)
	}

	settings := vt.One(t, doc, "gw-settings-form")
	if settings.AttrOr("hx-post", "") != "/gateways/stomp/settings" || settings.AttrOr("action", "") != "/gateways/stomp/settings" ||
		settings.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" || !vt.Has(settings, "settings-field-idle_timeout") {
		t.Error("settings form")
	}
	vt.One(t, doc, "gw-settings-save")
	if doc.Find("script:not([src])").Length() != 0 || doc.Find("[hx-on]").Length() != 0 {
		t.Error("inline script")
	}
}

func TestGatewayPageStates(t *testing.T) {
	m := uigwPageFixture()
	m.Enabled, m.Status, m.StateError = false, "stopped", "gateway stomp: listener tcp:default: bind: address already in use"
	doc := vt.Render(t, views.GatewayState(m), "tok")
	if toggle := vt.One(t, doc, "gw-toggle"); toggle.Text() != "Enable gateway" || toggle.Closest("form").Find(`input[name="enable"]`).AttrOr("value", "") != "true" {
		t.Errorf("toggle %s", uigwHTML(toggle))
	}
	if !strings.Contains(vt.Text(t, doc, "gw-state-error"), "address already in use") {
		t.Error("state error")
	}

	doc = vt.Render(t, views.GatewayPage(views.Page{Title: "x", User: "admin"}, views.Gateway{Name: "coap", Status: "unloaded"}), "tok")
	for _, id := range []string{"gw-toggle", "gw-listeners", "gw-settings-form"} {
		if vt.Has(doc, id) {
			t.Errorf("%s on an unloaded gateway", id)
		}
	}
	load := vt.One(t, doc, "gw-load").Closest("form")
	if load.AttrOr("action", "") != "/gateways/coap/load" || load.Find(`input[name="_csrf"]`).Length() != 1 {
		t.Errorf("load: %s", uigwHTML(load))
	}

	m = uigwPageFixture()
	m.Listeners.Rows = nil
	m.Listeners.Notice = "Listener stomp:tcp:x deleted."
	doc = vt.Render(t, views.GatewayListenersSection(m.Listeners), "tok")
	vt.One(t, doc, "gw-no-listeners")
	if vt.Text(t, doc, "gw-listeners-notice") != "Listener stomp:tcp:x deleted." {
		t.Error("notice")
	}
}

func TestListenerFormView(t *testing.T) {
	f := views.ListenerForm{Gateway: "stomp", Form: views.Form{Prefix: "lform", Sections: []views.FormSection{
		{ID: "listener", Title: "Listener", Fields: []views.FormField{
			{Path: "bind", Label: "Bind", Kind: views.FieldText, Value: "61613", Required: true,
				Error: "listen tcp 0.0.0.0:61613: bind: address already in use"},
		}},
	}}}
	doc := vt.Render(t, views.GatewayListenersSection(views.GatewayListeners{Gateway: "stomp", Form: &f}), "tok")
	form := vt.One(t, doc, "lform")
	if form.AttrOr("hx-post", "") != "/gateways/stomp/listeners" || form.AttrOr("hx-encoding", "") != "multipart/form-data" ||
		form.AttrOr("enctype", "") != "multipart/form-data" || form.AttrOr("hx-target", "") != "#gw-listeners" ||
		form.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" {
		t.Errorf("form: %s", uigwHTML(form))
	}
	if vt.Text(t, doc, "lform-title") != "Add a listener" || vt.Text(t, doc, "lform-submit") != "Add listener" {
		t.Error("add form texts")
	}
	if vt.Has(doc, "gw-listener-add") {
		t.Error("add button while the form is open")
	}
	bind := vt.One(t, doc, "lform-field-bind")
	if _, ok := bind.Attr("required"); !ok || bind.AttrOr("aria-invalid", "") != "true" {
		t.Errorf("bind: %s", uigwHTML(bind))
	}
	if !strings.Contains(vt.Text(t, doc, "lform-error-bind"), "address already in use") {
		t.Error("bind error")
	}

	f.ID = "stomp:tcp:x"
	doc = vt.Render(t, views.ListenerFormView(f), "tok")
	if form := vt.One(t, doc, "lform"); form.AttrOr("hx-post", "") != "/gateways/stomp/listeners/stomp:tcp:x" {
		t.Errorf("edit action %q", form.AttrOr("hx-post", ""))
	}
	if vt.Text(t, doc, "lform-submit") != "Save listener" {
		t.Error("edit submit")
	}
}
