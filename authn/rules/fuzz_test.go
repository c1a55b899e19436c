package rules

import (
	"context"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn"
)

var fuzzClients = []*authn.Client{
	{},
	{ClientID: "dev1", Username: "alice", Peer: netip.MustParseAddrPort("10.1.2.3:5000"),
		Listener: "stomp:tcp:default", Attrs: map[string]string{"site": "paris"}, CertCommonName: "cn"},
	{ClientID: "+", Username: "#", Peer: netip.MustParseAddrPort("[fe80::1%eth0]:1")},
}

var fuzzRequests = []authn.Request{
	{Action: authn.Publish, Topic: "a/b"},
	{Action: authn.Subscribe, Topic: "#", QoS: 2},
	{Action: authn.Publish, Topic: "$SYS/x", Retain: true, QoS: 1},
	{Action: authn.Subscribe, Topic: "d/dev1/+"},
}

// FuzzParseACLFile checks that the reader never panics, that whatever it accepts compiles
// and can be checked, and that printing the rules with ACL reads back the same rules.
func FuzzParseACLFile(f *testing.F) {
	f.Add(exampleACL)
	for _, r := range sampleRules() {
		f.Add(r.ACL())
	}
	f.Add(`{allow, {client_attr, "n", {re, "x"}}, {all, [{qos, 1}]}, [<<"a", "b">>, "eq x"]}.`)
	f.Add("{allow, {user, \"\\x{263A}\\101\\^a\"}, all, all}. % c\n")
	f.Fuzz(func(t *testing.T, text string) {
		rules, err := ParseACLFile(text)
		if err != nil {
			return
		}
		s, err := Compile(rules)
		if err != nil {
			t.Fatalf("ParseACLFile accepted rules Compile refuses: %v", err)
		}
		for _, c := range fuzzClients {
			for _, r := range fuzzRequests {
				if _, _, err := s.Check(context.Background(), c, r); err != nil {
					t.Fatal(err)
				}
			}
		}
		var printed strings.Builder
		for _, r := range rules {
			printed.WriteString(r.ACL() + "\n")
		}
		again, err := ParseACLFile(printed.String())
		if err != nil {
			t.Fatalf("printed rules do not parse: %v\n%s", err, printed.String())
		}
		if !reflect.DeepEqual(again, rules) {
			t.Fatalf("printed rules read back differently:\n%s\n%#v\n%#v", printed.String(), rules, again)
		}
	})
}

// FuzzCheck builds a rule from random parts and checks that Check never panics and agrees
// with refMatch, the reference reading of EMQX's matcher.
func FuzzCheck(f *testing.F) {
	f.Add("a/+", "a/#", "dev1", "alice", uint8(1), uint8(0), false)
	f.Add("#", "$SYS/x", "", "", uint8(0), uint8(1), true)
	f.Add("d/${clientid}/#", "d/dev1/x", "dev1", "", uint8(0), uint8(2), false)
	f.Add("eq +/#", "+/#", "c", "u", uint8(1), uint8(0), false)
	f.Add("x/pre-${username}-${clientid}", "x/pre-u-c", "c", "u", uint8(0), uint8(0), true)
	f.Add("+/${client_attrs.k}", "a/v", "c", "u", uint8(1), uint8(3), false)
	f.Fuzz(func(t *testing.T, filter, topic, clientID, username string, action, qos uint8, retain bool) {
		rule := Rule{Permission: PermissionAllow, Action: ActionAll, Topics: []string{filter}}
		if action&2 != 0 {
			rule.Who = Who{Username: &StringMatch{Value: username, Re: true}}
		}
		s, err := Compile([]Rule{rule})
		if err != nil {
			return
		}
		c := &authn.Client{ClientID: clientID, Username: username, Attrs: map[string]string{"k": username}}
		req := authn.Request{Action: authn.Publish, Topic: topic, QoS: qos, Retain: retain}
		if action&1 != 0 {
			req.Action = authn.Subscribe
		}
		d, index, err := s.Check(context.Background(), c, req)
		if err != nil {
			t.Fatal(err)
		}
		want := refMatch(topic, filter, c) && (action&2 == 0 || username != "" && s.rules[0].who.str.re.MatchString(username))
		if got := d == authn.Allow; got != want || got != (index == 0) {
			t.Fatalf("filter %q topic %q client %q/%q: Check = %v, %d; reference says %v", filter, topic, clientID, username, d, index, want)
		}
	})
}

// FuzzParseRules checks that JSON decoding never panics, that what it accepts compiles,
// and that encoding reaches a fixed point.
func FuzzParseRules(f *testing.F) {
	b, _ := json.Marshal(sampleRules())
	f.Add(string(b))
	f.Add(`[{"permission":"allow","who":{"or":[{"client_attr":{"name":"n","value":{"re":"x"}}}]},"action":"all","qos":[1],"retain":"all"}]`)
	f.Add(`[{"permission":"deny","action":"subscribe","topics":["eq #"],"comment":""}]`)
	f.Fuzz(func(t *testing.T, js string) {
		rules, err := ParseRules([]byte(js))
		if err != nil {
			return
		}
		if _, err := Compile(rules); err != nil {
			t.Fatalf("ParseRules accepted rules Compile refuses: %v", err)
		}
		out, err := json.Marshal(rules)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRules(out)
		if err != nil {
			t.Fatalf("encoded rules do not decode: %v\n%s", err, out)
		}
		if out2, _ := json.Marshal(again); string(out2) != string(out) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
		}
	})
}
