// Package viewstest helps tests check rendered pages the way the e2e tests and an operator
// find things: by data-testid. Render a component (views tests) or parse a response body
// (web handler tests) into a goquery document, then look elements up with One, Find or Has.
package viewstest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/xgate/xgate/views"
)

// Render renders c with the CSRF token csrf ("" for none) and parses the result.
func Render(t testing.TB, c templ.Component, csrf string) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	ctx := context.Background()
	if csrf != "" {
		ctx = views.WithCSRF(ctx, csrf)
	}
	if err := c.Render(ctx, &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return Parse(t, &buf)
}

// Parse parses an HTML document or fragment.
func Parse(t testing.TB, r io.Reader) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(r)
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return doc
}

// Finder is a document or a selection: where to look.
type Finder interface {
	Find(selector string) *goquery.Selection
}

// Selector is the CSS selector of the elements with data-testid id.
func Selector(id string) string { return `[data-testid="` + id + `"]` }

// Find returns the elements with data-testid id (maybe none) below s.
func Find(s Finder, id string) *goquery.Selection {
	return s.Find(Selector(id))
}

// Has reports whether an element with data-testid id exists below s.
func Has(s Finder, id string) bool {
	return Find(s, id).Length() > 0
}

// One returns the single element with data-testid id below s, failing the test when there
// is none or more than one.
func One(t testing.TB, s Finder, id string) *goquery.Selection {
	t.Helper()
	sel := Find(s, id)
	if sel.Length() != 1 {
		t.Fatalf("data-testid=%q: found %d elements, want 1", id, sel.Length())
	}
	return sel
}

// Text is the trimmed text of the single element with data-testid id.
func Text(t testing.TB, s Finder, id string) string {
	t.Helper()
	return strings.TrimSpace(One(t, s, id).Text())
}
