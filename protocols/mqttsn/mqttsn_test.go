package mqttsn_test

// The datagrams in these tests are written out by hand from the MQTT-SN 1.2 specification
// (section 5.4), not produced by our encoder: length, MsgType, then the fields.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/pion/dtls/v3"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/protocols/mqttsn"
)

type fixture struct {
	t        testing.TB
	m        *gateway.Manager
	mqttAddr string
}

// setup starts a broker and an MQTT-SN gateway with one udp listener on loopback.
func setup(t testing.TB, settings string, mutate func(*gateway.Config), deps ...func(*gateway.Deps)) *fixture {
	t.Helper()
	b, mqttAddr := gatewaytest.StartBroker(t)
	cfg := gateway.DefaultConfig("mqttsn")
	cfg.Listeners = []gateway.ListenerConfig{gatewaytest.Listener(gateway.UDP, "default")}
	if settings != "" {
		cfg.Settings = []byte(settings)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	d := gateway.Deps{Broker: b, Node: "xgate@test"}
	for _, f := range deps {
		f(&d)
	}
	m := gatewaytest.StartManagerDeps(t, d, gateway.Snapshot{Gateways: []gateway.Config{cfg}}, mqttsn.New())
	return &fixture{t: t, m: m, mqttAddr: mqttAddr}
}

func (f *fixture) addr(key string) net.Addr {
	a := f.m.Gateway("mqttsn").Addr(key)
	if a == nil {
		f.t.Fatalf("listener %s not running", key)
	}
	return a
}

// sn is an MQTT-SN client socket driven datagram by datagram.
type sn struct {
	t testing.TB
	c net.Conn
}

func (f *fixture) dial() *sn {
	f.t.Helper()
	c, err := net.Dial("udp", f.addr("udp:default").String())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return &sn{t: f.t, c: c}
}

// unhex turns "08 04 04 01 00 3c 63 31" into bytes.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func (c *sn) send(h string) {
	c.t.Helper()
	if _, err := c.c.Write(unhex(c.t, h)); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next datagram as spaced hex, or "" after d.
func (c *sn) recv(d time.Duration) string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 2048)
	n, err := c.c.Read(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return ""
		}
		c.t.Fatalf("read: %v", err)
	}
	return spaced(buf[:n])
}

func spaced(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, " ")
}

// expect reads the next datagram and compares it with the hex (a trailing "*" matches any
// rest).
func (c *sn) expect(want string) string {
	c.t.Helper()
	got := c.recv(5 * time.Second)
	if got == "" {
		c.t.Fatalf("no datagram, want %s", want)
	}
	if prefix, ok := strings.CutSuffix(want, "*"); ok {
		if !strings.HasPrefix(got, strings.TrimSpace(prefix)) {
			c.t.Fatalf("got %s, want %s", got, want)
		}
		return got
	}
	if got != want {
		c.t.Fatalf("got %s, want %s", got, want)
	}
	return got
}

func (c *sn) expectNothing(d time.Duration) {
	c.t.Helper()
	if got := c.recv(d); got != "" {
		c.t.Fatalf("unexpected datagram %s", got)
	}
}

// connect sends CONNECT (CleanSession per clean, Duration keepalive seconds) for clientID
// and expects CONNACK accepted.
func (c *sn) connect(clientID string, clean bool, keepalive uint16) {
	c.t.Helper()
	flags := "00"
	if clean {
		flags = "04"
	}
	c.send(fmt.Sprintf("%02x 04 %s 01 %04x %x", 6+len(clientID), flags, keepalive, clientID))
	c.expect("03 05 00")
}

func (f *fixture) mqtt(id string) paho.Client { return gatewaytest.MQTTClient(f.t, f.mqttAddr, id) }

func (f *fixture) mqttSub(filter string) <-chan paho.Message {
	return gatewaytest.MQTTSubscribe(f.t, f.mqtt("sub-"+filter), filter, 1)
}

func (f *fixture) mqttPub(topic string, qos byte, payload string) {
	gatewaytest.MQTTPublish(f.t, f.mqtt(fmt.Sprint("pub-", topic, time.Now().UnixNano())), topic, qos, payload)
}

func recvMQTT(t *testing.T, ch <-chan paho.Message, topic, payload string) {
	t.Helper()
	if m := gatewaytest.MQTTReceive(t, ch); m.Topic() != topic || string(m.Payload()) != payload {
		t.Fatalf("MQTT got %s %q, want %s %q", m.Topic(), m.Payload(), topic, payload)
	}
}

func noMQTT(t *testing.T, ch <-chan paho.Message, d time.Duration) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("MQTT got %s %q", m.Topic(), m.Payload())
	case <-time.After(d):
	}
}

// waitSubscribed waits until the broker side of n subscriptions is in place.
func (f *fixture) waitSubscribed(clientID string, n int) {
	f.t.Helper()
	gatewaytest.WaitFor(f.t, 5*time.Second, func() error {
		c := f.m.Gateway("mqttsn").Client(clientID)
		if c == nil || len(c.Subscriptions()) < n {
			return fmt.Errorf("%s has not %d subscriptions", clientID, n)
		}
		return nil
	})
}

// waitDelivered waits until the gateway's sessions have taken n messages from the broker.
func (f *fixture) waitDelivered(n int64) {
	f.t.Helper()
	gatewaytest.WaitFor(f.t, 5*time.Second, func() error {
		if got := f.m.Status()[0].Counters.MessagesOut; got < n {
			return fmt.Errorf("%d of %d messages handed to sessions", got, n)
		}
		return nil
	})
}

func TestConnectRegisterPublish(t *testing.T) {
	f := setup(t, "", nil)
	msgs := f.mqttSub("a/#")
	c := f.dial()
	c.send("08 04 04 01 00 3c 63 31") // CONNECT clean, Duration 60, "c1"
	c.expect("03 05 00")              // CONNACK accepted

	c.send("09 0a 00 00 00 01 61 2f 62") // REGISTER id 0, msg 1, "a/b"
	c.expect("07 0b 04 01 00 01 00")     // REGACK id 1025, msg 1, accepted
	c.send("09 0a 00 00 00 02 61 2f 62") // the same name again: the same id
	c.expect("07 0b 04 01 00 02 00")

	c.send("09 0c 00 04 01 00 00 68 30") // PUBLISH QoS 0, topic 1025, "h0"
	recvMQTT(t, msgs, "a/b", "h0")
	c.send("09 0c 20 04 01 00 03 68 31") // QoS 1, msg 3
	c.expect("07 0d 04 01 00 03 00")     // PUBACK accepted
	recvMQTT(t, msgs, "a/b", "h1")
	c.send("09 0c 40 04 01 00 04 68 32") // QoS 2, msg 4
	c.expect("04 0f 00 04")              // PUBREC
	c.send("09 0c c0 04 01 00 04 68 32") // DUP retransmission: not published twice
	c.expect("04 0f 00 04")
	c.send("04 10 00 04") // PUBREL
	c.expect("04 0e 00 04")
	recvMQTT(t, msgs, "a/b", "h2")
	noMQTT(t, msgs, 100*time.Millisecond)

	c.send("09 0c 20 04 09 00 05 68 33") // unknown topic id 1033
	c.expect("07 0d 04 09 00 05 02")     // PUBACK invalid topic id
	c.send("09 0c 62 61 2f 00 00 68 34") // QoS -1, short topic "a/"
	recvMQTT(t, msgs, "a/", "h4")
	c.send("09 0a 00 00 00 06 61 2f 2b") // REGISTER of a wildcard
	c.expect("07 0b 00 00 00 06 03")     // not supported

	c.send("02 16") // PINGREQ
	c.expect("02 17")
	c.send("02 18") // DISCONNECT
	c.expect("02 18")
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if f.m.Gateway("mqttsn").Client("c1") != nil {
			return errors.New("c1 still logged in")
		}
		return nil
	})
}

func TestQoSMinusOneWithoutConnect(t *testing.T) {
	f := setup(t, `{"predefined":[{"id":7,"topic":"pre/seven"}]}`, nil)
	msgs := f.mqttSub("#")
	c := f.dial()
	c.send("09 0c 62 71 33 00 00 68 69") // QoS -1, short "q3", "hi"
	recvMQTT(t, msgs, "q3", "hi")
	c.send("09 0c 61 00 07 00 00 68 69") // QoS -1, predefined 7
	recvMQTT(t, msgs, "pre/seven", "hi")
	c.send("09 0c 60 04 01 00 00 68 69") // a normal id means nothing without a session
	noMQTT(t, msgs, 200*time.Millisecond)
	if n := len(f.m.Gateway("mqttsn").Clients()); n != 0 {
		t.Fatalf("%d clients registered by QoS -1 publishes", n)
	}

	g := setup(t, `{"enable_qos3":false}`, nil)
	d := g.dial()
	d.send("09 0c 62 71 33 00 00 68 69")
	d.expect("07 0d 71 33 00 00 03") // PUBACK not supported
}

type denyPrefix string

func (d denyPrefix) Authorize(_ context.Context, _ *authn.Client, r authn.Request) authn.Verdict {
	return authn.Verdict{Allowed: !strings.HasPrefix(r.Topic, string(d))}
}

func TestAuthorizationApplies(t *testing.T) {
	f := setup(t, "", nil, func(d *gateway.Deps) { d.Authorizer = denyPrefix("deny/") })
	msgs := f.mqttSub("#")
	c := f.dial()
	c.send("09 0c 62 64 65 00 00 68 69") // QoS -1 "de": allowed
	recvMQTT(t, msgs, "de", "hi")
	c.connect("az", true, 60)
	c.send("0c 0a 00 00 00 01 64 65 6e 79 2f 78") // REGISTER "deny/x"
	c.expect("07 0b 04 01 00 01 00")
	c.send("09 0c 20 04 01 00 02 68 69")       // QoS 1 to deny/x
	c.expect("07 0d 04 01 00 02 80")           // PUBACK not authorized
	c.send("0b 12 00 00 03 64 65 6e 79 2f 23") // SUBSCRIBE "deny/#"
	c.expect("08 13 00 00 00 00 03 80")        // SUBACK not authorized
	noMQTT(t, msgs, 100*time.Millisecond)
}

func TestSubscribeKindsAndDownlink(t *testing.T) {
	f := setup(t, `{"predefined":[{"id":1,"topic":"pre/one"}]}`, nil)
	c := f.dial()
	c.connect("s1", true, 60)

	c.send("08 12 20 00 01 73 2f 31")   // SUBSCRIBE QoS 1, normal "s/1", msg 1
	c.expect("08 13 20 04 01 00 01 00") // SUBACK QoS 1, id 1025
	c.send("07 12 01 00 02 00 01")      // SUBSCRIBE QoS 0, predefined 1
	c.expect("08 13 00 00 01 00 02 00")
	c.send("07 12 02 00 03 61 62")      // SUBSCRIBE QoS 0, short "ab"
	c.expect("08 13 00 00 00 00 03 00") // topic id 0 for short topics
	c.send("08 12 00 00 04 77 2f 2b")   // SUBSCRIBE QoS 0, wildcard "w/+"
	c.expect("08 13 00 00 00 00 04 00") // topic id 0; REGISTER comes with the first message
	c.send("07 12 01 00 05 00 09")      // predefined 9 is not configured
	c.expect("08 13 00 00 00 00 05 02") // invalid topic id
	f.waitSubscribed("s1", 4)

	f.mqttPub("s/1", 1, "n1")
	got := c.expect("09 0c 20 04 01 *") // PUBLISH QoS 1, id 1025, msg id
	msgID := got[15:20]
	if !strings.HasSuffix(got, "6e 31") {
		t.Fatalf("payload: %s", got)
	}
	c.send("07 0d 04 01 " + msgID + " 00") // PUBACK

	f.mqttPub("pre/one", 0, "p1")
	c.expect("09 0c 01 00 01 00 00 70 31") // predefined id 1, msg id 0 for QoS 0
	f.mqttPub("ab", 0, "s2")
	c.expect("09 0c 02 61 62 00 00 73 32") // short topic "ab"

	f.mqttPub("w/x", 0, "w1")
	reg := c.expect("09 0a 04 02 *") // REGISTER id 1026, msg id, "w/x"
	if !strings.HasSuffix(reg, "77 2f 78") {
		t.Fatalf("REGISTER %s", reg)
	}
	c.expectNothing(100 * time.Millisecond) // the PUBLISH waits for the REGACK
	c.send("07 0b 04 02 " + reg[12:17] + " 00")
	c.expect("09 0c 00 04 02 00 00 77 31")
	f.mqttPub("w/x", 0, "w2") // now registered: no second REGISTER
	c.expect("09 0c 00 04 02 00 00 77 32")

	c.send("08 14 00 00 06 77 2f 2b") // UNSUBSCRIBE "w/+"
	c.expect("04 15 00 06")
	c.send("09 14 00 00 07 6e 6f 2f 74") // UNSUBSCRIBE of something never subscribed
	c.expect("04 15 00 07")
	f.mqttPub("w/x", 0, "w3")
	c.expectNothing(200 * time.Millisecond)
}

func TestDownlinkRetransmissionAndReregister(t *testing.T) {
	f := setup(t, `{"retry_interval":"150ms","max_retries":2}`, nil)
	c := f.dial()
	c.connect("r1", true, 60)
	c.send("08 12 20 00 01 72 2f 31") // SUBSCRIBE QoS 1 "r/1"
	c.expect("08 13 20 04 01 00 01 00")
	f.waitSubscribed("r1", 1)

	f.mqttPub("r/1", 1, "a")
	first := c.expect("08 0c 20 04 01 *")
	msgID := first[15:20]
	again := c.expect("08 0c a0 04 01 " + msgID + " 61") // DUP set, same msg id
	_ = again
	// PUBACK "invalid topic id": the gateway registers the topic again, then resends.
	c.send("07 0d 04 01 " + msgID + " 02")
	reg := c.expect("09 0a *")
	if !strings.HasSuffix(reg, "72 2f 31") {
		t.Fatalf("REGISTER %s", reg)
	}
	c.send("07 0b " + reg[6:11] + " " + reg[12:17] + " 00")
	pub := c.expect("08 0c 20 " + reg[6:11] + " *")
	c.send("07 0d " + reg[6:11] + " " + pub[15:20] + " 00")
	c.expectNothing(300 * time.Millisecond)

	// A client that never acknowledges is dropped after max_retries.
	f.mqttPub("r/1", 1, "b")
	for {
		got := c.recv(3 * time.Second)
		if got == "" {
			t.Fatal("no DISCONNECT after the last retry")
		}
		if got == "02 18" {
			break
		}
	}
}

func TestRegisterRetriedThenDisconnect(t *testing.T) {
	f := setup(t, `{"retry_interval":"100ms"}`, nil)
	c := f.dial()
	c.connect("g1", true, 60)
	c.send("08 12 00 00 01 67 2f 2b") // SUBSCRIBE "g/+"
	c.expect("08 13 00 00 00 00 01 00")
	f.waitSubscribed("g1", 1)
	f.mqttPub("g/1", 0, "x")
	first := c.expect("09 0a *")
	for range 3 { // EMQX: retried 3 times, then DISCONNECT
		if got := c.expect("09 0a *"); got != first {
			t.Fatalf("retry %s differs from %s", got, first)
		}
	}
	c.expect("02 18")
}

func TestSleepAndWake(t *testing.T) {
	f := setup(t, "", nil)
	c := f.dial()
	c.connect("z1", true, 60)
	c.send("08 12 00 00 01 7a 2f 74") // SUBSCRIBE "z/t"
	c.expect("08 13 00 04 01 00 01 00")
	f.waitSubscribed("z1", 1)
	c.send("04 18 00 0a") // DISCONNECT, sleep 10 s
	c.expect("02 18")
	f.mqttPub("z/t", 0, "m1")
	f.mqttPub("z/t", 0, "m2")
	f.waitDelivered(2)
	c.expectNothing(100 * time.Millisecond) // asleep: buffered
	c.send("04 16 7a 31")                   // PINGREQ "z1": awake
	c.expect("09 0c 00 04 01 00 00 6d 31")
	c.expect("09 0c 00 04 01 00 00 6d 32")
	c.expect("02 17") // PINGRESP once the buffer is empty: asleep again
	f.mqttPub("z/t", 0, "m3")
	c.expectNothing(200 * time.Millisecond)
	c.send("08 04 04 01 00 3c 7a 31") // CONNECT again: active
	c.expect("03 05 00")
}

func TestSleepTimeoutEndsSession(t *testing.T) {
	f := setup(t, "", nil)
	c := f.dial()
	c.connect("z2", true, 60)
	c.send("04 18 00 01") // sleep 1 s
	c.expect("02 18")
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if f.m.Gateway("mqttsn").Client("z2") != nil {
			return errors.New("still there")
		}
		return nil
	})
}

func TestWill(t *testing.T) {
	f := setup(t, "", nil, func(d *gateway.Deps) { d.Authorizer = denyPrefix("deny/") })
	msgs := f.mqttSub("will/#")
	denied := f.mqttSub("deny/#")

	connectWithWill := func(clientID, topic string, keepalive uint16) *sn {
		c := f.dial()
		c.send(fmt.Sprintf("%02x 04 0c 01 %04x %x", 6+len(clientID), keepalive, clientID)) // Will + clean
		c.expect("02 06")                                                                  // WILLTOPICREQ
		c.send(fmt.Sprintf("%02x 07 20 %x", 3+len(topic), topic))                          // WILLTOPIC QoS 1
		c.expect("02 08")                                                                  // WILLMSGREQ
		c.send("05 09 62 79 65")                                                           // WILLMSG "bye"
		c.expect("03 05 00")
		return c
	}
	// Keepalive timeout publishes the will.
	a := connectWithWill("w1", "will/w1", 1)
	recvMQTT(t, msgs, "will/w1", "bye")
	a.expect("02 18") // the gateway says DISCONNECT on the timeout

	// A clean DISCONNECT does not.
	b := connectWithWill("w2", "will/w2", 60)
	b.send("02 18")
	b.expect("02 18")
	noMQTT(t, msgs, 300*time.Millisecond)

	// WILLTOPICUPD / WILLMSGUPD change it; the will is authorized like any publish.
	c := connectWithWill("w3", "will/w3", 1)
	c.send("09 1a 00 64 65 6e 79 2f 77") // WILLTOPICUPD "deny/w"
	c.expect("03 1b 00")
	c.send("05 1c 6e 65 77") // WILLMSGUPD "new"
	c.expect("03 1d 00")
	c.expect("02 18") // keepalive timeout
	noMQTT(t, denied, 300*time.Millisecond)

	// An empty WILLTOPIC means no will.
	d := f.dial()
	d.send("08 04 0c 01 00 3c 77 34")
	d.expect("02 06")
	d.send("02 07")
	d.expect("03 05 00")
}

func TestDuplicateClientIDAndNATRebinding(t *testing.T) {
	f := setup(t, "", nil)
	first := f.dial()
	first.connect("dup", false, 60)
	first.send("08 12 00 00 01 6e 2f 31") // SUBSCRIBE "n/1"
	first.expect("08 13 00 04 01 00 01 00")
	f.waitSubscribed("dup", 1)

	// Same clientid, CleanSession=0, from another address: the session moves, the old
	// address is told DISCONNECT, the subscription is kept.
	second := f.dial()
	second.connect("dup", false, 60)
	first.expect("02 18")
	f.mqttPub("n/1", 0, "moved")
	second.expect("0c 0c 00 04 01 00 00 6d 6f 76 65 64")
	first.expectNothing(100 * time.Millisecond)

	// CleanSession=1: a fresh session; the old subscription is gone.
	third := f.dial()
	third.connect("dup", true, 60)
	second.expect("02 18")
	f.mqttPub("n/1", 0, "gone")
	third.expectNothing(200 * time.Millisecond)
	if n := len(f.m.Gateway("mqttsn").Clients()); n != 1 {
		t.Fatalf("%d clients", n)
	}
}

func TestSleepingClientWakesFromNewAddress(t *testing.T) {
	f := setup(t, "", nil)
	c := f.dial()
	c.connect("z3", true, 60)
	c.send("08 12 00 00 01 7a 2f 33") // SUBSCRIBE "z/3"
	c.expect("08 13 00 04 01 00 01 00")
	f.waitSubscribed("z3", 1)
	c.send("04 18 00 1e")
	c.expect("02 18")
	f.mqttPub("z/3", 0, "q")
	f.waitDelivered(1)
	moved := f.dial() // the NAT gave the client a new port
	moved.send("04 16 7a 33")
	moved.expect("08 0c 00 04 01 00 00 71")
	moved.expect("02 17")
}

func TestCleanSessionZeroKeepsQueueWhileAway(t *testing.T) {
	f := setup(t, `{"subs_resume":true}`, nil)
	c := f.dial()
	c.connect("k1", false, 1)
	c.send("08 12 00 00 01 6b 2f 31") // SUBSCRIBE "k/1"
	c.expect("08 13 00 04 01 00 01 00")
	f.waitSubscribed("k1", 1)
	c.expect("02 18") // keepalive timeout: the client is lost, its session kept
	f.mqttPub("k/1", 0, "kept")
	f.waitDelivered(1)
	back := f.dial()
	back.connect("k1", false, 60)
	reg := back.expect("09 0a 04 01 *") // subs_resume: REGISTER before the replay
	back.send("07 0b 04 01 " + reg[12:17] + " 00")
	back.expect("0b 0c 00 04 01 00 00 6b 65 70 74")
}

func TestSearchGWAndMalformed(t *testing.T) {
	f := setup(t, `{"gateway_id":9}`, nil)
	c := f.dial()
	c.send("03 01 00")   // SEARCHGW radius 0
	c.expect("03 02 09") // GWINFO gateway 9
	for _, junk := range []string{"00", "ff 0c 00", "01 00 04", "de ad be ef", "05 04 04 01"} {
		c.send(junk)
	}
	c.connect("ok", true, 60)
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if n := f.m.Status()[0].Counters.Malformed; n != 5 {
			return fmt.Errorf("%d malformed counted", n)
		}
		return nil
	})
}

func TestBroadcastAdvertise(t *testing.T) {
	// The ADVERTISE goes to the listener's own port at broadcast_address: aim it at a
	// loopback listener bound to a fixed free port and read it there.
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	f := setup(t, `{"broadcast":true,"broadcast_interval":"1s","broadcast_address":"127.0.0.1","gateway_id":3}`,
		func(c *gateway.Config) { c.Listeners[0].Bind = fmt.Sprintf("127.0.0.2:%d", port) })
	_ = f
	rx, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, _, err := rx.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := spaced(buf[:n]); got != "05 00 03 00 01" { // ADVERTISE gw 3, Duration 1 s
		t.Fatalf("got %s", got)
	}
}

func TestDTLS(t *testing.T) {
	certs := gatewaytest.Certs(t)
	f := setup(t, "", func(c *gateway.Config) {
		l := gatewaytest.Listener(gateway.DTLS, "default")
		l.DTLSOptions = certs
		l.DTLSOptions.PSK = []gateway.PSKIdentity{{Identity: "node7", Key: "psk-secret"}}
		c.Listeners = append(c.Listeners, l)
	})
	msgs := f.mqttSub("d/")
	addr := f.addr("dtls:default").(*net.UDPAddr)
	for _, tc := range []struct {
		name string
		cfg  *dtls.Config
	}{
		{"certificate", &dtls.Config{InsecureSkipVerify: true}},
		{"psk ccm8", &dtls.Config{PSK: func([]byte) ([]byte, error) { return []byte("psk-secret"), nil },
			PSKIdentityHint: []byte("node7"), CipherSuites: []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8}}},
		{"psk gcm", &dtls.Config{PSK: func([]byte) ([]byte, error) { return []byte("psk-secret"), nil },
			PSKIdentityHint: []byte("node7"), CipherSuites: []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_GCM_SHA256}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := dtls.Dial("udp", addr, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c := &sn{t: t, c: conn}
			c.connect("dt", true, 60)
			c.send("09 0c 62 64 2f 00 00 68 69") // QoS -1 short "d/" while connected: QoS 0
			recvMQTT(t, msgs, "d/", "hi")
			c.send("08 12 00 00 01 64 2f 31") // SUBSCRIBE "d/1"
			c.expect("08 13 00 04 01 00 01 00")
			f.waitSubscribed("dt", 1)
			f.mqttPub("d/1", 0, "x")
			c.expect("08 0c 00 04 01 00 00 78")
			c.send("02 18")
			// The gateway answers DISCONNECT and closes the session; pion's client Read picks
			// at random between data and a close that arrive together, so the answer may be
			// lost on this side: EOF is the same end.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			if n, err := conn.Read(buf); err != io.EOF && (err != nil || spaced(buf[:n]) != "02 18") {
				t.Fatalf("after DISCONNECT: %q %v", spaced(buf[:n]), err)
			}
		})
	}
}

func TestSettingsValidation(t *testing.T) {
	p := mqttsn.New()
	for _, s := range []string{
		`{"predefined":[{"id":0,"topic":"a"}]}`,
		`{"predefined":[{"id":1025,"topic":"a"}]}`,
		`{"predefined":[{"id":1,"topic":"a/#"}]}`,
		`{"predefined":[{"id":1,"topic":"a"},{"id":2,"topic":"a"}]}`,
		`{"max_inflight":0}`,
		`{"broadcast":true,"broadcast_address":"nowhere"}`,
		`{"gateway_idx":1}`,
	} {
		if _, err := p.ParseSettings([]byte(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	if _, err := p.ParseSettings(nil); err != nil {
		t.Fatal(err)
	}
}

func TestMaxConnectionsOnUDP(t *testing.T) {
	f := setup(t, "", func(c *gateway.Config) { c.Listeners[0].MaxConnections = 1 })
	f.dial().connect("one", true, 60)
	second := f.dial()
	second.send("08 04 04 01 00 3c 63 32")
	second.expectNothing(300 * time.Millisecond)
}

func TestUnfinishedWillHandshakeTimesOut(t *testing.T) {
	f := setup(t, "", func(c *gateway.Config) { c.IdleTimeout = gateway.Duration(100 * time.Millisecond) })
	c := f.dial()
	c.send("08 04 0c 01 00 3c 68 31") // CONNECT with Will, then silence
	c.expect("02 06")
	time.Sleep(400 * time.Millisecond) // let idle_timeout pass: the behaviour under test
	// The session is gone: a WILLTOPIC now comes from an unknown address and gets nothing
	// (a waiting session would answer WILLMSGREQ).
	c.send("09 07 00 77 69 6c 6c 2f 74")
	c.expectNothing(200 * time.Millisecond)
}

func TestDownlinkQoS2AndInflightWindow(t *testing.T) {
	f := setup(t, `{"max_inflight":1}`, nil)
	c := f.dial()
	c.connect("q2", true, 60)
	c.send("08 12 40 00 01 71 2f 32") // SUBSCRIBE QoS 2 "q/2"
	c.expect("08 13 40 04 01 00 01 00")
	f.waitSubscribed("q2", 1)
	f.mqttPub("q/2", 2, "a")
	f.mqttPub("q/2", 2, "b")
	first := c.expect("08 0c 40 04 01 *") // PUBLISH QoS 2
	id := first[15:20]
	if !strings.HasSuffix(first, " 61") {
		t.Fatalf("first %s", first)
	}
	c.expectNothing(150 * time.Millisecond) // window of 1: "b" waits
	c.send("04 0f " + id)                   // PUBREC
	c.expect("04 10 " + id)                 // PUBREL
	c.expectNothing(100 * time.Millisecond) // still in flight until PUBCOMP
	c.send("04 0e " + id)                   // PUBCOMP
	second := c.expect("08 0c 40 04 01 *")
	if !strings.HasSuffix(second, " 62") || second[15:20] == id {
		t.Fatalf("second %s", second)
	}
}

// refuseUser is an authenticator that denies one username and allows everyone else.
type refuseUser string

func (r refuseUser) Authenticate(_ context.Context, c *authn.Client) (authn.Decision, error) {
	if c.Username == string(r) {
		return authn.Deny, nil
	}
	return authn.Allow, nil
}

func TestAuthenticationFromClientInfoOverride(t *testing.T) {
	f := setup(t, "", func(c *gateway.Config) {
		c.Authentication = []byte(`{"mechanism":"test"}`)
		c.ClientInfoOverride = &gateway.ClientInfoOverride{Username: "${ClientInfo.clientid}"}
	}, func(d *gateway.Deps) {
		d.Authn = func(gateway.AuthnRef, json.RawMessage) (authn.Authenticator, error) {
			return refuseUser("intruder"), nil
		}
	})
	msgs := f.mqttSub("#")
	ok := f.dial()
	ok.connect("friend", true, 60)
	bad := f.dial()
	bad.send("0e 04 04 01 00 3c 69 6e 74 72 75 64 65 72") // CONNECT "intruder"
	bad.expect("03 05 80")                                // CONNACK not authorized
	if f.m.Gateway("mqttsn").Client("intruder") != nil {
		t.Fatal("refused client registered")
	}
	// A QoS -1 publish without a session is authenticated too when an authenticator is set:
	// the override makes its username "NegQoS-Client", which this authenticator allows.
	bad.send("09 0c 62 71 33 00 00 68 69")
	recvMQTT(t, msgs, "q3", "hi")
}

// TestOperatorSubscription: a subscription the operator adds (the API) is the session's
// own: the first message on its topic is REGISTERed, then delivered, and the operator can
// remove it again.
func TestOperatorSubscription(t *testing.T) {
	f := setup(t, "", nil)
	c := f.dial()
	c.connect("op1", true, 60)
	cl := f.m.Gateway("mqttsn").Client("op1")
	sm, ok := cl.Session().(gateway.SubscriptionManager)
	if !ok {
		t.Fatal("the MQTT-SN session is not a SubscriptionManager")
	}
	ctx := context.Background()
	if err := sm.AddSubscription(ctx, "op/t", 1, ""); err != nil {
		t.Fatal(err)
	}
	if subs := cl.Subscriptions(); len(subs) != 1 || subs[0].Filter != "op/t" || subs[0].QoS != 1 {
		t.Fatalf("subscriptions %v", subs)
	}

	f.mqttPub("op/t", 1, "hi")
	c.expect("0a 0a 04 01 00 01 6f 70 2f 74") // REGISTER id 1025, msg 1, "op/t"
	c.send("07 0b 04 01 00 01 00")            // REGACK
	c.expect("09 0c 20 04 01 00 02 68 69")    // PUBLISH QoS 1, msg 2, "hi"
	c.send("07 0d 04 01 00 02 00")            // PUBACK
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if n := cl.Counters().MessagesOut; n != 1 {
			return fmt.Errorf("%d messages out", n)
		}
		return nil
	})

	if err := sm.RemoveSubscription(ctx, "op/t"); err != nil {
		t.Fatal(err)
	}
	if err := sm.RemoveSubscription(ctx, "op/t"); !errors.Is(err, gateway.ErrNoSubscription) {
		t.Fatalf("second removal: %v", err)
	}
	if subs := cl.Subscriptions(); len(subs) != 0 {
		t.Fatalf("subscriptions %v", subs)
	}

	c.send("02 18") // DISCONNECT: the session is gone
	c.expect("02 18")
	if err := sm.AddSubscription(ctx, "op/u", 0, ""); !errors.Is(err, gateway.ErrNotLoggedIn) {
		t.Fatalf("subscribe after the session ended: %v", err)
	}
}

// TestCleanStartReported: CleanSession=0 is what the API reports as clean_start=false.
func TestCleanStartReported(t *testing.T) {
	f := setup(t, "", nil)
	f.dial().connect("keep", false, 60)
	f.dial().connect("clean", true, 60)
	rt := f.m.Gateway("mqttsn")
	if !rt.Client("keep").Info().KeepSession || rt.Client("clean").Info().KeepSession {
		t.Fatalf("keep %v, clean %v", rt.Client("keep").Info().KeepSession, rt.Client("clean").Info().KeepSession)
	}
}
