package httpauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xgate/xgate/authn"
)

func TestAuthenticateAnswers(t *testing.T) {
	future := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name          string
		answer        answer
		want          authn.Decision
		wantSuperuser bool
		wantAttrs     map[string]string
		wantExpire    int64 // Unix seconds, 0 for none
	}{
		{name: "204 allows", answer: answer{status: http.StatusNoContent}, want: authn.Allow},
		{name: "200 allow", answer: jsonAnswer(`{"result":"allow","is_superuser":false}`), want: authn.Allow},
		{name: "200 allow superuser", answer: jsonAnswer(`{"result":"allow","is_superuser":true}`), want: authn.Allow, wantSuperuser: true},
		{name: "superuser as string true", answer: jsonAnswer(`{"result":"allow","is_superuser":"true"}`), want: authn.Allow, wantSuperuser: true},
		{name: "superuser as string false", answer: jsonAnswer(`{"result":"allow","is_superuser":"false"}`), want: authn.Allow},
		{name: "superuser as 1", answer: jsonAnswer(`{"result":"allow","is_superuser":1}`), want: authn.Allow, wantSuperuser: true},
		{name: "superuser as \"0\"", answer: jsonAnswer(`{"result":"allow","is_superuser":"0"}`), want: authn.Allow},
		{name: "deny", answer: jsonAnswer(`{"result":"deny"}`), want: authn.Deny},
		{name: "ignore", answer: jsonAnswer(`{"result":"ignore"}`), want: authn.Ignore},
		{name: "missing result", answer: jsonAnswer(`{"is_superuser":true}`), want: authn.Ignore},
		{name: "other result", answer: jsonAnswer(`{"result":"ALLOW"}`), want: authn.Ignore},
		{name: "garbage JSON", answer: jsonAnswer(`{"result":"allow"`), want: authn.Ignore},
		{name: "JSON then garbage", answer: jsonAnswer(`{"result":"allow"} x`), want: authn.Ignore},
		{name: "JSON array", answer: jsonAnswer(`["allow"]`), want: authn.Ignore},
		{name: "500", answer: answer{status: 500, contentType: "application/json", body: `{"result":"allow"}`}, want: authn.Ignore},
		{name: "400 as in EMQX's suite", answer: answer{status: 400}, want: authn.Ignore},
		{name: "201 is not 200", answer: answer{status: 201, contentType: "application/json", body: `{"result":"allow"}`}, want: authn.Ignore},
		{name: "JSON sent as text/plain", answer: answer{status: 200, contentType: "text/plain", body: `{"result":"allow"}`}, want: authn.Allow},
		{name: "form answer", answer: answer{status: 200, contentType: "application/x-www-form-urlencoded", body: `result=allow&is_superuser=true`}, want: authn.Allow, wantSuperuser: true},
		{name: "body over 64 KiB", answer: jsonAnswer(`{"result":"allow","pad":"` + strings.Repeat("x", 64<<10) + `"}`), want: authn.Ignore},
		{
			name:      "client_attrs",
			answer:    jsonAnswer(`{"result":"allow","client_attrs":{"tenant":"acme","level":3,"vip":true,"tags":["a"],"gone":null}}`),
			want:      authn.Allow,
			wantAttrs: map[string]string{"endpoint_name": "ep-1", "tenant": "acme", "level": "3", "vip": "true", "tags": `["a"]`},
		},
		{name: "expire_at", answer: jsonAnswer(fmt.Sprintf(`{"result":"allow","expire_at":%d}`, future)), want: authn.Allow, wantExpire: future},
		{name: "expire_at in the past", answer: jsonAnswer(`{"result":"allow","expire_at":1000000000}`), want: authn.Deny},
		{name: "expire_at not an integer", answer: jsonAnswer(fmt.Sprintf(`{"result":"allow","expire_at":%d.5}`, future)), want: authn.Deny},
		{name: "expire_at as string", answer: jsonAnswer(fmt.Sprintf(`{"result":"allow","expire_at":"%d"}`, future)), want: authn.Deny},
		{name: "expire_at in milliseconds", answer: jsonAnswer(fmt.Sprintf(`{"result":"allow","expire_at":%d}`, future*1000)), want: authn.Deny},
		{name: "deny ignores extras", answer: jsonAnswer(`{"result":"deny","is_superuser":true,"client_attrs":{"a":"b"}}`), want: authn.Deny, wantAttrs: map[string]string{"endpoint_name": "ep-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newAuthServer(t, func(seen) answer { return tt.answer })
			a := newTestAuthenticator(t, configFor(t, srv.URL+"/auth", nil), nil)
			c := testClient()
			if got := authenticate(t, a, c); got != tt.want {
				t.Fatalf("decision = %v, want %v", got, tt.want)
			}
			if c.IsSuperuser != tt.wantSuperuser {
				t.Errorf("IsSuperuser = %v, want %v", c.IsSuperuser, tt.wantSuperuser)
			}
			wantAttrs := tt.wantAttrs
			if wantAttrs == nil {
				wantAttrs = testClient().Attrs
			}
			if !maps.Equal(c.Attrs, wantAttrs) {
				t.Errorf("Attrs = %v, want %v", c.Attrs, wantAttrs)
			}
			switch {
			case tt.wantExpire == 0 && !c.ExpireAt.IsZero():
				t.Errorf("ExpireAt = %v, want zero", c.ExpireAt)
			case tt.wantExpire != 0 && c.ExpireAt.Unix() != tt.wantExpire:
				t.Errorf("ExpireAt = %v, want Unix %d", c.ExpireAt, tt.wantExpire)
			}
		})
	}
}

// Attributes from the server go into a client that had none.
func TestAuthenticateAttrsOnEmptyClient(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return jsonAnswer(`{"result":"allow","client_attrs":{"tenant":"acme"}}`) })
	a := newTestAuthenticator(t, configFor(t, srv.URL, nil), nil)
	c := &authn.Client{ClientID: "c"}
	if got := authenticate(t, a, c); got != authn.Allow || c.Attrs["tenant"] != "acme" {
		t.Errorf("decision %v, attrs %v", got, c.Attrs)
	}
}

func TestPostJSONRequest(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return answer{status: http.StatusNoContent} })
	cfg := configFor(t, srv.URL+"/auth", map[string]any{
		"headers": map[string]string{"X-Test-Header": "Test Value", "X-Listener": "${listener}"},
		"body": map[string]any{
			"username": "${username}", "password": "${password}", "clientid": "${clientid}",
			"peer": "${peerhost}:${peerport}", "proto": "${protocol}", "cn": "${cert_common_name}",
			"subject": "${cert_subject}", "ep": "${client_attrs.endpoint_name}", "missing": "${client_attrs.nope}",
			"n": 12345678901234567, "nested": map[string]any{"list": []any{"${username}", true}},
		},
	})
	a := newTestAuthenticator(t, cfg, nil)
	if got := authenticate(t, a, testClient()); got != authn.Allow {
		t.Fatalf("decision = %v", got)
	}
	req := srv.only(t)
	if req.Method != http.MethodPost || req.Path != "/auth" || req.Query != "" {
		t.Errorf("request line: %s %s", req.Method, req.RawURI)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json", "Accept": "application/json", "Cache-Control": "no-cache",
		"Connection": "keep-alive", "Keep-Alive": "timeout=30, max=1000",
		"X-Test-Header": "Test Value", "X-Listener": "coap:udp:default",
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(req.Body))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body %q: %v", req.Body, err)
	}
	want := map[string]any{
		"username": "alice&bob", "password": "p@ss word+/?#", "clientid": "dev 1/α",
		"peer": "192.0.2.7:5683", "proto": "coap", "cn": "device-cn", "subject": "CN=device-cn,O=xgate",
		"ep": "ep-1", "missing": "", "n": json.Number("12345678901234567"),
		"nested": map[string]any{"list": []any{"alice&bob", true}},
	}
	if fmt.Sprint(body) != fmt.Sprint(want) {
		t.Errorf("body = %v\nwant   %v", body, want)
	}
}

func TestPostFormRequest(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return answer{status: http.StatusNoContent} })
	cfg := configFor(t, srv.URL+"/auth", map[string]any{
		"headers": map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		"body":    map[string]any{"username": "${username}", "password": "${password}", "n": 7},
	})
	a := newTestAuthenticator(t, cfg, nil)
	if got := authenticate(t, a, testClient()); got != authn.Allow {
		t.Fatalf("decision = %v", got)
	}
	req := srv.only(t)
	if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("content-type = %q", ct)
	}
	form, err := url.ParseQuery(req.Body)
	if err != nil {
		t.Fatalf("body %q: %v", req.Body, err)
	}
	if form.Get("username") != "alice&bob" || form.Get("password") != "p@ss word+/?#" || form.Get("n") != "7" {
		t.Errorf("form = %v (raw %q)", form, req.Body)
	}
}

func TestGetRequestQuery(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return jsonAnswer(`{"result":"allow"}`) })
	cfg := configFor(t, srv.URL+"/auth/${clientid}/x?static=a%20b&u=${username}&flag", map[string]any{
		"method": "get",
		"body":   map[string]any{"password": "${password}", "peer": "${peerhost}"},
	})
	a := newTestAuthenticator(t, cfg, nil)
	if got := authenticate(t, a, testClient()); got != authn.Allow {
		t.Fatalf("decision = %v", got)
	}
	req := srv.only(t)
	if req.Method != http.MethodGet || req.Body != "" {
		t.Errorf("got %s with body %q", req.Method, req.Body)
	}
	if ct, ok := req.Header["Content-Type"]; ok {
		t.Errorf("GET carries content-type %q", ct)
	}
	// The client ID's "/" and space are escaped inside one path segment.
	if want := "/auth/dev%201%2F%CE%B1/x"; !strings.HasPrefix(req.RawURI, want+"?") {
		t.Errorf("request URI = %q, want path %q", req.RawURI, want)
	}
	if req.Path != "/auth/dev 1/α/x" {
		t.Errorf("decoded path = %q", req.Path)
	}
	// Configured query parameters come first, then the body's, sorted by key.
	wantQuery := "static=a+b&u=alice%26bob&flag&password=p%40ss+word%2B%2F%3F%23&peer=192.0.2.7"
	if req.Query != wantQuery {
		t.Errorf("query = %q\nwant    %q", req.Query, wantQuery)
	}
	q, err := url.ParseQuery(req.Query)
	if err != nil || q.Get("password") != "p@ss word+/?#" || q.Get("u") != "alice&bob" {
		t.Errorf("query decodes to %v, %v", q, err)
	}
}

func TestHostHeader(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return answer{status: http.StatusNoContent} })
	cfg := configFor(t, srv.URL, map[string]any{"headers": map[string]string{"Host": "auth.example"}})
	a := newTestAuthenticator(t, cfg, nil)
	authenticate(t, a, testClient())
	if got := srv.only(t).Host; got != "auth.example" {
		t.Errorf("Host = %q", got)
	}
}

// A value that would split a header is not sent at all.
func TestHeaderInjectionIsRefused(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return answer{status: http.StatusNoContent} })
	cfg := configFor(t, srv.URL, map[string]any{"headers": map[string]string{"X-User": "${username}"}})
	a := newTestAuthenticator(t, cfg, nil)
	c := testClient()
	c.Username = "eve\r\nX-Admin: 1"
	if got := authenticate(t, a, c); got != authn.Ignore {
		t.Errorf("decision = %v, want Ignore", got)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("server got %d requests", n)
	}
}

func TestDisabledAuthenticatorIgnores(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return answer{status: http.StatusNoContent} })
	a := newTestAuthenticator(t, configFor(t, srv.URL, map[string]any{"enable": false}), nil)
	if got := authenticate(t, a, testClient()); got != authn.Ignore {
		t.Errorf("decision = %v, want Ignore", got)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("server got %d requests", n)
	}
}

// A server that does not answer in time is no opinion, and does not hold up other
// logins: the handler below answers "slow" only when the test lets it.
func TestSlowServer(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := newAuthServer(t, func(r seen) answer {
		if strings.Contains(r.Body, `"slow"`) {
			arrived <- struct{}{}
			<-release
		}
		return answer{status: http.StatusNoContent}
	})
	// Registered after the server, so it runs first and the handler can return.
	var once bool
	releaseOnce := func() {
		if !once {
			once = true
			close(release)
		}
	}
	t.Cleanup(releaseOnce)

	t.Run("concurrent logins are not delayed", func(t *testing.T) {
		a := newTestAuthenticator(t, configFor(t, srv.URL, map[string]any{
			"body": map[string]any{"username": "${username}"}, "request_timeout": "1m",
		}), nil)
		slowDone := make(chan authn.Decision, 1)
		go func() {
			d, _ := a.Authenticate(context.Background(), &authn.Client{Username: "slow"})
			slowDone <- d
		}()
		<-arrived
		if got := authenticate(t, a, &authn.Client{Username: "fast"}); got != authn.Allow {
			t.Errorf("fast decision = %v", got)
		}
		select {
		case d := <-slowDone:
			t.Fatalf("slow login finished (%v) before its server answered", d)
		default:
		}
		releaseOnce()
		if d := <-slowDone; d != authn.Allow {
			t.Errorf("slow decision = %v, want Allow once answered", d)
		}
	})

	t.Run("timeout is no opinion", func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		slow := newAuthServer(t, func(seen) answer {
			<-block
			return answer{status: http.StatusNoContent}
		})
		logs, log := newLogBuffer()
		a := newTestAuthenticator(t, configFor(t, slow.URL, map[string]any{"request_timeout": "100ms"}), log)
		done := make(chan authn.Decision, 1)
		start := time.Now()
		go func() {
			d, _ := a.Authenticate(context.Background(), testClient())
			done <- d
		}()
		// The server never answers while the call is running, so only the request
		// timeout can end it; the bound below only stops a hung test.
		select {
		case d := <-done:
			if d != authn.Ignore {
				t.Errorf("decision = %v, want Ignore", d)
			}
			t.Logf("returned after %v", time.Since(start))
		case <-time.After(30 * time.Second):
			t.Fatal("Authenticate did not return")
		}
		if !strings.Contains(logs.String(), "no answer within 100ms") {
			t.Errorf("log = %q", logs.String())
		}
	})
}

// When the caller gives up, the error says so and the chain stops there.
func TestCallerCancelled(t *testing.T) {
	block := make(chan struct{})
	srv := newAuthServer(t, func(seen) answer {
		<-block
		return answer{status: http.StatusNoContent}
	})
	t.Cleanup(func() { close(block) })
	a := newTestAuthenticator(t, configFor(t, srv.URL, nil), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := a.Authenticate(ctx, testClient())
	if d != authn.Ignore || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, %v; want Ignore, context.Canceled", d, err)
	}
}

// Logs name the status and the URL as configured, never the password or the query.
func TestLogsKeepSecrets(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return answer{status: 500, body: "boom"} })
	logs, log := newLogBuffer()
	cfg := configFor(t, srv.URL+"/auth/${username}?pw=${password}&token=hunter2", nil)
	a := newTestAuthenticator(t, cfg, log)
	if got := authenticate(t, a, testClient()); got != authn.Ignore {
		t.Errorf("decision = %v", got)
	}
	down := configFor(t, "http://127.0.0.1:1/auth?pw=${password}&token=hunter2", nil)
	b := newTestAuthenticator(t, down, log)
	if got := authenticate(t, b, testClient()); got != authn.Ignore {
		t.Errorf("decision with server down = %v", got)
	}
	out := logs.String()
	for _, secret := range []string{"p@ss", "hunter2", "pw="} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"status=500", "/auth/${username}", "127.0.0.1:1/auth", "level=WARN"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestProbe(t *testing.T) {
	srv := newAuthServer(t, func(r seen) answer {
		if strings.Contains(r.Body, "bad") {
			return answer{status: 500, body: "x" + strings.Repeat("é", 2000)}
		}
		return jsonAnswer(`{"result":"allow","is_superuser":true,"client_attrs":{"a":"b"}}`)
	})
	a := newTestAuthenticator(t, configFor(t, srv.URL+"/auth?pw=${password}", map[string]any{
		"body": map[string]any{"u": "${username}"}, "enable": false,
	}), nil)

	c := testClient()
	p := a.Probe(context.Background(), c)
	if p.Status != 200 || p.Decision != authn.Allow || p.Err != "" || !strings.Contains(p.Body, `"allow"`) || p.Elapsed <= 0 {
		t.Errorf("probe = %+v", p)
	}
	if c.IsSuperuser || c.Attrs["a"] != "" {
		t.Errorf("Probe changed the client: %+v", c)
	}

	c.Username = "bad"
	p = a.Probe(context.Background(), c)
	if p.Status != 500 || p.Decision != authn.Ignore || !strings.Contains(p.Err, "unexpected status 500") {
		t.Errorf("probe = %+v", p)
	}
	if len(p.Body) > 2048 || !strings.HasSuffix(p.Body, "é") {
		t.Errorf("body is %d bytes, ends %q", len(p.Body), p.Body[len(p.Body)-4:])
	}

	down := newTestAuthenticator(t, configFor(t, "http://127.0.0.1:1/auth?pw=${password}", nil), nil)
	p = down.Probe(context.Background(), testClient())
	if p.Status != 0 || p.Err == "" || strings.Contains(p.Err, "p@ss") || strings.Contains(p.Err, "pw=") {
		t.Errorf("probe of a closed port = %+v", p)
	}
}

// A redirect is answered like any other status: following it could take the password
// to another server.
func TestRedirectNotFollowed(t *testing.T) {
	srv := newAuthServer(t, func(r seen) answer {
		if r.Path == "/elsewhere" {
			return answer{status: http.StatusNoContent}
		}
		return answer{status: http.StatusTemporaryRedirect, location: "/elsewhere"}
	})
	a := newTestAuthenticator(t, configFor(t, srv.URL+"/auth", nil), nil)
	if got := authenticate(t, a, testClient()); got != authn.Ignore {
		t.Errorf("decision = %v, want Ignore", got)
	}
	if req := srv.only(t); req.Path != "/auth" {
		t.Errorf("request went to %s", req.Path)
	}
}
