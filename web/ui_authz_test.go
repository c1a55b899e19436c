package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

// uiazSetup is an appliance with a logged-in dashboard browser and its CSRF token.
func uiazSetup(t *testing.T) (*testAPI, *uiBrowser, string) {
	t.Helper()
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	return a, b, b.csrf()
}

// uiazRuleForm is a filled-in rule form: the defaults of a new rule, then fields.
func uiazRuleForm(csrf string, fields ...string) url.Values {
	form := url.Values{views.CSRFFieldName: {csrf}, "permission": {"allow"}, "who_kind": {"all"}, "action": {"publish"},
		"qos": {"0", "1", "2"}, "retain": {"all"}, "position": {"rear"}}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			form.Del(fields[i])
		} else {
			form.Set(fields[i], fields[i+1])
		}
	}
	return form
}

// uiazStoredRules is the API's rule list as JSON objects without ids.
func (a *testAPI) uiazStoredRules() []string {
	a.t.Helper()
	var out struct{ Data []map[string]any }
	json.Unmarshal(a.azWant("GET", "/api/v5/authorization/rules", "", 200), &out)
	var list []string
	for _, r := range out.Data {
		delete(r, "id")
		b, _ := json.Marshal(r)
		list = append(list, string(b))
	}
	return list
}

func TestUIAuthzPage(t *testing.T) {
	a, b, _ := uiazSetup(t)
	const path = "/api/v5/authorization/rules"
	r1 := a.azAddRule(path, `{"permission":"allow","who":{"username":{"re":"^dash"}},"action":"subscribe","topics":["$SYS/#","eq a/#"],"comment":"dashboards"}`)
	r2 := a.azAddRule(path, `{"permission":"deny","who":{"and":[{"ipaddr":"10.0.0.0/8"},{"listener":"stomp:tcp:default"}]},"action":"all","qos":[1,2],"retain":true,"topics":[]}`)
	a.azWant("PUT", "/api/v5/authorization/settings", `{"no_match":"deny","deny_action":"disconnect"}`, 200)

	resp := b.get("/authorization")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /authorization: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if _, ok := vt.One(t, doc, "nav-"+views.NavAuthorization).Attr("aria-current"); !ok {
		t.Error("navigation does not mark the page")
	}
	if got := vt.One(t, doc, "authz-no-match").Find("option[selected]").AttrOr("value", ""); got != "deny" {
		t.Errorf("no_match shown as %q", got)
	}
	if got := vt.One(t, doc, "authz-deny-action").Find("option[selected]").AttrOr("value", ""); got != "disconnect" {
		t.Errorf("deny_action shown as %q", got)
	}
	vt.One(t, doc, "authz-source-rules")
	id1, id2 := fmt.Sprint(r1.ID), fmt.Sprint(r2.ID)
	for _, tc := range []struct{ id, want string }{
		{"authz-row-position-" + id1, "#1"},
		{"authz-row-permission-" + id1, "allow"},
		{"authz-row-action-" + id1, "subscribe"},
		{"authz-row-who-" + id1, "username matches /^dash/"},
		{"authz-row-comment-" + id1, "dashboards"},
		{"authz-row-position-" + id2, "#2"},
		{"authz-row-permission-" + id2, "deny"},
		{"authz-row-action-" + id2, "publish and subscribe"},
		{"authz-row-who-" + id2, "(address in 10.0.0.0/8) and (listener stomp:tcp:default)"},
		{"authz-row-topics-" + id2, "every topic"},
		{"authz-row-conditions-" + id2, "QoS 1, 2, retained publishes"},
	} {
		if got := strings.Join(strings.Fields(vt.Text(t, doc, tc.id)), " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.id, got, tc.want)
		}
	}
	if got := strings.Join(strings.Fields(vt.Text(t, doc, "authz-row-topics-"+id1)), " "); got != "$SYS/# a/# (exactly)" {
		t.Errorf("topics %q", got)
	}
	// The first cannot go up, the last not down; the others are buttons that post.
	if _, ok := vt.One(t, doc, "authz-row-up-"+id1).Attr("disabled"); !ok {
		t.Error("first rule's up button is enabled")
	}
	if _, ok := vt.One(t, doc, "authz-row-down-"+id2).Attr("disabled"); !ok {
		t.Error("last rule's down button is enabled")
	}
	down := vt.One(t, doc, "authz-row-down-"+id1)
	if _, ok := down.Attr("disabled"); ok || down.AttrOr("aria-label", "") != "Move rule #1 down" {
		t.Errorf("down button: %v", down.Nodes[0].Attr)
	}
	if got := down.Closest("form").Find(`input[name="position"]`).AttrOr("value", ""); got != "after:"+id2 {
		t.Errorf("down posts position %q", got)
	}
	if got := vt.One(t, doc, "authz-rule-editor").AttrOr("data-state", ""); got != "closed" {
		t.Errorf("editor %q", got)
	}
	// Every input has a label.
	doc.Find("input:not([type=hidden]), select, textarea").Each(func(_ int, s *goquery.Selection) {
		id := s.AttrOr("id", "")
		if id == "" || doc.Find(`label[for="`+id+`"]`).Length() == 0 {
			t.Errorf("input %s (%s) has no label", id, s.AttrOr("name", ""))
		}
	})
}

func TestUIAuthzAddRule(t *testing.T) {
	a, b, csrf := uiazSetup(t)
	// Open the editor as htmx does.
	resp := b.get("/authorization/rules/new", "HX-Request", "true")
	doc := resp.doc(t)
	if resp.StatusCode != 200 || vt.One(t, doc, "authz-rule-editor").AttrOr("data-state", "") != "open" {
		t.Fatalf("new rule editor: %d %s", resp.StatusCode, resp.body)
	}
	if vt.Has(doc, "site-header") {
		t.Error("htmx got the whole page")
	}

	form := uiazRuleForm(csrf, "permission", "deny", "who_kind", "username", "who_value", "bob",
		"topics", "secret/#\n\n  eq x/+  \n", "comment", "no secrets", "qos", "")
	form["qos"] = []string{"0", "1"}
	resp = b.do("POST", "/authorization/rules", form, "HX-Request", "true")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("add: %d %s", resp.StatusCode, resp.body)
	}
	want := `{"action":"publish","comment":"no secrets","permission":"deny","qos":[0,1],"topics":["secret/#","eq x/+"],"who":{"username":"bob"}}`
	if got := a.uiazStoredRules(); len(got) != 1 || got[0] != want {
		t.Fatalf("stored %v, want %s", got, want)
	}
	doc = resp.doc(t)
	if got := vt.One(t, doc, "authz-rule-editor").AttrOr("data-state", ""); got != "closed" {
		t.Errorf("editor after the save: %q", got)
	}
	list := vt.One(t, doc, "authz-rules")
	if list.AttrOr("hx-swap-oob", "") != "true" || list.Find(`[data-testid^="authz-row-who-"]`).Text() != "username = bob" {
		t.Errorf("list not swapped in: %s", resp.body)
	}
	if !strings.Contains(doc.Find(`#flash`).Text(), "Rule added.") {
		t.Errorf("no message: %s", resp.body)
	}

	// A plain form goes back to the page, with the message; "front" puts it first.
	resp = b.do("POST", "/authorization/rules", uiazRuleForm(csrf, "topics", "first", "position", "front"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/authorization" {
		t.Fatalf("plain add: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := a.uiazStoredRules(); len(got) != 2 || got[0] != `{"action":"publish","permission":"allow","topics":["first"],"who":"all"}` {
		t.Fatalf("stored %v", got)
	}
	if got := vt.Text(t, b.get("/authorization").doc(t), "flash-success"); got != "Rule added." {
		t.Errorf("flash %q", got)
	}
}

func TestUIAuthzRuleRefused(t *testing.T) {
	a, b, csrf := uiazSetup(t)
	for _, tc := range []struct {
		name   string
		fields []string
		field  string // the testid of the message
		want   string
	}{
		{"bad topic names its line", []string{"topics", "ok/#\n\na/#/b"}, "authz-form-topics-error", `line 3: invalid filter "a/#/b"`},
		{"bad address", []string{"who_kind", "ipaddr", "who_value", "10.0.0.0/99"}, "authz-form-who-error", "bad address"},
		{"missing username", []string{"who_kind", "username"}, "authz-form-who-error", "Enter the username."},
		{"bad regex", []string{"who_kind", "clientid", "who_value", "(?<=x)", "who_regex", "true"}, "authz-form-who-error", "bad regex"},
		{"bad JSON condition", []string{"who_kind", "json", "who_json", `{"and":[{"usr":"u"}]}`}, "authz-form-who-error", `and[0]: unknown key "usr"`},
		{"retain on subscribe", []string{"action", "subscribe", "retain", "true"}, "authz-form-retain-error", "applies to publish only"},
		{"no QoS", []string{"qos", ""}, "authz-form-qos-error", "at least one QoS"},
		{"bad permission", []string{"permission", "maybe"}, "authz-form-permission-error", `"maybe" is not "allow" or "deny"`},
		{"bad position", []string{"position", "middle"}, "authz-form-position-error", "middle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, htmx := range []bool{true, false} {
				var header []string
				if htmx {
					header = []string{"HX-Request", "true"}
				}
				resp := b.do("POST", "/authorization/rules", uiazRuleForm(csrf, tc.fields...), header...)
				if resp.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("htmx %v: %d %s", htmx, resp.StatusCode, resp.body)
				}
				doc := resp.doc(t)
				if got := vt.Text(t, doc, tc.field); !strings.Contains(got, tc.want) {
					t.Errorf("htmx %v: %s = %q, want %q", htmx, tc.field, got, tc.want)
				}
				if vt.Has(doc, "site-header") == htmx {
					t.Errorf("htmx %v: whole page %v", htmx, !htmx)
				}
				// The form keeps what was entered.
				if v := tc.fields[1]; tc.fields[0] == "topics" && !strings.Contains(vt.Text(t, doc, "authz-form-topics"), "a/#/b") {
					t.Errorf("topics not kept: %q", v)
				}
			}
			if got := a.uiazStoredRules(); len(got) != 0 {
				t.Fatalf("refused rule stored: %v", got)
			}
		})
	}
}

func TestUIAuthzCSRF(t *testing.T) {
	a, b, _ := uiazSetup(t)
	rule := a.azAddRule("/api/v5/authorization/rules", azRuleJSON("a"))
	id := fmt.Sprint(rule.ID)
	for _, tc := range []struct{ path string }{
		{"/authorization/rules"}, {"/authorization/rules/" + id}, {"/authorization/rules/" + id + "/delete"},
		{"/authorization/rules/" + id + "/move"}, {"/authorization/settings"}, {"/authorization/import"},
	} {
		form := uiazRuleForm("forged", "no_match", "deny", "acl", "{deny, all}.", "position", "front")
		if resp := b.do("POST", tc.path, form, "HX-Request", "true"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without the token: %d", tc.path, resp.StatusCode)
		}
	}
	if got := a.uiazStoredRules(); len(got) != 1 {
		t.Errorf("rules changed: %v", got)
	}
	var st map[string]any
	json.Unmarshal(a.azWant("GET", "/api/v5/authorization/settings", "", 200), &st)
	if st["no_match"] != "allow" {
		t.Errorf("settings changed: %v", st)
	}
	// The tester changes nothing, but is a POST like the others.
	if resp := b.do("POST", "/authorization/check", url.Values{"action": {"publish"}, "topic": {"t"}}); resp.StatusCode != 403 {
		t.Errorf("tester without the token: %d", resp.StatusCode)
	}
}

func TestUIAuthzEditMoveDelete(t *testing.T) {
	a, b, csrf := uiazSetup(t)
	const path = "/api/v5/authorization/rules"
	ra := a.azAddRule(path, azRuleJSON("a"))
	rb := a.azAddRule(path, `{"permission":"allow","who":{"or":[{"username":"u"},{"clientid":{"re":"^c"}}]},"action":"publish","retain":false,"topics":["t/b"],"comment":"b"}`)
	rc := a.azAddRule(path, azRuleJSON("c"))

	// The editor shows the stored rule; an and/or condition as JSON.
	doc := b.get(fmt.Sprintf("/authorization/rules/%d/edit", rb.ID), "HX-Request", "true").doc(t)
	if got := vt.One(t, doc, "authz-form-who-kind").Find("option[selected]").AttrOr("value", ""); got != "json" {
		t.Errorf("who kind %q", got)
	}
	var who map[string]any
	if err := json.Unmarshal([]byte(vt.Text(t, doc, "authz-form-who-json")), &who); err != nil || len(who["or"].([]any)) != 2 {
		t.Errorf("who JSON %q (%v)", vt.Text(t, doc, "authz-form-who-json"), err)
	}
	if got := vt.One(t, doc, "authz-form-retain").Find("option[selected]").AttrOr("value", ""); got != "false" {
		t.Errorf("retain %q", got)
	}
	if !strings.Contains(vt.One(t, doc, "authz-form").AttrOr("hx-post", ""), fmt.Sprint(rb.ID)) || vt.Has(doc, "authz-form-position") {
		t.Error("edit form posts elsewhere, or offers a place")
	}
	// A plain request opens the page with the editor.
	if resp := b.get(fmt.Sprintf("/authorization/rules/%d/edit", rb.ID)); resp.StatusCode != 200 ||
		vt.One(t, resp.doc(t), "authz-rule-editor").AttrOr("data-state", "") != "open" {
		t.Errorf("plain edit: %d", resp.StatusCode)
	}
	if resp := b.get("/authorization/rules/999/edit"); resp.StatusCode != 404 {
		t.Errorf("edit of a missing rule: %d", resp.StatusCode)
	}

	// Saving replaces the rule in its place.
	resp := b.do("POST", fmt.Sprintf("/authorization/rules/%d", rb.ID), uiazRuleForm(csrf, "permission", "deny",
		"who_kind", "clientid", "who_value", "^dev-", "who_regex", "true", "topics", "t/b2", "comment", "b2"), "HX-Request", "true")
	if resp.StatusCode != 200 {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.body)
	}
	if got := a.azRuleOrder(); got != "a b2 c" {
		t.Fatalf("order after the save: %q", got)
	}
	if got := a.uiazStoredRules()[1]; got != `{"action":"publish","comment":"b2","permission":"deny","topics":["t/b2"],"who":{"clientid":{"re":"^dev-"}}}` {
		t.Errorf("saved %s", got)
	}

	// Down, then up: the list comes back.
	move := func(id int64, position string) *goquery.Document {
		t.Helper()
		resp := b.do("POST", fmt.Sprintf("/authorization/rules/%d/move", id),
			url.Values{views.CSRFFieldName: {csrf}, "position": {position}}, "HX-Request", "true")
		if resp.StatusCode != 200 {
			t.Fatalf("move %d %s: %d %s", id, position, resp.StatusCode, resp.body)
		}
		return resp.doc(t)
	}
	doc = move(ra.ID, fmt.Sprintf("after:%d", rb.ID))
	if got := a.azRuleOrder(); got != "b2 a c" {
		t.Fatalf("after down: %q", got)
	}
	if got := vt.Text(t, doc, fmt.Sprintf("authz-row-position-%d", ra.ID)); got != "#2" {
		t.Errorf("answer shows a at %q", got)
	}
	move(rc.ID, fmt.Sprintf("before:%d", ra.ID))
	if got := a.azRuleOrder(); got != "b2 c a" {
		t.Fatalf("after up: %q", got)
	}
	if resp := b.do("POST", fmt.Sprintf("/authorization/rules/%d/move", rc.ID),
		url.Values{views.CSRFFieldName: {csrf}, "position": {"before:0"}}, "HX-Request", "true"); resp.StatusCode != 400 ||
		!strings.Contains(vt.Text(t, resp.doc(t), "flash-error"), "no rule 0") {
		t.Errorf("move before nothing: %d %s", resp.StatusCode, resp.body)
	}

	// Delete.
	resp = b.do("POST", fmt.Sprintf("/authorization/rules/%d/delete", rc.ID), url.Values{views.CSRFFieldName: {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if got := a.azRuleOrder(); got != "b2 a" {
		t.Fatalf("after delete: %q", got)
	}
	if resp := b.do("POST", fmt.Sprintf("/authorization/rules/%d/delete", rc.ID), url.Values{views.CSRFFieldName: {csrf}}); resp.StatusCode != 404 {
		t.Errorf("second delete: %d", resp.StatusCode)
	}
}

func TestUIAuthzSettings(t *testing.T) {
	a, b, csrf := uiazSetup(t)
	resp := b.do("POST", "/authorization/settings", url.Values{views.CSRFFieldName: {csrf}, "no_match": {"deny"}, "deny_action": {"disconnect"}}, "HX-Request", "true")
	if resp.StatusCode != 200 || vt.One(t, resp.doc(t), "authz-no-match").Find("option[selected]").AttrOr("value", "") != "deny" {
		t.Fatalf("save: %d %s", resp.StatusCode, resp.body)
	}
	want := `{"cache":{"enable":false},"deny_action":"disconnect","no_match":"deny"}`
	if got := string(a.azWant("GET", "/api/v5/authorization/settings", "", 200)); got != want {
		t.Fatalf("stored %s", got)
	}
	resp = b.do("POST", "/authorization/settings", url.Values{views.CSRFFieldName: {csrf}, "no_match": {"maybe"}, "deny_action": {"ignore"}}, "HX-Request", "true")
	if resp.StatusCode != 422 || !strings.Contains(vt.Text(t, resp.doc(t), "authz-no-match-error"), "maybe") {
		t.Fatalf("refused: %d %s", resp.StatusCode, resp.body)
	}
	if got := string(a.azWant("GET", "/api/v5/authorization/settings", "", 200)); got != want {
		t.Fatalf("half saved: %s", got)
	}
}

func TestUIAuthzTester(t *testing.T) {
	a, b, csrf := uiazSetup(t)
	const path = "/api/v5/authorization/rules"
	a.azAddRule(path, `{"permission":"allow","who":{"username":"admin"},"action":"all","topics":["#"],"comment":"admin"}`)
	deny := a.azAddRule(path, `{"permission":"deny","who":{"listener":"stomp:tcp:default"},"action":"publish","topics":["secret/#"],"comment":"secret"}`)
	ask := func(fields ...string) uiResponse {
		t.Helper()
		form := url.Values{views.CSRFFieldName: {csrf}, "action": {"publish"}, "qos": {"0"}}
		for i := 0; i+1 < len(fields); i += 2 {
			form.Set(fields[i], fields[i+1])
		}
		return b.do("POST", "/authorization/check", form, "HX-Request", "true")
	}
	resp := ask("clientid", "c1", "username", "bob", "peerhost", "10.0.0.1", "listener", "stomp:tcp:default", "topic", "secret/a")
	if resp.StatusCode != 200 {
		t.Fatalf("check: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	v := vt.One(t, doc, "authz-verdict")
	if v.AttrOr("data-result", "") != "deny" || v.AttrOr("data-source", "") != "rules" || v.AttrOr("data-rule-id", "") != fmt.Sprint(deny.ID) {
		t.Fatalf("verdict %v", v.Nodes[0].Attr)
	}
	if got := vt.Text(t, doc, "authz-verdict-rule"); got != "rule #2" {
		t.Errorf("rule %q", got)
	}
	row := vt.One(t, doc, fmt.Sprintf("authz-row-%d", deny.ID))
	if row.AttrOr("data-highlight", "") != "true" || vt.One(t, doc, "authz-rules").AttrOr("hx-swap-oob", "") != "true" {
		t.Errorf("deciding rule not highlighted: %s", resp.body)
	}
	if got := doc.Find(`[data-highlight="true"]`).Length(); got != 1 {
		t.Errorf("%d rules highlighted", got)
	}
	// What was asked stays in the form.
	if got := vt.One(t, doc, "authz-tester-listener").AttrOr("value", ""); got != "stomp:tcp:default" {
		t.Errorf("listener %q", got)
	}

	resp = ask("username", "bob", "topic", "other")
	if v := vt.One(t, resp.doc(t), "authz-verdict"); v.AttrOr("data-result", "") != "allow" || v.AttrOr("data-source", "") != "no_match" ||
		resp.doc(t).Find(`[data-highlight="true"]`).Length() != 0 {
		t.Errorf("no match: %v", v.Nodes[0].Attr)
	}

	// A plain form gets the page with the answer.
	form := url.Values{views.CSRFFieldName: {csrf}, "action": {"publish"}, "qos": {"1"}, "username": {"admin"}, "topic": {"secret/a"}}
	resp = b.do("POST", "/authorization/check", form)
	if v := vt.One(t, resp.doc(t), "authz-verdict"); resp.StatusCode != 200 || v.AttrOr("data-result", "") != "allow" {
		t.Errorf("plain check: %d", resp.StatusCode)
	}

	for _, tc := range []struct{ name, field, value, testid, want string }{
		{"bad address", "peerhost", "host", "authz-tester-peerhost-error", "not an IP address"},
		{"no topic", "topic", "", "authz-tester-topic-error", "required"},
		{"bad QoS", "qos", "7", "authz-tester-qos-error", "7 is not 0, 1 or 2"},
		{"bad action", "action", "all", "authz-tester-action-error", "not publish or subscribe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := []string{"topic", "t", tc.field, tc.value}
			resp := ask(fields...)
			if resp.StatusCode != 422 || !strings.Contains(vt.Text(t, resp.doc(t), tc.testid), tc.want) {
				t.Errorf("%d %s", resp.StatusCode, resp.body)
			}
		})
	}
}

// uiazUpload posts a multipart form with a file, as the import form does.
func (b *uiBrowser) uiazUpload(path string, fields map[string]string, fileName, content string, header ...string) uiResponse {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if fileName != "" {
		fw, _ := w.CreateFormFile("file", fileName)
		io.WriteString(fw, content)
	}
	w.Close()
	req := httptest.NewRequest("POST", path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	for name, value := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := b.srv.App().Test(req, -1)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return uiResponse{Response: resp, body: string(raw)}
}

func TestUIAuthzImportExport(t *testing.T) {
	a, b, csrf := uiazSetup(t)
	a.azAddRule("/api/v5/authorization/rules", azRuleJSON("kept"))

	// Pasted, appended.
	resp := b.do("POST", "/authorization/import", url.Values{views.CSRFFieldName: {csrf}, "mode": {"append"},
		"acl": {"%% ops\n{allow, {username, \"ops\"}, all, [\"#\"]}.\n{deny, all}.\n"}}, "HX-Request", "true")
	if resp.StatusCode != 200 {
		t.Fatalf("import: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if got := vt.Text(t, doc, "authz-import-done"); got != "Imported 2 rules from acl.conf; the list has 3 now." {
		t.Errorf("done %q", got)
	}
	if got := doc.Find(`[data-testid="authz-rules"] li`).Length(); got != 3 {
		t.Errorf("list shows %d rules", got)
	}
	if got := a.azRuleOrder(); got != "kept ops " {
		t.Errorf("order %q", got)
	}

	// Uploaded, replacing; the file wins over the text area.
	resp = b.uiazUpload("/authorization/import", map[string]string{views.CSRFFieldName: csrf, "mode": "replace", "acl": "ignored"},
		"acl.conf", "{deny, {clientid, {re, \"^x\"}}, publish, [\"a\"]}.\n", "HX-Request", "true")
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d %s", resp.StatusCode, resp.body)
	}
	if got := a.uiazStoredRules(); len(got) != 1 || got[0] != `{"action":"publish","permission":"deny","topics":["a"],"who":{"clientid":{"re":"^x"}}}` {
		t.Fatalf("after replace: %v", got)
	}

	// A bad file imports nothing; the message names the line.
	resp = b.uiazUpload("/authorization/import", map[string]string{views.CSRFFieldName: csrf, "mode": "replace"},
		"acl.conf", "{allow, all}.\n{allow, {user, \"u\"}, publish}.\n", "HX-Request", "true")
	if resp.StatusCode != 422 || !strings.Contains(vt.Text(t, resp.doc(t), "authz-import-acl-error"), "line 2") {
		t.Fatalf("bad file: %d %s", resp.StatusCode, resp.body)
	}
	if resp := b.do("POST", "/authorization/import", url.Values{views.CSRFFieldName: {csrf}, "mode": {"append"}, "acl": {" "}}); resp.StatusCode != 422 ||
		!strings.Contains(vt.Text(t, resp.doc(t), "authz-import-acl-error"), "Paste an acl.conf") {
		t.Fatalf("empty import: %d", resp.StatusCode)
	}
	if got := a.uiazStoredRules(); len(got) != 1 {
		t.Fatalf("refused import changed the rules: %v", got)
	}

	// Export is the API's acl.conf.
	resp = b.get("/authorization/export")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "acl.conf") ||
		resp.body != string(a.azWant("GET", "/api/v5/authorization/rules/export", "", 200)) {
		t.Fatalf("export: %d %q", resp.StatusCode, resp.body)
	}
}

// TestUIAuthzRuleAppliesLive: a deny rule added through the page refuses the next SEND of a
// STOMP client that is already connected.
func TestUIAuthzRuleAppliesLive(t *testing.T) {
	a, b, csrf := uiazSetup(t)
	c := a.stompDial("erin", "pw")
	resp := b.do("POST", "/authorization/rules", uiazRuleForm(csrf, "permission", "deny", "topics", "ui/live/#"), "HX-Request", "true")
	if resp.StatusCode != 200 {
		t.Fatalf("add: %d %s", resp.StatusCode, resp.body)
	}
	c.send("SEND\ndestination:ui/live/a\nreceipt:r1\n\nx")
	if f := c.frame(); !strings.HasPrefix(f, "ERROR\n") || !strings.Contains(f, "message:Insufficient permissions for ui/live/a\n") {
		t.Fatalf("SEND after the rule: %q", f)
	}
}

// TestUIAuthzSources: an HTTP source is shown read-only, in its place, its secrets masked;
// without an enabled rules source the page says that the rules are not asked.
func TestUIAuthzSources(t *testing.T) {
	a, b, _ := uiazSetup(t)
	a.azWant("POST", "/api/v5/authorization/sources", `{"type":"http","enable":true,"method":"post",`+
		`"url":"http://127.0.0.1:1/authz","headers":{"Authorization":"Bearer t0ken"}}`, 204)
	resp := b.get("/authorization")
	if strings.Contains(resp.body, "t0ken") {
		t.Fatal("the page shows a secret of the HTTP source")
	}
	doc := resp.doc(t)
	var order []string
	doc.Find(`[data-testid^="authz-source-"][data-enabled]`).Each(func(_ int, s *goquery.Selection) {
		order = append(order, s.AttrOr("data-testid", ""))
	})
	if strings.Join(order, " ") != "authz-source-http authz-source-rules" {
		t.Errorf("sources %v", order)
	}
	if got := vt.Text(t, doc, "authz-source-summary-http"); got != "POST http://127.0.0.1:1/authz" {
		t.Errorf("summary %q", got)
	}
	if got := vt.Text(t, doc, "authz-source-json-http"); !strings.Contains(got, `"Authorization": "******"`) {
		t.Errorf("configuration %q", got)
	}
	if vt.Has(doc, "authz-rules-unused") {
		t.Error("rules said unused while the rules source is enabled")
	}
	a.azWant("PUT", "/api/v5/authorization/sources/rules", `{"enable":false}`, 204)
	doc = b.get("/authorization").doc(t)
	vt.One(t, doc, "authz-rules-unused")
	if got := vt.One(t, doc, "authz-source-rules").AttrOr("data-enabled", ""); got != "false" {
		t.Errorf("rules source enabled %q", got)
	}
}
