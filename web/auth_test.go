package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

func TestLoginAndTokenRequired(t *testing.T) {
	a := newTestAPI(t)
	status, body := a.doWith("POST", "/api/v5/login", `{"username":"admin","password":"nope"}`, "")
	a.wantError(status, body, 401, "BAD_USERNAME_OR_PWD")
	status, body = a.doWith("POST", "/api/v5/login", `{"username":"admin","password":"x","extra":1}`, "")
	a.wantError(status, body, 400, "BAD_REQUEST")
	status, body = a.doWith("GET", "/api/v5/gateways", "", "")
	a.wantError(status, body, 401, "BAD_TOKEN")
	status, body = a.doWith("GET", "/api/v5/gateways", "", "Bearer not-a-token")
	a.wantError(status, body, 401, "BAD_TOKEN")
	if status, _ := a.do("GET", "/api/v5/status", ""); status != 200 {
		t.Fatalf("status: %d", status)
	}
}

func TestTokenChecks(t *testing.T) {
	a := admLightAPI(t, testAdminPassword)
	admin, _, err := a.store.Admin(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	sign := func(key []byte, user, epoch string, exp time.Time) string {
		claims := admClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: tokenIssuer, Subject: user, ID: "t-" + user,
			ExpiresAt: jwt.NewNumericDate(exp)}, Role: "administrator", Epoch: epoch}
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + token
	}
	otherKey := []byte("not the server's key, 32 bytes..")
	soon, past := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name, authorization string
		wantCode            string // "" means admitted
	}{
		{name: "valid", authorization: sign(a.srv.key, "admin", admin.TokenEpoch, soon)},
		{name: "no header", authorization: "", wantCode: "BAD_TOKEN"},
		{name: "other scheme", authorization: "Token abc", wantCode: "BAD_TOKEN"},
		{name: "not a JWT", authorization: "Bearer not-a-token", wantCode: "BAD_TOKEN"},
		{name: "expired", authorization: sign(a.srv.key, "admin", admin.TokenEpoch, past), wantCode: "TOKEN_TIME_OUT"},
		{name: "another key", authorization: sign(otherKey, "admin", admin.TokenEpoch, soon), wantCode: "BAD_TOKEN"},
		{name: "another key, expired", authorization: sign(otherKey, "admin", admin.TokenEpoch, past), wantCode: "BAD_TOKEN"},
		{name: "no epoch", authorization: sign(a.srv.key, "admin", "", soon), wantCode: "BAD_TOKEN"},
		{name: "old epoch", authorization: sign(a.srv.key, "admin", "0123456789abcdef", soon), wantCode: "BAD_TOKEN"},
		{name: "unknown user", authorization: sign(a.srv.key, "ghost", admin.TokenEpoch, soon), wantCode: "BAD_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.doWith("GET", "/api/v5/users", "", tc.authorization)
			if tc.wantCode == "" && status != 200 {
				t.Fatalf("refused: %d %s", status, body)
			}
			if tc.wantCode != "" {
				a.wantError(status, body, 401, tc.wantCode)
			}
		})
	}
}

// admClock is a settable clock for the lockout and the API key cache.
type admClock struct{ ns atomic.Int64 }

func (c *admClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *admClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newAdmClock(s *Server) *admClock {
	c := &admClock{}
	c.ns.Store(time.Now().UnixNano())
	s.adm.now = c.now
	return c
}
func admBasic(key, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))
}
func admLoginBody(user, password string) string {
	return fmt.Sprintf(`{"username":%q,"password":%q}`, user, password)
}

// admLightAPI is the HTTP app over a fresh database only, logged in as admin: enough for
// logins, dashboard users and API keys, which touch no gateway.
func admLightAPI(t *testing.T, adminPassword string) *testAPI {
	t.Helper()
	srv, store := admLightServer(t, adminPassword)
	srv.adm.hashCost = bcrypt.MinCost
	a := &testAPI{t: t, srv: srv, store: store}
	pw := adminPassword
	if pw == "" {
		pw = defaultPassword
	}
	a.token = a.admLogin("admin", pw)
	return a
}

func admLightServer(t testing.TB, adminPassword string) (*Server, *db.DB) {
	t.Helper()
	store, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "xgate.db"), gatewaytest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv, err := New(context.Background(), Deps{Log: gatewaytest.Logger(t), Node: "xgate@test", Version: "test",
		Store: store, AdminPassword: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	return srv, store
}

// admLogin logs in and returns the token.
func (a *testAPI) admLogin(user, password string) string {
	a.t.Helper()
	status, body := a.doWith("POST", "/api/v5/login", admLoginBody(user, password), "")
	if status != 200 {
		a.t.Fatalf("login %s: %d %s", user, status, body)
	}
	var login struct{ Token string }
	if err := json.Unmarshal(body, &login); err != nil || login.Token == "" {
		a.t.Fatalf("login %s: %s", user, body)
	}
	return login.Token
}

// admAddUser creates a dashboard user through the API.
func (a *testAPI) admAddUser(user, password string) {
	a.t.Helper()
	if status, body := a.do("POST", "/api/v5/users", fmt.Sprintf(`{"username":%q,"password":%q}`, user, password)); status != 200 {
		a.t.Fatalf("add user %s: %d %s", user, status, body)
	}
}

func TestLoginLockout(t *testing.T) {
	a := admLightAPI(t, testAdminPassword)
	clock := newAdmClock(a.srv)
	const pw = "right-pass1"
	type step struct {
		advance    time.Duration
		password   string // "" means the right one
		times      int    // 0 means once
		wantStatus int
		wantCode   string // "" for a successful login
	}
	wrong := func(n int) step {
		return step{password: "wrong-pass1", times: n, wantStatus: 401, wantCode: "BAD_USERNAME_OR_PWD"}
	}
	ok := step{wantStatus: 200}
	locked := step{wantStatus: 401, wantCode: "LOGIN_LOCKED"}
	for i, tc := range []struct {
		name  string
		steps []step
	}{
		{name: "five failures lock even the right password until the lock passes", steps: []step{
			wrong(5), locked, {advance: admLockFor - time.Second, wantStatus: 401, wantCode: "LOGIN_LOCKED"},
			{advance: time.Second, wantStatus: 200}, wrong(4), ok}},
		{name: "a success resets the count", steps: []step{wrong(4), ok, wrong(4), ok}},
		{name: "failures older than the window do not count", steps: []step{
			wrong(4), {advance: admFailWindow, password: "wrong-pass1", wantStatus: 401, wantCode: "BAD_USERNAME_OR_PWD"}, wrong(3), ok}},
		{name: "locked while locked: wrong passwords say locked too", steps: []step{
			wrong(5), {password: "wrong-pass1", wantStatus: 401, wantCode: "LOGIN_LOCKED"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := fmt.Sprintf("lockuser%d", i)
			a.admAddUser(user, pw)
			for j, st := range tc.steps {
				clock.advance(st.advance)
				for range max(st.times, 1) {
					password := st.password
					if password == "" {
						password = pw
					}
					status, body := a.doWith("POST", "/api/v5/login", admLoginBody(user, password), "")
					if st.wantCode == "" && status != st.wantStatus {
						t.Fatalf("step %d: %d %s, want %d", j, status, body, st.wantStatus)
					}
					if st.wantCode != "" {
						a.wantError(status, body, st.wantStatus, st.wantCode)
					}
				}
			}
		})
	}

	t.Run("unknown usernames lock too", func(t *testing.T) {
		for range admMaxFailures {
			status, body := a.doWith("POST", "/api/v5/login", admLoginBody("ghost", "x"), "")
			a.wantError(status, body, 401, "BAD_USERNAME_OR_PWD")
		}
		status, body := a.doWith("POST", "/api/v5/login", admLoginBody("ghost", "x"), "")
		a.wantError(status, body, 401, "LOGIN_LOCKED")
	})
}

func TestLoginGuardBounded(t *testing.T) {
	var g admLoginGuard
	now := time.Unix(1_700_000_000, 0)
	for i := range admMaxTracked {
		g.failed(fmt.Sprintf("random%d", i), false, now)
	}
	if n := len(g.entries); n != admMaxTracked {
		t.Fatalf("tracked %d, want %d", n, admMaxTracked)
	}
	g.failed("one-too-many", false, now)
	if _, ok := g.entries["one-too-many"]; ok || len(g.entries) != admMaxTracked {
		t.Fatalf("an unknown name was tracked beyond the cap (%d entries)", len(g.entries))
	}
	for range admMaxFailures {
		g.failed("admin", true, now)
	}
	if !g.locked("admin", now) {
		t.Fatal("an admin was not tracked while the table was full")
	}
	later := now.Add(admFailWindow)
	g.failed("newcomer", false, later)
	if len(g.entries) != 2 || !g.locked("admin", later) {
		t.Fatalf("after the window: %d entries, admin locked=%v; want the stale ones gone and the lock kept",
			len(g.entries), g.locked("admin", later))
	}
	g.reset("admin")
	if g.locked("admin", later) {
		t.Fatal("reset did not unlock")
	}
}

func TestLogout(t *testing.T) {
	a := admLightAPI(t, testAdminPassword)
	other := "Bearer " + a.admLogin("admin", testAdminPassword)

	status, body := a.doWith("POST", "/api/v5/logout", "", "")
	a.wantError(status, body, 401, "BAD_TOKEN")
	status, body = a.do("POST", "/api/v5/logout", `{"username":"admin","extra":1}`)
	a.wantError(status, body, 400, "BAD_REQUEST")
	status, body = a.do("POST", "/api/v5/logout", `{"username":"someone"}`)
	a.wantError(status, body, 401, "WRONG_TOKEN_OR_USERNAME")

	for _, tc := range []struct{ name, body string }{
		{name: "with the username", body: `{"username":"admin"}`},
		{name: "without a body", body: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.token = a.admLogin("admin", testAdminPassword)
			if status, body := a.do("POST", "/api/v5/logout", tc.body); status != 204 {
				t.Fatalf("logout: %d %s", status, body)
			}
			status, body := a.do("GET", "/api/v5/users", "")
			a.wantError(status, body, 401, "BAD_TOKEN")
			status, body = a.do("POST", "/api/v5/logout", tc.body)
			a.wantError(status, body, 401, "BAD_TOKEN")
		})
	}
	if status, body := a.doWith("GET", "/api/v5/users", "", other); status != 200 {
		t.Fatalf("another token of the same user stopped working: %d %s", status, body)
	}
}

// TestTokensEndWithTheUser checks that a user's tokens stop working when the password
// changes or the user is deleted, as EMQX destroys them then.
func TestTokensEndWithTheUser(t *testing.T) {
	a := admLightAPI(t, testAdminPassword)
	a.admAddUser("alice", "alice-pass1")
	alice := "Bearer " + a.admLogin("alice", "alice-pass1")
	if status, body := a.doWith("PUT", "/api/v5/users/alice", `{"description":"ops"}`, alice); status != 200 {
		t.Fatalf("a description change: %d %s", status, body)
	}
	if status, body := a.doWith("POST", "/api/v5/users/alice/change_pwd", `{"old_pwd":"alice-pass1","new_pwd":"alice-pass2"}`, alice); status != 204 {
		t.Fatalf("change_pwd: %d %s", status, body)
	}
	status, body := a.doWith("GET", "/api/v5/users", "", alice)
	a.wantError(status, body, 401, "BAD_TOKEN")

	alice = "Bearer " + a.admLogin("alice", "alice-pass2")
	if status, body := a.do("DELETE", "/api/v5/users/alice", ""); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, body = a.doWith("GET", "/api/v5/users", "", alice)
	a.wantError(status, body, 401, "BAD_TOKEN")
	a.admAddUser("alice", "alice-pass2") // the same name again does not revive old tokens
	status, body = a.doWith("GET", "/api/v5/users", "", alice)
	a.wantError(status, body, 401, "BAD_TOKEN")
}

func TestDefaultPasswordFlag(t *testing.T) {
	loginFlag := func(a *testAPI, password string) bool {
		t.Helper()
		status, body := a.doWith("POST", "/api/v5/login", admLoginBody("admin", password), "")
		if status != 200 {
			t.Fatalf("login: %d %s", status, body)
		}
		var resp map[string]any
		json.Unmarshal(body, &resp)
		flag, present := resp["default_password"]
		if present && flag != true {
			t.Fatalf("default_password = %v; it is only sent when true", flag)
		}
		return present
	}
	listFlag := func(a *testAPI) bool {
		t.Helper()
		status, body := a.do("GET", "/api/v5/users", "")
		if status != 200 {
			t.Fatalf("users: %d %s", status, body)
		}
		var users []admUserView
		json.Unmarshal(body, &users)
		for _, u := range users {
			if u.Username == defaultAdmin {
				return u.DefaultPassword
			}
		}
		t.Fatalf("no admin in %s", body)
		return false
	}

	t.Run("set password", func(t *testing.T) {
		a := admLightAPI(t, testAdminPassword)
		if a.srv.defaultPasswordInUse() || loginFlag(a, testAdminPassword) || listFlag(a) {
			t.Fatal("flag set although XGATE_ADMIN_PASSWORD was given")
		}
	})
	t.Run("default password until changed, also after a restart", func(t *testing.T) {
		a := admLightAPI(t, "")
		if !a.srv.defaultPasswordInUse() || !loginFlag(a, defaultPassword) || !listFlag(a) {
			t.Fatal("flag not set with the default password")
		}
		restarted, err := New(context.Background(), a.srv.deps)
		if err != nil {
			t.Fatal(err)
		}
		if !restarted.defaultPasswordInUse() {
			t.Fatal("flag not computed at New from the stored admin")
		}
		a.admAddUser("other", "other-pass1")
		if status, body := a.do("POST", "/api/v5/users/other/change_pwd", `{"old_pwd":"other-pass1","new_pwd":"other-pass2"}`); status != 204 {
			t.Fatalf("change_pwd other: %d %s", status, body)
		}
		if !a.srv.defaultPasswordInUse() {
			t.Fatal("another user's password change cleared the flag")
		}
		if status, body := a.do("POST", "/api/v5/users/admin/change_pwd", `{"old_pwd":"public","new_pwd":"better-pass1"}`); status != 204 {
			t.Fatalf("change_pwd admin: %d %s", status, body)
		}
		a.token = a.admLogin("admin", "better-pass1")
		if a.srv.defaultPasswordInUse() || loginFlag(a, "better-pass1") || listFlag(a) {
			t.Fatal("flag still set after the password change")
		}
		restarted, err = New(context.Background(), a.srv.deps)
		if err != nil {
			t.Fatal(err)
		}
		if restarted.defaultPasswordInUse() {
			t.Fatal("flag set at New although the password was changed")
		}
	})
}
