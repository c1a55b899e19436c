package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xgate/xgate/gateway"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// openTest opens path and closes it when the test ends (Close twice is harmless).
func openTest(t *testing.T, path string) *DB {
	t.Helper()
	d, err := Open(t.Context(), path, testLogger(t))
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func reopen(t *testing.T, d *DB) *DB {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openTest(t, d.path)
}

func snapshot(t *testing.T, d *DB) gateway.Snapshot {
	t.Helper()
	s, err := d.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return s
}

func normalize(t *testing.T, s gateway.Snapshot) gateway.Snapshot {
	t.Helper()
	n, err := Normalize(s)
	if err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	return n
}

func applyOK(context.Context, gateway.Snapshot) error { return nil }

func commit(t *testing.T, d *DB, next gateway.Snapshot) {
	t.Helper()
	if err := d.Commit(t.Context(), next, applyOK); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		wj, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("%s differs\ngot:  %s\nwant: %s\n(got %#v)\n(want %#v)", what, gj, wj, got, want)
	}
}

func queryInt(t *testing.T, d *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.sql.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// richSnapshot uses every kind of field the tables split apart: protocol settings, gateway and
// listener authentication, TLS options, access rules and a mountpoint override. It is already
// in normal form (listeners ordered by type then name, compact JSON, no nil slices).
func richSnapshot() gateway.Snapshot {
	mp := "stomp/${clientid}/"
	stomp := gateway.DefaultConfig("stomp")
	stomp.Mountpoint = "gw/"
	stomp.IdleTimeout = gateway.Duration(45 * time.Second)
	stomp.ClientInfoOverride = &gateway.ClientInfoOverride{Username: "${username}"}
	stomp.Settings = json.RawMessage(`{"frame":{"max_headers":10}}`)
	stomp.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"built_in_database"}`)

	secure := gateway.DefaultListener()
	secure.Type, secure.Name, secure.Bind = gateway.SSL, "secure", "127.0.0.1:61614"
	secure.AccessRules = []string{"deny 10.0.0.0/8", "allow all"}
	secure.Mountpoint = &mp
	secure.SSLOptions = &gateway.TLSConfig{CertFile: "/etc/xgate/cert.pem", KeyFile: "/etc/xgate/key.pem",
		CACertFile: "/etc/xgate/ca.pem", Verify: "verify_peer", FailIfNoPeerCert: true}
	secure.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"http","url":"http://127.0.0.1:8080/auth"}`)

	plain := gateway.DefaultListener()
	plain.Type, plain.Bind, plain.MaxConnections = gateway.TCP, "61613", 10
	stomp.Listeners = []gateway.ListenerConfig{secure, plain}

	mqttsn := gateway.DefaultConfig("mqttsn")
	mqttsn.Enable = false
	mqttsn.Settings = json.RawMessage(`{"gateway_id":1,"predefined":[{"id":1,"topic":"t/1"}]}`)
	udp := gateway.DefaultListener()
	udp.Type, udp.Bind = gateway.UDP, "1884"
	mqttsn.Listeners = []gateway.ListenerConfig{udp}

	return gateway.Snapshot{Gateways: []gateway.Config{mqttsn, stomp}}
}

func TestOpen(t *testing.T) {
	for _, tc := range []struct{ name, rel string }{
		{"nested new dirs", "a/b/c/xgate.db"},
		{"odd characters", "with space/q?mark#hash%25/xgate.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.rel)
			d := openTest(t, path)
			var applied1 string
			if err := d.sql.QueryRowContext(t.Context(), `SELECT applied_at FROM schema_migrations WHERE version = 1`).Scan(&applied1); err != nil {
				t.Fatalf("migration 1 not recorded: %v", err)
			}

			d = reopen(t, d)
			ms, err := loadMigrations(migrationFiles)
			if err != nil {
				t.Fatal(err)
			}
			if n := queryInt(t, d, `SELECT COUNT(*) FROM schema_migrations`); n != len(ms) {
				t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
			}
			var applied2 string
			if err := d.sql.QueryRowContext(t.Context(), `SELECT applied_at FROM schema_migrations WHERE version = 1`).Scan(&applied2); err != nil {
				t.Fatal(err)
			}
			if applied1 != applied2 {
				t.Errorf("migration 1 re-applied: applied_at %s, then %s", applied1, applied2)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database file not at the given path: %v", err)
			}

			// Every pooled connection must carry the pragmas, so hold several at once.
			conns := make([]*sql.Conn, 3)
			for i := range conns {
				c, err := d.sql.Conn(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns[i] = c
			}
			for i, c := range conns {
				for _, p := range []struct{ pragma, want string }{
					{"journal_mode", "wal"},
					{"foreign_keys", "1"},
					{"busy_timeout", "5000"},
				} {
					var got string
					if err := c.QueryRowContext(t.Context(), "PRAGMA "+p.pragma).Scan(&got); err != nil {
						t.Fatal(err)
					}
					if got != p.want {
						t.Errorf("conn %d: PRAGMA %s = %s, want %s", i, p.pragma, got, p.want)
					}
				}
			}
		})
	}
}

func TestOpenNewerSchema(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	if _, err := d.sql.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later')`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	_, err := Open(t.Context(), d.path, testLogger(t))
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "999") {
		t.Errorf("error %q does not name the database's version", err)
	}
}

func TestMigrate(t *testing.T) {
	ok := &fstest.MapFile{Data: []byte(`CREATE TABLE one (a TEXT);`)}
	for _, tc := range []struct {
		name        string
		files       fstest.MapFS
		wantErr     string
		wantVersion int
		wantTables  []string
		noTables    []string
	}{
		{
			name: "in version order",
			files: fstest.MapFS{
				"migrations/0002_two.sql": {Data: []byte(`CREATE TABLE two (b TEXT REFERENCES one(a));`)},
				"migrations/0001_one.sql": ok,
			},
			wantVersion: 2, wantTables: []string{"one", "two"},
		},
		{
			name: "failed migration leaves no trace",
			files: fstest.MapFS{
				"migrations/0001_one.sql": ok,
				"migrations/0002_bad.sql": {Data: []byte(`CREATE TABLE two (b TEXT); INSERT INTO nowhere VALUES (1);`)},
			},
			wantErr: "0002_bad.sql", wantVersion: 1, wantTables: []string{"one"}, noTables: []string{"two"},
		},
		{
			name:    "bad file name",
			files:   fstest.MapFS{"migrations/init.sql": ok},
			wantErr: "init.sql",
		},
		{
			name:    "duplicate version",
			files:   fstest.MapFS{"migrations/0001_a.sql": ok, "migrations/1_b.sql": ok},
			wantErr: "version 1 already used",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sqlDB, err := sql.Open("sqlite3", dsn(filepath.Join(t.TempDir(), "m.db")))
			if err != nil {
				t.Fatal(err)
			}
			defer sqlDB.Close()
			for range 2 { // the second run must be a no-op (or fail the same way)
				err = migrate(t.Context(), sqlDB, tc.files, testLogger(t))
				if tc.wantErr == "" && err != nil {
					t.Fatalf("migrate: %v", err)
				}
				if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
					t.Fatalf("migrate = %v, want error containing %q", err, tc.wantErr)
				}
			}
			if tc.wantVersion > 0 {
				if v, err := schemaVersion(t.Context(), sqlDB); err != nil || v != tc.wantVersion {
					t.Errorf("version = %d, %v; want %d", v, err, tc.wantVersion)
				}
			}
			exists := func(table string) bool {
				var n int
				if err := sqlDB.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n == 1
			}
			for _, tb := range tc.wantTables {
				if !exists(tb) {
					t.Errorf("table %s missing", tb)
				}
			}
			for _, tb := range tc.noTables {
				if exists(tb) {
					t.Errorf("table %s exists", tb)
				}
			}
		})
	}
}

func TestSeedOnce(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	defaults := richSnapshot()

	seeded, err := d.SeedOnce(t.Context(), defaults)
	if err != nil || len(seeded) != len(defaults.Gateways) {
		t.Fatalf("first SeedOnce = %v, %v; want every default", seeded, err)
	}
	mustEqual(t, "seeded snapshot", snapshot(t, d), defaults)
	for _, g := range defaults.Gateways {
		if _, ok, _ := d.Meta(t.Context(), "seeded:"+g.Name); !ok {
			t.Errorf("meta seeded:%s not set", g.Name)
		}
	}

	// The operator deletes the stomp gateway; a restart must not bring it back.
	s := snapshot(t, d)
	s.Gateways = s.Gateways[:1]
	commit(t, d, s)
	d = reopen(t, d)
	seeded, err = d.SeedOnce(t.Context(), defaults)
	if err != nil || len(seeded) != 0 {
		t.Fatalf("SeedOnce after reopen = %v, %v; want nothing", seeded, err)
	}
	got := snapshot(t, d)
	if _, ok := got.Gateway("stomp"); ok {
		t.Fatal("deleted gateway came back")
	}
	mustEqual(t, "snapshot after restart", got, s)

	// A gateway a newer version adds to the defaults is seeded on the next start, once.
	newer := defaults.WithGateway(gateway.DefaultConfig("coap"))
	if seeded, err = d.SeedOnce(t.Context(), newer); err != nil || len(seeded) != 1 || seeded[0] != "coap" {
		t.Fatalf("SeedOnce with a new default = %v, %v; want [coap]", seeded, err)
	}
	if _, ok := snapshot(t, d).Gateway("stomp"); ok {
		t.Fatal("deleted gateway came back with the upgrade")
	}
}

func TestSeedOnceKeepsExistingGateways(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	mine := gateway.DefaultConfig("stomp")
	mine.Mountpoint = "mine/"
	// Rows written without the seeded mark (as by a crash between the two): SeedOnce must add
	// the missing defaults and overwrite nothing.
	tx, err := d.sql.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := encode(gateway.Snapshot{Gateways: []gateway.Config{mine}})
	if err != nil {
		t.Fatal(err)
	}
	if err := write(t.Context(), tx, newRows(), want); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if seeded, err := d.SeedOnce(t.Context(), richSnapshot()); err != nil || len(seeded) == 0 {
		t.Fatalf("SeedOnce = %v, %v", seeded, err)
	}
	got := snapshot(t, d)
	if g, _ := got.Gateway("stomp"); g.Mountpoint != "mine/" {
		t.Errorf("existing gateway overwritten: %+v", g)
	}
	if _, ok := got.Gateway("mqttsn"); !ok {
		t.Error("missing default gateway not added")
	}
}

func TestCommitStores(t *testing.T) {
	rich := richSnapshot()

	// Not in normal form: listeners unordered, JSON with spaces, nil slices, "null" auth.
	messy := richSnapshot()
	stomp := messy.Gateways[1]
	stomp.Listeners = []gateway.ListenerConfig{stomp.Listeners[1], stomp.Listeners[0]}
	stomp.Listeners[0].AccessRules = nil
	stomp.Listeners[0].Authentication = json.RawMessage(`null`)
	stomp.Settings = json.RawMessage(`{ "frame": { "max_headers": 10 } }`)
	stomp.Authentication = json.RawMessage(`{ "mechanism": "password_based" }`)
	messy.Gateways = []gateway.Config{stomp, messy.Gateways[0]}

	for _, tc := range []struct {
		name       string
		next       gateway.Snapshot
		normalForm bool // Snapshot must equal next itself, not just Normalize(next)
	}{
		{"rich config", rich, true},
		{"not in normal form", messy, false},
		{"no gateways", gateway.Snapshot{Gateways: []gateway.Config{}}, true},
		{"nil gateways", gateway.Snapshot{}, false},
		{"gateway without listeners", gateway.Snapshot{Gateways: []gateway.Config{gateway.DefaultConfig("coap")}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
			commit(t, d, richSnapshot()) // something to replace
			var applied gateway.Snapshot
			err := d.Commit(t.Context(), tc.next, func(_ context.Context, s gateway.Snapshot) error {
				applied = s
				return nil
			})
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			mustEqual(t, "applied snapshot", applied, tc.next)

			d = reopen(t, d)
			got := snapshot(t, d)
			want := normalize(t, tc.next)
			mustEqual(t, "Snapshot vs Normalize(next)", got, want)
			mustEqual(t, "Normalize(Snapshot)", normalize(t, got), got)
			if tc.normalForm {
				mustEqual(t, "Snapshot vs next", got, tc.next)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	l := gateway.DefaultListener()
	l.Type, l.Bind, l.AccessRules = gateway.TCP, "1", nil
	l.Authentication = json.RawMessage(`null`)
	g := gateway.DefaultConfig("stomp")
	g.Listeners = nil
	g.Settings = json.RawMessage(` { "b" : 1, "a" : [ 1, 2 ] } `)
	g2 := g
	g2.Name = "coap"
	g2.Listeners = []gateway.ListenerConfig{l}

	got := normalize(t, gateway.Snapshot{Gateways: []gateway.Config{g, g2}})
	if got.Gateways[0].Name != "coap" || got.Gateways[1].Name != "stomp" {
		t.Errorf("gateways not ordered by name: %s, %s", got.Gateways[0].Name, got.Gateways[1].Name)
	}
	if got.Gateways[1].Listeners == nil {
		t.Error("nil Listeners not normalised to empty")
	}
	nl := got.Gateways[0].Listeners[0]
	if nl.AccessRules == nil || nl.Authentication != nil {
		t.Errorf("listener not normalised: access_rules %#v, authentication %#v", nl.AccessRules, nl.Authentication)
	}
	if s := string(got.Gateways[1].Settings); s != `{"a":[1,2],"b":1}` {
		t.Errorf("settings = %s", s)
	}
	mustEqual(t, "Normalize twice", normalize(t, got), got)
}

func TestCommitRejectsBadSnapshot(t *testing.T) {
	lst := func(typ gateway.Transport, name string) gateway.ListenerConfig {
		l := gateway.DefaultListener()
		l.Type, l.Name, l.Bind = typ, name, "1"
		return l
	}
	gw := func(name string, ls ...gateway.ListenerConfig) gateway.Config {
		g := gateway.DefaultConfig(name)
		g.Listeners = append(g.Listeners, ls...)
		return g
	}
	badSettings := gw("stomp")
	badSettings.Settings = json.RawMessage(`[1]`)
	badAuth := gw("stomp")
	badAuth.Authentication = json.RawMessage(`{`)
	for _, tc := range []struct {
		name    string
		gws     []gateway.Config
		wantErr string
	}{
		{"empty gateway name", []gateway.Config{gw("")}, "name must not be empty"},
		{"gateway twice", []gateway.Config{gw("stomp"), gw("stomp")}, "gateway stomp: defined twice"},
		{"listener twice", []gateway.Config{gw("stomp", lst("tcp", "a"), lst("tcp", "a"))}, "listener tcp:a: defined twice"},
		{"colon in listener name", []gateway.Config{gw("stomp", lst("tcp", "a:b"))}, "contain no ':'"},
		{"listener without type", []gateway.Config{gw("stomp", lst("", "a"))}, "must be non-empty"},
		{"settings not an object", []gateway.Config{badSettings}, "gateway stomp: "},
		{"invalid authentication JSON", []gateway.Config{badAuth}, "gateway stomp: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
			commit(t, d, richSnapshot())
			before := snapshot(t, d)
			called := false
			err := d.Commit(t.Context(), gateway.Snapshot{Gateways: tc.gws}, func(context.Context, gateway.Snapshot) error {
				called = true
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Commit = %v, want error containing %q", err, tc.wantErr)
			}
			if called {
				t.Error("apply called for a snapshot that cannot be stored")
			}
			mustEqual(t, "snapshot", snapshot(t, d), before)
		})
	}
}

// applyError stands for a typed error from Manager.Apply that the web layer maps to 409.
type applyError struct{ listener string }

func (e *applyError) Error() string { return "listener " + e.listener + ": address already in use" }

func TestCommitApplyFails(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	commit(t, d, richSnapshot())
	before := snapshot(t, d)
	var usersBefore int
	gwAuthID := queryInt(t, d, `SELECT id FROM authenticators WHERE gateway = 'stomp' AND listener = ''`)

	for _, tc := range []struct {
		name string
		edit func(gateway.Snapshot) gateway.Snapshot
	}{
		{"change a listener", func(s gateway.Snapshot) gateway.Snapshot {
			g, _ := s.Gateway("stomp")
			l, _ := g.Listener(gateway.TCP, "default")
			l.Bind = "61700"
			return s.WithGateway(g.WithListener(l))
		}},
		{"remove a gateway", func(s gateway.Snapshot) gateway.Snapshot {
			return gateway.Snapshot{Gateways: s.Gateways[:1]}
		}},
		{"remove everything", func(gateway.Snapshot) gateway.Snapshot { return gateway.Snapshot{} }},
		{"add a gateway", func(s gateway.Snapshot) gateway.Snapshot {
			return s.WithGateway(gateway.DefaultConfig("coap"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := tc.edit(snapshot(t, d))
			if _, err := d.sql.ExecContext(t.Context(), `INSERT OR REPLACE INTO builtin_users (authenticator_id, user_id, password_hash) VALUES (?, 'u', 'h')`, gwAuthID); err != nil {
				t.Fatal(err)
			}
			usersBefore = queryInt(t, d, `SELECT COUNT(*) FROM builtin_users`)
			applyErr := &applyError{listener: "tcp:default"}
			var got gateway.Snapshot
			calls := 0
			err := d.Commit(t.Context(), next, func(_ context.Context, s gateway.Snapshot) error {
				calls++
				got = s
				return fmt.Errorf("gateway stomp: %w", applyErr)
			})
			if !errors.Is(err, applyErr) {
				t.Fatalf("Commit = %v, want the apply error", err)
			}
			if want := "gateway stomp: listener tcp:default: address already in use"; err.Error() != want {
				t.Errorf("Commit error = %q, want apply's error unchanged %q", err, want)
			}
			var ae *applyError
			if !errors.As(err, &ae) || ae.listener != "tcp:default" {
				t.Errorf("errors.As lost the typed error: %v", err)
			}
			if calls != 1 {
				t.Errorf("apply called %d times, want 1", calls)
			}
			mustEqual(t, "apply argument", got, next)
			mustEqual(t, "snapshot after failed apply", snapshot(t, d), before)
			if n := queryInt(t, d, `SELECT COUNT(*) FROM builtin_users`); n != usersBefore {
				t.Errorf("builtin_users: %d rows, want %d", n, usersBefore)
			}
		})
	}
}

func TestCommitRows(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	commit(t, d, richSnapshot())
	authID := func(listener string) int {
		t.Helper()
		return queryInt(t, d, `SELECT COALESCE((SELECT id FROM authenticators WHERE gateway = 'stomp' AND listener = ?), 0)`, listener)
	}
	users := func(id int) int {
		t.Helper()
		return queryInt(t, d, `SELECT COUNT(*) FROM builtin_users WHERE authenticator_id = ?`, id)
	}
	addUser := func(id int, user string) {
		t.Helper()
		if _, err := d.sql.ExecContext(t.Context(), `INSERT INTO builtin_users (authenticator_id, user_id, password_hash, salt, is_superuser)
			VALUES (?, ?, 'hash', 'salt', 0)`, id, user); err != nil {
			t.Fatal(err)
		}
	}
	gwID, secureID := authID(""), authID("ssl:secure")
	if gwID == 0 || secureID == 0 {
		t.Fatalf("authenticator rows missing: gateway %d, ssl:secure %d", gwID, secureID)
	}
	addUser(gwID, "alice")
	addUser(secureID, "bob")

	stomp := func() gateway.Config { g, _ := snapshot(t, d).Gateway("stomp"); return g }

	t.Run("unrelated change keeps users", func(t *testing.T) {
		g := stomp()
		g.Mountpoint = "other/"
		l, _ := g.Listener(gateway.TCP, "default")
		l.MaxConnections = 99
		commit(t, d, snapshot(t, d).WithGateway(g.WithListener(l)))
		if authID("") != gwID || users(gwID) != 1 || users(secureID) != 1 {
			t.Errorf("authenticators or users changed: gateway id %d users %d, listener users %d",
				authID(""), users(gwID), users(secureID))
		}
	})
	t.Run("changed authenticator is updated in place", func(t *testing.T) {
		g := stomp()
		g.Authentication = json.RawMessage(`{"mechanism":"password_based","backend":"built_in_database","password_hash_algorithm":{"name":"sha256"}}`)
		commit(t, d, snapshot(t, d).WithGateway(g))
		if authID("") != gwID || users(gwID) != 1 {
			t.Errorf("gateway authenticator replaced: id %d (was %d), users %d", authID(""), gwID, users(gwID))
		}
	})
	t.Run("removing a listener removes its authenticator and users", func(t *testing.T) {
		commit(t, d, snapshot(t, d).WithGateway(stomp().WithoutListener(gateway.SSL, "secure")))
		if authID("ssl:secure") != 0 || users(secureID) != 0 {
			t.Errorf("listener authenticator left behind: id %d, users %d", authID("ssl:secure"), users(secureID))
		}
		if n := queryInt(t, d, `SELECT COUNT(*) FROM listeners WHERE gateway = 'stomp' AND type = 'ssl'`); n != 0 {
			t.Errorf("listener row left behind")
		}
		if authID("") != gwID || users(gwID) != 1 {
			t.Errorf("gateway authenticator touched: id %d, users %d", authID(""), users(gwID))
		}
	})
	t.Run("removing authentication removes the authenticator", func(t *testing.T) {
		g := stomp()
		g.Authentication = nil
		commit(t, d, snapshot(t, d).WithGateway(g))
		if authID("") != 0 || users(gwID) != 0 {
			t.Errorf("gateway authenticator left behind")
		}
	})
	t.Run("removing a gateway removes all its rows", func(t *testing.T) {
		g := stomp()
		g.Authentication = json.RawMessage(`{"mechanism":"password_based"}`)
		commit(t, d, snapshot(t, d).WithGateway(g))
		if authID("") == gwID {
			t.Errorf("authenticator id %d reused", gwID)
		}
		addUser(authID(""), "carol")
		commit(t, d, gateway.Snapshot{Gateways: []gateway.Config{}})
		for _, table := range []string{"gateways", "listeners", "authenticators", "builtin_users"} {
			if n := queryInt(t, d, `SELECT COUNT(*) FROM `+table); n != 0 {
				t.Errorf("%s: %d rows left", table, n)
			}
		}
	})
}

func TestCommitSerialised(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	var running, overlaps atomic.Int32
	var last gateway.Snapshot // written only inside apply, which Commit serialises
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			g := gateway.DefaultConfig("stomp")
			g.Mountpoint = fmt.Sprintf("m%d/", i)
			next := gateway.Snapshot{Gateways: []gateway.Config{g}}
			err := d.Commit(t.Context(), next, func(context.Context, gateway.Snapshot) error {
				if running.Add(1) != 1 {
					overlaps.Add(1)
				}
				defer running.Add(-1)
				time.Sleep(5 * time.Millisecond) // widen the window an overlap would show in
				last = next
				return nil
			})
			if err != nil {
				t.Errorf("Commit %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if o := overlaps.Load(); o != 0 {
		t.Fatalf("apply ran concurrently %d times", o)
	}
	mustEqual(t, "snapshot after concurrent commits", snapshot(t, d), normalize(t, last))
}

func TestCommitFailureRestoresRuntime(t *testing.T) {
	errCommit := errors.New("disk I/O error")
	errRestore := errors.New("restore failed")
	for _, tc := range []struct {
		name       string
		restoreErr error
	}{
		{"restore succeeds", nil},
		{"restore fails too", errRestore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
			commit(t, d, richSnapshot())
			prev := snapshot(t, d)
			d.commitTx = func(tx *sql.Tx) error {
				tx.Rollback()
				return errCommit
			}
			next := gateway.Snapshot{Gateways: []gateway.Config{gateway.DefaultConfig("coap")}}
			var calls []gateway.Snapshot
			err := d.Commit(t.Context(), next, func(_ context.Context, s gateway.Snapshot) error {
				calls = append(calls, s)
				if len(calls) == 2 {
					return tc.restoreErr
				}
				return nil
			})
			if !errors.Is(err, errCommit) {
				t.Fatalf("Commit = %v, want the commit error", err)
			}
			if tc.restoreErr != nil && !errors.Is(err, tc.restoreErr) {
				t.Errorf("Commit = %v, want it to carry the restore error too", err)
			}
			if len(calls) != 2 {
				t.Fatalf("apply called %d times, want 2 (next, then prev)", len(calls))
			}
			mustEqual(t, "first apply", calls[0], next)
			mustEqual(t, "second apply", calls[1], prev)
			mustEqual(t, "stored snapshot", snapshot(t, d), prev)
		})
	}
}

func TestCommitContext(t *testing.T) {
	t.Run("cancelled during apply still stores", func(t *testing.T) {
		// apply has changed the runtime by then: storing keeps runtime and database in line.
		d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		next := richSnapshot()
		err := d.Commit(ctx, next, func(context.Context, gateway.Snapshot) error {
			cancel()
			return nil
		})
		if err != nil {
			t.Fatalf("Commit: %v", err)
		}
		mustEqual(t, "snapshot", snapshot(t, d), next)
	})
	t.Run("cancelled before apply stores nothing", func(t *testing.T) {
		d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := d.Commit(ctx, richSnapshot(), func(context.Context, gateway.Snapshot) error {
			t.Error("apply called with a cancelled context")
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Commit = %v, want context.Canceled", err)
		}
		mustEqual(t, "snapshot", snapshot(t, d), gateway.Snapshot{Gateways: []gateway.Config{}})
	})
}

// A Snapshot taken while a Commit's apply runs sees the old state at once instead of waiting
// for the write lock.
func TestSnapshotDuringCommit(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	commit(t, d, richSnapshot())
	before := snapshot(t, d)
	inApply, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.Commit(t.Context(), gateway.Snapshot{}, func(context.Context, gateway.Snapshot) error {
			close(inApply)
			<-release
			return nil
		})
	}()
	<-inApply
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	s, err := d.Snapshot(ctx)
	close(release)
	if err != nil {
		t.Fatalf("Snapshot during Commit: %v", err)
	}
	mustEqual(t, "snapshot during commit", s, before)
	if err := <-done; err != nil {
		t.Fatalf("Commit: %v", err)
	}
	mustEqual(t, "snapshot after commit", snapshot(t, d), gateway.Snapshot{Gateways: []gateway.Config{}})
}

func TestMeta(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	ctx := t.Context()
	if v, ok, err := d.Meta(ctx, "jwt_key"); err != nil || ok || v != "" {
		t.Fatalf("Meta(missing) = %q, %v, %v", v, ok, err)
	}
	for _, v := range []string{"first", "second", ""} {
		if err := d.SetMeta(ctx, "jwt_key", v); err != nil {
			t.Fatalf("SetMeta(%q): %v", v, err)
		}
		if got, ok, err := d.Meta(ctx, "jwt_key"); err != nil || !ok || got != v {
			t.Fatalf("Meta = %q, %v, %v; want %q", got, ok, err, v)
		}
	}
	d = reopen(t, d)
	if got, ok, err := d.Meta(ctx, "jwt_key"); err != nil || !ok || got != "" {
		t.Fatalf("Meta after reopen = %q, %v, %v", got, ok, err)
	}
}
