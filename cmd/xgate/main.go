// Command xgate runs the appliance: the embedded MQTT broker, every protocol gateway and
// the HTTP API, with its configuration in SQLite under --data-dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/protocols/coap"
	"github.com/xgate/xgate/protocols/mqtt"
	"github.com/xgate/xgate/protocols/mqttsn"
	"github.com/xgate/xgate/protocols/stomp"
	"github.com/xgate/xgate/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

type options struct {
	dataDir  string
	httpBind string
	mqttBind string
	wsBind   string
	logLevel string
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "xgate:", err)
		os.Exit(1)
	}
}

// parseFlags reads flags, each defaulting to its XGATE_* environment variable.
func parseFlags(args []string) (options, error) {
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	var o options
	fs := flag.NewFlagSet("xgate", flag.ContinueOnError)
	fs.StringVar(&o.dataDir, "data-dir", env("XGATE_DATA_DIR", "./data"), "directory for the SQLite database and generated certificates (XGATE_DATA_DIR)")
	fs.StringVar(&o.httpBind, "http-bind", env("XGATE_HTTP_BIND", "0.0.0.0:18083"), "address of the HTTP API and dashboard (XGATE_HTTP_BIND)")
	fs.StringVar(&o.mqttBind, "mqtt-bind", env("XGATE_MQTT_BIND", "0.0.0.0:1883"), "address of the MQTT TCP listener (XGATE_MQTT_BIND)")
	fs.StringVar(&o.wsBind, "ws-bind", env("XGATE_WS_BIND", "0.0.0.0:8083"), "address of the MQTT WebSocket listener, empty for none (XGATE_WS_BIND)")
	fs.StringVar(&o.logLevel, "log-level", env("XGATE_LOG_LEVEL", "info"), "debug, info, warn or error (XGATE_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, nil
}

// run starts the appliance and stops it when ctx ends (SIGINT/SIGTERM in main).
func run(ctx context.Context, o options) error {
	var level slog.LevelVar
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: &level}))
	host, _ := os.Hostname()
	node := "xgate@" + host

	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// Stored certificate paths must not depend on the working directory.
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	store, err := db.Open(ctx, filepath.Join(dataDir, "xgate.db"), log)
	if err != nil {
		return err
	}
	defer store.Close()

	certFile, keyFile := filepath.Join(dataDir, "certs", "cert.pem"), filepath.Join(dataDir, "certs", "key.pem")
	if err := gateway.EnsureSelfSigned(certFile, keyFile, "localhost", "127.0.0.1", host); err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	if seeded, err := store.SeedOnce(ctx, defaults(certFile, keyFile)); err != nil {
		return err
	} else if len(seeded) > 0 {
		log.Info("default gateways and listeners stored", "gateways", seeded, "data_dir", o.dataDir)
	}

	broker, err := mqtt.New(mqtt.Config{TCPBind: o.mqttBind, WSBind: o.wsBind}, log)
	if err != nil {
		return err
	}
	if err := broker.Start(); err != nil {
		return err
	}
	defer broker.Close()

	access, err := web.NewAccess(ctx, store, log)
	if err != nil {
		return err
	}
	broker.SetAuthorizer(access.Authz)
	// The event bus feeds the API's event stream and the webhooks from every gateway's hooks.
	events, err := web.NewEvents(ctx, store, log, web.EventsConfig{})
	if err != nil {
		return err
	}
	defer events.Close(context.Background()) // after an early return; a no-op after shutdown
	mgr := gateway.NewManager(log, []gateway.Protocol{stomp.New(), mqttsn.New(), coap.New()},
		gateway.Deps{Broker: broker, Node: node, Authorizer: access.Authz, Authn: access.Authenticator, Hooks: events.Hooks()})
	snap, err := store.Snapshot(ctx)
	if err != nil {
		return err
	}
	if err := mgr.Boot(ctx, snap); err != nil {
		return err
	}

	srv, err := web.New(ctx, web.Deps{Log: log, Node: node, Version: version, Store: store, Manager: mgr,
		Access: access, Events: events, AdminPassword: os.Getenv("XGATE_ADMIN_PASSWORD"), DataDir: dataDir})
	if err != nil {
		mgr.Stop(context.Background())
		return err
	}
	if err := srv.Listen(o.httpBind); err != nil {
		mgr.Stop(context.Background())
		return err
	}
	log.Info("xgate started", "version", version, "node", node, "data_dir", o.dataDir)

	<-ctx.Done()
	log.Info("shutting down")

	// Everything below shares one 5 s budget.
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	// The event streams end first: the HTTP server's shutdown waits for open requests.
	errs = append(errs, events.Close(stopCtx))
	errs = append(errs, srv.Shutdown(stopCtx))
	errs = append(errs, mgr.Stop(stopCtx))
	if err := errors.Join(errs...); err != nil {
		log.Warn("unclean shutdown", "error", err)
	}
	log.Info("stopped")
	return nil
}

// defaults is the configuration stored the first time a gateway is seen: every gateway on
// its standard ports, with the generated self-signed certificate on ssl and dtls.
func defaults(certFile, keyFile string) gateway.Snapshot {
	certs := func() *gateway.TLSConfig { return &gateway.TLSConfig{CertFile: certFile, KeyFile: keyFile} }
	listener := func(typ gateway.Transport, port string) gateway.ListenerConfig {
		l := gateway.DefaultListener()
		l.Type, l.Bind = typ, port
		switch typ {
		case gateway.SSL:
			l.SSLOptions = certs()
		case gateway.DTLS:
			l.DTLSOptions = certs()
		}
		return l
	}
	gw := func(name string, ls ...gateway.ListenerConfig) gateway.Config {
		c := gateway.DefaultConfig(name)
		c.Listeners = ls
		return c
	}
	return gateway.Snapshot{Gateways: []gateway.Config{
		gw("stomp", listener(gateway.TCP, "61613"), listener(gateway.SSL, "61614")),
		gw("mqttsn", listener(gateway.UDP, "1884"), listener(gateway.DTLS, "1885")),
		gw("coap", listener(gateway.UDP, "5683"), listener(gateway.DTLS, "5684")),
	}}
}
