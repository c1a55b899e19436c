package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

const uiauBase = "/gateways/stomp/listeners/stomp:tcp:default/authentication"

func uiauOptions() views.AuthnOptions {
	return views.AuthnOptions{
		HashNames:     []string{"plain", "md5", "sha", "sha256", "sha512", "bcrypt", "pbkdf2"},
		SaltPositions: []string{"prefix", "suffix", "disable"},
		MacFuns:       []string{"sha256", "sha512"},
	}
}

// uiauCheckLabels fails for a visible input, select or textarea below s without a label
// (a <label for> or aria-label), or a label pointing at no element.
func uiauCheckLabels(t *testing.T, doc *goquery.Document, s *goquery.Selection) {
	t.Helper()
	s.Find("input, select, textarea").Each(func(_ int, in *goquery.Selection) {
		if in.AttrOr("type", "") == "hidden" {
			return
		}
		id := in.AttrOr("id", "")
		if _, ok := in.Attr("aria-label"); ok {
			return
		}
		if id == "" || doc.Find(`label[for="`+id+`"]`).Length() == 0 {
			t.Errorf("%s name=%q id=%q has no label", goquery.NodeName(in), in.AttrOr("name", ""), id)
		}
	})
	s.Find("label[for]").Each(func(_ int, l *goquery.Selection) {
		if doc.Find(`[id="`+l.AttrOr("for", "")+`"]`).Length() != 1 {
			t.Errorf("label for=%q points at no single element", l.AttrOr("for", ""))
		}
	})
}

func builtinForm(hash views.AuthnHash) views.AuthnForm {
	return views.AuthnForm{Base: uiauBase, Listener: true, Backend: views.AuthnBuiltin, Enable: true,
		UserIDType: "username", Hash: hash, Options: uiauOptions()}
}

// The built-in form shows the fields of the chosen algorithm only, and redraws itself
// (htmx) when the backend or the algorithm changes.
func TestAuthnFormBuiltinFieldsFollowAlgorithm(t *testing.T) {
	tests := []struct {
		name      string
		hash      views.AuthnHash
		want, not []string
	}{
		{"simple", views.AuthnHash{Name: "sha256", SaltPosition: "suffix"}, []string{"authn-salt-position"},
			[]string{"authn-salt-rounds", "authn-mac-fun", "authn-iterations", "authn-dk-length"}},
		{"bcrypt", views.AuthnHash{Name: "bcrypt", SaltRounds: "7"}, []string{"authn-salt-rounds"},
			[]string{"authn-salt-position", "authn-mac-fun", "authn-iterations", "authn-dk-length"}},
		{"pbkdf2", views.AuthnHash{Name: "pbkdf2", MacFun: "sha512", Iterations: "100", DKLength: "32"},
			[]string{"authn-mac-fun", "authn-iterations", "authn-dk-length"}, []string{"authn-salt-position", "authn-salt-rounds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := vt.Render(t, views.AuthnFormView(builtinForm(tc.hash)), "tok")
			for _, id := range tc.want {
				vt.One(t, doc, id)
			}
			for _, id := range tc.not {
				if vt.Has(doc, id) {
					t.Errorf("%s shown for %s", id, tc.hash.Name)
				}
			}
			if vt.Has(doc, "authn-http") || vt.Has(doc, "authn-test") {
				t.Error("HTTP fields on a built-in form")
			}
			if got := vt.One(t, doc, "authn-hash-name").Find("option[selected]").AttrOr("value", ""); got != tc.hash.Name {
				t.Errorf("selected algorithm %q", got)
			}
			for _, id := range []string{"authn-backend", "authn-hash-name"} {
				sel := vt.One(t, doc, id)
				if sel.AttrOr("hx-post", "") != uiauBase+"/form" || sel.AttrOr("hx-target", "") != "#authn-form" ||
					sel.AttrOr("hx-trigger", "") != "change" {
					t.Errorf("%s does not redraw the form on change: %v", id, sel.Nodes[0].Attr)
				}
			}
			form := vt.One(t, doc, "authn-form")
			if form.AttrOr("hx-post", "") != uiauBase || form.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" {
				t.Errorf("form posts to %q with CSRF %q", form.AttrOr("hx-post", ""), form.Find(`input[name="_csrf"]`).AttrOr("value", ""))
			}
			if got := form.Find(`input[name="shown"]`).AttrOr("value", ""); got != views.AuthnBuiltin {
				t.Errorf("shown = %q", got)
			}
			uiauCheckLabels(t, doc, doc.Selection)
		})
	}
}

func TestAuthnFormFieldError(t *testing.T) {
	f := builtinForm(views.AuthnHash{Name: "bcrypt", SaltRounds: "4"})
	f.Errors = map[string]string{"password_hash_algorithm.salt_rounds": "must be between 5 and 10", "": "not saved"}
	doc := vt.Render(t, views.AuthnFormView(f), "tok")
	if got := vt.Text(t, doc, "authn-error-salt-rounds"); got != "must be between 5 and 10" {
		t.Errorf("error %q", got)
	}
	in := vt.One(t, doc, "authn-salt-rounds")
	if in.AttrOr("aria-invalid", "") != "true" || in.AttrOr("aria-describedby", "") != "authn-error-salt-rounds authn-salt-rounds-help" ||
		in.AttrOr("value", "") != "4" {
		t.Errorf("input %v", in.Nodes[0].Attr)
	}
	if got := vt.Text(t, doc, "authn-error-form"); got != "not saved" {
		t.Errorf("form error %q", got)
	}
	if _, ok := vt.One(t, doc, "authn-hash-name").Attr("aria-invalid"); ok {
		t.Error("a field without an error is marked invalid")
	}
}

func TestAuthnFormNoneAndStored(t *testing.T) {
	// Nothing stored, nothing chosen: no save, no remove.
	doc := vt.Render(t, views.AuthnFormView(views.AuthnForm{Base: uiauBase, Options: uiauOptions()}), "tok")
	vt.One(t, doc, "authn-none")
	for _, id := range []string{"authn-save", "authn-remove", "authn-enable", "authn-builtin", "authn-http"} {
		if vt.Has(doc, id) {
			t.Errorf("%s shown without a backend", id)
		}
	}
	// A stored built-in one with users: remove asks first and says the users go too.
	f := builtinForm(views.AuthnHash{Name: "sha256", SaltPosition: "prefix"})
	f.Stored, f.Users = views.AuthnBuiltin, 3
	doc = vt.Render(t, views.AuthnFormView(f), "tok")
	rm := vt.One(t, doc, "authn-remove")
	if rm.AttrOr("hx-delete", "") != uiauBase || !strings.Contains(rm.AttrOr("hx-confirm", ""), "3 built-in users") {
		t.Errorf("remove: %v", rm.Nodes[0].Attr)
	}
	if got := vt.Text(t, doc, "authn-save"); got != "Save" {
		t.Errorf("save button %q", got)
	}
	if !strings.Contains(vt.Text(t, doc, "authn-hash-warning"), "3 stored users") {
		t.Error("no warning about the users' hashes")
	}
}

func TestAuthnFormHTTP(t *testing.T) {
	f := views.AuthnForm{Base: uiauBase, Backend: views.AuthnHTTP, Stored: views.AuthnHTTP, Enable: true, Options: uiauOptions(),
		TestUsername: "alice",
		HTTP: views.AuthnHTTPForm{Method: "post", URL: "http://auth:8080/x", RequestTimeout: "5s", PoolSize: "8",
			Headers: []views.AuthnPair{{Key: "authorization", Value: "******"}, {Key: "x-a", Value: "${foo}"}},
			Body:    []views.AuthnPair{{Key: "u", Value: "${username}"}, {Key: "n", Value: "42", JSON: true}},
			SSL:     views.AuthnSSL{Enable: true, Verify: "verify_peer", CACertFile: "/ca.pem"}},
		Errors: map[string]string{"headers.1": "unknown placeholder ${foo}", "ssl.certfile": "give both"}}
	doc := vt.Render(t, views.AuthnFormView(f), "tok")
	for id, want := range map[string]string{"authn-header-0-key": "authorization", "authn-header-0-value": "******",
		"authn-body-1-key": "n", "authn-body-1-value": "42", "authn-url": "http://auth:8080/x", "authn-ssl-cacertfile": "/ca.pem",
		"authn-test-username": "alice"} {
		if got := vt.One(t, doc, id).AttrOr("value", ""); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if got := vt.Text(t, doc, "authn-error-header-1"); got != "unknown placeholder ${foo}" {
		t.Errorf("row error %q", got)
	}
	if vt.One(t, doc, "authn-header-1-value").AttrOr("aria-invalid", "") != "true" {
		t.Error("row with an error not marked invalid")
	}
	if got := vt.Text(t, doc, "authn-error-ssl-certfile"); got != "give both" {
		t.Errorf("ssl error %q", got)
	}
	jsonFlags := vt.One(t, doc, "authn-body").Find(`input[name="body_json"]`)
	if jsonFlags.Length() != 2 || jsonFlags.Eq(0).AttrOr("value", "") != "false" || jsonFlags.Eq(1).AttrOr("value", "") != "true" {
		t.Errorf("body_json flags: %d", jsonFlags.Length())
	}
	add := vt.One(t, doc, "authn-headers-add")
	if add.AttrOr("name", "") != "row_action" || add.AttrOr("value", "") != "add:headers" || add.AttrOr("hx-post", "") != uiauBase+"/form" {
		t.Errorf("add header button %v", add.Nodes[0].Attr)
	}
	if got := vt.One(t, doc, "authn-body-1-remove").AttrOr("value", ""); got != "remove:body:1" {
		t.Errorf("remove body row: %q", got)
	}
	run := vt.One(t, doc, "authn-test-run")
	if run.AttrOr("hx-post", "") != uiauBase+"/test" || run.AttrOr("hx-target", "") != "#authn-test-result" {
		t.Errorf("test button %v", run.Nodes[0].Attr)
	}
	if vt.One(t, doc, "authn-test-password").AttrOr("value", "") != "" {
		t.Error("test password rendered")
	}
	if vt.Has(doc, "authn-builtin") {
		t.Error("built-in fields on an HTTP form")
	}
	uiauCheckLabels(t, doc, doc.Selection)
}

func TestAuthnProbeResult(t *testing.T) {
	doc := vt.Render(t, views.AuthnProbeResult(views.AuthnProbe{Status: 200, Body: `{"result":"allow"}`, Decision: "allow",
		Elapsed: 12300 * time.Microsecond}), "")
	if vt.One(t, doc, "authn-test-answer").AttrOr("data-decision", "") != "allow" || vt.Text(t, doc, "authn-test-decision") != "allow" ||
		vt.Text(t, doc, "authn-test-status") != "200" || vt.Text(t, doc, "authn-test-elapsed") != "12ms" ||
		vt.Text(t, doc, "authn-test-body") != `{"result":"allow"}` || vt.Has(doc, "authn-test-problem") {
		t.Errorf("answer: %s", doc.Text())
	}
	doc = vt.Render(t, views.AuthnProbeResult(views.AuthnProbe{Decision: "ignore", Problem: "connection refused"}), "")
	if vt.Text(t, doc, "authn-test-status") != "no answer" || vt.Text(t, doc, "authn-test-problem") != "connection refused" {
		t.Errorf("no answer: %s", doc.Text())
	}
	doc = vt.Render(t, views.AuthnProbeResult(views.AuthnProbe{Invalid: "url: no host"}), "")
	if got := vt.Text(t, doc, "authn-test-invalid"); got != "Not tested: url: no host" || vt.Has(doc, "authn-test-answer") {
		t.Errorf("invalid: %q", got)
	}
}

func uiauPageModel() views.Authn {
	return views.Authn{Gateway: "stomp", Listener: "stomp:tcp:default", Base: uiauBase, GatewayURL: "/gateways/stomp",
		GatewayAuthnURL: "/gateways/stomp/authentication", AuthnOff: true, GatewayBackend: views.AuthnHTTP,
		Form: builtinForm(views.AuthnHash{Name: "sha256", SaltPosition: "prefix"})}
}

func TestAuthnPageListener(t *testing.T) {
	m := uiauPageModel()
	m.Form.Stored = views.AuthnBuiltin
	m.Users = &views.AuthnUsers{Base: uiauBase, UserIDType: "clientid",
		List: views.AuthnUserList{Base: uiauBase, Query: views.AuthnUserQuery{Like: "a", Page: 2}, Total: 45, Pages: 3,
			Users: []views.AuthnUser{{ID: "alice", Superuser: true}, {ID: "a b/c"}}},
		Add:    views.AuthnUserAdd{Base: uiauBase, UserIDType: "clientid"},
		Import: views.AuthnImport{Base: uiauBase, Kind: "plain"}}
	p := views.Page{Title: m.Title(), Active: views.NavGateways, User: "admin"}
	doc := vt.Render(t, views.AuthnPage(p, m), "tok")

	if got := doc.Find("title").Text(); got != "Authentication · stomp:tcp:default · xgate" {
		t.Errorf("title %q", got)
	}
	if !strings.Contains(vt.Text(t, doc, "authn-scope"), "replaces the gateway's") ||
		!strings.Contains(vt.Text(t, doc, "authn-scope"), "HTTP server") {
		t.Errorf("scope: %q", vt.Text(t, doc, "authn-scope"))
	}
	if vt.One(t, doc, "authn-gateway-link").AttrOr("href", "") != "/gateways/stomp/authentication" {
		t.Error("no link to the gateway's authentication")
	}
	if got := vt.One(t, doc, "authn-listener-enable").AttrOr("hx-post", ""); got != uiauBase+"/enable_authn" {
		t.Errorf("enable_authn button posts to %q", got)
	}
	if !strings.Contains(vt.Text(t, doc, "authn-listener-off"), "enable_authn") {
		t.Error("off banner does not name enable_authn")
	}
	// Users: rows, paging with the search kept, user ids escaped in URLs.
	if vt.Text(t, doc, "authn-user-superuser-alice") != "yes" || vt.Text(t, doc, "authn-user-superuser-a b/c") != "no" {
		t.Error("superuser column")
	}
	if got := vt.One(t, doc, "authn-user-delete-a b/c").AttrOr("hx-delete", ""); got != uiauBase+"/users/a%20b%2Fc" {
		t.Errorf("delete URL %q", got)
	}
	if !strings.Contains(vt.One(t, doc, "authn-user-delete-alice").AttrOr("hx-confirm", ""), "alice") {
		t.Error("delete does not ask")
	}
	if vt.Text(t, doc, "authn-users-page") != "Page 2 of 3" {
		t.Errorf("pager %q", vt.Text(t, doc, "authn-users-page"))
	}
	if got := vt.One(t, doc, "authn-users-next").AttrOr("hx-get", ""); got != uiauBase+"/users?like_user_id=a&page=3" {
		t.Errorf("next %q", got)
	}
	list := vt.One(t, doc, "authn-users-list")
	if list.AttrOr("hx-trigger", "") != "uiau-users-changed from:body" || list.AttrOr("hx-get", "") != uiauBase+"/users?like_user_id=a&page=2" {
		t.Errorf("list reload %v", list.Nodes[0].Attr)
	}
	if got := doc.Find(`label[for="authn-user-add-id"]`).Text(); got != "Client ID" {
		t.Errorf("user id label %q", got)
	}
	imp := vt.One(t, doc, "authn-import")
	if imp.AttrOr("hx-encoding", "") != "multipart/form-data" || imp.AttrOr("data-uiau-progress", "") != "authn-import-progress" {
		t.Errorf("import form %v", imp.Nodes[0].Attr)
	}
	if _, hidden := vt.One(t, doc, "authn-import-progress").Attr("hidden"); !hidden {
		t.Error("progress bar shown before an upload")
	}
	if vt.Has(doc, "authn-listeners") {
		t.Error("listeners table on a listener page")
	}
	uiauCheckLabels(t, doc, vt.One(t, doc, "authn-content"))
}

func TestAuthnPageGateway(t *testing.T) {
	m := views.Authn{Gateway: "stomp", Base: "/gateways/stomp/authentication", GatewayURL: "/gateways/stomp",
		GatewayAuthnURL: "/gateways/stomp/authentication",
		Form:            views.AuthnForm{Base: "/gateways/stomp/authentication", Options: uiauOptions()},
		Listeners: []views.AuthnListener{{ID: "stomp:tcp:default", URL: uiauBase, EnableAuthn: true, Own: views.AuthnBuiltin},
			{ID: "stomp:tcp:b", URL: "/b", EnableAuthn: true}, {ID: "stomp:tcp:c", URL: "/c"}}}
	doc := vt.Render(t, views.AuthnPage(views.Page{Title: m.Title(), User: "admin"}, m), "tok")
	if vt.Has(doc, "authn-listener-off") || vt.Has(doc, "authn-users") {
		t.Error("listener parts or users on a gateway page without an authenticator")
	}
	for id, want := range map[string]string{"stomp:tcp:default": "its own: built-in database", "stomp:tcp:b": "the gateway's",
		"stomp:tcp:c": "nobody (authentication off)"} {
		if got := vt.Text(t, doc, "authn-listener-by-"+id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	if vt.One(t, doc, "authn-listener-link-stomp:tcp:default").AttrOr("href", "") != uiauBase {
		t.Error("listener link")
	}
}

func TestAuthnUserForms(t *testing.T) {
	doc := vt.Render(t, views.AuthnUserAddForm(views.AuthnUserAdd{Base: uiauBase, UserID: "bob", Superuser: true,
		Errors: map[string]string{"user_id": "a user with this id exists already"}}), "tok")
	if vt.One(t, doc, "authn-user-add-id").AttrOr("value", "") != "bob" || vt.One(t, doc, "authn-user-add-id").AttrOr("aria-invalid", "") != "true" ||
		vt.Text(t, doc, "authn-user-add-id-error") != "a user with this id exists already" {
		t.Error("add form error")
	}
	if _, ok := vt.One(t, doc, "authn-user-add-superuser").Attr("checked"); !ok {
		t.Error("superuser not kept")
	}
	doc = vt.Render(t, views.AuthnUserEditRow(views.AuthnUserEdit{Base: uiauBase, User: views.AuthnUser{ID: "bob"},
		Errors: map[string]string{"password": "must be at most 72 bytes with bcrypt"}}), "tok")
	save := vt.One(t, doc, "authn-user-edit-save")
	if save.AttrOr("hx-put", "") != uiauBase+"/users/bob" || save.AttrOr("hx-include", "") != "closest tr" {
		t.Errorf("save %v", save.Nodes[0].Attr)
	}
	if vt.Text(t, doc, "authn-user-edit-password-error") != "must be at most 72 bytes with bcrypt" {
		t.Error("edit error")
	}
	doc = vt.Render(t, views.AuthnImportForm(views.AuthnImport{Base: uiauBase, Kind: "hash",
		Result: &views.AuthnImportResult{Total: 4, Success: 2, Override: 1, Skipped: 1, Failed: 1}}), "tok")
	for id, want := range map[string]string{"authn-import-total": "4", "authn-import-success": "2", "authn-import-override": "1",
		"authn-import-skipped": "1", "authn-import-failed": "1"} {
		if got := vt.Text(t, doc, id); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if got := vt.One(t, doc, "authn-import-type").Find("option[selected]").AttrOr("value", ""); got != "hash" {
		t.Errorf("kind %q", got)
	}
	if vt.One(t, doc, "authn-import-progress").AttrOr("value", "") != "100" {
		t.Error("progress not full after an import")
	}
}
