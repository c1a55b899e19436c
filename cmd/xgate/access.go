package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/authn/backend"
	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
)

// access wires authentication and authorization to the database: the authenticator factory
// the gateway core calls when it applies a configuration, and the global authorizer that
// every gateway and the MQTT broker ask.
type access struct {
	store *db.DB
	log   *slog.Logger
	authz *authn.Authz
}

// newAccess loads the stored authorization.
func newAccess(ctx context.Context, store *db.DB, log *slog.Logger) (*access, error) {
	a := &access{store: store, log: log, authz: authn.NewAuthz(log)}
	cfg, err := store.Authz(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.applyAuthz(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// authenticator is the core's AuthenticatorFactory: built-in users come from the database,
// looked up at each login.
func (a *access) authenticator(ref gateway.AuthnRef, raw json.RawMessage) (authn.Authenticator, error) {
	return backend.NewAuthenticator(raw, a.store.Users(ref), a.log.With("authenticator", ref.String()))
}

// applyAuthz builds the sources of cfg and swaps them in; on error nothing changes.
func (a *access) applyAuthz(cfg db.AuthzConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	ruleList := make([]json.RawMessage, len(cfg.Rules))
	for i, r := range cfg.Rules {
		ruleList[i] = r.Rule
	}
	sources, err := backend.Sources(cfg.Sources, ruleList, a.log.With("authz", "http"))
	if err != nil {
		return err
	}
	a.authz.Set(cfg.AuthzSettings, sources)
	return nil
}
