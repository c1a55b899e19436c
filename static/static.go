// Package static holds the dashboard's browser files, embedded into the binary: lib/ has the
// npm packages' built files (copied by `npm run assets`, committed, so building xgate needs
// no npm) and app.css / app.js are the dashboard's own.
//
// Pages refer to a file through URL, which adds a content hash: the web server lets browsers
// cache a file with the current hash for a year, so a new build is fetched at once and an
// unchanged file never again.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sync"
)

//go:embed app.css app.js lib
var files embed.FS

// File is one embedded file.
type File struct {
	Name string // path below static/, e.g. "lib/htmx.min.js"
	Data []byte
	Hash string // hex prefix of the SHA-256 of Data
}

var index = sync.OnceValue(func() map[string]File {
	m := map[string]File{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		m[name] = File{Name: name, Data: data, Hash: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil { // the embedded tree is fixed at build time: this cannot happen
		panic("static: " + err.Error())
	}
	return m
})

// Lookup returns the embedded file name ("app.js", "lib/htmx.min.js").
func Lookup(name string) (File, bool) {
	f, ok := index()[name]
	return f, ok
}

// URL is the address of the embedded file name with its content hash, for pages to link. An
// unknown name (a typo in a view) gets its address without a hash, which the server answers
// with 404; the views' tests check that every linked file has one.
func URL(name string) string {
	f, ok := Lookup(name)
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + f.Hash
}
