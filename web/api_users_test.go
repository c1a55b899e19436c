package web

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/xgate/xgate/gateway"
)

const gwUsersBase = "/api/v5/gateways/stomp/authentication"

// gwUpload posts a multipart form with one file field.
func (a *testAPI) gwUpload(path, field, filename, content string) (int, []byte) {
	a.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile(field, filename)
	if err != nil {
		a.t.Fatal(err)
	}
	io.WriteString(fw, content)
	w.Close()
	req := httptest.NewRequest("POST", path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.srv.App().Test(req, -1)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

type gwUserPage struct {
	Data []gwUserView `json:"data"`
	Meta struct {
		Page    int  `json:"page"`
		Limit   int  `json:"limit"`
		Count   int  `json:"count"`
		HasNext bool `json:"hasnext"`
	} `json:"meta"`
}

func TestUsersWithoutBuiltinAuthenticator(t *testing.T) {
	a := newTestAPI(t)
	a.gwWantError("GET", gwUsersBase+"/users", "", 404, "RESOURCE_NOT_FOUND", "authentication not found")
	a.gwWantError("POST", gwUsersBase+"/users", `{"user_id":"u","password":"p"}`, 404, "RESOURCE_NOT_FOUND", "authentication not found")
	a.gwWant(201, "POST", gwUsersBase, `{"mechanism":"password_based","backend":"http","url":"http://127.0.0.1:1/auth"}`)
	a.gwWantError("GET", gwUsersBase+"/users", "", 400, "BAD_REQUEST", "users are only for built_in_database")
	a.gwWantError("POST", gwUsersBase+"/users", `{"user_id":"u","password":"p"}`, 400, "BAD_REQUEST", "built_in_database")
	status, body := a.gwUpload(gwUsersBase+"/import_users", "filename", "u.csv", "user_id,password\nu,p\n")
	a.wantError(status, body, 400, "BAD_REQUEST")
}

func TestUsersCRUD(t *testing.T) {
	for _, level := range []struct{ name, base string }{
		{"gateway", gwUsersBase},
		{"listener", gwListeners + "/stomp:tcp:default/authentication"},
	} {
		t.Run(level.name, func(t *testing.T) {
			a := newTestAPI(t)
			base := level.base
			a.gwWant(201, "POST", base, gwBuiltin)
			users := base + "/users"

			var u gwUserView
			gwDecode(t, a.gwWant(201, "POST", users, `{"user_id":"u1","password":"p1"}`), &u)
			if u != (gwUserView{UserID: "u1"}) {
				t.Fatalf("POST: %+v", u)
			}
			refusals := []struct {
				name, method, path, body string
				status                   int
				code, want               string
			}{
				{"duplicate", "POST", users, `{"user_id":"u1","password":"x"}`, 409, "ALREADY_EXISTS", "u1"},
				{"no user_id", "POST", users, `{"password":"x"}`, 400, "BAD_REQUEST", "user_id"},
				{"no password", "POST", users, `{"user_id":"u9"}`, 400, "BAD_REQUEST", "password"},
				{"unknown field", "POST", users, `{"user_id":"u9","password":"x","role":"admin"}`, 400, "BAD_REQUEST", "role"},
				{"wrong type", "POST", users, `{"user_id":"u9","password":"x","is_superuser":"yes"}`, 400, "BAD_REQUEST", "is_superuser"},
				{"get unknown", "GET", users + "/nope", "", 404, "NOT_FOUND", "nope"},
				{"put unknown", "PUT", users + "/nope", `{"password":"x"}`, 404, "NOT_FOUND", "nope"},
				{"put empty password", "PUT", users + "/u1", `{"password":""}`, 400, "BAD_REQUEST", "password"},
				{"put unknown field", "PUT", users + "/u1", `{"user_id":"u1"}`, 400, "BAD_REQUEST", "user_id"},
				{"delete unknown", "DELETE", users + "/nope", "", 404, "NOT_FOUND", "nope"},
			}
			for _, tc := range refusals {
				t.Run(tc.name, func(t *testing.T) {
					a.gwWantError(tc.method, tc.path, tc.body, tc.status, tc.code, tc.want)
				})
			}

			// An id that needs URL encoding.
			const odd = "dev 1/α"
			a.gwWant(201, "POST", users, `{"user_id":"`+odd+`","password":"p","is_superuser":true}`)
			gwDecode(t, a.gwWant(200, "GET", users+"/"+url.PathEscape(odd), ""), &u)
			if u != (gwUserView{UserID: odd, IsSuperuser: true}) {
				t.Fatalf("GET: %+v", u)
			}
			gwDecode(t, a.gwWant(200, "PUT", users+"/"+url.PathEscape(odd), `{"is_superuser":false}`), &u)
			if u.IsSuperuser {
				t.Fatalf("PUT: %+v", u)
			}
			a.gwWant(204, "DELETE", users+"/"+url.PathEscape(odd), "")
			a.gwWantError("GET", users+"/"+url.PathEscape(odd), "", 404, "NOT_FOUND", "User not found")
		})
	}
}

func TestUsersList(t *testing.T) {
	a := newTestAPI(t)
	a.gwWant(201, "POST", gwUsersBase, gwBuiltin)
	users := gwUsersBase + "/users"
	for _, id := range []string{"a1", "a2", "b1", "b2", "b3"} {
		a.gwWant(201, "POST", users, `{"user_id":"`+id+`","password":"p","is_superuser":`+
			map[bool]string{true: "true", false: "false"}[strings.HasSuffix(id, "1")]+`}`)
	}
	tests := []struct {
		name, query string
		want        []string
		count       int
		hasNext     bool
	}{
		{"all", "", []string{"a1", "a2", "b1", "b2", "b3"}, 5, false},
		{"page 2 of 2", "?page=2&limit=2", []string{"b1", "b2"}, 5, true},
		{"last page", "?page=3&limit=2", []string{"b3"}, 5, false},
		{"past the end", "?page=9&limit=2", []string{}, 5, false},
		{"like", "?like_user_id=b", []string{"b1", "b2", "b3"}, 3, false},
		{"superusers", "?is_superuser=true", []string{"a1", "b1"}, 2, false},
		{"like and not superuser", "?like_user_id=b&is_superuser=false", []string{"b2", "b3"}, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var page gwUserPage
			gwDecode(t, a.gwWant(200, "GET", users+tc.query, ""), &page)
			var got []string
			for _, u := range page.Data {
				got = append(got, u.UserID)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || page.Meta.Count != tc.count || page.Meta.HasNext != tc.hasNext {
				t.Fatalf("got %v %+v, want %v count %d hasnext %v", got, page.Meta, tc.want, tc.count, tc.hasNext)
			}
		})
	}
	var page gwUserPage
	gwDecode(t, a.gwWant(200, "GET", users, ""), &page)
	if page.Meta.Page != 1 || page.Meta.Limit != 100 {
		t.Fatalf("default paging: %+v", page.Meta)
	}
	if body := a.gwWant(200, "GET", users, ""); strings.Contains(string(body), "password") {
		t.Fatalf("the list shows passwords: %s", body)
	}
	for _, q := range []string{"?page=0", "?page=x", "?limit=0", "?limit=100000", "?is_superuser=yes"} {
		a.gwWantError("GET", users+q, "", 400, "BAD_REQUEST", strings.Split(q[1:], "=")[0])
	}
}

// Users log in through the gateway at once, with the authenticator's hash algorithm.
func TestUsersLogin(t *testing.T) {
	a := newTestAPI(t)
	a.gwWant(201, "POST", gwUsersBase, `{"mechanism":"password_based","backend":"built_in_database",`+
		`"password_hash_algorithm":{"name":"bcrypt","salt_rounds":5}}`)
	a.gwWant(201, "POST", gwUsersBase+"/users", `{"user_id":"u1","password":"p1"}`)
	stored, found, err := a.store.Users(gateway.AuthnRef{Gateway: "stomp"}).LookupUser(context.Background(), "u1")
	if err != nil || !found || !strings.HasPrefix(stored.PasswordHash, "$2") {
		t.Fatalf("stored user: %+v %v %v", stored, found, err)
	}
	addr := a.gwAddr("stomp", "tcp:default")
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
	}{
		{"right password", []string{"login:u1", "passcode:p1"}, "CONNECTED"},
		{"wrong password", []string{"login:u1", "passcode:nope"}, "ERROR"},
		{"anonymous", nil, "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, f := gwStompConnect(t, addr, tc.headers...); !strings.HasPrefix(f, tc.want) {
				t.Fatalf("got %q, want %s", f, tc.want)
			}
		})
	}
	a.gwWant(200, "PUT", gwUsersBase+"/users/u1", `{"password":"p2"}`)
	if _, f := gwStompConnect(t, addr, "login:u1", "passcode:p2"); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("new password: %q", f)
	}
	if _, f := gwStompConnect(t, addr, "login:u1", "passcode:p1"); !strings.HasPrefix(f, "ERROR") {
		t.Fatalf("old password: %q", f)
	}
}

func TestUsersImport(t *testing.T) {
	a := newTestAPI(t)
	a.gwWant(201, "POST", gwUsersBase, gwBuiltin)
	a.gwWant(201, "POST", gwUsersBase+"/users", `{"user_id":"u2","password":"old"}`)
	path := gwUsersBase + "/import_users"
	tests := []struct {
		name, query, field, file, content string
		status                            int
		want                              string
	}{
		{"csv plain", "", "filename", "users.csv", "user_id,password,is_superuser\nu1,p1,true\nu2,p2,false\nu1,p3,false\nbad,,\n",
			200, `{"total":4,"success":2,"override":1,"skipped":1,"failed":1}`},
		{"json hash", "?type=hash", "filename", "users.JSON",
			`[{"user_id":"h1","password_hash":"abc","salt":"s","is_superuser":true}]`,
			200, `{"total":1,"success":1,"override":0,"skipped":0,"failed":0}`},
		{"bad type", "?type=cooked", "filename", "users.csv", "user_id,password\nu,p\n", 400, "type"},
		{"bad extension", "", "filename", "users.txt", "user_id,password\nu,p\n", 400, "filename"},
		{"wrong field", "", "file", "users.csv", "user_id,password\nu,p\n", 400, "filename"},
		{"bad file", "", "filename", "users.csv", "name,secret\nu,p\n", 400, "column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.gwUpload(path+tc.query, tc.field, tc.file, tc.content)
			if tc.status != 200 {
				a.wantError(status, body, tc.status, "BAD_REQUEST")
			}
			if status != tc.status || !strings.Contains(string(body), tc.want) {
				t.Fatalf("got %d %s, want %d with %s", status, body, tc.status, tc.want)
			}
		})
	}
	addr := a.gwAddr("stomp", "tcp:default")
	if _, f := gwStompConnect(t, addr, "login:u2", "passcode:p2"); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("imported user: %q", f)
	}
	var u gwUserView
	gwDecode(t, a.gwWant(200, "GET", gwUsersBase+"/users/h1", ""), &u)
	if !u.IsSuperuser {
		t.Fatalf("h1: %+v", u)
	}
	// A listener's import goes to the listener's authenticator.
	l := gwListeners + "/stomp:tcp:default/authentication"
	a.gwWant(201, "POST", l, gwBuiltin)
	if status, body := a.gwUpload(l+"/import_users", "filename", "l.csv", "user_id,password\nl1,p\n"); status != 200 {
		t.Fatalf("listener import: %d %s", status, body)
	}
	a.gwWant(200, "GET", l+"/users/l1", "")
	a.gwWantError("GET", gwUsersBase+"/users/l1", "", 404, "NOT_FOUND", "l1")
}
