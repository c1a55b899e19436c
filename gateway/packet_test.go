package gateway_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

// echoProto answers every udp datagram (from an allowed peer) and every dtls record with
// the same bytes, to exercise the core's packet and DTLS listeners.
type echoProto struct{}

func (echoProto) Name() string { return "echo" }
func (echoProto) Transports() []gateway.Transport {
	return []gateway.Transport{gateway.UDP, gateway.DTLS}
}
func (echoProto) ParseSettings(json.RawMessage) (any, error) { return nil, nil }

func (echoProto) Serve(ctx context.Context, sock gateway.Socket, env *gateway.Env) error {
	if sock.Stream != nil {
		return gateway.ServeStream(ctx, sock.Stream, func(c net.Conn) gateway.StreamConn { return echoConn{c} })
	}
	stop := context.AfterFunc(ctx, func() { sock.Packet.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 1500)
	for {
		n, from, err := sock.Packet.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if env.Allow(gateway.AddrPort(from)) {
			sock.Packet.WriteTo(buf[:n], from)
		}
	}
}

type echoConn struct{ c net.Conn }

func (e echoConn) Run(context.Context) {
	defer e.c.Close()
	buf := make([]byte, 1500)
	for {
		n, err := e.c.Read(buf)
		if err != nil {
			return
		}
		if _, err := e.c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (e echoConn) Kick(error) { e.c.Close() }

func echoGateway(ls ...gateway.ListenerConfig) gateway.Snapshot {
	c := gateway.DefaultConfig("echo")
	c.Listeners = ls
	return snapshot(c)
}

func TestUDPListener(t *testing.T) {
	b, _ := gatewaytest.StartBroker(t)
	l := gatewaytest.Listener(gateway.UDP, "default")
	m := gatewaytest.StartManager(t, b, echoGateway(l), echoProto{})
	addr := m.Gateway("echo").Addr("udp:default").String()
	exchange := func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err == nil && string(buf[:n]) != "ping" {
			t.Fatalf("echo %q", buf[:n])
		}
		return err
	}
	if err := exchange(); err != nil {
		t.Fatal(err)
	}

	// Access rules are read live: the same socket now drops 127.0.0.1.
	l.AccessRules = []string{"deny 127.0.0.0/8"}
	if err := m.Apply(context.Background(), echoGateway(l)); err != nil {
		t.Fatal(err)
	}
	if m.Gateway("echo").Addr("udp:default").String() != addr {
		t.Fatal("the socket was rebound for an access rule change")
	}
	if err := exchange(); err == nil {
		t.Fatal("denied peer got an answer")
	}

	// A udp port that is taken is refused with nothing changed.
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	moved := l
	moved.Bind = busy.LocalAddr().String()
	err = m.Apply(context.Background(), echoGateway(moved))
	if err == nil || !strings.Contains(err.Error(), "gateway echo: listener udp:default: listen udp") {
		t.Fatalf("got %v", err)
	}
	if m.Gateway("echo").Addr("udp:default").String() != addr {
		t.Fatal("the running listener moved")
	}
}

func TestDTLSListenerAndCertificateRotation(t *testing.T) {
	b, _ := gatewaytest.StartBroker(t)
	first, second := gatewaytest.Certs(t), gatewaytest.Certs(t)
	l := gatewaytest.Listener(gateway.DTLS, "default")
	l.DTLSOptions = first
	m := gatewaytest.StartManager(t, b, echoGateway(l), echoProto{})
	addr := m.Gateway("echo").Addr("dtls:default").(*net.UDPAddr)

	dial := func() (*dtls.Conn, []byte) {
		t.Helper()
		c, err := dtls.Dial("udp", addr, &dtls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.HandshakeContext(ctx); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		st, _ := c.ConnectionState()
		return c, st.PeerCertificates[0]
	}
	echo := func(c *dtls.Conn, msg string) {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("echo %q %v", buf[:n], err)
		}
	}
	old, cert := dial()
	if !bytes.Equal(cert, der(t, first)) {
		t.Fatal("not the configured certificate")
	}
	echo(old, "one")

	l.DTLSOptions = second
	if err := m.Apply(context.Background(), echoGateway(l)); err != nil {
		t.Fatal(err)
	}
	echo(old, "still here") // the open session keeps its keys
	_, cert = dial()
	if !bytes.Equal(cert, der(t, second)) {
		t.Fatal("a new handshake did not get the rotated certificate")
	}
}

func der(t *testing.T, c *gateway.TLSConfig) []byte {
	blk, _ := pem.Decode(gatewaytest.ReadFile(t, c.CertFile))
	if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	return blk.Bytes
}

func TestDTLSPreSharedKeys(t *testing.T) {
	b, _ := gatewaytest.StartBroker(t)
	l := gatewaytest.Listener(gateway.DTLS, "psk")
	l.DTLSOptions = &gateway.TLSConfig{PSK: []gateway.PSKIdentity{{Identity: "dev1", Key: "secret-1"}}}
	m := gatewaytest.StartManager(t, b, echoGateway(l), echoProto{})
	addr := m.Gateway("echo").Addr("dtls:psk").(*net.UDPAddr)

	handshake := func(identity, key string, suite dtls.CipherSuiteID) error {
		c, err := dtls.Dial("udp", addr, &dtls.Config{
			PSK:             func([]byte) ([]byte, error) { return []byte(key), nil },
			PSKIdentityHint: []byte(identity),
			CipherSuites:    []dtls.CipherSuiteID{suite},
		})
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := c.HandshakeContext(ctx); err != nil {
			return err
		}
		c.Write([]byte("psk"))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 8)
		n, err := c.Read(buf)
		if err == nil && string(buf[:n]) != "psk" {
			t.Fatalf("echo %q", buf[:n])
		}
		return err
	}
	for _, suite := range []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8, dtls.TLS_PSK_WITH_AES_128_GCM_SHA256} {
		if err := handshake("dev1", "secret-1", suite); err != nil {
			t.Fatalf("%v: %v", suite, err)
		}
	}
	if err := handshake("dev1", "wrong", dtls.TLS_PSK_WITH_AES_128_CCM_8); err == nil {
		t.Fatal("wrong key accepted")
	}
	if err := handshake("dev2", "secret-2", dtls.TLS_PSK_WITH_AES_128_CCM_8); err == nil {
		t.Fatal("unknown identity accepted")
	}

	// Keys are read at each handshake: a new identity works without a rebind.
	l.DTLSOptions.PSK = append(l.DTLSOptions.PSK, gateway.PSKIdentity{Identity: "dev2", Key: "secret-2"})
	if err := m.Apply(context.Background(), echoGateway(l)); err != nil {
		t.Fatal(err)
	}
	if m.Gateway("echo").Addr("dtls:psk").String() != addr.String() {
		t.Fatal("rebound")
	}
	if err := handshake("dev2", "secret-2", dtls.TLS_PSK_WITH_AES_128_GCM_SHA256); err != nil {
		t.Fatal(err)
	}
}
