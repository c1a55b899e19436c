package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestAuthzRoutesNeedToken(t *testing.T) {
	a := newTestAPI(t)
	for _, route := range []struct{ method, path string }{
		{"GET", "/api/v5/authorization/settings"},
		{"PUT", "/api/v5/authorization/settings"},
		{"GET", "/api/v5/authorization/sources"},
		{"POST", "/api/v5/authorization/sources"},
		{"GET", "/api/v5/authorization/sources/rules"},
		{"PUT", "/api/v5/authorization/sources/rules"},
		{"DELETE", "/api/v5/authorization/sources/rules"},
		{"POST", "/api/v5/authorization/sources/rules/move"},
		{"GET", "/api/v5/authorization/rules"},
		{"POST", "/api/v5/authorization/rules"},
		{"POST", "/api/v5/authorization/rules/import"},
		{"GET", "/api/v5/authorization/rules/export"},
		{"GET", "/api/v5/authorization/rules/1"},
		{"PUT", "/api/v5/authorization/rules/1"},
		{"DELETE", "/api/v5/authorization/rules/1"},
		{"POST", "/api/v5/authorization/rules/1/move"},
		{"POST", "/api/v5/authorization/check"},
	} {
		t.Run(route.method+" "+route.path, func(t *testing.T) {
			status, body := a.doWith(route.method, route.path, `{}`, "")
			a.wantError(status, body, 401, "BAD_TOKEN")
		})
	}
}

// azWant checks a successful answer's status and returns its body.
func (a *testAPI) azWant(method, path, body string, want int) []byte {
	a.t.Helper()
	status, out := a.do(method, path, body)
	if status != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, want)
	}
	return out
}

// azErrorCase is a refused request: its answer, and the words its message must hold.
type azErrorCase struct {
	name, method, path, body string
	status                   int
	code, want               string
}

// azRefused runs the cases and checks that none of them changed the stored authorization.
func (a *testAPI) azRefused(cases []azErrorCase) {
	a.t.Helper()
	before, err := a.store.Authz(a.t.Context())
	if err != nil {
		a.t.Fatal(err)
	}
	for _, tc := range cases {
		a.t.Run(tc.name, func(t *testing.T) {
			status, body := a.do(tc.method, tc.path, tc.body)
			a.wantError(status, body, tc.status, tc.code)
			if !strings.Contains(string(body), tc.want) {
				t.Fatalf("message does not hold %q: %s", tc.want, body)
			}
		})
	}
	after, err := a.store.Authz(a.t.Context())
	if err != nil {
		a.t.Fatal(err)
	}
	b1, _ := json.Marshal([]any{before, before.Rules})
	b2, _ := json.Marshal([]any{after, after.Rules})
	if string(b1) != string(b2) {
		a.t.Fatalf("a refused request changed the authorization:\n%s\n%s", b1, b2)
	}
}

func TestAuthzSettings(t *testing.T) {
	a := newTestAPI(t)
	if got := string(a.azWant("GET", "/api/v5/authorization/settings", "", 200)); got != `{"cache":{"enable":false},"deny_action":"ignore","no_match":"allow"}` {
		t.Fatalf("GET: %s", got)
	}
	got := string(a.azWant("PUT", "/api/v5/authorization/settings", `{"no_match":"deny","cache":{"enable":false}}`, 200))
	if got != `{"cache":{"enable":false},"deny_action":"ignore","no_match":"deny"}` {
		t.Fatalf("PUT: %s", got)
	}
	a.azWant("PUT", "/api/v5/authorization/settings", `{"deny_action":"disconnect"}`, 200)
	if got := string(a.azWant("GET", "/api/v5/authorization/settings", "", 200)); got != `{"cache":{"enable":false},"deny_action":"disconnect","no_match":"deny"}` {
		t.Fatalf("GET after PUT: %s", got)
	}
	a.azRefused([]azErrorCase{
		{"cache on", "PUT", "/api/v5/authorization/settings", `{"cache":{"enable":true}}`, 400, "BAD_REQUEST", "cache.enable"},
		{"bad no_match", "PUT", "/api/v5/authorization/settings", `{"no_match":"maybe"}`, 400, "BAD_REQUEST", "no_match"},
		{"bad deny_action", "PUT", "/api/v5/authorization/settings", `{"deny_action":"kick"}`, 400, "BAD_REQUEST", "deny_action"},
		{"unknown field", "PUT", "/api/v5/authorization/settings", `{"no_match":"allow","sources":[]}`, 400, "BAD_REQUEST", "sources"},
		{"unknown cache field", "PUT", "/api/v5/authorization/settings", `{"cache":{"enable":false,"ttl":"1m"}}`, 400, "BAD_REQUEST", "ttl"},
		{"wrong type", "PUT", "/api/v5/authorization/settings", `{"no_match":true}`, 400, "BAD_REQUEST", "no_match"},
	})
}

func (a *testAPI) azSources() []string {
	a.t.Helper()
	var out struct {
		Sources []map[string]any `json:"sources"`
	}
	json.Unmarshal(a.azWant("GET", "/api/v5/authorization/sources", "", 200), &out)
	var types []string
	for _, s := range out.Sources {
		types = append(types, fmt.Sprint(s["type"]))
	}
	return types
}

func TestAuthzSources(t *testing.T) {
	a := newTestAPI(t)
	if got := fmt.Sprint(a.azSources()); got != "[rules]" {
		t.Fatalf("default sources: %s", got)
	}
	const httpSource = `{"type":"http","enable":true,"method":"post","url":"http://127.0.0.1:1/authz",` +
		`"headers":{"Authorization":"Bearer t0ken","X-Site":"paris"},"body":{"topic":"${topic}"}}`
	a.azWant("POST", "/api/v5/authorization/sources", httpSource, 204)
	if got := fmt.Sprint(a.azSources()); got != "[http rules]" {
		t.Fatalf("a new source goes first (EMQX): %s", got)
	}
	got := string(a.azWant("GET", "/api/v5/authorization/sources/http", "", 200))
	if strings.Contains(got, "t0ken") || !strings.Contains(got, `"Authorization":"******"`) || !strings.Contains(got, `"X-Site":"paris"`) {
		t.Fatalf("GET http source: %s", got)
	}
	if got := string(a.azWant("GET", "/api/v5/authorization/sources/rules", "", 200)); got != `{"enable":true,"type":"rules"}` {
		t.Fatalf("GET rules source: %s", got)
	}

	// A PUT that sends the masked header back keeps the stored value.
	a.azWant("PUT", "/api/v5/authorization/sources/http", `{"enable":false,"url":"http://127.0.0.1:2/authz",`+
		`"headers":{"Authorization":"******"}}`, 204)
	cfg, _ := a.store.Authz(t.Context())
	if s := string(cfg.Sources[0]); !strings.Contains(s, "Bearer t0ken") || !strings.Contains(s, "127.0.0.1:2") || !strings.Contains(s, `"type":"http"`) {
		t.Fatalf("stored source: %s", s)
	}

	for _, tc := range []struct{ position, want string }{
		{"front", "[rules http]"},
		{"rear", "[http rules]"},
		{"before:http", "[rules http]"},
		{"after:http", "[http rules]"},
	} {
		a.azWant("POST", "/api/v5/authorization/sources/rules/move", `{"position":"`+tc.position+`"}`, 204)
		if got := fmt.Sprint(a.azSources()); got != tc.want {
			t.Fatalf("move rules %s: %s, want %s", tc.position, got, tc.want)
		}
	}

	a.azRefused([]azErrorCase{
		{"duplicate", "POST", "/api/v5/authorization/sources", httpSource, 409, "ALREADY_EXISTS", "http"},
		{"no type", "POST", "/api/v5/authorization/sources", `{"enable":true}`, 400, "BAD_REQUEST", "type"},
		{"unknown type", "POST", "/api/v5/authorization/sources", `{"type":"mysql"}`, 400, "BAD_REQUEST", "mysql"},
		{"not an object", "POST", "/api/v5/authorization/sources", `[1]`, 400, "BAD_REQUEST", "body"},
		{"bad field", "PUT", "/api/v5/authorization/sources/http", `{"url":"http://h/","methd":"get"}`, 400, "BAD_REQUEST", "methd"},
		{"bad value", "PUT", "/api/v5/authorization/sources/http", `{"url":"http://h/","method":"delete"}`, 400, "BAD_REQUEST", "method"},
		{"rules source field", "PUT", "/api/v5/authorization/sources/rules", `{"enable":true,"path":"acl.conf"}`, 400, "BAD_REQUEST", "path"},
		{"type differs", "PUT", "/api/v5/authorization/sources/http", `{"type":"rules"}`, 400, "BAD_REQUEST", "type"},
		{"get unknown", "GET", "/api/v5/authorization/sources/file", "", 404, "NOT_FOUND", "file"},
		{"put unknown", "PUT", "/api/v5/authorization/sources/file", `{"type":"file"}`, 404, "NOT_FOUND", "file"},
		{"delete unknown", "DELETE", "/api/v5/authorization/sources/file", "", 404, "NOT_FOUND", "file"},
		{"move unknown", "POST", "/api/v5/authorization/sources/file/move", `{"position":"front"}`, 404, "NOT_FOUND", "file"},
		{"move bad position", "POST", "/api/v5/authorization/sources/rules/move", `{"position":"top"}`, 400, "BAD_REQUEST", "position"},
		{"move no position", "POST", "/api/v5/authorization/sources/rules/move", `{}`, 400, "BAD_REQUEST", "position"},
		{"move before unknown", "POST", "/api/v5/authorization/sources/rules/move", `{"position":"before:file"}`, 400, "BAD_REQUEST", "file"},
		{"move before itself", "POST", "/api/v5/authorization/sources/rules/move", `{"position":"after:rules"}`, 400, "BAD_REQUEST", "itself"},
		{"move unknown field", "POST", "/api/v5/authorization/sources/rules/move", `{"position":"front","x":1}`, 400, "BAD_REQUEST", "x"},
	})

	a.azWant("DELETE", "/api/v5/authorization/sources/http", "", 204)
	if got := fmt.Sprint(a.azSources()); got != "[rules]" {
		t.Fatalf("after DELETE: %s", got)
	}
}

// azRule is a rule as the API shows it.
type azRule struct {
	ID         int64    `json:"id"`
	Permission string   `json:"permission"`
	Action     string   `json:"action"`
	Topics     []string `json:"topics"`
	Comment    string   `json:"comment"`
}

func (a *testAPI) azAddRule(path, body string) azRule {
	a.t.Helper()
	var r azRule
	if err := json.Unmarshal(a.azWant("POST", path, body, 201), &r); err != nil || r.ID == 0 {
		a.t.Fatalf("POST rule: %v %+v", err, r)
	}
	return r
}

// azRuleOrder lists the rules' comments in order.
func (a *testAPI) azRuleOrder() string {
	a.t.Helper()
	var out struct {
		Data []azRule `json:"data"`
	}
	json.Unmarshal(a.azWant("GET", "/api/v5/authorization/rules", "", 200), &out)
	var names []string
	for _, r := range out.Data {
		names = append(names, r.Comment)
	}
	return strings.Join(names, " ")
}

func azRuleJSON(comment string) string {
	return `{"permission":"deny","action":"publish","topics":["t/` + comment + `"],"comment":"` + comment + `"}`
}

func TestAuthzRules(t *testing.T) {
	a := newTestAPI(t)
	if got := string(a.azWant("GET", "/api/v5/authorization/rules", "", 200)); got != `{"data":[]}` {
		t.Fatalf("no rules: %s", got)
	}
	const path = "/api/v5/authorization/rules"
	ra := a.azAddRule(path, azRuleJSON("a"))
	rb := a.azAddRule(path, azRuleJSON("b"))
	a.azAddRule(path, `{"position":"front",`+azRuleJSON("c")[1:])
	a.azAddRule(path+"?position=after:"+fmt.Sprint(ra.ID), azRuleJSON("d"))
	a.azAddRule(path+"?position=before:"+fmt.Sprint(rb.ID), azRuleJSON("e"))
	if got := a.azRuleOrder(); got != "c a d e b" {
		t.Fatalf("order: %s", got)
	}

	var got azRule
	json.Unmarshal(a.azWant("GET", fmt.Sprint(path, "/", ra.ID), "", 200), &got)
	if got.ID != ra.ID || got.Permission != "deny" || got.Action != "publish" || fmt.Sprint(got.Topics) != "[t/a]" {
		t.Fatalf("GET rule: %+v", got)
	}
	json.Unmarshal(a.azWant("PUT", fmt.Sprint(path, "/", ra.ID),
		fmt.Sprintf(`{"id":%d,"permission":"allow","action":"subscribe","topics":["x/#"],"comment":"a"}`, ra.ID), 200), &got)
	if got.ID != ra.ID || got.Permission != "allow" || got.Action != "subscribe" {
		t.Fatalf("PUT rule: %+v", got)
	}
	a.azWant("POST", fmt.Sprint(path, "/", rb.ID, "/move"), `{"position":"front"}`, 204)
	a.azWant("POST", fmt.Sprint(path, "/", ra.ID, "/move"), `{"position":"rear"}`, 204)
	if got := a.azRuleOrder(); got != "b c d e a" {
		t.Fatalf("order after moves: %s", got)
	}
	a.azWant("POST", fmt.Sprint(path, "/", ra.ID, "/move"), fmt.Sprintf(`{"position":"before:%d"}`, rb.ID), 204)
	a.azWant("DELETE", fmt.Sprint(path, "/", rb.ID), "", 204)
	if got := a.azRuleOrder(); got != "a c d e" {
		t.Fatalf("order after delete: %s", got)
	}

	a.azRefused([]azErrorCase{
		{"unknown key", "POST", path, `{"permission":"deny","action":"publish","topics":[],"prio":1}`, 400, "BAD_REQUEST", "prio"},
		{"bad who", "POST", path, `{"permission":"deny","who":{"usr":"x"},"action":"publish","topics":[]}`, 400, "BAD_REQUEST", "who"},
		{"bad permission", "POST", path, `{"permission":"maybe","action":"publish","topics":[]}`, 400, "BAD_REQUEST", "permission"},
		{"bad regex", "POST", path, `{"permission":"deny","who":{"username":{"re":"("}},"action":"publish","topics":[]}`, 400, "BAD_REQUEST", "username"},
		{"bad topic", "POST", path, `{"permission":"deny","action":"publish","topics":["a/#/b"]}`, 400, "BAD_REQUEST", "topics"},
		{"not JSON", "POST", path, `{"permission":`, 400, "BAD_REQUEST", "JSON"},
		{"not an object", "POST", path, `[]`, 400, "BAD_REQUEST", "object"},
		{"id given", "POST", path, `{"id":5,"permission":"deny","action":"publish","topics":[]}`, 400, "BAD_REQUEST", "id"},
		{"bad position", "POST", path + "?position=middle", azRuleJSON("x"), 400, "BAD_REQUEST", "position"},
		{"position unknown id", "POST", path + "?position=after:99999", azRuleJSON("x"), 400, "BAD_REQUEST", "99999"},
		{"position not a string", "POST", path, `{"position":1,"permission":"deny","action":"publish","topics":[]}`, 400, "BAD_REQUEST", "position"},
		{"get unknown", "GET", path + "/99999", "", 404, "NOT_FOUND", "99999"},
		{"get not an id", "GET", path + "/abc", "", 404, "NOT_FOUND", "abc"},
		{"put unknown", "PUT", path + "/99999", azRuleJSON("x"), 404, "NOT_FOUND", "99999"},
		{"put id differs", "PUT", fmt.Sprint(path, "/", ra.ID), `{"id":1234,"permission":"deny","action":"publish","topics":[]}`, 400, "BAD_REQUEST", "id"},
		{"put position", "PUT", fmt.Sprint(path, "/", ra.ID), `{"position":"front","permission":"deny","action":"publish","topics":[]}`, 400, "BAD_REQUEST", "move"},
		{"put bad rule", "PUT", fmt.Sprint(path, "/", ra.ID), `{"permission":"deny","action":"jump","topics":[]}`, 400, "BAD_REQUEST", "action"},
		{"delete unknown", "DELETE", path + "/99999", "", 404, "NOT_FOUND", "99999"},
		{"move unknown", "POST", path + "/99999/move", `{"position":"front"}`, 404, "NOT_FOUND", "99999"},
		{"move bad position", "POST", fmt.Sprint(path, "/", ra.ID, "/move"), `{"position":"before:"}`, 400, "BAD_REQUEST", "position"},
		{"move before itself", "POST", fmt.Sprint(path, "/", ra.ID, "/move"), fmt.Sprintf(`{"position":"before:%d"}`, ra.ID), 400, "BAD_REQUEST", "itself"},
		{"move unknown field", "POST", fmt.Sprint(path, "/", ra.ID, "/move"), `{"position":"front","to":1}`, 400, "BAD_REQUEST", "to"},
	})
}

const azACL = `%% dashboard may watch the broker
{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.
{deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.
{allow, all}.
`

func TestAuthzImportExport(t *testing.T) {
	a := newTestAPI(t)
	const path = "/api/v5/authorization/rules"
	a.azAddRule(path, azRuleJSON("old"))
	if got := string(a.azWant("POST", path+"/import", azACL, 200)); got != `{"count":4,"mode":"replace","total":4}` {
		t.Fatalf("import: %s", got)
	}
	if got := string(a.azWant("POST", path+"/import?mode=append", `{deny, all}.`, 200)); got != `{"count":1,"mode":"append","total":5}` {
		t.Fatalf("import append: %s", got)
	}
	exported := string(a.azWant("GET", path+"/export", "", 200))
	if !strings.HasPrefix(exported, "%% dashboard may watch the broker\n{allow, {username, {re, \"^dashboard$\"}}, subscribe, [\"$SYS/#\"]}.\n") ||
		!strings.HasSuffix(exported, "{allow, all}.\n{deny, all}.\n") {
		t.Fatalf("export:\n%s", exported)
	}
	// The export reads back into the same rules.
	before := string(a.azWant("GET", path, "", 200))
	a.azWant("POST", path+"/import", exported, 200)
	var b1, b2 struct{ Data []map[string]any }
	json.Unmarshal([]byte(before), &b1)
	json.Unmarshal(a.azWant("GET", path, "", 200), &b2)
	for i := range b1.Data {
		delete(b1.Data[i], "id")
		delete(b2.Data[i], "id")
	}
	if j1, j2 := fmt.Sprint(b1.Data), fmt.Sprint(b2.Data); j1 != j2 {
		t.Fatalf("round trip differs:\n%s\n%s", j1, j2)
	}

	a.azRefused([]azErrorCase{
		{"syntax error", "POST", path + "/import", "{allow, all}.\n{allow, {user, \"u\"}, publish}.\n", 400, "BAD_REQUEST", "line 2"},
		{"empty", "POST", path + "/import", " \n", 400, "BAD_REQUEST", "acl.conf"},
		{"bad mode", "POST", path + "/import?mode=merge", azACL, 400, "BAD_REQUEST", "merge"},
	})
}

func TestAuthzCheck(t *testing.T) {
	a := newTestAPI(t)
	const path = "/api/v5/authorization/rules"
	a.azAddRule(path, `{"permission":"allow","who":{"username":"admin"},"action":"all","topics":["#"],"comment":"admin"}`)
	deny := a.azAddRule(path, `{"permission":"deny","action":"publish","topics":["secret/#"],"comment":"secret"}`)
	check := func(body string) map[string]any {
		t.Helper()
		var out map[string]any
		json.Unmarshal(a.azWant("POST", "/api/v5/authorization/check", body, 200), &out)
		return out
	}
	for _, tc := range []struct {
		name, body, result, source string
		ruleID                     any
		ruleIndex                  any
	}{
		{"denied by a rule", `{"clientid":"c1","username":"bob","peerhost":"10.0.0.1","listener":"stomp:tcp:default","protocol":"stomp","action":"publish","topic":"secret/a"}`,
			"deny", "rules", float64(deny.ID), float64(1)},
		{"allowed by a rule", `{"username":"admin","action":"publish","topic":"secret/a","qos":1,"retain":true}`,
			"allow", "rules", nil, float64(0)},
		{"no rule matches", `{"username":"bob","action":"subscribe","topic":"secret/a"}`, "allow", "no_match", nil, nil},
		{"superuser", `{"username":"bob","is_superuser":true,"action":"publish","topic":"secret/a"}`, "allow", "superuser", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := check(tc.body)
			if out["result"] != tc.result || out["source"] != tc.source || out["rule_index"] != tc.ruleIndex {
				t.Fatalf("check: %v", out)
			}
			if tc.ruleID != nil && out["rule_id"] != tc.ruleID {
				t.Fatalf("rule_id: %v, want %v", out["rule_id"], tc.ruleID)
			}
			if tc.ruleIndex == nil && (out["rule_id"] != nil || out["rule"] != nil) {
				t.Fatalf("no rule decided, yet: %v", out)
			}
		})
	}
	a.azWant("PUT", "/api/v5/authorization/settings", `{"no_match":"deny","deny_action":"disconnect"}`, 200)
	if out := check(`{"username":"bob","action":"subscribe","topic":"x"}`); out["result"] != "deny" || out["source"] != "no_match" || out["disconnect"] != true {
		t.Fatalf("no_match deny: %v", out)
	}

	a.azRefused([]azErrorCase{
		{"no action", "POST", "/api/v5/authorization/check", `{"topic":"t"}`, 400, "BAD_REQUEST", "action"},
		{"bad action", "POST", "/api/v5/authorization/check", `{"action":"all","topic":"t"}`, 400, "BAD_REQUEST", "action"},
		{"no topic", "POST", "/api/v5/authorization/check", `{"action":"publish"}`, 400, "BAD_REQUEST", "topic"},
		{"bad qos", "POST", "/api/v5/authorization/check", `{"action":"publish","topic":"t","qos":3}`, 400, "BAD_REQUEST", "qos"},
		{"bad peerhost", "POST", "/api/v5/authorization/check", `{"action":"publish","topic":"t","peerhost":"host"}`, 400, "BAD_REQUEST", "peerhost"},
		{"unknown field", "POST", "/api/v5/authorization/check", `{"action":"publish","topic":"t","password":"x"}`, 400, "BAD_REQUEST", "password"},
	})
}

// TestAuthzRuleAppliesLive: a rule added through the API refuses the next STOMP SEND of a
// client that is already connected.
func TestAuthzRuleAppliesLive(t *testing.T) {
	a := newTestAPI(t)
	c := a.stompDial("dave", "pw")
	c.send("SEND\ndestination:live/a\nreceipt:r1\n\nbefore")
	if f := c.frame(); !strings.HasPrefix(f, "RECEIPT\n") {
		t.Fatalf("SEND before the rule: %q", f)
	}
	a.azAddRule("/api/v5/authorization/rules", `{"permission":"deny","who":{"username":"dave"},"action":"publish","topics":["live/#"]}`)
	c.send("SEND\ndestination:live/a\nreceipt:r2\n\nafter")
	if f := c.frame(); !strings.HasPrefix(f, "ERROR\n") || !strings.Contains(f, "message:Insufficient permissions for live/a\n") {
		t.Fatalf("SEND after the rule: %q", f)
	}
}
