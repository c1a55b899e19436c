package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

// gwDecode unmarshals an answer body or fails the test.
func gwDecode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
}

// gwWant checks a status and returns the body.
func (a *testAPI) gwWant(wantStatus int, method, path, body string) []byte {
	a.t.Helper()
	status, out := a.do(method, path, body)
	if status != wantStatus {
		a.t.Fatalf("%s %s: got %d %s, want %d", method, path, status, out, wantStatus)
	}
	return out
}

// gwWantError checks an error answer, and that its message contains want.
func (a *testAPI) gwWantError(method, path, body string, wantStatus int, wantCode, want string) {
	a.t.Helper()
	status, out := a.do(method, path, body)
	a.wantError(status, out, wantStatus, wantCode)
	if !strings.Contains(string(out), want) {
		a.t.Fatalf("%s %s: %s does not mention %q", method, path, out, want)
	}
}

// gwAddr returns the bound address of a running listener, or "".
func (a *testAPI) gwAddr(gw, key string) string {
	rt := a.mgr.Gateway(gw)
	if rt == nil {
		return ""
	}
	if addr := rt.Addr(key); addr != nil {
		return addr.String()
	}
	return ""
}

// gwFreePort returns a loopback TCP port that was free a moment ago.
func gwFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// gwStomp is a raw STOMP connection.
type gwStomp struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// gwStompConnect dials addr and sends CONNECT with the given extra headers; it returns the
// connection and the first frame's command and body ("CONNECTED", "ERROR").
func gwStompConnect(t *testing.T, addr string, headers ...string) (*gwStomp, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &gwStomp{t: t, conn: conn, r: bufio.NewReader(conn)}
	frame := "CONNECT\naccept-version:1.2\nhost:x\n" + strings.Join(append(headers, ""), "\n") + "\n\x00"
	if _, err := conn.Write([]byte(frame)); err != nil {
		t.Fatal(err)
	}
	return s, s.read()
}

// read returns the next frame whole, or "EOF" when the server closed the connection.
func (s *gwStomp) read() string {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := s.r.ReadString(0)
		if err != nil {
			if f == "" {
				return "EOF"
			}
			s.t.Fatalf("reading a frame: %v (got %q)", err, f)
		}
		if f = strings.TrimLeft(f, "\r\n"); f != "\x00" {
			return f
		}
	}
}

// gwUnload removes a gateway from the store and the runtime, as if it had never been
// loaded.
func (a *testAPI) gwUnload(name string) {
	a.t.Helper()
	ctx := context.Background()
	snap, err := a.store.Snapshot(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	var next gateway.Snapshot
	for _, g := range snap.Gateways {
		if g.Name != name {
			next.Gateways = append(next.Gateways, g)
		}
	}
	if err := a.store.Commit(ctx, next, a.mgr.Apply); err != nil {
		a.t.Fatal(err)
	}
}

func TestGatewayRoutesNeedAToken(t *testing.T) {
	a := newTestAPI(t)
	const l = "/api/v5/gateways/stomp/listeners/stomp:tcp:default"
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v5/gateways"},
		{"GET", "/api/v5/gateways/stomp"},
		{"PUT", "/api/v5/gateways/stomp"},
		{"PUT", "/api/v5/gateways/stomp/enable/false"},
		{"GET", "/api/v5/gateways/stomp/listeners"},
		{"POST", "/api/v5/gateways/stomp/listeners"},
		{"GET", l},
		{"PUT", l},
		{"DELETE", l},
		{"GET", "/api/v5/gateways/stomp/authentication"},
		{"POST", "/api/v5/gateways/stomp/authentication"},
		{"PUT", "/api/v5/gateways/stomp/authentication"},
		{"DELETE", "/api/v5/gateways/stomp/authentication"},
		{"GET", "/api/v5/gateways/stomp/authentication/users"},
		{"POST", "/api/v5/gateways/stomp/authentication/users"},
		{"GET", "/api/v5/gateways/stomp/authentication/users/u1"},
		{"PUT", "/api/v5/gateways/stomp/authentication/users/u1"},
		{"DELETE", "/api/v5/gateways/stomp/authentication/users/u1"},
		{"POST", "/api/v5/gateways/stomp/authentication/import_users"},
		{"GET", l + "/authentication"},
		{"POST", l + "/authentication"},
		{"PUT", l + "/authentication"},
		{"DELETE", l + "/authentication"},
		{"GET", l + "/authentication/users"},
		{"POST", l + "/authentication/users"},
		{"GET", l + "/authentication/users/u1"},
		{"PUT", l + "/authentication/users/u1"},
		{"DELETE", l + "/authentication/users/u1"},
		{"POST", l + "/authentication/import_users"},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			status, body := a.doWith(r.method, r.path, "{}", "")
			a.wantError(status, body, 401, "BAD_TOKEN")
		})
	}
	// Nothing changed behind the refusals.
	if a.gwAddr("stomp", "tcp:default") == "" {
		t.Fatal("the stomp listener stopped")
	}
}

func TestGatewayList(t *testing.T) {
	a := newTestAPI(t)
	a.gwUnload("coap")
	type summary struct {
		Name               string `json:"name"`
		Status             string `json:"status"`
		StartedAt          *time.Time
		MaxConnections     any   `json:"max_connections"`
		CurrentConnections int64 `json:"current_connections"`
		Listeners          []struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Name    string `json:"name"`
			Running bool   `json:"running"`
		} `json:"listeners"`
	}
	list := func(query string) map[string]summary {
		var out []summary
		gwDecode(t, a.gwWant(200, "GET", "/api/v5/gateways"+query, ""), &out)
		m := map[string]summary{}
		for _, s := range out {
			m[s.Name] = s
		}
		return m
	}
	all := list("")
	if len(all) != 3 || all["coap"].Status != "unloaded" || all["coap"].Listeners != nil {
		t.Fatalf("gateways: %+v", all)
	}
	stomp := all["stomp"]
	if stomp.Status != "running" || stomp.MaxConnections != float64(1024) || len(stomp.Listeners) != 1 ||
		stomp.Listeners[0].ID != "stomp:tcp:default" || !stomp.Listeners[0].Running || stomp.Listeners[0].Type != "tcp" {
		t.Fatalf("stomp: %+v", stomp)
	}
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"running", "?status=running", []string{"mqttsn", "stomp"}},
		{"unloaded", "?status=unloaded", []string{"coap"}},
		{"stopped", "?status=stopped", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := list(tc.query)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for _, n := range tc.want {
				if _, ok := got[n]; !ok {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	a.gwWantError("GET", "/api/v5/gateways?status=UNLOADED", "", 400, "BAD_REQUEST", "status")

	// A client counts in current_connections.
	s, frame := gwStompConnect(t, a.gwAddr("stomp", "tcp:default"))
	if !strings.HasPrefix(frame, "CONNECTED") {
		t.Fatalf("connect: %q", frame)
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if n := list("")["stomp"].CurrentConnections; n != 1 {
			return fmt.Errorf("current_connections %d", n)
		}
		return nil
	})
	s.conn.Close()
}

func TestGatewayGet(t *testing.T) {
	a := newTestAPI(t)
	a.gwUnload("coap")
	var gw map[string]any
	gwDecode(t, a.gwWant(200, "GET", "/api/v5/gateways/stomp", ""), &gw)
	listeners, _ := gw["listeners"].([]any)
	if gw["name"] != "stomp" || gw["status"] != "running" || gw["idle_timeout"] != "30s" || gw["enable"] != true ||
		gw["started_at"] == nil || len(listeners) != 1 {
		t.Fatalf("stomp: %v", gw)
	}
	l := listeners[0].(map[string]any)
	if l["id"] != "stomp:tcp:default" || l["type"] != "tcp" || l["name"] != "default" || l["max_connections"] != float64(1024) {
		t.Fatalf("listener: %v", l)
	}

	var unloaded map[string]any
	gwDecode(t, a.gwWant(200, "GET", "/api/v5/gateways/coap", ""), &unloaded)
	if len(unloaded) != 2 || unloaded["name"] != "coap" || unloaded["status"] != "unloaded" {
		t.Fatalf("coap: %v", unloaded)
	}
	a.gwWantError("GET", "/api/v5/gateways/lwm2m", "", 404, "RESOURCE_NOT_FOUND", "lwm2m")
}

func TestGatewayPut(t *testing.T) {
	a := newTestAPI(t)
	a.gwUnload("coap")
	addr := a.gwAddr("stomp", "tcp:default")
	tests := []struct {
		name, path, body string
		status           int
		want             string // in the error message
	}{
		{"unknown gateway", "lwm2m", `{}`, 404, "lwm2m"},
		{"not an object", "stomp", `[]`, 400, "must be a JSON"},
		{"wrong type", "stomp", `{"enable":"yes"}`, 400, "enable"},
		{"bad duration", "stomp", `{"idle_timeout":"soon"}`, 400, "duration"},
		{"unknown protocol field", "stomp", `{"bogus":1}`, 400, "bogus"},
		{"unknown listener field", "stomp", `{"listeners":[{"name":"x","type":"tcp","bind":"127.0.0.1:0","nope":1}]}`, 400, "nope"},
		{"bad protocol setting", "stomp", `{"frame":{"max_headers":"many"}}`, 400, "max_headers"},
		{"bad authentication", "stomp", `{"authentication":{"mechanism":"password_based","backend":"nope"}}`, 400, "backend"},
		{"trailing data", "stomp", `{} {}`, 400, "after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := map[int]string{400: "BAD_REQUEST", 404: "RESOURCE_NOT_FOUND"}[tc.status]
			a.gwWantError("PUT", "/api/v5/gateways/"+tc.path, tc.body, tc.status, code, tc.want)
		})
	}
	if got := a.gwAddr("stomp", "tcp:default"); got != addr {
		t.Fatalf("a refused PUT moved the listener: %s -> %s", addr, got)
	}

	t.Run("update keeps listeners and does not restart them", func(t *testing.T) {
		s, frame := gwStompConnect(t, addr)
		if !strings.HasPrefix(frame, "CONNECTED") {
			t.Fatalf("connect: %q", frame)
		}
		a.gwWant(204, "PUT", "/api/v5/gateways/stomp", `{"name":"ignored","idle_timeout":"10s","frame":{"max_headers":20}}`)
		var gw map[string]any
		gwDecode(t, a.gwWant(200, "GET", "/api/v5/gateways/stomp", ""), &gw)
		if gw["name"] != "stomp" || gw["idle_timeout"] != "10s" || len(gw["listeners"].([]any)) != 1 ||
			gw["frame"].(map[string]any)["max_headers"] != float64(20) {
			t.Fatalf("after PUT: %v", gw)
		}
		if got := a.gwAddr("stomp", "tcp:default"); got != addr {
			t.Fatalf("listener moved: %s -> %s", addr, got)
		}
		// The connection survived: it still answers.
		s.conn.Write([]byte("DISCONNECT\nreceipt:r1\n\n\x00"))
		if f := s.read(); !strings.HasPrefix(f, "RECEIPT") {
			t.Fatalf("after PUT the client got %q", f)
		}
	})

	t.Run("a GET body can be PUT back", func(t *testing.T) {
		body := a.gwWant(200, "GET", "/api/v5/gateways/stomp", "")
		a.gwWant(204, "PUT", "/api/v5/gateways/stomp", string(body))
		if got := a.gwAddr("stomp", "tcp:default"); got != addr {
			t.Fatalf("listener moved: %s -> %s", addr, got)
		}
	})

	t.Run("null is absent: listeners and authentication kept", func(t *testing.T) {
		a.gwWant(201, "POST", "/api/v5/gateways/stomp/authentication", gwBuiltin)
		a.gwWant(204, "PUT", "/api/v5/gateways/stomp", `{"listeners":null,"authentication":null,"mountpoint":null}`)
		a.gwWant(200, "GET", "/api/v5/gateways/stomp/authentication", "")
		if got := a.gwAddr("stomp", "tcp:default"); got != addr {
			t.Fatalf("listener moved: %s -> %s", addr, got)
		}
		a.gwWant(204, "DELETE", "/api/v5/gateways/stomp/authentication", "")
	})

	t.Run("load an unloaded gateway", func(t *testing.T) {
		a.gwWant(204, "PUT", "/api/v5/gateways/coap",
			`{"listeners":[{"name":"default","type":"udp","bind":"127.0.0.1:0"}]}`)
		var gw map[string]any
		gwDecode(t, a.gwWant(200, "GET", "/api/v5/gateways/coap", ""), &gw)
		if gw["status"] != "running" || a.gwAddr("coap", "udp:default") == "" {
			t.Fatalf("coap: %v", gw)
		}
	})

	t.Run("a refused load stores nothing", func(t *testing.T) {
		a.gwUnload("coap")
		a.gwWantError("PUT", "/api/v5/gateways/coap", `{"listeners":[{"name":"x","type":"tcp","bind":"127.0.0.1:0"}]}`,
			400, "BAD_REQUEST", "tcp")
		var gw map[string]any
		gwDecode(t, a.gwWant(200, "GET", "/api/v5/gateways/coap", ""), &gw)
		if gw["status"] != "unloaded" {
			t.Fatalf("coap: %v", gw)
		}
	})
}

func TestGatewayEnable(t *testing.T) {
	a := newTestAPI(t)
	a.gwUnload("coap")
	addr := a.gwAddr("stomp", "tcp:default")
	a.gwWantError("PUT", "/api/v5/gateways/stomp/enable/maybe", "", 400, "BAD_REQUEST", "enable")
	a.gwWantError("PUT", "/api/v5/gateways/coap/enable/true", "", 404, "RESOURCE_NOT_FOUND", "coap")
	a.gwWantError("PUT", "/api/v5/gateways/nope/enable/true", "", 404, "RESOURCE_NOT_FOUND", "nope")

	a.gwWant(204, "PUT", "/api/v5/gateways/stomp/enable/false", "")
	var gw map[string]any
	gwDecode(t, a.gwWant(200, "GET", "/api/v5/gateways/stomp", ""), &gw)
	if gw["status"] != "stopped" || gw["enable"] != false {
		t.Fatalf("after disable: %v", gw)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("a stopped gateway still accepts connections")
	}
	a.gwWant(204, "PUT", "/api/v5/gateways/stomp/enable/true", "")
	gwDecode(t, a.gwWant(200, "GET", "/api/v5/gateways/stomp", ""), &gw)
	if gw["status"] != "running" || a.gwAddr("stomp", "tcp:default") == "" {
		t.Fatalf("after enable: %v", gw)
	}
}
