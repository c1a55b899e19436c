package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
)

// gwAuthnTarget is the authenticator an authentication route is about: a gateway's, or
// one listener's (EMQX allows the latter only in its configuration file; xgate's API has
// it under /gateways/{name}/listeners/{id}/authentication).
type gwAuthnTarget struct {
	gateway string
	typ     gateway.Transport // "" at gateway level
	name    string
}

// gwTarget reads the target from the path.
func (s *Server) gwTarget(c *fiber.Ctx) (gwAuthnTarget, error) {
	gw, err := s.gwName(c)
	if err != nil {
		return gwAuthnTarget{}, err
	}
	t := gwAuthnTarget{gateway: gw}
	if c.Params("id") != "" {
		if t.typ, t.name, err = gwParseListenerID(c, gw); err != nil {
			return gwAuthnTarget{}, err
		}
	}
	return t, nil
}

// ref names the authenticator for the store and the authenticator factory.
func (t gwAuthnTarget) ref() gateway.AuthnRef {
	if t.typ == "" {
		return gateway.AuthnRef{Gateway: t.gateway}
	}
	return gateway.AuthnRef{Gateway: t.gateway, Listener: string(t.typ) + ":" + t.name}
}

// where is the gateway name or the listener id, for messages.
func (t gwAuthnTarget) where() string {
	if t.typ == "" {
		return t.gateway
	}
	return t.gateway + ":" + string(t.typ) + ":" + t.name
}

// chainName is EMQX's name of the authentication chain: "stomp:global" or the listener id.
func (t gwAuthnTarget) chainName() string {
	if t.typ == "" {
		return t.gateway + ":global"
	}
	return t.where()
}

func (t gwAuthnTarget) notFound() error {
	return notFound("The authentication not found on " + t.where())
}

// get returns the stored authenticator of gw (nil when there is none).
func (t gwAuthnTarget) get(gw gateway.Config) (json.RawMessage, error) {
	if t.typ == "" {
		return gwNullToNil(gw.Authentication), nil
	}
	l, ok := gw.Listener(t.typ, t.name)
	if !ok {
		return nil, gwListenerNotFound(t.where())
	}
	return gwNullToNil(l.Authentication), nil
}

// set replaces the authenticator in gw (nil removes it).
func (t gwAuthnTarget) set(gw *gateway.Config, raw json.RawMessage) error {
	if t.typ == "" {
		gw.Authentication = raw
		return nil
	}
	l, ok := gw.Listener(t.typ, t.name)
	if !ok {
		return gwListenerNotFound(t.where())
	}
	l.Authentication = raw
	*gw = gw.WithListener(l)
	return nil
}

// gwAuthnView is the answer of the authentication routes: the stored configuration, secrets
// hidden, plus EMQX's id ("password_based:built_in_database") and chain_name.
func gwAuthnView(t gwAuthnTarget, raw json.RawMessage) (map[string]json.RawMessage, error) {
	var kind struct {
		Mechanism string `json:"mechanism"`
		Backend   string `json:"backend"`
	}
	if err := json.Unmarshal(raw, &kind); err != nil {
		return nil, fmt.Errorf("stored authentication of %s: %w", t.where(), err)
	}
	return gwMerge(gwHideAuthn(raw), map[string]any{"id": kind.Mechanism + ":" + kind.Backend, "chain_name": t.chainName()})
}

// gwDecodeAuthn reads an authenticator body: a JSON object, without the id and chain_name
// a GET adds. The mechanism's fields are checked when it is built.
func gwDecodeAuthn(c *fiber.Ctx) (json.RawMessage, error) {
	var body map[string]json.RawMessage
	if err := decodeStrict(c, &body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, badRequest("the body must be a JSON object")
	}
	delete(body, "id")
	delete(body, "chain_name")
	return json.Marshal(body)
}

// gwCheckAuthn builds the authenticator once, so that a bad configuration is refused even
// where applying would not build it (a disabled listener, enable_authn false).
func (s *Server) gwCheckAuthn(t gwAuthnTarget, raw json.RawMessage) error {
	if s.deps.Access == nil {
		return nil
	}
	if _, err := s.deps.Access.Authenticator(t.ref(), raw); err != nil {
		return badRequest("authentication: " + err.Error())
	}
	return nil
}

// gwGetAuthn is GET .../authentication: 204 without a body when there is none.
func (s *Server) gwGetAuthn(c *fiber.Ctx) error {
	t, err := s.gwTarget(c)
	if err != nil {
		return err
	}
	gw, err := s.gwStored(c.UserContext(), t.gateway)
	if err != nil {
		return err
	}
	raw, err := t.get(gw)
	if err != nil {
		return err
	}
	if raw == nil {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return gwRenderAuthn(c, fiber.StatusOK, t, raw)
}

func gwRenderAuthn(c *fiber.Ctx, status int, t gwAuthnTarget, raw json.RawMessage) error {
	v, err := gwAuthnView(t, raw)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(v)
}

// gwAddAuthn is POST .../authentication: 201; one that exists already is a 400, as EMQX.
func (s *Server) gwAddAuthn(c *fiber.Ctx) error {
	return s.gwChangeAuthn(c, fiber.StatusCreated, func(t gwAuthnTarget, cur json.RawMessage) error {
		if cur != nil {
			return badRequest("The authentication already exist on " + t.where())
		}
		return nil
	})
}

// gwUpdateAuthn is PUT .../authentication: 200; 404 when there is none.
func (s *Server) gwUpdateAuthn(c *fiber.Ctx) error {
	return s.gwChangeAuthn(c, fiber.StatusOK, func(t gwAuthnTarget, cur json.RawMessage) error {
		if cur == nil {
			return t.notFound()
		}
		return nil
	})
}

// gwChangeAuthn stores the body as the target's authenticator when check accepts the
// current one, and answers the stored result.
func (s *Server) gwChangeAuthn(c *fiber.Ctx, status int, check func(t gwAuthnTarget, cur json.RawMessage) error) error {
	t, err := s.gwTarget(c)
	if err != nil {
		return err
	}
	raw, err := gwDecodeAuthn(c)
	if err != nil {
		return err
	}
	stored, err := s.gwStoreAuthn(c.UserContext(), t, raw, check)
	if err != nil {
		return err
	}
	return gwRenderAuthn(c, status, t, stored)
}

// gwStoreAuthn is the one way the API and the dashboard set an authenticator: raw becomes
// t's authenticator when check (nil: any) accepts the current one. Hidden header values are
// taken from the current one, and the authenticator is built once before it is stored, so
// a bad configuration is refused whole. It returns the stored result.
func (s *Server) gwStoreAuthn(ctx context.Context, t gwAuthnTarget, raw json.RawMessage,
	check func(t gwAuthnTarget, cur json.RawMessage) error) (json.RawMessage, error) {
	gw, err := s.changeGateway(ctx, t.gateway, func(gw *gateway.Config) error {
		cur, err := t.get(*gw)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(t, cur); err != nil {
				return err
			}
		}
		if raw, err = gwRevealAuthn(raw, cur); err != nil {
			return err
		}
		if err := s.gwCheckAuthn(t, raw); err != nil {
			return err
		}
		return t.set(gw, raw)
	})
	if err != nil {
		return nil, err
	}
	return t.get(gw)
}

// gwDeleteAuthn is DELETE .../authentication: 204; its built-in users go with it.
func (s *Server) gwDeleteAuthn(c *fiber.Ctx) error {
	t, err := s.gwTarget(c)
	if err != nil {
		return err
	}
	if err := s.gwRemoveAuthn(c.UserContext(), t); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// gwRemoveAuthn removes t's authenticator (404 when there is none), for the API and the
// dashboard; its built-in users go with it.
func (s *Server) gwRemoveAuthn(ctx context.Context, t gwAuthnTarget) error {
	_, err := s.changeGateway(ctx, t.gateway, func(gw *gateway.Config) error {
		cur, err := t.get(*gw)
		if err != nil {
			return err
		}
		if cur == nil {
			return t.notFound()
		}
		return t.set(gw, nil)
	})
	return err
}

// gwNullToNil turns an absent or null JSON value into nil.
func gwNullToNil(raw json.RawMessage) json.RawMessage {
	if gwIsNull(raw) {
		return nil
	}
	return raw
}

// gwSecretHeader reports whether an HTTP authenticator's header carries a credential.
func gwSecretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	for _, w := range []string{"token", "secret", "password", "api-key", "apikey"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// gwAuthnHeaders splits an authenticator into its fields and its headers (nil when it has
// none or they are not an object of strings).
func gwAuthnHeaders(raw json.RawMessage) (map[string]json.RawMessage, map[string]string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, nil
	}
	var headers map[string]string
	if json.Unmarshal(m["headers"], &headers) != nil {
		return m, nil
	}
	return m, headers
}

// gwHideAuthn returns raw with the values of credential headers hidden.
func gwHideAuthn(raw json.RawMessage) json.RawMessage {
	m, headers := gwAuthnHeaders(raw)
	hidden := false
	for k := range headers {
		if gwSecretHeader(k) {
			headers[k] = gwHidden
			hidden = true
		}
	}
	if !hidden {
		return raw
	}
	m["headers"], _ = json.Marshal(headers)
	out, _ := json.Marshal(m)
	return out
}

// gwRevealAuthn puts old's header values back where raw holds gwHidden.
func gwRevealAuthn(raw, old json.RawMessage) (json.RawMessage, error) {
	m, headers := gwAuthnHeaders(raw)
	_, oldHeaders := gwAuthnHeaders(old)
	revealed := false
	for k, v := range headers {
		if v != gwHidden {
			continue
		}
		prev, ok := oldHeaders[k]
		if !ok {
			return nil, badRequest(fmt.Sprintf("authentication.headers.%s: %s stands for a stored value, and there is none", k, gwHidden))
		}
		headers[k] = prev
		revealed = true
	}
	if !revealed {
		return raw, nil
	}
	m["headers"], _ = json.Marshal(headers)
	return json.Marshal(m)
}
