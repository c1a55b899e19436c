// Package mqttsn is xgate's MQTT-SN 1.2 gateway over UDP and DTLS, with EMQX's topic id
// model: normal ids per session from 1025, predefined ids from the gateway settings, short
// two-character topics, and QoS -1 publishing without a connection.
package mqttsn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/xgate/xgate/gateway"
)

// Settings are the MQTT-SN gateway's own fields (EMQX names; the rest are xgate's).
type Settings struct {
	GatewayID  byte         `json:"gateway_id" help:"The gateway's id in GWINFO and ADVERTISE (0 to 255)."`
	Broadcast  bool         `json:"broadcast" help:"Send ADVERTISE every broadcast_interval to broadcast_address on the listener's port."`
	EnableQoS3 bool         `json:"enable_qos3" help:"Accept QoS -1 publishes from clients without a connection (predefined or short topics); off answers PUBACK 0x03."`
	SubsResume bool         `json:"subs_resume" help:"When a CleanSession=0 session resumes, REGISTER every subscribed topic name again before the queue is replayed."`
	Predefined []Predefined `json:"predefined" help:"Topic ids known to every client without REGISTER: ids 1 to 1024, each id and topic once."`
	// BroadcastInterval is the ADVERTISE period; it is also the Duration the ADVERTISE
	// announces (in seconds, fixing EMQX 5's overflowing milliseconds).
	BroadcastInterval gateway.Duration `json:"broadcast_interval" help:"The ADVERTISE period, also the duration it announces (at least 1s when broadcast is on, at most 65535s)."`
	// BroadcastAddress is where ADVERTISE goes, on the listener's port.
	BroadcastAddress string `json:"broadcast_address" help:"The IP address ADVERTISE is sent to."`
	// MaxInflight is the number of unacknowledged QoS 1/2 downlink messages per session.
	MaxInflight int `json:"max_inflight" help:"Unacknowledged QoS 1/2 messages to a client at a time (1 to 65535)."`
	// RetryInterval is how long an unacknowledged downlink PUBLISH waits before it is sent
	// again (DUP); after MaxRetries the client is considered lost.
	RetryInterval gateway.Duration `json:"retry_interval" help:"How long an unacknowledged PUBLISH to a client waits before it is sent again (at least 100ms)."`
	MaxRetries    int              `json:"max_retries" help:"Resends of an unacknowledged PUBLISH before the client is considered lost."`
	// MaxMqueueLen bounds the messages queued per session while it sleeps, waits for a
	// REGACK or has its inflight window full; overflow is dropped and counted.
	MaxMqueueLen int `json:"max_mqueue_len" help:"Messages queued per session while it sleeps or waits; beyond that they are dropped and counted."`
	// SessionExpiry is how long a CleanSession=0 session outlives its client.
	SessionExpiry gateway.Duration `json:"session_expiry_interval" help:"How long a CleanSession=0 session outlives its client, queuing messages."`
}

// Predefined is one predefined topic id.
type Predefined struct {
	ID    uint16 `json:"id" help:"The topic id, 1 to 1024."`
	Topic string `json:"topic" help:"The topic name, without wildcards."`
}

// DefaultSettings returns EMQX's defaults and xgate's bounds.
func DefaultSettings() Settings {
	return Settings{
		GatewayID:         1,
		EnableQoS3:        true,
		Predefined:        []Predefined{},
		BroadcastInterval: gateway.Duration(15 * time.Minute),
		BroadcastAddress:  "255.255.255.255",
		MaxInflight:       1,
		RetryInterval:     gateway.Duration(30 * time.Second),
		MaxRetries:        3,
		MaxMqueueLen:      1000,
		SessionExpiry:     gateway.Duration(2 * time.Hour),
	}
}

// maxPredefinedID is EMQX's SN_MAX_PREDEF_TOPIC_ID: normal ids start above it.
const maxPredefinedID = 1024

// Validate checks the ranges and the predefined table.
func (s Settings) Validate() error {
	seenID, seenTopic := map[uint16]bool{}, map[string]bool{}
	for i, p := range s.Predefined {
		switch {
		case p.ID < 1 || p.ID > maxPredefinedID:
			return fmt.Errorf("predefined[%d].id: %d is not in 1..%d", i, p.ID, maxPredefinedID)
		case p.Topic == "" || strings.ContainsAny(p.Topic, "+#"):
			return fmt.Errorf("predefined[%d].topic: %q must be a topic name without wildcards", i, p.Topic)
		case seenID[p.ID] || seenTopic[p.Topic]:
			return fmt.Errorf("predefined[%d]: id %d or topic %q is defined twice", i, p.ID, p.Topic)
		}
		seenID[p.ID], seenTopic[p.Topic] = true, true
	}
	switch {
	case s.Broadcast && s.BroadcastInterval.D() < time.Second:
		return errors.New("broadcast_interval: must be at least 1s")
	case s.BroadcastInterval.D() > 65535*time.Second:
		return errors.New("broadcast_interval: must fit ADVERTISE's 16-bit seconds (at most 65535s)")
	case s.MaxInflight < 1 || s.MaxInflight > 65535:
		return errors.New("max_inflight: must be between 1 and 65535")
	case s.RetryInterval.D() < 100*time.Millisecond:
		return errors.New("retry_interval: must be at least 100ms")
	case s.MaxRetries < 1:
		return errors.New("max_retries: must be at least 1")
	case s.MaxMqueueLen < 1:
		return errors.New("max_mqueue_len: must be at least 1")
	case s.SessionExpiry.D() < 0:
		return errors.New("session_expiry_interval: must not be negative")
	}
	if s.Broadcast {
		if _, err := netip.ParseAddr(s.BroadcastAddress); err != nil {
			return fmt.Errorf("broadcast_address: %w", err)
		}
	}
	return nil
}

// predefinedByID and predefinedByTopic look up the gateway's predefined topics.
func (s *Settings) predefinedByID(id uint16) (string, bool) {
	for _, p := range s.Predefined {
		if p.ID == id {
			return p.Topic, true
		}
	}
	return "", false
}

func (s *Settings) predefinedByTopic(topic string) (uint16, bool) {
	for _, p := range s.Predefined {
		if p.Topic == topic {
			return p.ID, true
		}
	}
	return 0, false
}

// Protocol is the MQTT-SN gateway.
type Protocol struct{}

var _ gateway.Protocol = (*Protocol)(nil)

// New returns the MQTT-SN protocol.
func New() *Protocol { return &Protocol{} }

func (*Protocol) Name() string { return "mqttsn" }

func (*Protocol) Transports() []gateway.Transport {
	return []gateway.Transport{gateway.UDP, gateway.DTLS}
}

// ParseSettings decodes the protocol fields strictly over the defaults.
func (*Protocol) ParseSettings(raw json.RawMessage) (any, error) {
	return gateway.DecodeSettings(raw, DefaultSettings())
}

// Serve runs one listener: a UDP socket demultiplexed by peer, or a DTLS listener with one
// session per DTLS connection.
func (p *Protocol) Serve(ctx context.Context, sock gateway.Socket, env *gateway.Env) error {
	srv := newServer(ctx, env)
	defer srv.shutdown()
	if sock.Stream != nil {
		return gateway.ServeStream(ctx, sock.Stream, func(c net.Conn) gateway.StreamConn {
			return &dtlsConn{srv: srv, conn: c}
		})
	}
	return srv.serveUDP(ctx, sock.Packet)
}

// server is one listener's set of sessions. A session is an actor: events are posted to
// it and handled one at a time by a goroutine that exists only while there is work.
type server struct {
	env *gateway.Env
	ctx context.Context

	mu       sync.Mutex
	byPeer   map[netip.AddrPort]*session // UDP only
	byClient map[string]*session         // UDP only: NAT rebinding keeps the session
	closed   bool
	workers  sync.WaitGroup
}

func newServer(ctx context.Context, env *gateway.Env) *server {
	return &server{env: env, ctx: ctx, byPeer: map[netip.AddrPort]*session{}, byClient: map[string]*session{}}
}

func (srv *server) settings() Settings { return srv.env.Settings().(Settings) }

// startWorker accounts for a session goroutine; false once the server is shutting down.
func (srv *server) startWorker() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closed {
		return false
	}
	srv.workers.Add(1)
	return true
}

// shutdown tells every UDP session goodbye, then waits for all session goroutines.
func (srv *server) shutdown() {
	srv.mu.Lock()
	sessions := make([]*session, 0, len(srv.byPeer))
	seen := map[*session]bool{}
	for _, s := range srv.byPeer {
		if !seen[s] {
			seen[s] = true
			sessions = append(sessions, s)
		}
	}
	for _, s := range srv.byClient {
		if !seen[s] {
			seen[s] = true
			sessions = append(sessions, s)
		}
	}
	srv.mu.Unlock()
	for _, s := range sessions {
		s.Kick(gateway.ErrShutdown)
	}
	// Kicks are handled by goroutines already accounted for; nothing new starts after this.
	srv.mu.Lock()
	srv.closed = true
	srv.mu.Unlock()
	srv.workers.Wait()
}

// serveUDP is the single read loop of a UDP listener.
func (srv *server) serveUDP(ctx context.Context, pc net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { pc.SetReadDeadline(time.Now()) })
	defer stop()
	adv := startAdvertiser(ctx, srv, pc)
	defer adv.wait()
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		peer := gateway.AddrPort(from)
		if !srv.env.Allow(peer) {
			continue
		}
		p, err := Decode(buf[:n])
		if err != nil {
			srv.env.Malformed()
			srv.env.Log().Debug("malformed datagram dropped", "peer", peer, "error", err)
			continue
		}
		srv.route(p, &udpLink{pc: pc, to: net.UDPAddrFromAddrPort(peer), peer: peer})
	}
}

// route hands a UDP datagram to its session. A packet from an unknown address is
// attributed by clientid when it carries one (CONNECT, PINGREQ of a sleeping client), so a
// client whose NAT mapping changed keeps its session.
func (srv *server) route(p *Packet, l *udpLink) {
	if p.Type == SearchGW {
		srv.gwinfo(l)
		return
	}
	srv.mu.Lock()
	s := srv.byPeer[l.peer]
	if s == nil && p.ClientID != "" && (p.Type == Connect || p.Type == Pingreq) {
		if s = srv.byClient[p.ClientID]; s != nil {
			srv.byPeer[l.peer] = s
		}
	}
	if s == nil {
		if p.Type != Connect && !(p.Type == Publish && p.Flags.QoS == -1) {
			srv.mu.Unlock()
			srv.env.Log().Debug("packet from an unknown peer dropped", "peer", l.peer, "type", p.Type)
			return
		}
		if !srv.env.Admit(l.peer, len(srv.byPeer)) {
			srv.mu.Unlock()
			return
		}
		s = newSession(srv, l)
		srv.byPeer[l.peer] = s
	}
	srv.mu.Unlock()
	s.post(event{pkt: p, link: l})
}

// bind records the clientid of a UDP session after CONNECT, so that a later packet from
// another address can be attributed to it.
func (srv *server) bind(s *session, clientID string) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !s.udp {
		return
	}
	for id, x := range srv.byClient {
		if x == s && id != clientID { // the same address logged in under another clientid
			delete(srv.byClient, id)
		}
	}
	srv.byClient[clientID] = s
}

// forget removes a finished session from the routing tables.
func (srv *server) forget(s *session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for peer, x := range srv.byPeer {
		if x == s {
			delete(srv.byPeer, peer)
		}
	}
	for id, x := range srv.byClient {
		if x == s {
			delete(srv.byClient, id)
		}
	}
}

// unroute drops one peer address of a session (the client moved to another address).
func (srv *server) unroute(peer netip.AddrPort, s *session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.byPeer[peer] == s {
		delete(srv.byPeer, peer)
	}
}

// gwinfo answers SEARCHGW (MQTT-SN 1.2 §6.1: a gateway answers with its id only).
func (srv *server) gwinfo(l link) {
	l.send(Append(nil, &Packet{Type: GWInfo, GwID: srv.settings().GatewayID}))
}

// link sends datagrams to one client.
type link interface {
	send(b []byte) error
	addr() netip.AddrPort
	close()
}

type udpLink struct {
	pc   net.PacketConn
	to   *net.UDPAddr
	peer netip.AddrPort
}

func (u *udpLink) send(b []byte) error {
	_, err := u.pc.WriteTo(b, u.to)
	return err
}
func (u *udpLink) addr() netip.AddrPort { return u.peer }
func (u *udpLink) close()               {}

// dtlsConn is one DTLS connection: its read loop posts packets to its own session.
type dtlsConn struct {
	srv  *server
	conn net.Conn
	s    *session
	mu   sync.Mutex
}

type dtlsLink struct{ c net.Conn }

func (d dtlsLink) send(b []byte) error {
	d.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := d.c.Write(b)
	return err
}
func (d dtlsLink) addr() netip.AddrPort { return gateway.AddrPort(d.c.RemoteAddr()) }
func (d dtlsLink) close()               { d.c.Close() }

func (d *dtlsConn) Run(ctx context.Context) {
	l := dtlsLink{d.conn}
	s := newSession(d.srv, l)
	d.mu.Lock()
	d.s = s
	d.mu.Unlock()
	defer d.conn.Close()
	buf := make([]byte, 65535)
	d.conn.SetReadDeadline(time.Now().Add(d.srv.env.IdleTimeout()))
	for {
		n, err := d.conn.Read(buf)
		if err != nil {
			s.post(event{lost: true})
			return
		}
		d.conn.SetReadDeadline(time.Time{}) // the session's keepalive takes over
		p, err := Decode(buf[:n])
		if err != nil {
			d.srv.env.Malformed()
			continue
		}
		if p.Type == SearchGW {
			d.srv.gwinfo(l)
			continue
		}
		s.post(event{pkt: p, link: l})
	}
}

func (d *dtlsConn) Kick(reason error) {
	d.mu.Lock()
	s := d.s
	d.mu.Unlock()
	if s != nil {
		s.Kick(reason)
	}
	d.conn.Close()
}

// advertiser sends ADVERTISE every BroadcastInterval to BroadcastAddress on the listener's
// port while broadcast is enabled (MQTT-SN 1.2 §6.1). It reads the settings each round, so
// turning broadcast on or off needs no restart.
type advertiser struct{ done chan struct{} }

// advertiseRecheck is how often a disabled advertiser looks whether it was enabled.
const advertiseRecheck = 5 * time.Second

func startAdvertiser(ctx context.Context, srv *server, pc net.PacketConn) *advertiser {
	a := &advertiser{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			st := srv.settings()
			wait := advertiseRecheck
			if st.Broadcast {
				wait = st.BroadcastInterval.D()
				port := gateway.AddrPort(pc.LocalAddr()).Port()
				to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(st.BroadcastAddress), port))
				pkt := Append(nil, &Packet{Type: Advertise, GwID: st.GatewayID, Duration: uint16(wait / time.Second)})
				if _, err := pc.WriteTo(pkt, to); err != nil {
					srv.env.Log().Warn("ADVERTISE not sent", "to", to.String(), "error", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
	return a
}

func (a *advertiser) wait() { <-a.done }
