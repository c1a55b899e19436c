package mqtt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/xgate/xgate/gateway"
)

const testTimeout = 5 * time.Second

// testLogger discards logs unless XGATE_TEST_LOG is set: mochi goroutines may still log
// while a test ends, after which t.Log panics.
func testLogger() *slog.Logger {
	if os.Getenv("XGATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startBroker starts a broker with both listeners on loopback port 0, closed at cleanup.
func startBroker(t testing.TB) *Broker {
	t.Helper()
	b, err := New(Config{TCPBind: "127.0.0.1:0", WSBind: "127.0.0.1:0"}, testLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return b
}

// waitFor polls cond until it returns nil or d has passed.
func waitFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %v", d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var clientSeq atomic.Int64

// dialPaho connects an MQTT 3.1.1 client to url ("tcp://…" or "ws://…"); it is
// disconnected at cleanup.
func dialPaho(t testing.TB, url string, configure ...func(*paho.ClientOptions)) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().
		AddBroker(url).
		SetClientID(fmt.Sprintf("test-%d", clientSeq.Add(1))).
		SetProtocolVersion(4). // no fallback to 3.1 after a refusal
		SetAutoReconnect(false).
		SetConnectTimeout(testTimeout)
	for _, f := range configure {
		f(o)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(testTimeout) {
		return nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func mustPaho(t testing.TB, b *Broker, configure ...func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	c, err := dialPaho(t, "tcp://"+b.Addr(ListenerTCP).String(), configure...)
	if err != nil {
		t.Fatalf("paho connect: %v", err)
	}
	return c
}

func wait(t testing.TB, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(testTimeout) {
		t.Fatal("paho token timed out")
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("paho: %v", err)
	}
}

// inbox collects deliveries without ever blocking the publisher.
type inbox struct {
	mu   sync.Mutex
	msgs []gateway.Message
}

func (in *inbox) deliver(m gateway.Message) {
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
}

func (in *inbox) all() []gateway.Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]gateway.Message(nil), in.msgs...)
}

func (in *inbox) topics() []string {
	var ts []string
	for _, m := range in.all() {
		ts = append(ts, m.Topic)
	}
	return ts
}

// waitN waits until the inbox holds n messages and returns them.
func (in *inbox) waitN(t testing.TB, n int) []gateway.Message {
	t.Helper()
	waitFor(t, testTimeout, func() error {
		if got := len(in.all()); got < n {
			return fmt.Errorf("got %d of %d messages", got, n)
		}
		return nil
	})
	return in.all()
}

// v5Client is a raw MQTT 5 client built on mochi's packet codec; paho.mqtt.golang speaks
// MQTT 3.1.1 only and so cannot see properties.
type v5Client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	id   uint16
}

func dialV5(t testing.TB, addr, clientID string) *v5Client {
	t.Helper()
	return dialV5Keepalive(t, addr, clientID, 30)
}

// dialV5Keepalive connects with the given keepalive in seconds.
func dialV5Keepalive(t testing.TB, addr, clientID string, keepalive uint16) *v5Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &v5Client{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			Clean:            true,
			Keepalive:        keepalive,
			ClientIdentifier: clientID,
		},
	})
	if ack := c.read(); ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK: type %d reason %#x", ack.FixedHeader.Type, ack.ReasonCode)
	}
	return c
}

func (c *v5Client) send(pk packets.Packet) {
	c.t.Helper()
	pk.ProtocolVersion = 5
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	default:
		err = fmt.Errorf("test client cannot send packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		c.t.Fatalf("encode: %v", err)
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *v5Client) read() packets.Packet {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := c.r.ReadByte()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	pk := packets.Packet{ProtocolVersion: 5}
	if err := pk.FixedHeader.Decode(b); err != nil {
		c.t.Fatalf("fixed header: %v", err)
	}
	if pk.FixedHeader.Remaining, _, err = packets.DecodeLength(c.r); err != nil {
		c.t.Fatalf("length: %v", err)
	}
	body := make([]byte, pk.FixedHeader.Remaining)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	}
	if err != nil {
		c.t.Fatalf("decode type %d: %v", pk.FixedHeader.Type, err)
	}
	return pk
}

func (c *v5Client) subscribe(filter string, qos byte) {
	c.t.Helper()
	c.id++
	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		PacketID:    c.id,
		Filters:     packets.Subscriptions{{Filter: filter, Qos: qos}},
	})
	ack := c.read()
	if ack.FixedHeader.Type != packets.Suback || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] > 2 {
		c.t.Fatalf("SUBACK: type %d codes %v", ack.FixedHeader.Type, ack.ReasonCodes)
	}
}
