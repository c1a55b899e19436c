package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xgate/xgate/authn"
)

// metaAuthz holds the authorization settings and sources (AuthzConfig without Rules).
const metaAuthz = "authz"

// AuthzConfig is the stored global authorization: settings, the ordered sources, and the
// rules of the "rules" source.
type AuthzConfig struct {
	authn.AuthzSettings
	// Sources are asked in order; each is a JSON object with "type" ("rules", "http"),
	// "enable" and the type's fields, decoded by whoever builds them.
	Sources []json.RawMessage `json:"sources"`
	Rules   []StoredRule      `json:"-"`
}

// StoredRule is one rule of the ordered list with its stable id.
type StoredRule struct {
	ID   int64           `json:"id"`
	Rule json.RawMessage `json:"rule"`
}

// DefaultAuthzConfig is what a new database has: EMQX's settings and only the (empty) rule
// list as a source, so that everything is allowed.
func DefaultAuthzConfig() AuthzConfig {
	return AuthzConfig{
		AuthzSettings: authn.DefaultAuthzSettings(),
		Sources:       []json.RawMessage{json.RawMessage(`{"type":"rules","enable":true}`)},
	}
}

// Authz returns the stored authorization configuration.
func (d *DB) Authz(ctx context.Context) (AuthzConfig, error) {
	return loadAuthz(ctx, d.sql)
}

func loadAuthz(ctx context.Context, q queryer) (AuthzConfig, error) {
	cfg := DefaultAuthzConfig()
	raw, ok, err := getMeta(ctx, q, metaAuthz)
	if err != nil {
		return cfg, fmt.Errorf("authorization: %w", err)
	}
	if ok {
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			return cfg, fmt.Errorf("authorization: stored settings: %w", err)
		}
	}
	err = scanEach(ctx, q, `SELECT id, rule FROM authz_rules ORDER BY position, id`, func(scan func(...any) error) error {
		var r StoredRule
		var text string
		if err := scan(&r.ID, &text); err != nil {
			return err
		}
		r.Rule = json.RawMessage(text)
		cfg.Rules = append(cfg.Rules, r)
		return nil
	})
	if err != nil {
		return cfg, fmt.Errorf("authorization: rules: %w", err)
	}
	return cfg, nil
}

// CommitAuthz changes the stored authorization with edit and stores the result if, and only
// if, apply accepts it (as Commit does for gateways). edit gets the current configuration; a
// rule it adds has ID 0 and gets a new id; the order of Rules is the new order. An error from
// edit or apply is returned unchanged and nothing is stored. The stored result is returned.
func (d *DB) CommitAuthz(ctx context.Context, edit func(*AuthzConfig) error, apply func(AuthzConfig) error) (AuthzConfig, error) {
	if err := d.lock(ctx); err != nil {
		return AuthzConfig{}, fmt.Errorf("authorization: %w", err)
	}
	defer d.unlock()
	tx, err := d.sql.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return AuthzConfig{}, fmt.Errorf("authorization: begin: %w", err)
	}
	defer tx.Rollback()
	cfg, err := loadAuthz(ctx, tx)
	if err != nil {
		return AuthzConfig{}, err
	}
	prev := cfg
	prev.Rules = append([]StoredRule(nil), cfg.Rules...)
	prev.Sources = append([]json.RawMessage(nil), cfg.Sources...)
	if err := edit(&cfg); err != nil {
		return AuthzConfig{}, err
	}
	if err := writeAuthz(ctx, tx, prev, &cfg); err != nil {
		return AuthzConfig{}, fmt.Errorf("authorization: %w", err)
	}
	if err := apply(cfg); err != nil {
		return AuthzConfig{}, err
	}
	if err := d.commitTx(tx); err != nil {
		if rerr := apply(prev); rerr != nil {
			d.log.Error("authorization differs from database: restoring the stored one failed",
				"commit_err", err, "restore_err", rerr)
		}
		return AuthzConfig{}, fmt.Errorf("authorization: %w", err)
	}
	return cfg, nil
}

// writeAuthz stores cfg over prev: settings and sources in meta, rules by id, assigning ids
// to new rules.
func writeAuthz(ctx context.Context, tx execer, prev AuthzConfig, cfg *AuthzConfig) error {
	doc, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := setMeta(ctx, tx, metaAuthz, string(doc)); err != nil {
		return err
	}
	keep := map[int64]bool{}
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if !json.Valid(r.Rule) {
			return fmt.Errorf("rules[%d]: not JSON", i)
		}
		if r.ID == 0 {
			res, err := tx.ExecContext(ctx, `INSERT INTO authz_rules (position, rule) VALUES (?, ?)`, i, string(r.Rule))
			if err != nil {
				return err
			}
			if r.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx, `UPDATE authz_rules SET position = ?, rule = ?,
				updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`, i, string(r.Rule), r.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("rules[%d]: %w: id %d", i, ErrNotFound, r.ID)
			}
		}
		keep[r.ID] = true
	}
	for _, r := range prev.Rules {
		if !keep[r.ID] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM authz_rules WHERE id = ?`, r.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrNotFound is a missing row: a rule id, an authenticator or a user.
var ErrNotFound = errors.New("not found")

// ErrExists is a row that already exists (a user id).
var ErrExists = errors.New("already exists")
