package rules

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRules(t *testing.T) {
	got, err := ParseRules([]byte(`[
		{"permission":"allow","who":{"and":[{"username":{"re":"^u"}},{"ipaddrs":["10.0.0.0/8"]}]},
		 "action":"publish","qos":[0,1],"retain":false,"topics":["t/${clientid}","eq a/#"],"comment":"c"},
		{"permission":"deny","action":"all"},
		{"permission":"allow","who":{"client_attr":{"name":"n","value":"v"}},"action":"subscribe","retain":"all","topics":[]}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Permission: PermissionAllow, Who: Who{And: []Who{
			{Username: &StringMatch{Value: "^u", Re: true}}, {IPAddrs: []string{"10.0.0.0/8"}}}},
			Action: ActionPublish, QoS: []int{0, 1}, Retain: RetainFalse, Topics: []string{"t/${clientid}", "eq a/#"}, Comment: "c"},
		{Permission: PermissionDeny, Action: ActionAll},
		{Permission: PermissionAllow, Who: Who{ClientAttr: &AttrMatch{Name: "n", Value: StringMatch{Value: "v"}}},
			Action: ActionSubscribe, Topics: []string{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseRules =\n%#v\nwant\n%#v", got, want)
	}
}

func TestMarshalRule(t *testing.T) {
	r := Rule{Permission: PermissionAllow, Who: Who{ClientID: &StringMatch{Value: "^d", Re: true}},
		Action: ActionPublish, QoS: []int{1}, Retain: RetainTrue, Topics: []string{"a/#"}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"permission":"allow","who":{"clientid":{"re":"^d"}},"action":"publish","qos":[1],"retain":true,"topics":["a/#"]}`
	if string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
	b, _ = json.Marshal(Rule{Permission: PermissionDeny, Action: ActionAll})
	if want := `{"permission":"deny","who":"all","action":"all","topics":[]}`; string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	rules := sampleRules()
	b, err := json.Marshal(rules)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRules(b)
	if err != nil {
		t.Fatalf("ParseRules(%s): %v", b, err)
	}
	again, _ := json.Marshal(got)
	if string(again) != string(b) {
		t.Errorf("round trip changed the rules:\n%s\n%s", b, again)
	}
	// Decoding inside a larger document goes through Rule.UnmarshalJSON.
	var doc struct{ Rules []Rule }
	if err := json.Unmarshal([]byte(`{"Rules":`+string(b)+`}`), &doc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc.Rules, got) {
		t.Error("json.Unmarshal and ParseRules disagree")
	}
}

func TestParseRulesErrors(t *testing.T) {
	const ok = `{"permission":"allow","action":"all"}`
	tests := []struct {
		name string
		js   string
		want string
	}{
		{"not an array", `{"rules":[]}`, "rules: must be a JSON array"},
		{"null", `null`, "rules: must be a JSON array"},
		{"invalid JSON", `[{]`, "rules: invalid JSON"},
		{"rule not an object", `[` + ok + `,"allow"]`, "rules[1]: must be an object"},
		{"unknown who key", `[` + ok + `,` + ok + `,` + ok + `,{"permission":"allow","action":"all","who":{"usr":"x"}}]`,
			`rules[3].who: unknown key "usr"`},
		{"unknown rule key", `[{"permission":"allow","action":"all","permision":"x"}]`, `rules[0]: unknown key "permision"`},
		{"keys are case-sensitive", `[{"Permission":"allow","action":"all"}]`, `rules[0]: unknown key "Permission"`},
		{"repeated key", `[{"permission":"allow","action":"all","permission":"deny"}]`, `rules[0]: repeated key "permission"`},
		{"permission missing", `[{"action":"all"}]`, "rules[0].permission: required"},
		{"permission value", `[{"permission":"accept","action":"all"}]`, `rules[0].permission: "accept" is not "allow" or "deny"`},
		{"permission null", `[{"permission":null,"action":"all"}]`, "rules[0].permission: must be a string"},
		{"action missing", `[{"permission":"allow"}]`, "rules[0].action: required"},
		{"action value", `[{"permission":"allow","action":"pubsub"}]`, `rules[0].action: "pubsub" is not "publish", "subscribe" or "all"`},
		{"qos range", `[{"permission":"allow","action":"all","qos":[0,3]}]`, "rules[0].qos[1]: 3 is not 0, 1 or 2"},
		{"qos type", `[{"permission":"allow","action":"all","qos":["1"]}]`, "rules[0].qos[0]: must be an integer"},
		{"qos not a list", `[{"permission":"allow","action":"all","qos":1}]`, "rules[0].qos: must be an array"},
		{"retain value", `[{"permission":"allow","action":"all","retain":"yes"}]`, `rules[0].retain: must be true, false or "all"`},
		{"retain on subscribe", `[{"permission":"allow","action":"subscribe","retain":true}]`, "rules[0].retain: applies to publish only"},
		{"topics not a list", `[{"permission":"allow","action":"all","topics":"a/#"}]`, "rules[0].topics: must be an array"},
		{"topics null", `[{"permission":"allow","action":"all","topics":null}]`, "rules[0].topics: must be an array"},
		{"topic not a string", `[{"permission":"allow","action":"all","topics":["a",1]}]`, "rules[0].topics[1]: must be a string"},
		{"empty topic", `[{"permission":"allow","action":"all","topics":["a",""]}]`, "rules[0].topics[1]: empty topic"},
		{"hash not last", `[{"permission":"allow","action":"all","topics":["a/#/b"]}]`,
			`rules[0].topics[0]: invalid filter "a/#/b": "#" must be the last level`},
		{"plus in a level", `[{"permission":"allow","action":"all","topics":["a+"]}]`,
			`rules[0].topics[0]: invalid filter "a+": "+" and "#" must fill a whole level`},
		{"unknown placeholder", `[{"permission":"allow","action":"all","topics":["${zone}/x"]}]`,
			"rules[0].topics[0]: invalid filter \"${zone}/x\": unknown placeholder ${zone}"},
		{"who string", `[{"permission":"allow","action":"all","who":"everyone"}]`, `rules[0].who: "everyone" is not "all"`},
		{"who number", `[{"permission":"allow","action":"all","who":1}]`, `rules[0].who: must be "all" or an object`},
		{"who empty", `[{"permission":"allow","action":"all","who":{}}]`, "rules[0].who: is an empty object"},
		{"who two keys", `[{"permission":"allow","action":"all","who":{"username":"u","clientid":"c"}}]`,
			"rules[0].who: has more than one key"},
		{"bad regex", `[{"permission":"allow","action":"all","who":{"username":{"re":"("}}}]`,
			"rules[0].who.username.re: bad regex"},
		{"re object key", `[{"permission":"allow","action":"all","who":{"username":{"regex":"x"}}}]`,
			`rules[0].who.username: unknown key "regex"`},
		{"re object empty", `[{"permission":"allow","action":"all","who":{"username":{}}}]`,
			`rules[0].who.username: must be a string or {"re": "regex"}`},
		{"empty username", `[{"permission":"allow","action":"all","who":{"username":""}}]`,
			"rules[0].who.username: must not be empty"},
		{"bad cidr", `[{"permission":"allow","action":"all","who":{"ipaddr":"10.0.0.0/33"}}]`,
			`rules[0].who.ipaddr: bad address "10.0.0.0/33"`},
		{"bad address", `[{"permission":"allow","action":"all","who":{"ipaddr":"localhost"}}]`,
			`rules[0].who.ipaddr: bad address "localhost"`},
		{"empty ipaddr", `[{"permission":"allow","action":"all","who":{"ipaddr":""}}]`, "rules[0].who.ipaddr: must not be empty"},
		{"ipaddrs element", `[{"permission":"allow","action":"all","who":{"ipaddrs":["10.0.0.1","x"]}}]`,
			`rules[0].who.ipaddrs[1]: bad address "x"`},
		{"ipaddrs empty", `[{"permission":"allow","action":"all","who":{"ipaddrs":[]}}]`, "rules[0].who.ipaddrs: must not be empty"},
		{"listener empty", `[{"permission":"allow","action":"all","who":{"listener":""}}]`, "rules[0].who.listener: must not be empty"},
		{"client_attr name", `[{"permission":"allow","action":"all","who":{"client_attr":{"value":"v"}}}]`,
			"rules[0].who.client_attr.name: required"},
		{"client_attr key", `[{"permission":"allow","action":"all","who":{"client_attr":{"name":"n","val":"v"}}}]`,
			`rules[0].who.client_attr: unknown key "val"`},
		{"client_attr regex", `[{"permission":"allow","action":"all","who":{"client_attr":{"name":"n","value":{"re":"["}}}}]`,
			"rules[0].who.client_attr.value.re: bad regex"},
		{"and empty", `[{"permission":"allow","action":"all","who":{"and":[]}}]`, "rules[0].who.and: must not be empty"},
		{"and element", `[{"permission":"allow","action":"all","who":{"and":["all",{"clientid":{"re":"("}}]}}]`,
			"rules[0].who.and[1].clientid.re: bad regex"},
		{"or element key", `[{"permission":"allow","action":"all","who":{"or":[{"or":[{"user":"u"}]}]}}]`,
			`rules[0].who.or[0].or[0]: unknown key "user"`},
		{"nested too deep", `[{"permission":"allow","action":"all","who":` + strings.Repeat(`{"and":[`, 40) + `"all"` + strings.Repeat(`]}`, 40) + `}]`,
			"nested more than 32 deep"},
		{"comment type", `[{"permission":"allow","action":"all","comment":5}]`, "rules[0].comment: must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules([]byte(tt.js))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseRules = %v\nwant an error containing %q", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "rules") {
				t.Errorf("error %#v is not a *FieldError under rules", err)
			}
		})
	}
}

// sampleRules uses every feature of the model once.
func sampleRules() []Rule {
	return []Rule{
		{Permission: PermissionAllow, Who: Who{Username: &StringMatch{Value: "^dashboard$", Re: true}},
			Action: ActionSubscribe, Topics: []string{"$SYS/#"}, Comment: "dashboard watches the broker"},
		{Permission: PermissionAllow, Who: Who{IPAddr: "127.0.0.1"}, Action: ActionAll, Topics: []string{"$SYS/#", "#"}},
		{Permission: PermissionDeny, Action: ActionSubscribe, Topics: []string{"$SYS/#", "eq #", "eq +/#"}},
		{Permission: PermissionAllow, Who: Who{And: []Who{{Username: &StringMatch{Value: "u"}}, {ClientID: &StringMatch{Value: "c"}}}},
			Action: ActionPublish, QoS: []int{0, 1}, Retain: RetainFalse, Topics: []string{"t/${clientid}"}},
		{Permission: PermissionAllow, Who: Who{Or: []Who{{IPAddrs: []string{"10.0.0.0/8", "fd00::/8"}}, {Listener: "stomp:tcp:default"}, {}}},
			Action: ActionAll, Retain: RetainTrue, Topics: []string{"r/+"}},
		{Permission: PermissionDeny, Who: Who{ClientAttr: &AttrMatch{Name: "site", Value: StringMatch{Value: "^par", Re: true}}},
			Action: ActionSubscribe, QoS: []int{2}, Comment: "line one\n\n  indented line\n%% percent"},
		{Permission: PermissionAllow, Who: Who{ClientID: &StringMatch{Value: "quote\" back\\slash tab\t nl\n ctl\x01 utf8 é ☺"}},
			Action: ActionAll, Topics: []string{"eq a b", "u/${username}/${client_attrs.site}-${cert_common_name}"}},
		{Permission: PermissionAllow, Action: ActionAll},
	}
}
