package static

import (
	"strings"
	"testing"
)

func TestFilesAndURLs(t *testing.T) {
	for _, name := range []string{"app.css", "app.js", "lib/htmx.min.js", "lib/pico.min.css", "lib/uplot.iife.min.js", "lib/uplot.min.css"} {
		f, ok := Lookup(name)
		if !ok || len(f.Data) == 0 || len(f.Hash) != 12 {
			t.Errorf("%s: found %v, %d bytes, hash %q", name, ok, len(f.Data), f.Hash)
			continue
		}
		if got, want := URL(name), "/static/"+name+"?v="+f.Hash; got != want {
			t.Errorf("URL(%s) = %q, want %q", name, got, want)
		}
	}
	if _, ok := Lookup("static.go"); ok {
		t.Error("the Go source is embedded")
	}
	if got := URL("nope.js"); strings.Contains(got, "?v=") {
		t.Errorf("URL of a missing file %q", got)
	}
}
