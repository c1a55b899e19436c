package views_test

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func uiazSample() views.Authz {
	return views.Authz{
		Settings: views.AuthzSettings{NoMatch: "deny", DenyAction: "ignore"},
		Sources: []views.AuthzSource{
			{Type: "http", Enabled: false, Summary: "POST https://auth.example/acl", JSON: `{"type": "http"}`},
			{Type: "rules", Enabled: true, Summary: "The rule list below (2 rules)."},
		},
		Rules: views.AuthzRules{Asked: true, Highlight: 9, List: []views.AuthzRule{
			{ID: 7, Position: 1, Permission: "allow", Who: "username = alice", Action: "subscribe",
				Topics: []views.AuthzTopic{{Filter: "$SYS/#"}, {Filter: "a/#", Exact: true}}, Comment: "ops", NextID: 9},
			{ID: 9, Position: 2, Permission: "deny", Who: "every client", Action: "publish", QoS: "QoS 2",
				Retain: "retained publishes", PrevID: 7},
		}},
		Tester: views.AuthzTester{Action: "publish", Listeners: []string{"stomp:tcp:default"}},
		Import: views.AuthzImport{Mode: "append"},
	}
}

func TestAuthzPage(t *testing.T) {
	p := views.Page{Title: "Authorization", Active: views.NavAuthorization, User: "admin"}
	doc := vt.Render(t, views.AuthzPage(p, uiazSample()), "tok")

	if got := vt.One(t, doc, "authz-no-match").Find("option[selected]").AttrOr("value", ""); got != "deny" {
		t.Errorf("no_match %q", got)
	}
	if got := vt.One(t, doc, "authz-source-http").AttrOr("data-enabled", ""); got != "false" {
		t.Errorf("http source enabled %q", got)
	}
	if got := vt.Text(t, doc, "authz-source-summary-http"); got != "POST https://auth.example/acl" {
		t.Errorf("http summary %q", got)
	}
	// Rules in order, readable, the highlighted one marked.
	var order []string
	doc.Find(`[data-testid^="authz-row-"][data-rule-id]`).Each(func(_ int, s *goquery.Selection) {
		order = append(order, s.AttrOr("data-rule-id", ""))
	})
	if strings.Join(order, " ") != "7 9" {
		t.Errorf("order %v", order)
	}
	if got := vt.One(t, doc, "authz-row-9").AttrOr("data-highlight", ""); got != "true" {
		t.Errorf("highlight %q", got)
	}
	vt.One(t, doc, "authz-row-decided-9")
	if vt.Has(doc, "authz-row-decided-7") || vt.One(t, doc, "authz-row-7").AttrOr("data-highlight", "") != "" {
		t.Error("rule 7 highlighted")
	}
	if got := vt.Text(t, doc, "authz-row-conditions-9"); got != "QoS 2, retained publishes" {
		t.Errorf("conditions %q", got)
	}
	if vt.Has(doc, "authz-row-conditions-7") {
		t.Error("conditions shown for a rule without any")
	}
	if got := strings.Join(strings.Fields(vt.Text(t, doc, "authz-row-topics-7")), " "); got != "$SYS/# a/# (exactly)" {
		t.Errorf("topics %q", got)
	}
	if got := vt.Text(t, doc, "authz-row-topics-9"); got != "every topic" {
		t.Errorf("no topics %q", got)
	}
	// Up and down post the API's positions; the ends are disabled.
	for _, tc := range []struct {
		id, position string
		disabled     bool
	}{
		{"authz-row-up-7", "before:0", true}, {"authz-row-down-7", "after:9", false},
		{"authz-row-up-9", "before:7", false}, {"authz-row-down-9", "after:0", true},
	} {
		btn := vt.One(t, doc, tc.id)
		_, disabled := btn.Attr("disabled")
		form := btn.Closest("form")
		if disabled != tc.disabled || form.Find(`input[name="position"]`).AttrOr("value", "") != tc.position ||
			form.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" || form.AttrOr("hx-target", "") != "#authz-rules" {
			t.Errorf("%s: disabled %v, form %v", tc.id, disabled, form.Nodes[0].Attr)
		}
		if btn.AttrOr("aria-label", "") == "" {
			t.Errorf("%s has no accessible name", tc.id)
		}
	}
	if got := vt.One(t, doc, "authz-row-delete-9").Closest("form").AttrOr("hx-confirm", ""); got != "Delete rule #2?" {
		t.Errorf("delete confirm %q", got)
	}
	if got := vt.One(t, doc, "authz-rule-editor").AttrOr("data-state", ""); got != "closed" {
		t.Errorf("editor %q", got)
	}
	if got := doc.Find(`#authz-tester-listeners option`).AttrOr("value", ""); got != "stomp:tcp:default" {
		t.Errorf("listener suggestion %q", got)
	}
	vt.One(t, doc, "authz-export")
	if _, ok := vt.One(t, doc, "authz-import-append").Attr("checked"); !ok {
		t.Error("import does not append by default")
	}
	// Every form that posts carries the CSRF token; every input has a label.
	doc.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
		if f.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" {
			t.Errorf("form %s without the CSRF token", f.AttrOr("action", ""))
		}
	})
	doc.Find("input:not([type=hidden]), select, textarea").Each(func(_ int, s *goquery.Selection) {
		if id := s.AttrOr("id", ""); id == "" || doc.Find(`label[for="`+id+`"]`).Length() == 0 {
			t.Errorf("%s (%s) has no label", id, s.AttrOr("name", ""))
		}
	})
}

func TestAuthzRulesUnused(t *testing.T) {
	doc := vt.Render(t, views.AuthzRuleList(views.AuthzRules{}, true), "")
	vt.One(t, doc, "authz-rules-unused")
	vt.One(t, doc, "authz-rules-empty")
	if got := vt.One(t, doc, "authz-rules").AttrOr("hx-swap-oob", ""); got != "true" {
		t.Errorf("oob %q", got)
	}
}

func TestAuthzRuleEditor(t *testing.T) {
	f := &views.AuthzRuleForm{ID: 9, Number: 2, Permission: "deny", WhoKind: views.AuthzWhoJSON, WhoJSON: `{"or": []}`,
		Action: "subscribe", QoS: [3]bool{false, true, true}, Retain: "true", Topics: "a\nb/#",
		Errors: map[string]string{"retain": "applies to publish only", "who": "or: must not be empty"}}
	doc := vt.Render(t, views.AuthzRuleEditor(f), "tok")
	if got := doc.Find("h3").Text(); strings.TrimSpace(got) != "Edit rule #2" {
		t.Errorf("title %q", got)
	}
	form := vt.One(t, doc, "authz-form")
	if form.AttrOr("hx-post", "") != "/authorization/rules/9" || form.AttrOr("action", "") != "/authorization/rules/9" {
		t.Errorf("form posts to %v", form.Nodes[0].Attr)
	}
	if vt.Has(doc, "authz-form-position") {
		t.Error("an edited rule offers a place")
	}
	for id, want := range map[string]string{"authz-form-permission": "deny", "authz-form-action": "subscribe",
		"authz-form-retain": "true", "authz-form-who-kind": "json"} {
		if got := vt.One(t, doc, id).Find("option[selected]").AttrOr("value", ""); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	for q, want := range []bool{false, true, true} {
		if _, got := vt.One(t, doc, "authz-form-qos-"+string(rune('0'+q))).Attr("checked"); got != want {
			t.Errorf("qos %d checked %v", q, got)
		}
	}
	if got := vt.Text(t, doc, "authz-form-topics"); got != "a\nb/#" {
		t.Errorf("topics %q", got)
	}
	// The refused fields point at their messages.
	retain := vt.One(t, doc, "authz-form-retain")
	if retain.AttrOr("aria-invalid", "") != "true" || !strings.Contains(retain.AttrOr("aria-describedby", ""), "authz-form-retain-error") {
		t.Errorf("retain: %v", retain.Nodes[0].Attr)
	}
	if got := vt.Text(t, doc, "authz-form-retain-error"); got != "applies to publish only" {
		t.Errorf("retain error %q", got)
	}
	if vt.One(t, doc, "authz-form-who-json").AttrOr("aria-invalid", "") != "true" || vt.One(t, doc, "authz-form-who-value").AttrOr("aria-invalid", "") != "" {
		t.Error("the who error marks the wrong input")
	}
	if vt.One(t, doc, "authz-form-topics").AttrOr("aria-invalid", "") != "" {
		t.Error("an accepted field is marked invalid")
	}

	doc = vt.Render(t, views.AuthzRuleEditor(&views.AuthzRuleForm{Permission: "allow", WhoKind: "all", Place: "front"}), "tok")
	if got := vt.One(t, doc, "authz-form").AttrOr("hx-post", ""); got != "/authorization/rules" {
		t.Errorf("new rule posts to %q", got)
	}
	if got := vt.One(t, doc, "authz-form-position").Find("option[selected]").AttrOr("value", ""); got != "front" {
		t.Errorf("place %q", got)
	}
	if vt.Has(doc, "authz-form-error") {
		t.Error("error shown without one")
	}
	doc = vt.Render(t, views.AuthzRuleEditor(nil), "")
	if vt.One(t, doc, "authz-rule-editor").AttrOr("data-state", "") != "closed" || vt.Has(doc, "authz-form") {
		t.Error("closed editor shows a form")
	}
}

func TestAuthzVerdict(t *testing.T) {
	rule := &views.AuthzRule{ID: 9, Position: 2, Permission: "deny", Who: "every client", Action: "publish", Comment: "secret"}
	for _, tc := range []struct {
		name string
		v    views.AuthzVerdict
		want string
	}{
		{"rule", views.AuthzVerdict{Source: "rules", Rule: rule, Disconnect: true}, "Denied by rule #2 (deny publish, every client; secret)"},
		{"no match", views.AuthzVerdict{Allowed: true, Source: "no_match"}, `Allowed because nothing decided: the "no match" setting applies.`},
		{"http", views.AuthzVerdict{Source: "http"}, "Denied by the http source."},
		{"superuser", views.AuthzVerdict{Allowed: true, Source: "superuser"}, "Allowed because the client is a superuser."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := vt.Render(t, views.AuthzTesterForm(views.AuthzTester{Action: "publish", Topic: "t", Result: &tc.v}), "tok")
			v := vt.One(t, doc, "authz-verdict")
			text := strings.Join(strings.Fields(vt.Text(t, doc, "authz-verdict-result")+" "+vt.Text(t, doc, "authz-verdict-reason")), " ")
			if text != tc.want {
				t.Errorf("verdict %q, want %q", text, tc.want)
			}
			if v.AttrOr("role", "") != "status" {
				t.Error("verdict is not announced")
			}
			if tc.v.Rule != nil {
				if v.AttrOr("data-rule-id", "") != "9" || vt.One(t, doc, "authz-verdict-rule").AttrOr("href", "") != "#authz-rule-9" {
					t.Errorf("rule link: %v", v.Nodes[0].Attr)
				}
				vt.One(t, doc, "authz-verdict-disconnect")
			}
		})
	}
	doc := vt.Render(t, views.AuthzTesterForm(views.AuthzTester{Errors: map[string]string{"peerhost": `peerhost: "x" is not an IP address`}}), "tok")
	if !strings.Contains(vt.Text(t, doc, "authz-tester-peerhost-error"), "not an IP address") || vt.Has(doc, "authz-verdict") {
		t.Error("refused question")
	}
}
