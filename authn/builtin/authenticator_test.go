package builtin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/authn/password"
)

// memStore is a UserStore in a map. It records the ids looked up, and fails every
// lookup when err is set.
type memStore struct {
	users  map[string]User
	err    error
	lookup []string
}

func newMemStore(users ...User) *memStore {
	s := &memStore{users: map[string]User{}}
	for _, u := range users {
		s.users[u.UserID] = u
	}
	return s
}

func (s *memStore) LookupUser(_ context.Context, userID string) (User, bool, error) {
	s.lookup = append(s.lookup, userID)
	if s.err != nil {
		return User{}, false, s.err
	}
	u, ok := s.users[userID]
	return u, ok, nil
}

// mustUser makes a user with NewUser or fails the test.
func mustUser(t *testing.T, alg password.Algorithm, id, pw string, superuser bool) User {
	t.Helper()
	u, err := NewUser(alg, id, pw, superuser)
	if err != nil {
		t.Fatalf("NewUser(%q): %v", id, err)
	}
	return u
}

func TestAuthenticate(t *testing.T) {
	alg := password.Default()
	alice := mustUser(t, alg, "alice", "wonderland", false)
	root := mustUser(t, alg, "root", "toor", true)
	device := mustUser(t, alg, "dev-42", "device-secret", false)

	byUsername := DefaultConfig()
	byClientID := DefaultConfig()
	byClientID.UserIDType = UserIDClientID
	disabled := DefaultConfig()
	disabled.Enable = false

	tests := []struct {
		name          string
		cfg           Config
		client        authn.Client
		want          authn.Decision
		wantSuperuser bool
		wantLookup    string // "" when the store must not be asked
	}{
		{"right password", byUsername, authn.Client{Username: "alice", ClientID: "c1", Password: []byte("wonderland")}, authn.Allow, false, "alice"},
		{"superuser", byUsername, authn.Client{Username: "root", Password: []byte("toor")}, authn.Allow, true, "root"},
		{"wrong password", byUsername, authn.Client{Username: "alice", Password: []byte("Wonderland")}, authn.Deny, false, "alice"},
		{"no password", byUsername, authn.Client{Username: "alice"}, authn.Deny, false, "alice"},
		{"wrong password of a superuser", byUsername, authn.Client{Username: "root", Password: []byte("root")}, authn.Deny, false, "root"},
		{"unknown user", byUsername, authn.Client{Username: "bob", Password: []byte("wonderland")}, authn.Ignore, false, "bob"},
		{"no username", byUsername, authn.Client{ClientID: "alice", Password: []byte("wonderland")}, authn.Ignore, false, ""},
		{"by client id", byClientID, authn.Client{ClientID: "dev-42", Username: "alice", Password: []byte("device-secret")}, authn.Allow, false, "dev-42"},
		{"by client id, username ignored", byClientID, authn.Client{ClientID: "c1", Username: "alice", Password: []byte("wonderland")}, authn.Ignore, false, "c1"},
		{"by client id, wrong password", byClientID, authn.Client{ClientID: "dev-42", Password: []byte("x")}, authn.Deny, false, "dev-42"},
		{"by client id, no client id", byClientID, authn.Client{Username: "alice", Password: []byte("wonderland")}, authn.Ignore, false, ""},
		{"disabled", disabled, authn.Client{Username: "alice", Password: []byte("wonderland")}, authn.Ignore, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore(alice, root, device)
			c := tt.client
			got, err := New(tt.cfg, store).Authenticate(context.Background(), &c)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got != tt.want {
				t.Errorf("decision = %v, want %v", got, tt.want)
			}
			if c.IsSuperuser != tt.wantSuperuser {
				t.Errorf("IsSuperuser = %v, want %v", c.IsSuperuser, tt.wantSuperuser)
			}
			wantLookup := []string{tt.wantLookup}
			if tt.wantLookup == "" {
				wantLookup = nil
			}
			if strings.Join(store.lookup, ",") != strings.Join(wantLookup, ",") {
				t.Errorf("looked up %q, want %q", store.lookup, wantLookup)
			}
		})
	}
}

func TestAuthenticateEveryAlgorithm(t *testing.T) {
	algs := []password.Algorithm{
		{Name: password.Plain},
		{Name: password.MD5, SaltPosition: password.SaltSuffix},
		{Name: password.SHA, SaltPosition: password.SaltDisable},
		{Name: password.SHA512},
		{Name: password.Bcrypt, SaltRounds: 5},
		{Name: password.PBKDF2, MacFun: "sha256", Iterations: 100},
	}
	for _, alg := range algs {
		t.Run(alg.Name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.PasswordHashAlgorithm = alg
			a := New(cfg, newMemStore(mustUser(t, alg, "u", "p@ss", false)))
			for pw, want := range map[string]authn.Decision{"p@ss": authn.Allow, "p@sS": authn.Deny} {
				got, err := a.Authenticate(context.Background(), &authn.Client{Username: "u", Password: []byte(pw)})
				if err != nil || got != want {
					t.Errorf("password %q: %v, %v; want %v", pw, got, err, want)
				}
			}
		})
	}
}

// TestAuthenticateEMQXUser checks a user as EMQX's import_users stores it (the hash and
// salt of EMQX's documentation example are for a password we do not know, so this one
// comes from `printf '%s%s' <salt> public | openssl dgst -sha256`).
func TestAuthenticateEMQXUser(t *testing.T) {
	store := newMemStore(User{
		UserID:       "myuser",
		PasswordHash: "ce8dddab5e844adfe79bab41508ee1533e1463146b5d5cdd1a1889f1dbeb3535",
		Salt:         "44689fd99c299536b41ae44b6b032dad",
		IsSuperuser:  true,
	})
	c := authn.Client{Username: "myuser", Password: []byte("public")}
	got, err := New(DefaultConfig(), store).Authenticate(context.Background(), &c)
	if err != nil || got != authn.Allow || !c.IsSuperuser {
		t.Errorf("Authenticate = %v, %v, superuser %v; want allow, superuser", got, err, c.IsSuperuser)
	}
}

func TestAuthenticateStoreError(t *testing.T) {
	store := newMemStore()
	store.err = errors.New("database is locked")
	c := authn.Client{Username: "alice", Password: []byte("top-secret-password")}
	got, err := New(DefaultConfig(), store).Authenticate(context.Background(), &c)
	if !errors.Is(err, store.err) {
		t.Fatalf("error = %v, want it to wrap the store's", err)
	}
	if got == authn.Allow {
		t.Error("allowed despite the error")
	}
	if strings.Contains(err.Error(), "top-secret-password") {
		t.Errorf("the error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), `"alice"`) {
		t.Errorf("the error does not name the user: %v", err)
	}
}

func TestAuthenticateInAChain(t *testing.T) {
	alg := password.Default()
	first := New(DefaultConfig(), newMemStore(mustUser(t, alg, "alice", "a", false)))
	second := New(DefaultConfig(), newMemStore(mustUser(t, alg, "bob", "b", false)))
	chain := authn.Chain{first, second}
	tests := []struct {
		name, user, pw string
		wantErr        error
	}{
		{"first decides", "alice", "a", nil},
		{"unknown to the first, the second decides", "bob", "b", nil},
		{"the first denies", "alice", "b", authn.ErrNotAuthorized},
		{"nobody knows", "carol", "c", authn.ErrNotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := chain.Authenticate(context.Background(), &authn.Client{Username: tt.user, Password: []byte(tt.pw)})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("chain error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
