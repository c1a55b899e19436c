package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func TestEventsPage(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := views.Events{
		Enabled:  true,
		Filter:   views.EventsFilter{Gateway: "stomp", ClientID: "c 1", Types: []string{"client.connected"}},
		Gateways: []string{"coap", "stomp"},
		Types:    []string{"client.connected", "client.disconnected"},
		Max:      200,
		Webhooks: views.EventsWebhooks{Refresh: 5 * time.Second, List: []views.EventsWebhook{
			{Name: "ok", URL: "http://u:******@h/x", Events: []string{"client.connected"}, Enabled: true, Running: true, Delivered: 3},
			{Name: "bad", URL: "http://h/y", Events: []string{"message.publish"}, Enabled: true, Failed: 2, Dropped: 1, Queued: 4,
				LastError: "HTTP 500", LastErrorAt: at},
			{Name: "off", URL: "http://h/z", Enabled: false},
		}},
	}
	doc := vt.Render(t, views.EventsPage(views.Page{Title: "Events", Active: views.NavEvents, User: "admin"}, m), "tok")

	list := vt.One(t, doc, "events-list")
	if got := list.AttrOr("data-stream-url", ""); got != "/events/stream?clientid=c+1&gateway=stomp&type=client.connected" {
		t.Errorf("stream URL %q", got)
	}
	if got := vt.One(t, doc, "events-filter-gateway").Find("option[selected]").AttrOr("value", ""); got != "stomp" {
		t.Errorf("gateway %q", got)
	}
	if got := vt.One(t, doc, "events-filter-clientid").AttrOr("value", ""); got != "c 1" {
		t.Errorf("client ID %q", got)
	}
	if _, ok := vt.One(t, doc, "events-filter-type-client.connected").Attr("checked"); !ok {
		t.Error("chosen type not checked")
	}
	if _, ok := vt.One(t, doc, "events-filter-type-client.disconnected").Attr("checked"); ok {
		t.Error("other type checked")
	}
	if got := vt.One(t, doc, "events-pause").AttrOr("aria-pressed", ""); got != "false" {
		t.Errorf("pause pressed %q", got)
	}
	if vt.One(t, doc, "events-status").AttrOr("role", "") != "status" {
		t.Error("status is not announced")
	}

	wl := vt.One(t, doc, "events-webhooks-list")
	if wl.AttrOr("hx-get", "") != "/events/webhooks" || wl.AttrOr("hx-trigger", "") != "every 5000ms" {
		t.Errorf("list refresh %v", wl.Nodes[0].Attr)
	}
	for _, tc := range []struct{ name, state, delivered, failed, dropped, queued string }{
		{"ok", "running", "3", "0", "0", "0"},
		{"bad", "stopped", "0", "2", "1", "4"},
		{"off", "disabled", "0", "0", "0", "0"},
	} {
		if got := vt.One(t, doc, "events-webhook-"+tc.name).AttrOr("data-state", ""); got != tc.state {
			t.Errorf("%s state %q", tc.name, got)
		}
		for id, want := range map[string]string{"delivered": tc.delivered, "failed": tc.failed, "dropped": tc.dropped, "queued": tc.queued} {
			if got := vt.Text(t, doc, "events-webhook-"+id+"-"+tc.name); got != want {
				t.Errorf("%s %s = %q, want %q", tc.name, id, got, want)
			}
		}
	}
	if got := vt.Text(t, doc, "events-webhook-error-bad"); got != "HTTP 500" {
		t.Errorf("last error %q", got)
	}
	if got := vt.One(t, doc, "events-webhook-bad").Find("time").AttrOr("datetime", ""); got != "2026-01-02T03:04:05Z" {
		t.Errorf("last error time %q", got)
	}
	if vt.Has(doc, "events-webhook-error-ok") {
		t.Error("error shown for a webhook without one")
	}
	if got := vt.Text(t, doc, "events-webhook-url-ok"); got != "http://u:******@h/x" {
		t.Errorf("URL %q", got)
	}
	if got := vt.One(t, doc, "events-webhook-delete-bad").Closest("form").Find(`input[name="_csrf"]`).AttrOr("value", ""); got != "tok" {
		t.Errorf("delete form token %q", got)
	}
	doc.Find("input:not([type=hidden]), select, textarea").Each(func(_ int, s *goquery.Selection) {
		if id := s.AttrOr("id", ""); id == "" || doc.Find(`label[for="`+id+`"]`).Length() == 0 {
			t.Errorf("%s (%s) has no label", id, s.AttrOr("name", ""))
		}
	})
}

func TestEventsPageRefusedFilter(t *testing.T) {
	m := views.Events{Enabled: true, Gateways: []string{"stomp"}, Types: []string{"client.connected"}, Max: 200,
		Filter: views.EventsFilter{Gateway: "amqp", Errors: map[string]string{"gateway": `"amqp" is not a gateway`}}}
	doc := vt.Render(t, views.EventsPage(views.Page{Title: "Events", User: "admin"}, m), "tok")
	if got := vt.One(t, doc, "events-list").AttrOr("data-stream-url", "x"); got != "" {
		t.Errorf("stream URL %q for a refused filter", got)
	}
	sel := vt.One(t, doc, "events-filter-gateway")
	if sel.AttrOr("aria-invalid", "") != "true" || sel.AttrOr("aria-describedby", "") != "events-filter-gateway-error" {
		t.Errorf("gateway select %v", sel.Nodes[0].Attr)
	}
	if got := vt.Text(t, doc, "events-filter-gateway-error"); !strings.Contains(got, "amqp") {
		t.Errorf("error %q", got)
	}
}

func TestEventsDisabledPage(t *testing.T) {
	doc := vt.Render(t, views.EventsPage(views.Page{Title: "Events", User: "admin"}, views.Events{}), "tok")
	vt.One(t, doc, "events-disabled")
	if vt.Has(doc, "events-list") || vt.Has(doc, "events-add-webhook") {
		t.Error("stream or webhooks offered without an event bus")
	}
}

func TestEventsWebhookEditor(t *testing.T) {
	f := &views.EventsWebhookForm{Original: "w1", Name: "w1", URL: "http://h/x", Events: []string{"message.publish"},
		Headers: "Authorization: ******\n", Types: []string{"client.connected", "message.publish"},
		Errors: map[string]string{"url": "url: must be an http:// or https:// URL with a host"}}
	doc := vt.Render(t, views.EventsWebhookEditor(f), "tok")
	form := vt.One(t, doc, "events-webhook-form")
	if form.AttrOr("hx-post", "") != "/events/webhooks/w1" {
		t.Errorf("posts to %q", form.AttrOr("hx-post", ""))
	}
	if vt.Has(doc, "events-webhook-name") {
		t.Error("an edited webhook can be renamed")
	}
	if _, ok := vt.One(t, doc, "events-webhook-event-message.publish").Attr("checked"); !ok {
		t.Error("event not checked")
	}
	if _, ok := vt.One(t, doc, "events-webhook-enable").Attr("checked"); ok {
		t.Error("disabled webhook shown enabled")
	}
	url := vt.One(t, doc, "events-webhook-url")
	if url.AttrOr("aria-invalid", "") != "true" || !strings.Contains(vt.Text(t, doc, "events-webhook-url-error"), "http://") {
		t.Errorf("url error: %v", url.Nodes[0].Attr)
	}
	doc = vt.Render(t, views.EventsWebhookEditor(&views.EventsWebhookForm{Enable: true}), "tok")
	if vt.One(t, doc, "events-webhook-form").AttrOr("hx-post", "") != "/events/webhooks" {
		t.Error("new webhook posts elsewhere")
	}
	vt.One(t, doc, "events-webhook-name")
}
