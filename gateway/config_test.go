package gateway_test

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xgate/xgate/gateway"
)

func TestConfigJSONFlattensProtocolFields(t *testing.T) {
	in := `{"name":"stomp","enable":true,"mountpoint":"m/","idle_timeout":"15s",
		"frame":{"max_headers":20},"ack_window":8,
		"listeners":[{"name":"default","type":"tcp","bind":"61613"}]}`
	c := gateway.DefaultConfig("")
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if c.Name != "stomp" || c.Mountpoint != "m/" || c.IdleTimeout.D() != 15*time.Second || !c.EnableStats {
		t.Fatalf("common fields: %+v", c)
	}
	if string(c.Settings) != `{"ack_window":8,"frame":{"max_headers":20}}` {
		t.Fatalf("settings %s", c.Settings)
	}
	l := c.Listeners[0]
	if l.MaxConnections != 1024 || l.MaxConnRate != 1000 || !l.Enable || !l.EnableAuthn {
		t.Fatalf("listener defaults not applied: %+v", l)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back := gateway.DefaultConfig("")
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if string(back.Settings) != string(c.Settings) || back.Mountpoint != c.Mountpoint || len(back.Listeners) != 1 {
		t.Fatalf("round trip: %s", out)
	}
}

func TestConfigStrictListeners(t *testing.T) {
	c := gateway.DefaultConfig("x")
	err := json.Unmarshal([]byte(`{"listeners":[{"name":"a","type":"tcp","bind":"1","bogus":1}]}`), &c)
	if err == nil || !strings.Contains(err.Error(), `listeners[0]: json: unknown field "bogus"`) {
		t.Fatalf("got %v", err)
	}
}

func TestListenerValidate(t *testing.T) {
	ok := gateway.DefaultListener()
	ok.Type, ok.Bind = gateway.TCP, "61613"
	for _, tc := range []struct {
		name   string
		mutate func(*gateway.ListenerConfig)
		want   string
	}{
		{"valid", func(*gateway.ListenerConfig) {}, ""},
		{"bad type", func(l *gateway.ListenerConfig) { l.Type = "quic" }, `type: "quic" is not one of`},
		{"no bind", func(l *gateway.ListenerConfig) { l.Bind = "" }, "bind: required"},
		{"port range", func(l *gateway.ListenerConfig) { l.Bind = "70000" }, "bind: port 70000 out of range"},
		{"bad bind", func(l *gateway.ListenerConfig) { l.Bind = "nope" }, `bind: "nope" is not a port or host:port`},
		{"name with colon", func(l *gateway.ListenerConfig) { l.Name = "a:b" }, "name:"},
		{"ssl without options", func(l *gateway.ListenerConfig) { l.Type = gateway.SSL }, "ssl_options: required"},
		{"verify_peer without CA", func(l *gateway.ListenerConfig) {
			l.Type = gateway.SSL
			l.SSLOptions = &gateway.TLSConfig{CertFile: "c", KeyFile: "k", Verify: "verify_peer"}
		}, "cacertfile: required"},
		{"negative max", func(l *gateway.ListenerConfig) { l.MaxConnections = -1 }, "max_connections"},
		{"bad rule", func(l *gateway.ListenerConfig) { l.AccessRules = []string{"permit all"} }, "access_rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ok
			tc.mutate(&l)
			err := l.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAddress(t *testing.T) {
	for bind, want := range map[string]string{"61613": "0.0.0.0:61613", ":1": "0.0.0.0:1", "127.0.0.1:5": "127.0.0.1:5", "[::1]:7": "[::1]:7"} {
		l := gateway.ListenerConfig{Bind: bind}
		if got, err := l.Address(); err != nil || got != want {
			t.Errorf("%s: got %s %v, want %s", bind, got, err, want)
		}
	}
}

func TestAccessRules(t *testing.T) {
	rules, err := gateway.ParseAccessRules([]string{"deny 192.168.1.1", "allow 192.168.1.0/24", "deny all"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"192.168.1.1": false, "192.168.1.9": true, "10.0.0.1": false, "::ffff:192.168.1.9": true} {
		if got := gateway.Allowed(rules, netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: got %v", addr, got)
		}
	}
	if !gateway.Allowed(nil, netip.MustParseAddr("1.2.3.4")) {
		t.Error("no rules must allow")
	}
}

func TestDuration(t *testing.T) {
	var d gateway.Duration
	for in, want := range map[string]time.Duration{`"30s"`: 30 * time.Second, `"1m30s"`: 90 * time.Second, `1500`: 1500 * time.Millisecond} {
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.D() != want {
			t.Errorf("%s: got %v %v", in, d.D(), err)
		}
	}
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil {
		t.Error("bad duration accepted")
	}
}

func TestMountpoint(t *testing.T) {
	ci := &gateway.ClientInfo{}
	ci.ClientID, ci.Username = "c1", "u1"
	ci.Peer = netip.MustParseAddrPort("10.1.2.3:5000")
	ci.Attrs = map[string]string{"endpoint_name": "ep1", "site": "berlin"}
	for _, tc := range []struct{ tmpl, want string }{
		{"", ""},
		{"plain/", "plain/"},
		{"gw/${clientid}/${username}/", "gw/c1/u1/"},
		{"${endpoint_name}/${peerhost}/", "ep1/10.1.2.3/"},
		{"${client_attrs.site}/${client_attrs.none}/", "berlin//"},
		{"${zone}/${unknown", "${zone}/${unknown"},
	} {
		if got := gateway.ExpandMountpoint(tc.tmpl, ci); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.tmpl, got, tc.want)
		}
	}
	for _, tc := range []struct{ mp, topic, want string }{
		{"", "a/b", "a/b"},
		{"m/", "a/b", "m/a/b"},
		{"m/", "$share/g/a/#", "$share/g/m/a/#"},
	} {
		if got := gateway.Mount(tc.mp, tc.topic); got != tc.want {
			t.Errorf("Mount(%q,%q) = %q", tc.mp, tc.topic, got)
		}
	}
	if got := gateway.Unmount("m/", "m/a"); got != "a" {
		t.Errorf("Unmount: %q", got)
	}
}

// FuzzExpand checks the expander against a regular-expression reference: every "${name}"
// with a known name is replaced, anything else stays as written.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "a/${clientid}/", "${", "${}", "}${username}${", "${client_attrs.}", "$${peerhost}}", "${${clientid}}"} {
		f.Add(s)
	}
	ci := &gateway.ClientInfo{}
	ci.ClientID, ci.Username = "c", "u"
	ci.Attrs = map[string]string{"endpoint_name": "ep", "k": "v"}
	known := map[string]string{"clientid": "c", "username": "u", "peerhost": "", "endpoint_name": "ep", "client_attrs.k": "v"}
	ref := regexp.MustCompile(`\$\{[^}]*\}`)
	f.Fuzz(func(t *testing.T, tmpl string) {
		want := ref.ReplaceAllStringFunc(tmpl, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := known[name]; ok {
				return v
			}
			if strings.HasPrefix(name, "client_attrs.") {
				return ""
			}
			return m
		})
		if got := gateway.ExpandMountpoint(tmpl, ci); got != want {
			t.Fatalf("%q: got %q, want %q", tmpl, got, want)
		}
	})
}
