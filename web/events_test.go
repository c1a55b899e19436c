package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

// evTestAPI is newTestAPI with the event bus wired in as cmd/xgate wires it (its hooks on
// the Manager, Deps.Events) and the HTTP server listening on a loopback port, for streams.
type evTestAPI struct {
	*testAPI
	events *Events
	base   string // http://127.0.0.1:port
	client *http.Client
}

func evNewTestAPI(t *testing.T, cfg EventsConfig) *evTestAPI {
	t.Helper()
	base, events := newTestAPIWith(t, cfg)
	// Served on a listener of its own rather than with Server.Listen and Shutdown: fasthttp's
	// Shutdown races (for the race detector) with every request that used c.Context() as a
	// context (see evShutdownApp for the shutdown itself).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- base.srv.App().Listener(ln) }()
	a := &evTestAPI{testAPI: base, events: events, base: "http://" + ln.Addr().String(),
		client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() {
		evClose(t, events) // as cmd/xgate does: the streams end first
		ln.Close()
		<-served
		a.client.CloseIdleConnections()
	})
	status, body := a.do("POST", "/api/v5/login", `{"username":"admin","password":"`+testAdminPassword+`"}`)
	if status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	var login struct{ Token string }
	json.Unmarshal(body, &login)
	a.token = login.Token
	return a
}

// do is testAPI.do over the loopback listener. While the server listens, requests must
// not go through app.Test: fasthttp's RequestCtx.Done reads a field of the server that
// Serve writes without synchronisation.
func (a *evTestAPI) do(method, path, body string) (int, []byte) {
	a.t.Helper()
	return a.doWith(method, path, body, "Bearer "+a.token)
}

func (a *evTestAPI) doWith(method, path, body, authorization string) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" && authorization != "Bearer " {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func evClose(t *testing.T, e *Events) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Errorf("Events.Close: %v", err)
	}
}

// evStreamClient is an open GET /api/v5/events.
type evStreamClient struct {
	t      *testing.T
	resp   *http.Response
	events chan map[string]any // data lines, decoded
	raw    chan string         // every line
	ended  chan struct{}       // the stream ended
}

// openStream opens the event stream with query (e.g. "?type=client.connected") and waits
// until the server has registered it.
func (a *evTestAPI) openStream(query string) *evStreamClient {
	a.t.Helper()
	before := a.events.openStreams()
	req, _ := http.NewRequest("GET", a.base+"/api/v5/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		a.t.Fatalf("GET /events%s: %d %s", query, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &evStreamClient{t: a.t, resp: resp, events: make(chan map[string]any, 1000), raw: make(chan string, 10000),
		ended: make(chan struct{})}
	a.t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.ended)
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			select {
			case s.raw <- line:
			default:
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var m map[string]any
				if json.Unmarshal([]byte(data), &m) == nil && m["type"] != nil {
					select {
					case s.events <- m:
					default: // a test that fires many events reads raw lines only
					}
				}
			}
		}
	}()
	gatewaytest.WaitFor(a.t, 5*time.Second, func() error {
		if n := a.events.openStreams(); n <= before {
			return fmt.Errorf("%d streams open", n)
		}
		return nil
	})
	return s
}

// next returns the next event of the stream.
func (s *evStreamClient) next() map[string]any {
	s.t.Helper()
	select {
	case m := <-s.events:
		return m
	case <-s.ended:
		s.t.Fatal("the stream ended")
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10s")
	}
	return nil
}

// stompConn is a raw STOMP connection.
type stompConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (a *testAPI) stompDial(login, passcode string) *stompConn {
	a.t.Helper()
	addr := a.mgr.Gateway("stomp").Addr("tcp:default")
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	s := &stompConn{t: a.t, c: c, r: bufio.NewReader(c)}
	s.send("CONNECT\naccept-version:1.2\nhost:xgate\nlogin:" + login + "\npasscode:" + passcode + "\n\n")
	if f := s.frame(); !strings.HasPrefix(f, "CONNECTED\n") {
		a.t.Fatalf("CONNECT: %q", f)
	}
	return s
}

func (s *stompConn) send(frame string) {
	s.t.Helper()
	if _, err := s.c.Write([]byte(frame + "\x00")); err != nil {
		s.t.Fatal(err)
	}
}

// frame reads the next frame (without its NUL), skipping heart-beats.
func (s *stompConn) frame() string {
	s.t.Helper()
	for {
		f, err := s.r.ReadString(0)
		if err != nil {
			s.t.Fatalf("read frame: %v (got %q)", err, f)
		}
		if f = strings.TrimLeft(strings.TrimSuffix(f, "\x00"), "\r\n"); f != "" {
			return f
		}
	}
}

// evGatewayEvent is a hook event as a gateway fires it, password included.
func evGatewayEvent(typ gateway.EventType, clientID string) gateway.Event {
	return gateway.Event{Type: typ, Time: time.Now(), Topic: "t/1", Client: gateway.ClientInfo{Client: authn.Client{
		ClientID: clientID, Username: "u", Password: []byte("secret-pw"), Gateway: "stomp",
		Listener: "stomp:tcp:default", Peer: netip.MustParseAddrPort("127.0.0.1:5555")}}}
}

// evFire calls the hook of ev's type as the gateway core would.
func evFire(e *Events, ev gateway.Event) {
	for _, fn := range evHookList(e.Hooks(), ev.Type) {
		fn(ev)
	}
}

func evHookList(h *gateway.Hooks, t gateway.EventType) []func(gateway.Event) {
	switch t {
	case gateway.ClientConnected:
		return h.OnClientConnected
	case gateway.ClientDisconnected:
		return h.OnClientDisconnected
	case gateway.MessagePublish:
		return h.OnMessagePublish
	}
	panic("evHookList: add " + string(t))
}

func evNewBus(t *testing.T, cfg EventsConfig) *Events {
	t.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, filepath.Join(t.TempDir(), "xgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, err := NewEvents(ctx, store, gatewaytest.Logger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evClose(t, e) })
	return e
}

func TestEventsHooksCoverEveryType(t *testing.T) {
	e := evNewBus(t, EventsConfig{})
	s, _ := e.openStream(evAllTypes, "", "")
	defer e.closeStream(s)
	h := e.Hooks()
	lists := [][]func(gateway.Event){h.OnClientConnect, h.OnClientConnack, h.OnClientAuthenticate,
		h.OnClientConnected, h.OnClientDisconnected, h.OnClientAuthorize, h.OnClientSubscribe,
		h.OnClientUnsubscribe, h.OnSessionCreated, h.OnSessionSubscribed, h.OnSessionUnsubscribed,
		h.OnSessionTerminated, h.OnMessagePublish, h.OnMessageDelivered, h.OnMessageAcked, h.OnMessageDropped}
	if len(lists) != len(evEventTypes) {
		t.Fatalf("%d hook lists, %d event types", len(lists), len(evEventTypes))
	}
	for i, typ := range evEventTypes {
		if len(lists[i]) != 1 {
			t.Fatalf("%s: %d callbacks", typ, len(lists[i]))
		}
		lists[i][0](evGatewayEvent(typ, "c"))
		if got := <-s.queue; got.Type != typ {
			t.Fatalf("hook %d delivered %s, want %s", i, got.Type, typ)
		}
	}
}

func TestEventsFilters(t *testing.T) {
	e := evNewBus(t, EventsConfig{})
	for _, tc := range []struct {
		name     string
		types    evMask
		gateway  string
		clientID string
		event    gateway.Event
		want     bool
	}{
		{"any", evAllTypes, "", "", evGatewayEvent(gateway.ClientConnected, "c1"), true},
		{"type matches", evTypeBit(gateway.ClientConnected), "", "", evGatewayEvent(gateway.ClientConnected, "c1"), true},
		{"type differs", evTypeBit(gateway.ClientDisconnected), "", "", evGatewayEvent(gateway.ClientConnected, "c1"), false},
		{"gateway matches", evAllTypes, "stomp", "", evGatewayEvent(gateway.ClientConnected, "c1"), true},
		{"gateway differs", evAllTypes, "coap", "", evGatewayEvent(gateway.ClientConnected, "c1"), false},
		{"clientid matches", evAllTypes, "", "c1", evGatewayEvent(gateway.ClientConnected, "c1"), true},
		{"clientid differs", evAllTypes, "", "c2", evGatewayEvent(gateway.ClientConnected, "c1"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := e.openStream(tc.types, tc.gateway, tc.clientID)
			defer e.closeStream(s)
			e.publish(tc.event)
			if got := len(s.queue) == 1; got != tc.want {
				t.Fatalf("delivered = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEventsSlowConsumer: a stream nobody reads loses events, counted, and the hook never
// waits for it; another stream still gets everything.
func TestEventsSlowConsumer(t *testing.T) {
	e := evNewBus(t, EventsConfig{StreamQueue: 4})
	slow, _ := e.openStream(evAllTypes, "", "")
	defer e.closeStream(slow)
	other, _ := e.openStream(evAllTypes, "", "")
	defer e.closeStream(other)
	received := 0
	for i := range 100 {
		e.publish(evGatewayEvent(gateway.MessagePublish, fmt.Sprint("c", i)))
		<-other.queue
		received++
	}
	if received != 100 || len(slow.queue) != 4 || slow.dropped.Load() != 96 {
		t.Fatalf("other received %d, slow queued %d and dropped %d; want 100, 4, 96", received, len(slow.queue), slow.dropped.Load())
	}
}

// TestEventsHookAllocations: the callback copies the event into the queues without
// allocating, and costs nothing for types nobody wants.
func TestEventsHookAllocations(t *testing.T) {
	e := evNewBus(t, EventsConfig{StreamQueue: 1})
	s, _ := e.openStream(evTypeBit(gateway.ClientConnected), "", "")
	defer e.closeStream(s)
	wanted, unwanted := evGatewayEvent(gateway.ClientConnected, "c"), evGatewayEvent(gateway.MessagePublish, "c")
	if n := testing.AllocsPerRun(100, func() { e.publish(wanted); e.publish(unwanted) }); n != 0 {
		t.Fatalf("%v allocations per event", n)
	}
}

func TestEventJSONHasNoPassword(t *testing.T) {
	ev := evFromGateway(evGatewayEvent(gateway.ClientConnected, "c1"))
	ev.At = time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	got := string(ev.marshal())
	want := `{"type":"client.connected","gateway":"stomp","listener":"stomp:tcp:default","clientid":"c1",` +
		`"username":"u","peer":"127.0.0.1:5555","topic":"t/1","qos":0,"reason":"","allowed":false,` +
		`"at":"2026-01-02T03:04:05.006Z"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	msg := evGatewayEvent(gateway.MessagePublish, "c1")
	msg.Message = &gateway.Message{Topic: "t/1", QoS: 2, Payload: []byte("payload")}
	if ev := evFromGateway(msg); ev.QoS != 2 || strings.Contains(string(ev.marshal()), "payload") {
		t.Fatalf("message event: %s", ev.marshal())
	}
}

func TestEventsClosed(t *testing.T) {
	e := evNewBus(t, EventsConfig{})
	evClose(t, e)
	evClose(t, e) // twice is fine
	if _, ok := e.openStream(evAllTypes, "", ""); ok {
		t.Fatal("a stream opened after Close")
	}
	e.publish(evGatewayEvent(gateway.ClientConnected, "c")) // ignored, does not panic
}
