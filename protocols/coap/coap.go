// Package coap is xgate's CoAP gateway (RFC 7252, Observe RFC 7641, block-wise RFC 7959)
// on go-coap v3, with EMQX's resources: /ps/{topic} to publish (POST) and subscribe (GET
// with Observe), and /mqtt/connection for connection mode.
package coap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/xgate/xgate/gateway"
)

// Settings are the CoAP gateway's own fields (EMQX names; the rest are xgate's).
type Settings struct {
	Heartbeat          gateway.Duration `json:"heartbeat" help:"A channel silent for 1.5 times this is closed, unless it observes something (at least 1s; read when a listener starts)."`
	ConnectionRequired bool             `json:"connection_required" help:"Every /ps request must carry the clientid and token of a /mqtt/connection login."`
	NotifyType         string           `json:"notify_type" enum:"non,con,qos" help:"Message type of notifications: non, con, or qos (QoS 0 as NON, QoS 1 and 2 as CON)."`
	SubscribeQoS       string           `json:"subscribe_qos" enum:"qos0,qos1,qos2,coap" help:"QoS of subscriptions without a qos query; coap: CON as 1, NON as 0."`
	PublishQoS         string           `json:"publish_qos" enum:"qos0,qos1,qos2,coap" help:"QoS of publishes without a qos query; coap: CON as 1, NON as 0."`
	// MaxMqueueLen bounds the notifications waiting per channel; overflow is dropped and
	// counted.
	MaxMqueueLen int `json:"max_mqueue_len" help:"Notifications waiting per channel; beyond that they are dropped and counted."`
	// AckTimeout and MaxRetransmit are RFC 7252's ACK_TIMEOUT and MAX_RETRANSMIT for CON
	// messages the gateway sends (EMQX: 2 s, 4).
	AckTimeout    gateway.Duration `json:"ack_timeout" help:"RFC 7252 ACK_TIMEOUT for CON messages the gateway sends (10ms to 1m; read when a listener starts)."`
	MaxRetransmit int              `json:"max_retransmit" help:"RFC 7252 MAX_RETRANSMIT for CON messages the gateway sends (0 to 10; read when a listener starts)."`
}

// DefaultSettings returns EMQX's defaults.
func DefaultSettings() Settings {
	return Settings{
		Heartbeat:     gateway.Duration(30 * time.Second),
		NotifyType:    "qos",
		SubscribeQoS:  "coap",
		PublishQoS:    "coap",
		MaxMqueueLen:  100,
		AckTimeout:    gateway.Duration(2 * time.Second),
		MaxRetransmit: 4,
	}
}

// Validate checks the enumerations and ranges.
func (s Settings) Validate() error {
	switch {
	case s.Heartbeat.D() < time.Second:
		return errors.New("heartbeat: must be at least 1s")
	case s.NotifyType != "non" && s.NotifyType != "con" && s.NotifyType != "qos":
		return fmt.Errorf("notify_type: %q is not non, con or qos", s.NotifyType)
	case !validQoSMode(s.SubscribeQoS):
		return fmt.Errorf("subscribe_qos: %q is not qos0, qos1, qos2 or coap", s.SubscribeQoS)
	case !validQoSMode(s.PublishQoS):
		return fmt.Errorf("publish_qos: %q is not qos0, qos1, qos2 or coap", s.PublishQoS)
	case s.MaxMqueueLen < 1:
		return errors.New("max_mqueue_len: must be at least 1")
	case s.AckTimeout.D() < 10*time.Millisecond || s.AckTimeout.D() > time.Minute:
		return errors.New("ack_timeout: must be between 10ms and 1m")
	case s.MaxRetransmit < 0 || s.MaxRetransmit > 10:
		return errors.New("max_retransmit: must be between 0 and 10")
	}
	return nil
}

func validQoSMode(m string) bool {
	return m == "qos0" || m == "qos1" || m == "qos2" || m == "coap"
}

// blockTimeout bounds a block-wise transfer.
const blockTimeout = 30 * time.Second

// Protocol is the CoAP gateway.
type Protocol struct{}

var _ gateway.Protocol = (*Protocol)(nil)

// New returns the CoAP protocol.
func New() *Protocol { return &Protocol{} }

func (*Protocol) Name() string { return "coap" }

func (*Protocol) Transports() []gateway.Transport {
	return []gateway.Transport{gateway.UDP, gateway.DTLS}
}

// ParseSettings decodes the protocol fields strictly over the defaults.
func (*Protocol) ParseSettings(raw json.RawMessage) (any, error) {
	return gateway.DecodeSettings(raw, DefaultSettings())
}

// Serve runs the listener's CoAP connections on go-coap until ctx ends. The heartbeat and
// transmission settings are read here, when the listener starts.
func (p *Protocol) Serve(ctx context.Context, sock gateway.Socket, env *gateway.Env) error {
	srv := newServer(ctx, env)
	defer srv.wait()
	if sock.Packet == nil {
		return srv.serveDTLS(ctx, sock.Stream)
	}
	uc, ok := sock.Packet.(*net.UDPConn)
	if !ok {
		return fmt.Errorf("coap needs a UDP socket, got %T", sock.Packet)
	}
	return srv.serveUDP(ctx, uc)
}

// server is one listener's channels: one per go-coap connection (a UDP peer or a DTLS
// session), and the connection-mode ones also by clientid.
type server struct {
	env *gateway.Env
	ctx context.Context

	cfg       udpclient.Config // of every connection
	idle      time.Duration    // a channel without traffic for this long is closed
	tickEvery time.Duration    // how often go-coap's timers run

	mu       sync.Mutex
	channels map[*udpclient.Conn]*channel
	byClient map[string]*channel
	workers  sync.WaitGroup
	closed   bool
}

func newServer(ctx context.Context, env *gateway.Env) *server {
	srv := &server{env: env, ctx: ctx, channels: map[*udpclient.Conn]*channel{}, byClient: map[string]*channel{}}
	st := srv.settings()
	srv.cfg = srv.connConfig(st)
	// A channel with no traffic for 1.5 × heartbeat is closed, unless it observes
	// something: notifications are its traffic (EMQX issue #16037).
	srv.idle = time.Duration(float64(st.Heartbeat.D()) * 1.5)
	// The tick retransmits and expires; go-coap's default of 4 s is too coarse for a 2 s
	// ACK_TIMEOUT.
	srv.tickEvery = min(st.AckTimeout.D()/2, 500*time.Millisecond)
	return srv
}

func (srv *server) settings() Settings { return srv.env.Settings().(Settings) }

// channel returns the channel of a connection, creating it.
func (srv *server) channel(cc *udpclient.Conn) *channel {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	ch := srv.channels[cc]
	if ch == nil {
		ch = newChannel(srv, cc)
		srv.channels[cc] = ch
	}
	return ch
}

// closed1 ends the channel of a closed connection (unless it moved to another one).
func (srv *server) closed1(cc *udpclient.Conn) {
	srv.mu.Lock()
	ch := srv.channels[cc]
	delete(srv.channels, cc)
	srv.mu.Unlock()
	if ch != nil && ch.conn() == cc {
		ch.end(nil)
	}
}

// inactive is go-coap's inactivity callback: observing channels stay.
func (srv *server) inactive(cc *udpclient.Conn) {
	srv.mu.Lock()
	ch := srv.channels[cc]
	srv.mu.Unlock()
	if ch != nil && ch.observing() {
		return
	}
	srv.env.Log().Debug("closing idle coap channel", "peer", cc.RemoteAddr())
	cc.Close()
}

// startWorker accounts for a notification goroutine or a request being handled; false once
// the server is stopping.
func (srv *server) startWorker() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closed {
		return false
	}
	srv.workers.Add(1)
	return true
}

// wait ends every channel and waits for their notification goroutines and handlers.
func (srv *server) wait() {
	srv.mu.Lock()
	chans := make([]*channel, 0, len(srv.channels))
	for _, ch := range srv.channels {
		chans = append(chans, ch)
	}
	srv.mu.Unlock()
	for _, ch := range chans {
		ch.end(gateway.ErrShutdown)
	}
	srv.mu.Lock()
	srv.closed = true
	srv.mu.Unlock()
	srv.workers.Wait()
}
