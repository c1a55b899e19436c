package gateway_test

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

func lineGateway(name string, ls ...gateway.ListenerConfig) gateway.Config {
	c := gateway.DefaultConfig(name)
	c.Listeners = ls
	return c
}

func snapshot(gws ...gateway.Config) gateway.Snapshot { return gateway.Snapshot{Gateways: gws} }

func TestApplyRefusesWholeChange(t *testing.T) {
	b, _ := gatewaytest.StartBroker(t)
	a := lineGateway("a", gatewaytest.Listener(gateway.TCP, "default"))
	m := gatewaytest.StartManager(t, b, snapshot(a), lineProto{"a"}, lineProto{"b"})
	rt := m.Gateway("a")
	before := rt.Addr("tcp:default")
	c := dialLine(t, before)
	if got := c.do("LOGIN c1"); !strings.HasPrefix(got, "OK") {
		t.Fatal(got)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bad := gatewaytest.Listener(gateway.TCP, "second")
	bad.Bind = busy.Addr().String()
	cases := []struct {
		name string
		snap gateway.Snapshot
		want string
	}{
		{"port in use in another gateway", snapshot(a, lineGateway("b", bad)), "gateway b: listener tcp:second: listen tcp " + busy.Addr().String() + ": bind: address already in use"},
		{"unknown gateway", snapshot(a, lineGateway("nope")), "gateway nope: unknown gateway"},
		{"unsupported transport", snapshot(lineGateway("a", gatewaytest.Listener(gateway.UDP, "u"))), "gateway a: listener udp:u: a does not support udp listeners"},
		{"bad settings", snapshot(func() gateway.Config { c := a; c.Settings = json.RawMessage(`{"greeting":1}`); return c }()), "gateway a: json: cannot unmarshal"},
		{"bad access rule", snapshot(func() gateway.Config {
			l := gatewaytest.Listener(gateway.TCP, "default")
			l.AccessRules = []string{"allow 300.1.1.1"}
			return lineGateway("a", l)
		}()), "gateway a: listeners[0]: access_rules"},
		{"missing certificate", snapshot(func() gateway.Config {
			l := gatewaytest.Listener(gateway.SSL, "s")
			l.SSLOptions = &gateway.TLSConfig{CertFile: "/no/cert.pem", KeyFile: "/no/key.pem"}
			return lineGateway("a", gatewaytest.Listener(gateway.TCP, "default"), l)
		}()), "gateway a: listener ssl:s: ssl_options.certfile/keyfile: open /no/cert.pem"},
		{"authentication without authenticators", snapshot(func() gateway.Config {
			c := a
			c.Authentication = json.RawMessage(`{"mechanism":"password_based"}`)
			return c
		}()), "gateway a: authentication: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Apply(context.Background(), tc.snap)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if m.Gateway("b") != nil {
				t.Fatal("gateway b was started by a refused change")
			}
			if rt.Addr("tcp:default").String() != before.String() {
				t.Fatal("the running listener changed")
			}
			if got := c.do("PUB t x"); got != "OK" {
				t.Fatalf("the running client broke: %s", got)
			}
		})
	}
}

func TestBootIsBestEffortAndApplyRetries(t *testing.T) {
	b, _ := gatewaytest.StartBroker(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	blocked := gatewaytest.Listener(gateway.TCP, "blocked")
	blocked.Bind = busy.Addr().String()
	cfg := lineGateway("a", gatewaytest.Listener(gateway.TCP, "default"), blocked)
	m := gateway.NewManager(gatewaytest.Logger(t), []gateway.Protocol{lineProto{"a"}}, gateway.Deps{Broker: b})
	t.Cleanup(func() { m.Stop(context.Background()) })
	if err := m.Boot(context.Background(), snapshot(cfg)); err != nil {
		t.Fatal(err)
	}
	st := m.Status()[0]
	if len(st.Listeners) != 2 || st.Listeners[0].Running || !strings.Contains(st.Listeners[0].Error, "address already in use") || !st.Listeners[1].Running {
		t.Fatalf("status %+v", st.Listeners)
	}
	dialLine(t, m.Gateway("a").Addr("tcp:default")).do("LOGIN x")

	busy.Close()
	if err := m.Apply(context.Background(), snapshot(cfg)); err != nil {
		t.Fatal(err)
	}
	if got := dialLine(t, m.Gateway("a").Addr("tcp:blocked")).do("LOGIN y"); !strings.HasPrefix(got, "OK") {
		t.Fatal(got)
	}
}

func TestSocketHandover(t *testing.T) {
	b, _ := gatewaytest.StartBroker(t)
	certs := gatewaytest.Certs(t)
	plain := gatewaytest.Listener(gateway.TCP, "one")
	m := gatewaytest.StartManager(t, b, snapshot(lineGateway("a", plain)), lineProto{"a"})
	addr := m.Gateway("a").Addr("tcp:one").String()

	// The same address goes from a tcp listener to a new ssl one in one change: no rebind.
	secure := gatewaytest.Listener(gateway.SSL, "two")
	secure.Bind = addr
	secure.SSLOptions = certs
	if err := m.Apply(context.Background(), snapshot(lineGateway("a", secure))); err != nil {
		t.Fatal(err)
	}
	if got := m.Gateway("a").Addr("ssl:two"); got == nil || got.String() != addr {
		t.Fatalf("ssl listener on %v, want %s", got, addr)
	}
	conn := dialTLS(t, addr, certs)
	c := &lineClient{t: t, c: conn, sc: newScanner(conn)}
	if got := c.do("LOGIN tls"); !strings.HasPrefix(got, "OK") {
		t.Fatal(got)
	}
}

func TestTakeoverIsPerGateway(t *testing.T) {
	b, _ := gatewaytest.StartBroker(t)
	m := gatewaytest.StartManager(t, b, snapshot(
		lineGateway("a", gatewaytest.Listener(gateway.TCP, "default")),
		lineGateway("b", gatewaytest.Listener(gateway.TCP, "default"))), lineProto{"a"}, lineProto{"b"})
	a1 := dialLine(t, m.Gateway("a").Addr("tcp:default"))
	a1.do("LOGIN same")
	b1 := dialLine(t, m.Gateway("b").Addr("tcp:default"))
	b1.do("LOGIN same")
	a2 := dialLine(t, m.Gateway("a").Addr("tcp:default"))
	a2.do("LOGIN same")
	if got := a1.read(); got != "BYE Discarded" {
		t.Fatalf("first login got %q", got)
	}
	if got := b1.do("PUB t x"); got != "OK" {
		t.Fatalf("the other gateway's client was disturbed: %q", got)
	}
	if got := a2.do("PUB t x"); got != "OK" {
		t.Fatalf("the new login does not work: %q", got)
	}
	if n := len(m.Gateway("a").Clients()); n != 1 {
		t.Fatalf("%d clients in gateway a", n)
	}
}

func TestHooksCountersAndSysEvents(t *testing.T) {
	b, mqttAddr := gatewaytest.StartBroker(t)
	var mu sync.Mutex
	var seen []string
	record := func(e gateway.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(e.Type)+" "+e.Client.ClientID+" "+e.Topic)
	}
	h := &gateway.Hooks{}
	for _, list := range []*[]func(gateway.Event){&h.OnClientConnect, &h.OnClientAuthenticate, &h.OnClientConnack,
		&h.OnClientConnected, &h.OnSessionCreated, &h.OnClientAuthorize, &h.OnClientSubscribe, &h.OnSessionSubscribed,
		&h.OnMessagePublish, &h.OnMessageDelivered, &h.OnClientDisconnected, &h.OnSessionTerminated} {
		*list = append(*list, record)
	}
	m := gateway.NewManager(gatewaytest.Logger(t), []gateway.Protocol{lineProto{"a"}}, gateway.Deps{Broker: b, Hooks: h, Node: "n1"})
	t.Cleanup(func() { m.Stop(context.Background()) })
	cfg := lineGateway("a", gatewaytest.Listener(gateway.TCP, "default"))
	cfg.Mountpoint = "mp/${clientid}/"
	if err := m.Apply(context.Background(), snapshot(cfg)); err != nil {
		t.Fatal(err)
	}
	sys := subscribeMQTT(t, mqttAddr, "$SYS/brokers/+/gateway/#")
	mounted := subscribeMQTT(t, mqttAddr, "mp/#")

	c := dialLine(t, m.Gateway("a").Addr("tcp:default"))
	c.do("LOGIN dev7 user7")
	if got := c.do("SUB in"); got != "OK" {
		t.Fatal(got)
	}
	// The delivery to itself and the PUB's OK may come in either order.
	lines := []string{c.do("PUB in hello"), c.read()}
	slices.Sort(lines)
	if lines[0] != "MSG in hello" || lines[1] != "OK" {
		t.Fatalf("got %q: want OK and the delivery with the mountpoint stripped", lines)
	}
	if got := <-mounted; got != "mp/dev7/in hello" {
		t.Fatalf("MQTT saw %q", got)
	}
	if got := <-sys; !strings.HasPrefix(got, "$SYS/brokers/n1/gateway/a/clients/dev7/connected {") || !strings.Contains(got, `"username":"user7"`) {
		t.Fatalf("$SYS event %q", got)
	}
	c.c.Close()
	if got := <-sys; !strings.HasPrefix(got, "$SYS/brokers/n1/gateway/a/clients/dev7/disconnected") {
		t.Fatalf("$SYS event %q", got)
	}
	st := m.Status()[0]
	if st.Counters.Connects != 1 || st.Counters.MessagesIn != 1 || st.Counters.MessagesOut != 1 || st.Counters.Connections != 0 {
		t.Fatalf("counters %+v", st.Counters)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"client.connect dev7 ", "client.authenticate dev7 ", "client.connack dev7 ", "client.connected dev7 ",
		"session.created dev7 ", "client.subscribe dev7 in", "client.authorize dev7 in", "session.subscribed dev7 in",
		"client.authorize dev7 in", "message.publish dev7 mp/dev7/in", "message.delivered dev7 in",
		"client.disconnected dev7 ", "session.terminated dev7 "}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("hooks:\n got %q\nwant %q", seen, want)
	}
}

func TestStopKicksClients(t *testing.T) {
	b, _ := gatewaytest.StartBroker(t)
	m := gateway.NewManager(gatewaytest.Logger(t), []gateway.Protocol{lineProto{"a"}}, gateway.Deps{Broker: b})
	if err := m.Apply(context.Background(), snapshot(lineGateway("a", gatewaytest.Listener(gateway.TCP, "default")))); err != nil {
		t.Fatal(err)
	}
	c := dialLine(t, m.Gateway("a").Addr("tcp:default"))
	c.do("LOGIN k")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.read(); got != "BYE server shutdown" {
		t.Fatalf("got %q", got)
	}
	if err := m.Apply(context.Background(), snapshot()); err == nil {
		t.Fatal("Apply after Stop succeeded")
	}
}
