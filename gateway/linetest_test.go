package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/xgate/xgate/gateway"
)

// lineProto is a minimal line protocol used to exercise the core without a real protocol's
// details: "LOGIN <clientid> [username]", "PUB <topic> <payload>", "SUB <filter>", and the
// server's "OK", "ERR <reason>", "MSG <topic> <payload>", "BYE <reason>".
type lineProto struct{ name string }

func (p lineProto) Name() string { return p.name }
func (p lineProto) Transports() []gateway.Transport {
	return []gateway.Transport{gateway.TCP, gateway.SSL}
}

func (p lineProto) ParseSettings(raw json.RawMessage) (any, error) {
	var s struct {
		Greeting string `json:"greeting"`
	}
	if len(raw) > 0 {
		if err := gateway.DecodeStrict(raw, &s); err != nil {
			return nil, err
		}
	}
	return s.Greeting, nil
}

func (p lineProto) Serve(ctx context.Context, sock gateway.Socket, env *gateway.Env) error {
	return gateway.ServeStream(ctx, sock.Stream, func(c net.Conn) gateway.StreamConn {
		return &lineSession{conn: c, env: env}
	})
}

type lineSession struct {
	conn   net.Conn
	env    *gateway.Env
	mu     sync.Mutex
	client *gateway.Client
	info   gateway.ClientInfo
}

func (s *lineSession) Info() gateway.ClientInfo { return s.info }

func (s *lineSession) Kick(reason error) {
	s.write("BYE " + reason.Error())
	s.conn.Close()
}

func (s *lineSession) write(line string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := fmt.Fprintln(s.conn, line)
	return err == nil
}

func (s *lineSession) Run(ctx context.Context) {
	defer s.conn.Close()
	sc := bufio.NewScanner(s.conn)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "LOGIN" && len(f) >= 2:
			ci := &gateway.ClientInfo{}
			ci.ClientID = f[1]
			if len(f) > 2 {
				ci.Username = f[2]
			}
			ci.Peer = gateway.AddrPort(s.conn.RemoteAddr())
			c, err := s.env.Login(ctx, ci, s)
			if err != nil {
				s.write("ERR " + err.Error())
				return
			}
			s.info = c.Info()
			s.client = c
			defer c.Logout(nil)
			s.write("OK " + fmt.Sprint(s.env.Settings()))
		case s.client == nil:
			s.write("ERR not logged in")
			return
		case f[0] == "PUB" && len(f) == 3:
			if err := s.client.Publish(gateway.Message{Topic: f[1], Payload: []byte(f[2])}); err != nil {
				s.write("ERR " + err.Error())
				continue
			}
			s.write("OK")
		case f[0] == "SUB" && len(f) == 2:
			_, err := s.client.Subscribe(f[1], 0, func(m gateway.Message) bool {
				go s.write("MSG " + m.Topic + " " + string(m.Payload)) // never block the publisher
				return true
			})
			if err != nil {
				s.write("ERR " + err.Error())
				continue
			}
			s.write("OK")
		default:
			s.write("ERR bad command")
		}
	}
}

// lineClient drives a lineProto connection.
type lineClient struct {
	t  *testing.T
	c  net.Conn
	sc *bufio.Scanner
}

func dialLine(t *testing.T, addr net.Addr) *lineClient {
	t.Helper()
	if addr == nil {
		t.Fatal("listener not running")
	}
	c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &lineClient{t: t, c: c, sc: bufio.NewScanner(c)}
}

func (l *lineClient) do(line string) string {
	l.t.Helper()
	if _, err := fmt.Fprintln(l.c, line); err != nil {
		l.t.Fatalf("write: %v", err)
	}
	return l.read()
}

// read returns the next line, or "EOF" when the server closed the connection.
func (l *lineClient) read() string {
	l.t.Helper()
	l.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if l.sc.Scan() {
		return l.sc.Text()
	}
	var ne net.Error
	if err := l.sc.Err(); errors.As(err, &ne) && ne.Timeout() {
		l.t.Fatal("no answer within 3s")
	}
	return "EOF"
}

func newScanner(c net.Conn) *bufio.Scanner { return bufio.NewScanner(c) }

func dialTLS(t *testing.T, addr string, certs *gateway.TLSConfig) net.Conn {
	t.Helper()
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(certs.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// subscribeMQTT returns "topic payload" lines of what a real MQTT client receives.
func subscribeMQTT(t *testing.T, addr, filter string) <-chan string {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("sub-" + filter).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	ch := make(chan string, 100)
	if tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		ch <- m.Topic() + " " + string(m.Payload())
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe: %v", tok.Error())
	}
	return ch
}
