package httpauth

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg := parseTestConfig(t, `{"mechanism":"password_based","backend":"http","url":"http://127.0.0.1:8080/auth"}`)
	if !cfg.Enable || cfg.Method != "post" || cfg.RequestTimeout.D() != 5*time.Second || cfg.PoolSize != 8 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.SSL.Enable || cfg.SSL.Verify != "verify_none" {
		t.Errorf("ssl defaults not applied: %+v", cfg.SSL)
	}
}

// The authenticator used by EMQX's gateway suites must parse as it is.
func TestParseConfigEMQXExample(t *testing.T) {
	cfg := parseTestConfig(t, `{"mechanism":"password_based","backend":"http","method":"get",
		"url":"http://127.0.0.1:37333/auth","body":{"username":"${username}","password":"${password}"},
		"headers":{"X-Test-Header":"Test Value"}}`)
	if cfg.Method != "get" || cfg.Headers["X-Test-Header"] != "Test Value" || cfg.Body["password"] != "${password}" {
		t.Errorf("unexpected config %+v", cfg)
	}
}

func TestParseConfigRequestTimeout(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want time.Duration
	}{
		{name: "seconds", raw: `"5s"`, want: 5 * time.Second},
		{name: "milliseconds string", raw: `"500ms"`, want: 500 * time.Millisecond},
		{name: "number of milliseconds", raw: `1500`, want: 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseTestConfig(t, `{"url":"http://h/a","request_timeout":`+tt.raw+`}`)
			if cfg.RequestTimeout.D() != tt.want {
				t.Errorf("request_timeout = %v, want %v", cfg.RequestTimeout.D(), tt.want)
			}
		})
	}
}

func TestParseConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr string
	}{
		{name: "unknown field", raw: `{"url":"http://h","colour":"red"}`, wantErr: `colour: unknown field`},
		{name: "unknown ssl field", raw: `{"url":"http://h","ssl":{"enable":true,"versions":["tlsv1.3"]}}`, wantErr: `ssl.versions: unknown field`},
		{name: "pool_size type", raw: `{"url":"http://h","pool_size":"8"}`, wantErr: `pool_size: want an integer`},
		{name: "ssl.verify type", raw: `{"url":"http://h","ssl":{"verify":true}}`, wantErr: `ssl.verify: want a string`},
		{name: "headers type", raw: `{"url":"http://h","headers":{"a":1}}`, wantErr: `headers: want a string`},
		{name: "bad duration", raw: `{"url":"http://h","request_timeout":"soon"}`, wantErr: `request_timeout:`},
		{name: "zero duration", raw: `{"url":"http://h","request_timeout":0}`, wantErr: `request_timeout: must be positive`},
		{name: "pool_size zero", raw: `{"url":"http://h","pool_size":0}`, wantErr: `pool_size:`},
		{name: "method", raw: `{"url":"http://h","method":"put"}`, wantErr: `method: "put"`},
		{name: "mechanism", raw: `{"url":"http://h","mechanism":"jwt"}`, wantErr: `mechanism:`},
		{name: "backend", raw: `{"url":"http://h","backend":"mysql"}`, wantErr: `backend:`},
		{name: "missing url", raw: `{}`, wantErr: `url: required`},
		{name: "url scheme", raw: `{"url":"ftp://h/a"}`, wantErr: `url: scheme "ftp"`},
		{name: "url without host", raw: `{"url":"http:///a"}`, wantErr: `url: no host`},
		{name: "placeholder in host", raw: `{"url":"http://${username}/a"}`, wantErr: `url:`},
		{name: "url user info", raw: `{"url":"http://u:p@h/a"}`, wantErr: `url: user information`},
		{name: "url fragment", raw: `{"url":"http://h/a#x"}`, wantErr: `url: fragments`},
		{name: "https without ssl", raw: `{"url":"https://h/a"}`, wantErr: `ssl.enable:`},
		{name: "ssl.verify value", raw: `{"url":"https://h","ssl":{"enable":true,"verify":"maybe"}}`, wantErr: `ssl.verify: "maybe"`},
		{name: "certfile without keyfile", raw: `{"url":"https://h","ssl":{"enable":true,"certfile":"/c.pem"}}`, wantErr: `ssl.certfile, ssl.keyfile`},
		{name: "unknown placeholder in url path", raw: `{"url":"http://h/${zone}/a"}`, wantErr: `url: unknown placeholder ${zone}`},
		{name: "unknown placeholder in url query", raw: `{"url":"http://h/a?t=${topic}"}`, wantErr: `url: unknown placeholder ${topic}`},
		{name: "unknown placeholder in body", raw: `{"url":"http://h","body":{"a":{"b":["${nope}"]}}}`, wantErr: `body.a.b[0]: unknown placeholder ${nope}`},
		{name: "unknown placeholder in header", raw: `{"url":"http://h","headers":{"X-Who":"${who}"}}`, wantErr: `headers.x-who: unknown placeholder ${who}`},
		{name: "header with LF", raw: `{"url":"http://h","headers":{"X-A":"a\nb"}}`, wantErr: `headers.x-a: value contains CR, LF or NUL`},
		{name: "bad header name", raw: `{"url":"http://h","headers":{"X A":"1"}}`, wantErr: `headers: "x a"`},
		{name: "post content-type", raw: `{"url":"http://h","headers":{"content-type":"text/plain"}}`, wantErr: `headers.content-type:`},
		{name: "bad query escape", raw: `{"url":"http://h/a?x=%zz"}`, wantErr: `url: query:`},
		{name: "trailing data", raw: `{"url":"http://h"} {}`, wantErr: `after the JSON object`},
		{name: "not an object", raw: `[1]`, wantErr: `want a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseConfig error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseConfigGetDropsContentType(t *testing.T) {
	cfg := parseTestConfig(t, `{"url":"http://h/a","method":"get","headers":{"Content-Type":"text/plain"}}`)
	p, err := cfg.compile(authnVars())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range p.headers {
		if h.name == "content-type" {
			t.Errorf("GET keeps content-type %q", h.value.String())
		}
	}
}

func TestParseAuthzConfig(t *testing.T) {
	cfg, err := ParseAuthzConfig([]byte(`{"type":"http","method":"get",
		"url":"http://127.0.0.1/authz/users/?topic=${topic}&action=${action}&username=${username}"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Enable || cfg.PoolSize != 8 || cfg.RequestTimeout.D() != 5*time.Second {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	for _, tt := range []struct{ name, raw, wantErr string }{
		{name: "type", raw: `{"type":"file","url":"http://h"}`, wantErr: `type: "file"`},
		{name: "password not allowed", raw: `{"url":"http://h?p=${password}"}`, wantErr: `url: unknown placeholder ${password}`},
		{name: "authn field", raw: `{"url":"http://h","mechanism":"password_based"}`, wantErr: `mechanism: unknown field`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAuthzConfig([]byte(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAuthzConfig error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// Files named in ssl are read by New, and a bad one is reported by its field.
func TestNewReportsBadSSLFiles(t *testing.T) {
	ca := newTestCA(t)
	_, certPEM, keyPEM := ca.issue(t, 0, "client")
	garbage := writeFile(t, "garbage.pem", []byte("not a pem file"))
	missing := t.TempDir() + "/missing.pem"
	tests := []struct {
		name    string
		ssl     map[string]any
		wantErr string
	}{
		{name: "missing cacertfile", ssl: map[string]any{"cacertfile": missing}, wantErr: "ssl.cacertfile:"},
		{name: "garbage cacertfile", ssl: map[string]any{"cacertfile": garbage}, wantErr: "ssl.cacertfile: no PEM certificate"},
		{name: "missing certfile", ssl: map[string]any{"certfile": missing, "keyfile": writeFile(t, "k.pem", keyPEM)}, wantErr: "ssl.certfile:"},
		{name: "garbage keyfile", ssl: map[string]any{"certfile": writeFile(t, "c.pem", certPEM), "keyfile": garbage}, wantErr: "ssl.keyfile:"},
		{name: "key of another certificate", ssl: map[string]any{"certfile": writeFile(t, "c.pem", certPEM), "keyfile": writeFile(t, "ca.pem", ca.pem)}, wantErr: "ssl.keyfile:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ssl["enable"] = true
			cfg := configFor(t, "https://127.0.0.1:1/auth", map[string]any{"ssl": tt.ssl})
			_, err := New(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// A config written back as JSON parses to the same config.
func TestConfigRoundTrip(t *testing.T) {
	cfg := parseTestConfig(t, `{"url":"http://h/a?u=${username}","method":"get","request_timeout":"750ms",
		"headers":{"X-A":"1"},"body":{"n":12345678901234567,"u":"${username}"},"ssl":{"enable":true,"verify":"verify_peer"}}`)
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again := parseTestConfig(t, string(raw))
	if !reflect.DeepEqual(cfg, again) {
		t.Errorf("round trip through %s:\n got %+v\nwant %+v", raw, again, cfg)
	}
}
