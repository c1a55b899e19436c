// Package mqtt is xgate's embedded MQTT broker: a mochi-mqtt server with its MQTT/TCP and
// MQTT/WebSocket listeners, one permanent mochi hook that bridges connection
// authentication and topic authorization to authn, and the gateway.Broker adapter through
// which every other protocol publishes and subscribes. It is the only package importing mochi.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"

	"github.com/xgate/xgate/gateway"
)

// Listener ids, as mochi knows them and as authn.Client.Listener reports them after "mqtt:".
const (
	ListenerTCP = "tcp:default"
	ListenerWS  = "ws:default"
)

// Errors returned by the Broker.
var (
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("broker closed")
	// ErrInvalidFilter is returned by Subscribe for a malformed topic filter.
	ErrInvalidFilter = errors.New("invalid topic filter")
	// ErrInvalidQoS is returned for a QoS other than 0, 1 or 2.
	ErrInvalidQoS = errors.New("invalid qos")
	// ErrPacketTooLarge is returned by Publish for a message MQTT clients could not send either.
	ErrPacketTooLarge = errors.New("packet too large")
)

// Config is the broker's listener configuration.
type Config struct {
	TCPBind string // MQTT over TCP, e.g. "0.0.0.0:1883"; "" means no TCP listener
	WSBind  string // MQTT over WebSocket, e.g. "0.0.0.0:8083"; "" means no WebSocket listener
	// ConnectTimeout bounds the time from accepting a connection (for WebSocket, from the
	// upgrade) to receiving its CONNECT; the client's keepalive applies after that. 0 means
	// 15 s.
	ConnectTimeout time.Duration
}

// DefaultConfig returns the EMQX default ports on all interfaces and its idle timeout.
func DefaultConfig() Config {
	return Config{TCPBind: "0.0.0.0:1883", WSBind: "0.0.0.0:8083", ConnectTimeout: defaultConnectTimeout}
}

const (
	// maxPacketSize bounds inbound packets. mochi allocates a packet's whole remaining length
	// before reading it, so without a bound a 5-byte header could make it allocate 256 MiB.
	maxPacketSize = 1 << 20
	// netBufferSize is the per-connection bufio read buffer (allocated for every client) and
	// the write coalescing threshold. 2 KiB holds a typical IoT packet in one read.
	netBufferSize = 2 << 10
	// sysTopicInterval is how often mochi refreshes $SYS; each refresh stops the world for
	// runtime.ReadMemStats, which the 1 s default does needlessly often on a small appliance.
	sysTopicInterval = 10
)

// capabilities are mochi's limits, set explicitly because its defaults are sized for a big
// server: they reserve a channel of 8192 pending writes per client and keep sessions forever.
func capabilities() *mochi.Capabilities {
	return &mochi.Capabilities{
		// MaximumClients is unbounded: the file descriptor limit bounds it, and a per-listener
		// max_connections belongs to Config once the dashboard offers it.
		MaximumClients: math.MaxInt64,
		// MaximumMessageExpiryInterval 0 turns off mochi's forced expiry, which would delete
		// retained messages older than the limit (24 h by default) and stamp a made-up
		// Message-Expiry on every MQTT 5 delivery. Expiry set by a publisher still applies.
		MaximumMessageExpiryInterval: 0,
		// MaximumClientWritesPending is the capacity of each client's outbound channel, allocated
		// at connect: 256 pointers are 2 KiB per client instead of 64 KiB. A subscriber more
		// than 256 packets behind loses messages (counted in $SYS messages/dropped).
		MaximumClientWritesPending: 256,
		// MaximumSessionExpiryInterval bounds how long a disconnected persistent session keeps
		// its subscriptions and queued messages; for MQTT 3 clean_session=0 clients it is the
		// only expiry there is. mochi's default keeps them forever.
		MaximumSessionExpiryInterval: 2 * 60 * 60,
		MaximumPacketSize:            maxPacketSize,
		// ReceiveMaximum is how many inbound QoS 2 publishes a client may leave awaiting PUBREL.
		// mochi disconnects a client that exceeds it and MQTT 3 clients cannot learn it, so it
		// stays well above usual client windows; it costs nothing until used.
		ReceiveMaximum: 256,
		// MaximumInflight bounds the outbound QoS 1/2 messages stored per client, in flight or
		// queued for an offline session. Each is a full copy of the message, so mochi's 8192
		// could hold 8 GiB for one client at the maximum packet size.
		MaximumInflight: 256,
		// TopicAliasMaximum bounds inbound topic aliases. mochi does not announce it in CONNACK,
		// so conforming clients send none; it only limits what a misbehaving client can pin.
		TopicAliasMaximum:      16,
		SharedSubAvailable:     1,
		MinimumProtocolVersion: 3,
		MaximumQos:             2,
		RetainAvailable:        1,
		WildcardSubAvailable:   1,
		SubIDAvailable:         1,
		Compatibilities: mochi.Compatibilities{
			// NoInheritedPropertiesOnAck stops mochi echoing a publish's user properties back
			// in its PUBACK/PUBREC, which only wastes bandwidth.
			NoInheritedPropertiesOnAck: true,
		},
	}
}

// Broker is the embedded MQTT broker. It implements gateway.Broker.
type Broker struct {
	srv    *mochi.Server
	hook   *hook
	inline *mochi.Client // publishes for Publish; mochi's own inline client has no properties
	tcp    *tcpListener
	ws     *wsListener
	cancel context.CancelFunc // cancels authentications in progress

	nextID atomic.Int64 // inline subscription ids

	mu      sync.Mutex // orders Start and Close
	started bool
	closed  atomic.Bool
}

var _ gateway.Broker = (*Broker)(nil)

// New builds the broker and binds its listeners, so that a busy port is reported here; the
// broker serves nothing until Start. log may be nil.
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "mqtt")
	ctx, cancel := context.WithCancel(context.Background())

	srv := mochi.New(&mochi.Options{
		Capabilities:             capabilities(),
		ClientNetWriteBufferSize: netBufferSize,
		ClientNetReadBufferSize:  netBufferSize,
		Logger:                   log,
		SysTopicResendInterval:   sysTopicInterval,
		InlineClient:             true, // Server.Subscribe needs it
	})
	b := &Broker{
		srv:    srv,
		hook:   newHook(ctx, log),
		cancel: cancel,
	}

	// The inline client speaks MQTT 5 so that the packets it injects, and the retained copies
	// mochi keeps of them, are MQTT 5 packets (mochi honours message expiry only on those).
	// mochi re-encodes every delivery for the subscriber's own version, so properties reach
	// MQTT 5 subscribers and are dropped for MQTT 3 ones.
	b.inline = srv.NewClient(nil, mochi.LocalListener, inlineClientID, true)
	b.inline.Properties.ProtocolVersion = 5

	if err := srv.AddHook(b.hook, nil); err != nil {
		cancel()
		return nil, fmt.Errorf("mqtt hook: %w", err)
	}
	connectTimeout := cfg.ConnectTimeout
	if connectTimeout <= 0 {
		connectTimeout = defaultConnectTimeout
	}
	// mochi's listeners bind only when they serve (WebSocket) or hold a silent connection
	// forever and may hand mochi one while closing (TCP), so xgate has its own.
	if cfg.TCPBind != "" {
		b.tcp = newTCPListener(ListenerTCP, cfg.TCPBind, connectTimeout)
		if err := srv.AddListener(b.tcp); err != nil {
			b.abort()
			return nil, fmt.Errorf("mqtt listener %s on %s: %w", ListenerTCP, cfg.TCPBind, err)
		}
	}
	if cfg.WSBind != "" {
		b.ws = newWSListener(ListenerWS, cfg.WSBind, connectTimeout)
		if err := srv.AddListener(b.ws); err != nil {
			b.abort()
			return nil, fmt.Errorf("mqtt listener %s on %s: %w", ListenerWS, cfg.WSBind, err)
		}
	}
	return b, nil
}

// abort releases what New bound before failing.
func (b *Broker) abort() {
	b.closed.Store(true)
	b.cancel()
	_ = b.srv.Close()
}

// Start serves the listeners. It does not block.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return ErrClosed
	}
	if b.started {
		return errors.New("mqtt broker already started")
	}
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	b.started = true
	return nil
}

// Close disconnects every client, closes the listeners and waits for the goroutines serving
// them. It is safe to call more than once.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Swap(true) {
		return nil
	}
	b.cancel()
	err := b.srv.Close() // closes the listeners, which wait for their connections' goroutines
	if b.started {
		// mochi runs each listener's Serve in a goroutine of its own and does not wait for it.
		if b.tcp != nil {
			b.tcp.wait()
		}
		if b.ws != nil {
			b.ws.wait()
		}
	}
	return err
}

// Addr returns the bound address of the listener with the given id (ListenerTCP or
// ListenerWS), or nil if it is not configured. Useful when binding port 0.
func (b *Broker) Addr(id string) net.Addr {
	switch {
	case id == ListenerTCP && b.tcp != nil:
		return b.tcp.ln.Addr()
	case id == ListenerWS && b.ws != nil:
		return b.ws.ln.Addr()
	}
	return nil
}

// Clients returns the number of MQTT clients connected and authenticated right now. The
// broker's inline clients are not counted.
func (b *Broker) Clients() int {
	return int(atomic.LoadInt64(&b.srv.Info.ClientsConnected))
}
