package db

import (
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"
)

func adminsDB(t *testing.T) *DB {
	t.Helper()
	return openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
}

func mustAdmin(t *testing.T, d *DB, username string) Admin {
	t.Helper()
	a, ok, err := d.Admin(t.Context(), username)
	if err != nil || !ok {
		t.Fatalf("Admin(%s) = %v, %v", username, ok, err)
	}
	return a
}

func TestAdminsCRUD(t *testing.T) {
	d := adminsDB(t)
	ctx := t.Context()
	for _, a := range []Admin{
		{Username: "root", PasswordHash: "h0", Role: roleAdministrator},
		{Username: "alice", PasswordHash: "h1", Role: roleAdministrator, Description: "ops"},
	} {
		if err := d.AddAdmin(ctx, a); err != nil {
			t.Fatalf("AddAdmin(%s): %v", a.Username, err)
		}
	}
	if err := d.AddAdmin(ctx, Admin{Username: "alice", PasswordHash: "x", Role: roleAdministrator}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate AddAdmin = %v, want ErrExists", err)
	}
	list, err := d.Admins(ctx)
	if err != nil || len(list) != 2 || list[0].Username != "alice" || list[1].Username != "root" {
		t.Fatalf("Admins = %+v, %v", list, err)
	}
	alice := mustAdmin(t, d, "alice")
	if alice.Description != "ops" || alice.PasswordHash != "h1" || alice.TokenEpoch == "" {
		t.Fatalf("alice = %+v", alice)
	}
	if alice.TokenEpoch == mustAdmin(t, d, "root").TokenEpoch {
		t.Fatal("two admins share a token epoch")
	}
	if _, ok, err := d.Admin(ctx, "nobody"); ok || err != nil {
		t.Fatalf("Admin(nobody) = %v, %v", ok, err)
	}
}

func TestAdminUpdatesAndTokenEpoch(t *testing.T) {
	d := adminsDB(t)
	ctx := t.Context()
	if err := d.AddAdmin(ctx, Admin{Username: "alice", PasswordHash: "h1", Role: roleAdministrator, Description: "ops"}); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	profile := func(role, desc *string) func() error {
		return func() error { _, err := d.UpdateAdminProfile(ctx, "alice", role, desc); return err }
	}
	for _, tc := range []struct {
		name      string
		update    func() error
		want      Admin // TokenEpoch ignored
		wantRenew bool
	}{
		{name: "nothing given keeps all", update: profile(nil, nil),
			want: Admin{Username: "alice", PasswordHash: "h1", Role: roleAdministrator, Description: "ops"}},
		{name: "description keeps tokens", update: profile(nil, str("night shift")),
			want: Admin{Username: "alice", PasswordHash: "h1", Role: roleAdministrator, Description: "night shift"}},
		{name: "same role keeps tokens", update: profile(str(roleAdministrator), nil),
			want: Admin{Username: "alice", PasswordHash: "h1", Role: roleAdministrator, Description: "night shift"}},
		{name: "new role ends tokens", update: profile(str("viewer"), str("")),
			want: Admin{Username: "alice", PasswordHash: "h1", Role: "viewer"}, wantRenew: true},
		{name: "new password ends tokens", update: func() error { return d.SetAdminPassword(ctx, "alice", "h2") },
			want: Admin{Username: "alice", PasswordHash: "h2", Role: "viewer"}, wantRenew: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := mustAdmin(t, d, "alice")
			if err := tc.update(); err != nil {
				t.Fatalf("update: %v", err)
			}
			after := mustAdmin(t, d, "alice")
			if renewed := after.TokenEpoch != before.TokenEpoch; renewed != tc.wantRenew || after.TokenEpoch == "" {
				t.Errorf("epoch %q -> %q, want renewed=%v", before.TokenEpoch, after.TokenEpoch, tc.wantRenew)
			}
			tc.want.TokenEpoch = after.TokenEpoch
			if after != tc.want {
				t.Errorf("stored %+v, want %+v", after, tc.want)
			}
		})
	}
	if got, err := d.UpdateAdminProfile(ctx, "alice", nil, str("x")); err != nil || got.Description != "x" || got.PasswordHash != "h2" {
		t.Errorf("UpdateAdminProfile returned %+v, %v", got, err)
	}
	if _, err := d.UpdateAdminProfile(ctx, "nobody", nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateAdminProfile(nobody) = %v, want ErrNotFound", err)
	}
	if err := d.SetAdminPassword(ctx, "nobody", "h"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAdminPassword(nobody) = %v, want ErrNotFound", err)
	}
}

func TestDeleteAdmin(t *testing.T) {
	d := adminsDB(t)
	ctx := t.Context()
	for _, a := range []Admin{
		{Username: "root", PasswordHash: "h", Role: roleAdministrator},
		{Username: "alice", PasswordHash: "h", Role: roleAdministrator},
		{Username: "watcher", PasswordHash: "h", Role: "viewer"},
	} {
		if err := d.AddAdmin(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, username string
		wantErr        error
	}{
		{name: "missing", username: "nobody", wantErr: ErrNotFound},
		{name: "one of two administrators", username: "alice"},
		{name: "the last administrator", username: "root", wantErr: ErrLastAdmin},
		{name: "a viewer while one administrator is left", username: "watcher"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.DeleteAdmin(ctx, tc.username); !errors.Is(err, tc.wantErr) {
				t.Fatalf("DeleteAdmin(%s) = %v, want %v", tc.username, err, tc.wantErr)
			}
			_, ok, _ := d.Admin(ctx, tc.username)
			if wantKept := tc.wantErr == ErrLastAdmin; ok != wantKept {
				t.Errorf("after delete, exists = %v", ok)
			}
		})
	}
}

func TestRevokedTokens(t *testing.T) {
	d := adminsDB(t)
	ctx := t.Context()
	if err := d.RevokeToken(ctx, "old", 100, 50); err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeToken(ctx, "new", 300, 200); err != nil { // prunes "old", expired at 100
		t.Fatal(err)
	}
	if err := d.RevokeToken(ctx, "new", 300, 200); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	for jti, want := range map[string]bool{"old": false, "new": true, "other": false} {
		if got, err := d.TokenRevoked(ctx, jti); err != nil || got != want {
			t.Errorf("TokenRevoked(%s) = %v, %v; want %v", jti, got, err, want)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	d := adminsDB(t)
	ctx := t.Context()
	expiry := time.Date(2040, 1, 2, 3, 4, 5, 0, time.UTC)
	k1, err := d.AddAPIKey(ctx, APIKey{Name: "ci", Key: "k1", SecretHash: "s1", Enable: true, ExpiredAt: expiry, Description: "pipeline"})
	if err != nil {
		t.Fatalf("AddAPIKey: %v", err)
	}
	if k1.CreatedAt.IsZero() || time.Since(k1.CreatedAt) > time.Hour {
		t.Fatalf("created_at = %v", k1.CreatedAt)
	}
	if _, err := d.AddAPIKey(ctx, APIKey{Name: "backup", Key: "k2", SecretHash: "s2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddAPIKey(ctx, APIKey{Name: "ci", Key: "k3", SecretHash: "s3"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate name = %v, want ErrExists", err)
	}

	got, ok, err := d.APIKeyByKey(ctx, "k1")
	if err != nil || !ok || got != k1 {
		t.Fatalf("APIKeyByKey = %+v, %v, %v; want %+v", got, ok, err, k1)
	}
	if got, ok, err := d.APIKeyByName(ctx, "backup"); err != nil || !ok || got.Enable || !got.ExpiredAt.IsZero() {
		t.Fatalf("APIKeyByName(backup) = %+v, %v, %v", got, ok, err)
	}
	if _, ok, err := d.APIKeyByName(ctx, "nope"); ok || err != nil {
		t.Fatalf("APIKeyByName(nope) = %v, %v", ok, err)
	}
	list, err := d.APIKeys(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "backup" || list[1].Name != "ci" {
		t.Fatalf("APIKeys = %+v, %v", list, err)
	}

	upd := k1
	upd.Enable, upd.ExpiredAt, upd.Description = false, time.Time{}, "paused"
	upd.Key, upd.SecretHash = "ignored", "ignored"
	if err := d.UpdateAPIKey(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, _, _ = d.APIKeyByName(ctx, "ci")
	if got.Enable || !got.ExpiredAt.IsZero() || got.Description != "paused" || got.Key != "k1" || got.SecretHash != "s1" {
		t.Fatalf("after update: %+v", got)
	}
	if err := d.UpdateAPIKey(ctx, APIKey{Name: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateAPIKey(nope) = %v", err)
	}
	if err := d.DeleteAPIKey(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteAPIKey(ctx, "ci"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteAPIKey = %v", err)
	}
	if _, ok, _ := d.APIKeyByKey(ctx, "k1"); ok {
		t.Fatal("deleted key still found")
	}
}

func TestAPIKeyExpired(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		key  APIKey
		now  time.Time
		want bool
	}{
		{name: "never", key: APIKey{}, now: at, want: false},
		{name: "before", key: APIKey{ExpiredAt: at}, now: at.Add(-time.Second), want: false},
		{name: "at", key: APIKey{ExpiredAt: at}, now: at, want: true},
		{name: "after", key: APIKey{ExpiredAt: at}, now: at.Add(time.Second), want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.key.Expired(tc.now); got != tc.want {
				t.Errorf("Expired = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMigration0003Epochs checks that admins created before 0003 get distinct token epochs.
func TestMigration0003Epochs(t *testing.T) {
	sqlDB, err := sql.Open("sqlite3", dsn(filepath.Join(t.TempDir(), "m.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	before := fstest.MapFS{}
	for _, name := range []string{"migrations/0001_init.sql", "migrations/0002_authz.sql"} {
		b, err := fs.ReadFile(migrationFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = &fstest.MapFile{Data: b}
	}
	if err := migrate(t.Context(), sqlDB, before, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlDB.Exec(`INSERT INTO admins (username, password_hash) VALUES ('a', 'h'), ('b', 'h')`); err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), sqlDB, migrationFiles, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	var distinct, empty int
	if err := sqlDB.QueryRow(`SELECT count(DISTINCT token_epoch), count(*) FILTER (WHERE token_epoch = '') FROM admins`).Scan(&distinct, &empty); err != nil {
		t.Fatal(err)
	}
	if distinct != 2 || empty != 0 {
		t.Fatalf("epochs: %d distinct, %d empty", distinct, empty)
	}
}
