package db

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn/builtin"
	"github.com/xgate/xgate/gateway"
)

var (
	gwRef  = gateway.AuthnRef{Gateway: "stomp"}
	tcpRef = gateway.AuthnRef{Gateway: "stomp", Listener: "tcp:default"}
)

const builtinAuthn = `{"mechanism":"password_based","backend":"built_in_database"}`

func TestUserStore(t *testing.T) {
	d := usersDB(t)
	ctx := t.Context()
	gw, tcp := d.Users(gwRef), d.Users(tcpRef)

	alice := testUser("alice", "h1", false)
	if err := gw.Add(ctx, alice); err != nil {
		t.Fatalf("Add: %v", err)
	}
	mustLookup(t, gw, "alice", &alice)
	mustLookup(t, tcp, "alice", nil) // the listener's authenticator has users of its own

	listenerAlice := testUser("alice", "h-listener", true)
	if err := tcp.Add(ctx, listenerAlice); err != nil {
		t.Fatalf("Add on the listener: %v", err)
	}
	mustLookup(t, tcp, "alice", &listenerAlice)
	mustLookup(t, gw, "alice", &alice)

	updated := testUser("alice", "h2", true)
	if err := gw.Update(ctx, updated); err != nil {
		t.Fatalf("Update: %v", err)
	}
	mustLookup(t, gw, "alice", &updated)
	mustLookup(t, tcp, "alice", &listenerAlice)

	if err := gw.Delete(ctx, "alice"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustLookup(t, gw, "alice", nil)
	mustLookup(t, tcp, "alice", &listenerAlice)
}

func TestUserStoreErrors(t *testing.T) {
	add := func(u builtin.User) func(context.Context, UserStore) error {
		return func(ctx context.Context, s UserStore) error { return s.Add(ctx, u) }
	}
	update := func(u builtin.User) func(context.Context, UserStore) error {
		return func(ctx context.Context, s UserStore) error { return s.Update(ctx, u) }
	}
	del := func(id string) func(context.Context, UserStore) error {
		return func(ctx context.Context, s UserStore) error { return s.Delete(ctx, id) }
	}
	bob := testUser("bob", "h", false)
	noListener := gateway.AuthnRef{Gateway: "stomp", Listener: "udp:default"}
	noGateway := gateway.AuthnRef{Gateway: "coap"}
	for _, tc := range []struct {
		name    string
		ref     gateway.AuthnRef
		op      func(context.Context, UserStore) error
		wantErr error
	}{
		{"add a taken id", gwRef, add(testUser("alice", "other", true)), ErrExists},
		{"update an unknown user", gwRef, update(bob), ErrNotFound},
		{"update a user of another authenticator", tcpRef, update(testUser("alice", "other", true)), ErrNotFound},
		{"delete an unknown user", gwRef, del("bob"), ErrNotFound},
		{"add without the authenticator", noListener, add(bob), ErrNotFound},
		{"update without the authenticator", noListener, update(bob), ErrNotFound},
		{"delete without the authenticator", noListener, del("alice"), ErrNotFound},
		{"add to an unknown gateway", noGateway, add(bob), ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := usersDB(t)
			alice := testUser("alice", "h1", false)
			if err := d.Users(gwRef).Add(t.Context(), alice); err != nil {
				t.Fatal(err)
			}
			err := tc.op(t.Context(), d.Users(tc.ref))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			mustLookup(t, d.Users(gwRef), "alice", &alice)
			if n := queryInt(t, d, `SELECT count(*) FROM builtin_users`); n != 1 {
				t.Errorf("builtin_users has %d rows, want 1", n)
			}
		})
	}
}

func TestUserStoreList(t *testing.T) {
	d := usersDB(t)
	// Added out of order, so that the listing's order is the query's doing.
	for _, u := range []builtin.User{
		testUser("dave", "h", false), testUser("carol", "h", true), testUser("alice", "h", true),
		testUser("dev_1", "h", false), testUser("bob", "h", false), testUser("alicia", "h", false),
	} {
		if err := d.Users(gwRef).Add(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Users(tcpRef).Add(t.Context(), testUser("zed", "h", true)); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	for _, tc := range []struct {
		name      string
		ref       gateway.AuthnRef
		q         UserQuery
		want      []string
		wantTotal int
	}{
		{"everything, by user_id", gwRef, UserQuery{}, []string{"alice", "alicia", "bob", "carol", "dave", "dev_1"}, 6},
		{"first page", gwRef, UserQuery{Page: 1, Limit: 4}, []string{"alice", "alicia", "bob", "carol"}, 6},
		{"page 0 is the first", gwRef, UserQuery{Page: 0, Limit: 2}, []string{"alice", "alicia"}, 6},
		{"last page is short", gwRef, UserQuery{Page: 2, Limit: 4}, []string{"dave", "dev_1"}, 6},
		{"past the end", gwRef, UserQuery{Page: 3, Limit: 4}, nil, 6},
		{"like_user_id", gwRef, UserQuery{LikeUserID: "lic"}, []string{"alice", "alicia"}, 2},
		{"like_user_id is no LIKE pattern", gwRef, UserQuery{LikeUserID: "_"}, []string{"dev_1"}, 1},
		{"superusers", gwRef, UserQuery{IsSuperuser: &yes}, []string{"alice", "carol"}, 2},
		{"not superusers", gwRef, UserQuery{IsSuperuser: &no}, []string{"alicia", "bob", "dave", "dev_1"}, 4},
		{"filters and paging together", gwRef, UserQuery{LikeUserID: "a", IsSuperuser: &no, Page: 2, Limit: 1}, []string{"dave"}, 2},
		{"listener's users only", tcpRef, UserQuery{}, []string{"zed"}, 1},
		{"unknown authenticator", gateway.AuthnRef{Gateway: "coap"}, UserQuery{}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users, total, err := d.Users(tc.ref).List(t.Context(), tc.q)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if got := userIDs(users); !slices.Equal(got, tc.want) || total != tc.wantTotal {
				t.Errorf("List(%+v) = %q, total %d; want %q, total %d", tc.q, got, total, tc.want, tc.wantTotal)
			}
		})
	}
}

// The users belong to the authenticator row: changing its config keeps them, removing it
// (or its listener) removes them.
func TestUsersFollowAuthenticator(t *testing.T) {
	d := usersDB(t)
	ctx := t.Context()
	alice, bob := testUser("alice", "h1", false), testUser("bob", "h2", true)
	if err := d.Users(gwRef).Add(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if err := d.Users(tcpRef).Add(ctx, bob); err != nil {
		t.Fatal(err)
	}

	commit(t, d, authnSnapshot(`{"mechanism":"password_based","backend":"built_in_database","user_id_type":"clientid"}`, builtinAuthn))
	mustLookup(t, d.Users(gwRef), "alice", &alice)
	mustLookup(t, d.Users(tcpRef), "bob", &bob)

	commit(t, d, authnSnapshot(builtinAuthn, ""))
	mustLookup(t, d.Users(tcpRef), "bob", nil)
	mustLookup(t, d.Users(gwRef), "alice", &alice)
	if n := queryInt(t, d, `SELECT count(*) FROM builtin_users`); n != 1 {
		t.Errorf("builtin_users has %d rows, want only alice's", n)
	}
	if err := d.Users(tcpRef).Add(ctx, bob); !errors.Is(err, ErrNotFound) {
		t.Errorf("Add to the removed authenticator = %v, want ErrNotFound", err)
	}

	// Adding the authenticator again gives a new, empty one.
	commit(t, d, authnSnapshot(builtinAuthn, builtinAuthn))
	if _, total, err := d.Users(tcpRef).List(ctx, UserQuery{}); err != nil || total != 0 {
		t.Errorf("re-added authenticator: %d users, %v; want none", total, err)
	}

	commit(t, d, gateway.Snapshot{})
	mustLookup(t, d.Users(gwRef), "alice", nil)
}

func TestUserStoreImport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		users  []builtin.User
		failed int
		want   ImportResult
		stored map[string]string // user_id → password hash, alice:old stored before
	}{
		{
			name:   "new users",
			users:  []builtin.User{testUser("bob", "b", false), testUser("carol", "c", true)},
			want:   ImportResult{Total: 2, Success: 2},
			stored: map[string]string{"alice": "old", "bob": "b", "carol": "c"},
		},
		{
			name:   "existing user overridden",
			users:  []builtin.User{testUser("alice", "new", true), testUser("bob", "b", false)},
			want:   ImportResult{Total: 2, Success: 2, Override: 1},
			stored: map[string]string{"alice": "new", "bob": "b"},
		},
		{
			name: "repeated user_id: the first wins",
			users: []builtin.User{testUser("bob", "b1", false), testUser("alice", "a1", false),
				testUser("bob", "b2", false), testUser("alice", "a2", false), testUser("bob", "b3", false)},
			want:   ImportResult{Total: 5, Success: 2, Override: 1, Skipped: 3},
			stored: map[string]string{"alice": "a1", "bob": "b1"},
		},
		{
			name:   "failed records counted",
			users:  []builtin.User{testUser("bob", "b", false)},
			failed: 3,
			want:   ImportResult{Total: 4, Success: 1, Failed: 3},
			stored: map[string]string{"alice": "old", "bob": "b"},
		},
		{
			name:   "nothing readable",
			failed: 2,
			want:   ImportResult{Total: 2, Failed: 2},
			stored: map[string]string{"alice": "old"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := usersDB(t)
			if err := d.Users(gwRef).Add(t.Context(), testUser("alice", "old", false)); err != nil {
				t.Fatal(err)
			}
			got, err := d.Users(gwRef).Import(t.Context(), tc.users, tc.failed)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			mustEqual(t, "import result", got, tc.want)
			mustEqual(t, "stored users", storedHashes(t, d.Users(gwRef)), tc.stored)
			if n := queryInt(t, d, `SELECT count(*) FROM builtin_users`); n != len(tc.stored) {
				t.Errorf("builtin_users has %d rows, want %d (another authenticator written?)", n, len(tc.stored))
			}
		})
	}
}

// An import that fails stores none of its users, those before the failing one included.
func TestUserStoreImportStoresNothingOnError(t *testing.T) {
	users := []builtin.User{testUser("bob", "b", false), testUser("alice", "new", true),
		testUser("boom", "x", false), testUser("carol", "c", false)}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		ref     gateway.AuthnRef
		wantErr string
		wantIs  error
	}{
		// A trigger stands in for an insert that fails midway (disk full, I/O error).
		{name: "insert fails midway", ctx: t.Context(), ref: gwRef, wantErr: "user boom: no boom"},
		{name: "context cancelled", ctx: cancelled, ref: gwRef, wantIs: context.Canceled},
		{name: "no authenticator", ctx: t.Context(), ref: gateway.AuthnRef{Gateway: "stomp", Listener: "udp:x"}, wantIs: ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := usersDB(t)
			if err := d.Users(gwRef).Add(t.Context(), testUser("alice", "old", false)); err != nil {
				t.Fatal(err)
			}
			if _, err := d.sql.ExecContext(t.Context(), `CREATE TRIGGER no_boom BEFORE INSERT ON builtin_users
				WHEN NEW.user_id = 'boom' BEGIN SELECT RAISE(ABORT, 'no boom'); END`); err != nil {
				t.Fatal(err)
			}
			res, err := d.Users(tc.ref).Import(tc.ctx, users, 1)
			if err == nil || tc.wantIs != nil && !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Import = %+v, %v; want an error (%v, containing %q)", res, err, tc.wantIs, tc.wantErr)
			}
			if res.Success != 0 || res.Override != 0 {
				t.Errorf("failed import reports stored users: %+v", res)
			}
			mustEqual(t, "stored users", storedHashes(t, d.Users(gwRef)), map[string]string{"alice": "old"})
		})
	}
}

// usersDB opens a database holding the stomp gateway with a built-in authenticator at
// gateway level and another on its tcp:default listener.
func usersDB(t *testing.T) *DB {
	t.Helper()
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	commit(t, d, authnSnapshot(builtinAuthn, builtinAuthn))
	return d
}

// authnSnapshot is the stomp gateway with the given gateway and tcp:default authentication
// ("" for none).
func authnSnapshot(gatewayAuthn, listenerAuthn string) gateway.Snapshot {
	g := gateway.DefaultConfig("stomp")
	g.Authentication = rawOrNil(gatewayAuthn)
	l := gateway.DefaultListener()
	l.Type, l.Bind = gateway.TCP, "61613"
	l.Authentication = rawOrNil(listenerAuthn)
	g.Listeners = []gateway.ListenerConfig{l}
	return gateway.Snapshot{Gateways: []gateway.Config{g}}
}

func testUser(id, hash string, superuser bool) builtin.User {
	return builtin.User{UserID: id, PasswordHash: hash, Salt: "salt-" + id, IsSuperuser: superuser}
}

// mustLookup checks that s holds want, or no user id when want is nil.
func mustLookup(t *testing.T, s UserStore, id string, want *builtin.User) {
	t.Helper()
	got, found, err := s.LookupUser(t.Context(), id)
	if err != nil {
		t.Fatalf("LookupUser(%s, %s): %v", s.ref, id, err)
	}
	if want == nil {
		if found {
			t.Fatalf("LookupUser(%s, %s) found %+v, want none", s.ref, id, got)
		}
		return
	}
	if !found {
		t.Fatalf("LookupUser(%s, %s): not found", s.ref, id)
	}
	mustEqual(t, "user "+id, got, *want)
}

// storedHashes lists every user of s as user_id → password hash.
func storedHashes(t *testing.T, s UserStore) map[string]string {
	t.Helper()
	users, _, err := s.List(t.Context(), UserQuery{Limit: 1000})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	m := map[string]string{}
	for _, u := range users {
		m[u.UserID] = u.PasswordHash
	}
	return m
}

func userIDs(users []builtin.User) []string {
	var ids []string
	for _, u := range users {
		ids = append(ids, u.UserID)
	}
	return ids
}
