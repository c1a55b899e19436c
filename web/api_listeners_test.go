package web

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

const gwListeners = "/api/v5/gateways/stomp/listeners"

func TestListenerList(t *testing.T) {
	a := newTestAPI(t)
	var out []map[string]any
	gwDecode(t, a.gwWant(200, "GET", gwListeners, ""), &out)
	if len(out) != 1 {
		t.Fatalf("listeners: %v", out)
	}
	l := out[0]
	status, _ := l["status"].(map[string]any)
	if l["id"] != "stomp:tcp:default" || l["running"] != true || l["current_connections"] != float64(0) ||
		l["max_connections"] != float64(1024) || status["running"] != true || status["max_connections"] != float64(1024) {
		t.Fatalf("listener: %v", l)
	}
	a.gwUnload("coap")
	a.gwWantError("GET", "/api/v5/gateways/coap/listeners", "", 404, "RESOURCE_NOT_FOUND", "not loaded")
	a.gwWantError("GET", "/api/v5/gateways/nope/listeners", "", 404, "RESOURCE_NOT_FOUND", "nope")
}

func TestListenerGet(t *testing.T) {
	a := newTestAPI(t)
	tests := []struct {
		name, id string
		status   int
		code     string
	}{
		{"plain id", "stomp:tcp:default", 200, ""},
		{"URL-encoded id", "stomp%3Atcp%3Adefault", 200, ""},
		{"unknown", "stomp:tcp:nope", 404, "RESOURCE_NOT_FOUND"},
		{"other gateway's id", "mqttsn:udp:default", 404, "RESOURCE_NOT_FOUND"},
		{"malformed", "default", 400, "BAD_REQUEST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.do("GET", gwListeners+"/"+tc.id, "")
			if tc.status != 200 {
				a.wantError(status, body, tc.status, tc.code)
				return
			}
			var l map[string]any
			gwDecode(t, body, &l)
			if status != 200 || l["id"] != "stomp:tcp:default" || l["running"] != true {
				t.Fatalf("got %d %v", status, l)
			}
		})
	}
}

func TestListenerAddRefusals(t *testing.T) {
	a := newTestAPI(t)
	a.gwUnload("coap")
	busy := a.gwAddr("stomp", "tcp:default")
	tests := []struct {
		name, gw, body string
		status         int
		code, want     string
	}{
		{"no name", "stomp", `{"type":"tcp","bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "name is required"},
		{"no type", "stomp", `{"name":"x","bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "type is required"},
		{"no bind", "stomp", `{"name":"x","type":"tcp"}`, 400, "BAD_REQUEST", "bind is required"},
		{"empty bind", "stomp", `{"name":"x","type":"tcp","bind":""}`, 400, "BAD_REQUEST", "bind is required"},
		{"unknown field", "stomp", `{"name":"x","type":"tcp","bind":"127.0.0.1:0","acceptors":16}`, 400, "BAD_REQUEST", "acceptors"},
		{"wrong type", "stomp", `{"name":"x","type":"tcp","bind":"127.0.0.1:0","max_connections":"many"}`, 400, "BAD_REQUEST", "max_connections"},
		{"name taken", "stomp", `{"name":"default","type":"tcp","bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "Listener name has occupied"},
		{"bad name", "stomp", `{"name":"a:b","type":"tcp","bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "name"},
		{"transport the gateway lacks", "stomp", `{"name":"x","type":"udp","bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "udp"},
		{"ssl without certificate", "stomp", `{"name":"x","type":"ssl","bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "ssl_options"},
		{"bad access rule", "stomp", `{"name":"x","type":"tcp","bind":"127.0.0.1:0","access_rules":["maybe all"]}`, 400, "BAD_REQUEST", "access_rules"},
		{"bad authentication", "stomp", `{"name":"x","type":"tcp","bind":"127.0.0.1:0","authentication":{"mechanism":"jwt"}}`, 400, "BAD_REQUEST", "mechanism"},
		{"port in use", "stomp", `{"name":"x","type":"tcp","bind":"` + busy + `"}`, 409, "CONFLICT", "address already in use"},
		{"unloaded gateway", "coap", `{"name":"x","type":"udp","bind":"127.0.0.1:0"}`, 404, "RESOURCE_NOT_FOUND", "not loaded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.gwWantError("POST", "/api/v5/gateways/"+tc.gw+"/listeners", tc.body, tc.status, tc.code, tc.want)
			a.gwWantError("GET", "/api/v5/gateways/stomp/listeners/stomp:tcp:x", "", 404, "RESOURCE_NOT_FOUND", "Listener not found")
		})
	}
	if got := a.gwAddr("stomp", "tcp:default"); got != busy {
		t.Fatalf("the default listener moved: %s -> %s", busy, got)
	}
}

func TestListenerUpdateAndDeleteRefusals(t *testing.T) {
	a := newTestAPI(t)
	const id = gwListeners + "/stomp:tcp:default"
	busy := a.gwAddr("stomp", "tcp:default")
	a.gwWant(201, "POST", gwListeners, `{"name":"other","type":"tcp","bind":"127.0.0.1:0"}`)
	other := a.gwAddr("stomp", "tcp:other")
	tests := []struct {
		name, method, path, body string
		status                   int
		code, want               string
	}{
		{"unknown listener", "PUT", gwListeners + "/stomp:tcp:nope", `{"bind":"127.0.0.1:0"}`, 404, "RESOURCE_NOT_FOUND", "Listener not found"},
		{"name differs", "PUT", id, `{"name":"x","bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "name"},
		{"type differs", "PUT", id, `{"type":"ssl","bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "type"},
		{"unknown field", "PUT", id, `{"bind":"127.0.0.1:0","x":1}`, 400, "BAD_REQUEST", "x"},
		{"bad bind", "PUT", id, `{"bind":"here"}`, 400, "BAD_REQUEST", "bind"},
		{"port in use", "PUT", gwListeners + "/stomp:tcp:other", `{"bind":"` + busy + `"}`, 409, "CONFLICT", "address already in use"},
		{"delete unknown", "DELETE", gwListeners + "/stomp:tcp:nope", "", 404, "RESOURCE_NOT_FOUND", "Listener not found"},
		{"delete malformed", "DELETE", gwListeners + "/nope", "", 400, "BAD_REQUEST", "listener id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.gwWantError(tc.method, tc.path, tc.body, tc.status, tc.code, tc.want)
		})
	}
	if a.gwAddr("stomp", "tcp:default") != busy || a.gwAddr("stomp", "tcp:other") != other {
		t.Fatal("a refused change moved a listener")
	}
}

// TestListenerLiveChanges creates, moves and deletes a listener through the API while
// clients use it, without a restart; a move onto a busy port is refused and the listener
// keeps serving.
func TestListenerLiveChanges(t *testing.T) {
	a := newTestAPI(t)
	busy := a.gwAddr("stomp", "tcp:default")
	p1 := gwFreePort(t)
	addr1 := fmt.Sprintf("127.0.0.1:%d", p1)

	var created map[string]any
	gwDecode(t, a.gwWant(201, "POST", gwListeners, `{"name":"acc","type":"tcp","bind":"`+addr1+`"}`), &created)
	if created["id"] != "stomp:tcp:acc" || created["bind"] != addr1 || created["running"] != true || created["enable"] != true {
		t.Fatalf("created: %v", created)
	}
	c1, frame := gwStompConnect(t, addr1)
	if !strings.HasPrefix(frame, "CONNECTED") {
		t.Fatalf("new listener: %q", frame)
	}

	// A move onto a busy port is refused whole: 409, nothing stored, the listener serves on.
	a.gwWantError("PUT", gwListeners+"/stomp%3Atcp%3Aacc", `{"bind":"`+busy+`"}`, 409, "CONFLICT", busy)
	var l map[string]any
	gwDecode(t, a.gwWant(200, "GET", gwListeners+"/stomp:tcp:acc", ""), &l)
	if l["bind"] != addr1 {
		t.Fatalf("a refused PUT was stored: %v", l)
	}
	if _, frame := gwStompConnect(t, addr1); !strings.HasPrefix(frame, "CONNECTED") {
		t.Fatalf("after a refused PUT: %q", frame)
	}
	if _, frame := gwStompConnect(t, busy); !strings.HasPrefix(frame, "CONNECTED") {
		t.Fatalf("the busy port's listener after a refused PUT: %q", frame)
	}

	// Moving it: the old port closes (its clients get the goodbye), the new one accepts.
	addr2 := fmt.Sprintf("127.0.0.1:%d", gwFreePort(t))
	var moved map[string]any
	gwDecode(t, a.gwWant(200, "PUT", gwListeners+"/stomp%3Atcp%3Aacc", `{"name":"acc","type":"tcp","bind":"`+addr2+`"}`), &moved)
	if moved["bind"] != addr2 || moved["running"] != true {
		t.Fatalf("moved: %v", moved)
	}
	if f := c1.read(); !strings.HasPrefix(f, "ERROR") || !strings.Contains(f, "server shutdown") {
		t.Fatalf("the old listener's client got %q", f)
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if c, err := net.Dial("tcp", addr1); err == nil {
			c.Close()
			return fmt.Errorf("%s still accepts", addr1)
		}
		return nil
	})
	c2, frame := gwStompConnect(t, addr2)
	if !strings.HasPrefix(frame, "CONNECTED") {
		t.Fatalf("moved listener: %q", frame)
	}

	// Deleting it: its client gets the goodbye and the port closes.
	a.gwWant(204, "DELETE", gwListeners+"/stomp:tcp:acc", "")
	if f := c2.read(); !strings.HasPrefix(f, "ERROR") {
		t.Fatalf("the deleted listener's client got %q", f)
	}
	if f := c2.read(); f != "EOF" {
		t.Fatalf("after the goodbye: %q", f)
	}
	if c, err := net.Dial("tcp", addr2); err == nil {
		c.Close()
		t.Fatalf("%s still accepts after DELETE", addr2)
	}
	a.gwWantError("GET", gwListeners+"/stomp:tcp:acc", "", 404, "RESOURCE_NOT_FOUND", "Listener not found")
	snap, err := a.store.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if gw, _ := snap.Gateway("stomp"); len(gw.Listeners) != 1 {
		t.Fatalf("stored listeners: %+v", gw.Listeners)
	}
}

func TestListenerPSKHidden(t *testing.T) {
	a := newTestAPI(t)
	const path = "/api/v5/gateways/coap/listeners"
	body := `{"name":"sec","type":"dtls","bind":"127.0.0.1:0","dtls_options":{"psk":[{"identity":"dev1","key":"s3cret-key"}]}}`
	out := a.gwWant(201, "POST", path, body)
	if strings.Contains(string(out), "s3cret-key") || !strings.Contains(string(out), gwHidden) {
		t.Fatalf("POST answer shows the key: %s", out)
	}
	for _, p := range []string{path, path + "/coap:dtls:sec", "/api/v5/gateways/coap"} {
		if out := a.gwWant(200, "GET", p, ""); strings.Contains(string(out), "s3cret-key") {
			t.Fatalf("GET %s shows the key: %s", p, out)
		}
	}
	storedKey := func() string {
		snap, _ := a.store.Snapshot(context.Background())
		gw, _ := snap.Gateway("coap")
		l, _ := gw.Listener(gateway.DTLS, "sec")
		return l.DTLSOptions.PSK[0].Key
	}
	// What GET shows can be PUT back: the hidden key stays.
	a.gwWant(200, "PUT", path+"/coap:dtls:sec", string(a.gwWant(200, "GET", path+"/coap:dtls:sec", "")))
	if k := storedKey(); k != "s3cret-key" {
		t.Fatalf("stored key after a round trip: %q", k)
	}
	a.gwWant(204, "PUT", "/api/v5/gateways/coap", string(a.gwWant(200, "GET", "/api/v5/gateways/coap", "")))
	if k := storedKey(); k != "s3cret-key" {
		t.Fatalf("stored key after a gateway round trip: %q", k)
	}
	a.gwWantError("PUT", path+"/coap:dtls:sec",
		`{"dtls_options":{"psk":[{"identity":"dev2","key":"`+gwHidden+`"}]},"bind":"127.0.0.1:0"}`, 400, "BAD_REQUEST", "psk[0].key")
}
