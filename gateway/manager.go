package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/xgate/xgate/authn"
)

// Deps are what the Manager needs from the rest of the appliance.
type Deps struct {
	Broker     Broker
	Authorizer authn.Authorizer     // nil allows everything
	Authn      AuthenticatorFactory // nil refuses any authentication config
	Hooks      *Hooks               // nil: no observers
	Node       string               // node name in $SYS topics, e.g. "xgate@127.0.0.1"
}

// Manager holds every gateway and applies configuration snapshots to them.
type Manager struct {
	log       *slog.Logger
	deps      Deps
	protocols map[string]Protocol

	mu       sync.Mutex // one Apply at a time
	gateways map[string]*Runtime
	ctx      context.Context
	cancel   context.CancelFunc
}

// NewManager builds a Manager for the given protocols (one gateway per protocol, named
// after it).
func NewManager(log *slog.Logger, protocols []Protocol, deps Deps) *Manager {
	if deps.Authorizer == nil {
		deps.Authorizer = authn.AllowAll{}
	}
	if deps.Hooks == nil {
		deps.Hooks = &Hooks{}
	}
	if deps.Node == "" {
		deps.Node = "xgate@127.0.0.1"
	}
	m := &Manager{log: log, deps: deps, protocols: map[string]Protocol{}, gateways: map[string]*Runtime{}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	for _, p := range protocols {
		m.protocols[p.Name()] = p
	}
	return m
}

// Protocols returns the names of the gateways this Manager can run.
func (m *Manager) Protocols() []string {
	names := make([]string, 0, len(m.protocols))
	for n := range m.protocols {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Protocol returns the protocol of gateway name, nil when this Manager has none. The
// dashboard reads a protocol's settings type and defaults from it (ParseSettings(nil)).
func (m *Manager) Protocol(name string) Protocol { return m.protocols[name] }

func (m *Manager) runtime(name string) *Runtime {
	if rt := m.gateways[name]; rt != nil {
		return rt
	}
	ctx, cancel := context.WithCancel(m.ctx)
	rt := &Runtime{
		name: name, proto: m.protocols[name], log: m.log.With("gateway", name),
		broker: m.deps.Broker, authorizer: m.deps.Authorizer, newAuthn: m.deps.Authn,
		hooks: m.deps.Hooks, node: m.deps.Node, ctx: ctx, cancel: cancel,
		listeners: map[string]*listener{}, registry: registry{clients: map[string]*Client{}},
	}
	return rt
}

// Apply makes the running gateways match next. Everything that can fail (validation,
// settings, certificates, binding) happens for every gateway before anything running is
// touched; on error nothing has changed and the error names the gateway, the listener and
// the cause.
func (m *Manager) Apply(ctx context.Context, next Snapshot) error {
	return m.apply(ctx, next, false)
}

// Boot applies the stored snapshot at start-up. Unlike Apply it is best effort per
// listener: a listener that cannot bind is reported in Status and the log, the others run.
func (m *Manager) Boot(ctx context.Context, snap Snapshot) error {
	return m.apply(ctx, snap, true)
}

func (m *Manager) apply(_ context.Context, next Snapshot, bestEffort bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return ErrShutdown
	}
	type change struct {
		rt *Runtime
		p  *plan
	}
	var changes []change
	abort := func() {
		for _, c := range changes {
			c.p.abort()
		}
	}
	seen := map[string]bool{}
	for _, cfg := range next.Gateways {
		if _, ok := m.protocols[cfg.Name]; !ok {
			abort()
			return fmt.Errorf("gateway %s: unknown gateway (known: %v)", cfg.Name, m.Protocols())
		}
		if seen[cfg.Name] {
			abort()
			return fmt.Errorf("gateway %s: defined twice", cfg.Name)
		}
		seen[cfg.Name] = true
		rt := m.runtime(cfg.Name)
		p, err := rt.prepare(cfg, bestEffort)
		if err != nil {
			abort()
			return err
		}
		changes = append(changes, change{rt, p})
	}
	// Gateways no longer configured are stopped (their config is unloaded).
	for name, rt := range m.gateways {
		if !seen[name] {
			cfg := rt.state.Load().cfg
			cfg.Enable = false
			p, err := rt.prepare(cfg, false)
			if err != nil {
				abort()
				return err
			}
			changes = append(changes, change{rt, p})
		}
	}
	for _, c := range changes {
		c.p.commit()
		m.gateways[c.rt.name] = c.rt
	}
	for name := range m.gateways {
		if !seen[name] {
			delete(m.gateways, name)
		}
	}
	return nil
}

// Gateway returns the runtime of a loaded gateway, or nil.
func (m *Manager) Gateway(name string) *Runtime {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gateways[name]
}

// Status reports every loaded gateway, ordered by name.
func (m *Manager) Status() []GatewayStatus {
	m.mu.Lock()
	rts := make([]*Runtime, 0, len(m.gateways))
	for _, rt := range m.gateways {
		rts = append(rts, rt)
	}
	m.mu.Unlock()
	slices.SortFunc(rts, func(a, b *Runtime) int { return strings.Compare(a.name, b.name) })
	out := make([]GatewayStatus, 0, len(rts))
	for _, rt := range rts {
		out = append(out, rt.status())
	}
	return out
}

// Stop stops every gateway: clients are told goodbye, sockets closed, and every protocol
// goroutine has returned when Stop returns (or ctx ends first).
func (m *Manager) Stop(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, rt := range m.gateways {
			cfg := rt.state.Load().cfg
			cfg.Enable = false
			if p, err := rt.prepare(cfg, false); err == nil {
				p.commit()
			} else {
				m.log.Error("stop gateway", "gateway", rt.name, "error", err)
			}
			rt.cancel()
		}
		m.cancel()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("gateways did not stop in time")
	}
}
