package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xgate/xgate/gateway"
)

const gwBuiltin = `{"mechanism":"password_based","backend":"built_in_database","user_id_type":"username"}`

func TestAuthnRoutes(t *testing.T) {
	for _, level := range []struct {
		name, base, chain string
	}{
		{"gateway", "/api/v5/gateways/stomp/authentication", "stomp:global"},
		{"listener", "/api/v5/gateways/stomp/listeners/stomp%3Atcp%3Adefault/authentication", "stomp:tcp:default"},
	} {
		t.Run(level.name, func(t *testing.T) {
			a := newTestAPI(t)
			base := level.base
			if status, body := a.do("GET", base, ""); status != 204 || len(body) != 0 {
				t.Fatalf("GET without an authenticator: %d %q", status, body)
			}
			a.gwWantError("PUT", base, gwBuiltin, 404, "RESOURCE_NOT_FOUND", "authentication not found")
			a.gwWantError("DELETE", base, "", 404, "RESOURCE_NOT_FOUND", "authentication not found")
			refusals := []struct {
				name, body, want string
			}{
				{"not an object", `[1]`, "must be a JSON"},
				{"unknown mechanism", `{"mechanism":"jwt"}`, "mechanism"},
				{"unknown backend", `{"mechanism":"password_based","backend":"ldap"}`, "backend"},
				{"unknown field", `{"mechanism":"password_based","backend":"built_in_database","colour":"red"}`, "colour"},
				{"bad hash", `{"mechanism":"password_based","backend":"built_in_database","password_hash_algorithm":{"name":"rot13"}}`,
					"password_hash_algorithm.name"},
				{"bad http url", `{"mechanism":"password_based","backend":"http","url":"ftp://x"}`, "url"},
			}
			for _, tc := range refusals {
				t.Run(tc.name, func(t *testing.T) {
					a.gwWantError("POST", base, tc.body, 400, "BAD_REQUEST", tc.want)
					if status, _ := a.do("GET", base, ""); status != 204 {
						t.Fatalf("a refused POST was stored: %d", status)
					}
				})
			}

			var got map[string]any
			gwDecode(t, a.gwWant(201, "POST", base, gwBuiltin), &got)
			if got["id"] != "password_based:built_in_database" || got["chain_name"] != level.chain || got["user_id_type"] != "username" {
				t.Fatalf("POST: %v", got)
			}
			a.gwWantError("POST", base, gwBuiltin, 400, "BAD_REQUEST", "already exist")
			gwDecode(t, a.gwWant(200, "GET", base, ""), &got)
			if got["id"] != "password_based:built_in_database" || got["backend"] != "built_in_database" {
				t.Fatalf("GET: %v", got)
			}
			// A GET body can be PUT back (id and chain_name are ignored).
			b, _ := json.Marshal(got)
			a.gwWant(200, "PUT", base, string(b))
			gwDecode(t, a.gwWant(200, "PUT", base,
				`{"mechanism":"password_based","backend":"built_in_database","user_id_type":"clientid"}`), &got)
			if got["user_id_type"] != "clientid" {
				t.Fatalf("PUT: %v", got)
			}
			a.gwWantError("PUT", base, `{"mechanism":"password_based","backend":"built_in_database","user_id_type":"ip"}`,
				400, "BAD_REQUEST", "user_id_type")
			a.gwWant(204, "DELETE", base, "")
			if status, _ := a.do("GET", base, ""); status != 204 {
				t.Fatalf("GET after DELETE: %d", status)
			}
		})
	}
}

func TestAuthnUnknownTargets(t *testing.T) {
	a := newTestAPI(t)
	a.gwUnload("coap")
	a.gwWantError("GET", "/api/v5/gateways/nope/authentication", "", 404, "RESOURCE_NOT_FOUND", "nope")
	a.gwWantError("GET", "/api/v5/gateways/coap/authentication", "", 404, "RESOURCE_NOT_FOUND", "not loaded")
	a.gwWantError("POST", "/api/v5/gateways/coap/authentication", gwBuiltin, 404, "RESOURCE_NOT_FOUND", "not loaded")
	a.gwWantError("GET", "/api/v5/gateways/stomp/listeners/stomp:tcp:nope/authentication", "", 404, "RESOURCE_NOT_FOUND", "Listener not found")
	a.gwWantError("POST", "/api/v5/gateways/stomp/listeners/stomp:tcp:nope/authentication", gwBuiltin, 404, "RESOURCE_NOT_FOUND", "Listener not found")
}

// A listener's authenticator is checked even where the runtime would not build it (a
// listener with enable_authn false).
func TestAuthnCheckedOnListenerWithoutAuthn(t *testing.T) {
	a := newTestAPI(t)
	a.gwWant(201, "POST", gwListeners, `{"name":"open","type":"tcp","bind":"127.0.0.1:0","enable_authn":false}`)
	a.gwWantError("POST", gwListeners+"/stomp:tcp:open/authentication",
		`{"mechanism":"password_based","backend":"built_in_database","password_hash_algorithm":{"name":"rot13"}}`,
		400, "BAD_REQUEST", "password_hash_algorithm.name")
}

func TestAuthnSecretsHidden(t *testing.T) {
	a := newTestAPI(t)
	const base = "/api/v5/gateways/stomp/authentication"
	body := `{"mechanism":"password_based","backend":"http","url":"http://127.0.0.1:1/auth",` +
		`"headers":{"Authorization":"Bearer s3cret","X-Test":"visible"}}`
	out := a.gwWant(201, "POST", base, body)
	for _, o := range [][]byte{out, a.gwWant(200, "GET", base, ""), a.gwWant(200, "GET", "/api/v5/gateways/stomp", "")} {
		if strings.Contains(string(o), "s3cret") || !strings.Contains(string(o), "visible") {
			t.Fatalf("answer shows the secret or lost the rest: %s", o)
		}
	}
	storedHeader := func() string {
		snap, _ := a.store.Snapshot(context.Background())
		gw, _ := snap.Gateway("stomp")
		var cfg struct{ Headers map[string]string }
		json.Unmarshal(gw.Authentication, &cfg)
		return cfg.Headers["Authorization"]
	}
	a.gwWant(200, "PUT", base, string(a.gwWant(200, "GET", base, "")))
	if h := storedHeader(); h != "Bearer s3cret" {
		t.Fatalf("stored header after a round trip: %q", h)
	}
	a.gwWantError("PUT", base, `{"mechanism":"password_based","backend":"http","url":"http://127.0.0.1:1/auth",`+
		`"headers":{"X-Api-Key":"`+gwHidden+`"}}`, 400, "BAD_REQUEST", "headers.X-Api-Key")
	if h := storedHeader(); h != "Bearer s3cret" {
		t.Fatalf("a refused PUT changed the header: %q", h)
	}
}

// Deleting an authenticator deletes its users: a new one starts empty.
func TestAuthnDeleteTakesUsers(t *testing.T) {
	a := newTestAPI(t)
	const base = "/api/v5/gateways/stomp/authentication"
	a.gwWant(201, "POST", base, gwBuiltin)
	a.gwWant(201, "POST", base+"/users", `{"user_id":"u1","password":"p1"}`)
	a.gwWant(204, "DELETE", base, "")
	a.gwWant(201, "POST", base, gwBuiltin)
	a.gwWantError("GET", base+"/users/u1", "", 404, "NOT_FOUND", "u1")

	// The same for a listener's, deleted with its listener.
	l := gwListeners + "/stomp:tcp:default"
	a.gwWant(201, "POST", l+"/authentication", gwBuiltin)
	a.gwWant(201, "POST", l+"/authentication/users", `{"user_id":"u2","password":"p2"}`)
	a.gwWant(204, "DELETE", l, "")
	a.gwWant(201, "POST", gwListeners, `{"name":"default","type":"tcp","bind":"127.0.0.1:0"}`)
	a.gwWant(201, "POST", l+"/authentication", gwBuiltin)
	a.gwWantError("GET", l+"/authentication/users/u2", "", 404, "NOT_FOUND", "u2")
	if _, found, _ := a.store.Users(gateway.AuthnRef{Gateway: "stomp", Listener: "tcp:default"}).LookupUser(context.Background(), "u2"); found {
		t.Fatal("u2 survived")
	}
}
