package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/xgate/xgate/db"
)

func TestAdminRoutesRequireAuth(t *testing.T) {
	a := admLightAPI(t, testAdminPassword)
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v5/logout"},
		{"GET", "/api/v5/users"},
		{"POST", "/api/v5/users"},
		{"PUT", "/api/v5/users/admin"},
		{"DELETE", "/api/v5/users/admin"},
		{"POST", "/api/v5/users/admin/change_pwd"},
		{"GET", "/api/v5/api_key"},
		{"POST", "/api/v5/api_key"},
		{"GET", "/api/v5/api_key/k"},
		{"PUT", "/api/v5/api_key/k"},
		{"DELETE", "/api/v5/api_key/k"},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			status, body := a.doWith(r.method, r.path, `{}`, "")
			a.wantError(status, body, 401, "BAD_TOKEN")
			status, body = a.doWith(r.method, r.path, `{}`, "Bearer nonsense")
			a.wantError(status, body, 401, "BAD_TOKEN")
		})
	}
}

func admDecode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// admErrorCase is a request and the error it must get; wantInMessage, when set, must be
// part of the message (the field the error is about).
type admErrorCase struct {
	name, method, path, body string
	wantStatus               int
	wantCode, wantInMessage  string
}

func (a *testAPI) admWantErrors(cases []admErrorCase) {
	a.t.Helper()
	for _, tc := range cases {
		a.t.Run(tc.name, func(t *testing.T) {
			status, body := a.do(tc.method, tc.path, tc.body)
			a.wantError(status, body, tc.wantStatus, tc.wantCode)
			if e := admDecode[APIError](t, body); !strings.Contains(e.Message, tc.wantInMessage) {
				t.Errorf("message %q does not mention %q", e.Message, tc.wantInMessage)
			}
		})
	}
}

func TestUsersAPI(t *testing.T) {
	a := admLightAPI(t, testAdminPassword)

	status, body := a.do("POST", "/api/v5/users", `{"username":"alice","password":"alice-pass1","description":"ops"}`)
	if status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	want := admUserView{Username: "alice", Role: "administrator", Description: "ops", Backend: "local"}
	if got := admDecode[admUserView](t, body); got != want {
		t.Fatalf("create answered %+v, want %+v", got, want)
	}
	if strings.Contains(string(body), "alice-pass1") || strings.Contains(string(body), "password") {
		t.Fatalf("the answer shows the password: %s", body)
	}
	status, body = a.do("GET", "/api/v5/users", "")
	if status != 200 {
		t.Fatalf("list: %d %s", status, body)
	}
	list := admDecode[[]admUserView](t, body)
	if len(list) != 2 || list[0].Username != "admin" || list[1] != want {
		t.Fatalf("list = %+v", list)
	}

	status, body = a.do("PUT", "/api/v5/users/alice", `{"description":"night shift"}`)
	if got := admDecode[admUserView](t, body); status != 200 || got.Description != "night shift" || got.Role != "administrator" {
		t.Fatalf("update: %d %s", status, body)
	}
	if status, body := a.do("PUT", "/api/v5/users/alice", `{"role":"administrator"}`); status != 200 ||
		admDecode[admUserView](t, body).Description != "night shift" {
		t.Fatalf("update of the role only changed the description: %d %s", status, body)
	}

	a.admWantErrors([]admErrorCase{
		{"duplicate", "POST", "/api/v5/users", `{"username":"alice","password":"other-pass1"}`, 409, "ALREADY_EXISTS", "alice"},
		{"unknown field", "POST", "/api/v5/users", `{"username":"bob","password":"bob-pass11","admin":true}`, 400, "BAD_REQUEST", `"admin"`},
		{"wrong type", "POST", "/api/v5/users", `{"username":"bob","password":12345678}`, 400, "BAD_REQUEST", "password"},
		{"no username", "POST", "/api/v5/users", `{"password":"bob-pass11"}`, 400, "BAD_REQUEST", "username"},
		{"bad username", "POST", "/api/v5/users", `{"username":"bob smith","password":"bob-pass11"}`, 400, "BAD_REQUEST", "username"},
		{"username starting with _", "POST", "/api/v5/users", `{"username":"_bob","password":"bob-pass11"}`, 400, "BAD_REQUEST", "username"},
		{"long username", "POST", "/api/v5/users", `{"username":"` + strings.Repeat("b", 101) + `","password":"bob-pass11"}`, 400, "BAD_REQUEST", "username"},
		{"no password", "POST", "/api/v5/users", `{"username":"bob"}`, 400, "BAD_REQUEST", "password"},
		{"short password", "POST", "/api/v5/users", `{"username":"bob","password":"ab-12"}`, 400, "BAD_REQUEST", "password"},
		{"long password", "POST", "/api/v5/users", `{"username":"bob","password":"` + strings.Repeat("a1", 33) + `"}`, 400, "BAD_REQUEST", "password"},
		{"letters only", "POST", "/api/v5/users", `{"username":"bob","password":"abcdefghij"}`, 400, "BAD_REQUEST", "password"},
		{"digits only", "POST", "/api/v5/users", `{"username":"bob","password":"1234567890"}`, 400, "BAD_REQUEST", "password"},
		{"not ASCII", "POST", "/api/v5/users", `{"username":"bob","password":"pässwört12"}`, 400, "BAD_REQUEST", "password"},
		{"unsupported role", "POST", "/api/v5/users", `{"username":"bob","password":"bob-pass11","role":"viewer"}`, 400, "BAD_REQUEST", "role"},
		{"update missing", "PUT", "/api/v5/users/nobody", `{"description":"x"}`, 404, "USER_NOT_FOUND", "nobody"},
		{"update unknown field", "PUT", "/api/v5/users/alice", `{"password":"x"}`, 400, "BAD_REQUEST", `"password"`},
		{"update unsupported role", "PUT", "/api/v5/users/alice", `{"role":"viewer"}`, 400, "BAD_REQUEST", "role"},
		{"change_pwd wrong old", "POST", "/api/v5/users/alice/change_pwd", `{"old_pwd":"wrong-pass1","new_pwd":"alice-pass2"}`, 400, "ERROR_PWD_NOT_MATCH", "old_pwd"},
		{"change_pwd weak new", "POST", "/api/v5/users/alice/change_pwd", `{"old_pwd":"alice-pass1","new_pwd":"short"}`, 400, "BAD_REQUEST", "new_pwd"},
		{"change_pwd empty", "POST", "/api/v5/users/alice/change_pwd", `{"old_pwd":"alice-pass1"}`, 400, "BAD_REQUEST", "new_pwd"},
		{"change_pwd unknown field", "POST", "/api/v5/users/alice/change_pwd", `{"old_pwd":"a","new_pwd":"b","mfa":1}`, 400, "BAD_REQUEST", `"mfa"`},
		{"change_pwd missing user", "POST", "/api/v5/users/nobody/change_pwd", `{"old_pwd":"alice-pass1","new_pwd":"alice-pass2"}`, 404, "USER_NOT_FOUND", "nobody"},
		{"delete self", "DELETE", "/api/v5/users/admin", "", 400, "NOT_ALLOWED", "self"},
		{"delete missing", "DELETE", "/api/v5/users/nobody", "", 404, "USER_NOT_FOUND", "nobody"},
	})

	status, body = a.do("POST", "/api/v5/users/alice/change_pwd", `{"old_pwd":"alice-pass1","new_pwd":"alice-pass2"}`)
	if status != 204 {
		t.Fatalf("change_pwd: %d %s", status, body)
	}
	status, body = a.doWith("POST", "/api/v5/login", admLoginBody("alice", "alice-pass1"), "")
	a.wantError(status, body, 401, "BAD_USERNAME_OR_PWD")
	a.admLogin("alice", "alice-pass2")

	if status, body := a.do("DELETE", "/api/v5/users/alice", ""); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, body = a.doWith("POST", "/api/v5/login", admLoginBody("alice", "alice-pass2"), "")
	a.wantError(status, body, 401, "BAD_USERNAME_OR_PWD")
	if list := admDecode[[]admUserView](t, mustOK(t, a, "GET", "/api/v5/users")); len(list) != 1 {
		t.Fatalf("after delete: %+v", list)
	}
}

func mustOK(t *testing.T, a *testAPI, method, path string) []byte {
	t.Helper()
	status, body := a.do(method, path, "")
	if status != 200 {
		t.Fatalf("%s %s: %d %s", method, path, status, body)
	}
	return body
}

func TestAPIKeysAPI(t *testing.T) {
	a := admLightAPI(t, testAdminPassword)
	clock := newAdmClock(a.srv)

	status, body := a.do("POST", "/api/v5/api_key", `{"name":"ci-1","desc":"pipeline","expired_at":"2099-01-02T03:04:05Z"}`)
	if status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	created := admDecode[admKeyView](t, body)
	if created.Name != "ci-1" || len(created.APIKey) != 16 || len(created.APISecret) < 40 || !created.Enable ||
		created.Expired || created.ExpiredAt != "2099-01-02T03:04:05Z" || created.Desc != "pipeline" || created.Role != "administrator" {
		t.Fatalf("create answered %+v", created)
	}
	if _, err := time.Parse(time.RFC3339, created.CreatedAt); err != nil {
		t.Fatalf("created_at %q: %v", created.CreatedAt, err)
	}
	stored, _, _ := a.store.APIKeyByName(context.Background(), "ci-1")
	if stored.SecretHash == created.APISecret || bcrypt.CompareHashAndPassword([]byte(stored.SecretHash), []byte(created.APISecret)) != nil {
		t.Fatal("the stored secret is not a bcrypt hash of the secret")
	}

	for _, tc := range []struct{ name, path string }{{"list", "/api/v5/api_key"}, {"one", "/api/v5/api_key/ci-1"}} {
		t.Run("never shows the secret: "+tc.name, func(t *testing.T) {
			body := mustOK(t, a, "GET", tc.path)
			if strings.Contains(string(body), "api_secret") || strings.Contains(string(body), created.APISecret) {
				t.Fatalf("%s shows the secret: %s", tc.path, body)
			}
		})
	}
	want := created
	want.APISecret = ""
	if got := admDecode[[]admKeyView](t, mustOK(t, a, "GET", "/api/v5/api_key")); len(got) != 1 || got[0] != want {
		t.Fatalf("list = %+v, want [%+v]", got, want)
	}
	if got := admDecode[admKeyView](t, mustOK(t, a, "GET", "/api/v5/api_key/ci-1")); got != want {
		t.Fatalf("get = %+v, want %+v", got, want)
	}

	for _, tc := range []struct{ name, body, wantExpiredAt string }{
		{name: "defaults", body: `{"name":"plain"}`, wantExpiredAt: "infinity"},
		{name: "infinity", body: `{"name":"inf","expired_at":"infinity","enable":false}`, wantExpiredAt: "infinity"},
		{name: "unix seconds", body: `{"name":"secs","expired_at":4102444800}`, wantExpiredAt: "2100-01-01T00:00:00Z"},
		{name: "offset time", body: `{"name":"offset","expired_at":"2100-01-01T02:00:00+02:00"}`, wantExpiredAt: "2100-01-01T00:00:00Z"},
		{name: "role administrator", body: `{"name":"role","role":"administrator"}`, wantExpiredAt: "infinity"},
	} {
		t.Run("create "+tc.name, func(t *testing.T) {
			status, body := a.do("POST", "/api/v5/api_key", tc.body)
			if got := admDecode[admKeyView](t, body); status != 200 || got.ExpiredAt != tc.wantExpiredAt {
				t.Fatalf("%d %s, want expired_at %s", status, body, tc.wantExpiredAt)
			}
		})
	}

	past := clock.now().Add(-time.Minute).UTC().Format(time.RFC3339)
	a.admWantErrors([]admErrorCase{
		{"duplicate", "POST", "/api/v5/api_key", `{"name":"ci-1"}`, 409, "ALREADY_EXISTS", "ci-1"},
		{"no name", "POST", "/api/v5/api_key", `{"desc":"x"}`, 400, "BAD_REQUEST", "name"},
		{"bad name", "POST", "/api/v5/api_key", `{"name":"1abc"}`, 400, "BAD_REQUEST", "name"},
		{"long name", "POST", "/api/v5/api_key", `{"name":"` + strings.Repeat("k", 257) + `"}`, 400, "BAD_REQUEST", "name"},
		{"unknown field", "POST", "/api/v5/api_key", `{"name":"x","api_secret":"mine"}`, 400, "BAD_REQUEST", `"api_secret"`},
		{"expiry in the past", "POST", "/api/v5/api_key", `{"name":"x","expired_at":"` + past + `"}`, 400, "BAD_REQUEST", "expired_at"},
		{"expiry not a time", "POST", "/api/v5/api_key", `{"name":"x","expired_at":"tomorrow"}`, 400, "BAD_REQUEST", "expired_at"},
		{"expiry wrong type", "POST", "/api/v5/api_key", `{"name":"x","expired_at":true}`, 400, "BAD_REQUEST", "expired_at"},
		{"enable wrong type", "POST", "/api/v5/api_key", `{"name":"x","enable":"yes"}`, 400, "BAD_REQUEST", "enable"},
		{"unsupported role", "POST", "/api/v5/api_key", `{"name":"x","role":"viewer"}`, 400, "BAD_REQUEST", "role"},
		{"get missing", "GET", "/api/v5/api_key/nope", "", 404, "NOT_FOUND", "nope"},
		{"update missing", "PUT", "/api/v5/api_key/nope", `{"enable":false}`, 404, "NOT_FOUND", "nope"},
		{"update name", "PUT", "/api/v5/api_key/ci-1", `{"name":"other"}`, 400, "BAD_REQUEST", `"name"`},
		{"update expiry in the past", "PUT", "/api/v5/api_key/ci-1", `{"expired_at":"` + past + `"}`, 400, "BAD_REQUEST", "expired_at"},
		{"delete missing", "DELETE", "/api/v5/api_key/nope", "", 404, "NOT_FOUND", "nope"},
	})

	status, body = a.do("PUT", "/api/v5/api_key/ci-1", `{"desc":"paused","enable":false}`)
	updated := admDecode[admKeyView](t, body)
	if status != 200 || updated.Desc != "paused" || updated.Enable || updated.ExpiredAt != created.ExpiredAt || updated.APIKey != created.APIKey || updated.APISecret != "" {
		t.Fatalf("update: %d %s", status, body)
	}
	status, body = a.do("PUT", "/api/v5/api_key/ci-1", `{"expired_at":"infinity"}`)
	if updated := admDecode[admKeyView](t, body); status != 200 || updated.ExpiredAt != "infinity" || updated.Desc != "paused" {
		t.Fatalf("update expiry: %d %s", status, body)
	}

	if status, body := a.do("DELETE", "/api/v5/api_key/ci-1", ""); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, body = a.do("GET", "/api/v5/api_key/ci-1", "")
	a.wantError(status, body, 404, "NOT_FOUND")
}

// admCreateKey makes an API key through the API and returns its Basic authorization.
func (a *testAPI) admCreateKey(name, extra string) string {
	a.t.Helper()
	status, body := a.do("POST", "/api/v5/api_key", `{"name":"`+name+`"`+extra+`}`)
	if status != 200 {
		a.t.Fatalf("create key %s: %d %s", name, status, body)
	}
	var k admKeyView
	json.Unmarshal(body, &k)
	return admBasic(k.APIKey, k.APISecret)
}

// admWantKeyWorks checks that authorization passes requireAuth: any answer but a 401 (the
// route behind may not exist yet).
func (a *testAPI) admWantKeyWorks(authorization string) {
	a.t.Helper()
	if status, body := a.doWith("GET", "/api/v5/gateways", "", authorization); status == 401 {
		a.t.Fatalf("API key refused: %s", body)
	}
}

func TestAPIKeyBasicAuth(t *testing.T) {
	a := newTestAPI(t) // with gateways: API keys are for routes other than this file's
	a.srv.adm.hashCost = bcrypt.MinCost
	clock := newAdmClock(a.srv)
	basic := a.admCreateKey("script", "")
	key, secret, _ := strings.Cut(admDecodeBasic(t, basic), ":")

	a.admWantKeyWorks(basic)
	a.admWantKeyWorks(basic) // from the cache
	a.admWantKeyWorks("basic " + strings.TrimPrefix(basic, "Basic "))

	for _, tc := range []struct{ name, authorization, path, wantCode string }{
		{name: "wrong secret", authorization: admBasic(key, secret+"x"), path: "/api/v5/gateways", wantCode: "BAD_API_KEY_OR_SECRET"},
		{name: "unknown key", authorization: admBasic("0123456789abcdef", secret), path: "/api/v5/gateways", wantCode: "BAD_API_KEY_OR_SECRET"},
		{name: "no secret", authorization: admBasic(key, ""), path: "/api/v5/gateways", wantCode: "BAD_API_KEY_OR_SECRET"},
		{name: "not base64", authorization: "Basic %%%", path: "/api/v5/gateways", wantCode: "BAD_API_KEY_OR_SECRET"},
		{name: "no colon", authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(key)), path: "/api/v5/gateways", wantCode: "BAD_API_KEY_OR_SECRET"},
		{name: "users are bearer-only", authorization: basic, path: "/api/v5/users", wantCode: "API_KEY_NOT_ALLOW"},
		{name: "api keys are bearer-only", authorization: basic, path: "/api/v5/api_key", wantCode: "API_KEY_NOT_ALLOW"},
		{name: "any case", authorization: basic, path: "/api/v5/API_KEY/", wantCode: "API_KEY_NOT_ALLOW"},
		{name: "logout is bearer-only", authorization: basic, path: "/api/v5/logout", wantCode: "API_KEY_NOT_ALLOW"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.doWith("GET", tc.path, "", tc.authorization)
			a.wantError(status, body, 401, tc.wantCode)
		})
	}
	a.admWantKeyWorks(basic) // failures did not spoil the cache

	t.Run("disabled at once, enabled again", func(t *testing.T) {
		a.do("PUT", "/api/v5/api_key/script", `{"enable":false}`)
		status, body := a.doWith("GET", "/api/v5/gateways", "", basic)
		a.wantError(status, body, 401, "BAD_API_KEY_OR_SECRET")
		a.do("PUT", "/api/v5/api_key/script", `{"enable":true}`)
		a.admWantKeyWorks(basic)
	})
	t.Run("expired", func(t *testing.T) {
		expiring := a.admCreateKey("expiring", `,"expired_at":"`+clock.now().Add(time.Hour).UTC().Format(time.RFC3339)+`"`)
		a.admWantKeyWorks(expiring)
		clock.advance(time.Hour)
		status, body := a.doWith("GET", "/api/v5/gateways", "", expiring)
		a.wantError(status, body, 401, "BAD_API_KEY_OR_SECRET")
		if k := admDecode[admKeyView](t, mustOK(t, a, "GET", "/api/v5/api_key/expiring")); !k.Expired {
			t.Errorf("GET does not say expired: %+v", k)
		}
	})
	t.Run("deleted at once", func(t *testing.T) {
		a.admWantKeyWorks(basic)
		a.do("DELETE", "/api/v5/api_key/script", "")
		status, body := a.doWith("GET", "/api/v5/gateways", "", basic)
		a.wantError(status, body, 401, "BAD_API_KEY_OR_SECRET")
		recreated := a.admCreateKey("script", "") // a new key and secret under the old name
		status, body = a.doWith("GET", "/api/v5/gateways", "", basic)
		a.wantError(status, body, 401, "BAD_API_KEY_OR_SECRET")
		a.admWantKeyWorks(recreated)
	})
}

func admDecodeBasic(t *testing.T, authorization string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(authorization, "Basic "))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestKeyCacheBounded(t *testing.T) {
	var c admKeyCache
	now := time.Unix(1_700_000_000, 0)
	digest := [32]byte{1}
	for i := range admKeyCacheMax + 10 {
		c.remember(fmt.Sprintf("k%d", i), "hash", digest, now)
	}
	if n := len(c.entries); n != admKeyCacheMax {
		t.Fatalf("cache holds %d entries, want %d", n, admKeyCacheMax)
	}
	last := fmt.Sprintf("k%d", admKeyCacheMax+9)
	for _, tc := range []struct {
		name   string
		hash   string
		digest [32]byte
		at     time.Time
		want   bool
	}{
		{name: "fresh", hash: "hash", digest: digest, at: now, want: true},
		{name: "other secret", hash: "hash", digest: [32]byte{2}, at: now, want: false},
		{name: "stored hash changed", hash: "other", digest: digest, at: now, want: false},
		{name: "too old", hash: "hash", digest: digest, at: now.Add(admKeyCacheTTL), want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.verified(last, tc.hash, tc.digest, tc.at); got != tc.want {
				t.Errorf("verified = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkAPIKeyAuth measures admAPIKeyAuth (SQLite lookup included) with a bcrypt per call
// and with the cache.
func BenchmarkAPIKeyAuth(b *testing.B) {
	srv, store := admLightServer(b, testAdminPassword)
	ctx := context.Background()
	secretText := "benchmark-secret-benchmark-secret-123456789"
	hash, _ := bcrypt.GenerateFromPassword([]byte(secretText), bcrypt.DefaultCost)
	if _, err := store.AddAPIKey(ctx, db.APIKey{Name: "bench", Key: "00112233aabbccdd", SecretHash: string(hash), Enable: true}); err != nil {
		b.Fatal(err)
	}
	encoded := strings.TrimPrefix(admBasic("00112233aabbccdd", secretText), "Basic ")
	for _, bc := range []struct {
		name   string
		cached bool
	}{{"bcrypt", false}, {"cached", true}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if !bc.cached {
					srv.adm.keys.forget("00112233aabbccdd")
				}
				if _, err := srv.admAPIKeyAuth(ctx, encoded); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
