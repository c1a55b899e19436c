// Package backend builds authenticators and authorization sources from their stored JSON.
// It is the one place that knows every mechanism, so the gateway core, the storage and the
// API stay free of them.
package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/authn/builtin"
	"github.com/xgate/xgate/authn/httpauth"
	"github.com/xgate/xgate/authn/rules"
)

// kind is what every authenticator and source JSON starts with.
type kind struct {
	Mechanism string `json:"mechanism"`
	Backend   string `json:"backend"`
	Type      string `json:"type"`
	Enable    *bool  `json:"enable"`
}

func peek(raw json.RawMessage) (kind, error) {
	var k kind
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, fmt.Errorf("not a JSON object: %w", err)
	}
	return k, nil
}

// NewAuthenticator builds the authenticator described by raw (EMQX's authentication
// object). users are the built-in users it owns, for backend built_in_database. A disabled
// authenticator ("enable": false) is returned as nil: the listener has none, as if it were
// absent.
func NewAuthenticator(raw json.RawMessage, users builtin.UserStore, log *slog.Logger) (authn.Authenticator, error) {
	k, err := peek(raw)
	if err != nil {
		return nil, err
	}
	if k.Mechanism != "password_based" {
		return nil, fmt.Errorf("mechanism: %q is not supported (password_based is)", k.Mechanism)
	}
	if k.Enable != nil && !*k.Enable {
		// Still validated, so that a stored disabled authenticator can be enabled later.
		_, err := parseAuthenticator(k, raw)
		return nil, err
	}
	cfg, err := parseAuthenticator(k, raw)
	if err != nil {
		return nil, err
	}
	switch c := cfg.(type) {
	case builtin.Config:
		return builtin.New(c, users), nil
	case httpauth.Config:
		a, err := httpauth.New(c, log)
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	panic("unreachable")
}

func parseAuthenticator(k kind, raw json.RawMessage) (any, error) {
	switch k.Backend {
	case "built_in_database":
		return builtin.ParseConfig(raw)
	case "http":
		return httpauth.ParseConfig(raw)
	}
	return nil, fmt.Errorf("backend: %q is not supported (built_in_database, http are)", k.Backend)
}

// Sources builds the authorization sources in their order. Each source JSON has "type":
// "rules" is the stored rule list (ruleList, in order), "http" an HTTP server. Disabled
// sources are left out. Errors name the source and the rule by position.
func Sources(sources []json.RawMessage, ruleList []json.RawMessage, log *slog.Logger) ([]authn.NamedSource, error) {
	var out []authn.NamedSource
	seen := map[string]bool{}
	for i, raw := range sources {
		k, err := peek(raw)
		if err != nil {
			return nil, fmt.Errorf("sources[%d]: %w", i, err)
		}
		if seen[k.Type] {
			return nil, fmt.Errorf("sources[%d]: a %q source exists already", i, k.Type)
		}
		seen[k.Type] = true
		var src authn.Source
		switch k.Type {
		case "rules":
			if err := strictKeys(raw, "type", "enable"); err != nil {
				return nil, fmt.Errorf("sources[%d]: %w", i, err)
			}
			if src, err = compileRules(ruleList); err != nil {
				return nil, err
			}
		case "http":
			cfg, err := httpauth.ParseAuthzConfig(raw)
			if err != nil {
				return nil, fmt.Errorf("sources[%d]: %w", i, err)
			}
			if src, err = httpauth.NewSource(cfg, log); err != nil {
				return nil, fmt.Errorf("sources[%d]: %w", i, err)
			}
		default:
			return nil, fmt.Errorf("sources[%d].type: %q is not rules or http", i, k.Type)
		}
		if k.Enable == nil || *k.Enable {
			out = append(out, authn.NamedSource{Name: k.Type, Source: src})
		}
	}
	return out, nil
}

// compileRules decodes and compiles the rule list.
func compileRules(ruleList []json.RawMessage) (*rules.Set, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, r := range ruleList {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(r)
	}
	buf.WriteByte(']')
	rs, err := rules.ParseRules(buf.Bytes())
	if err != nil {
		return nil, err
	}
	return rules.Compile(rs)
}

// strictKeys refuses keys of raw other than allowed.
func strictKeys(raw json.RawMessage, allowed ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for key := range m {
		ok := false
		for _, a := range allowed {
			ok = ok || key == a
		}
		if !ok {
			return errors.New("unknown field " + key)
		}
	}
	return nil
}
