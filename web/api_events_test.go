package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

func TestEventRoutesNeedToken(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	for _, route := range []struct{ method, path string }{
		{"GET", "/api/v5/events"},
		{"GET", "/api/v5/webhooks"},
		{"POST", "/api/v5/webhooks"},
		{"GET", "/api/v5/webhooks/w"},
		{"PUT", "/api/v5/webhooks/w"},
		{"DELETE", "/api/v5/webhooks/w"},
	} {
		t.Run(route.method+" "+route.path, func(t *testing.T) {
			status, body := a.doWith(route.method, route.path, `{}`, "")
			a.wantError(status, body, 401, "BAD_TOKEN")
		})
	}
}

// TestEventStreamStompLogin: a STOMP login shows on the stream as client.connected, with
// the client's fields and never its password.
func TestEventStreamStompLogin(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	s := a.openStream("?gateway=stomp&type=client.connected,client.disconnected")
	c := a.stompDial("alice", "pass-of-alice")
	ev := s.next()
	if ev["type"] != "client.connected" || ev["gateway"] != "stomp" || ev["username"] != "alice" ||
		ev["listener"] != "stomp:tcp:default" || ev["clientid"] == "" || !strings.HasPrefix(ev["peer"].(string), "127.0.0.1:") {
		t.Fatalf("event: %v", ev)
	}
	if _, err := time.Parse(time.RFC3339, ev["at"].(string)); err != nil {
		t.Fatalf("at: %v", err)
	}
	c.c.Close()
	if ev := s.next(); ev["type"] != "client.disconnected" || ev["username"] != "alice" {
		t.Fatalf("event: %v", ev)
	}
	s.resp.Body.Close()
	for {
		select {
		case line := <-s.raw:
			if strings.Contains(line, "pass-of-alice") || strings.Contains(line, "password") {
				t.Fatalf("the stream shows the password: %s", line)
			}
			continue
		default:
		}
		break
	}
}

func TestEventStreamFilters(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	for _, tc := range []struct{ name, query, want string }{
		{"unknown type", "?type=client.nope", "client.nope"},
		{"unknown type among known", "?type=client.connected&type=x", `type: \"x\"`},
		{"empty type", "?type=,", "type"},
		{"unknown gateway", "?gateway=amqp", "amqp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.do("GET", "/api/v5/events"+tc.query, "")
			a.wantError(status, body, 400, "BAD_REQUEST")
			if !strings.Contains(string(body), tc.want) {
				t.Fatalf("message does not name %s: %s", tc.want, body)
			}
		})
	}

	// HEAD answers the headers and opens nothing.
	req, _ := http.NewRequest("HEAD", a.base+"/api/v5/events", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || a.events.openStreams() != 0 {
		t.Fatalf("HEAD: %d %v, %d streams", resp.StatusCode, resp.Header, a.events.openStreams())
	}

	// Repeated and comma-separated types add up; other types and clients are left out.
	s := a.openStream("?type=client.connected&type=message.publish,client.disconnected&clientid=c1")
	evFire(a.events, evGatewayEvent(gateway.MessagePublish, "c2"))
	evFire(a.events, evGatewayEvent(gateway.ClientConnected, "c2"))
	for _, typ := range []gateway.EventType{gateway.ClientConnected, gateway.MessagePublish, gateway.ClientDisconnected} {
		evFire(a.events, evGatewayEvent(typ, "c1"))
		if ev := s.next(); ev["type"] != string(typ) || ev["clientid"] != "c1" {
			t.Fatalf("got %v, want %s of c1", ev, typ)
		}
	}
}

// TestEventStreamEnds: a stream ends when its client goes away, and all of them when the
// bus closes.
func TestEventStreamEnds(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	gone := a.openStream("")
	gone.resp.Body.Close()
	// The server learns that a client went away when a write fails.
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		evFire(a.events, evGatewayEvent(gateway.MessagePublish, "c"))
		if n := a.events.openStreams(); n != 0 {
			return fmt.Errorf("%d streams open", n)
		}
		return nil
	})

	s1, s2 := a.openStream(""), a.openStream("?type=client.connected")
	evClose(t, a.events)
	for _, s := range []*evStreamClient{s1, s2} {
		select {
		case <-s.ended:
		case <-time.After(10 * time.Second):
			t.Fatal("a stream is still open after Close")
		}
	}
	status, body := a.do("GET", "/api/v5/events", "")
	a.wantError(status, body, 503, "SERVICE_UNAVAILABLE")
}

// TestEventStreamShutdown: once Events.Close has ended the streams, the HTTP server shuts
// down without waiting for them. The stream handler is served alone, on an app of its own,
// because fasthttp's Shutdown races with requests that used c.Context() as a context
// (requireAuth's database lookups).
func TestEventStreamShutdown(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/events", a.srv.evStream)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + ln.Addr().String() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q, %v", line, err)
	}

	evClose(t, a.events)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.ShutdownWithContext(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	<-served
}

// TestEventStreamReportsDrops: a stream that falls behind is told how many events it lost.
func TestEventStreamReportsDrops(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{StreamQueue: 1})
	s := a.openStream("")
	// Hold the writer back by firing faster than one queue slot drains; some drop.
	for i := 0; a.events.sinks.Load().list[0].dropped.Load() == 0; i++ {
		evFire(a.events, evGatewayEvent(gateway.MessagePublish, fmt.Sprint("c", i)))
	}
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		for {
			select {
			case line := <-s.raw:
				if line == "event: dropped" {
					return nil
				}
				continue
			default:
			}
			evFire(a.events, evGatewayEvent(gateway.MessagePublish, "more"))
			return fmt.Errorf("no dropped event yet")
		}
	})
}

func TestWebhookRoutes(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	const good = `{"name":"w1","url":"http://127.0.0.1:1/hook","events":["client.connected"],` +
		`"headers":{"Authorization":"Bearer s3cret","X-Site":"paris"}}`
	status, body := a.do("POST", "/api/v5/webhooks", good)
	if status != 201 {
		t.Fatalf("POST: %d %s", status, body)
	}
	var view struct {
		Name    string            `json:"name"`
		URL     string            `json:"url"`
		Events  []string          `json:"events"`
		Headers map[string]string `json:"headers"`
		Enable  bool              `json:"enable"`
		Status  string            `json:"status"`
		Metrics *evWebhookMetrics `json:"metrics"`
	}
	json.Unmarshal(body, &view)
	if view.Name != "w1" || !view.Enable || view.Status != "running" || view.Metrics == nil ||
		view.Headers["Authorization"] != evSecretMask || view.Headers["X-Site"] != "paris" || strings.Contains(string(body), "s3cret") {
		t.Fatalf("POST answer: %s", body)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, want               string
	}{
		{"duplicate", "POST", "/api/v5/webhooks", good, 409, "ALREADY_EXISTS", "w1"},
		{"unknown field", "POST", "/api/v5/webhooks", `{"name":"w2","url":"http://h/","events":["client.connected"],"retries":3}`, 400, "BAD_REQUEST", "retries"},
		{"no name", "POST", "/api/v5/webhooks", `{"url":"http://h/","events":["client.connected"]}`, 400, "BAD_REQUEST", "name"},
		{"bad name", "POST", "/api/v5/webhooks", `{"name":"a b","url":"http://h/","events":["client.connected"]}`, 400, "BAD_REQUEST", "name"},
		{"no url", "POST", "/api/v5/webhooks", `{"name":"w2","events":["client.connected"]}`, 400, "BAD_REQUEST", "url"},
		{"ftp url", "POST", "/api/v5/webhooks", `{"name":"w2","url":"ftp://h/","events":["client.connected"]}`, 400, "BAD_REQUEST", "url"},
		{"no events", "POST", "/api/v5/webhooks", `{"name":"w2","url":"http://h/","events":[]}`, 400, "BAD_REQUEST", "events"},
		{"unknown event", "POST", "/api/v5/webhooks", `{"name":"w2","url":"http://h/","events":["client.nope"]}`, 400, "BAD_REQUEST", "events[0]"},
		{"event twice", "POST", "/api/v5/webhooks", `{"name":"w2","url":"http://h/","events":["client.connected","client.connected"]}`, 400, "BAD_REQUEST", "events[1]"},
		{"bad header", "POST", "/api/v5/webhooks", `{"name":"w2","url":"http://h/","events":["client.connected"],"headers":{"X-A":"a\nb"}}`, 400, "BAD_REQUEST", "X-A"},
		{"host header", "POST", "/api/v5/webhooks", `{"name":"w2","url":"http://h/","events":["client.connected"],"headers":{"Host":"x"}}`, 400, "BAD_REQUEST", "Host"},
		{"wrong type", "POST", "/api/v5/webhooks", `{"name":"w2","url":"http://h/","events":"client.connected"}`, 400, "BAD_REQUEST", "events"},
		{"get unknown", "GET", "/api/v5/webhooks/nope", "", 404, "NOT_FOUND", "nope"},
		{"put unknown", "PUT", "/api/v5/webhooks/nope", `{"url":"http://h/","events":["client.connected"]}`, 404, "NOT_FOUND", "nope"},
		{"put rename", "PUT", "/api/v5/webhooks/w1", `{"name":"w9","url":"http://h/","events":["client.connected"]}`, 400, "BAD_REQUEST", "name"},
		{"put bad url", "PUT", "/api/v5/webhooks/w1", `{"url":"h","events":["client.connected"]}`, 400, "BAD_REQUEST", "url"},
		{"put unknown field", "PUT", "/api/v5/webhooks/w1", `{"url":"http://h/","events":["client.connected"],"x":1}`, 400, "BAD_REQUEST", "x"},
		{"delete unknown", "DELETE", "/api/v5/webhooks/nope", "", 404, "NOT_FOUND", "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.do(tc.method, tc.path, tc.body)
			a.wantError(status, body, tc.status, tc.code)
			if !strings.Contains(string(body), tc.want) {
				t.Fatalf("message does not name %s: %s", tc.want, body)
			}
		})
	}

	// A PUT that sends the masked secret back keeps it; the change restarts the worker.
	status, body = a.do("PUT", "/api/v5/webhooks/w1", `{"name":"w1","url":"http://127.0.0.1:2/hook",`+
		`"events":["client.connected","client.disconnected"],"headers":{"Authorization":"******"},"enable":false}`)
	if status != 200 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	json.Unmarshal(body, &view)
	if view.Status != "stopped" || view.Enable || len(view.Events) != 2 || view.Headers["Authorization"] != evSecretMask {
		t.Fatalf("PUT answer: %s", body)
	}
	stored, _, _ := a.store.Webhook(t.Context(), "w1")
	if stored.Headers["Authorization"] != "Bearer s3cret" || stored.URL != "http://127.0.0.1:2/hook" || len(stored.Headers) != 1 {
		t.Fatalf("stored: %+v", stored)
	}

	status, body = a.do("GET", "/api/v5/webhooks", "")
	var list []map[string]any
	if json.Unmarshal(body, &list); status != 200 || len(list) != 1 || list[0]["name"] != "w1" {
		t.Fatalf("GET list: %d %s", status, body)
	}
	if status, body = a.do("GET", "/api/v5/webhooks/w1", ""); status != 200 || !strings.Contains(string(body), `"delivered":0`) {
		t.Fatalf("GET: %d %s", status, body)
	}
	if status, body = a.do("DELETE", "/api/v5/webhooks/w1", ""); status != 204 {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	status, body = a.do("GET", "/api/v5/webhooks/w1", "")
	a.wantError(status, body, 404, "NOT_FOUND")
}

func TestWebhookURLPasswordMasked(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	status, body := a.do("POST", "/api/v5/webhooks", `{"name":"w","url":"http://user:pw1@127.0.0.1:1/h","events":["client.connected"]}`)
	if status != 201 || strings.Contains(string(body), "pw1") || !strings.Contains(string(body), "user:******@") {
		t.Fatalf("POST: %d %s", status, body)
	}
	if status, body = a.do("PUT", "/api/v5/webhooks/w", `{"url":"http://user:******@127.0.0.1:1/h","events":["client.connected"]}`); status != 200 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	if stored, _, _ := a.store.Webhook(t.Context(), "w"); stored.URL != "http://user:pw1@127.0.0.1:1/h" {
		t.Fatalf("stored URL %s", stored.URL)
	}
}

func TestEventsDisabled(t *testing.T) {
	a := newTestAPI(t)
	deps := a.srv.deps
	deps.Events = nil
	srv, err := New(context.Background(), deps)
	if err != nil {
		t.Fatal(err)
	}
	a.srv = srv // same store and signing key: the token stays valid
	for _, path := range []string{"/api/v5/events", "/api/v5/webhooks"} {
		status, body := a.do("GET", path, "")
		a.wantError(status, body, 503, "SERVICE_UNAVAILABLE")
	}
}

// evWebhookReady waits until the webhook's worker runs.
func evWebhookReady(t *testing.T, e *Events, name string) {
	t.Helper()
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if _, running := e.webhookMetrics(name); !running {
			return fmt.Errorf("webhook %s is not running", name)
		}
		return nil
	})
}

// evRequest is what a test webhook server received.
type evRequest struct {
	header http.Header
	event  map[string]any
}
