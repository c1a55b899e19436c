package web

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
)

// gwListenerOutputOnly are the keys GET adds to a listener; a body copied from a GET may
// carry them, and they are ignored (as EMQX ignores id and running).
var gwListenerOutputOnly = []string{"id", "running", "current_connections", "status", "node_status"}

// gwListenerID is EMQX's listener id: "<gateway>:<type>:<name>".
func gwListenerID(gw string, l gateway.ListenerConfig) string { return gw + ":" + l.Key() }

// gwParseListenerID reads the listener id of the path. An id of another gateway is a
// listener this gateway does not have.
func gwParseListenerID(c *fiber.Ctx, gw string) (gateway.Transport, string, error) {
	id, err := gwParam(c, "id")
	if err != nil {
		return "", "", err
	}
	parts := strings.Split(id, ":")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", badRequest(fmt.Sprintf("listener id: %q is not <gateway>:<type>:<name>", id))
	}
	if parts[0] != gw {
		return "", "", gwListenerNotFound(id)
	}
	return gateway.Transport(parts[1]), parts[2], nil
}

func gwListenerNotFound(id string) error { return notFound("Listener not found: " + id) }

// gwFindListenerStatus returns the live state of listener id.
func gwFindListenerStatus(st gateway.GatewayStatus, id string) (gateway.ListenerStatus, bool) {
	i := slices.IndexFunc(st.Listeners, func(ls gateway.ListenerStatus) bool { return ls.ID == id })
	if i < 0 {
		return gateway.ListenerStatus{}, false
	}
	return st.Listeners[i], true
}

// gwListenerStatus is EMQX's per-listener status object.
type gwListenerStatus struct {
	Running            bool  `json:"running"`
	MaxConnections     int   `json:"max_connections"`
	CurrentConnections int64 `json:"current_connections"`
}

// gwListenerView is a listener as the listener routes answer it: its configuration (secrets
// hidden), id, and live state, both flat (running, current_connections) and as EMQX's
// status object. A listener that failed to bind carries the cause in error.
func (s *Server) gwListenerView(gw string, l gateway.ListenerConfig) (map[string]json.RawMessage, error) {
	id := gwListenerID(gw, l)
	st, _ := s.gwStatus(gw)
	ls, _ := gwFindListenerStatus(st, id)
	status := gwListenerStatus{Running: ls.Running, MaxConnections: l.MaxConnections, CurrentConnections: ls.CurrentConnections}
	extra := map[string]any{"id": id, "running": status.Running, "current_connections": status.CurrentConnections,
		"status": status}
	if ls.Error != "" {
		extra["error"] = ls.Error
	}
	return gwMerge(gwHideListener(l), extra)
}

// gwListListeners is GET /gateways/{name}/listeners.
func (s *Server) gwListListeners(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	cfg, err := s.gwStored(c.UserContext(), name)
	if err != nil {
		return err
	}
	out := make([]map[string]json.RawMessage, 0, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		v, err := s.gwListenerView(name, l)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return c.JSON(out)
}

// gwGetListener is GET /gateways/{name}/listeners/{id}.
func (s *Server) gwGetListener(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	typ, lname, err := gwParseListenerID(c, name)
	if err != nil {
		return err
	}
	cfg, err := s.gwStored(c.UserContext(), name)
	if err != nil {
		return err
	}
	l, ok := cfg.Listener(typ, lname)
	if !ok {
		return gwListenerNotFound(name + ":" + string(typ) + ":" + lname)
	}
	return s.gwRenderListener(c, fiber.StatusOK, name, l)
}

func (s *Server) gwRenderListener(c *fiber.Ctx, status int, gw string, l gateway.ListenerConfig) error {
	v, err := s.gwListenerView(gw, l)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(v)
}

// gwDecodeListener decodes a listener body over EMQX's defaults, strictly; the output-only
// keys of a GET are ignored and null is the same as absent. It returns the body's keys too.
func gwDecodeListener(c *fiber.Ctx) (gateway.ListenerConfig, map[string]json.RawMessage, error) {
	var body map[string]json.RawMessage
	if err := decodeStrict(c, &body); err != nil {
		return gateway.ListenerConfig{}, nil, err
	}
	if body == nil {
		return gateway.ListenerConfig{}, nil, badRequest("the body must be a JSON object")
	}
	for _, k := range gwListenerOutputOnly {
		delete(body, k)
	}
	gwDropNulls(body)
	b, _ := json.Marshal(body)
	l := gateway.DefaultListener()
	if err := gateway.DecodeStrict(b, &l); err != nil {
		return gateway.ListenerConfig{}, nil, badRequest(gwJSONMessage(err))
	}
	return l, body, nil
}

// gwAddListener is POST /gateways/{name}/listeners: the listener starts at once; a port in
// use is a 409 and nothing is stored.
func (s *Server) gwAddListener(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	l, body, err := gwDecodeListener(c)
	if err != nil {
		return err
	}
	for _, k := range []string{"name", "type", "bind"} {
		if gwIsNull(body[k]) || string(body[k]) == `""` {
			return badRequest(k + " is required")
		}
	}
	if err := gwRevealListener(&l, nil); err != nil {
		return err
	}
	gw, err := s.changeGateway(c.UserContext(), name, gwInsertListener(name, l))
	if err != nil {
		return err
	}
	stored, _ := gw.Listener(l.Type, l.Name)
	return s.gwRenderListener(c, fiber.StatusCreated, name, stored)
}

// gwUpdateListener is PUT /gateways/{name}/listeners/{id}: the body replaces the listener's
// configuration (absent fields take their defaults) except its authentication, kept when
// absent. A listener whose type and address stay keeps its socket and connections; a moved
// one is bound anew before the old one stops, so a port in use is a 409 and the old
// listener keeps serving.
func (s *Server) gwUpdateListener(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	typ, lname, err := gwParseListenerID(c, name)
	if err != nil {
		return err
	}
	l, body, err := gwDecodeListener(c)
	if err != nil {
		return err
	}
	if _, ok := body["name"]; ok && l.Name != lname {
		return badRequest(fmt.Sprintf("name: %q differs from the listener id's %q", l.Name, lname))
	}
	if _, ok := body["type"]; ok && l.Type != typ {
		return badRequest(fmt.Sprintf("type: %q differs from the listener id's %q", l.Type, typ))
	}
	l.Type, l.Name = typ, lname
	_, hasAuthn := body["authentication"]
	gw, err := s.changeGateway(c.UserContext(), name, gwReplaceListener(name, l, !hasAuthn))
	if err != nil {
		return err
	}
	stored, _ := gw.Listener(typ, lname)
	return s.gwRenderListener(c, fiber.StatusOK, name, stored)
}

// gwDeleteListener is DELETE /gateways/{name}/listeners/{id}: the listener stops (its
// clients get the protocol's goodbye) and its authenticator and users are deleted.
func (s *Server) gwDeleteListener(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	typ, lname, err := gwParseListenerID(c, name)
	if err != nil {
		return err
	}
	if _, err := s.changeGateway(c.UserContext(), name, gwRemoveListener(name, typ, lname)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// The listener changes, for changeGateway; the API and the dashboard both use them.

// gwInsertListener adds listener l to gateway name; one with its type and name must not exist.
func gwInsertListener(name string, l gateway.ListenerConfig) func(*gateway.Config) error {
	return func(gw *gateway.Config) error {
		if _, exists := gw.Listener(l.Type, l.Name); exists {
			return badRequest(fmt.Sprintf("Listener name has occupied: %s", gwListenerID(name, l)))
		}
		*gw = gw.WithListener(l)
		return nil
	}
}

// gwReplaceListener replaces the listener with l's type and name by l. With keepAuthn, l
// gets the stored listener's authenticator; secrets l holds as gwHidden get the stored values.
func gwReplaceListener(name string, l gateway.ListenerConfig, keepAuthn bool) func(*gateway.Config) error {
	return func(gw *gateway.Config) error {
		old, ok := gw.Listener(l.Type, l.Name)
		if !ok {
			return gwListenerNotFound(gwListenerID(name, l))
		}
		if keepAuthn {
			l.Authentication = old.Authentication
		}
		if err := gwRevealListener(&l, &old); err != nil {
			return err
		}
		*gw = gw.WithListener(l)
		return nil
	}
}

// gwRemoveListener deletes listener typ:lname of gateway name.
func gwRemoveListener(name string, typ gateway.Transport, lname string) func(*gateway.Config) error {
	return func(gw *gateway.Config) error {
		if _, ok := gw.Listener(typ, lname); !ok {
			return gwListenerNotFound(name + ":" + string(typ) + ":" + lname)
		}
		*gw = gw.WithoutListener(typ, lname)
		return nil
	}
}

// gwHidden stands for a secret in answers. Sent back unchanged in an update, it means "keep
// the stored value", so that a configuration read with GET can be written back with PUT.
const gwHidden = "******"

// gwHideListener returns l with its pre-shared keys and its authenticator's secrets hidden.
func gwHideListener(l gateway.ListenerConfig) gateway.ListenerConfig {
	l.SSLOptions = gwHideTLS(l.SSLOptions)
	l.DTLSOptions = gwHideTLS(l.DTLSOptions)
	l.Authentication = gwHideAuthn(l.Authentication)
	return l
}

func gwHideTLS(t *gateway.TLSConfig) *gateway.TLSConfig {
	if t == nil || len(t.PSK) == 0 {
		return t
	}
	out := *t
	out.PSK = slices.Clone(t.PSK)
	for i := range out.PSK {
		out.PSK[i].Key = gwHidden
	}
	return &out
}

// gwRevealListener puts the stored secrets of old (nil for a new listener) back where l
// holds gwHidden: pre-shared keys by identity, authenticator secrets by name.
func gwRevealListener(l *gateway.ListenerConfig, old *gateway.ListenerConfig) error {
	var oldSSL, oldDTLS *gateway.TLSConfig
	var oldAuthn json.RawMessage
	if old != nil {
		oldSSL, oldDTLS, oldAuthn = old.SSLOptions, old.DTLSOptions, old.Authentication
	}
	var err error
	if l.SSLOptions, err = gwRevealTLS("ssl_options", l.SSLOptions, oldSSL); err != nil {
		return err
	}
	if l.DTLSOptions, err = gwRevealTLS("dtls_options", l.DTLSOptions, oldDTLS); err != nil {
		return err
	}
	l.Authentication, err = gwRevealAuthn(gwNullToNil(l.Authentication), oldAuthn)
	return err
}

func gwRevealTLS(field string, t, old *gateway.TLSConfig) (*gateway.TLSConfig, error) {
	if t == nil {
		return nil, nil
	}
	out := *t
	out.PSK = slices.Clone(t.PSK)
	for i, p := range out.PSK {
		if p.Key != gwHidden {
			continue
		}
		j := -1
		if old != nil {
			j = slices.IndexFunc(old.PSK, func(o gateway.PSKIdentity) bool { return o.Identity == p.Identity })
		}
		if j < 0 {
			return nil, badRequest(fmt.Sprintf("%s.psk[%d].key: %s stands for a stored key, and identity %q has none",
				field, i, gwHidden, p.Identity))
		}
		out.PSK[i].Key = old.PSK[j].Key
	}
	return &out, nil
}
