package backend_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/authn/backend"
	"github.com/xgate/xgate/authn/builtin"
	"github.com/xgate/xgate/authn/password"
)

func TestNewAuthenticator(t *testing.T) {
	srv := newAuthServer(t)
	alice, err := builtin.NewUser(password.Default(), "alice", "wonderland", true)
	if err != nil {
		t.Fatal(err)
	}
	users := memStore{"alice": alice}

	for _, tc := range []struct {
		name    string
		raw     string
		wantErr string // "" for success
		wantNil bool
		check   func(t *testing.T, a authn.Authenticator)
	}{
		{
			name: "built-in database",
			raw:  `{"mechanism":"password_based","backend":"built_in_database"}`,
			check: func(t *testing.T, a authn.Authenticator) {
				mustAuthenticate(t, a, "alice", "wonderland", authn.Allow, true)
				mustAuthenticate(t, a, "alice", "wrong", authn.Deny, false)
				mustAuthenticate(t, a, "bob", "wonderland", authn.Ignore, false)
			},
		},
		{
			name: "built-in database by client id",
			raw:  `{"mechanism":"password_based","backend":"built_in_database","user_id_type":"clientid"}`,
			check: func(t *testing.T, a authn.Authenticator) {
				// mustAuthenticate sets the client id to "c-" + username.
				mustAuthenticate(t, a, "alice", "wonderland", authn.Ignore, false)
			},
		},
		{
			name: "http",
			raw:  `{"mechanism":"password_based","backend":"http","url":"` + srv.URL + `/auth"}`,
			check: func(t *testing.T, a authn.Authenticator) {
				mustAuthenticate(t, a, "anyone", "pw", authn.Allow, false)
				if got := srv.paths(); len(got) != 1 || got[0] != "/auth" {
					t.Errorf("server saw %q, want one request to /auth", got)
				}
			},
		},
		{name: "disabled built-in database", raw: `{"mechanism":"password_based","backend":"built_in_database","enable":false}`, wantNil: true},
		{name: "disabled http", raw: `{"mechanism":"password_based","backend":"http","enable":false,"url":"` + srv.URL + `"}`, wantNil: true},
		{name: "disabled but invalid", raw: `{"mechanism":"password_based","backend":"built_in_database","enable":false,"user_id_type":"email"}`, wantErr: "user_id_type"},
		{name: "disabled http without url", raw: `{"mechanism":"password_based","backend":"http","enable":false}`, wantErr: "url"},
		{name: "disabled unknown backend", raw: `{"mechanism":"password_based","backend":"ldap","enable":false}`, wantErr: "backend"},
		{name: "unknown mechanism", raw: `{"mechanism":"scram","backend":"built_in_database"}`, wantErr: "mechanism"},
		{name: "no mechanism", raw: `{"backend":"built_in_database"}`, wantErr: "mechanism"},
		{name: "unknown backend", raw: `{"mechanism":"password_based","backend":"ldap"}`, wantErr: `backend: "ldap"`},
		{name: "no backend", raw: `{"mechanism":"password_based"}`, wantErr: "backend"},
		{name: "unknown built-in field", raw: `{"mechanism":"password_based","backend":"built_in_database","colour":"red"}`, wantErr: "colour: unknown field"},
		{name: "unknown http field", raw: `{"mechanism":"password_based","backend":"http","url":"http://h/","colour":"red"}`, wantErr: "colour: unknown field"},
		{name: "not an object", raw: `["password_based"]`, wantErr: "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := backend.NewAuthenticator(json.RawMessage(tc.raw), users, discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewAuthenticator = %v, %v; want an error containing %q", a, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewAuthenticator: %v", err)
			}
			if (a == nil) != tc.wantNil {
				t.Fatalf("NewAuthenticator = %#v, want nil: %v", a, tc.wantNil)
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

func TestSources(t *testing.T) {
	srv := newAuthServer(t)
	httpSource := `{"type":"http","url":"` + srv.URL + `/authz"}`
	const (
		rulesSource   = `{"type":"rules","enable":true}`
		allowAlice    = `{"permission":"allow","who":{"username":"alice"},"action":"publish","topics":["t/#"]}`
		denyEveryone  = `{"permission":"deny","who":"all","action":"publish","topics":["t/#"]}`
		badPermission = `{"permission":"maybe","who":"all","action":"publish","topics":["t/#"]}`
	)
	for _, tc := range []struct {
		name      string
		sources   []string
		rules     []string
		wantNames []string
		wantErr   string
		check     func(t *testing.T, ss []authn.NamedSource)
	}{
		{
			name:      "rules in order",
			sources:   []string{rulesSource},
			rules:     []string{allowAlice, denyEveryone},
			wantNames: []string{"rules"},
			check: func(t *testing.T, ss []authn.NamedSource) {
				mustCheck(t, ss[0].Source, "alice", authn.Publish, authn.Allow, 0)
				mustCheck(t, ss[0].Source, "bob", authn.Publish, authn.Deny, 1)
				mustCheck(t, ss[0].Source, "bob", authn.Subscribe, authn.Ignore, -1)
			},
		},
		{
			name:      "rules in the other order",
			sources:   []string{`{"type":"rules"}`},
			rules:     []string{denyEveryone, allowAlice},
			wantNames: []string{"rules"},
			check: func(t *testing.T, ss []authn.NamedSource) {
				mustCheck(t, ss[0].Source, "alice", authn.Publish, authn.Deny, 0)
			},
		},
		{
			name:      "http then rules",
			sources:   []string{httpSource, rulesSource},
			wantNames: []string{"http", "rules"},
			check: func(t *testing.T, ss []authn.NamedSource) {
				mustCheck(t, ss[0].Source, "alice", authn.Publish, authn.Deny, -1) // the server says deny
				if got := srv.paths(); len(got) != 1 || got[0] != "/authz" {
					t.Errorf("server saw %q, want one request to /authz", got)
				}
			},
		},
		{name: "disabled rules left out", sources: []string{`{"type":"rules","enable":false}`, httpSource}, wantNames: []string{"http"}},
		{name: "disabled http left out", sources: []string{rulesSource, `{"type":"http","enable":false,"url":"http://h/"}`}, wantNames: []string{"rules"}},
		{name: "no sources", wantNames: nil},
		{name: "duplicate type", sources: []string{rulesSource, httpSource, `{"type":"rules"}`}, wantErr: `sources[2]: a "rules" source exists already`},
		{name: "unknown type", sources: []string{rulesSource, `{"type":"file"}`}, wantErr: `sources[1].type: "file"`},
		{name: "no type", sources: []string{`{"enable":true}`}, wantErr: "sources[0].type"},
		{name: "not an object", sources: []string{`"rules"`}, wantErr: "sources[0]: not a JSON object"},
		{name: "unknown rules field", sources: []string{`{"type":"rules","path":"acl.conf"}`}, wantErr: "sources[0]: unknown field path"},
		{name: "bad http source", sources: []string{rulesSource, `{"type":"http","url":"ftp://h/"}`}, wantErr: "sources[1]: url"},
		{name: "unknown http field", sources: []string{`{"type":"http","url":"http://h/","colour":"red"}`}, wantErr: "sources[0]: colour: unknown field"},
		{name: "bad rule names its position", sources: []string{rulesSource}, rules: []string{allowAlice, badPermission}, wantErr: "rules[1].permission"},
		// Checked even while disabled, so that enabling it later cannot fail.
		{name: "bad rule in a disabled source", sources: []string{`{"type":"rules","enable":false}`}, rules: []string{badPermission}, wantErr: "rules[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := backend.Sources(raws(tc.sources), raws(tc.rules), discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Sources = %v; want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sources: %v", err)
			}
			var names []string
			for _, s := range ss {
				names = append(names, s.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Fatalf("sources = %q, want %q", names, tc.wantNames)
			}
			if tc.check != nil {
				tc.check(t, ss)
			}
		})
	}
}

var discard = slog.New(slog.DiscardHandler)

// memStore is a builtin.UserStore in a map.
type memStore map[string]builtin.User

func (m memStore) LookupUser(_ context.Context, id string) (builtin.User, bool, error) {
	u, ok := m[id]
	return u, ok, nil
}

// authServer answers 204 (allow) to authentication at /auth and {"result":"deny"} to
// authorization at /authz, recording the paths asked.
type authServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newAuthServer(t *testing.T) *authServer {
	t.Helper()
	s := &authServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, r.URL.Path)
		s.mu.Unlock()
		switch r.URL.Path {
		case "/auth":
			w.WriteHeader(http.StatusNoContent)
		case "/authz":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"result":"deny"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// paths returns the paths asked so far and forgets them.
func (s *authServer) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.seen
	s.seen = nil
	return p
}

func mustAuthenticate(t *testing.T, a authn.Authenticator, username, pw string, want authn.Decision, wantSuperuser bool) {
	t.Helper()
	c := &authn.Client{ClientID: "c-" + username, Username: username, Password: []byte(pw)}
	got, err := a.Authenticate(t.Context(), c)
	if err != nil || got != want || c.IsSuperuser != wantSuperuser {
		t.Errorf("Authenticate(%s, %s) = %v, %v, superuser %v; want %v, superuser %v",
			username, pw, got, err, c.IsSuperuser, want, wantSuperuser)
	}
}

func mustCheck(t *testing.T, s authn.Source, username string, action authn.Action, want authn.Decision, wantIndex int) {
	t.Helper()
	c := &authn.Client{ClientID: "c-" + username, Username: username}
	got, index, err := s.Check(t.Context(), c, authn.Request{Action: action, Topic: "t/1"})
	if err != nil || got != want || index != wantIndex {
		t.Errorf("Check(%s, %v t/1) = %v, rule %d, %v; want %v, rule %d", username, action, got, index, err, want, wantIndex)
	}
}

func raws(ss []string) []json.RawMessage {
	var out []json.RawMessage
	for _, s := range ss {
		out = append(out, json.RawMessage(s))
	}
	return out
}
