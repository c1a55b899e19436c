// Package gatewaytest helps tests run real gateways: a real embedded broker on a loopback
// port, certificates made for the test, and polling instead of sleeping.
package gatewaytest

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/protocols/mqtt"
)

// Logger returns a logger that writes to the test log (shown on failure or with -v).
// Lines logged after the test ended (by goroutines still winding down) are dropped.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimSuffix(p, []byte("\n"))))
	}
	return len(p), nil
}

// StartBroker starts the embedded MQTT broker on a free loopback port and returns it with
// the address MQTT clients connect to. It is closed when the test ends.
func StartBroker(t testing.TB) (*mqtt.Broker, string) {
	t.Helper()
	b, err := mqtt.New(mqtt.Config{TCPBind: "127.0.0.1:0"}, Logger(t))
	if err != nil {
		t.Fatalf("broker: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("broker start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, b.Addr(mqtt.ListenerTCP).String()
}

// StartManager builds a Manager for the protocols on the given broker, applies snap, and
// stops it when the test ends.
func StartManager(t testing.TB, b gateway.Broker, snap gateway.Snapshot, protocols ...gateway.Protocol) *gateway.Manager {
	t.Helper()
	return StartManagerDeps(t, gateway.Deps{Broker: b, Node: "xgate@test"}, snap, protocols...)
}

// StartManagerDeps is StartManager with explicit dependencies (hooks, an authorizer).
func StartManagerDeps(t testing.TB, deps gateway.Deps, snap gateway.Snapshot, protocols ...gateway.Protocol) *gateway.Manager {
	t.Helper()
	m := gateway.NewManager(Logger(t), protocols, deps)
	if err := m.Apply(context.Background(), snap); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return m
}

// Certs writes a fresh self-signed certificate for localhost/127.0.0.1 into a temporary
// directory and returns the TLS options that use it.
func Certs(t testing.TB) *gateway.TLSConfig {
	t.Helper()
	dir := t.TempDir()
	c := &gateway.TLSConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	if err := gateway.GenerateSelfSigned(c.CertFile, c.KeyFile, "localhost", "127.0.0.1"); err != nil {
		t.Fatalf("certs: %v", err)
	}
	return c
}

// ReadFile returns a file's content or fails the test.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WaitFor polls check until it returns nil or d passes, then fails the test with the last
// error.
func WaitFor(t testing.TB, d time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Listener returns a listener config of type typ bound to a free loopback port.
func Listener(typ gateway.Transport, name string) gateway.ListenerConfig {
	l := gateway.DefaultListener()
	l.Type, l.Name, l.Bind = typ, name, "127.0.0.1:0"
	return l
}

// MQTTClient connects a real MQTT client (paho, MQTT 3.1.1) to addr; it disconnects when the
// test ends.
func MQTTClient(t testing.TB, addr, clientID string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// MQTTSubscribe subscribes c to filter and returns the messages it receives.
func MQTTSubscribe(t testing.TB, c paho.Client, filter string, qos byte) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 100)
	if tok := c.Subscribe(filter, qos, func(_ paho.Client, m paho.Message) { ch <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

// MQTTPublish publishes one message from c.
func MQTTPublish(t testing.TB, c paho.Client, topic string, qos byte, payload string) {
	t.Helper()
	if tok := c.Publish(topic, qos, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt publish %s: %v", topic, tok.Error())
	}
}

// MQTTReceive waits up to 5 s for the next message.
func MQTTReceive(t testing.TB, ch <-chan paho.Message) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no MQTT message within 5s")
	}
	return nil
}

// Throughput runs b.N sends with at most window messages sent but not yet received, then
// waits until all arrived or none arrived for a second (datagrams may be lost), and reports
// msgs/s and the loss.
func Throughput(b *testing.B, window int, send func(i int), received func() int64) {
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for int64(i)-received() >= int64(window) {
			time.Sleep(20 * time.Microsecond)
		}
		send(i)
	}
	last, lastChange := received(), time.Now()
	for received() < int64(b.N) && time.Since(lastChange) < time.Second {
		if n := received(); n != last {
			last, lastChange = n, time.Now()
		}
		time.Sleep(20 * time.Microsecond)
	}
	elapsed := time.Since(start)
	if received() < int64(b.N) {
		elapsed -= time.Since(lastChange)
	}
	b.ReportMetric(float64(received())/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(int64(b.N)-received()), "lost")
}
