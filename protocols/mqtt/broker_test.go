package mqtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/gateway"
)

func TestBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()

	tests := []struct {
		name     string
		cfg      Config
		listener string
	}{
		{name: "tcp", cfg: Config{TCPBind: addr}, listener: ListenerTCP},
		{name: "ws", cfg: Config{WSBind: addr}, listener: ListenerWS},
		{name: "ws after tcp", cfg: Config{TCPBind: freeAddr(t), WSBind: addr}, listener: ListenerWS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.cfg, testLogger())
			if err == nil {
				_ = b.Close()
				t.Fatal("New succeeded on a busy port")
			}
			if msg := err.Error(); !strings.Contains(msg, tc.listener) || !strings.Contains(msg, addr) || !strings.Contains(msg, "address already in use") {
				t.Errorf("error %q does not name listener %s, address %s and cause", msg, tc.listener, addr)
			}
			if tc.cfg.TCPBind != "" && tc.cfg.TCPBind != addr {
				// The listener bound before the failure is released.
				ln, err := net.Listen("tcp", tc.cfg.TCPBind)
				if err != nil {
					t.Fatalf("tcp port still bound after New failed: %v", err)
				}
				_ = ln.Close()
			}
		})
	}
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestLifecycle(t *testing.T) {
	b, err := New(Config{TCPBind: "127.0.0.1:0"}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if b.Addr(ListenerWS) != nil {
		t.Error("Addr of an unconfigured listener is not nil")
	}
	if a, ok := b.Addr(ListenerTCP).(*net.TCPAddr); !ok || a.Port == 0 {
		t.Errorf("Addr(tcp) = %v, want the bound port", b.Addr(ListenerTCP))
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestCloseWithoutStart(t *testing.T) {
	b, err := New(Config{TCPBind: "127.0.0.1:0", WSBind: "127.0.0.1:0"}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{b.Addr(ListenerTCP).String(), b.Addr(ListenerWS).String()}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s still bound after Close: %v", a, err)
			continue
		}
		_ = ln.Close()
	}
}

// TestCloseLeavesNoGoroutines closes a broker with an MQTT client on each listener.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b, err := New(Config{TCPBind: "127.0.0.1:0", WSBind: "127.0.0.1:0"}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	tcp := dialV5(t, b.Addr(ListenerTCP).String(), "tcp-client")
	ws := dialWS(t, b.Addr(ListenerWS).String(), "ws-client")
	waitFor(t, testTimeout, func() error {
		if n := b.Clients(); n != 2 {
			return fmt.Errorf("%d clients connected", n)
		}
		return nil
	})
	cancel, err := b.Subscribe("x/#", 0, func(gateway.Message) {})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Both clients get mochi's DISCONNECT (server shutting down) and then EOF.
	if pk := tcp.read(); pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode != packets.ErrServerShuttingDown.Code {
		t.Errorf("tcp client got type %d reason %#x, want DISCONNECT server shutting down", pk.FixedHeader.Type, pk.ReasonCode)
	}
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	if _, msg, err := ws.ReadMessage(); err != nil || len(msg) == 0 || msg[0]>>4 != packets.Disconnect {
		t.Errorf("ws client got %x, %v; want DISCONNECT", msg, err)
	}
	if b.Clients() != 0 {
		t.Errorf("%d clients after Close", b.Clients())
	}
	waitFor(t, testTimeout, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before New", n, before)
		}
		return nil
	})
}

// dialWS connects an MQTT 5 client over WebSocket and waits for its CONNACK.
func dialWS(t *testing.T, addr, clientID string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: testTimeout}
	ws, resp, err := d.Dial("ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatalf("ws dial: %v", err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
		t.Errorf("subprotocol %q, want mqtt", got)
	}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 5,
		Connect:         packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: clientID},
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	// Split the packet over two messages: MQTT over WebSocket is a byte stream.
	raw := buf.Bytes()
	for _, part := range [][]byte{raw[:3], raw[3:]} {
		if err := ws.WriteMessage(websocket.BinaryMessage, part); err != nil {
			t.Fatal(err)
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	_, msg, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("ws read CONNACK: %v", err)
	}
	if len(msg) < 4 || msg[0]>>4 != packets.Connack || msg[3] != 0 {
		t.Fatalf("ws CONNACK %x", msg)
	}
	return ws
}

func TestWebSocketTextFrameClosesConnection(t *testing.T) {
	b := startBroker(t)
	ws := dialWS(t, b.Addr(ListenerWS).String(), "text")
	if err := ws.WriteMessage(websocket.TextMessage, []byte{0xc0, 0x00}); err != nil { // PINGREQ as text
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	if _, msg, err := ws.ReadMessage(); err == nil {
		t.Errorf("got %x after a text frame, want the connection closed", msg)
	}
}

func TestWebSocketPaho(t *testing.T) {
	b := startBroker(t)
	listener := make(chan string, 1)
	b.SetAuthenticator(func(_ context.Context, c *authn.Client) error {
		listener <- c.Listener
		return nil
	})
	var in inbox
	cancel, err := b.Subscribe("ws/#", 1, in.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	c, err := dialPaho(t, "ws://"+b.Addr(ListenerWS).String()+"/mqtt")
	if err != nil {
		t.Fatal(err)
	}
	if l := <-listener; l != "mqtt:ws:default" {
		t.Errorf("authn.Client.Listener = %q, want mqtt:ws:default", l)
	}
	wait(t, c.Publish("ws/a", 1, false, "over websocket"))
	if m := in.waitN(t, 1)[0]; m.Topic != "ws/a" || string(m.Payload) != "over websocket" || m.QoS != 1 {
		t.Errorf("got %+v", m)
	}
}
