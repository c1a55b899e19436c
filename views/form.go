package views

import (
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// A generated form: the web layer reflects over a configuration struct (a gateway's common
// fields, a protocol's settings, a listener) and describes each field as a FormField; the
// components in form.templ render them with the right input, label, help, default and the
// error of the last submission. A new gateway's settings thus get a form without page code.

// FieldKind is how a field is edited.
type FieldKind string

// Field kinds.
const (
	FieldBool     FieldKind = "bool"     // a checkbox (switch)
	FieldInt      FieldKind = "int"      // a number input
	FieldText     FieldKind = "text"     // a text input
	FieldPassword FieldKind = "password" // a text input that hides what is typed
	FieldDuration FieldKind = "duration" // a text input taking "30s", "15m", "2h"
	FieldSelect   FieldKind = "select"   // one of Options
	FieldLines    FieldKind = "lines"    // a textarea, one value per line
	FieldFile     FieldKind = "file"     // a file upload
	FieldGroup    FieldKind = "group"    // a fieldset of Fields
	FieldTable    FieldKind = "table"    // an editable table: Columns, Rows
)

// FormField is one field of a generated form.
type FormField struct {
	// Path is the field's JSON path, also the input's name: "idle_timeout",
	// "frame.max_headers", "predefined.0.id". Errors name fields by it.
	Path  string
	Label string
	Help  string
	Kind  FieldKind
	// Value is the value shown: the stored one, or what was submitted when the form comes
	// back with errors. A FieldBool is checked when Value is "true".
	Value string
	// Default is the value a new gateway or listener starts with, as text; shown when
	// HasDefault.
	Default    string
	HasDefault bool
	Options    []string // FieldSelect
	Min, Max   string   // FieldInt bounds from the Go type ("" for none)
	ReadOnly   bool
	Required   bool
	// Placeholder is shown in an empty input.
	Placeholder string
	// Accept is a FieldFile's accepted types (".pem,.crt").
	Accept string
	// ShowIf hides the field unless another field of the form has one of some values:
	// "type=ssl,dtls". app.js applies it; without scripts every field shows.
	ShowIf string
	// Error is why the last submission was refused, for this field.
	Error string

	Fields  []FormField // FieldGroup
	Columns []FormField // FieldTable: one per column, Path being the column's key
	Rows    []FormRow   // FieldTable
}

// FormRow is one row of a FieldTable.
type FormRow struct {
	Cells []FormField
	Error string // a refusal naming the whole row ("predefined[1]: defined twice")
}

// Form is a generated form's content: its fields in sections.
type Form struct {
	// Prefix makes the ids and data-testids of the form's elements unique on the page:
	// inputs are "<Prefix>-field-<path>", their errors "<Prefix>-error-<path>".
	Prefix   string
	Sections []FormSection
	// Error is a refusal that names no field of the form.
	Error string
	// Notice is shown after a change was saved.
	Notice string
}

// FormSection is a titled part of a form (a gateway's common fields, its protocol's own).
type FormSection struct {
	ID     string // data-testid "<Prefix>-section-<ID>"
	Title  string
	Help   string
	ShowIf string // as FormField.ShowIf
	Fields []FormField
}

// HasErrors reports whether the form carries any error.
func (f Form) HasErrors() bool {
	if f.Error != "" {
		return true
	}
	for _, s := range f.Sections {
		if fieldsHaveErrors(s.Fields) {
			return true
		}
	}
	return false
}

func fieldsHaveErrors(fs []FormField) bool {
	for _, f := range fs {
		if f.Error != "" || fieldsHaveErrors(f.Fields) {
			return true
		}
		for _, r := range f.Rows {
			if r.Error != "" || fieldsHaveErrors(r.Cells) {
				return true
			}
		}
	}
	return false
}

// Field returns the field at path, searching groups and table rows.
func (f Form) Field(path string) (FormField, bool) {
	for _, s := range f.Sections {
		if g, ok := findField(s.Fields, path); ok {
			return g, true
		}
	}
	return FormField{}, false
}

func findField(fs []FormField, path string) (FormField, bool) {
	for _, f := range fs {
		if f.Path == path {
			return f, true
		}
		if g, ok := findField(f.Fields, path); ok {
			return g, true
		}
		for _, r := range f.Rows {
			if g, ok := findField(r.Cells, path); ok {
				return g, true
			}
		}
	}
	return FormField{}, false
}

// RowIndexPlaceholder stands for the row index in a table's row template; app.js replaces
// it with a new index when a row is added.
const RowIndexPlaceholder = "__row__"

// formID is the HTML id of a field's input: the prefix and the path, with the characters
// that CSS selectors would need escaped replaced.
func formID(prefix, path string) string {
	return prefix + "-" + strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(path)
}

func fieldTestID(prefix, path string) string { return prefix + "-field-" + path }
func errorTestID(prefix, path string) string { return prefix + "-error-" + path }
func helpID(prefix, path string) string      { return formID(prefix, path) + "-help" }

// describedBy is the aria-describedby of an input: its help and its error.
func describedBy(prefix string, f FormField) string {
	var ids []string
	if f.Help != "" || f.HasDefault {
		ids = append(ids, helpID(prefix, f.Path))
	}
	if f.Error != "" {
		ids = append(ids, formID(prefix, f.Path)+"-error")
	}
	return strings.Join(ids, " ")
}

// defaultText is how a default is shown.
func (f FormField) defaultText() string {
	switch {
	case f.Kind == FieldBool && f.Default == "true":
		return "on"
	case f.Kind == FieldBool:
		return "off"
	case f.Default == "":
		return "empty"
	}
	return f.Default
}

// rowTemplate is a table's new row: its columns with the index placeholder in their paths.
func (f FormField) rowTemplate() []FormField {
	cells := make([]FormField, len(f.Columns))
	for i, c := range f.Columns {
		c.Path = f.Path + "." + RowIndexPlaceholder + "." + c.Path
		c.Value = c.Default
		c.Error = ""
		cells[i] = c
	}
	return cells
}

// nextRow is the index a new row of the table gets.
func (f FormField) nextRow() string { return strconv.Itoa(len(f.Rows)) }

// rowLabel names a table cell for its (visually hidden) label: "Topic, row 2".
func rowLabel(label string, row int) string { return label + ", row " + strconv.Itoa(row+1) }

// inputAttrs are the attributes every control of a field has: id (its label's for), name
// (the path), data-testid, the links to its help and error, and its constraints.
func inputAttrs(prefix string, f FormField) templ.Attributes {
	a := templ.Attributes{
		"id":          formID(prefix, f.Path),
		"name":        f.Path,
		"data-testid": fieldTestID(prefix, f.Path),
	}
	if d := describedBy(prefix, f); d != "" {
		a["aria-describedby"] = d
	}
	if f.Error != "" {
		a["aria-invalid"] = "true"
	}
	if f.ReadOnly {
		a["readonly"] = true
	}
	if f.Required {
		a["required"] = true
	}
	if f.Placeholder != "" {
		a["placeholder"] = f.Placeholder
	}
	if f.Min != "" {
		a["min"] = f.Min
	}
	if f.Max != "" {
		a["max"] = f.Max
	}
	return a
}

// showIfAttrs carry a field's or section's ShowIf for app.js.
func showIfAttrs(showIf string) templ.Attributes {
	if showIf == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{"data-show-if": showIf}
}
