package views_test

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func uigwFormFixture() []views.FormField {
	return []views.FormField{
		{Path: "enable_stats", Label: "Enable stats", Kind: views.FieldBool, Value: "true", Default: "true", HasDefault: true},
		{Path: "idle_timeout", Label: "Idle timeout", Kind: views.FieldDuration, Value: "30s", Default: "30s", HasDefault: true,
			Help: "How long a new connection may take.", Placeholder: "e.g. 30s"},
		{Path: "notify_type", Label: "Notify type", Kind: views.FieldSelect, Value: "con", Options: []string{"non", "con", "qos"}},
		{Path: "gateway_id", Label: "Gateway ID", Kind: views.FieldInt, Value: "300", Min: "0", Max: "255",
			Error: `"300" is not a whole number from 0 to 255`},
		{Path: "access_rules", Label: "Access rules", Kind: views.FieldLines, Value: "allow all"},
		{Path: "tls.certfile_upload", Label: "Upload", Kind: views.FieldFile, Accept: ".pem", ShowIf: "type=ssl,dtls"},
		{Path: "frame", Label: "Frame", Kind: views.FieldGroup, Fields: []views.FormField{
			{Path: "frame.max_headers", Label: "Max headers", Kind: views.FieldInt, Value: "10"},
		}},
		{Path: "clientinfo_override.password", Label: "Password", Kind: views.FieldPassword, Value: "******"},
		{Path: "predefined", Label: "Predefined", Kind: views.FieldTable,
			Columns: []views.FormField{{Path: "id", Label: "ID", Kind: views.FieldInt}, {Path: "topic", Label: "Topic", Kind: views.FieldText}},
			Rows: []views.FormRow{
				{Cells: []views.FormField{{Path: "predefined.0.id", Label: "ID", Kind: views.FieldInt, Value: "1"},
					{Path: "predefined.0.topic", Label: "Topic", Kind: views.FieldText, Value: "a"}}},
				{Cells: []views.FormField{{Path: "predefined.1.id", Label: "ID", Kind: views.FieldInt, Value: "2"},
					{Path: "predefined.1.topic", Label: "Topic", Kind: views.FieldText, Value: "a", Error: "taken"}},
					Error: "id 2 or topic \"a\" is defined twice"},
			}},
	}
}

func TestFormFieldsInputs(t *testing.T) {
	doc := vt.Render(t, views.FormFields("f", uigwFormFixture()), "")

	box := vt.One(t, doc, "f-field-enable_stats")
	if box.AttrOr("type", "") != "checkbox" || box.AttrOr("value", "") != "true" || box.AttrOr("name", "") != "enable_stats" {
		t.Errorf("bool: %s", uigwHTML(box))
	}
	if _, ok := box.Attr("checked"); !ok {
		t.Error("bool not checked")
	}
	if got := vt.Text(t, doc, "f-default-enable_stats"); got != "Default: on" {
		t.Errorf("bool default %q", got)
	}
	dur := vt.One(t, doc, "f-field-idle_timeout")
	if dur.AttrOr("type", "") != "text" || dur.AttrOr("value", "") != "30s" || dur.AttrOr("placeholder", "") != "e.g. 30s" {
		t.Errorf("duration: %s", uigwHTML(dur))
	}
	if got := vt.Text(t, doc, "f-help-idle_timeout"); !strings.Contains(got, "How long") || !strings.Contains(got, "Default: 30s") {
		t.Errorf("help %q", got)
	}
	if got := dur.AttrOr("aria-describedby", ""); got != "f-idle_timeout-help" || doc.Find("#f-idle_timeout-help").Length() != 1 {
		t.Errorf("describedby %q", got)
	}
	sel := vt.One(t, doc, "f-field-notify_type")
	if goquery.NodeName(sel) != "select" || sel.Find("option").Length() != 3 || sel.Find("option[selected]").AttrOr("value", "") != "con" {
		t.Errorf("select: %s", uigwHTML(sel))
	}
	num := vt.One(t, doc, "f-field-gateway_id")
	if num.AttrOr("type", "") != "number" || num.AttrOr("min", "") != "0" || num.AttrOr("max", "") != "255" ||
		num.AttrOr("value", "") != "300" || num.AttrOr("aria-invalid", "") != "true" {
		t.Errorf("int: %s", uigwHTML(num))
	}
	if got := vt.Text(t, doc, "f-error-gateway_id"); !strings.Contains(got, "0 to 255") {
		t.Errorf("error %q", got)
	}
	if !strings.Contains(num.AttrOr("aria-describedby", ""), vt.One(t, doc, "f-error-gateway_id").AttrOr("id", "-")) {
		t.Error("the error is not linked to its input")
	}
	if ta := vt.One(t, doc, "f-field-access_rules"); goquery.NodeName(ta) != "textarea" || ta.Text() != "allow all" {
		t.Errorf("lines: %s", uigwHTML(ta))
	}
	file := vt.One(t, doc, "f-field-tls.certfile_upload")
	if file.AttrOr("type", "") != "file" || file.AttrOr("accept", "") != ".pem" {
		t.Errorf("file: %s", uigwHTML(file))
	}
	if got := file.Closest("[data-show-if]").AttrOr("data-show-if", ""); got != "type=ssl,dtls" {
		t.Errorf("show-if %q", got)
	}
	group := vt.One(t, doc, "f-group-frame")
	if goquery.NodeName(group) != "fieldset" || !strings.Contains(group.Find("legend").Text(), "Frame") ||
		vt.Find(group, "f-field-frame.max_headers").Length() != 1 {
		t.Errorf("group: %s", uigwHTML(group))
	}
	if pw := vt.One(t, doc, "f-field-clientinfo_override.password"); pw.AttrOr("type", "") != "password" {
		t.Errorf("password: %s", uigwHTML(pw))
	}

	// Every control has exactly one label.
	doc.Find("input, select, textarea").Each(func(_ int, s *goquery.Selection) {
		id := s.AttrOr("id", "")
		if id == "" || doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("no label for %s", uigwHTML(s))
		}
	})
}

func TestFormTable(t *testing.T) {
	doc := vt.Render(t, views.FormFields("f", uigwFormFixture()), "")
	table := vt.One(t, doc, "f-table-predefined")
	if _, ok := table.Attr("data-form-table"); !ok {
		t.Error("no data-form-table")
	}
	rows := vt.One(t, doc, "f-rows-predefined")
	if rows.AttrOr("data-next-row", "") != "2" || rows.Find("tr").Length() != 2 {
		t.Errorf("rows: next %q, %d rows", rows.AttrOr("data-next-row", ""), rows.Find("tr").Length())
	}
	if got := vt.One(t, doc, "f-field-predefined.1.topic").AttrOr("name", ""); got != "predefined.1.topic" {
		t.Errorf("cell name %q", got)
	}
	if got := vt.Text(t, doc, "f-error-predefined.1.topic"); got != "taken" {
		t.Errorf("cell error %q", got)
	}
	if got := vt.Text(t, doc, "f-error-predefined.1"); !strings.Contains(got, "defined twice") {
		t.Errorf("row error %q", got)
	}
	if got := vt.One(t, doc, "f-remove-row-predefined.0").AttrOr("aria-label", ""); got != "Remove row 1" {
		t.Errorf("remove label %q", got)
	}
	if _, ok := vt.One(t, doc, "f-add-row-predefined").Attr("data-form-add-row"); !ok {
		t.Error("add button without data-form-add-row")
	}
	// The template row: empty cells named with the placeholder app.js replaces.
	tpl := table.Find("template[data-form-row-template]")
	inner, _ := tpl.Html()
	tplDoc := vt.Parse(t, strings.NewReader("<table><tbody>"+inner+"</tbody></table>"))
	for _, col := range []string{"id", "topic"} {
		in := vt.One(t, tplDoc, "f-field-predefined."+views.RowIndexPlaceholder+"."+col)
		if in.AttrOr("name", "") != "predefined.__row__."+col || in.AttrOr("value", "") != "" {
			t.Errorf("template %s: %s", col, uigwHTML(in))
		}
	}
}

func TestFormMessagesAndSections(t *testing.T) {
	f := views.Form{Prefix: "f", Error: "gateway x: something", Notice: "Saved.", Sections: []views.FormSection{
		{ID: "common", Title: "Every gateway", Fields: uigwFormFixture()[:1]},
		{ID: "tls", Title: "TLS", ShowIf: "type=ssl", Fields: uigwFormFixture()[1:2]},
	}}
	doc := vt.Render(t, views.FormMessages(f), "")
	if vt.Text(t, doc, "f-form-error") != "gateway x: something" || vt.Text(t, doc, "f-notice") != "Saved." {
		t.Error("messages")
	}
	doc = vt.Render(t, views.FormSections(f), "")
	if got := vt.One(t, doc, "f-section-tls").AttrOr("data-show-if", ""); got != "type=ssl" {
		t.Errorf("section show-if %q", got)
	}
	if got := vt.One(t, doc, "f-section-common").Find("legend").Text(); got != "Every gateway" {
		t.Errorf("legend %q", got)
	}
	if !f.HasErrors() {
		t.Error("HasErrors")
	}
	if ff, ok := f.Field("idle_timeout"); !ok || ff.Value != "30s" {
		t.Errorf("Field: %+v %v", ff, ok)
	}
}

func uigwHTML(s *goquery.Selection) string {
	h, err := goquery.OuterHtml(s)
	if err != nil {
		return err.Error()
	}
	return h
}
