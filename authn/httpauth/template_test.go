package httpauth

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func lit(s string) segment   { return segment{text: s} }
func vr(name string) segment { return segment{text: name, isVar: true} }

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want template
	}{
		{name: "empty", in: "", want: nil},
		{name: "literal", in: "/auth", want: template{lit("/auth")}},
		{name: "one placeholder", in: "${clientid}", want: template{vr("clientid")}},
		{name: "mixed", in: "/u/${username}/c/${clientid}.json", want: template{lit("/u/"), vr("username"), lit("/c/"), vr("clientid"), lit(".json")}},
		{name: "adjacent", in: "${username}${clientid}", want: template{vr("username"), vr("clientid")}},
		{name: "client attr", in: "${client_attrs.tenant}", want: template{vr("client_attrs.tenant")}},
		{name: "leading dot dropped", in: "${.clientid}", want: template{vr("clientid")}},
		{name: "empty name", in: "a${}b", want: template{lit("a"), vr(""), lit("b")}},
		{name: "escaped dollar", in: "${$}{clientid}", want: template{lit("${clientid}")}},
		{name: "dollar before placeholder", in: "$${username}", want: template{lit("$"), vr("username")}},
		{name: "unclosed", in: "a${clientid", want: template{lit("a${clientid")}},
		{name: "spaces are literal", in: "${ clientid }", want: template{lit("${ clientid }")}},
		{name: "other characters are literal", in: "${client-id}", want: template{lit("${client-id}")}},
		{name: "lone dollar", in: "cost $5", want: template{lit("cost $5")}},
		{name: "trailing dollar brace", in: "x${", want: template{lit("x${")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseTemplate(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseTemplate(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestTemplateRender(t *testing.T) {
	values := map[string]string{"username": "a b/c?d", "clientid": "x"}
	value := func(name string) string { return values[name] }
	tm := parseTemplate("/u/${username}/${clientid}/${unknown}")
	if got, want := tm.render(value, nil), "/u/a b/c?d/x/"; got != want {
		t.Errorf("raw render = %q, want %q", got, want)
	}
	if got, want := tm.render(value, url.PathEscape), "/u/a%20b%2Fc%3Fd/x/"; got != want {
		t.Errorf("path render = %q, want %q", got, want)
	}
}

func TestCheckVars(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		allowed []string
		wantErr string
	}{
		{name: "known", in: "${username}:${password}", allowed: authnVars()},
		{name: "client attr", in: "${client_attrs.tenant}", allowed: authnVars()},
		{name: "attr without name", in: "${client_attrs.}", allowed: authnVars(), wantErr: "unknown placeholder ${client_attrs.}"},
		{name: "unknown", in: "${zone}", allowed: authnVars(), wantErr: "unknown placeholder ${zone}"},
		{name: "several unknown once each", in: "${a}${b}${a}", allowed: authnVars(), wantErr: "unknown placeholders ${a}, ${b}"},
		{name: "topic in authn", in: "${topic}", allowed: authnVars(), wantErr: "${topic}"},
		{name: "topic in authz", in: "${topic}${action}${qos}${retain}", allowed: authzVars()},
		{name: "password in authz", in: "${password}", allowed: authzVars(), wantErr: "${password}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkVars(parseTemplate(tt.in), tt.allowed)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzTemplate checks that parsing never panics, that writing a template back and parsing
// it again gives the same template, and that text without "${" is kept as it is.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"", "/auth/${clientid}", "${$}", "${$}{x}", "$${username}", "${.x}", "${..x}", "${}",
		"a${b", "${client_attrs.a.b}", "${ x }", "$$$", "${${x}}", "\xff${x}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm := parseTemplate(s)
		again := parseTemplate(tm.String())
		if !reflect.DeepEqual(tm, again) {
			t.Fatalf("parse(%q) = %#v; written back as %q it parses to %#v", s, tm, tm.String(), again)
		}
		for _, seg := range tm {
			if !seg.isVar && seg.text == "" {
				t.Fatalf("parse(%q) has an empty literal", s)
			}
		}
		_ = checkVars(tm, authnVars())
		_ = tm.render(func(string) string { return "v" }, url.QueryEscape)
		if !strings.Contains(s, "${") {
			if got := tm.render(nil, nil); got != s {
				t.Fatalf("render(parse(%q)) = %q", s, got)
			}
		}
	})
}
