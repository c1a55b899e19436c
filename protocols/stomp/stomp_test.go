package stomp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/protocols/stomp"
)

// fixture is a real broker and a STOMP gateway with one tcp listener on loopback.
type fixture struct {
	t        testing.TB
	m        *gateway.Manager
	mqttAddr string
	cfg      gateway.Config
}

func setup(t testing.TB, mutate func(*gateway.Config)) *fixture {
	t.Helper()
	b, mqttAddr := gatewaytest.StartBroker(t)
	cfg := gateway.DefaultConfig("stomp")
	cfg.Listeners = []gateway.ListenerConfig{gatewaytest.Listener(gateway.TCP, "default")}
	if mutate != nil {
		mutate(&cfg)
	}
	m := gatewaytest.StartManager(t, b, gateway.Snapshot{Gateways: []gateway.Config{cfg}}, stomp.New())
	return &fixture{t: t, m: m, mqttAddr: mqttAddr, cfg: cfg}
}

func (f *fixture) addr(key string) string {
	f.t.Helper()
	a := f.m.Gateway("stomp").Addr(key)
	if a == nil {
		f.t.Fatalf("listener %s is not running", key)
	}
	return a.String()
}

// apply replaces the gateway config.
func (f *fixture) apply(cfg gateway.Config) error {
	err := f.m.Apply(context.Background(), gateway.Snapshot{Gateways: []gateway.Config{cfg}})
	if err == nil {
		f.cfg = cfg
	}
	return err
}

func (f *fixture) mqtt(id string) paho.Client { return gatewaytest.MQTTClient(f.t, f.mqttAddr, id) }

func mqttSub(t testing.TB, c paho.Client, filter string, qos byte) <-chan paho.Message {
	return gatewaytest.MQTTSubscribe(t, c, filter, qos)
}

func mqttPub(t testing.TB, c paho.Client, topic string, qos byte, payload string) {
	gatewaytest.MQTTPublish(t, c, topic, qos, payload)
}

func recvMQTT(t testing.TB, ch <-chan paho.Message) paho.Message {
	return gatewaytest.MQTTReceive(t, ch)
}

func recvSTOMP(t *testing.T, sub *gostomp.Subscription) *gostomp.Message {
	t.Helper()
	select {
	case m := <-sub.C:
		if m.Err != nil {
			t.Fatalf("stomp subscription: %v", m.Err)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no STOMP message within 5s")
	}
	return nil
}

func dialSTOMP(t *testing.T, addr string, opts ...func(*gostomp.Conn) error) *gostomp.Conn {
	t.Helper()
	c, err := gostomp.Dial("tcp", addr, opts...)
	if err != nil {
		t.Fatalf("stomp dial: %v", err)
	}
	t.Cleanup(func() { c.MustDisconnect() })
	return c
}

// raw is a STOMP connection driven frame by frame.
type raw struct {
	t   testing.TB
	c   net.Conn
	p   stomp.Parser
	buf []byte
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, c: c}
}

func (r *raw) send(frames ...string) {
	r.t.Helper()
	for _, f := range frames {
		if _, err := io.WriteString(r.c, f); err != nil {
			r.t.Fatalf("write: %v", err)
		}
	}
}

// next returns the next frame, or nil and the read error.
func (r *raw) next(d time.Duration) (*stomp.Frame, error) {
	r.c.SetReadDeadline(time.Now().Add(d))
	for {
		f, n, err := r.p.Next(r.buf)
		if err != nil {
			return nil, err
		}
		r.buf = r.buf[n:]
		if f != nil {
			return f, nil
		}
		if n > 0 {
			continue
		}
		chunk := make([]byte, 4096)
		k, err := r.c.Read(chunk)
		if err != nil {
			return nil, err
		}
		r.buf = append(r.buf, chunk[:k]...)
	}
}

func (r *raw) expect(command string) *stomp.Frame {
	r.t.Helper()
	f, err := r.next(5 * time.Second)
	if err != nil {
		r.t.Fatalf("waiting for %s: %v", command, err)
	}
	if f.Command != command {
		r.t.Fatalf("got %s %v %q, want %s", f.Command, f.Headers, f.Body, command)
	}
	return f
}

func (r *raw) expectClosed() {
	r.t.Helper()
	for {
		f, err := r.next(5 * time.Second)
		if err == nil {
			r.t.Fatalf("got %s %v while waiting for the close", f.Command, f.Headers)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatal("connection still open after 5s")
		}
		return
	}
}

func (r *raw) connect(headers ...string) *stomp.Frame {
	r.t.Helper()
	r.send("CONNECT\naccept-version:1.2\nhost:x\n" + strings.Join(append(headers, ""), "\n") + "\n\x00")
	return r.expect("CONNECTED")
}

func TestSendReachesMQTT(t *testing.T) {
	f := setup(t, nil)
	msgs := mqttSub(t, f.mqtt("sub"), "s/#", 1)
	c := dialSTOMP(t, f.addr("tcp:default"))

	for _, tc := range []struct {
		name    string
		qos     string
		wantQoS byte
	}{{"qos0", "", 0}, {"qos1", "1", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []func(*frame.Frame) error{gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("x-custom", "v1")}
			if tc.qos != "" {
				opts = append(opts, gostomp.SendOpt.Header("qos", tc.qos))
			}
			if err := c.Send("s/"+tc.name, "text/plain", []byte("hello "+tc.name), opts...); err != nil {
				t.Fatal(err)
			}
			m := recvMQTT(t, msgs)
			if m.Topic() != "s/"+tc.name || string(m.Payload()) != "hello "+tc.name || m.Qos() != tc.wantQoS {
				t.Fatalf("got %s %q qos %d", m.Topic(), m.Payload(), m.Qos())
			}
		})
	}
}

func TestMQTTReachesSubscriber(t *testing.T) {
	f := setup(t, nil)
	c := dialSTOMP(t, f.addr("tcp:default"))
	sub, err := c.Subscribe("d/+/x", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	pub := f.mqtt("pub")
	gatewaytest.WaitFor(t, 5*time.Second, func() error { // the SUBSCRIBE is asynchronous in go-stomp
		if len(f.m.Gateway("stomp").Clients()) == 1 && len(f.m.Gateway("stomp").Clients()[0].Subscriptions()) == 1 {
			return nil
		}
		return errors.New("subscription not in place")
	})
	for _, qos := range []byte{0, 1} {
		body := fmt.Sprintf("down qos%d", qos)
		mqttPub(t, pub, "d/1/x", qos, body)
		m := recvSTOMP(t, sub)
		if m.Destination != "d/1/x" || string(m.Body) != body || m.ContentType != "text/plain" {
			t.Fatalf("got %s %s %q", m.Destination, m.ContentType, m.Body)
		}
		if m.Header.Get("subscription") != sub.Id() || m.Header.Get("message-id") == "" {
			t.Fatalf("headers: %v", m.Header)
		}
	}
}

func TestCustomHeadersPassThrough(t *testing.T) {
	f := setup(t, nil)
	c := dialSTOMP(t, f.addr("tcp:default"))
	sub, err := c.Subscribe("h/1", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, f, 1)
	if err := c.Send("h/1", "application/json", []byte(`{"a":1}`), gostomp.SendOpt.Header("x-trace", "abc")); err != nil {
		t.Fatal(err)
	}
	m := recvSTOMP(t, sub)
	if m.ContentType != "application/json" || m.Header.Get("x-trace") != "abc" {
		t.Fatalf("got content-type %q headers %v", m.ContentType, m.Header)
	}
}

func waitSubscribed(t *testing.T, f *fixture, n int) {
	t.Helper()
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		total := 0
		for _, c := range f.m.Gateway("stomp").Clients() {
			total += len(c.Subscriptions())
		}
		if total < n {
			return fmt.Errorf("%d of %d subscriptions", total, n)
		}
		return nil
	})
}

func TestMountpoint(t *testing.T) {
	f := setup(t, func(c *gateway.Config) {
		c.Mountpoint = "stomp/${username}/"
	})
	msgs := mqttSub(t, f.mqtt("sub"), "stomp/#", 0)
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect("login:alice")
	r.send("SUBSCRIBE\nid:1\ndestination:down\nreceipt:s1\n\n\x00")
	r.expect("RECEIPT")
	r.send("SEND\ndestination:up\n\nmounted\x00")
	m := recvMQTT(t, msgs)
	if m.Topic() != "stomp/alice/up" {
		t.Fatalf("published to %s", m.Topic())
	}
	mqttPub(t, f.mqtt("pub"), "stomp/alice/down", 0, "to alice")
	got := r.expect("MESSAGE")
	if got.Value("destination") != "down" || string(got.Body) != "to alice" {
		t.Fatalf("got %v %q", got.Headers, got.Body)
	}
}

func TestTransactions(t *testing.T) {
	f := setup(t, nil)
	msgs := mqttSub(t, f.mqtt("sub"), "tx/#", 0)
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect()

	r.send("BEGIN\ntransaction:t1\nreceipt:b1\n\n\x00")
	if r.expect("RECEIPT").Value("receipt-id") != "b1" {
		t.Fatal("wrong receipt")
	}
	r.send("SEND\ndestination:tx/a\ntransaction:t1\n\none\x00", "SEND\ndestination:tx/a\ntransaction:t1\n\ntwo\x00")
	r.send("BEGIN\ntransaction:t1\n\n\x00")
	if e := r.expect("ERROR"); e.Value("message") != "Transaction t1 already started" {
		t.Fatalf("got %v", e.Headers)
	}
	select {
	case m := <-msgs:
		t.Fatalf("published before COMMIT: %q", m.Payload())
	case <-time.After(100 * time.Millisecond):
	}
	r.send("COMMIT\ntransaction:t1\nreceipt:c1\n\n\x00")
	r.expect("RECEIPT")
	for _, want := range []string{"one", "two"} {
		if m := recvMQTT(t, msgs); string(m.Payload()) != want {
			t.Fatalf("got %q, want %q", m.Payload(), want)
		}
	}

	r.send("BEGIN\ntransaction:t2\n\n\x00", "SEND\ndestination:tx/b\ntransaction:t2\n\naborted\x00",
		"ABORT\ntransaction:t2\nreceipt:a1\n\n\x00")
	r.expect("RECEIPT")
	r.send("COMMIT\ntransaction:nope\nreceipt:c2\n\n\x00")
	e := r.expect("ERROR")
	if e.Value("message") != "Transaction nope not found" || e.Value("receipt-id") != "c2" {
		t.Fatalf("got %v", e.Headers)
	}
	// Transaction errors do not close the connection.
	r.send("SEND\ndestination:tx/c\nreceipt:s1\n\nafter\x00")
	r.expect("RECEIPT")
	if m := recvMQTT(t, msgs); string(m.Payload()) != "after" {
		t.Fatalf("got %q: the aborted message was published", m.Payload())
	}
}

func TestGoStompTransaction(t *testing.T) {
	f := setup(t, nil)
	msgs := mqttSub(t, f.mqtt("sub"), "gtx", 0)
	c := dialSTOMP(t, f.addr("tcp:default"))
	tx := c.Begin()
	if err := tx.Send("gtx", "text/plain", []byte("in tx")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if m := recvMQTT(t, msgs); string(m.Payload()) != "in tx" {
		t.Fatalf("got %q", m.Payload())
	}
}

func TestReceiptsAndDisconnect(t *testing.T) {
	f := setup(t, nil)
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect()
	r.send("SUBSCRIBE\nid:0\ndestination:r/1\nreceipt:1\n\n\x00")
	r.expect("RECEIPT")
	r.send("UNSUBSCRIBE\nid:0\nreceipt:2\n\n\x00")
	r.expect("RECEIPT")
	r.send("UNSUBSCRIBE\nid:unknown\nreceipt:3\n\n\x00")
	if r.expect("RECEIPT").Value("receipt-id") != "3" {
		t.Fatal("wrong receipt")
	}
	r.send("DISCONNECT\nreceipt:bye\n\n\x00")
	if r.expect("RECEIPT").Value("receipt-id") != "bye" {
		t.Fatal("wrong receipt")
	}
	r.expectClosed()
}

func TestErrorsCloseTheConnection(t *testing.T) {
	f := setup(t, nil)
	for _, tc := range []struct {
		name    string
		connect bool
		frames  string
		message string
	}{
		{"send before connect", false, "SEND\ndestination:a\n\nx\x00", "Not connected"},
		{"subscribe before connect", false, "SUBSCRIBE\nid:1\ndestination:a\n\n\x00", "Not connected"},
		{"header without colon", true, "SEND\ndestination:a\nnocolon\n\nx\x00", "Frame error: header line without colon"},
		{"bad escape", true, "SEND\ndestination:a\\t\n\nx\x00", "Frame error: invalid escape"},
		{"unknown command", true, "FROB\n\n\x00", "Unknown command FROB"},
		{"subscription id in use", true, "SUBSCRIBE\nid:1\ndestination:a\n\n\x00SUBSCRIBE\nid:1\ndestination:b\n\n\x00", "Subscription id 1 is in used"},
		{"topic already subscribed", true, "SUBSCRIBE\nid:1\ndestination:a\n\n\x00SUBSCRIBE\nid:2\ndestination:a\n\n\x00", "Topic a already in subscribed"},
		{"send to a filter", true, "SEND\ndestination:a/#\nreceipt:9\n\nx\x00", "Send failed: publish a/#: invalid topic"},
		{"second connect", true, "CONNECT\naccept-version:1.2\n\n\x00", "Unexpected CONNECT: already connected"},
		{"unsupported version", false, "CONNECT\naccept-version:2.0\n\n\x00", "Login Failed: Supported protocol versions < 1.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, f.addr("tcp:default"))
			if tc.connect {
				r.connect()
			}
			r.send(tc.frames)
			e := r.expect("ERROR")
			if e.Value("message") != tc.message || string(e.Body) != tc.message {
				t.Fatalf("ERROR message %q body %q, want %q", e.Value("message"), e.Body, tc.message)
			}
			r.expectClosed()
		})
	}
}

func TestFrameLimits(t *testing.T) {
	f := setup(t, func(c *gateway.Config) {
		c.Settings = []byte(`{"frame":{"max_headers":3,"max_headers_length":64,"max_body_length":16}}`)
	})
	for _, tc := range []struct{ name, frame, message string }{
		{"too many headers", "SEND\ndestination:a\na:1\nb:2\nc:3\n\nx\x00", "Frame error: too_many_headers"},
		{"too long header", "SEND\ndestination:" + strings.Repeat("a", 80) + "\n\nx\x00", "Frame error: too_long_header"},
		{"too long body", "SEND\ndestination:a\n\n" + strings.Repeat("b", 17) + "\x00", "Frame error: too_long_body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, f.addr("tcp:default"))
			r.connect()
			r.send(tc.frame)
			if e := r.expect("ERROR"); e.Value("message") != tc.message {
				t.Fatalf("got %q", e.Value("message"))
			}
			r.expectClosed()
		})
	}
}

func TestVersionsAndHeartbeatNegotiation(t *testing.T) {
	f := setup(t, nil)
	for _, tc := range []struct{ accept, want string }{{"", "1.0"}, {"1.0,1.1", "1.1"}, {"1.1,1.2", "1.2"}, {"1.2,1.3", "1.2"}} {
		r := dialRaw(t, f.addr("tcp:default"))
		h := "CONNECT\nheart-beat:1000,2000\n"
		if tc.accept != "" {
			h += "accept-version:" + tc.accept + "\n"
		}
		r.send(h + "\n\x00")
		c := r.expect("CONNECTED")
		if c.Value("version") != tc.want {
			t.Fatalf("accept-version %q: got version %q, want %q", tc.accept, c.Value("version"), tc.want)
		}
		if tc.want != "1.0" && c.Value("heart-beat") != "2000,1000" {
			t.Fatalf("heart-beat %q, want 2000,1000", c.Value("heart-beat"))
		}
	}
}

func TestHeartbeats(t *testing.T) {
	f := setup(t, nil)
	t.Run("server sends", func(t *testing.T) {
		r := dialRaw(t, f.addr("tcp:default"))
		r.connect("heart-beat:0,50")
		r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 1)
		if _, err := io.ReadFull(r.c, b); err != nil || b[0] != '\n' {
			t.Fatalf("no heart-beat: %v %q", err, b)
		}
	})
	t.Run("silent client is closed", func(t *testing.T) {
		r := dialRaw(t, f.addr("tcp:default"))
		r.connect("heart-beat:100,0")
		start := time.Now()
		r.expectClosed()
		if el := time.Since(start); el < 100*time.Millisecond {
			t.Fatalf("closed after %v, before the heart-beat interval", el)
		}
	})
	t.Run("beating client stays", func(t *testing.T) {
		r := dialRaw(t, f.addr("tcp:default"))
		r.connect("heart-beat:100,0")
		for range 5 {
			time.Sleep(50 * time.Millisecond) // the client's own heart-beat interval
			r.send("\n")
		}
		r.send("SEND\ndestination:hb\nreceipt:alive\n\nx\x00")
		r.expect("RECEIPT")
	})
}

func TestIdleTimeout(t *testing.T) {
	f := setup(t, func(c *gateway.Config) { c.IdleTimeout = gateway.Duration(100 * time.Millisecond) })
	r := dialRaw(t, f.addr("tcp:default"))
	r.expectClosed()
}

func TestKickOnDuplicateClientID(t *testing.T) {
	f := setup(t, func(c *gateway.Config) {
		c.ClientInfoOverride = &gateway.ClientInfoOverride{ClientID: "${Packet.headers.login}"}
	})
	first := dialRaw(t, f.addr("tcp:default"))
	first.connect("login:dev1")
	other := dialRaw(t, f.addr("tcp:default"))
	other.connect("login:dev2")
	second := dialRaw(t, f.addr("tcp:default"))
	second.connect("login:dev1")

	if e := first.expect("ERROR"); e.Value("message") != "Discarded" {
		t.Fatalf("got %q", e.Value("message"))
	}
	first.expectClosed()
	for _, r := range []*raw{second, other} {
		r.send("SEND\ndestination:k\nreceipt:ok\n\nx\x00")
		r.expect("RECEIPT")
	}
	if c := f.m.Gateway("stomp").Client("dev1"); c == nil || c.Info().Peer.String() != second.c.LocalAddr().String() {
		t.Fatalf("dev1 is not the second connection: %v", c)
	}
}

func TestKickFromOperator(t *testing.T) {
	f := setup(t, func(c *gateway.Config) {
		c.ClientInfoOverride = &gateway.ClientInfoOverride{ClientID: "${Packet.headers.login}"}
	})
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect("login:k1")
	if !f.m.Gateway("stomp").Kick("k1") {
		t.Fatal("client not found")
	}
	if e := r.expect("ERROR"); e.Value("message") != "Kicked out" {
		t.Fatalf("got %q", e.Value("message"))
	}
	r.expectClosed()
}

func TestClientAck(t *testing.T) {
	f := setup(t, func(c *gateway.Config) { c.Settings = []byte(`{"ack_window":2}`) })
	pub := f.mqtt("pub")
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect()
	r.send("SUBSCRIBE\nid:s\ndestination:ack/1\nack:client-individual\nreceipt:r\n\n\x00")
	r.expect("RECEIPT")
	for i := range 4 {
		mqttPub(t, pub, "ack/1", 1, fmt.Sprint("m", i))
	}
	m0, m1 := r.expect("MESSAGE"), r.expect("MESSAGE")
	if string(m0.Body) != "m0" || string(m1.Body) != "m1" {
		t.Fatalf("got %q %q", m0.Body, m1.Body)
	}
	// The window is full: m2 waits for an ACK.
	if fr, err := r.next(200 * time.Millisecond); err == nil {
		t.Fatalf("got %s %q beyond the ack window", fr.Command, fr.Body)
	}
	r.send("ACK\nid:" + m0.Value("ack") + "\n\n\x00")
	if m2 := r.expect("MESSAGE"); string(m2.Body) != "m2" {
		t.Fatalf("got %q", m2.Body)
	}
	r.send("NACK\nid:" + m1.Value("ack") + "\n\n\x00")
	re := r.expect("MESSAGE")
	if string(re.Body) != "m1" || re.Value("redelivered") != "true" {
		t.Fatalf("redelivery: %q %v", re.Body, re.Headers)
	}
}

func TestClientAckCumulative(t *testing.T) {
	f := setup(t, func(c *gateway.Config) { c.Settings = []byte(`{"ack_window":3}`) })
	pub := f.mqtt("pub")
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect()
	r.send("SUBSCRIBE\nid:s\ndestination:cum\nack:client\nreceipt:r\n\n\x00")
	r.expect("RECEIPT")
	for i := range 6 {
		mqttPub(t, pub, "cum", 1, fmt.Sprint("m", i))
	}
	var last *stomp.Frame
	for range 3 {
		last = r.expect("MESSAGE")
	}
	r.send("ACK\nid:" + last.Value("ack") + "\n\n\x00") // acknowledges all three
	for i := 3; i < 6; i++ {
		if m := r.expect("MESSAGE"); string(m.Body) != fmt.Sprint("m", i) {
			t.Fatalf("got %q", m.Body)
		}
	}
}

func TestBadClientDoesNotDisturbOthers(t *testing.T) {
	f := setup(t, nil)
	good := dialSTOMP(t, f.addr("tcp:default"))
	sub, err := good.Subscribe("bystander", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, f, 1)
	for _, junk := range []string{"\x00\x00\x00", "GARBAGE!!\n\n\x00", strings.Repeat("A", 100) + "\n"} {
		r := dialRaw(t, f.addr("tcp:default"))
		r.send(junk)
		r.expect("ERROR")
		r.expectClosed()
	}
	mqttPub(t, f.mqtt("pub"), "bystander", 0, "still here")
	if m := recvSTOMP(t, sub); string(m.Body) != "still here" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestSSLListener(t *testing.T) {
	certs := gatewaytest.Certs(t)
	f := setup(t, func(c *gateway.Config) {
		l := gatewaytest.Listener(gateway.SSL, "default")
		l.SSLOptions = certs
		c.Listeners = append(c.Listeners, l)
	})
	msgs := mqttSub(t, f.mqtt("sub"), "tls/#", 0)
	conn := dialTLS(t, f.addr("ssl:default"), certs)
	c, err := gostomp.Connect(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	if err := c.Send("tls/1", "text/plain", []byte("secure"), gostomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := recvMQTT(t, msgs); string(m.Payload()) != "secure" {
		t.Fatalf("got %q", m.Payload())
	}
}

func dialTLS(t *testing.T, addr string, certs *gateway.TLSConfig) *tls.Conn {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(gatewaytest.ReadFile(t, certs.CertFile))
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestListenerChangedLive(t *testing.T) {
	certs, newCerts := gatewaytest.Certs(t), gatewaytest.Certs(t)
	f := setup(t, func(c *gateway.Config) {
		l := gatewaytest.Listener(gateway.SSL, "secure")
		l.SSLOptions = certs
		c.Listeners = append(c.Listeners, l)
	})
	tcpAddr := f.addr("tcp:default")
	sslConn := dialTLS(t, f.addr("ssl:secure"), certs)
	old := &raw{t: t, c: sslConn}
	old.connect()
	tcpClient := dialRaw(t, tcpAddr)
	tcpClient.connect()

	t.Run("port in use is refused and nothing changes", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		next := f.cfg
		l, _ := next.Listener(gateway.TCP, "default")
		l.Bind = busy.Addr().String()
		next = next.WithListener(l)
		err = f.apply(next)
		if err == nil || !strings.Contains(err.Error(), "listener tcp:default") || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("got %v", err)
		}
		if f.addr("tcp:default") != tcpAddr {
			t.Fatal("the running listener moved")
		}
		tcpClient.send("SEND\ndestination:a\nreceipt:1\n\nx\x00")
		tcpClient.expect("RECEIPT")
	})

	t.Run("certificate rotated, open connection survives", func(t *testing.T) {
		next := f.cfg
		l, _ := next.Listener(gateway.SSL, "secure")
		l.SSLOptions = newCerts
		if err := f.apply(next.WithListener(l)); err != nil {
			t.Fatal(err)
		}
		old.send("SEND\ndestination:a\nreceipt:2\n\nx\x00")
		old.expect("RECEIPT")
		// New connections get the new certificate; the old CA no longer verifies.
		if c, err := tls.Dial("tcp", f.addr("ssl:secure"), &tls.Config{RootCAs: poolOf(t, certs), ServerName: "127.0.0.1"}); err == nil {
			c.Close()
			t.Fatal("the old certificate is still served")
		}
		dialTLS(t, f.addr("ssl:secure"), newCerts)
	})

	t.Run("unreadable certificate is refused", func(t *testing.T) {
		next := f.cfg
		l, _ := next.Listener(gateway.SSL, "secure")
		l.SSLOptions = &gateway.TLSConfig{CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}
		err := f.apply(next.WithListener(l))
		if err == nil || !strings.Contains(err.Error(), "listener ssl:secure") || !strings.Contains(err.Error(), "ssl_options") {
			t.Fatalf("got %v", err)
		}
		old.send("SEND\ndestination:a\nreceipt:3\n\nx\x00")
		old.expect("RECEIPT")
	})

	t.Run("unrelated change keeps connections", func(t *testing.T) {
		next := f.cfg
		next.Mountpoint = "changed/"
		if err := f.apply(next); err != nil {
			t.Fatal(err)
		}
		tcpClient.send("SEND\ndestination:a\nreceipt:4\n\nx\x00")
		tcpClient.expect("RECEIPT")
	})

	t.Run("bind moved", func(t *testing.T) {
		next := f.cfg
		l, _ := next.Listener(gateway.TCP, "default")
		l.Bind = "127.0.0.2:0"
		if err := f.apply(next.WithListener(l)); err != nil {
			t.Fatal(err)
		}
		if e := tcpClient.expect("ERROR"); e.Value("message") != gateway.ErrShutdown.Error() {
			t.Fatalf("got %q", e.Value("message"))
		}
		tcpClient.expectClosed()
		if _, err := net.DialTimeout("tcp", tcpAddr, time.Second); err == nil {
			t.Fatal("the old address still accepts")
		}
		moved := dialRaw(t, f.addr("tcp:default"))
		if !strings.HasPrefix(moved.c.RemoteAddr().String(), "127.0.0.2:") {
			t.Fatalf("connected to %s", moved.c.RemoteAddr())
		}
		moved.connect()
	})

	t.Run("listener disabled", func(t *testing.T) {
		next := f.cfg
		l, _ := next.Listener(gateway.SSL, "secure")
		l.Enable = false
		if err := f.apply(next.WithListener(l)); err != nil {
			t.Fatal(err)
		}
		if e := old.expect("ERROR"); e.Value("message") != gateway.ErrShutdown.Error() {
			t.Fatalf("got %q", e.Value("message"))
		}
		if f.m.Gateway("stomp").Port("ssl:secure") != 0 {
			t.Fatal("disabled listener still runs")
		}
	})
}

func poolOf(t *testing.T, c *gateway.TLSConfig) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(gatewaytest.ReadFile(t, c.CertFile))
	return p
}

func TestAccessRulesAndMaxConnections(t *testing.T) {
	f := setup(t, func(c *gateway.Config) {
		c.Listeners[0].AccessRules = []string{"deny 127.0.0.1", "allow all"}
	})
	r := dialRaw(t, f.addr("tcp:default"))
	r.expectClosed()

	next := f.cfg
	next.Listeners[0].AccessRules = nil
	next.Listeners[0].MaxConnections = 1
	if err := f.apply(next); err != nil {
		t.Fatal(err)
	}
	first := dialRaw(t, f.addr("tcp:default"))
	first.connect()
	second := dialRaw(t, f.addr("tcp:default"))
	second.expectClosed()
}

func TestSettingsValidation(t *testing.T) {
	f := setup(t, nil)
	for _, s := range []string{`{"frame":{"max_headers":0}}`, `{"unknown_field":1}`, `{"ack_window":"x"}`} {
		next := f.cfg
		next.Settings = []byte(s)
		if err := f.apply(next); err == nil || !strings.HasPrefix(err.Error(), "gateway stomp: ") {
			t.Fatalf("%s: got %v", s, err)
		}
	}
}

func TestLargeFramesAcrossReads(t *testing.T) {
	f := setup(t, nil)
	msgs := mqttSub(t, f.mqtt("sub"), "big", 0)
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect()
	body := strings.Repeat("0123456789", 6500) // 65000 bytes, under the 65536 default
	frame := fmt.Sprintf("SEND\ndestination:big\ncontent-length:%d\n\n%s\x00", len(body), body)
	for i := 0; i < len(frame); i += 1000 { // many small writes
		r.send(frame[i:min(i+1000, len(frame))])
	}
	r.send(frame + frame) // and two in one go
	for range 3 {
		if m := recvMQTT(t, msgs); string(m.Payload()) != body {
			t.Fatalf("got %d bytes", len(m.Payload()))
		}
	}
}

func TestListenerMountpointOverridesGateway(t *testing.T) {
	f := setup(t, func(c *gateway.Config) {
		c.Mountpoint = "gw/"
		mp := "special/${clientid}/"
		c.Listeners[0].Mountpoint = &mp
		c.ClientInfoOverride = &gateway.ClientInfoOverride{ClientID: "${Packet.headers.login}"}
	})
	msgs := mqttSub(t, f.mqtt("sub"), "#", 0)
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect("login:d9")
	r.send("SEND\ndestination:t\n\nx\x00")
	if m := recvMQTT(t, msgs); m.Topic() != "special/d9/t" {
		t.Fatalf("published to %s", m.Topic())
	}
}

func TestSharedSubscription(t *testing.T) {
	f := setup(t, nil)
	var subs []*raw
	for range 2 {
		r := dialRaw(t, f.addr("tcp:default"))
		r.connect()
		r.send("SUBSCRIBE\nid:1\ndestination:$share/g/jobs/+\nreceipt:r\n\n\x00")
		r.expect("RECEIPT")
		subs = append(subs, r)
	}
	pub := f.mqtt("pub")
	const n = 20
	for i := range n {
		mqttPub(t, pub, "jobs/x", 1, fmt.Sprint(i))
	}
	got := 0
	for _, r := range subs {
		for {
			fr, err := r.next(300 * time.Millisecond)
			if err != nil {
				break
			}
			if fr.Command != "MESSAGE" || fr.Value("destination") != "jobs/x" {
				t.Fatalf("got %s %v", fr.Command, fr.Headers)
			}
			got++
		}
	}
	if got != n {
		t.Fatalf("the group received %d messages, want exactly %d", got, n)
	}
}

func TestMaxConnRate(t *testing.T) {
	f := setup(t, func(c *gateway.Config) { c.Listeners[0].MaxConnRate = 1 })
	accepted := 0
	const attempts = 10 // refused ones are closed at once, so this takes far less than 10 s
	for range attempts {
		r := dialRaw(t, f.addr("tcp:default"))
		r.send("CONNECT\naccept-version:1.2\n\n\x00")
		if fr, err := r.next(2 * time.Second); err == nil && fr.Command == "CONNECTED" {
			accepted++
		}
	}
	if accepted < 1 || accepted >= attempts {
		t.Fatalf("%d of %d connections accepted at max_conn_rate 1", accepted, attempts)
	}
}

func TestSlowSubscriberDropsAreCounted(t *testing.T) {
	var dropped, acked atomic.Int64
	hooks := &gateway.Hooks{
		OnMessageDropped: []func(gateway.Event){func(gateway.Event) { dropped.Add(1) }},
		OnMessageAcked:   []func(gateway.Event){func(gateway.Event) { acked.Add(1) }},
	}
	b, mqttAddr := gatewaytest.StartBroker(t)
	cfg := gateway.DefaultConfig("stomp")
	cfg.Listeners = []gateway.ListenerConfig{gatewaytest.Listener(gateway.TCP, "default")}
	cfg.Settings = []byte(`{"ack_window":1,"max_pending":3}`)
	m := gateway.NewManager(gatewaytest.Logger(t), []gateway.Protocol{stomp.New()}, gateway.Deps{Broker: b, Hooks: hooks})
	t.Cleanup(func() { m.Stop(context.Background()) })
	if err := m.Apply(context.Background(), gateway.Snapshot{Gateways: []gateway.Config{cfg}}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, m: m, mqttAddr: mqttAddr, cfg: cfg}
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect()
	r.send("SUBSCRIBE\nid:s\ndestination:slow\nack:client\nreceipt:r\n\n\x00")
	r.expect("RECEIPT")
	pub := f.mqtt("pub")
	for i := range 10 {
		mqttPub(t, pub, "slow", 1, fmt.Sprint(i))
	}
	// One in the window, two held back, seven dropped.
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if d := m.Status()[0].Counters.Dropped; d != 7 || dropped.Load() != 7 {
			return fmt.Errorf("dropped counter %d, hook %d", d, dropped.Load())
		}
		return nil
	})
	if c := m.Gateway("stomp").Clients()[0].Counters(); c.Dropped != 7 || c.MessagesOut != 3 {
		t.Fatalf("client counters %+v", c)
	}
	for i := range 3 {
		msg := r.expect("MESSAGE")
		if string(msg.Body) != fmt.Sprint(i) {
			t.Fatalf("got %q", msg.Body)
		}
		r.send("ACK\nid:" + msg.Value("ack") + "\n\n\x00")
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if acked.Load() != 3 {
			return fmt.Errorf("%d acked", acked.Load())
		}
		return nil
	})
}

// TestOperatorSubscription: the operator (API) subscribes a client under a STOMP
// subscription id of its choosing; the MESSAGE frames carry it, clashes are refused with
// EMQX's texts, and removing it frees the id for the client.
func TestOperatorSubscription(t *testing.T) {
	f := setup(t, func(c *gateway.Config) {
		c.ClientInfoOverride = &gateway.ClientInfoOverride{ClientID: "${Packet.headers.login}"}
		c.Mountpoint = "mp/"
	})
	r := dialRaw(t, f.addr("tcp:default"))
	r.connect("login:op1")
	cl := f.m.Gateway("stomp").Client("op1")
	sm, ok := cl.Session().(gateway.SubscriptionManager)
	if !ok {
		t.Fatal("the STOMP session is not a SubscriptionManager")
	}
	ctx := context.Background()
	if err := sm.AddSubscription(ctx, "t/a", 0, ""); err == nil || !strings.Contains(err.Error(), "subid") {
		t.Fatalf("without subid: %v", err)
	}
	if err := sm.AddSubscription(ctx, "t/a", 1, "1001"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, filter, id, want string
	}{
		{"id in use", "t/b", "1001", "Subscription id 1001 is in used"},
		{"topic in use", "t/a", "1002", "Topic t/a already in subscribed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := sm.AddSubscription(ctx, tc.filter, 0, tc.id); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if subs := cl.Subscriptions(); len(subs) != 1 || subs[0].Filter != "t/a" || subs[0].QoS != 1 {
		t.Fatalf("subscriptions %v", subs)
	}

	mqttPub(t, f.mqtt("pub"), "mp/t/a", 1, "for op1")
	m := r.expect("MESSAGE")
	if m.Value("subscription") != "1001" || m.Value("destination") != "t/a" || string(m.Body) != "for op1" {
		t.Fatalf("got %v %q", m.Headers, m.Body)
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error { // counted once the queue took it
		if n := cl.Counters().MessagesOut; n != 1 {
			return fmt.Errorf("%d messages out", n)
		}
		return nil
	})

	if err := sm.RemoveSubscription(ctx, "t/a"); err != nil {
		t.Fatal(err)
	}
	if err := sm.RemoveSubscription(ctx, "t/a"); !errors.Is(err, gateway.ErrNoSubscription) {
		t.Fatalf("second removal: %v", err)
	}
	r.send("SUBSCRIBE\nid:1001\ndestination:t/a\nreceipt:again\n\n\x00")
	r.expect("RECEIPT")
	r.send("SEND\ndestination:up\nreceipt:sent\n\nx\x00")
	r.expect("RECEIPT")
	if c := cl.Counters(); c.MessagesIn != 1 {
		t.Fatalf("counters %+v", c)
	}

	if !f.m.Gateway("stomp").Kick("op1") {
		t.Fatal("op1 not found")
	}
	r.expect("ERROR")
	r.expectClosed()
	if err := sm.AddSubscription(ctx, "t/c", 0, "1003"); !errors.Is(err, gateway.ErrNotLoggedIn) {
		t.Fatalf("subscribe after the kick: %v", err)
	}
}
