package rules

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn"
)

// compileJSON compiles a JSON rule list, failing the test on error.
func compileJSON(t testing.TB, js string) *Set {
	t.Helper()
	rules, err := ParseRules([]byte(js))
	if err != nil {
		t.Fatalf("ParseRules: %v", err)
	}
	s, err := Compile(rules)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

func peer(s string) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(s), 1234)
}

func pub(topic string) authn.Request { return authn.Request{Action: authn.Publish, Topic: topic} }
func sub(topic string) authn.Request { return authn.Request{Action: authn.Subscribe, Topic: topic} }

func TestCheck(t *testing.T) {
	alice := &authn.Client{ClientID: "dev1", Username: "alice", Peer: peer("10.1.2.3"),
		Listener: "stomp:tcp:default", Attrs: map[string]string{"site": "paris"}}
	tests := []struct {
		name      string
		rules     string
		client    *authn.Client
		req       authn.Request
		want      authn.Decision
		wantIndex int
	}{
		{name: "no rules", rules: `[]`, req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "no match", rules: `[{"permission":"allow","action":"all","topics":["a"]}]`,
			req: pub("b"), want: authn.Ignore, wantIndex: -1},
		{name: "allow", rules: `[{"permission":"allow","action":"all","topics":["a"]}]`,
			req: pub("a"), want: authn.Allow},
		{name: "deny", rules: `[{"permission":"deny","action":"all","topics":["a"]}]`,
			req: pub("a"), want: authn.Deny},
		{name: "first match wins", rules: `[
			{"permission":"allow","action":"all","topics":["x"]},
			{"permission":"deny","action":"all","topics":["a/#"]},
			{"permission":"allow","action":"all","topics":["a/b"]}]`,
			req: pub("a/b"), want: authn.Deny, wantIndex: 1},
		{name: "second topic of a rule", rules: `[{"permission":"allow","action":"all","topics":["x","y/+"]}]`,
			req: sub("y/z"), want: authn.Allow},
		{name: "no topics is every topic", rules: `[{"permission":"deny","action":"all"}]`,
			req: sub("$SYS/brokers"), want: authn.Deny},
		{name: "{allow, all} form", rules: `[{"permission":"allow","who":"all","action":"all","topics":[]}]`,
			req: pub("any/thing"), want: authn.Allow},

		// who
		{name: "username", rules: `[{"permission":"allow","who":{"username":"alice"},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "username other", rules: `[{"permission":"allow","who":{"username":"bob"},"action":"all"}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "username regex", rules: `[{"permission":"allow","who":{"username":{"re":"^al"}},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "username regex is unanchored", rules: `[{"permission":"allow","who":{"username":{"re":"lic"}},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "no username never matches", rules: `[{"permission":"allow","who":{"username":{"re":".*"}},"action":"all"}]`,
			client: &authn.Client{ClientID: "c"}, req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "clientid", rules: `[{"permission":"allow","who":{"clientid":"dev1"},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "clientid regex miss", rules: `[{"permission":"allow","who":{"clientid":{"re":"^dev[2-9]$"}},"action":"all"}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "ipaddr cidr", rules: `[{"permission":"allow","who":{"ipaddr":"10.0.0.0/8"},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "ipaddr cidr miss", rules: `[{"permission":"allow","who":{"ipaddr":"192.168.0.0/16"},"action":"all"}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "ipaddr single", rules: `[{"permission":"allow","who":{"ipaddr":"10.1.2.3"},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "ipaddr host bits cleared", rules: `[{"permission":"allow","who":{"ipaddr":"10.9.9.9/8"},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "ipaddr mapped peer", rules: `[{"permission":"allow","who":{"ipaddr":"10.0.0.0/8"},"action":"all"}]`,
			client: &authn.Client{Peer: peer("::ffff:10.1.2.3")}, req: pub("t"), want: authn.Allow},
		{name: "ipaddr mapped rule", rules: `[{"permission":"allow","who":{"ipaddr":"::ffff:10.0.0.0/104"},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "ipaddr v6", rules: `[{"permission":"allow","who":{"ipaddr":"2001:db8::/32"},"action":"all"}]`,
			client: &authn.Client{Peer: peer("2001:db8::7")}, req: pub("t"), want: authn.Allow},
		{name: "ipaddr v6 miss", rules: `[{"permission":"allow","who":{"ipaddr":"2001:db8::/32"},"action":"all"}]`,
			client: &authn.Client{Peer: peer("2001:db9::7")}, req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "ipaddr v6 zoned peer", rules: `[{"permission":"allow","who":{"ipaddr":"fe80::/10"},"action":"all"}]`,
			client: &authn.Client{Peer: peer("fe80::1%eth0")}, req: pub("t"), want: authn.Allow},
		{name: "ipaddr v4 rule v6 peer", rules: `[{"permission":"allow","who":{"ipaddr":"0.0.0.0/0"},"action":"all"}]`,
			client: &authn.Client{Peer: peer("2001:db8::7")}, req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "ipaddr no peer", rules: `[{"permission":"allow","who":{"ipaddr":"0.0.0.0/0"},"action":"all"}]`,
			client: &authn.Client{}, req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "ipaddrs", rules: `[{"permission":"allow","who":{"ipaddrs":["192.168.0.1","10.1.0.0/16"]},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "listener", rules: `[{"permission":"allow","who":{"listener":"stomp:tcp:default"},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "listener other", rules: `[{"permission":"allow","who":{"listener":"stomp:ssl:default"},"action":"all"}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "client_attr", rules: `[{"permission":"allow","who":{"client_attr":{"name":"site","value":"paris"}},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "client_attr regex", rules: `[{"permission":"allow","who":{"client_attr":{"name":"site","value":{"re":"^par"}}},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "client_attr missing", rules: `[{"permission":"allow","who":{"client_attr":{"name":"zone","value":{"re":""}}},"action":"all"}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "and", rules: `[{"permission":"allow","who":{"and":[{"username":"alice"},{"clientid":"dev1"}]},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "and one false", rules: `[{"permission":"allow","who":{"and":[{"username":"alice"},{"clientid":"dev2"}]},"action":"all"}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "or", rules: `[{"permission":"allow","who":{"or":[{"username":"bob"},{"ipaddr":"10.0.0.0/8"}]},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "or none", rules: `[{"permission":"allow","who":{"or":[{"username":"bob"},{"clientid":"x"}]},"action":"all"}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "nested", rules: `[{"permission":"allow","who":{"and":[{"or":[{"username":"bob"},{"username":"alice"}]},"all"]},"action":"all"}]`,
			req: pub("t"), want: authn.Allow},
		{name: "superuser gets no special treatment", rules: `[{"permission":"deny","action":"all"}]`,
			client: &authn.Client{IsSuperuser: true}, req: pub("t"), want: authn.Deny},

		// action, qos, retain
		{name: "publish rule, subscribe request", rules: `[{"permission":"allow","action":"publish"}]`,
			req: sub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "subscribe rule, publish request", rules: `[{"permission":"allow","action":"subscribe"}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "subscribe rule", rules: `[{"permission":"allow","action":"subscribe"}]`,
			req: sub("t"), want: authn.Allow},
		{name: "qos listed", rules: `[{"permission":"allow","action":"all","qos":[0,2]}]`,
			req: authn.Request{Action: authn.Publish, Topic: "t", QoS: 2}, want: authn.Allow},
		{name: "qos not listed", rules: `[{"permission":"allow","action":"all","qos":[0,2]}]`,
			req: authn.Request{Action: authn.Subscribe, Topic: "t", QoS: 1}, want: authn.Ignore, wantIndex: -1},
		{name: "qos beyond 2, no list", rules: `[{"permission":"allow","action":"all"}]`,
			req: authn.Request{Action: authn.Publish, Topic: "t", QoS: 3}, want: authn.Allow},
		{name: "qos beyond 2, full list", rules: `[{"permission":"allow","action":"all","qos":[0,1,2]}]`,
			req: authn.Request{Action: authn.Publish, Topic: "t", QoS: 3}, want: authn.Ignore, wantIndex: -1},
		{name: "retain false vs retained", rules: `[{"permission":"deny","action":"publish","retain":false}]`,
			req: authn.Request{Action: authn.Publish, Topic: "t", Retain: true}, want: authn.Ignore, wantIndex: -1},
		{name: "retain true vs retained", rules: `[{"permission":"deny","action":"publish","retain":true}]`,
			req: authn.Request{Action: authn.Publish, Topic: "t", Retain: true}, want: authn.Deny},
		{name: "retain true vs not retained", rules: `[{"permission":"deny","action":"publish","retain":true}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "retain on action all, publish", rules: `[{"permission":"deny","action":"all","retain":true}]`,
			req: pub("t"), want: authn.Ignore, wantIndex: -1},
		{name: "retain on action all, subscribe", rules: `[{"permission":"deny","action":"all","retain":true}]`,
			req: sub("t"), want: authn.Deny},
		{name: "retain all", rules: `[{"permission":"deny","action":"publish","retain":"all"}]`,
			req: authn.Request{Action: authn.Publish, Topic: "t", Retain: true}, want: authn.Deny},

		// topics
		{name: "placeholder", rules: `[{"permission":"allow","action":"all","topics":["d/${clientid}/#"]}]`,
			req: pub("d/dev1/up"), want: authn.Allow},
		{name: "placeholder other client", rules: `[{"permission":"allow","action":"all","topics":["d/${clientid}/#"]}]`,
			req: pub("d/dev2/up"), want: authn.Ignore, wantIndex: -1},
		{name: "placeholder username empty", rules: `[{"permission":"allow","action":"all","topics":["u/${username}"]}]`,
			client: &authn.Client{ClientID: "c"}, req: pub("u/"), want: authn.Ignore, wantIndex: -1},
		{name: "eq", rules: `[{"permission":"deny","action":"subscribe","topics":["eq #"]},{"permission":"allow","action":"all"}]`,
			req: sub("#"), want: authn.Deny},
		{name: "eq passes others", rules: `[{"permission":"deny","action":"subscribe","topics":["eq #"]},{"permission":"allow","action":"all"}]`,
			req: sub("a/#"), want: authn.Allow, wantIndex: 1},
		{name: "hash skips $SYS", rules: `[{"permission":"allow","action":"all","topics":["#"]}]`,
			req: sub("$SYS/#"), want: authn.Ignore, wantIndex: -1},
		{name: "named $SYS", rules: `[{"permission":"allow","action":"all","topics":["$SYS/#"]}]`,
			req: sub("$SYS/brokers/+/clients/#"), want: authn.Allow},
		{name: "subscribe a/# vs rule a/+", rules: `[{"permission":"allow","action":"subscribe","topics":["a/+"]}]`,
			req: sub("a/#"), want: authn.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := compileJSON(t, tt.rules)
			c := tt.client
			if c == nil {
				c = alice
			}
			d, index, err := s.Check(context.Background(), c, tt.req)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if d != tt.want || index != tt.wantIndex {
				t.Errorf("Check = %v, %d; want %v, %d", d, index, tt.want, tt.wantIndex)
			}
		})
	}
}

func TestCheckEdges(t *testing.T) {
	ctx := context.Background()
	var nilSet *Set
	if d, i, err := nilSet.Check(ctx, &authn.Client{}, pub("t")); d != authn.Ignore || i != -1 || err != nil {
		t.Errorf("nil set: %v, %d, %v", d, i, err)
	}
	s := compileJSON(t, `[{"permission":"allow","who":{"username":{"re":""}},"action":"all","topics":["${clientid}"]}]`)
	if d, i, err := s.Check(ctx, nil, pub("t")); d != authn.Ignore || i != -1 || err != nil {
		t.Errorf("nil client: %v, %d, %v", d, i, err)
	}
	if _, _, err := s.Check(ctx, &authn.Client{}, authn.Request{Topic: "t"}); err == nil {
		t.Error("unknown action: want an error")
	}
	if s.Len() != 1 || nilSet.Len() != 0 {
		t.Errorf("Len = %d, %d", s.Len(), nilSet.Len())
	}
}

func TestCompileGoRules(t *testing.T) {
	// Rules built in Go, not decoded, meet the same checks.
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{"two conditions", Rule{Permission: PermissionAllow, Action: ActionAll,
			Who: Who{Username: &StringMatch{Value: "u"}, Listener: "l"}}, "rules[0].who: has more than one condition"},
		{"bad retain", Rule{Permission: PermissionAllow, Action: ActionAll, Retain: 7}, "rules[0].retain: 7 is not"},
		{"qos", Rule{Permission: PermissionAllow, Action: ActionAll, QoS: []int{-1}}, "rules[0].qos[0]: -1 is not 0, 1 or 2"},
		{"empty attr name", Rule{Permission: PermissionAllow, Action: ActionAll,
			Who: Who{ClientAttr: &AttrMatch{Value: StringMatch{Value: "v"}}}}, "rules[0].who.client_attr.name: required"},
		{"deep nesting", Rule{Permission: PermissionAllow, Action: ActionAll, Who: nestedWho(maxWhoDepth + 2)}, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]Rule{tt.rule})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func nestedWho(depth int) Who {
	w := Who{Username: &StringMatch{Value: "u"}}
	for range depth {
		w = Who{And: []Who{w}}
	}
	return w
}
