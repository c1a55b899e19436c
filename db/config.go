package db

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/xgate/xgate/gateway"
)

// metaSeeded prefixes the meta keys SeedOnce sets per default gateway ("seeded:stomp").
const metaSeeded = "seeded:"

// listenerKey identifies a listeners row.
type listenerKey struct{ gateway, typ, name string }

// authnKey identifies an authenticators row; listener is "" at gateway level, else "<type>:<name>".
type authnKey struct{ gateway, listener string }

func cmpListenerKey(a, b listenerKey) int {
	return cmp.Or(strings.Compare(a.gateway, b.gateway), strings.Compare(a.typ, b.typ), strings.Compare(a.name, b.name))
}

func cmpAuthnKey(a, b authnKey) int {
	return cmp.Or(strings.Compare(a.gateway, b.gateway), strings.Compare(a.listener, b.listener))
}

// rows is a snapshot in table form: the config column of every row, by key. Both what the
// database holds and what Commit is about to write are held this way, so that the diff is a
// comparison of strings and Normalize is exactly "write, then read back".
type rows struct {
	gateways  map[string]string
	listeners map[listenerKey]string
	authns    map[authnKey]string
}

func newRows() rows {
	return rows{gateways: map[string]string{}, listeners: map[listenerKey]string{}, authns: map[authnKey]string{}}
}

// encode turns a snapshot into rows. It checks only what the tables need (names present and
// unique); everything else is gateway.Config.Validate's job.
func encode(s gateway.Snapshot) (rows, error) {
	r := newRows()
	for _, g := range s.Gateways {
		if g.Name == "" {
			return rows{}, errors.New("gateway: name must not be empty")
		}
		if _, dup := r.gateways[g.Name]; dup {
			return rows{}, fmt.Errorf("gateway %s: defined twice", g.Name)
		}
		cfg, auth, err := splitJSON(g, "listeners")
		if err != nil {
			return rows{}, fmt.Errorf("gateway %s: %w", g.Name, err)
		}
		r.gateways[g.Name] = cfg
		if auth != "" {
			r.authns[authnKey{g.Name, ""}] = auth
		}
		for _, l := range g.Listeners {
			// ':' would make "<type>:<name>", the authenticator's listener column, ambiguous.
			if l.Type == "" || l.Name == "" || strings.Contains(string(l.Type), ":") || strings.Contains(l.Name, ":") {
				return rows{}, fmt.Errorf("gateway %s: listener %q of type %q: type and name must be non-empty and contain no ':'",
					g.Name, l.Name, l.Type)
			}
			k := listenerKey{g.Name, string(l.Type), l.Name}
			if _, dup := r.listeners[k]; dup {
				return rows{}, fmt.Errorf("gateway %s: listener %s: defined twice", g.Name, l.Key())
			}
			cfg, auth, err := splitJSON(l)
			if err != nil {
				return rows{}, fmt.Errorf("gateway %s: listener %s: %w", g.Name, l.Key(), err)
			}
			r.listeners[k] = cfg
			if auth != "" {
				r.authns[authnKey{g.Name, l.Key()}] = auth
			}
		}
	}
	return r, nil
}

// splitJSON marshals v and returns it without the "authentication" key (and the drop keys),
// and the authentication value on its own ("" when absent or null). Re-marshalling the map
// sorts the keys, so equal configs always give equal strings.
func splitJSON(v any, drop ...string) (cfg, auth string, err error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", "", err
	}
	if a := m["authentication"]; len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		auth = string(a)
	}
	delete(m, "authentication")
	for _, k := range drop {
		delete(m, k)
	}
	b, err = json.Marshal(m)
	if err != nil {
		return "", "", err
	}
	return string(b), auth, nil
}

// decode builds a snapshot from rows, deterministically: gateways by name, listeners by type
// then name, no nil slices (Gateways, Listeners and AccessRules are always non-nil), and
// Authentication nil when there is no authenticator row. Authenticator rows whose listener
// does not exist are ignored (the next Commit removes them).
func (r rows) decode() (gateway.Snapshot, error) {
	s := gateway.Snapshot{Gateways: make([]gateway.Config, 0, len(r.gateways))}
	byGateway := map[string][]listenerKey{}
	for k := range r.listeners {
		byGateway[k.gateway] = append(byGateway[k.gateway], k)
	}
	for _, name := range slices.Sorted(maps.Keys(r.gateways)) {
		g := gateway.DefaultConfig(name)
		if err := json.Unmarshal([]byte(r.gateways[name]), &g); err != nil {
			return gateway.Snapshot{}, fmt.Errorf("gateway %s: stored config: %w", name, err)
		}
		g.Name = name
		g.Authentication = rawOrNil(r.authns[authnKey{name, ""}])
		keys := byGateway[name]
		slices.SortFunc(keys, cmpListenerKey)
		g.Listeners = make([]gateway.ListenerConfig, 0, len(keys))
		for _, k := range keys {
			l := gateway.DefaultListener()
			if err := json.Unmarshal([]byte(r.listeners[k]), &l); err != nil {
				return gateway.Snapshot{}, fmt.Errorf("gateway %s: listener %s:%s: stored config: %w", name, k.typ, k.name, err)
			}
			l.Type, l.Name = gateway.Transport(k.typ), k.name
			if l.AccessRules == nil {
				l.AccessRules = []string{}
			}
			l.Authentication = rawOrNil(r.authns[authnKey{name, l.Key()}])
			g.Listeners = append(g.Listeners, l)
		}
		s.Gateways = append(s.Gateways, g)
	}
	return s, nil
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// Normalize returns s as the database stores it: the value Snapshot returns after Commit(s).
// It is the JSON round trip of every gateway, listener and authentication (Settings and
// authentication compacted, Settings keys sorted, fields absent from JSON at their defaults),
// plus the ordering and nil rules of Snapshot. Normalize is idempotent.
func Normalize(s gateway.Snapshot) (gateway.Snapshot, error) {
	r, err := encode(s)
	if err != nil {
		return gateway.Snapshot{}, err
	}
	return r.decode()
}

// load reads every config row.
func load(ctx context.Context, q queryer) (rows, error) {
	r := newRows()
	if err := scanEach(ctx, q, `SELECT name, config FROM gateways`, func(sc func(...any) error) error {
		var name, cfg string
		if err := sc(&name, &cfg); err != nil {
			return err
		}
		r.gateways[name] = cfg
		return nil
	}); err != nil {
		return rows{}, fmt.Errorf("gateways: %w", err)
	}
	if err := scanEach(ctx, q, `SELECT gateway, type, name, config FROM listeners`, func(sc func(...any) error) error {
		var k listenerKey
		var cfg string
		if err := sc(&k.gateway, &k.typ, &k.name, &cfg); err != nil {
			return err
		}
		r.listeners[k] = cfg
		return nil
	}); err != nil {
		return rows{}, fmt.Errorf("listeners: %w", err)
	}
	if err := scanEach(ctx, q, `SELECT gateway, listener, config FROM authenticators`, func(sc func(...any) error) error {
		var k authnKey
		var cfg string
		if err := sc(&k.gateway, &k.listener, &cfg); err != nil {
			return err
		}
		r.authns[k] = cfg
		return nil
	}); err != nil {
		return rows{}, fmt.Errorf("authenticators: %w", err)
	}
	return r, nil
}

func scanEach(ctx context.Context, q queryer, query string, each func(scan func(...any) error) error, args ...any) error {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		if err := each(rs.Scan); err != nil {
			return err
		}
	}
	return rs.Err()
}

// write makes the tables hold want, given that they hold have. Unchanged rows are not
// touched, and changed ones are updated in place (ON CONFLICT DO UPDATE keeps an
// authenticator's id, and with it its builtin_users). A deleted gateway takes its listeners,
// authenticators and users with it through ON DELETE CASCADE.
func write(ctx context.Context, tx *sql.Tx, have, want rows) error {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, k := range slices.SortedFunc(maps.Keys(have.authns), cmpAuthnKey) {
		if _, keep := want.authns[k]; !keep {
			if _, err := tx.ExecContext(ctx, `DELETE FROM authenticators WHERE gateway = ? AND listener = ?`, k.gateway, k.listener); err != nil {
				return fmt.Errorf("gateway %s: authenticator %q: %w", k.gateway, k.listener, err)
			}
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(have.listeners), cmpListenerKey) {
		if _, keep := want.listeners[k]; !keep {
			if _, err := tx.ExecContext(ctx, `DELETE FROM listeners WHERE gateway = ? AND type = ? AND name = ?`, k.gateway, k.typ, k.name); err != nil {
				return fmt.Errorf("gateway %s: listener %s:%s: %w", k.gateway, k.typ, k.name, err)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(have.gateways)) {
		if _, keep := want.gateways[name]; !keep {
			if _, err := tx.ExecContext(ctx, `DELETE FROM gateways WHERE name = ?`, name); err != nil {
				return fmt.Errorf("gateway %s: %w", name, err)
			}
		}
	}
	// Upserts, parents first for the foreign keys.
	for _, name := range slices.Sorted(maps.Keys(want.gateways)) {
		cfg := want.gateways[name]
		if old, ok := have.gateways[name]; ok && old == cfg {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO gateways (name, config, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
			name, cfg, now); err != nil {
			return fmt.Errorf("gateway %s: %w", name, err)
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(want.listeners), cmpListenerKey) {
		cfg := want.listeners[k]
		if old, ok := have.listeners[k]; ok && old == cfg {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO listeners (gateway, type, name, config, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (gateway, type, name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
			k.gateway, k.typ, k.name, cfg, now); err != nil {
			return fmt.Errorf("gateway %s: listener %s:%s: %w", k.gateway, k.typ, k.name, err)
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(want.authns), cmpAuthnKey) {
		cfg := want.authns[k]
		if old, ok := have.authns[k]; ok && old == cfg {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO authenticators (gateway, listener, config, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (gateway, listener) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
			k.gateway, k.listener, cfg, now); err != nil {
			return fmt.Errorf("gateway %s: authenticator %q: %w", k.gateway, k.listener, err)
		}
	}
	return nil
}

// Snapshot returns the stored configuration of every gateway. The result is deterministic
// (see Normalize) and reads one consistent state of the database.
func (d *DB) Snapshot(ctx context.Context) (gateway.Snapshot, error) {
	// A plain BeginTx would be BEGIN IMMEDIATE (_txlock) and wait behind a Commit's apply; a
	// deferred transaction on one connection reads a consistent WAL snapshot without locking.
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return gateway.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN DEFERRED`); err != nil {
		return gateway.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	// The connection goes back to the pool: never leave it inside the read transaction.
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	r, err := load(ctx, conn)
	if err != nil {
		return gateway.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	return r.decode()
}

// Commit makes next the stored configuration if, and only if, apply accepts it. One Commit
// (or SeedOnce) runs at a time. Inside one write transaction it writes next's rows, then calls
// apply(ctx, next) with the transaction still open (apply may read through Snapshot, but any
// write through this DB would wait behind it). If apply fails, nothing is stored and its error
// is returned unchanged. If COMMIT fails after apply succeeded, Commit calls apply with the
// previously stored snapshot, so that the runtime matches the database again, and returns the
// COMMIT error wrapped (joined with the revert's error if that failed too).
//
// After a successful Commit(next), Snapshot returns Normalize(next).
func (d *DB) Commit(ctx context.Context, next gateway.Snapshot, apply func(ctx context.Context, s gateway.Snapshot) error) error {
	return d.CommitEdit(ctx, func(s *gateway.Snapshot) error { *s = next; return nil }, apply)
}

// CommitEdit is Commit of edit's change to the stored snapshot: edit runs under the same
// lock and transaction as the write, so two concurrent changes cannot undo each other. An
// error from edit is returned unchanged and nothing is stored.
func (d *DB) CommitEdit(ctx context.Context, edit func(*gateway.Snapshot) error, apply func(ctx context.Context, s gateway.Snapshot) error) error {
	if apply == nil {
		return errors.New("commit: apply must not be nil")
	}
	if err := d.lock(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	defer d.unlock()
	// The transaction ends only by our ROLLBACK or COMMIT: if ctx could roll it back behind
	// our back, apply might succeed and then nothing be stored.
	tx, err := d.sql.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return fmt.Errorf("commit: begin: %w", err)
	}
	rollback := func() {
		if err := tx.Rollback(); err != nil {
			d.log.Error("database rollback failed", "err", err)
		}
	}
	have, err := load(ctx, tx)
	if err != nil {
		rollback()
		return fmt.Errorf("commit: %w", err)
	}
	prev, err := have.decode()
	if err != nil {
		rollback()
		return fmt.Errorf("commit: %w", err)
	}
	next, err := have.decode() // edit's own copy
	if err != nil {
		rollback()
		return fmt.Errorf("commit: %w", err)
	}
	if err := edit(&next); err != nil {
		rollback()
		return err
	}
	want, err := encode(next)
	if err != nil {
		rollback()
		return err
	}
	if err := write(ctx, tx, have, want); err != nil {
		rollback()
		return fmt.Errorf("commit: %w", err)
	}
	if err := ctx.Err(); err != nil {
		rollback()
		return fmt.Errorf("commit: %w", err)
	}
	if err := apply(ctx, next); err != nil {
		rollback()
		return err
	}
	if err := d.commitTx(tx); err != nil {
		// The runtime runs next but the database still holds prev: put the runtime back, even
		// if the caller's context has ended meanwhile.
		if rerr := apply(context.WithoutCancel(ctx), prev); rerr != nil {
			d.log.Error("runtime differs from database: restoring the stored config failed",
				"commit_err", err, "restore_err", rerr)
			return fmt.Errorf("commit: %w; restoring the stored config: %w", err, rerr)
		}
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// SeedOnce writes each default gateway the first time this database sees it and returns the
// names it wrote. A gateway seeded once is never written again (meta key "seeded:<name>"),
// so what the operator deleted stays deleted, while a gateway that a newer version adds
// appears on the first start after the upgrade. Existing gateways are never overwritten. It
// calls no apply: the caller applies Snapshot afterwards.
func (d *DB) SeedOnce(ctx context.Context, defaults gateway.Snapshot) (seeded []string, err error) {
	if err := d.lock(ctx); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	defer d.unlock()
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("seed: begin: %w", err)
	}
	defer tx.Rollback()
	var fresh []gateway.Config
	for _, g := range defaults.Gateways {
		_, done, err := getMeta(ctx, tx, metaSeeded+g.Name)
		if err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		if !done {
			fresh = append(fresh, g)
		}
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	have, err := load(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	var add gateway.Snapshot
	for _, g := range fresh {
		if _, exists := have.gateways[g.Name]; !exists {
			add.Gateways = append(add.Gateways, g)
			seeded = append(seeded, g.Name)
		}
	}
	added, err := encode(add)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	want := newRows()
	maps.Copy(want.gateways, have.gateways)
	maps.Copy(want.gateways, added.gateways)
	maps.Copy(want.listeners, have.listeners)
	maps.Copy(want.listeners, added.listeners)
	maps.Copy(want.authns, have.authns)
	maps.Copy(want.authns, added.authns)
	if err := write(ctx, tx, have, want); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, g := range fresh {
		if err := setMeta(ctx, tx, metaSeeded+g.Name, now); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("seed: commit: %w", err)
	}
	return seeded, nil
}
