package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/protocols/stomp"
)

func TestFlagsAndEnv(t *testing.T) {
	t.Setenv("XGATE_DATA_DIR", "/env/data")
	t.Setenv("XGATE_LOG_LEVEL", "debug")
	o, err := parseFlags([]string{"--http-bind", "127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	if o.dataDir != "/env/data" || o.logLevel != "debug" || o.httpBind != "127.0.0.1:9" || o.mqttBind != "0.0.0.0:1883" {
		t.Fatalf("%+v", o)
	}
	if _, err := parseFlags([]string{"--nope"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunSeedsServesAndStops starts the whole appliance in-process (MQTT and HTTP on free
// loopback ports; the seeded gateway listeners use their standard ports and are best effort),
// checks the status endpoint and the first-start defaults, and stops it like SIGTERM does.
func TestRunSeedsServesAndStops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	httpAddr := freePort(t)
	o := options{dataDir: dir, httpBind: httpAddr, mqttBind: "127.0.0.1:0", logLevel: "warn"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, o) }()

	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/api/v5/status")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(body, "is started") {
		t.Fatalf("status: %q", body)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop within 5s")
	}
	t.Logf("stopped in %v", time.Since(start))

	store, err := db.Open(context.Background(), filepath.Join(dir, "xgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	snap, err := store.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g, ok := snap.Gateway("stomp")
	if !ok {
		t.Fatal("stomp gateway not seeded")
	}
	tcp, okT := g.Listener(gateway.TCP, "default")
	ssl, okS := g.Listener(gateway.SSL, "default")
	if !okT || !okS || tcp.Bind != "61613" || ssl.Bind != "61614" {
		t.Fatalf("seeded listeners: %+v", g.Listeners)
	}
	for _, f := range []string{ssl.SSLOptions.CertFile, ssl.SSLOptions.KeyFile} {
		if _, err := os.Stat(f); err != nil || !filepath.IsAbs(f) {
			t.Fatalf("certificate file %q: %v", f, err)
		}
	}
}

// TestCommitThroughManager is the write path every later change uses: a refused change
// (port in use) leaves the running listener and the stored rows as they were; an accepted
// one is stored and comes back after a restart.
func TestCommitThroughManager(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "xgate.db")
	store, err := db.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := gatewaytest.StartBroker(t)
	m := gateway.NewManager(gatewaytest.Logger(t), []gateway.Protocol{stomp.New()}, gateway.Deps{Broker: b})
	t.Cleanup(func() { m.Stop(ctx) })

	cfg := gateway.DefaultConfig("stomp")
	cfg.Listeners = []gateway.ListenerConfig{gatewaytest.Listener(gateway.TCP, "default")}
	first := gateway.Snapshot{Gateways: []gateway.Config{cfg}}
	if err := store.Commit(ctx, first, m.Apply); err != nil {
		t.Fatal(err)
	}
	running := m.Gateway("stomp").Addr("tcp:default").String()
	stored, _ := store.Snapshot(ctx)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	l := cfg.Listeners[0]
	l.Bind = busy.Addr().String()
	err = store.Commit(ctx, first.WithGateway(cfg.WithListener(l)), m.Apply)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("got %v", err)
	}
	if now, _ := store.Snapshot(ctx); !reflect.DeepEqual(now, stored) {
		t.Fatalf("stored rows changed:\n%+v\n%+v", now, stored)
	}
	if m.Gateway("stomp").Addr("tcp:default").String() != running {
		t.Fatal("the running listener changed")
	}

	cfg.Mountpoint = "site1/"
	if err := store.Commit(ctx, first.WithGateway(cfg), m.Apply); err != nil {
		t.Fatal(err)
	}
	store.Close()
	again, err := db.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	snap, _ := again.Snapshot(ctx)
	if g, _ := snap.Gateway("stomp"); g.Mountpoint != "site1/" {
		t.Fatalf("after restart: %+v", g)
	}
}
