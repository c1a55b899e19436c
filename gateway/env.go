package gateway

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// Env is what the core gives a protocol for one listener. It reads the live configuration,
// so a setting changed by the operator is seen by the next call.
type Env struct {
	rt  *Runtime
	l   *listener
	log *slog.Logger
}

// Log returns the listener's logger (already scoped with gateway and listener).
func (e *Env) Log() *slog.Logger { return e.log }

// Settings returns the protocol's parsed settings (what its ParseSettings returned).
func (e *Env) Settings() any { return e.rt.state.Load().settings }

// IdleTimeout is how long a new connection may take to complete its protocol's login.
func (e *Env) IdleTimeout() time.Duration {
	if d := e.rt.state.Load().cfg.IdleTimeout.D(); d > 0 {
		return d
	}
	return 30 * time.Second
}

// Allow applies the listener's access rules, for packet transports whose peers the core
// does not see. Stream listeners apply them before Accept returns.
func (e *Env) Allow(peer netip.AddrPort) bool {
	return Allowed(*e.l.rules.Load(), peer.Addr())
}

// Malformed counts a packet the protocol dropped because it could not be parsed.
func (e *Env) Malformed() {
	e.l.counters.Malformed.Add(1)
	e.rt.counters.Malformed.Add(1)
}

// Admit applies the listener's access rules, max_connections and max_conn_rate to a new
// peer of a packet transport that already serves open peers (stream listeners do this
// before Accept returns).
func (e *Env) Admit(peer netip.AddrPort, open int) bool {
	return e.l.admit(peer, int64(open))
}

// Override applies the gateway's clientinfo_override templates to ci. vars resolves the
// protocol's placeholders (for STOMP "Packet.headers.login" and the like).
func (e *Env) Override(ci *ClientInfo, vars func(name string) (string, bool)) {
	o := e.rt.state.Load().cfg.ClientInfoOverride
	if o == nil {
		return
	}
	lookup := func(name string) (string, bool) {
		switch name {
		case "ClientInfo.clientid", "ConnInfo.clientid":
			return ci.ClientID, true
		case "ClientInfo.username", "ConnInfo.username":
			return ci.Username, true
		}
		return vars(name)
	}
	if o.ClientID != "" {
		ci.ClientID = ExpandOverride(o.ClientID, lookup)
	}
	if o.Username != "" {
		ci.Username = ExpandOverride(o.Username, lookup)
	}
	if o.Password != "" {
		ci.Password = []byte(ExpandOverride(o.Password, lookup))
	}
}

// Authenticate fills the core's fields of ci and runs the listener's authentication chain,
// firing client.connect and client.authenticate (and client.connack on failure). Login
// calls it; a protocol calls it alone to re-authenticate a client that resumes a session it
// still holds (MQTT-SN CleanSession=0).
func (e *Env) Authenticate(ctx context.Context, ci *ClientInfo) error {
	return e.authenticate(ctx, ci, true)
}

func (e *Env) authenticate(ctx context.Context, ci *ClientInfo, withAuthn bool) error {
	rt, l := e.rt, e.l
	if l.stopping.Load() {
		return ErrShutdown
	}
	ci.Gateway = rt.name
	ci.Listener = l.id
	if ci.Protocol == "" {
		ci.Protocol = rt.proto.Name()
	}
	ci.ConnectedAt = time.Now()
	rt.hooks.fire(Event{Type: ClientConnect, Client: *ci})
	if !withAuthn {
		return nil
	}
	err := (*l.chain.Load()).Authenticate(ctx, &ci.Client)
	rt.hooks.fire(Event{Type: ClientAuthenticate, Client: *ci, Allowed: err == nil})
	if err != nil {
		rt.hooks.fire(Event{Type: ClientConnack, Client: *ci, Reason: err.Error()})
		e.log.Info("login refused", "clientid", ci.ClientID, "username", ci.Username, "peer", ci.Peer, "error", err)
	}
	return err
}

// Login authenticates a client, expands its mountpoint and registers it under its clientid.
// An earlier login with the same clientid in this gateway is kicked with ErrDiscarded
// (other gateways are separate namespaces). The returned error is the authentication
// failure (authn.ErrNotAuthorized, ...) or ErrShutdown.
func (e *Env) Login(ctx context.Context, ci *ClientInfo, s Session) (*Client, error) {
	return e.login(ctx, ci, s, true)
}

// LoginAnonymous is Login without authentication, for a protocol mode that has no
// credentials to check (CoAP connectionless requests without username and password, as
// EMQX). Authorization applies as to every client.
func (e *Env) LoginAnonymous(ctx context.Context, ci *ClientInfo, s Session) (*Client, error) {
	return e.login(ctx, ci, s, false)
}

func (e *Env) login(ctx context.Context, ci *ClientInfo, s Session, withAuthn bool) (*Client, error) {
	if err := e.authenticate(ctx, ci, withAuthn); err != nil {
		return nil, err
	}
	rt, l := e.rt, e.l
	ci.Mountpoint = e.mountpoint(ci)

	c := &Client{rt: rt, l: l, s: s, info: *ci, subs: map[*Subscription]struct{}{}}
	// A second login with the same clientid takes over: the old session is told goodbye
	// and ended before the new one is announced (as MQTT's [MQTT-3.1.4-2]).
	if old := rt.registry.put(c); old != nil {
		old.s.Kick(ErrDiscarded)
		old.Logout(ErrDiscarded)
	}
	l.counters.Connections.Add(1)
	l.counters.Connects.Add(1)
	rt.counters.Connections.Add(1)
	rt.counters.Connects.Add(1)
	rt.hooks.fire(Event{Type: ClientConnack, Client: c.info})
	rt.hooks.fire(Event{Type: ClientConnected, Client: c.info})
	rt.hooks.fire(Event{Type: SessionCreated, Client: c.info})
	rt.sysEvent(c.info, "connected", "")
	if !ci.ExpireAt.IsZero() {
		c.mu.Lock()
		c.expiry = time.AfterFunc(time.Until(ci.ExpireAt), func() {
			c.s.Kick(ErrExpired)
			c.Logout(ErrExpired)
		})
		c.mu.Unlock()
	}
	e.log.Debug("client logged in", "clientid", ci.ClientID, "username", ci.Username, "peer", ci.Peer)
	return c, nil
}

// mountpoint expands the listener's mountpoint (or the gateway's) for ci.
func (e *Env) mountpoint(ci *ClientInfo) string {
	mp := e.rt.state.Load().cfg.Mountpoint
	if lm := e.l.cfg.Load().Mountpoint; lm != nil {
		mp = *lm
	}
	return ExpandMountpoint(mp, ci)
}

// PublishOnce publishes for a client that has no session (MQTT-SN QoS -1 without CONNECT):
// it is authenticated when the listener has authenticators, then authorized and mounted
// like any publish, and never registered.
func (e *Env) PublishOnce(ctx context.Context, ci *ClientInfo, m Message) error {
	if err := e.Authenticate(ctx, ci); err != nil {
		return err
	}
	ci.Mountpoint = e.mountpoint(ci)
	c := &Client{rt: e.rt, l: e.l, info: *ci}
	return c.Publish(m)
}
