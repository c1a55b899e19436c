package web

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/authn/backend"
	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
)

// Access wires authentication and authorization to the database: the authenticator factory
// the gateway core calls when it applies a configuration, and the global authorizer that
// every gateway and the MQTT broker ask. It is built before the gateways start.
type Access struct {
	store *db.DB
	log   *slog.Logger
	// Authz is the running global authorizer.
	Authz *authn.Authz
}

// NewAccess loads the stored authorization.
func NewAccess(ctx context.Context, store *db.DB, log *slog.Logger) (*Access, error) {
	a := &Access{store: store, log: log, Authz: authn.NewAuthz(log)}
	cfg, err := store.Authz(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.ApplyAuthz(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// Authenticator is the core's AuthenticatorFactory: built-in users come from the database,
// looked up at each login.
func (a *Access) Authenticator(ref gateway.AuthnRef, raw json.RawMessage) (authn.Authenticator, error) {
	return backend.NewAuthenticator(raw, a.store.Users(ref), a.log.With("authenticator", ref.String()))
}

// ApplyAuthz builds the sources of cfg and swaps them in; on error nothing changes.
func (a *Access) ApplyAuthz(cfg db.AuthzConfig) error {
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
	a.Authz.Set(cfg.AuthzSettings, sources)
	return nil
}
