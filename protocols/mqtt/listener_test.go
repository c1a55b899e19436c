package mqtt

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/packets"
)

// tracked is the number of connections the listener has handed to mochi and not yet closed.
func (l *netListener) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closedByServer reads c until the server closes it, failing if that takes testTimeout.
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := io.Copy(io.Discard, c); isTimeout(err) {
		t.Errorf("connection from %s still open after %v", c.LocalAddr(), testTimeout)
	}
}

func TestConnectTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	b, err := New(Config{TCPBind: "127.0.0.1:0", WSBind: "127.0.0.1:0", ConnectTimeout: timeout}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		send []byte
	}{
		{name: "silent"},
		// A CONNECT fixed header promising 32 bytes, then one: the deadline covers the
		// whole packet, not just its first byte.
		{name: "partial connect", send: []byte{packets.Connect << 4, 32, 0}},
	} {
		t.Run("tcp "+tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := net.DialTimeout("tcp", b.Addr(ListenerTCP).String(), testTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			closedByServer(t, c)
			if d := time.Since(start); d < timeout {
				t.Errorf("closed after %v, before the connect timeout %v", d, timeout)
			}
		})
	}

	t.Run("websocket silent", func(t *testing.T) {
		start := time.Now()
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: testTimeout}
		ws, _, err := d.Dial("ws://"+b.Addr(ListenerWS).String()+"/mqtt", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
		if _, _, err := ws.ReadMessage(); err == nil || isTimeout(err) {
			t.Errorf("read: %v, want the connection closed by the server", err)
		}
		if d := time.Since(start); d < timeout {
			t.Errorf("closed after %v, before the connect timeout %v", d, timeout)
		}
	})

	waitFor(t, testTimeout, func() error {
		if n, m := b.tcp.tracked(), b.ws.tracked(); n+m != 0 {
			return fmt.Errorf("listeners still track %d tcp and %d ws connections", n, m)
		}
		return nil
	})
}

// TestKeepaliveAfterConnect: the connect timeout ends with CONNECT, and mochi's keepalive
// deadline still applies after it.
func TestKeepaliveAfterConnect(t *testing.T) {
	const timeout = 100 * time.Millisecond
	b, err := New(Config{TCPBind: "127.0.0.1:0", ConnectTimeout: timeout}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.Addr(ListenerTCP).String()

	t.Run("connected client outlives the connect timeout", func(t *testing.T) {
		c := dialV5Keepalive(t, addr, "alive", 30)
		connected := time.Now()
		waitFor(t, testTimeout, func() error {
			if n := b.Clients(); n != 1 {
				t.Fatalf("%d clients %v after CONNACK, want 1", n, time.Since(connected))
			}
			if d := time.Since(connected); d < 3*timeout {
				return fmt.Errorf("only %v since CONNACK", d)
			}
			return nil
		})
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
		if pk := c.read(); pk.FixedHeader.Type != packets.Pingresp {
			t.Errorf("got packet type %d, want PINGRESP", pk.FixedHeader.Type)
		}
	})

	t.Run("idle client is closed after its keepalive", func(t *testing.T) {
		// mochi allows keepalive + keepalive/2 whole seconds: 1 s for a keepalive of 1.
		const keepalive = 1
		start := time.Now()
		c := dialV5Keepalive(t, addr, "idle", keepalive)
		closedByServer(t, c.conn)
		if d := time.Since(start); d < keepalive*time.Second {
			t.Errorf("closed after %v, before the keepalive", d)
		}
	})
}

// TestCloseWithConnectionsInFlight closes a broker holding connections in every state: before
// CONNECT, partway through it, and connected.
func TestCloseWithConnectionsInFlight(t *testing.T) {
	before := runtime.NumGoroutine()
	b, err := New(Config{TCPBind: "127.0.0.1:0", WSBind: "127.0.0.1:0"}, testLogger()) // 15 s connect timeout
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for _, send := range [][]byte{nil, nil, nil, {packets.Connect << 4, 32, 0}} {
		c, err := net.DialTimeout("tcp", b.Addr(ListenerTCP).String(), testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.Write(send); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	conns = append(conns, dialV5(t, b.Addr(ListenerTCP).String(), "connected").conn)
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: testTimeout}
	silentWS, _, err := d.Dial("ws://"+b.Addr(ListenerWS).String()+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silentWS.Close() })
	conns = append(conns, silentWS.NetConn(), dialWS(t, b.Addr(ListenerWS).String(), "connected-ws").NetConn())
	waitFor(t, testTimeout, func() error {
		if n, m := b.tcp.tracked(), b.ws.tracked(); n != 5 || m != 2 {
			return fmt.Errorf("listeners track %d tcp and %d ws connections, want 5 and 2", n, m)
		}
		return nil
	})

	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Close did not return")
	}
	for _, c := range conns {
		closedByServer(t, c)
	}
	waitFor(t, testTimeout, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before New", n, before)
		}
		return nil
	})
}

// fakeListener returns from Accept what the test sends, so that the test decides when a
// connection is accepted. Close does not interrupt Accept; closing accept does.
type fakeListener struct {
	accept chan acceptResult
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func (f *fakeListener) Accept() (net.Conn, error) {
	r, ok := <-f.accept
	if !ok {
		return nil, net.ErrClosed
	}
	return r.conn, r.err
}

// give has Accept return r, failing if Serve no longer accepts.
func (f *fakeListener) give(t *testing.T, r acceptResult) {
	t.Helper()
	select {
	case f.accept <- r:
	case <-time.After(testTimeout):
		t.Fatal("Serve stopped accepting")
	}
}

func (f *fakeListener) Close() error   { return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func newFakeTCPListener() (*tcpListener, *fakeListener) {
	f := &fakeListener{accept: make(chan acceptResult)}
	l := newTCPListener("tcp:test", "", time.Minute)
	l.log = testLogger()
	l.ln = f
	return l, f
}

// TestConnAcceptedDuringClose: a connection the OS accepted just as Close began is closed
// without reaching mochi, and Close still returns.
func TestConnAcceptedDuringClose(t *testing.T) {
	l, f := newFakeTCPListener()
	established := make(chan struct{}, 1)
	go l.Serve(func(string, net.Conn) error {
		established <- struct{}{}
		return nil
	})
	server, client := net.Pipe()
	defer client.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		l.Close(func(string) {
			select {
			case f.accept <- acceptResult{conn: server}:
			case <-time.After(testTimeout):
				t.Error("Serve stopped accepting")
			}
			close(f.accept)
		})
	}()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("Close did not return")
	}
	l.wait()
	_ = client.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("connection accepted during Close: read %v, want EOF", err)
	}
	select {
	case <-established:
		t.Error("connection accepted during Close was handed to mochi")
	default:
	}
}

// TestAcceptErrorsAreRetried: running out of file descriptors does not stop the listener for
// good, as it stops mochi's.
func TestAcceptErrorsAreRetried(t *testing.T) {
	l, f := newFakeTCPListener()
	established := make(chan struct{}, 1)
	go l.Serve(func(string, net.Conn) error {
		established <- struct{}{}
		return nil
	})
	for range 3 {
		f.give(t, acceptResult{err: &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}})
	}
	server, client := net.Pipe()
	defer client.Close()
	f.give(t, acceptResult{conn: server})
	select {
	case <-established:
	case <-time.After(testTimeout):
		t.Fatal("connection accepted after errors never reached mochi")
	}
	l.Close(func(string) { close(f.accept) })
	l.wait()
}
