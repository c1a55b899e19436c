package web

import (
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/views"
)

// The generated forms. A configuration struct (gateway.Config's common fields, a protocol's
// settings as its ParseSettings returns them, a listener) is described by reflection: each
// field with a JSON name becomes a views.FormField whose input is named by its JSON path
// ("frame.max_headers", "predefined.0.id"), labelled from the JSON name, with the help of
// its `help` tag, the choices of its `enum` tag and its default. Submitted, the same walk
// turns the form's values back into the JSON object the configuration decodes strictly, so
// the form and the API are checked by the same code. The kinds:
//
//	bool -> checkbox; integers -> number; string -> text (select with `enum`, hidden when
//	the name is a secret's); gateway.Duration -> text such as "30s"; struct or pointer to
//	struct -> fieldset; slice of structs -> table with rows to add and remove; slice of
//	strings -> textarea, one per line. Other fields (raw JSON) are not in forms.
//
// Values travel as url.Values keyed by path: uigwValues makes them from a configuration,
// a submitted form is one, and uigwDecoder normalises it (table rows renumbered from 0,
// empty rows dropped), so that a refused form shows what was sent under the paths that the
// refusal names.

var uigwDurationType = reflect.TypeFor[gateway.Duration]()

// uigwSecretNames are the JSON names of fields whose stored value is never shown: the form
// shows gwHidden instead, which the API's reveal functions turn back into the stored value.
var uigwSecretNames = []string{"password", "key", "secret"}

// uigwStructField is a struct field a form edits.
type uigwStructField struct {
	name  string // JSON name
	index int
	sf    reflect.StructField
	kind  views.FieldKind
}

// uigwFieldsOf lists the fields of struct type t that forms edit, in declaration order,
// without those whose JSON name is in skip.
func uigwFieldsOf(t reflect.Type, skip []string) []uigwStructField {
	var out []uigwStructField
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() || sf.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if slices.Contains(skip, name) {
			continue
		}
		kind := uigwKindOf(sf.Type, name, sf.Tag)
		if kind == "" {
			continue
		}
		out = append(out, uigwStructField{name: name, index: i, sf: sf, kind: kind})
	}
	return out
}

// uigwKindOf is how a field of type t is edited, "" when forms do not edit it.
func uigwKindOf(t reflect.Type, name string, tag reflect.StructTag) views.FieldKind {
	if t == uigwDurationType {
		return views.FieldDuration
	}
	switch t.Kind() {
	case reflect.Bool:
		return views.FieldBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return views.FieldInt
	case reflect.String:
		switch {
		case tag.Get("enum") != "":
			return views.FieldSelect
		case slices.Contains(uigwSecretNames, name):
			return views.FieldPassword
		}
		return views.FieldText
	case reflect.Struct:
		return views.FieldGroup
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Pointer {
			return ""
		}
		return uigwKindOf(t.Elem(), name, tag)
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.Struct:
			return views.FieldTable
		case reflect.String:
			return views.FieldLines
		}
	}
	return ""
}

// uigwPath joins a path and a key.
func uigwPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// uigwValues adds the form values of struct v (its fields but those in skip) under prefix.
func uigwValues(v reflect.Value, prefix string, skip []string, out url.Values) {
	for _, f := range uigwFieldsOf(v.Type(), skip) {
		uigwValue(v.Field(f.index), uigwPath(prefix, f.name), f, out)
	}
}

func uigwValue(v reflect.Value, path string, f uigwStructField, out url.Values) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			if f.kind != views.FieldGroup {
				out.Set(path, "")
			}
			return
		}
		v = v.Elem()
	}
	switch f.kind {
	case views.FieldGroup:
		uigwValues(v, path, nil, out)
	case views.FieldTable:
		for i := range v.Len() {
			uigwValues(v.Index(i), path+"."+strconv.Itoa(i), nil, out)
		}
	case views.FieldLines:
		out.Set(path, strings.Join(v.Interface().([]string), "\n"))
	case views.FieldPassword:
		if v.String() != "" {
			out.Set(path, gwHidden)
		} else {
			out.Set(path, "")
		}
	default:
		out.Set(path, uigwScalarText(v))
	}
}

// uigwScalarText is a scalar value as a form shows it.
func uigwScalarText(v reflect.Value) string {
	if v.Type() == uigwDurationType {
		return uigwDurationText(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.String:
		return v.String()
	}
	return ""
}

// uigwDurationText writes a duration as an operator would: "15m" rather than "15m0s".
func uigwDurationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// uigwLabelWords are the words of JSON names written differently in labels.
var uigwLabelWords = map[string]string{
	"id": "ID", "qos": "QoS", "qos3": "QoS 3", "psk": "PSK", "clientid": "client ID",
	"clientinfo": "client info", "certfile": "certificate file", "keyfile": "key file",
	"cacertfile": "CA certificate file", "mqueue": "message queue", "len": "length",
	"conn": "connection", "authn": "authentication", "ssl": "SSL", "dtls": "DTLS", "tls": "TLS",
	"ack": "ACK", "ip": "IP", "url": "URL",
}

// uigwLabel makes a label of a JSON name: "max_conn_rate" is "Max connection rate".
func uigwLabel(name string) string {
	words := strings.Split(name, "_")
	for i, w := range words {
		if r, ok := uigwLabelWords[w]; ok {
			words[i] = r
		}
	}
	s := strings.Join(words, " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// uigwForm builds form fields showing vals; errors are put on them afterwards
// (uigwSetFieldErrors, uigwAttach).
type uigwForm struct {
	vals url.Values
}

// fields describes the fields of struct type t under prefix; defaults (a value of t, or
// invalid for none) gives the defaults shown.
func (b uigwForm) fields(t reflect.Type, defaults reflect.Value, prefix string, skip []string) []views.FormField {
	var out []views.FormField
	for _, f := range uigwFieldsOf(t, skip) {
		var def reflect.Value
		if defaults.IsValid() {
			def = defaults.Field(f.index)
		}
		out = append(out, b.field(f, def, uigwPath(prefix, f.name)))
	}
	return out
}

func (b uigwForm) field(f uigwStructField, def reflect.Value, path string) views.FormField {
	t := f.sf.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
		if def.IsValid() && def.IsNil() && f.kind == views.FieldGroup {
			def = reflect.Value{}
		} else if def.IsValid() && !def.IsNil() {
			def = def.Elem()
		}
	}
	ff := views.FormField{Path: path, Label: uigwLabel(f.name), Help: f.sf.Tag.Get("help"), Kind: f.kind}
	switch f.kind {
	case views.FieldGroup:
		ff.Fields = b.fields(t, def, path, nil)
		return ff
	case views.FieldTable:
		ff.Columns = uigwForm{}.fields(t.Elem(), reflect.Value{}, "", nil)
		for _, i := range uigwRowIndices(b.vals, path) {
			row := path + "." + strconv.Itoa(i)
			ff.Rows = append(ff.Rows, views.FormRow{Cells: b.fields(t.Elem(), reflect.Value{}, row, nil)})
		}
		if def.IsValid() {
			ff.HasDefault = true
			if def.Len() > 0 {
				ff.Default = fmt.Sprintf("%d rows", def.Len())
			}
		}
		return ff
	}
	ff.Value = b.vals.Get(path)
	if def.IsValid() {
		ff.HasDefault = true
		switch {
		case def.Kind() == reflect.Pointer: // a nil pointer to a scalar
		case f.kind == views.FieldLines:
			ff.Default = strings.Join(def.Interface().([]string), ", ")
		default:
			ff.Default = uigwScalarText(def)
		}
	}
	switch f.kind {
	case views.FieldSelect:
		ff.Options = strings.Split(f.sf.Tag.Get("enum"), ",")
	case views.FieldInt:
		switch t.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			ff.Min = "0"
			if t.Bits() <= 32 {
				ff.Max = strconv.FormatUint(1<<t.Bits()-1, 10)
			}
		}
	case views.FieldDuration:
		ff.Placeholder = "e.g. 30s, 15m, 2h"
	}
	return ff
}

// uigwRowIndices are the row numbers under table path in vals, in order.
func uigwRowIndices(vals url.Values, path string) []int {
	var out []int
	for k := range vals {
		rest, ok := strings.CutPrefix(k, path+".")
		if !ok {
			continue
		}
		seg, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// uigwDecoder turns submitted values into the JSON value of a configuration. Values that
// cannot be what their field's type needs (a word in a number field, a bad duration) are
// errors keyed by path; out is the submission normalised: table rows renumbered from 0 in
// their order, rows without any value dropped.
type uigwDecoder struct {
	in   url.Values
	out  url.Values
	errs map[string]string
}

func newUIGWDecoder(in url.Values) *uigwDecoder {
	return &uigwDecoder{in: in, out: url.Values{}, errs: map[string]string{}}
}

// object decodes the fields of struct type t (but those in skip), read under inPrefix and
// normalised under outPrefix, into a JSON object.
func (d *uigwDecoder) object(t reflect.Type, inPrefix, outPrefix string, skip []string) map[string]any {
	obj := map[string]any{}
	for _, f := range uigwFieldsOf(t, skip) {
		obj[f.name] = d.value(f, f.sf.Type, uigwPath(inPrefix, f.name), uigwPath(outPrefix, f.name))
	}
	return obj
}

func (d *uigwDecoder) value(f uigwStructField, t reflect.Type, in, out string) any {
	if t.Kind() == reflect.Pointer {
		if !d.hasValue(in) {
			if f.kind != views.FieldGroup {
				d.out.Set(out, "")
			}
			return nil // JSON null: absent
		}
		t = t.Elem()
	}
	raw := d.in.Get(in)
	s := strings.TrimSpace(raw)
	switch f.kind {
	case views.FieldGroup:
		return d.object(t, in, out, nil)
	case views.FieldTable:
		rows := []any{}
		for _, i := range uigwRowIndices(d.in, in) {
			row := in + "." + strconv.Itoa(i)
			if !d.hasValue(row) {
				continue
			}
			rows = append(rows, d.object(t.Elem(), row, out+"."+strconv.Itoa(len(rows)), nil))
		}
		return rows
	case views.FieldLines:
		lines := []string{}
		for _, l := range strings.Split(raw, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		d.out.Set(out, strings.Join(lines, "\n"))
		return lines
	case views.FieldBool:
		on := s == "true" || s == "on"
		d.out.Set(out, strconv.FormatBool(on))
		return on
	case views.FieldPassword:
		d.out.Set(out, raw)
		return raw
	}
	d.out.Set(out, s)
	switch f.kind {
	case views.FieldDuration:
		v, err := time.ParseDuration(s)
		if err != nil {
			d.errs[out] = fmt.Sprintf("%q is not a duration such as 30s, 15m or 2h", s)
			return nil
		}
		return v.String()
	case views.FieldInt:
		return d.number(t, s, out)
	case views.FieldSelect:
		if opts := strings.Split(f.sf.Tag.Get("enum"), ","); !slices.Contains(opts, s) {
			d.errs[out] = fmt.Sprintf("%q is not one of %s", s, strings.Join(opts, ", "))
		}
	}
	return s
}

// number parses a whole number that fits t.
func (d *uigwDecoder) number(t reflect.Type, s, out string) any {
	if s == "" {
		d.errs[out] = "a whole number is required"
		return nil
	}
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v, err := strconv.ParseUint(s, 10, t.Bits())
		if err != nil {
			max := uint64(math.MaxUint64) >> (64 - t.Bits())
			d.errs[out] = fmt.Sprintf("%q is not a whole number from 0 to %d", s, max)
			return nil
		}
		return v
	}
	v, err := strconv.ParseInt(s, 10, t.Bits())
	if err != nil {
		d.errs[out] = fmt.Sprintf("%q is not a whole number", s)
		return nil
	}
	return v
}

// hasValue reports whether the submission has a value at path or below it: a pointer
// without one is absent, a table row without one is dropped. An unchecked box is no value.
func (d *uigwDecoder) hasValue(path string) bool {
	for k, vs := range d.in {
		if k != path && !strings.HasPrefix(k, path+".") {
			continue
		}
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" && v != "false" {
				return true
			}
		}
	}
	return false
}

// uigwFormValues reads a submitted form, urlencoded or multipart, as url.Values (copied:
// fiber's buffers are reused after the handler).
func uigwFormValues(c *fiber.Ctx) (url.Values, error) {
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		mf, err := c.MultipartForm()
		if err != nil {
			return nil, badRequest("the form could not be read: " + err.Error())
		}
		out := url.Values{}
		for k, vs := range mf.Value {
			for _, v := range vs {
				out.Add(strings.Clone(k), strings.Clone(v))
			}
		}
		return out, nil
	}
	vals, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return nil, badRequest("the form could not be read: " + err.Error())
	}
	return vals, nil
}

var (
	uigwGatewayPrefix  = regexp.MustCompile(`^gateway [^:\s]+: `)
	uigwListenerPrefix = regexp.MustCompile(`^(listener [a-z]+:[^:\s]+|listeners\[\d+\]): `)
	uigwJSONField      = regexp.MustCompile(`Go struct field [A-Za-z0-9_]+\.([A-Za-z0-9_.]+) of type`)
	uigwIndex          = regexp.MustCompile(`\[(\d+)\]`)
)

// uigwErrorPath reads the field a refusal names. Refusals start with the JSON path of the
// field, after the gateway and listener they concern ("gateway stomp: frame.max_headers:
// must be at least 1", "gateway stomp: listener tcp:x: bind: port 70000 out of range");
// decoding errors name it inside ("cannot decode string into Go struct field
// Settings.frame.max_headers of type int"). It returns the path ("" for none, indexes as
// ".1"), the message to show next to that field (without the path when the message starts
// with exactly it) and the whole message without the gateway and listener.
func uigwErrorPath(msg string) (path, text, whole string) {
	whole = msg
	for {
		next := strings.TrimPrefix(whole, "json: ")
		next = uigwGatewayPrefix.ReplaceAllString(next, "")
		next = uigwListenerPrefix.ReplaceAllString(next, "")
		if next == whole {
			break
		}
		whole = next
	}
	if m := uigwJSONField.FindStringSubmatch(whole); m != nil {
		return m[1], whole, whole
	}
	head, tail, ok := strings.Cut(whole, ": ")
	if !ok {
		return "", whole, whole
	}
	token := strings.FieldsFunc(head, func(r rune) bool { return r == ' ' || r == '/' })[0]
	path = uigwIndex.ReplaceAllString(token, ".$1")
	text = whole
	if head == token {
		text = tail
	}
	return path, text, whole
}

// uigwAttach puts a refusal next to the field it names: the form's field whose path is the
// longest prefix of the named one (a row for "predefined[1]: ...", the group for
// "frame: ..."). rename maps the refusal's paths onto the form's (nil: the same). A refusal
// naming no field of the form goes next to fallback, or to the top of the form when
// fallback is "".
func uigwAttach(form *views.Form, msg, fallback string, rename func(string) string) {
	path, text, whole := uigwErrorPath(msg)
	if rename != nil && path != "" {
		path = rename(path)
	}
	target := ""
	for _, p := range uigwFormPaths(*form) {
		if (path == p || strings.HasPrefix(path, p+".")) && len(p) > len(target) {
			target = p
		}
	}
	if target != path {
		text = whole
	}
	if target == "" {
		target = fallback
	}
	if target == "" || !uigwSetError(form, target, text) {
		form.Error = whole
	}
}

// uigwFormPaths are the paths of a form's fields and table rows.
func uigwFormPaths(f views.Form) []string {
	var out []string
	var walk func([]views.FormField)
	walk = func(fs []views.FormField) {
		for _, ff := range fs {
			out = append(out, ff.Path)
			walk(ff.Fields)
			for i, r := range ff.Rows {
				out = append(out, ff.Path+"."+strconv.Itoa(i))
				walk(r.Cells)
			}
		}
	}
	for _, s := range f.Sections {
		walk(s.Fields)
	}
	return out
}

// uigwSetError sets the error of the field or row at path.
func uigwSetError(f *views.Form, path, text string) bool {
	var walk func([]views.FormField) bool
	walk = func(fs []views.FormField) bool {
		for i := range fs {
			ff := &fs[i]
			if ff.Path == path {
				ff.Error = text
				return true
			}
			if walk(ff.Fields) {
				return true
			}
			for j := range ff.Rows {
				if ff.Path+"."+strconv.Itoa(j) == path {
					ff.Rows[j].Error = text
					return true
				}
				if walk(ff.Rows[j].Cells) {
					return true
				}
			}
		}
		return false
	}
	for i := range f.Sections {
		if walk(f.Sections[i].Fields) {
			return true
		}
	}
	return false
}

// uigwSetFieldErrors puts the decoder's errors (keyed by the form's paths) on the form.
func uigwSetFieldErrors(f *views.Form, errs map[string]string) {
	for path, msg := range errs {
		if !uigwSetError(f, path, msg) {
			f.Error = path + ": " + msg
		}
	}
}
