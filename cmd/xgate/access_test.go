package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/xgate/xgate/authn/builtin"
	"github.com/xgate/xgate/authn/password"
	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/protocols/coap"
	"github.com/xgate/xgate/protocols/mqttsn"
	"github.com/xgate/xgate/protocols/stomp"
	"github.com/xgate/xgate/web"
)

// appliance is the wiring of run() on loopback ports: a real SQLite file, the embedded
// broker, the access layer and the gateway manager. Every change goes through the
// database as the API will do it.
type appliance struct {
	t        *testing.T
	store    *db.DB
	acc      *web.Access
	mgr      *gateway.Manager
	mqttAddr string
	events   chan gateway.Event
}

func startAppliance(t *testing.T, snap gateway.Snapshot) *appliance {
	t.Helper()
	ctx := context.Background()
	log := gatewaytest.Logger(t)
	store, err := db.Open(ctx, filepath.Join(t.TempDir(), "xgate.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	broker, mqttAddr := gatewaytest.StartBroker(t)
	acc, err := web.NewAccess(ctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	broker.SetAuthorizer(acc.Authz)
	a := &appliance{t: t, store: store, acc: acc, mqttAddr: mqttAddr, events: make(chan gateway.Event, 1000)}
	record := func(e gateway.Event) {
		select {
		case a.events <- e:
		default:
		}
	}
	hooks := gateway.Hooks{OnClientAuthenticate: []func(gateway.Event){record}, OnClientAuthorize: []func(gateway.Event){record}}
	a.mgr = gateway.NewManager(log, []gateway.Protocol{stomp.New(), mqttsn.New(), coap.New()},
		gateway.Deps{Broker: broker, Node: "xgate@test", Authorizer: acc.Authz, Authn: acc.Authenticator, Hooks: &hooks})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.mgr.Stop(ctx)
	})
	if err := a.commit(snap); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *appliance) commit(snap gateway.Snapshot) error {
	return a.store.Commit(context.Background(), snap, a.mgr.Apply)
}

func (a *appliance) addr(gw, listener string) string {
	a.t.Helper()
	addr := a.mgr.Gateway(gw).Addr(listener)
	if addr == nil {
		a.t.Fatalf("%s %s is not running", gw, listener)
	}
	return addr.String()
}

func (a *appliance) addUser(ref gateway.AuthnRef, id, pw string, superuser bool) {
	a.t.Helper()
	u, err := builtin.NewUser(password.Default(), id, pw, superuser)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.store.Users(ref).Add(context.Background(), u); err != nil {
		a.t.Fatal(err)
	}
}

// setRules stores settings and rules (JSON objects) as the whole authorization.
func (a *appliance) setRules(noMatch, denyAction string, ruleJSON ...string) {
	a.t.Helper()
	_, err := a.store.CommitAuthz(context.Background(), func(c *db.AuthzConfig) error {
		c.NoMatch, c.DenyAction = noMatch, denyAction
		c.Rules = nil
		for _, r := range ruleJSON {
			c.Rules = append(c.Rules, db.StoredRule{Rule: json.RawMessage(r)})
		}
		return nil
	}, a.acc.ApplyAuthz)
	if err != nil {
		a.t.Fatal(err)
	}
}

// sawEvent reports whether a recorded hook event of type typ satisfies match.
func (a *appliance) sawEvent(typ gateway.EventType, match func(gateway.Event) bool) bool {
	for {
		select {
		case e := <-a.events:
			if e.Type == typ && match(e) {
				return true
			}
		default:
			return false
		}
	}
}

// stompConn is a raw STOMP connection.
type stompConn struct {
	t   *testing.T
	c   net.Conn
	p   stomp.Parser
	buf []byte
}

func dialStomp(t *testing.T, addr string) *stompConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &stompConn{t: t, c: c}
}

func (s *stompConn) send(frame string) {
	s.t.Helper()
	if _, err := io.WriteString(s.c, frame); err != nil {
		s.t.Fatal(err)
	}
}

// next returns the next frame; nil when the connection closed.
func (s *stompConn) next() *stomp.Frame {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, n, err := s.p.Next(s.buf)
		if err != nil {
			s.t.Fatal(err)
		}
		s.buf = s.buf[n:]
		if f != nil {
			return f
		}
		if n > 0 {
			continue
		}
		chunk := make([]byte, 4096)
		k, err := s.c.Read(chunk)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.t.Fatal("no frame and no close within 5s")
			}
			return nil
		}
		s.buf = append(s.buf, chunk[:k]...)
	}
}

// stompLogin connects with login/passcode and returns the connection and the answer.
func stompLogin(t *testing.T, addr, login, passcode string) (*stompConn, *stomp.Frame) {
	t.Helper()
	s := dialStomp(t, addr)
	hdr := ""
	if login != "" {
		hdr = "login:" + login + "\npasscode:" + passcode + "\n"
	}
	s.send("CONNECT\naccept-version:1.2\nhost:x\n" + hdr + "\n\x00")
	return s, s.next()
}

func wantCommand(t *testing.T, f *stomp.Frame, command, message string) {
	t.Helper()
	if f == nil {
		t.Fatalf("connection closed, want %s %q", command, message)
	}
	if f.Command != command || (message != "" && f.Value("message") != message) {
		t.Fatalf("got %s message=%q, want %s %q", f.Command, f.Value("message"), command, message)
	}
}

func stompGateway(listeners ...gateway.ListenerConfig) gateway.Config {
	gw := gateway.DefaultConfig("stomp")
	gw.Listeners = listeners
	return gw
}

// TestStompAuthenticationPerGatewayAndListener: the gateway's built-in database applies to
// listener a, listener b has its own HTTP authenticator, and listener c skips
// authentication; users added and removed apply to the next login.
func TestStompAuthenticationPerGatewayAndListener(t *testing.T) {
	httpAuth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		if body["username"] == "h1" && body["password"] == "hp" {
			fmt.Fprint(w, `{"result":"allow","is_superuser":false}`)
			return
		}
		fmt.Fprint(w, `{"result":"deny"}`)
	}))
	t.Cleanup(httpAuth.Close)

	a := gatewaytest.Listener(gateway.TCP, "a")
	b := gatewaytest.Listener(gateway.TCP, "b")
	b.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"http","method":"post",
		"url":"` + httpAuth.URL + `/auth","body":{"username":"${username}","password":"${password}"}}`)
	c := gatewaytest.Listener(gateway.TCP, "c")
	c.EnableAuthn = false
	gw := stompGateway(a, b, c)
	gw.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"built_in_database","user_id_type":"username"}`)
	app := startAppliance(t, gateway.Snapshot{Gateways: []gateway.Config{gw}})
	app.addUser(gateway.AuthnRef{Gateway: "stomp"}, "u1", "p1", false)

	addrA, addrB, addrC := app.addr("stomp", "tcp:a"), app.addr("stomp", "tcp:b"), app.addr("stomp", "tcp:c")
	_, f := stompLogin(t, addrA, "u1", "p1")
	wantCommand(t, f, "CONNECTED", "")
	_, f = stompLogin(t, addrA, "u1", "wrong")
	wantCommand(t, f, "ERROR", "Login Failed: not_authorized")
	_, f = stompLogin(t, addrA, "", "")
	wantCommand(t, f, "ERROR", "Login Failed: not_authorized")

	// b: the listener's HTTP authenticator replaces the gateway's.
	_, f = stompLogin(t, addrB, "h1", "hp")
	wantCommand(t, f, "CONNECTED", "")
	_, f = stompLogin(t, addrB, "u1", "p1")
	wantCommand(t, f, "ERROR", "Login Failed: not_authorized")

	// c: enable_authn=false.
	_, f = stompLogin(t, addrC, "", "")
	wantCommand(t, f, "CONNECTED", "")

	// Users apply live.
	_, f = stompLogin(t, addrA, "u2", "p2")
	wantCommand(t, f, "ERROR", "Login Failed: not_authorized")
	app.addUser(gateway.AuthnRef{Gateway: "stomp"}, "u2", "p2", false)
	_, f = stompLogin(t, addrA, "u2", "p2")
	wantCommand(t, f, "CONNECTED", "")
	if err := app.store.Users(gateway.AuthnRef{Gateway: "stomp"}).Delete(context.Background(), "u2"); err != nil {
		t.Fatal(err)
	}
	_, f = stompLogin(t, addrA, "u2", "p2")
	wantCommand(t, f, "ERROR", "Login Failed: not_authorized")

	// Removing the gateway's authenticator opens listener a to anyone.
	gw.Authentication = nil
	if err := app.commit(gateway.Snapshot{Gateways: []gateway.Config{gw}}); err != nil {
		t.Fatal(err)
	}
	_, f = stompLogin(t, addrA, "", "")
	wantCommand(t, f, "CONNECTED", "")
}

// TestStompRulesApplyLive: a rule change applies to the next SEND and SUBSCRIBE, denials
// answer EMQX's ERROR (with the receipt-id) and close, and a superuser bypasses the rules.
func TestStompRulesApplyLive(t *testing.T) {
	gw := stompGateway(gatewaytest.Listener(gateway.TCP, "default"))
	gw.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"built_in_database"}`)
	app := startAppliance(t, gateway.Snapshot{Gateways: []gateway.Config{gw}})
	ref := gateway.AuthnRef{Gateway: "stomp"}
	app.addUser(ref, "dev1", "pw", false)
	app.addUser(ref, "root", "pw", true)
	addr := app.addr("stomp", "tcp:default")
	mqtt := gatewaytest.MQTTClient(t, app.mqttAddr, "watcher")
	msgs := gatewaytest.MQTTSubscribe(t, mqtt, "#", 0)

	s, f := stompLogin(t, addr, "dev1", "pw")
	wantCommand(t, f, "CONNECTED", "")
	s.send("SEND\ndestination:secret/x\nreceipt:r1\n\nbefore\x00")
	wantCommand(t, s.next(), "RECEIPT", "")
	if m := gatewaytest.MQTTReceive(t, msgs); m.Topic() != "secret/x" {
		t.Fatalf("got %s", m.Topic())
	}

	app.setRules("allow", "ignore",
		`{"permission":"deny","who":{"username":"dev1"},"action":"publish","topics":["secret/#"]}`,
		`{"permission":"deny","action":"subscribe","topics":["${username}/private"]}`)
	s.send("SEND\ndestination:secret/x\nreceipt:r2\n\nafter\x00")
	f = s.next()
	wantCommand(t, f, "ERROR", "Insufficient permissions for secret/x")
	if f.Value("receipt-id") != "r2" {
		t.Errorf("receipt-id %q, want r2", f.Value("receipt-id"))
	}
	if s.next() != nil {
		t.Fatal("connection not closed after the denial")
	}

	s, _ = stompLogin(t, addr, "dev1", "pw")
	s.send("SUBSCRIBE\nid:1\ndestination:dev1/private\n\n\x00")
	wantCommand(t, s.next(), "ERROR", "Insufficient permissions for dev1/private")

	// The superuser bypasses the rules.
	s, _ = stompLogin(t, addr, "root", "pw")
	s.send("SEND\ndestination:secret/x\nreceipt:r3\n\nroot\x00")
	wantCommand(t, s.next(), "RECEIPT", "")

	// The embedded MQTT listener obeys the same rules (no username: the deny rule for dev1
	// does not apply, a rule for everyone does).
	app.setRules("allow", "ignore", `{"permission":"deny","action":"publish","topics":["secret/#"]}`)
	gatewaytest.MQTTPublish(t, gatewaytest.MQTTClient(t, app.mqttAddr, "mqtt-pub"), "secret/mqtt", 0, "no")
	gatewaytest.MQTTPublish(t, gatewaytest.MQTTClient(t, app.mqttAddr, "mqtt-pub2"), "open/mqtt", 1, "yes")
	for m := gatewaytest.MQTTReceive(t, msgs); m.Topic() != "open/mqtt"; m = gatewaytest.MQTTReceive(t, msgs) {
		if m.Topic() == "secret/mqtt" {
			t.Fatal("an MQTT publish to a denied topic was delivered")
		}
	}
	if !app.sawEvent(gateway.ClientAuthorize, func(e gateway.Event) bool { return e.Topic == "secret/x" && !e.Allowed }) {
		t.Error("no client.authorize event for the denied SEND")
	}
	if !app.sawEvent(gateway.ClientAuthenticate, func(e gateway.Event) bool { return e.Client.Username == "dev1" && e.Allowed }) {
		t.Error("no client.authenticate event for dev1")
	}

	// Rules removed: allowed again.
	app.setRules("allow", "ignore")
	s, _ = stompLogin(t, addr, "dev1", "pw")
	s.send("SEND\ndestination:secret/x\nreceipt:r4\n\nagain\x00")
	wantCommand(t, s.next(), "RECEIPT", "")
}

// TestHTTPAuthenticatorSlowAndExpiring: a slow authenticator refuses within its
// request_timeout without holding up other logins, and expire_at ends a session.
func TestHTTPAuthenticatorSlowAndExpiring(t *testing.T) {
	arrived := make(chan struct{}, 1)
	httpAuth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("u") {
		case "slow": // answers only when the client gives up
			arrived <- struct{}{}
			<-r.Context().Done()
		case "garbage":
			fmt.Fprint(w, `{"result":`)
		case "brief":
			fmt.Fprintf(w, `{"result":"allow","expire_at":%d}`, time.Now().Add(time.Second).Unix()+1)
		case "tenant":
			fmt.Fprint(w, `{"result":"allow","client_attrs":{"tenant":"acme"}}`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(httpAuth.Close)
	gw := stompGateway(gatewaytest.Listener(gateway.TCP, "default"))
	gw.Mountpoint = "${client_attrs.tenant}/"
	gw.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"http","method":"get",
		"url":"` + httpAuth.URL + `/auth?u=${username}","request_timeout":"2s"}`)
	app := startAppliance(t, gateway.Snapshot{Gateways: []gateway.Config{gw}})
	addr := app.addr("stomp", "tcp:default")

	slow := make(chan *stomp.Frame, 1)
	go func() {
		s := dialStomp(t, addr)
		s.send("CONNECT\naccept-version:1.2\nhost:x\nlogin:slow\npasscode:x\n\n\x00")
		slow <- s.next()
	}()
	<-arrived
	// While the slow login waits for its authenticator, another one is served.
	_, f := stompLogin(t, addr, "fast", "x")
	wantCommand(t, f, "CONNECTED", "")
	select {
	case f := <-slow:
		t.Fatalf("the slow login was answered before its request_timeout: %v", f)
	default:
	}
	wantCommand(t, <-slow, "ERROR", "Login Failed: not_authorized") // timed out: ignored: refused

	_, f = stompLogin(t, addr, "garbage", "x")
	wantCommand(t, f, "ERROR", "Login Failed: not_authorized")

	// client_attrs from the authenticator feed the mountpoint.
	msgs := gatewaytest.MQTTSubscribe(t, gatewaytest.MQTTClient(t, app.mqttAddr, "watcher"), "#", 0)
	s, f := stompLogin(t, addr, "tenant", "x")
	wantCommand(t, f, "CONNECTED", "")
	s.send("SEND\ndestination:t/1\n\nhello\x00")
	if m := gatewaytest.MQTTReceive(t, msgs); m.Topic() != "acme/t/1" {
		t.Fatalf("published to %s, want acme/t/1", m.Topic())
	}

	s, f = stompLogin(t, addr, "brief", "x")
	wantCommand(t, f, "CONNECTED", "")
	f = s.next()
	wantCommand(t, f, "ERROR", "")
	if !strings.Contains(f.Value("message"), "expired") {
		t.Fatalf("message %q, want it to say expired", f.Value("message"))
	}
}

// snConn is a raw MQTT-SN client over UDP.
type snConn struct {
	t *testing.T
	c net.Conn
}

func dialSN(t *testing.T, addr string) *snConn {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &snConn{t: t, c: c}
}

func (s *snConn) send(p *mqttsn.Packet) {
	s.t.Helper()
	if _, err := s.c.Write(mqttsn.Append(nil, p)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *snConn) expect(typ mqttsn.MsgType) *mqttsn.Packet {
	s.t.Helper()
	buf := make([]byte, 2048)
	s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := s.c.Read(buf)
	if err != nil {
		s.t.Fatalf("waiting for %v: %v", typ, err)
	}
	p, err := mqttsn.Decode(buf[:n])
	if err != nil {
		s.t.Fatal(err)
	}
	if p.Type != typ {
		s.t.Fatalf("got %v (rc %v), want %v", p.Type, p.ReturnCode, typ)
	}
	return p
}

func (s *snConn) connect(clientID string) mqttsn.ReturnCode {
	s.t.Helper()
	s.send(&mqttsn.Packet{Type: mqttsn.Connect, Flags: mqttsn.Flags{CleanSession: true}, ProtocolID: 1, Duration: 60, ClientID: clientID})
	return s.expect(mqttsn.Connack).ReturnCode
}

// TestMQTTSNCredentialsFromOverride: MQTT-SN has no credentials, so they come from
// clientinfo_override templates; rules apply to SUBSCRIBE and PUBLISH, and deny_action
// disconnect ends the session after the refusal.
func TestMQTTSNCredentialsFromOverride(t *testing.T) {
	gw := gateway.DefaultConfig("mqttsn")
	gw.Listeners = []gateway.ListenerConfig{gatewaytest.Listener(gateway.UDP, "default")}
	gw.ClientInfoOverride = &gateway.ClientInfoOverride{Username: "${ConnInfo.clientid}", Password: "secret-${ConnInfo.clientid}"}
	gw.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"built_in_database",
		"password_hash_algorithm":{"name":"pbkdf2","mac_fun":"sha256","iterations":100}}`)
	app := startAppliance(t, gateway.Snapshot{Gateways: []gateway.Config{gw}})
	alg := password.Algorithm{Name: "pbkdf2", MacFun: "sha256", Iterations: 100}
	u, err := builtin.NewUser(alg, "sensor1", "secret-sensor1", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.store.Users(gateway.AuthnRef{Gateway: "mqttsn"}).Add(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	addr := app.addr("mqttsn", "udp:default")

	if rc := dialSN(t, addr).connect("intruder"); rc != mqttsn.NotAuthorized {
		t.Fatalf("unknown client: rc %v", rc)
	}
	app.setRules("allow", "ignore", `{"permission":"deny","action":"publish","topics":["ad"]}`)
	s := dialSN(t, addr)
	if rc := s.connect("sensor1"); rc != mqttsn.Accepted {
		t.Fatalf("sensor1: rc %v", rc)
	}
	// A QoS 1 publish to the short topic "ad" is refused; the session stays.
	s.send(&mqttsn.Packet{Type: mqttsn.Publish, Flags: mqttsn.Flags{QoS: 1, TopicIDType: 2}, TopicID: 'a'<<8 | 'd', MsgID: 7, Data: []byte("x")})
	if rc := s.expect(mqttsn.Puback).ReturnCode; rc != mqttsn.NotAuthorized {
		t.Fatalf("denied publish: rc %v", rc)
	}
	app.setRules("allow", "disconnect",
		`{"permission":"deny","action":"subscribe","topics":["admin/#"]}`)
	s.send(&mqttsn.Packet{Type: mqttsn.Subscribe, MsgID: 1, TopicName: "ok/1"})
	if rc := s.expect(mqttsn.Suback).ReturnCode; rc != mqttsn.Accepted {
		t.Fatalf("allowed subscribe: rc %v", rc)
	}
	s.send(&mqttsn.Packet{Type: mqttsn.Subscribe, MsgID: 2, TopicName: "admin/x"})
	if rc := s.expect(mqttsn.Suback).ReturnCode; rc != mqttsn.NotAuthorized {
		t.Fatalf("denied subscribe: rc %v", rc)
	}
	s.expect(mqttsn.Disconnect) // deny_action = disconnect
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if app.mgr.Gateway("mqttsn").Client("sensor1") != nil {
			return errors.New("sensor1 still registered")
		}
		return nil
	})
}

func coapPost(t *testing.T, c *udpclient.Conn, path string, qs ...string) (codes.Code, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := make([]message.Option, 0, len(qs))
	for _, q := range qs {
		opts = append(opts, message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	resp, err := c.Post(ctx, path, message.TextPlain, strings.NewReader("x"), opts...)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	body, _ := resp.ReadBody()
	return resp.Code(), string(body)
}

func dialCoAP(t *testing.T, addr string) *udpclient.Conn {
	t.Helper()
	c, err := udp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCoAPCredentialsFromQuery: connection mode authenticates the connection query;
// connectionless requests are authenticated only when they carry credentials (as EMQX), and
// authorization applies to both.
func TestCoAPCredentialsFromQuery(t *testing.T) {
	gw := gateway.DefaultConfig("coap")
	gw.Listeners = []gateway.ListenerConfig{gatewaytest.Listener(gateway.UDP, "conn")}
	gw.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"built_in_database"}`)
	gw.Settings = json.RawMessage(`{"connection_required":true}`)
	app := startAppliance(t, gateway.Snapshot{Gateways: []gateway.Config{gw}})
	app.addUser(gateway.AuthnRef{Gateway: "coap"}, "u1", "p1", false)
	c := dialCoAP(t, app.addr("coap", "udp:conn"))
	if code, _ := coapPost(t, c, "/mqtt/connection", "clientid=d1", "username=u1", "password=bad"); code != codes.BadRequest {
		t.Fatalf("wrong password: %v", code)
	}
	code, token := coapPost(t, c, "/mqtt/connection", "clientid=d1", "username=u1", "password=p1")
	if code != codes.Created {
		t.Fatalf("login: %v %q", code, token)
	}
	app.setRules("allow", "ignore", `{"permission":"deny","action":"publish","topics":["locked/#"]}`)
	if code, _ := coapPost(t, c, "/ps/open/1", "c=d1", "t="+token); code != codes.Changed {
		t.Fatalf("allowed publish: %v", code)
	}
	if code, _ := coapPost(t, c, "/ps/locked/1", "c=d1", "t="+token); code != codes.Unauthorized {
		t.Fatalf("denied publish: %v", code)
	}
	// Observing a denied filter is refused too.
	app.setRules("allow", "ignore", `{"permission":"deny","action":"all","topics":["locked/#"]}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := c.NewGetRequest(ctx, "/ps/locked/1",
		message.Option{ID: message.URIQuery, Value: []byte("c=d1")}, message.Option{ID: message.URIQuery, Value: []byte("t=" + token)})
	if err != nil {
		t.Fatal(err)
	}
	req.SetObserve(0)
	req.SetToken([]byte{1, 2, 3, 4})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code() != codes.Unauthorized {
		t.Fatalf("denied observe: %v", resp.Code())
	}

	// Connectionless (the default mode) on the same gateway.
	gw.Settings = nil
	if err := app.commit(gateway.Snapshot{Gateways: []gateway.Config{gw}}); err != nil {
		t.Fatal(err)
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		// The listener restarts with the new mode: wait until it answers connectionless.
		c := dialCoAP(t, app.addr("coap", "udp:conn"))
		if code, _ := coapPost(t, c, "/ps/open/2"); code != codes.Changed {
			return fmt.Errorf("anonymous connectionless publish: %v", code)
		}
		return nil
	})
	if code, _ := coapPost(t, dialCoAP(t, app.addr("coap", "udp:conn")), "/ps/open/3", "username=u1", "password=bad"); code != codes.Unauthorized {
		t.Fatalf("connectionless with a wrong password: %v", code)
	}
	if code, _ := coapPost(t, dialCoAP(t, app.addr("coap", "udp:conn")), "/ps/open/4", "username=u1", "password=p1"); code != codes.Changed {
		t.Fatalf("connectionless with the right password: %v", code)
	}
	if code, _ := coapPost(t, dialCoAP(t, app.addr("coap", "udp:conn")), "/ps/locked/2"); code != codes.Unauthorized {
		t.Fatalf("connectionless denied publish: %v", code)
	}
}
