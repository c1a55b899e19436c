package views_test

import (
	"strings"
	"testing"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func TestAccountPasswordPage(t *testing.T) {
	p := views.Page{Title: "Change password", Active: views.NavAccount, User: "admin"}
	m := views.AccountPassword{Username: "admin", Rule: "8 to 64 characters."}
	doc := vt.Render(t, views.AccountPasswordPage(p, m), "tok")

	form := vt.One(t, doc, "account-password-form")
	if form.AttrOr("action", "") != "/account/password" || strings.ToLower(form.AttrOr("method", "")) != "post" {
		t.Errorf("form action %q method %q", form.AttrOr("action", ""), form.AttrOr("method", ""))
	}
	if got := form.Find(`input[name="`+views.CSRFFieldName+`"]`).AttrOr("value", ""); got != "tok" {
		t.Errorf("CSRF field %q", got)
	}
	if got := vt.Text(t, doc, "account-username"); got != "admin" {
		t.Errorf("username %q", got)
	}
	// Every input has its label, is a password input, and tells password managers what it is.
	for _, tc := range []struct{ name, label, autocomplete string }{
		{views.AccountFieldCurrent, "Current password", "current-password"},
		{views.AccountFieldNew, "New password", "new-password"},
		{views.AccountFieldRepeat, "Repeat the new password", "new-password"},
	} {
		in := vt.One(t, doc, "account-"+tc.name)
		id := in.AttrOr("id", "")
		label := doc.Find(`label[for="` + id + `"]`)
		if id == "" || label.Length() != 1 || strings.TrimSpace(label.Text()) != tc.label {
			t.Errorf("%s: id %q, label %q", tc.name, id, label.Text())
		}
		if in.AttrOr("name", "") != tc.name || in.AttrOr("type", "") != "password" ||
			in.AttrOr("autocomplete", "") != tc.autocomplete || in.AttrOr("value", "") != "" {
			t.Errorf("%s: name %q type %q autocomplete %q value %q", tc.name, in.AttrOr("name", ""),
				in.AttrOr("type", ""), in.AttrOr("autocomplete", ""), in.AttrOr("value", ""))
		}
		if _, invalid := in.Attr("aria-invalid"); invalid {
			t.Errorf("%s marked invalid without an error", tc.name)
		}
		if vt.Has(doc, "account-error-"+tc.name) {
			t.Errorf("%s: error shown without one", tc.name)
		}
	}
	if _, ok := vt.One(t, doc, "account-"+views.AccountFieldCurrent).Attr("autofocus"); !ok {
		t.Error("current password does not have the focus")
	}
	help := vt.One(t, doc, "account-help-"+views.AccountFieldNew)
	if help.Text() != "8 to 64 characters." ||
		vt.One(t, doc, "account-"+views.AccountFieldNew).AttrOr("aria-describedby", "") != help.AttrOr("id", "") {
		t.Errorf("rule %q not linked to the new password", help.Text())
	}
	if vt.Has(doc, "account-refused") {
		t.Error("refusal summary on a fresh form")
	}
	if got := doc.Find(`input[autocomplete="username"]`).AttrOr("value", ""); got != "admin" {
		t.Errorf("username for password managers %q", got)
	}
	// The header marks its link to this page as current.
	if got := vt.One(t, doc, "nav-account-password").AttrOr("aria-current", ""); got != "page" {
		t.Errorf("header link aria-current %q", got)
	}
}

func TestAccountPasswordErrorsNextToFields(t *testing.T) {
	m := views.AccountPassword{Username: "admin", Rule: "rule",
		NewError: "Must be 8 to 64 characters long.", RepeatError: "Does not match the new password."}
	doc := vt.Render(t, views.AccountPasswordForm(m), "tok")

	vt.One(t, doc, "account-refused")
	for name, want := range map[string]string{
		views.AccountFieldNew:    m.NewError,
		views.AccountFieldRepeat: m.RepeatError,
	} {
		field := vt.One(t, doc, "account-field-"+name)
		// The error is inside the field's own block, right after its input, and the input
		// points to it.
		errEl := vt.One(t, field, "account-error-"+name)
		if got := strings.TrimSpace(errEl.Text()); got != want {
			t.Errorf("%s: error %q, want %q", name, got, want)
		}
		in := vt.One(t, field, "account-"+name)
		if in.AttrOr("aria-invalid", "") != "true" || !strings.Contains(in.AttrOr("aria-describedby", ""), errEl.AttrOr("id", "-")) {
			t.Errorf("%s: aria-invalid %q, aria-describedby %q", name, in.AttrOr("aria-invalid", ""), in.AttrOr("aria-describedby", ""))
		}
		if in.Next().AttrOr("data-testid", "") != "account-error-"+name {
			t.Errorf("%s: the error does not follow the input", name)
		}
	}
	cur := vt.One(t, doc, "account-field-"+views.AccountFieldCurrent)
	if vt.Has(cur, "account-error-"+views.AccountFieldCurrent) {
		t.Error("current password has an error")
	}
	// The focus goes to the first field with an error.
	if _, ok := vt.One(t, doc, "account-"+views.AccountFieldNew).Attr("autofocus"); !ok {
		t.Error("the new password, first with an error, does not have the focus")
	}
	if _, ok := vt.One(t, doc, "account-"+views.AccountFieldCurrent).Attr("autofocus"); ok {
		t.Error("the current password has the focus too")
	}
}

func TestLayoutLinksToAccountPassword(t *testing.T) {
	doc := vt.Render(t, views.OverviewPage(views.Page{Title: "x", Active: views.NavOverview, User: "admin", DefaultPassword: true},
		views.Overview{}), "t")
	link := vt.One(t, vt.One(t, doc, "default-password-banner"), "default-password-link")
	if link.AttrOr("href", "") != views.AccountPasswordURL {
		t.Errorf("banner link %q", link.AttrOr("href", ""))
	}
	header := vt.One(t, doc, "nav-account-password")
	if header.AttrOr("href", "") != views.AccountPasswordURL || strings.TrimSpace(header.Text()) != "Change password" {
		t.Errorf("header link %q %q", header.AttrOr("href", ""), header.Text())
	}
	if _, ok := header.Attr("aria-current"); ok {
		t.Error("header link current on the overview")
	}
	if header.Closest("header").Length() != 1 {
		t.Error("the link is not in the header")
	}
}
