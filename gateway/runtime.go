package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xgate/xgate/authn"
)

// Runtime runs one gateway: it implements the listener lifecycle once for every Protocol.
// Changes come from the Manager, one at a time, in two steps: prepare (may fail, touches
// nothing running) and commit (cannot fail).
type Runtime struct {
	name       string
	proto      Protocol
	log        *slog.Logger
	broker     Broker
	authorizer authn.Authorizer
	newAuthn   AuthenticatorFactory
	hooks      *Hooks
	node       string

	ctx       context.Context // parent of every listener's Serve
	cancel    context.CancelFunc
	state     atomic.Pointer[gwState]
	lmu       sync.RWMutex         // guards listeners for readers outside the Manager's lock
	listeners map[string]*listener // by Key(); written only by commit, under the Manager's lock
	registry  registry
	counters  Counters
	startedAt atomic.Pointer[time.Time]
}

type gwState struct {
	cfg      Config
	settings any
}

// listener is one running (or failed) listener of a gateway.
type listener struct {
	id       string // "<gateway>:<type>:<name>"
	cfg      atomic.Pointer[ListenerConfig]
	rules    atomic.Pointer[[]AccessRule]
	tls      atomic.Pointer[tls.Config]
	psk      atomic.Pointer[map[string][]byte] // DTLS pre-shared keys by identity
	chain    atomic.Pointer[authn.Chain]
	sock     *boundSocket // nil when binding failed at boot
	bindErr  error
	stream   *streamListener
	env      *Env
	cancel   context.CancelFunc
	done     chan struct{}
	serveErr atomic.Pointer[error]
	stopping atomic.Bool
	conns    atomic.Int64
	limiter  rateLimiter
	counters Counters

	lastRefusalLog atomic.Int64 // unix nanoseconds of the last refusal warning
}

// admit applies access rules, max_connections (against open, the peers already served)
// and max_conn_rate to a new peer.
func (l *listener) admit(peer netip.AddrPort, open int64) bool {
	cfg := l.cfg.Load()
	if !Allowed(*l.rules.Load(), peer.Addr()) {
		l.env.log.Debug("connection denied by access rules", "peer", peer)
		return false
	}
	if cfg.MaxConnections > 0 && open >= int64(cfg.MaxConnections) {
		l.warnRefused("connection refused: max_connections reached", "peer", peer, "max_connections", cfg.MaxConnections)
		return false
	}
	if !l.limiter.allow(cfg.MaxConnRate) {
		l.warnRefused("connection refused: max_conn_rate exceeded", "peer", peer, "max_conn_rate", cfg.MaxConnRate)
		return false
	}
	return true
}

// warnRefused logs a refused peer at most once a second per listener: over UDP a refused
// peer is refused again with every datagram it sends.
func (l *listener) warnRefused(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := l.lastRefusalLog.Load()
	if now-last < int64(time.Second) || !l.lastRefusalLog.CompareAndSwap(last, now) {
		return
	}
	l.env.log.Warn(msg, args...)
}

// AuthenticatorFactory builds an authenticator from its stored JSON configuration. ref
// names it, so that built-in users can be looked up by the authenticator they belong to. A
// nil authenticator without error is a disabled one: the listener has none.
type AuthenticatorFactory func(ref AuthnRef, raw json.RawMessage) (authn.Authenticator, error)

// AuthnRef names an authenticator: a gateway's (Listener "") or one listener's (Listener
// "<type>:<name>", the listener's Key).
type AuthnRef struct {
	Gateway  string
	Listener string
}

func (r AuthnRef) String() string {
	if r.Listener == "" {
		return r.Gateway
	}
	return r.Gateway + ":" + r.Listener
}

// plan is a prepared change of one gateway: everything that could fail has been done.
type plan struct {
	rt       *Runtime
	state    *gwState
	enabled  bool
	start    []*listener           // new listeners, socket bound (or borrowed)
	stop     []*listener           // running listeners to stop
	handover map[*listener]bool    // of stop: the socket moves to a listener in start
	reconf   map[*listener]*reconf // running listeners whose settings change in place
	failed   []*listener           // boot only: listeners whose bind failed
}

type reconf struct {
	cfg   ListenerConfig
	rules []AccessRule
	tls   *tls.Config
	psk   map[string][]byte
	chain authn.Chain
}

func (rt *Runtime) listenerID(cfg ListenerConfig) string {
	return rt.name + ":" + cfg.Key()
}

// prepare validates next, parses settings, builds authenticators, loads certificates and
// binds new sockets. On error nothing running has changed and nothing is left open.
// bestEffort (boot) records bind failures on the listener instead of failing the change.
func (rt *Runtime) prepare(next Config, bestEffort bool) (p *plan, err error) {
	if err := next.Validate(); err != nil {
		return nil, fmt.Errorf("gateway %s: %w", rt.name, err)
	}
	settings, err := rt.proto.ParseSettings(next.Settings)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", rt.name, err)
	}
	gwChain, err := rt.buildChain(AuthnRef{Gateway: rt.name}, next.Authentication)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: authentication: %w", rt.name, err)
	}
	p = &plan{rt: rt, state: &gwState{cfg: next, settings: settings}, enabled: next.Enable,
		handover: map[*listener]bool{}, reconf: map[*listener]*reconf{}}
	defer func() {
		if err != nil {
			p.abort()
			p = nil
		}
	}()

	wanted := map[string]bool{}
	for _, lc := range next.Listeners {
		if !slices.Contains(rt.proto.Transports(), lc.Type) {
			return p, fmt.Errorf("gateway %s: listener %s: %s does not support %s listeners", rt.name, lc.Key(), rt.name, lc.Type)
		}
		wanted[lc.Key()] = next.Enable && lc.Enable
	}
	// Running listeners that go away, so their sockets can be handed over.
	for key, l := range rt.listeners {
		if !wanted[key] {
			p.stop = append(p.stop, l)
		}
	}
	for _, lc := range next.Listeners {
		if !wanted[lc.Key()] {
			continue
		}
		rc, err := rt.prepareListener(lc, gwChain)
		if err != nil {
			return p, fmt.Errorf("gateway %s: listener %s: %w", rt.name, lc.Key(), err)
		}
		old := rt.listeners[lc.Key()]
		oldAddr := ""
		if old != nil {
			oldAddr, _ = old.cfg.Load().Address()
		}
		newAddr, _ := lc.Address()
		if old != nil && old.sock != nil && old.cfg.Load().Type == lc.Type && oldAddr == newAddr {
			p.reconf[old] = rc
			continue
		}
		if old != nil {
			p.stop = append(p.stop, old)
		}
		l := rt.newListener(rc)
		if s := p.takeSocket(lc.Type, newAddr); s != nil {
			l.sock = s
		} else if l.sock, err = bind(lc, l); err != nil {
			if !bestEffort {
				return p, fmt.Errorf("gateway %s: listener %s: %w", rt.name, lc.Key(), err)
			}
			l.bindErr = err
			p.failed = append(p.failed, l)
			continue
		}
		p.start = append(p.start, l)
	}
	return p, nil
}

// prepareListener does the fallible per-listener work: access rules, TLS, authenticators.
func (rt *Runtime) prepareListener(lc ListenerConfig, gwChain authn.Chain) (*reconf, error) {
	rules, err := ParseAccessRules(lc.AccessRules)
	if err != nil {
		return nil, fmt.Errorf("access_rules: %w", err)
	}
	rc := &reconf{cfg: lc, rules: rules, chain: gwChain, psk: map[string][]byte{}}
	if t := lc.TLS(); t != nil {
		if rc.tls, err = LoadTLS(t, string(lc.Type)+"_options"); err != nil {
			return nil, err
		}
		for _, p := range t.PSK {
			rc.psk[p.Identity] = []byte(p.Key)
		}
	}
	switch {
	case !lc.EnableAuthn:
		rc.chain = nil
	case len(bytes.TrimSpace(lc.Authentication)) > 0 && string(bytes.TrimSpace(lc.Authentication)) != "null":
		if rc.chain, err = rt.buildChain(AuthnRef{Gateway: rt.name, Listener: lc.Key()}, lc.Authentication); err != nil {
			return nil, fmt.Errorf("authentication: %w", err)
		}
	}
	return rc, nil
}

func (rt *Runtime) buildChain(ref AuthnRef, raw json.RawMessage) (authn.Chain, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if rt.newAuthn == nil {
		return nil, errors.New("authenticators are not available in this build")
	}
	a, err := rt.newAuthn(ref, raw)
	if err != nil || a == nil { // nil: a disabled authenticator
		return nil, err
	}
	return authn.Chain{a}, nil
}

func (rt *Runtime) newListener(rc *reconf) *listener {
	l := &listener{id: rt.listenerID(rc.cfg)}
	l.apply(rc)
	l.env = &Env{rt: rt, l: l, log: rt.log.With("listener", l.id)}
	return l
}

func (l *listener) apply(rc *reconf) {
	cfg := rc.cfg
	l.cfg.Store(&cfg)
	l.rules.Store(&rc.rules)
	l.tls.Store(rc.tls)
	l.psk.Store(&rc.psk)
	ch := rc.chain
	l.chain.Store(&ch)
}

// takeSocket hands over the TCP socket of a listener being stopped in this change when it
// is bound to addr, so that moving a port between listeners needs no second bind.
func (p *plan) takeSocket(typ Transport, addr string) *boundSocket {
	if typ != TCP && typ != SSL {
		return nil
	}
	for _, old := range p.stop {
		if old.sock == nil || old.sock.tcp == nil || p.handover[old] {
			continue
		}
		if old.sock.addr == addr || old.sock.LocalAddr().String() == addr {
			p.handover[old] = true
			return old.sock
		}
	}
	return nil
}

// abort closes what prepare opened; borrowed sockets stay with their running owner.
func (p *plan) abort() {
	for _, l := range p.start {
		if l.sock != nil && !p.borrowed(l.sock) {
			l.sock.Close()
		}
	}
}

func (p *plan) borrowed(s *boundSocket) bool {
	for old := range p.handover {
		if old.sock == s {
			return true
		}
	}
	return false
}

// commit swaps the prepared change in. It cannot fail.
func (p *plan) commit() {
	rt := p.rt
	for _, l := range p.stop {
		rt.stopListener(l, p.handover[l])
		rt.lmu.Lock()
		if rt.listeners[l.cfg.Load().Key()] == l {
			delete(rt.listeners, l.cfg.Load().Key())
		}
		rt.lmu.Unlock()
	}
	rt.state.Store(p.state)
	for l, rc := range p.reconf {
		l.apply(rc)
	}
	rt.lmu.Lock()
	for _, l := range p.failed {
		rt.log.Error("listener not started", "listener", l.id, "error", l.bindErr)
		rt.listeners[l.cfg.Load().Key()] = l
	}
	for _, l := range p.start {
		rt.listeners[l.cfg.Load().Key()] = l
	}
	rt.lmu.Unlock()
	for _, l := range p.start {
		rt.startListener(l)
	}
	if p.enabled {
		if rt.startedAt.Load() == nil {
			now := time.Now()
			rt.startedAt.Store(&now)
		}
	} else {
		rt.startedAt.Store(nil)
	}
}

func (rt *Runtime) startListener(l *listener) {
	ctx, cancel := context.WithCancel(rt.ctx)
	l.cancel = cancel
	l.done = make(chan struct{})
	var s Socket
	switch {
	case l.sock.tcp != nil:
		l.sock.tcp.SetDeadline(time.Time{}) // a handed-over socket was woken with a deadline
		l.stream = &streamListener{inner: l.sock.tcp, l: l, tcp: l.sock.tcp}
		s.Stream = l.stream
	case l.sock.dtls != nil:
		l.stream = &streamListener{inner: l.sock.dtls, l: l}
		s.Stream = l.stream
	default:
		s.Packet = l.sock.udp
	}
	l.env.log.Info("listener started", "bind", l.sock.LocalAddr().String())
	go func() {
		defer close(l.done)
		err := rt.proto.Serve(ctx, s, l.env)
		if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
			l.serveErr.Store(&err)
			l.env.log.Error("listener stopped", "error", err)
		}
	}()
}

// stopListener kicks the listener's clients with ErrShutdown, closes (or detaches) its
// socket and waits for the protocol's Serve to return.
func (rt *Runtime) stopListener(l *listener, handover bool) {
	l.stopping.Store(true)
	if l.sock == nil {
		return
	}
	for _, c := range rt.registry.all() {
		if c.l == l {
			c.s.Kick(ErrShutdown)
		}
	}
	if handover {
		l.stream.handover.Store(true)
	}
	l.cancel()
	if l.stream != nil {
		l.stream.Close()
	}
	if !handover {
		l.sock.Close()
	}
	<-l.done
	l.env.log.Info("listener stopped")
}

// Addr returns the bound address of a running listener ("tcp:default"), for tests and
// status pages; nil when it is not running.
func (rt *Runtime) Addr(key string) net.Addr {
	rt.lmu.RLock()
	l := rt.listeners[key]
	rt.lmu.RUnlock()
	if l == nil || l.sock == nil {
		return nil
	}
	return l.sock.LocalAddr()
}

func (rt *Runtime) listenerPort(id string) int {
	rt.lmu.RLock()
	defer rt.lmu.RUnlock()
	for _, l := range rt.listeners {
		if l.id == id && l.sock != nil {
			if a := AddrPort(l.sock.LocalAddr()); a.IsValid() {
				return int(a.Port())
			}
		}
	}
	return 0
}

// Client returns the logged-in client with that clientid, or nil.
func (rt *Runtime) Client(clientID string) *Client { return rt.registry.get(clientID) }

// Clients returns every logged-in client of the gateway.
func (rt *Runtime) Clients() []*Client { return rt.registry.all() }

// Kick ends a client's session with the protocol's goodbye (STOMP: ERROR "Kicked out").
func (rt *Runtime) Kick(clientID string) bool {
	c := rt.registry.get(clientID)
	if c == nil {
		return false
	}
	c.s.Kick(ErrKicked)
	c.Logout(ErrKicked)
	return true
}

// ListenerStatus is the live state of one listener.
type ListenerStatus struct {
	ID                 string    `json:"id"`
	Type               Transport `json:"type"`
	Name               string    `json:"name"`
	Bind               string    `json:"bind"`
	Address            string    `json:"address,omitempty"` // actually bound
	Running            bool      `json:"running"`
	Error              string    `json:"error,omitempty"`
	MaxConnections     int       `json:"max_connections"`
	CurrentConnections int64     `json:"current_connections"`
	Counters           CounterValues
}

// GatewayStatus is the live state of one gateway.
type GatewayStatus struct {
	Name      string           `json:"name"`
	Status    string           `json:"status"` // running | stopped
	StartedAt *time.Time       `json:"started_at,omitempty"`
	Listeners []ListenerStatus `json:"listeners"`
	Counters  CounterValues    `json:"counters"`
}

func (rt *Runtime) status() GatewayStatus {
	st := GatewayStatus{Name: rt.name, Status: "stopped", StartedAt: rt.startedAt.Load(), Counters: rt.counters.Values()}
	if s := rt.state.Load(); s != nil && s.cfg.Enable {
		st.Status = "running"
	}
	rt.lmu.RLock()
	defer rt.lmu.RUnlock()
	keys := make([]string, 0, len(rt.listeners))
	for k := range rt.listeners {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		l := rt.listeners[k]
		cfg := l.cfg.Load()
		ls := ListenerStatus{ID: l.id, Type: cfg.Type, Name: cfg.Name, Bind: cfg.Bind, MaxConnections: cfg.MaxConnections,
			Counters: l.counters.Values()}
		ls.CurrentConnections = ls.Counters.Connections
		switch {
		case l.sock == nil:
			ls.Error = l.bindErr.Error()
		case l.serveErr.Load() != nil:
			ls.Error = (*l.serveErr.Load()).Error()
		default:
			ls.Running = true
			ls.Address = l.sock.LocalAddr().String()
		}
		st.Listeners = append(st.Listeners, ls)
	}
	return st
}

// Port returns the bound port of a running listener ("tcp:default"), or 0.
func (rt *Runtime) Port(key string) int {
	return int(AddrPort(rt.Addr(key)).Port())
}
