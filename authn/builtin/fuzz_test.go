package builtin

import (
	"bytes"
	"testing"

	"github.com/xgate/xgate/authn/password"
)

// FuzzParseImport feeds arbitrary files to both parsers and both kinds. It must never
// panic, and what it returns must hold together.
func FuzzParseImport(f *testing.F) {
	seeds := []string{
		"user_id,password,is_superuser\nmyuser3,password3,true\nmyuser4,password4,false\n",
		"is_superuser,password,user_id\r\nTRUE,p1,u1\r\n,p2,u2",
		"\ufeffuser_id,password\n\"a,b\",\"p \"\"q\"\"\"\nshort\n",
		emqxHashCSV,
		"user_id,password\nu,p\"q\n",
		`[{"user_id":"myuser1","password":"password1","is_superuser":true},{"user_id":"u","password":"p","is_superuser":"true"}]`,
		`[{"user_id":"u","password_hash":"h","salt":null}, 42, null, {"user_id":7}]`,
		`[{"user_id":"u","password":"p","namespace":"ns"}]`,
		"[\n {\"user_id\":\"u\",\n  \"password\" \"p\"}]",
		`{"user_id":"u"}`,
		"",
	}
	for _, s := range seeds {
		for _, asJSON := range []bool{false, true} {
			f.Add([]byte(s), asJSON, false)
			f.Add([]byte(s), asJSON, true)
		}
	}
	// plain/disable keeps hashing out of the fuzzer's way.
	alg := password.Algorithm{Name: password.Plain, SaltPosition: password.SaltDisable}
	f.Fuzz(func(t *testing.T, file []byte, asJSON, hashKind bool) {
		format, kind := FormatCSV, KindPlain
		if asJSON {
			format = FormatJSON
		}
		if hashKind {
			kind = KindHash
		}
		users, failed, err := ParseImport(bytes.NewReader(file), format, kind, alg)
		if err != nil {
			if users != nil || failed != 0 {
				t.Fatalf("error %v came with %d users and %d failed", err, len(users), failed)
			}
			return
		}
		if failed < 0 || len(users)+failed > MaxImportRecords {
			t.Fatalf("%d users and %d failed", len(users), failed)
		}
		for _, u := range users {
			if u.UserID == "" || u.PasswordHash == "" {
				t.Fatalf("incomplete user %+v", u)
			}
		}
	})
}
