package builtin

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn/password"
)

// emqxHashCSV is the hash-kind example of EMQX's user-management documentation.
const emqxHashCSV = `user_id,password_hash,salt,is_superuser
myuser3,b6c743545a7817ae8c8f624371d5f5f0373234bb0ff36b8ffbf19bce0e06ab75,de1024f462fb83910fd13151bd4bd235,true
myuser4,ee68c985a69208b6eda8c6c9b4c7c2d2b15ee2352cdd64a903171710a99182e8,ad773b5be9dd0613fe6c2f4d8c403139,false
`

// plainUser is what a plain-kind import should yield: the password stands in for the
// hash, which is checked with Verify.
type plainUser struct {
	id, pw    string
	superuser bool
}

func TestParseImportPlain(t *testing.T) {
	tests := []struct {
		name       string
		format     string
		file       string
		want       []plainUser
		wantFailed int
	}{
		{
			name:   "csv as in EMQX's test data",
			format: FormatCSV,
			file:   "user_id,password,is_superuser\nmyuser3,password3,true\nmyuser4,password4,false\n",
			want:   []plainUser{{"myuser3", "password3", true}, {"myuser4", "password4", false}},
		},
		{
			name:   "csv columns in another order, CRLF, no final newline",
			format: FormatCSV,
			file:   "is_superuser,password,user_id\r\nTRUE,p1,u1\r\n,p2,u2",
			want:   []plainUser{{"u1", "p1", true}, {"u2", "p2", false}},
		},
		{
			name:   "csv without is_superuser, quoted fields, byte order mark",
			format: FormatCSV,
			file:   "\ufeff user_id , password\n\"a,b\",\"p \"\"q\"\" r\"\nc, spaced \n",
			want:   []plainUser{{"a,b", `p "q" r`, false}, {"c", " spaced ", false}},
		},
		{
			name:   "csv duplicates stay, in file order",
			format: FormatCSV,
			file:   "user_id,password\nu,first\nv,x\nu,second\n",
			want:   []plainUser{{"u", "first", false}, {"v", "x", false}, {"u", "second", false}},
		},
		{
			name:   "csv bad records are counted",
			format: FormatCSV,
			file: "user_id,password,is_superuser\n" +
				"ok1,p,false\n" +
				",p,false\n" + // no user_id
				"nopw,,true\n" + // no password
				"badbool,p,yes\n" +
				"short,p\n" +
				"long,p,true,extra\n" +
				"ok2,p,True\n",
			want:       []plainUser{{"ok1", "p", false}, {"ok2", "p", true}},
			wantFailed: 5,
		},
		{
			name:   "csv header only",
			format: FormatCSV,
			file:   "user_id,password\n",
		},
		{
			name:   "json as in EMQX's documentation",
			format: FormatJSON,
			file: `[{"user_id":"myuser1","password":"password1","is_superuser":true},
				{"user_id":"myuser2","password":"password2","is_superuser":false}]`,
			want: []plainUser{{"myuser1", "password1", true}, {"myuser2", "password2", false}},
		},
		{
			name:   "json is_superuser absent, null or a string",
			format: FormatJSON,
			file: `[{"password":"p1","user_id":"u1"},{"user_id":"u2","password":"p2","is_superuser":null},
				{"user_id":"u3","password":"p3","is_superuser":"true"}]`,
			want: []plainUser{{"u1", "p1", false}, {"u2", "p2", false}, {"u3", "p3", true}},
		},
		{
			name:   "json bad records are counted",
			format: FormatJSON,
			file: `[{"user_id":"ok1","password":"p"},
				42, null, "text", [],
				{"user_id":7,"password":"p"},
				{"user_id":"u","password":true},
				{"user_id":"u","password":"p","is_superuser":1},
				{"user_id":"u","password":"p","is_superuser":"yes"},
				{"user_id":"","password":"p"},
				{"user_id":"nopw"},
				{},
				{"user_id":"ok2","password":"p","is_superuser":true}]`,
			want:       []plainUser{{"ok1", "p", false}, {"ok2", "p", true}},
			wantFailed: 11,
		},
		{
			name:   "json empty array",
			format: FormatJSON,
			file:   " [ ] \n",
		},
	}
	alg := password.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, failed, err := ParseImport(strings.NewReader(tt.file), tt.format, KindPlain, alg)
			if err != nil {
				t.Fatalf("ParseImport: %v", err)
			}
			if failed != tt.wantFailed {
				t.Errorf("failed = %d, want %d", failed, tt.wantFailed)
			}
			if len(users) != len(tt.want) {
				t.Fatalf("got %d users %+v, want %d", len(users), users, len(tt.want))
			}
			for i, u := range users {
				w := tt.want[i]
				if u.UserID != w.id || u.IsSuperuser != w.superuser {
					t.Errorf("user %d = %q superuser %v, want %q superuser %v", i, u.UserID, u.IsSuperuser, w.id, w.superuser)
				}
				if !alg.Verify([]byte(w.pw), u.PasswordHash, u.Salt) {
					t.Errorf("user %d (%q): password %q does not verify", i, w.id, w.pw)
				}
			}
		})
	}
}

func TestParseImportHash(t *testing.T) {
	tests := []struct {
		name       string
		format     string
		file       string
		want       []User
		wantFailed int
	}{
		{
			name:   "csv from EMQX's documentation",
			format: FormatCSV,
			file:   emqxHashCSV,
			want: []User{
				{"myuser3", "b6c743545a7817ae8c8f624371d5f5f0373234bb0ff36b8ffbf19bce0e06ab75", "de1024f462fb83910fd13151bd4bd235", true},
				{"myuser4", "ee68c985a69208b6eda8c6c9b4c7c2d2b15ee2352cdd64a903171710a99182e8", "ad773b5be9dd0613fe6c2f4d8c403139", false},
			},
		},
		{
			name:   "csv without salt column, reordered",
			format: FormatCSV,
			file:   "password_hash,user_id\n4c9184f37cff01bcdc32dc486ec36961,u1\n",
			want:   []User{{UserID: "u1", PasswordHash: "4c9184f37cff01bcdc32dc486ec36961"}},
		},
		{
			name:   "csv bad records are counted",
			format: FormatCSV,
			file: "user_id,password_hash,salt,is_superuser\n" +
				"nohash,,s,true\n" +
				",h,s,true\n" +
				"badbool,h,s,1\n" +
				"ok,h,,\n",
			want:       []User{{UserID: "ok", PasswordHash: "h"}},
			wantFailed: 3,
		},
		{
			name:   "json",
			format: FormatJSON,
			file: `[
  {"user_id":"myuser1","password_hash":"c5e46903df45e5dc096dc74657610dbee8deaacae656df88a1788f1847390242",
   "salt":"e378187547bf2d6f0545a3f441aa4d8a","is_superuser":true},
  {"user_id":"bc","password_hash":"$2b$12$wtY3h20mUjjmeaClpqZVveDWGlHzCGsvuThMlneGHA7wVeFYyns2u","salt":"$2b$12$wtY3h20mUjjmeaClpqZVve"},
  {"user_id":"nosalt","password_hash":"h","salt":null}
]`,
			want: []User{
				{"myuser1", "c5e46903df45e5dc096dc74657610dbee8deaacae656df88a1788f1847390242", "e378187547bf2d6f0545a3f441aa4d8a", true},
				{"bc", "$2b$12$wtY3h20mUjjmeaClpqZVveDWGlHzCGsvuThMlneGHA7wVeFYyns2u", "$2b$12$wtY3h20mUjjmeaClpqZVve", false},
				{UserID: "nosalt", PasswordHash: "h"},
			},
		},
		{
			name:   "json bad records are counted",
			format: FormatJSON,
			file: `[{"user_id":"u","salt":"s"},{"user_id":"u","password_hash":"h","salt":5},
				{"user_id":"ok","password_hash":"h"}]`,
			want:       []User{{UserID: "ok", PasswordHash: "h"}},
			wantFailed: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, failed, err := ParseImport(strings.NewReader(tt.file), tt.format, KindHash, password.Default())
			if err != nil {
				t.Fatalf("ParseImport: %v", err)
			}
			if failed != tt.wantFailed {
				t.Errorf("failed = %d, want %d", failed, tt.wantFailed)
			}
			if fmt.Sprint(users) != fmt.Sprint(tt.want) {
				t.Errorf("users = %+v\nwant %+v", users, tt.want)
			}
		})
	}
}

func TestParseImportBadFile(t *testing.T) {
	tests := []struct {
		name   string
		format string
		kind   string
		file   string
		want   string
	}{
		{"csv empty", FormatCSV, KindPlain, "", "import csv: no header row"},
		{"csv blank lines only", FormatCSV, KindPlain, "\n\n", "import csv: no header row"},
		{"csv unknown column", FormatCSV, KindPlain, "user_id,password,namespace\n", `import csv: header, column 3: unknown column "namespace" (want user_id, password, is_superuser)`},
		{"csv hash header for a plain import", FormatCSV, KindPlain, "user_id,password_hash,salt\n", `import csv: header, column 2: unknown column "password_hash" (want user_id, password, is_superuser)`},
		{"csv plain header for a hash import", FormatCSV, KindHash, "user_id,password\n", `import csv: header, column 2: unknown column "password" (want user_id, password_hash, salt, is_superuser)`},
		{"csv no header, data first", FormatCSV, KindPlain, "alice,secret,true\n", `import csv: header, column 1: unknown column "alice"`},
		{"csv missing user_id", FormatCSV, KindHash, "password_hash,salt\n", `import csv: header: missing column "user_id"`},
		{"csv missing password", FormatCSV, KindPlain, "user_id,is_superuser\n", `import csv: header: missing column "password"`},
		{"csv column twice", FormatCSV, KindPlain, "user_id,password,user_id\n", `import csv: header, column 3: column "user_id" appears twice`},
		{"csv empty column name", FormatCSV, KindPlain, "user_id,password,\n", `import csv: header, column 3: unknown column ""`},
		{"csv bare quote", FormatCSV, KindPlain, "user_id,password\nok,p\nu,p\"q\n", `import csv: parse error on line 3, column 4: bare " in non-quoted-field`},
		{"csv unterminated quote", FormatCSV, KindPlain, "user_id,password\n\"u,p\n", `import csv: parse error on line 2, column 6: extraneous or missing " in quoted-field`},
		{"json empty", FormatJSON, KindPlain, "  ", "import json: empty file: want an array of users"},
		{"json object", FormatJSON, KindPlain, "\n  {\"user_id\":\"u\"}", "import json: line 2, column 3: want an array of users"},
		{"json string", FormatJSON, KindPlain, `"users"`, "import json: line 1, column 1: want an array of users"},
		{"json syntax error", FormatJSON, KindPlain, "[\n {\"user_id\":\"u\",\n  \"password\" \"p\"}]", "import json: line 3, column 14: invalid character '\"' after object key"},
		{"json syntax error in a later record", FormatJSON, KindPlain, "[{\"user_id\":\"a\",\"password\":\"p\"},\n{\"user_id\" 1}]", "import json: line 2, column 12: invalid character '1' after object key"},
		{"json missing comma", FormatJSON, KindPlain, "[{}\n {}]", "import json: line 2, column 2: invalid character '{' after array element"},
		{"json truncated", FormatJSON, KindPlain, `[{"user_id":"u","password":"p"}`, "import json: line 1, column 31: unexpected end of JSON input"},
		{"json truncated record", FormatJSON, KindPlain, "[{\"user_id\":\"u\",\n\"pass", "import json: line 2, column 5: unexpected end of JSON input"},
		{"json error on the last byte", FormatJSON, KindPlain, "[}", "import json: line 1, column 2: invalid character '}' looking for beginning of value"},
		{"json unknown field", FormatJSON, KindPlain, "[{\"user_id\":\"a\",\"password\":\"p\"},\n  {\"user_id\":\"u\",\"password\":\"p\",\"namespace\":\"ns\"}]",
			`import json: record 2 (line 2, column 3): unknown field "namespace" (want user_id, password, is_superuser)`},
		{"json hash field in a plain import", FormatJSON, KindPlain, `[{"user_id":"u","password_hash":"h"}]`,
			`import json: record 1 (line 1, column 2): unknown field "password_hash"`},
		{"json trailing data", FormatJSON, KindPlain, "[]\n[]", "import json: line 2, column 1: invalid character '[' after top-level value"},
		{"unknown format", "xml", KindPlain, "", `import: unknown format "xml": want csv or json`},
		{"unknown kind", FormatCSV, "bcrypt", "", `import: unknown kind "bcrypt": want plain or hash`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, failed, err := ParseImport(strings.NewReader(tt.file), tt.format, tt.kind, password.Default())
			if err == nil {
				t.Fatalf("ParseImport accepted it: %d users, %d failed", len(users), failed)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to start with %q", err, tt.want)
			}
			if users != nil || failed != 0 {
				t.Errorf("returned %d users and %d failed with the error", len(users), failed)
			}
		})
	}
}

func TestParseImportInvalidAlgorithm(t *testing.T) {
	_, _, err := ParseImport(strings.NewReader("user_id,password\nu,p\n"), FormatCSV, KindPlain, password.Algorithm{Name: "md6"})
	var fe *password.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("error = %v, want a *password.FieldError", err)
	}
}

func TestParseImportRecordLimit(t *testing.T) {
	csvFile := func(n int) string {
		var b strings.Builder
		b.WriteString("user_id,password_hash\n")
		for i := range n {
			fmt.Fprintf(&b, "u%d,h\n", i)
		}
		return b.String()
	}
	jsonFile := func(n int) string {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"user_id":"u%d","password_hash":"h"}`, i)
		}
		b.WriteString("]")
		return b.String()
	}
	for format, file := range map[string]func(int) string{FormatCSV: csvFile, FormatJSON: jsonFile} {
		t.Run(format, func(t *testing.T) {
			users, _, err := ParseImport(strings.NewReader(file(MaxImportRecords)), format, KindHash, password.Default())
			if err != nil || len(users) != MaxImportRecords {
				t.Errorf("at the limit: %d users, %v", len(users), err)
			}
			_, _, err = ParseImport(strings.NewReader(file(MaxImportRecords+1)), format, KindHash, password.Default())
			if !errors.Is(err, ErrTooManyRecords) {
				t.Errorf("past the limit: error = %v, want ErrTooManyRecords", err)
			}
		})
	}
}

func TestParseImportByteLimit(t *testing.T) {
	big := io.MultiReader(strings.NewReader("user_id,password_hash\n"),
		io.LimitReader(endless('x'), MaxImportBytes))
	_, _, err := ParseImport(big, FormatCSV, KindHash, password.Default())
	if !errors.Is(err, ErrImportTooLarge) {
		t.Errorf("error = %v, want ErrImportTooLarge", err)
	}
}

// endless reads as an unending run of one byte.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}
