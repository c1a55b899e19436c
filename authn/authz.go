package authn

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// AuthzSettings are EMQX's global authorization settings.
type AuthzSettings struct {
	// NoMatch decides a request no source decided: "allow" (EMQX's default) or "deny".
	NoMatch string `json:"no_match"`
	// DenyAction is what follows a denial: "ignore" (refuse the request) or "disconnect".
	DenyAction string `json:"deny_action"`
}

// DefaultAuthzSettings returns EMQX's defaults.
func DefaultAuthzSettings() AuthzSettings {
	return AuthzSettings{NoMatch: "allow", DenyAction: "ignore"}
}

// Validate checks the enumerations.
func (s AuthzSettings) Validate() error {
	if s.NoMatch != "allow" && s.NoMatch != "deny" {
		return fmt.Errorf("no_match: %q is not allow or deny", s.NoMatch)
	}
	if s.DenyAction != "ignore" && s.DenyAction != "disconnect" {
		return fmt.Errorf("deny_action: %q is not ignore or disconnect", s.DenyAction)
	}
	return nil
}

// NamedSource is an authorization source with the name verdicts report ("rules", "http").
type NamedSource struct {
	Name   string
	Source Source
}

// Authz is the global authorization: its sources are asked in order, the first that does
// not ignore the request decides, and no_match decides the rest. Set swaps the whole state
// at once, so a change applies to the next request.
type Authz struct {
	log   *slog.Logger
	state atomic.Pointer[authzState]
}

type authzState struct {
	settings AuthzSettings
	sources  []NamedSource
}

var _ Authorizer = (*Authz)(nil)

// NewAuthz returns an authorizer with the default settings and no sources: it allows all.
func NewAuthz(log *slog.Logger) *Authz {
	a := &Authz{log: log}
	a.Set(DefaultAuthzSettings(), nil)
	return a
}

// Set replaces the settings and sources.
func (a *Authz) Set(settings AuthzSettings, sources []NamedSource) {
	a.state.Store(&authzState{settings: settings, sources: sources})
}

// Authorize decides one request. A source that fails is logged and counts as ignoring it.
func (a *Authz) Authorize(ctx context.Context, c *Client, r Request) Verdict {
	if c.IsSuperuser {
		return Verdict{Allowed: true, Source: "superuser", Rule: -1}
	}
	st := a.state.Load()
	for _, s := range st.sources {
		d, index, err := s.Source.Check(ctx, c, r)
		if err != nil {
			a.log.Warn("authorization source failed", "source", s.Name, "clientid", c.ClientID, "error", err)
			continue
		}
		switch d {
		case Allow:
			return Verdict{Allowed: true, Source: s.Name, Rule: index}
		case Deny:
			return Verdict{Disconnect: st.settings.DenyAction == "disconnect", Source: s.Name, Rule: index}
		}
	}
	if st.settings.NoMatch == "allow" {
		return Verdict{Allowed: true, Source: "no_match", Rule: -1}
	}
	return Verdict{Disconnect: st.settings.DenyAction == "disconnect", Source: "no_match", Rule: -1}
}
