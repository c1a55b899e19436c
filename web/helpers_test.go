package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/protocols/coap"
	"github.com/xgate/xgate/protocols/mqttsn"
	"github.com/xgate/xgate/protocols/stomp"
)

// testAPI is the whole appliance behind the HTTP app: a real SQLite file, the embedded
// broker, the gateways (stomp tcp, mqttsn udp, coap udp on free loopback ports) and an
// admin token.
type testAPI struct {
	t        *testing.T
	srv      *Server
	store    *db.DB
	mgr      *gateway.Manager
	access   *Access
	mqttAddr string
	token    string
}

const testAdminPassword = "test-admin-pass"

func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	a, _ := newTestAPIWith(t, EventsConfig{})
	a.login()
	return a
}

// newTestAPIWith builds the appliance as cmd/xgate wires it, the event bus included (its
// hooks on the Manager, Deps.Events), without logging in.
func newTestAPIWith(t *testing.T, cfg EventsConfig) (*testAPI, *Events) {
	t.Helper()
	ctx := context.Background()
	log := gatewaytest.Logger(t)
	store, err := db.Open(ctx, filepath.Join(t.TempDir(), "xgate.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	broker, mqttAddr := gatewaytest.StartBroker(t)
	access, err := NewAccess(ctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	broker.SetAuthorizer(access.Authz)
	events, err := NewEvents(ctx, store, log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evClose(t, events) })
	mgr := gateway.NewManager(log, []gateway.Protocol{stomp.New(), mqttsn.New(), coap.New()},
		gateway.Deps{Broker: broker, Node: "xgate@test", Authorizer: access.Authz, Authn: access.Authenticator,
			Hooks: events.Hooks()})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		mgr.Stop(ctx)
	})
	var snap gateway.Snapshot
	for _, gw := range []struct {
		name string
		typ  gateway.Transport
	}{{"stomp", gateway.TCP}, {"mqttsn", gateway.UDP}, {"coap", gateway.UDP}} {
		c := gateway.DefaultConfig(gw.name)
		c.Listeners = []gateway.ListenerConfig{gatewaytest.Listener(gw.typ, "default")}
		snap = snap.WithGateway(c)
	}
	if err := store.Commit(ctx, snap, mgr.Apply); err != nil {
		t.Fatal(err)
	}
	srv, err := New(ctx, Deps{Log: log, Node: "xgate@test", Version: "test", Store: store, Manager: mgr,
		Access: access, Events: events, AdminPassword: testAdminPassword, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	return &testAPI{t: t, srv: srv, store: store, mgr: mgr, access: access, mqttAddr: mqttAddr}, events
}

// login gets the admin token that do sends.
func (a *testAPI) login() {
	a.t.Helper()
	status, body := a.do("POST", "/api/v5/login", `{"username":"admin","password":"`+testAdminPassword+`"}`)
	if status != 200 {
		a.t.Fatalf("login: %d %s", status, body)
	}
	var login struct{ Token string }
	json.Unmarshal(body, &login)
	a.token = login.Token
}

// do sends a request with the admin token (when there is one) and returns the status and
// body. body is sent as JSON unless empty.
func (a *testAPI) do(method, path, body string) (int, []byte) {
	a.t.Helper()
	return a.doWith(method, path, body, "Bearer "+a.token)
}

// doWith is do with an explicit Authorization header value ("" for none).
func (a *testAPI) doWith(method, path, body, authorization string) (int, []byte) {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" && authorization != "Bearer " {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := a.srv.App().Test(req, -1)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// wantError checks an error answer's status and code.
func (a *testAPI) wantError(status int, body []byte, wantStatus int, wantCode string) {
	a.t.Helper()
	var e APIError
	if err := json.Unmarshal(body, &e); err != nil || status != wantStatus || e.Code != wantCode || e.Message == "" {
		a.t.Fatalf("got %d %s, want %d with code %s and a message", status, body, wantStatus, wantCode)
	}
}
