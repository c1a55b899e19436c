package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
)

// gatewayRoutes registers the routes of this file under the authenticated /api/v5 group:
// gateways, their listeners, authenticators (gateway and listener level) and built-in users,
// in EMQX 5's paths and shapes.
func (s *Server) gatewayRoutes(r fiber.Router) {
	r.Get("/gateways", s.gwList)
	r.Get("/gateways/:name", s.gwGet)
	r.Put("/gateways/:name", s.gwPut)
	r.Put("/gateways/:name/enable/:enable", s.gwEnable)

	r.Get("/gateways/:name/listeners", s.gwListListeners)
	r.Post("/gateways/:name/listeners", s.gwAddListener)
	r.Get("/gateways/:name/listeners/:id", s.gwGetListener)
	r.Put("/gateways/:name/listeners/:id", s.gwUpdateListener)
	r.Delete("/gateways/:name/listeners/:id", s.gwDeleteListener)

	for _, base := range []string{"/gateways/:name/authentication", "/gateways/:name/listeners/:id/authentication"} {
		r.Get(base, s.gwGetAuthn)
		r.Post(base, s.gwAddAuthn)
		r.Put(base, s.gwUpdateAuthn)
		r.Delete(base, s.gwDeleteAuthn)
		r.Get(base+"/users", s.gwListUsers)
		r.Post(base+"/users", s.gwAddUser)
		r.Get(base+"/users/:uid", s.gwGetUser)
		r.Put(base+"/users/:uid", s.gwUpdateUser)
		r.Delete(base+"/users/:uid", s.gwDeleteUser)
		r.Post(base+"/import_users", s.gwImportUsers)
	}
}

// Gateway states as EMQX reports them.
const (
	gwRunning  = "running"
	gwStopped  = "stopped"
	gwUnloaded = "unloaded"
)

// gwOutputOnly are the keys GET adds to a gateway; a PUT body copied from a GET may carry
// them, and they are ignored.
var gwOutputOnly = []string{"name", "status", "created_at", "started_at", "stopped_at",
	"max_connections", "current_connections", "node_status"}

// gwParam returns a path parameter URL-decoded (listener ids arrive as stomp%3Atcp%3Adefault)
// and copied: fiber's values point into a buffer reused after the handler returns, and
// these strings may end up in the running configuration.
func gwParam(c *fiber.Ctx, key string) (string, error) {
	v, err := url.PathUnescape(c.Params(key))
	if err != nil {
		return "", badRequest(fmt.Sprintf("%s: bad URL encoding: %v", key, err))
	}
	return strings.Clone(v), nil
}

// gwName returns the gateway named in the path; a name that is not a protocol xgate runs is
// a 404.
func (s *Server) gwName(c *fiber.Ctx) (string, error) {
	name, err := gwParam(c, "name")
	if err != nil {
		return "", err
	}
	known := s.deps.Manager.Protocols()
	if !slices.Contains(known, name) {
		return "", notFound(fmt.Sprintf("gateway %q: unknown (known: %s)", name, strings.Join(known, ", ")))
	}
	return name, nil
}

// gwStored returns the stored configuration of a loaded gateway, 404 when it is unloaded.
func (s *Server) gwStored(ctx context.Context, name string) (gateway.Config, error) {
	snap, err := s.deps.Store.Snapshot(ctx)
	if err != nil {
		return gateway.Config{}, err
	}
	gw, ok := snap.Gateway(name)
	if !ok {
		return gateway.Config{}, notFound("Gateway not loaded: " + name)
	}
	return gw, nil
}

// gwStatus returns the live state of a loaded gateway.
func (s *Server) gwStatus(name string) (gateway.GatewayStatus, bool) {
	for _, st := range s.deps.Manager.Status() {
		if st.Name == name {
			return st, true
		}
	}
	return gateway.GatewayStatus{}, false
}

// gwState is running or stopped: the runtime's word, else the stored enable flag (a gateway
// just stored and not yet applied has no runtime).
func gwState(cfg gateway.Config, st gateway.GatewayStatus, ok bool) string {
	switch {
	case ok:
		return st.Status
	case cfg.Enable:
		return gwRunning
	}
	return gwStopped
}

// gwMerge marshals v (a JSON object) and adds the extra keys to it.
func gwMerge(v any, extra map[string]any) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, x := range extra {
		if m[k], err = json.Marshal(x); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// gwListenerSummary is a listener in the gateway list.
type gwListenerSummary struct {
	ID      string            `json:"id"`
	Type    gateway.Transport `json:"type"`
	Name    string            `json:"name"`
	Running bool              `json:"running"`
}

// gwSummary is a loaded gateway in the gateway list.
type gwSummary struct {
	Name               string              `json:"name"`
	Status             string              `json:"status"`
	StartedAt          *time.Time          `json:"started_at,omitempty"`
	MaxConnections     any                 `json:"max_connections"` // a number, or "infinity"
	CurrentConnections int64               `json:"current_connections"`
	Listeners          []gwListenerSummary `json:"listeners"`
}

// gwList is GET /gateways[?status=running|stopped|unloaded]: every gateway xgate can run,
// the unloaded ones as {name, status}.
func (s *Server) gwList(c *fiber.Ctx) error {
	want := c.Query("status")
	switch want {
	case "", gwRunning, gwStopped, gwUnloaded:
	default:
		return badRequest(fmt.Sprintf("status: %q is not running, stopped or unloaded", want))
	}
	snap, err := s.deps.Store.Snapshot(c.UserContext())
	if err != nil {
		return err
	}
	out := []any{}
	for _, name := range s.deps.Manager.Protocols() {
		cfg, loaded := snap.Gateway(name)
		if !loaded {
			if want == "" || want == gwUnloaded {
				out = append(out, fiber.Map{"name": name, "status": gwUnloaded})
			}
			continue
		}
		st, ok := s.gwStatus(name)
		sum := gwSummary{Name: name, Status: gwState(cfg, st, ok), StartedAt: st.StartedAt,
			MaxConnections: gwMaxConnections(cfg), CurrentConnections: st.Counters.Connections,
			Listeners: []gwListenerSummary{}}
		if want != "" && want != sum.Status {
			continue
		}
		for _, l := range cfg.Listeners {
			id := gwListenerID(name, l)
			ls, _ := gwFindListenerStatus(st, id)
			sum.Listeners = append(sum.Listeners, gwListenerSummary{ID: id, Type: l.Type, Name: l.Name, Running: ls.Running})
		}
		out = append(out, sum)
	}
	return c.JSON(out)
}

// gwMaxConnections sums max_connections over the enabled listeners; one without a limit
// makes the gateway's "infinity", as EMQX shows it.
func gwMaxConnections(cfg gateway.Config) any {
	total := 0
	for _, l := range cfg.Listeners {
		if !l.Enable {
			continue
		}
		if l.MaxConnections == 0 {
			return "infinity"
		}
		total += l.MaxConnections
	}
	return total
}

// gwGet is GET /gateways/{name}: the stored configuration with its defaults, listeners as an
// array of {id, ...config}, and the gateway's state.
func (s *Server) gwGet(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	snap, err := s.deps.Store.Snapshot(c.UserContext())
	if err != nil {
		return err
	}
	cfg, loaded := snap.Gateway(name)
	if !loaded {
		return c.JSON(fiber.Map{"name": name, "status": gwUnloaded})
	}
	st, ok := s.gwStatus(name)
	listeners := make([]map[string]json.RawMessage, 0, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		v, err := gwMerge(gwHideListener(l), map[string]any{"id": gwListenerID(name, l)})
		if err != nil {
			return err
		}
		listeners = append(listeners, v)
	}
	extra := map[string]any{"status": gwState(cfg, st, ok), "listeners": listeners}
	if st.StartedAt != nil {
		extra["started_at"] = st.StartedAt
	}
	out, err := gwMerge(gwHideGateway(cfg), extra)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// gwPut is PUT /gateways/{name}: the body replaces the gateway's configuration (absent fields
// take their defaults), except that absent listeners and authentication are kept. A null
// value is an absent one (authenticators are removed with DELETE .../authentication). An
// unloaded gateway is loaded.
func (s *Server) gwPut(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body == nil {
		return badRequest("the body must be a JSON object")
	}
	for _, k := range gwOutputOnly {
		delete(body, k)
	}
	gwDropNulls(body)
	rawListeners, hasListeners := body["listeners"]
	if hasListeners {
		if rawListeners, err = gwStripListeners(rawListeners); err != nil {
			return err
		}
		body["listeners"] = rawListeners
	}
	_, hasAuthn := body["authentication"]
	build := func(old *gateway.Config) (gateway.Config, error) {
		next := gateway.DefaultConfig(name)
		b, _ := json.Marshal(body)
		if err := json.Unmarshal(b, &next); err != nil {
			return gateway.Config{}, badRequest(gwJSONMessage(err))
		}
		next.Name = name
		var prev gateway.Config
		if old != nil {
			prev = *old
		}
		next, err := gwRevealGateway(next, prev)
		if err != nil {
			return gateway.Config{}, err
		}
		if !hasListeners {
			next.Listeners = prev.Listeners
		}
		if !hasAuthn {
			next.Authentication = prev.Authentication
		}
		if next.Listeners == nil {
			next.Listeners = []gateway.ListenerConfig{}
		}
		return next, nil
	}
	if err := s.putGateway(c.UserContext(), name, build); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// gwStripListeners drops the output-only keys of each listener of a PUT body.
func gwStripListeners(raw json.RawMessage) (json.RawMessage, error) {
	var ls []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ls); err != nil {
		return nil, badRequest("listeners: must be an array of listener objects")
	}
	for _, l := range ls {
		for _, k := range gwListenerOutputOnly {
			delete(l, k)
		}
		gwDropNulls(l)
	}
	return json.Marshal(ls)
}

// gwEnable is PUT /gateways/{name}/enable/{true|false}: starts or stops a loaded gateway
// without unloading it.
func (s *Server) gwEnable(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	var enable bool
	switch v := c.Params("enable"); v {
	case "true":
		enable = true
	case "false":
	default:
		return badRequest(fmt.Sprintf("enable: %q is not true or false", v))
	}
	if _, err := s.changeGateway(c.UserContext(), name, func(gw *gateway.Config) error {
		gw.Enable = enable
		return nil
	}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// gwJSONMessage makes a decoding error of a configuration readable: the field and the
// reason, without encoding/json's "json: " prefixes.
func gwJSONMessage(err error) string {
	msg := strings.ReplaceAll(err.Error(), "json: ", "")
	return strings.ReplaceAll(msg, "cannot unmarshal ", "cannot decode ")
}

// gwDropNulls deletes the keys of body whose value is null: null means absent.
func gwDropNulls(body map[string]json.RawMessage) {
	for k, v := range body {
		if gwIsNull(v) {
			delete(body, k)
		}
	}
}

// gwIsNull reports an absent or null JSON value.
func gwIsNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// gwHideGateway returns cfg with its secrets hidden: the clientinfo_override password, the
// authenticators' secrets and the listeners' pre-shared keys.
func gwHideGateway(cfg gateway.Config) gateway.Config {
	if o := cfg.ClientInfoOverride; o != nil && o.Password != "" {
		hidden := *o
		hidden.Password = gwHidden
		cfg.ClientInfoOverride = &hidden
	}
	cfg.Authentication = gwHideAuthn(cfg.Authentication)
	ls := make([]gateway.ListenerConfig, len(cfg.Listeners))
	for i, l := range cfg.Listeners {
		ls[i] = gwHideListener(l)
	}
	cfg.Listeners = ls
	return cfg
}

// gwRevealGateway puts the secrets of old (the zero Config for a new gateway) back where
// next holds gwHidden. A listener of next without an authentication key keeps old's.
func gwRevealGateway(next, old gateway.Config) (gateway.Config, error) {
	if o := next.ClientInfoOverride; o != nil && o.Password == gwHidden {
		if old.ClientInfoOverride == nil || old.ClientInfoOverride.Password == "" {
			return next, badRequest("clientinfo_override.password: " + gwHidden + " stands for a stored password, and there is none")
		}
		revealed := *o
		revealed.Password = old.ClientInfoOverride.Password
		next.ClientInfoOverride = &revealed
	}
	var err error
	if next.Authentication, err = gwRevealAuthn(gwNullToNil(next.Authentication), old.Authentication); err != nil {
		return next, err
	}
	next.Listeners = slices.Clone(next.Listeners)
	for i := range next.Listeners {
		l := &next.Listeners[i]
		prev, ok := old.Listener(l.Type, l.Name)
		if !ok {
			if err := gwRevealListener(l, nil); err != nil {
				return next, err
			}
			continue
		}
		if l.Authentication == nil {
			l.Authentication = prev.Authentication
		}
		if err := gwRevealListener(l, &prev); err != nil {
			return next, err
		}
	}
	return next, nil
}
