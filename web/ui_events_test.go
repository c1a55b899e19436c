package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func TestUIEventsPage(t *testing.T) {
	_, b, _ := uiazSetup(t)
	resp := b.get("/events")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if _, ok := vt.One(t, doc, "nav-"+views.NavEvents).Attr("aria-current"); !ok {
		t.Error("navigation does not mark the page")
	}
	list := vt.One(t, doc, "events-list")
	if list.AttrOr("data-stream-url", "") != "/events/stream" || list.AttrOr("data-max", "") != "200" {
		t.Errorf("list %v", list.Nodes[0].Attr)
	}
	var gateways []string
	vt.One(t, doc, "events-filter-gateway").Find("option").Each(func(_ int, s *goquery.Selection) {
		gateways = append(gateways, s.AttrOr("value", ""))
	})
	if got := strings.Join(gateways, ","); got != ",coap,mqttsn,stomp" && got != ",stomp,mqttsn,coap" {
		t.Errorf("gateway choices %q", got)
	}
	if got := doc.Find(`input[name="type"]`).Length(); got != len(evEventTypes) {
		t.Errorf("%d type choices, want %d", got, len(evEventTypes))
	}
	vt.One(t, doc, "events-webhooks-empty")

	// The filter comes from the query, as the stream's.
	doc = b.get("/events?gateway=stomp&clientid=c1&type=client.connected,client.disconnected").doc(t)
	if got := vt.One(t, doc, "events-list").AttrOr("data-stream-url", ""); got != "/events/stream?clientid=c1&gateway=stomp&type=client.connected&type=client.disconnected" {
		t.Errorf("stream URL %q", got)
	}
	if _, ok := vt.One(t, doc, "events-filter-type-client.connected").Attr("checked"); !ok {
		t.Error("type not checked")
	}
	if _, ok := vt.One(t, doc, "events-filter-type-message.publish").Attr("checked"); ok {
		t.Error("other type checked")
	}
	if got := vt.One(t, doc, "events-filter-gateway").Find("option[selected]").AttrOr("value", ""); got != "stomp" {
		t.Errorf("gateway %q", got)
	}

	// A bad filter is shown next to its field, and no stream is opened.
	resp = b.get("/events?gateway=amqp")
	doc = resp.doc(t)
	if resp.StatusCode != 422 || !strings.Contains(vt.Text(t, doc, "events-filter-gateway-error"), `"amqp" is not a gateway`) ||
		vt.One(t, doc, "events-list").AttrOr("data-stream-url", "x") != "" {
		t.Errorf("bad gateway: %d %s", resp.StatusCode, resp.body)
	}
	resp = b.get("/events?type=client.nope")
	if resp.StatusCode != 422 || !strings.Contains(vt.Text(t, resp.doc(t), "events-filter-type-error"), "client.nope") {
		t.Errorf("bad type: %d", resp.StatusCode)
	}
}

// TestUIEventsStream: the dashboard's stream lets the session cookie in (an EventSource
// cannot send a token) and sends what the API's sends, filtered on the server.
func TestUIEventsStream(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	get := func(path string, cookie bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", a.base+path, nil)
		if cookie {
			req.AddCookie(&http.Cookie{Name: uiSessionCookie, Value: a.token})
		}
		client := &http.Client{Transport: a.client.Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := get("/events/stream", false); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("without a session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get("/events/stream?type=client.nope", true); resp.StatusCode != 400 {
		t.Fatalf("bad type: %d", resp.StatusCode)
	}

	before := a.events.openStreams()
	resp := get("/events/stream?gateway=stomp&type=client.connected", true)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if n := a.events.openStreams(); n <= before {
			return fmt.Errorf("%d streams open", n)
		}
		return nil
	})
	events := make(chan map[string]any, 10)
	go func() {
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(events)
				return
			}
			if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
				var ev map[string]any
				if json.Unmarshal([]byte(data), &ev) == nil {
					events <- ev
				}
			}
		}
	}()
	c := a.stompDial("sam", "pw")
	c.c.Close() // client.disconnected is filtered out
	a.stompDial("tom", "pw")
	for _, want := range []string{"sam", "tom"} {
		select {
		case ev := <-events:
			if ev["type"] != "client.connected" || ev["username"] != want || ev["gateway"] != "stomp" {
				t.Fatalf("event %v, want client.connected of %s", ev, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event for %s", want)
		}
	}
}

// uievWebhookForm is a filled-in webhook form.
func uievWebhookForm(csrf string, fields ...string) url.Values {
	form := url.Values{views.CSRFFieldName: {csrf}, "name": {"w1"}, "url": {"http://127.0.0.1:9/hook"},
		"events": {"client.connected", "client.disconnected"}, "enable": {"true"}}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			form.Del(fields[i])
		} else {
			form.Set(fields[i], fields[i+1])
		}
	}
	return form
}

func TestUIWebhooks(t *testing.T) {
	a, b, csrf := uiazSetup(t)
	if resp := b.get("/events/webhooks/new", "HX-Request", "true"); resp.StatusCode != 200 ||
		vt.One(t, resp.doc(t), "events-webhook-editor").AttrOr("data-state", "") != "open" {
		t.Fatalf("new: %d %s", resp.StatusCode, resp.body)
	}
	resp := b.do("POST", "/events/webhooks", uievWebhookForm(csrf, "url", "http://ops:s3cret@127.0.0.1:9/hook",
		"headers", "Authorization: Bearer tok\n\nX-Site:  paris "), "HX-Request", "true")
	if resp.StatusCode != 200 {
		t.Fatalf("add: %d %s", resp.StatusCode, resp.body)
	}
	stored, ok, err := a.store.Webhook(t.Context(), "w1")
	if err != nil || !ok || stored.URL != "http://ops:s3cret@127.0.0.1:9/hook" || stored.Headers["X-Site"] != "paris" ||
		stored.Headers["Authorization"] != "Bearer tok" || strings.Join(stored.Events, ",") != "client.connected,client.disconnected" || !stored.Enable {
		t.Fatalf("stored %+v %v %v", stored, ok, err)
	}
	doc := resp.doc(t)
	if vt.One(t, doc, "events-webhook-editor").AttrOr("data-state", "") != "closed" ||
		vt.One(t, doc, "events-webhooks-list").AttrOr("hx-swap-oob", "") != "true" {
		t.Errorf("answer: %s", resp.body)
	}
	if got := vt.Text(t, doc, "events-webhook-url-w1"); got != "http://ops:******@127.0.0.1:9/hook" {
		t.Errorf("URL shown as %q", got)
	}
	if strings.Contains(resp.body, "s3cret") || strings.Contains(resp.body, "Bearer tok") {
		t.Error("the answer shows a secret")
	}
	if got := vt.One(t, doc, "events-webhook-w1").AttrOr("data-state", ""); got != "running" {
		t.Errorf("state %q", got)
	}

	// The editor shows secrets masked; sent back so, they are kept.
	doc = b.get("/events/webhooks/w1/edit", "HX-Request", "true").doc(t)
	headers := vt.Text(t, doc, "events-webhook-headers")
	if headers != "Authorization: ******\nX-Site: paris" || vt.Has(doc, "events-webhook-name") {
		t.Errorf("edit form headers %q", headers)
	}
	form := uievWebhookForm(csrf, "url", vt.One(t, doc, "events-webhook-url").AttrOr("value", ""), "headers", headers,
		"enable", "", "name", "")
	form["events"] = []string{"message.publish"}
	if resp := b.do("POST", "/events/webhooks/w1", form, "HX-Request", "true"); resp.StatusCode != 200 {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.body)
	} else if got := vt.One(t, resp.doc(t), "events-webhook-w1").AttrOr("data-state", ""); got != "disabled" {
		t.Errorf("state after disabling %q", got)
	}
	stored, _, _ = a.store.Webhook(t.Context(), "w1")
	if stored.URL != "http://ops:s3cret@127.0.0.1:9/hook" || stored.Headers["Authorization"] != "Bearer tok" || stored.Enable ||
		strings.Join(stored.Events, ",") != "message.publish" {
		t.Fatalf("after the save: %+v", stored)
	}

	// Refused: the message is next to the field, and nothing changes.
	for _, tc := range []struct {
		name, path string
		fields     []string
		testid     string
		want       string
	}{
		{"bad URL", "/events/webhooks", []string{"name", "w2", "url", "ftp://x/"}, "events-webhook-url-error", "http://"},
		{"bad name", "/events/webhooks", []string{"name", "no spaces"}, "events-webhook-name-error", "letters, digits"},
		{"name taken", "/events/webhooks", nil, "events-webhook-name-error", "exists already"},
		{"no events", "/events/webhooks", []string{"name", "w2", "events", ""}, "events-webhook-events-error", "at least one event type"},
		{"bad header line", "/events/webhooks", []string{"name", "w2", "headers", "X-Ok: 1\nnot a header"}, "events-webhook-headers-error", "line 2"},
		{"reserved header", "/events/webhooks/w1", []string{"headers", "Host: x"}, "events-webhook-headers-error", "set by xgate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, htmx := range []bool{true, false} {
				var header []string
				if htmx {
					header = []string{"HX-Request", "true"}
				}
				resp := b.do("POST", tc.path, uievWebhookForm(csrf, tc.fields...), header...)
				if resp.StatusCode != 422 {
					t.Fatalf("htmx %v: %d %s", htmx, resp.StatusCode, resp.body)
				}
				if got := vt.Text(t, resp.doc(t), tc.testid); !strings.Contains(got, tc.want) {
					t.Errorf("htmx %v: %s = %q, want %q", htmx, tc.testid, got, tc.want)
				}
			}
			list, _ := a.store.Webhooks(t.Context())
			if after, _, _ := a.store.Webhook(t.Context(), "w1"); len(list) != 1 || after.Enable || len(after.Headers) != 2 {
				t.Fatalf("changed: %+v", list)
			}
		})
	}

	// CSRF.
	if resp := b.do("POST", "/events/webhooks/w1/delete", url.Values{views.CSRFFieldName: {"forged"}}); resp.StatusCode != 403 {
		t.Errorf("delete without the token: %d", resp.StatusCode)
	}
	if resp := b.do("POST", "/events/webhooks", uievWebhookForm("forged", "name", "w3")); resp.StatusCode != 403 {
		t.Errorf("add without the token: %d", resp.StatusCode)
	}
	// Delete, as a plain form.
	resp = b.do("POST", "/events/webhooks/w1/delete", url.Values{views.CSRFFieldName: {csrf}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/events" {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if list, _ := a.store.Webhooks(t.Context()); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
	if resp := b.do("POST", "/events/webhooks/w1/delete", url.Values{views.CSRFFieldName: {csrf}}, "HX-Request", "true"); resp.StatusCode != 404 {
		t.Errorf("second delete: %d", resp.StatusCode)
	}
}

// TestUIWebhookDeliveryStatus: the list shows a webhook's failures and its last error.
func TestUIWebhookDeliveryStatus(t *testing.T) {
	a, _ := newTestAPIWith(t, EventsConfig{WebhookAttempts: 1, WebhookBackoff: time.Millisecond})
	a.login()
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	csrf := b.csrf()
	failing := evNewHookServer(t, func(int64) int { return 500 })
	if resp := b.do("POST", "/events/webhooks", uievWebhookForm(csrf, "url", failing.URL, "events", "client.connected")); resp.StatusCode != 303 {
		t.Fatalf("add: %d %s", resp.StatusCode, resp.body)
	}
	evWebhookReady(t, a.srv.deps.Events, "w1")
	a.stompDial("ann", "pw")
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		doc := b.get("/events/webhooks", "HX-Request", "true").doc(t)
		if got := vt.Text(t, doc, "events-webhook-failed-w1"); got != "1" {
			return fmt.Errorf("failed %s", got)
		}
		if got := vt.Text(t, doc, "events-webhook-error-w1"); got != "HTTP 500" {
			return fmt.Errorf("last error %q", got)
		}
		if got := vt.Text(t, doc, "events-webhook-delivered-w1"); got != "0" {
			return fmt.Errorf("delivered %s", got)
		}
		return nil
	})
	// The page polls the list.
	doc := b.get("/events").doc(t)
	if l := vt.One(t, doc, "events-webhooks-list"); l.AttrOr("hx-get", "") != "/events/webhooks" || !strings.HasPrefix(l.AttrOr("hx-trigger", ""), "every ") {
		t.Errorf("list does not poll: %v", l.Nodes[0].Attr)
	}
}

func TestUIEventsDisabled(t *testing.T) {
	a := newTestAPI(t)
	deps := a.srv.deps
	deps.Events = nil
	srv, err := New(context.Background(), deps)
	if err != nil {
		t.Fatal(err)
	}
	b := newUIBrowser(t, srv)
	b.login("admin", testAdminPassword)
	resp := b.get("/events")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events: %d", resp.StatusCode)
	}
	doc := resp.doc(t)
	vt.One(t, doc, "events-disabled")
	if vt.Has(doc, "events-list") {
		t.Error("a stream is offered without an event bus")
	}
	if resp := b.get("/events/stream"); resp.StatusCode != 503 {
		t.Errorf("stream: %d", resp.StatusCode)
	}
}
