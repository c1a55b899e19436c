package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

// evHookServer is a webhook receiver: answer decides each request's status (n counts from 1).
type evHookServer struct {
	*httptest.Server
	requests chan evRequest
	count    atomic.Int64
}

func evNewHookServer(t *testing.T, answer func(n int64) int) *evHookServer {
	t.Helper()
	s := &evHookServer{requests: make(chan evRequest, 1000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		json.Unmarshal(body, &ev)
		n := s.count.Add(1)
		status := answer(n)
		if status/100 == 2 {
			select {
			case s.requests <- evRequest{header: r.Header.Clone(), event: ev}:
			default:
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *evHookServer) next(t *testing.T) evRequest {
	t.Helper()
	select {
	case r := <-s.requests:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook server got nothing within 10s")
	}
	return evRequest{}
}

func evOK(int64) int { return 200 }

// evMetrics reads a webhook's counters through the API.
func (a *evTestAPI) evMetrics(name string) (evWebhookMetrics, string) {
	a.t.Helper()
	status, body := a.do("GET", "/api/v5/webhooks/"+name, "")
	if status != 200 {
		a.t.Fatalf("GET webhook %s: %d %s", name, status, body)
	}
	var v struct {
		Status  string           `json:"status"`
		Metrics evWebhookMetrics `json:"metrics"`
	}
	json.Unmarshal(body, &v)
	return v.Metrics, v.Status
}

func (a *evTestAPI) addWebhook(name, url, events, extra string) {
	a.t.Helper()
	status, body := a.do("POST", "/api/v5/webhooks",
		fmt.Sprintf(`{"name":%q,"url":%q,"events":%s%s}`, name, url, events, extra))
	if status != 201 {
		a.t.Fatalf("POST webhook %s: %d %s", name, status, body)
	}
	evWebhookReady(a.t, a.events, name)
}

// TestWebhookDelivers: a STOMP login is POSTed to the webhook as JSON with its headers.
func TestWebhookDelivers(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	srv := evNewHookServer(t, evOK)
	a.addWebhook("w", srv.URL+"/hook", `["client.connected"]`, `,"headers":{"X-Site":"paris"}`)
	a.stompDial("bob", "pw-of-bob")
	r := srv.next(t)
	if r.event["type"] != "client.connected" || r.event["username"] != "bob" || r.event["gateway"] != "stomp" {
		t.Fatalf("event: %v", r.event)
	}
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("X-Site") != "paris" {
		t.Fatalf("headers: %v", r.header)
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if m, _ := a.evMetrics("w"); m.Delivered != 1 || m.Failed != 0 || m.Dropped != 0 || m.LastError != "" {
			return fmt.Errorf("metrics %+v", m)
		}
		return nil
	})
}

// TestWebhookRetries: a failed POST is retried; only when every attempt fails does the
// event count as failed, with the error shown.
func TestWebhookRetries(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{WebhookBackoff: time.Millisecond, WebhookAttempts: 3})
	flaky := evNewHookServer(t, func(n int64) int {
		if n == 1 {
			return 500
		}
		return 200
	})
	broken := evNewHookServer(t, func(int64) int { return 503 })
	a.addWebhook("flaky", flaky.URL, `["client.connected"]`, "")
	a.addWebhook("broken", broken.URL, `["client.connected"]`, "")
	evFire(a.events, evGatewayEvent(gateway.ClientConnected, "c1"))

	if r := flaky.next(t); r.event["clientid"] != "c1" {
		t.Fatalf("event: %v", r.event)
	}
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if m, _ := a.evMetrics("flaky"); m.Delivered != 1 || m.Failed != 0 || flaky.count.Load() != 2 {
			return fmt.Errorf("flaky: metrics %+v after %d requests", m, flaky.count.Load())
		}
		m, _ := a.evMetrics("broken")
		if m.Delivered != 0 || m.Failed != 1 || m.LastError != "HTTP 503" || m.LastErrorAt == nil || broken.count.Load() != 3 {
			return fmt.Errorf("broken: metrics %+v after %d requests", m, broken.count.Load())
		}
		return nil
	})
}

// TestWebhookBlockedServer: a webhook whose server never answers fills its queue and drops
// (counted); the clients, the other webhooks and Close are not held up by it.
func TestWebhookBlockedServer(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{WebhookQueue: 2, WebhookTimeout: time.Hour})
	release := make(chan struct{})
	var inFlight atomic.Int64
	stuck := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		inFlight.Add(1)
		<-release
	}))
	t.Cleanup(stuck.Close)
	t.Cleanup(func() { close(release) }) // before stuck.Close, which waits for the handlers
	fast := evNewHookServer(t, evOK)
	a.addWebhook("stuck", stuck.URL, `["client.connected","message.publish"]`, "")
	a.addWebhook("fast", fast.URL, `["client.connected"]`, "")

	c := a.stompDial("carol", "pw")
	// The login's event is in flight, and stays there.
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if n := inFlight.Load(); n != 1 {
			return fmt.Errorf("%d requests in flight", n)
		}
		return nil
	})
	const sends = 20
	for i := range sends {
		c.send(fmt.Sprintf("SEND\ndestination:t/%d\nreceipt:r%d\n\nhello", i, i))
		if f := c.frame(); !strings.HasPrefix(f, "RECEIPT\n") || !strings.Contains(f, fmt.Sprintf("receipt-id:r%d\n", i)) {
			t.Fatalf("SEND %d: %q", i, f)
		}
	}
	if r := fast.next(t); r.event["username"] != "carol" {
		t.Fatalf("fast webhook: %v", r.event)
	}
	// 21 events for stuck: one in flight, two queued, the rest dropped.
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		m, status := a.evMetrics("stuck")
		if m.Dropped != sends+1-3 || m.Queued != 2 || m.Delivered != 0 || status != "running" {
			return fmt.Errorf("stuck: %s, metrics %+v", status, m)
		}
		return nil
	})
	evClose(t, a.events) // cancels the POST in flight
}

// TestWebhookLiveChanges: a changed webhook delivers to its new URL at once, a disabled one
// stops, an enabled one starts again, a deleted one is gone.
func TestWebhookLiveChanges(t *testing.T) {
	a := evNewTestAPI(t, EventsConfig{})
	one, two := evNewHookServer(t, evOK), evNewHookServer(t, evOK)
	a.addWebhook("w", one.URL, `["client.connected"]`, "")
	evFire(a.events, evGatewayEvent(gateway.ClientConnected, "c1"))
	if r := one.next(t); r.event["clientid"] != "c1" {
		t.Fatalf("event: %v", r.event)
	}

	put := func(body string) {
		t.Helper()
		if status, out := a.do("PUT", "/api/v5/webhooks/w", body); status != 200 {
			t.Fatalf("PUT %s: %d %s", body, status, out)
		}
	}
	put(fmt.Sprintf(`{"url":%q,"events":["client.connected","client.disconnected"]}`, two.URL))
	evFire(a.events, evGatewayEvent(gateway.ClientDisconnected, "c2"))
	if r := two.next(t); r.event["clientid"] != "c2" || r.event["type"] != "client.disconnected" {
		t.Fatalf("event: %v", r.event)
	}

	put(fmt.Sprintf(`{"url":%q,"events":["client.connected"],"enable":false}`, two.URL))
	if _, status := a.evMetrics("w"); status != "stopped" || len(a.events.sinks.Load().list) != 0 {
		t.Fatalf("disabled webhook: %s, %d sinks", status, len(a.events.sinks.Load().list))
	}
	put(fmt.Sprintf(`{"url":%q,"events":["client.connected"],"enable":true}`, two.URL))
	evWebhookReady(t, a.events, "w")
	evFire(a.events, evGatewayEvent(gateway.ClientConnected, "c3"))
	if r := two.next(t); r.event["clientid"] != "c3" {
		t.Fatalf("event: %v", r.event)
	}
	// The counters are kept across changes, and a change let the POST in hand finish.
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if m, _ := a.evMetrics("w"); m.Delivered != 3 {
			return fmt.Errorf("metrics %+v", m)
		}
		return nil
	})

	if status, body := a.do("DELETE", "/api/v5/webhooks/w", ""); status != 204 {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	if _, running := a.events.webhookMetrics("w"); running || len(a.events.sinks.Load().list) != 0 {
		t.Fatal("the deleted webhook still runs")
	}
	if one.count.Load() != 1 || two.count.Load() != 2 {
		t.Fatalf("requests: %d and %d, want 1 and 2", one.count.Load(), two.count.Load())
	}
}

// TestNewEventsStartsStoredWebhooks: at start the stored, enabled webhooks run.
func TestNewEventsStartsStoredWebhooks(t *testing.T) {
	srv := evNewHookServer(t, evOK)
	store, err := db.Open(t.Context(), t.TempDir()+"/xgate.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, w := range []db.Webhook{
		{Name: "on", URL: srv.URL, Events: []string{"client.connected"}, Enable: true},
		{Name: "off", URL: srv.URL, Events: []string{"client.connected"}},
	} {
		if err := store.AddWebhook(t.Context(), w); err != nil {
			t.Fatal(err)
		}
	}
	e, err := NewEvents(t.Context(), store, gatewaytest.Logger(t), EventsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evClose(t, e) })
	if _, running := e.webhookMetrics("on"); !running {
		t.Fatal("the enabled webhook does not run")
	}
	if _, running := e.webhookMetrics("off"); running {
		t.Fatal("the disabled webhook runs")
	}
	evFire(e, evGatewayEvent(gateway.ClientConnected, "c1"))
	if r := srv.next(t); r.event["clientid"] != "c1" {
		t.Fatalf("event: %v", r.event)
	}
}

func TestSecretHeaders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret bool
	}{
		{"Authorization", true}, {"proxy-authorization", true}, {"Cookie", true}, {"X-Api-Key", true},
		{"X-Auth-Token", true}, {"Client-Secret", true}, {"X-Site", false}, {"Content-Type", false}, {"Accept", false},
	} {
		if got := evSecretHeader(tc.name); got != tc.secret {
			t.Errorf("evSecretHeader(%s) = %v", tc.name, got)
		}
	}
}
