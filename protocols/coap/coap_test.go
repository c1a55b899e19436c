package coap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	piondtls "github.com/pion/dtls/v3"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/protocols/coap"
)

type fixture struct {
	t        testing.TB
	m        *gateway.Manager
	mqttAddr string
}

func setup(t testing.TB, settings string, mutate func(*gateway.Config)) *fixture {
	t.Helper()
	b, mqttAddr := gatewaytest.StartBroker(t)
	cfg := gateway.DefaultConfig("coap")
	cfg.Listeners = []gateway.ListenerConfig{gatewaytest.Listener(gateway.UDP, "default")}
	if settings != "" {
		cfg.Settings = []byte(settings)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m := gatewaytest.StartManager(t, b, gateway.Snapshot{Gateways: []gateway.Config{cfg}}, coap.New())
	return &fixture{t: t, m: m, mqttAddr: mqttAddr}
}

func (f *fixture) addr(key string) string {
	a := f.m.Gateway("coap").Addr(key)
	if a == nil {
		f.t.Fatalf("listener %s not running", key)
	}
	return a.String()
}

func (f *fixture) dial() *udpclient.Conn {
	f.t.Helper()
	c, err := udp.Dial(f.addr("udp:default"))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

func query(qs ...string) []message.Option {
	out := make([]message.Option, 0, len(qs))
	for _, q := range qs {
		out = append(out, message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	return out
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// post sends a POST (CON unless non) and returns the response code and payload.
func post(t testing.TB, c *udpclient.Conn, path string, payload []byte, non bool, opts ...message.Option) (codes.Code, string) {
	t.Helper()
	req, err := c.NewPostRequest(ctx(t), path, message.TextPlain, bytes.NewReader(payload), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if non {
		req.SetType(message.NonConfirmable)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	body, _ := resp.ReadBody()
	return resp.Code(), string(body)
}

func (f *fixture) mqtt(id string) paho.Client { return gatewaytest.MQTTClient(f.t, f.mqttAddr, id) }

func (f *fixture) mqttSub(filter string) <-chan paho.Message {
	return gatewaytest.MQTTSubscribe(f.t, f.mqtt("sub-"+filter), filter, 2)
}

func (f *fixture) mqttPub(topic string, qos byte, payload string) {
	gatewaytest.MQTTPublish(f.t, f.mqtt(fmt.Sprint("pub-", time.Now().UnixNano())), topic, qos, payload)
}

func recvMQTT(t testing.TB, ch <-chan paho.Message) paho.Message {
	return gatewaytest.MQTTReceive(t, ch)
}

func TestPublish(t *testing.T) {
	f := setup(t, "", nil)
	msgs := f.mqttSub("p/#")
	c := f.dial()
	for _, tc := range []struct {
		name    string
		non     bool
		opts    []message.Option
		wantQoS byte
		retain  bool
	}{
		{"CON is QoS 1", false, nil, 1, false},
		{"NON is QoS 0", true, nil, 0, false},
		{"qos query wins", false, query("qos=2"), 2, false},
		{"short names", true, query("q=1", "r=true"), 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := post(t, c, "/ps/p/1", []byte(tc.name), tc.non, tc.opts...)
			if code != codes.Changed {
				t.Fatalf("code %v", code)
			}
			m := recvMQTT(t, msgs)
			if m.Topic() != "p/1" || string(m.Payload()) != tc.name || m.Qos() != tc.wantQoS {
				t.Fatalf("got %s %q qos %d", m.Topic(), m.Payload(), m.Qos())
			}
		})
	}
	// A URI-decoded segment: ps/a/%2B is the topic a/+ — not publishable.
	if code, _ := post(t, c, "/ps/a/%2B", []byte("x"), false); code != codes.BadRequest {
		t.Fatalf("publish to a filter: %v", code)
	}
}

func TestErrors(t *testing.T) {
	f := setup(t, "", nil)
	c := f.dial()
	resp, err := c.Get(ctx(t), "/nope")
	if err != nil || resp.Code() != codes.BadRequest {
		t.Fatalf("unknown path: %v %v", resp.Code(), err)
	}
	resp, err = c.Put(ctx(t), "/ps/a", message.TextPlain, bytes.NewReader(nil))
	if err != nil || resp.Code() != codes.MethodNotAllowed {
		t.Fatalf("PUT /ps: %v %v", resp.Code(), err)
	}
	resp, err = c.Get(ctx(t), "/ps/a") // no Observe option
	if err != nil || resp.Code() != codes.BadRequest {
		t.Fatalf("GET without observe: %v %v", resp.Code(), err)
	}
	if code, _ := post(t, c, "/ps", []byte("x"), false); code != codes.BadRequest {
		t.Fatalf("no topic: %v", code)
	}
	if code, _ := post(t, c, "/ps/a", []byte("x"), false, query("qos=7")...); code != codes.BadRequest {
		t.Fatalf("bad qos: %v", code)
	}
}

// observation collects notifications.
type observation struct {
	mu   sync.Mutex
	got  []*pool.Message
	more chan struct{}
}

func (o *observation) add(m *pool.Message) {
	c := pool.NewMessage(context.Background())
	m.Clone(c)
	o.mu.Lock()
	o.got = append(o.got, c)
	o.mu.Unlock()
	select {
	case o.more <- struct{}{}:
	default:
	}
}

func (o *observation) wait(t testing.TB, n int) []*pool.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		o.mu.Lock()
		if len(o.got) >= n {
			out := append([]*pool.Message(nil), o.got...)
			o.mu.Unlock()
			return out
		}
		o.mu.Unlock()
		select {
		case <-o.more:
		case <-deadline:
			t.Fatalf("%d of %d notifications", len(o.got), n)
		}
	}
}

func observe(t testing.TB, c *udpclient.Conn, path string, opts ...message.Option) *observation {
	t.Helper()
	o := &observation{more: make(chan struct{}, 1)}
	obs, err := c.Observe(ctx(t), path, o.add, opts...)
	if err != nil {
		t.Fatalf("observe %s: %v", path, err)
	}
	t.Cleanup(func() { obs.Cancel(context.Background()) })
	o.wait(t, 1) // the registration answer: 2.05 with Observe
	return o
}

func (f *fixture) waitObserving(n int) {
	f.t.Helper()
	gatewaytest.WaitFor(f.t, 5*time.Second, func() error {
		total := 0
		for _, c := range f.m.Gateway("coap").Clients() {
			total += len(c.Subscriptions())
		}
		if total < n {
			return fmt.Errorf("%d of %d observations", total, n)
		}
		return nil
	})
}

func TestObserveNotifications(t *testing.T) {
	for _, tc := range []struct {
		notify string
		want   []message.Type // for a QoS 0 then a QoS 1 publish
	}{
		{"qos", []message.Type{message.NonConfirmable, message.Confirmable}},
		{"non", []message.Type{message.NonConfirmable, message.NonConfirmable}},
		{"con", []message.Type{message.Confirmable, message.Confirmable}},
	} {
		t.Run(tc.notify, func(t *testing.T) {
			f := setup(t, `{"notify_type":"`+tc.notify+`"}`, nil)
			c := f.dial()
			o := observe(t, c, "/ps/o/1", query("qos=1")...)
			f.waitObserving(1)
			f.mqttPub("o/1", 0, "zero")
			o.wait(t, 2) // two publishers do not order their messages: one at a time
			f.mqttPub("o/1", 1, "one")
			got := o.wait(t, 3)
			var seq []uint32
			for i, n := range got[1:] {
				body, _ := n.ReadBody()
				obs, err := n.Observe()
				if n.Code() != codes.Content || err != nil || n.Type() != tc.want[i] || string(body) != []string{"zero", "one"}[i] {
					t.Fatalf("notification %d: %v %v type %v %q", i, n.Code(), err, n.Type(), body)
				}
				seq = append(seq, obs)
			}
			if seq[1] <= seq[0] {
				t.Fatalf("observe sequence not increasing: %v", seq)
			}
		})
	}
}

func TestUnobserve(t *testing.T) {
	f := setup(t, "", nil)
	c := f.dial()
	req, err := c.NewGetRequest(ctx(t), "/ps/u/1")
	if err != nil {
		t.Fatal(err)
	}
	req.SetObserve(0)
	req.SetToken([]byte{1, 2, 3})
	if resp, err := c.Do(req); err != nil || resp.Code() != codes.Content {
		t.Fatalf("register: %v", err)
	}
	f.waitObserving(1)
	req, _ = c.NewGetRequest(ctx(t), "/ps/u/1")
	req.SetObserve(1)
	req.SetToken([]byte{4})
	resp, err := c.Do(req)
	if err != nil || resp.Code() != codes.Code(71) { // 2.07, as EMQX
		t.Fatalf("deregister: %v %v", resp.Code(), err)
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		for _, cl := range f.m.Gateway("coap").Clients() {
			if len(cl.Subscriptions()) > 0 {
				return fmt.Errorf("still subscribed")
			}
		}
		return nil
	})
}

func TestConnectionMode(t *testing.T) {
	f := setup(t, `{"connection_required":true}`, nil)
	msgs := f.mqttSub("cm/#")
	c := f.dial()
	if code, body := post(t, c, "/mqtt/connection", nil, false); code != codes.BadRequest || body != "Login Failed: clientid is required" {
		t.Fatalf("no clientid: %v %q", code, body)
	}
	code, token := post(t, c, "/mqtt/connection", nil, false, query("clientid=dev1", "username=u1")...)
	if code != codes.Created || token == "" || strings.Trim(token, "0123456789") != "" {
		t.Fatalf("connect: %v %q", code, token)
	}
	if code, body := post(t, c, "/mqtt/connection", nil, false, query("clientid=dev1")...); code != codes.BadRequest || body != "Bad Request: client has connected" {
		t.Fatalf("second connect: %v %q", code, body)
	}
	if cl := f.m.Gateway("coap").Client("dev1"); cl == nil || cl.Info().Username != "u1" {
		t.Fatalf("client: %v", cl)
	}
	if code, body := post(t, c, "/ps/cm/1", []byte("x"), false); code != codes.BadRequest || body != "Missing token or clientid in connection mode" {
		t.Fatalf("no token: %v %q", code, body)
	}
	if code, _ := post(t, c, "/ps/cm/1", []byte("x"), false, query("c=dev1", "t=1")...); code != codes.Unauthorized {
		t.Fatalf("bad token: %v", code)
	}
	if code, _ := post(t, c, "/ps/cm/1", []byte("ok"), false, query("c=dev1", "t="+token)...); code != codes.Changed {
		t.Fatalf("publish: %v", code)
	}
	if m := recvMQTT(t, msgs); string(m.Payload()) != "ok" {
		t.Fatalf("got %q", m.Payload())
	}
	put, err := c.Put(ctx(t), "/mqtt/connection", message.TextPlain, bytes.NewReader(nil), query("clientid=dev1", "token="+token)...)
	if err != nil || put.Code() != codes.Changed {
		t.Fatalf("heartbeat: %v %v", put.Code(), err)
	}

	// The same clientid and token from a new address take the session over (NAT rebinding).
	moved := f.dial()
	if code, _ := post(t, moved, "/ps/cm/2", []byte("moved"), false, query("clientid=dev1", "token="+token)...); code != codes.Changed {
		t.Fatalf("publish after the move: %v", code)
	}
	if m := recvMQTT(t, msgs); string(m.Payload()) != "moved" {
		t.Fatalf("got %q", m.Payload())
	}
	del, err := moved.Delete(ctx(t), "/mqtt/connection", query("clientid=dev1", "token="+token)...)
	if err != nil || del.Code() != codes.Deleted {
		t.Fatalf("disconnect: %v %v", del.Code(), err)
	}
	if f.m.Gateway("coap").Client("dev1") != nil {
		t.Fatal("still logged in after DELETE")
	}
	if code, _ := post(t, moved, "/ps/cm/1", []byte("x"), false, query("clientid=dev1", "token="+token)...); code != codes.Unauthorized {
		t.Fatalf("token after DELETE: %v", code)
	}
}

func TestConnectionlessClientID(t *testing.T) {
	f := setup(t, "", nil)
	c := f.dial()
	if code, _ := post(t, c, "/ps/cl/1", []byte("x"), false, query("clientid=sensor-9")...); code != codes.Changed {
		t.Fatalf("code %v", code)
	}
	cl := f.m.Gateway("coap").Client("sensor-9")
	if cl == nil || cl.Info().Protocol != "coap" || cl.Info().ProtoName != "CoAP" {
		t.Fatalf("client %v", cl)
	}
}

func TestObserverOutlivesHeartbeatIdleChannelDoesNot(t *testing.T) {
	f := setup(t, `{"heartbeat":"1s"}`, nil)
	watcher := f.dial()
	o := observe(t, watcher, "/ps/hb/1", query("clientid=watcher")...)
	idle := f.dial()
	if code, _ := post(t, idle, "/ps/hb/x", []byte("x"), false, query("clientid=idler")...); code != codes.Changed {
		t.Fatal(code)
	}
	// The idle channel ends after about 1.5 × heartbeat ...
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if f.m.Gateway("coap").Client("idler") != nil {
			return fmt.Errorf("idle channel still there")
		}
		return nil
	})
	time.Sleep(3 * time.Second) // ... while the observer, silent for 3 × heartbeat, stays
	f.mqttPub("hb/1", 0, "still")
	got := o.wait(t, 2)
	if body, _ := got[1].ReadBody(); string(body) != "still" {
		t.Fatalf("got %q", body)
	}
}

func TestBlockwiseUpload(t *testing.T) {
	f := setup(t, "", nil)
	msgs := f.mqttSub("big")
	c := f.dial()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 640) // 10 KiB
	if code, _ := post(t, c, "/ps/big", payload, false); code != codes.Changed {
		t.Fatalf("code %v", code)
	}
	if m := recvMQTT(t, msgs); !bytes.Equal(m.Payload(), payload) {
		t.Fatalf("got %d bytes", len(m.Payload()))
	}
}

func TestMalformedDatagramsAreDropped(t *testing.T) {
	f := setup(t, "", nil)
	raw, err := net.Dial("udp", f.addr("udp:default"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, junk := range [][]byte{{0}, {0xff, 0xff}, {0x40, 0x02, 0x00}, []byte("GET / HTTP/1.1\r\n\r\n")} {
		raw.Write(junk)
	}
	msgs := f.mqttSub("after")
	c := f.dial()
	if code, _ := post(t, c, "/ps/after", []byte("fine"), false); code != codes.Changed {
		t.Fatalf("code %v", code)
	}
	recvMQTT(t, msgs)
}

func TestDTLSWithPSK(t *testing.T) {
	f := setup(t, "", func(c *gateway.Config) {
		l := gatewaytest.Listener(gateway.DTLS, "default")
		l.DTLSOptions = &gateway.TLSConfig{PSK: []gateway.PSKIdentity{{Identity: "dev", Key: "secret"}}}
		c.Listeners = append(c.Listeners, l)
	})
	msgs := f.mqttSub("sec")
	for _, suite := range []piondtls.CipherSuiteID{piondtls.TLS_PSK_WITH_AES_128_CCM_8, piondtls.TLS_PSK_WITH_AES_128_GCM_SHA256} {
		c, err := coapdtls.Dial(f.addr("dtls:default"), &piondtls.Config{
			PSK:             func([]byte) ([]byte, error) { return []byte("secret"), nil },
			PSKIdentityHint: []byte("dev"),
			CipherSuites:    []piondtls.CipherSuiteID{suite},
		})
		if err != nil {
			t.Fatalf("%v: %v", suite, err)
		}
		resp, err := c.Post(ctx(t), "/ps/sec", message.TextPlain, bytes.NewReader([]byte(suite.String())))
		if err != nil || resp.Code() != codes.Changed {
			t.Fatalf("%v: %v", suite, err)
		}
		if m := recvMQTT(t, msgs); string(m.Payload()) != suite.String() {
			t.Fatalf("got %q", m.Payload())
		}
		c.Close()
	}
}

func TestSettingsValidation(t *testing.T) {
	p := coap.New()
	for _, s := range []string{`{"notify_type":"sometimes"}`, `{"publish_qos":"qos3"}`, `{"heartbeat":"10ms"}`, `{"extra":1}`} {
		if _, err := p.ParseSettings([]byte(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// TestLibcoapPSKHandshake: libcoap's client (as deployed devices use it) completes a DTLS
// PSK handshake with the listener and publishes.
func TestLibcoapPSKHandshake(t *testing.T) {
	bin, err := exec.LookPath("coap-client-openssl")
	if err != nil {
		t.Skip("coap-client-openssl not installed (apt-get install libcoap3-bin; .ci/run installs it)")
	}
	f := setup(t, "", func(c *gateway.Config) {
		l := gatewaytest.Listener(gateway.DTLS, "default")
		l.DTLSOptions = &gateway.TLSConfig{PSK: []gateway.PSKIdentity{{Identity: "libcoap-dev", Key: "s3cret"}}}
		c.Listeners = append(c.Listeners, l)
	})
	msgs := f.mqttSub("lib/psk")
	out, err := exec.Command(bin, "-B", "5", "-u", "libcoap-dev", "-k", "s3cret", "-m", "post", "-e", "from-libcoap",
		"coaps://"+f.addr("dtls:default")+"/ps/lib/psk").CombinedOutput()
	if err != nil {
		t.Fatalf("coap-client: %v: %s", err, out)
	}
	if m := recvMQTT(t, msgs); string(m.Payload()) != "from-libcoap" {
		t.Fatalf("got %q (client said %s)", m.Payload(), out)
	}
}

func TestRequestToDevice(t *testing.T) {
	f := setup(t, "", nil)
	router := mux.NewRouter()
	router.Handle("/3/0", mux.HandlerFunc(func(w mux.ResponseWriter, r *mux.Message) {
		body, _ := r.ReadBody()
		w.SetResponse(codes.Content, message.AppJSON, bytes.NewReader(append([]byte(`{"got":"`+r.Code().String()+`","body":"`), append(body, '"', '}')...)))
	}))
	device, err := udp.Dial(f.addr("udp:default"), options.WithMux(router))
	if err != nil {
		t.Fatal(err)
	}
	defer device.Close()
	if code, _ := post(t, device, "/ps/hello", []byte("up"), false, query("clientid=dev-1")...); code != codes.Changed {
		t.Fatal(code)
	}
	rt := f.m.Gateway("coap")
	resp, err := rt.Request(context.Background(), "dev-1", gateway.DeviceRequest{
		Method: "put", Path: "/3/0", ContentType: "text/plain", Payload: []byte("v"), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != "2.05" || resp.ContentType != "application/json" || string(resp.Payload) != `{"got":"PUT","body":"v"}` {
		t.Fatalf("got %+v %s", resp, resp.Payload)
	}
	if _, err := rt.Request(context.Background(), "nobody", gateway.DeviceRequest{Method: "get", Path: "/"}); !errors.Is(err, gateway.ErrClientNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
	if _, err := rt.Request(context.Background(), "dev-1", gateway.DeviceRequest{Method: "patch", Path: "/"}); err == nil {
		t.Fatal("bad method accepted")
	}

	// A device that never answers: a raw socket that published once (NON POST /ps/q).
	silent, err := net.Dial("udp", f.addr("udp:default"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// NON POST, mid 1, Uri-Path "ps" "q", Uri-Query "clientid=mute" (RFC 7252 §3.1: length
	// 13 is nibble 13 plus an extended byte of 0).
	silent.Write([]byte{0x50, 0x02, 0, 1, 0xb2, 'p', 's', 0x01, 'q', 0x4d, 0x00, 'c', 'l', 'i', 'e', 'n', 't', 'i', 'd', '=', 'm', 'u', 't', 'e'})
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if rt.Client("mute") == nil {
			return errors.New("mute not logged in")
		}
		return nil
	})
	if _, err := rt.Request(context.Background(), "mute", gateway.DeviceRequest{Method: "get", Path: "/x", Timeout: 500 * time.Millisecond}); !errors.Is(err, gateway.ErrNoResponse) {
		t.Fatalf("silent device: %v", err)
	}
}

// TestLibcoapBlockwiseNotification: a notification larger than a block reaches libcoap's
// client whole: block 0 is the notification, the rest it fetches with GET Block2 (RFC 7959
// §2.6).
func TestLibcoapBlockwiseNotification(t *testing.T) {
	bin, err := exec.LookPath("coap-client-openssl")
	if err != nil {
		t.Skip("coap-client-openssl not installed (apt-get install libcoap3-bin; .ci/run installs it)")
	}
	f := setup(t, "", nil)
	cmd := exec.Command(bin, "-B", "8", "-s", "6", "-m", "get", "coap://"+f.addr("udp:default")+"/ps/bigdown")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	f.waitObserving(1)
	payload := strings.Repeat("y", 3000)
	f.mqttPub("bigdown", 0, payload)
	cmd.Wait()
	if !strings.Contains(out.String(), payload) {
		t.Fatalf("libcoap did not get the 3000-byte notification whole: %.300s", out.String())
	}
}

// TestObserverThatNeverAcknowledgesIsDropped: CON notifications are retransmitted; an
// observer that acknowledges none of them is dropped and the message counted as dropped.
func TestObserverThatNeverAcknowledgesIsDropped(t *testing.T) {
	f := setup(t, `{"notify_type":"con","ack_timeout":"50ms","max_retransmit":1}`, nil)
	raw, err := net.Dial("udp", f.addr("udp:default"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// CON GET, mid 7, token 01, Observe 0, Uri-Path "ps" "nack" (RFC 7252 §3, RFC 7641 §2).
	raw.Write([]byte{0x41, 0x01, 0x00, 0x07, 0x01, 0x60, 0x52, 'p', 's', 0x04, 'n', 'a', 'c', 'k'})
	buf := make([]byte, 512)
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := raw.Read(buf); err != nil || n < 4 || buf[0]>>4&0x3 != 2 || buf[1] != 0x45 { // ACK 2.05
		t.Fatalf("registration answer % x: %v", buf[:n], err)
	}
	f.waitObserving(1)
	f.mqttPub("nack", 1, "one")
	sent := 0
	for {
		raw.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := raw.Read(buf)
		if err != nil {
			break // the gateway gave up
		}
		if n > 4 && buf[0]>>4&0x3 == 0 && buf[1] == 0x45 { // CON 2.05: the notification (again)
			sent++
		}
	}
	if sent != 2 { // the notification and one retransmission
		t.Fatalf("notification sent %d times, want 2", sent)
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		st := f.m.Status()[0]
		if st.Counters.Dropped != 1 {
			return fmt.Errorf("dropped %d", st.Counters.Dropped)
		}
		for _, c := range f.m.Gateway("coap").Clients() {
			if len(c.Subscriptions()) > 0 {
				return errors.New("the observer is still subscribed")
			}
		}
		return nil
	})
}
