package rules

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const exampleACL = `%%--------------------------------------------------------------------
%% Example acl.conf
%%--------------------------------------------------------------------

%% dashboard
{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}. % trailing comments are dropped
{deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.
%% per-device topics
%%   publish only, QoS 0 or 1
{allow, {'and', [{user, "u"}, {client, "c"}]}, {publish, [{qos, [0,1]}, {retain, false}]}, ["t/${clientid}"]}.

{allow, all}.
`

func TestParseACLFile(t *testing.T) {
	got, err := ParseACLFile(exampleACL)
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Permission: PermissionAllow, Who: Who{Username: &StringMatch{Value: "^dashboard$", Re: true}},
			Action: ActionSubscribe, Topics: []string{"$SYS/#"}, Comment: "dashboard"},
		{Permission: PermissionAllow, Who: Who{IPAddr: "127.0.0.1"}, Action: ActionAll, Topics: []string{"$SYS/#", "#"}},
		{Permission: PermissionDeny, Action: ActionSubscribe, Topics: []string{"$SYS/#", "eq #", "eq +/#"}},
		{Permission: PermissionAllow, Who: Who{And: []Who{{Username: &StringMatch{Value: "u"}}, {ClientID: &StringMatch{Value: "c"}}}},
			Action: ActionPublish, QoS: []int{0, 1}, Retain: RetainFalse, Topics: []string{"t/${clientid}"},
			Comment: "per-device topics\n  publish only, QoS 0 or 1"},
		{Permission: PermissionAllow, Action: ActionAll},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseACLFile =\n%#v\nwant\n%#v", got, want)
	}
	if _, err := Compile(got); err != nil {
		t.Errorf("Compile: %v", err)
	}
}

func TestParseACLFileForms(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Rule
	}{
		{"clientid regex", `{deny, {clientid, {re, "^x"}}, publish, ["a"]}.`,
			Rule{Permission: PermissionDeny, Who: Who{ClientID: &StringMatch{Value: "^x", Re: true}}, Action: ActionPublish, Topics: []string{"a"}}},
		{"ipaddrs", `{allow, {ipaddrs, ["10.0.0.0/8", "::1"]}, all, ["a"]}.`,
			Rule{Permission: PermissionAllow, Who: Who{IPAddrs: []string{"10.0.0.0/8", "::1"}}, Action: ActionAll, Topics: []string{"a"}}},
		{"listener", `{allow, {listener, "stomp:tcp:default"}, all, ["a"]}.`,
			Rule{Permission: PermissionAllow, Who: Who{Listener: "stomp:tcp:default"}, Action: ActionAll, Topics: []string{"a"}}},
		{"client_attr", `{allow, {client_attr, "site", {re, "^p"}}, all, ["a"]}.`,
			Rule{Permission: PermissionAllow, Who: Who{ClientAttr: &AttrMatch{Name: "site", Value: StringMatch{Value: "^p", Re: true}}},
				Action: ActionAll, Topics: []string{"a"}}},
		{"or, unquoted", `{allow, {or, [{user, "a"}, all]}, all, ["a"]}.`,
			Rule{Permission: PermissionAllow, Who: Who{Or: []Who{{Username: &StringMatch{Value: "a"}}, {}}}, Action: ActionAll, Topics: []string{"a"}}},
		{"single qos, repeated option", `{allow, all, {subscribe, [{qos, 1}, {qos, [2]}]}, ["a"]}.`,
			Rule{Permission: PermissionAllow, Action: ActionSubscribe, QoS: []int{1, 2}, Topics: []string{"a"}}},
		{"retain on subscribe is ignored, as in EMQX", `{allow, all, {subscribe, [{retain, true}]}, ["a"]}.`,
			Rule{Permission: PermissionAllow, Action: ActionSubscribe, Topics: []string{"a"}}},
		{"retain all, empty options", `{allow, all, {all, [{retain, all}]}, ["a"]}.`,
			Rule{Permission: PermissionAllow, Action: ActionAll, Topics: []string{"a"}}},
		{"eq string", `{deny, all, subscribe, ["eq #"]}.`,
			Rule{Permission: PermissionDeny, Action: ActionSubscribe, Topics: []string{"eq #"}}},
		{"all topics extension", `{deny, {username, "u"}, publish, all}.`,
			Rule{Permission: PermissionDeny, Who: Who{Username: &StringMatch{Value: "u"}}, Action: ActionPublish}},
		{"deny all", `{deny, all}.`, Rule{Permission: PermissionDeny, Action: ActionAll}},
		{"byte order mark, CRLF", "\ufeff%% c\r\n{deny, all}.\r\n", Rule{Permission: PermissionDeny, Action: ActionAll, Comment: "c"}},
		{"binaries", `{allow, {username, <<"u">>}, all, [<<"a/", "b">>, <<>>]}.`,
			Rule{Permission: PermissionAllow, Who: Who{Username: &StringMatch{Value: "u"}}, Action: ActionAll, Topics: []string{"a/b", ""}}},
		{"adjacent strings", `{allow, all, all, ["a/" "b" % split
			"/c"]}.`, Rule{Permission: PermissionAllow, Action: ActionAll, Topics: []string{"a/b/c"}}},
		{"escapes", `{allow, {username, "q\"b\\n\nt\tx\x41\x{263A}\101\s\^a\z"}, all, ["a"]}.`,
			Rule{Permission: PermissionAllow, Who: Who{Username: &StringMatch{Value: "q\"b\\n\nt\txA☺A \x01z"}}, Action: ActionAll, Topics: []string{"a"}}},
		{"quoted atoms", `{'allow', 'all', 'publish', ["a"]}.`,
			Rule{Permission: PermissionAllow, Action: ActionPublish, Topics: []string{"a"}}},
		{"spread over lines", "{allow,\n  {user, \"u\"},\n  publish,\n  [\"a\"]\n}\n.",
			Rule{Permission: PermissionAllow, Who: Who{Username: &StringMatch{Value: "u"}}, Action: ActionPublish, Topics: []string{"a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want.Topics != nil && tt.want.Topics[len(tt.want.Topics)-1] == "" {
				// An empty topic is refused by validation; check the reader alone.
				r := newTermReader(tt.text)
				term, err := r.readForm()
				if err != nil {
					t.Fatal(err)
				}
				got, err := termToRule(term)
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("termToRule = %#v, %v\nwant %#v", got, err, tt.want)
				}
				return
			}
			got, err := ParseACLFile(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("ParseACLFile =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestParseACLFileErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"missing dot", `{allow, all}`, `line 1: expected "." after the rule, got end of file`},
		{"missing dot before next", "{allow, all}\n{deny, all}.", `line 2: expected "." after the rule, got "{deny,"`},
		{"not a tuple", `allow.`, "line 1: expected a rule {allow|deny, Who, Action, Topics} or {allow|deny, all}, got the atom allow"},
		{"three elements", `{allow, all, all}.`, "line 1: expected a rule {allow|deny, Who, Action, Topics}"},
		{"permission", "\n\n{alow, all}.", "line 3: expected allow or deny, got the atom alow"},
		{"two-element form", `{allow, {user, "u"}}.`, "line 1: expected all in a two-element rule, got a tuple of 2 elements"},
		{"who", "{allow,\n {usr, \"u\"}, all, [\"a\"]}.", "line 2: expected a client condition (all, {username, ...}"},
		{"who arity", `{allow, {user, "u", "v"}, all, ["a"]}.`, "line 1: expected {username, Value}, got a tuple of 3 elements"},
		{"who value", `{allow, {user, u}, all, ["a"]}.`, `line 1: expected a string or {re, "regex"}, got the atom u`},
		{"zone", `{allow, {zone, "z"}, all, ["a"]}.`, "line 1: {zone, ...} is not supported"},
		{"and not a list", `{allow, {'and', {user, "u"}}, all, ["a"]}.`, "line 1: expected a non-empty list of client conditions"},
		{"and empty", `{allow, {'and', []}, all, ["a"]}.`, "line 1: expected a non-empty list of client conditions"},
		{"ipaddrs element", `{allow, {ipaddrs, ["1.2.3.4", 5]}, all, ["a"]}.`, "line 1: expected a list of address strings, got the integer 5"},
		{"bad cidr", `{allow, {ipaddr, "1.2.3.4/40"}, all, ["a"]}.`, `line 1: who.ipaddr: bad address "1.2.3.4/40"`},
		{"bad regex", "\n{allow, {user, {re, \"(?<=x)\"}}, all, [\"a\"]}.", "line 2: who.username.re: bad regex"},
		{"action", `{allow, all, publsh, ["a"]}.`, "line 1: expected publish, subscribe, all or {Action, [{qos, ...}, {retain, ...}]}, got the atom publsh"},
		{"pubsub", `{allow, all, pubsub, ["a"]}.`, "line 1: pubsub is EMQX 4 syntax: write all"},
		{"action option", `{allow, all, {publish, [{qs, 1}]}, ["a"]}.`, "line 1: expected an action option {qos, ...} or {retain, ...}"},
		{"qos value", `{allow, all, {publish, [{qos, 3}]}, ["a"]}.`, "line 1: qos[0]: 3 is not 0, 1 or 2"},
		{"qos empty", `{allow, all, {publish, [{qos, []}]}, ["a"]}.`, "line 1: expected a QoS 0, 1 or 2 or a non-empty list of them"},
		{"retain value", `{allow, all, {publish, [{retain, yes}]}, ["a"]}.`, "line 1: expected true, false or all, got the atom yes"},
		{"topics not a list", `{allow, all, all, "a"}.`, `line 1: expected a list of topics, such as ["t/#", {eq, "t"}], got the string "a"`},
		{"topics empty", `{allow, all, all, []}.`, "line 1: empty topic list, which EMQX never matches"},
		{"topic element", `{allow, all, all, [{re, "a"}]}.`, `line 1: expected a topic string or {eq, "topic"}, got a tuple of 2 elements`},
		{"bad filter", "%% c\n{allow, all, all, [\"a/#/b\"]}.", `line 2: topics[0]: invalid filter "a/#/b": "#" must be the last level`},
		{"empty eq", `{allow, all, all, [{eq, ""}]}.`, `line 1: topics[0]: empty topic after "eq "`},
		{"unterminated string", "{allow, {user, \"u}, all, [\"a\"]}.\n", "line 1: expected"},
		{"unterminated string at end", "{allow, {user, \"u", "line 1: unterminated string"},
		{"unterminated atom", "{'allow", "line 1: unterminated quoted atom"},
		{"variable", `{allow, User, all, ["a"]}.`, `line 1: expected a term, got the variable "User": strings take double quotes`},
		{"stray character", `{allow, all, all, [-1]}.`, `line 1: expected a term, got "-1]}."`},
		{"bad hex escape", `{allow, {user, "\xZZ"}, all, ["a"]}.`, `line 1: bad \x escape "ZZ"`},
		{"hex escape too big", `{allow, {user, "\x{110000}"}, all, ["a"]}.`, `line 1: bad \x escape "110000"`},
		{"unterminated binary", `{allow, {user, <<"u"}, all, ["a"]}.`, `line 1: expected "," or ">>" in a binary, got "},"`},
		{"integer overflow", `{allow, all, {publish, [{qos, 99999999999999999999999}]}, ["a"]}.`, "line 1: integer 99999999999999999999999 out of range"},
		{"deep nesting", strings.Repeat("[", 200), "nested more than 100 deep"},
		{"who nested too deep", `{allow, ` + strings.Repeat(`{'and', [`, 40) + `all` + strings.Repeat(`]}`, 40) + `, all, ["a"]}.`,
			"'and'/'or' nested more than 32 deep"},
		{"missing comma", `{allow all}.`, `line 1: expected ',' or '}', got "all"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseACLFile(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseACLFile = %v\nwant an error containing %q", err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error %#v is not a *SyntaxError", err)
			}
		})
	}
}

func TestACLRoundTrip(t *testing.T) {
	var file strings.Builder
	for _, r := range sampleRules() {
		text := r.ACL()
		got, err := ParseACLFile(text)
		if err != nil {
			t.Fatalf("ParseACLFile(%s): %v", text, err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], r) {
			t.Errorf("round trip of\n%s\ngave\n%#v\nwant\n%#v", text, got, r)
		}
		file.WriteString(text + "\n")
	}
	got, err := ParseACLFile(file.String())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleRules()) {
		t.Errorf("whole-file round trip differs:\n%s", file.String())
	}
}

func TestACL(t *testing.T) {
	tests := []struct {
		rule Rule
		want string
	}{
		{Rule{Permission: PermissionAllow, Action: ActionAll}, "{allow, all}."},
		{Rule{Permission: PermissionDeny, Action: ActionPublish}, "{deny, all, publish, all}."},
		{Rule{Permission: PermissionAllow, Who: Who{And: []Who{{Username: &StringMatch{Value: "u"}}, {ClientID: &StringMatch{Value: "^c", Re: true}}}},
			Action: ActionPublish, QoS: []int{0, 1}, Retain: RetainFalse, Topics: []string{"t/${clientid}", "eq #"}, Comment: "two\nlines"},
			"%% two\n%% lines\n{allow, {'and', [{username, \"u\"}, {clientid, {re, \"^c\"}}]}, {publish, [{qos, [0,1]}, {retain, false}]}, [\"t/${clientid}\", {eq, \"#\"}]}."},
		{Rule{Permission: PermissionAllow, Who: Who{ClientAttr: &AttrMatch{Name: "n", Value: StringMatch{Value: "a\"b"}}}, Action: ActionSubscribe, Topics: []string{"x"}},
			`{allow, {client_attr, "n", "a\"b"}, subscribe, ["x"]}.`},
	}
	for _, tt := range tests {
		if got := tt.rule.ACL(); got != tt.want {
			t.Errorf("ACL() =\n%s\nwant\n%s", got, tt.want)
		}
	}
}
