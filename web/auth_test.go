package web

import "testing"

func TestLoginAndTokenRequired(t *testing.T) {
	a := newTestAPI(t)
	status, body := a.doWith("POST", "/api/v5/login", `{"username":"admin","password":"nope"}`, "")
	a.wantError(status, body, 401, "BAD_USERNAME_OR_PWD")
	status, body = a.doWith("POST", "/api/v5/login", `{"username":"admin","password":"x","extra":1}`, "")
	a.wantError(status, body, 400, "BAD_REQUEST")
	status, body = a.doWith("GET", "/api/v5/gateways", "", "")
	a.wantError(status, body, 401, "BAD_TOKEN")
	status, body = a.doWith("GET", "/api/v5/gateways", "", "Bearer not-a-token")
	a.wantError(status, body, 401, "TOKEN_TIME_OUT")
	if status, _ := a.do("GET", "/api/v5/status", ""); status != 200 {
		t.Fatalf("status: %d", status)
	}
}
