package builtin

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/xgate/xgate/authn/password"
)

// Import file formats and kinds, as EMQX's import_users names them.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
	// KindPlain files carry passwords, hashed on import with the authenticator's algorithm.
	KindPlain = "plain"
	// KindHash files carry password_hash and salt, stored as they are.
	KindHash = "hash"
)

// Import limits. MaxImportBytes leaves over 600 bytes per record at MaxImportRecords.
const (
	MaxImportRecords = 100_000
	MaxImportBytes   = 64 << 20
)

// Errors for an import refused whole because of its size.
var (
	ErrTooManyRecords = fmt.Errorf("more than %d records", MaxImportRecords)
	ErrImportTooLarge = fmt.Errorf("larger than %d MiB", MaxImportBytes>>20)
)

// Import column (CSV) and field (JSON) names.
const (
	colUserID       = "user_id"
	colPassword     = "password"
	colPasswordHash = "password_hash"
	colSalt         = "salt"
	colIsSuperuser  = "is_superuser"
)

// record is one user as read from a file, by column name; an absent key is an absent
// or null value.
type record map[string]string

// ParseImport reads a user file in EMQX's import_users formats and returns its users in
// file order, duplicates included: what a duplicate does (override or skip) is the
// storing transaction's business. format is "csv" or "json"; kind is "plain" (columns
// user_id, password, is_superuser; passwords are hashed with alg) or "hash" (user_id,
// password_hash, salt, is_superuser). CSV has a header row and its columns may come in
// any order; JSON is an array of objects with the same field names. salt and
// is_superuser are optional; is_superuser is true or false (any case) in CSV, and a
// boolean or those strings in JSON.
//
// A bad record (no user_id or password, a bad boolean, a wrong number of CSV fields, a
// JSON element that is not an object or has a value of the wrong type) counts in failed
// and the others go on. A bad file (no header, an unknown or missing column, broken CSV
// quoting or JSON syntax, not a JSON array, an unknown JSON field, more than
// MaxImportRecords records or MaxImportBytes bytes) is an error naming the problem and
// its position, and nothing is returned.
//
// Plain imports hash every password, which with bcrypt takes tens of milliseconds each.
func ParseImport(r io.Reader, format, kind string, alg password.Algorithm) (users []User, failed int, err error) {
	columns, err := importColumns(kind)
	if err != nil {
		return nil, 0, err
	}
	if err := alg.Validate(); err != nil {
		return nil, 0, err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("import: %w", err)
	}
	if len(data) > MaxImportBytes {
		return nil, 0, fmt.Errorf("import: %w", ErrImportTooLarge)
	}
	// Spreadsheet programs and some editors start UTF-8 files with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var records []record
	switch format {
	case FormatCSV:
		records, failed, err = parseCSV(data, columns)
	case FormatJSON:
		records, failed, err = parseJSON(data, columns)
	default:
		return nil, 0, fmt.Errorf("import: unknown format %q: want csv or json", format)
	}
	if err != nil {
		return nil, 0, err
	}
	users = make([]User, 0, len(records))
	for _, rec := range records {
		u, ok := rec.user(kind, alg)
		if !ok {
			failed++
			continue
		}
		users = append(users, u)
	}
	return users, failed, nil
}

// importColumns lists the columns a kind allows; the first two are required.
func importColumns(kind string) ([]string, error) {
	switch kind {
	case KindPlain:
		return []string{colUserID, colPassword, colIsSuperuser}, nil
	case KindHash:
		return []string{colUserID, colPasswordHash, colSalt, colIsSuperuser}, nil
	}
	return nil, fmt.Errorf("import: unknown kind %q: want plain or hash", kind)
}

// user turns a record into a User, or reports it unusable.
func (rec record) user(kind string, alg password.Algorithm) (User, bool) {
	superuser, ok := parseBool(rec[colIsSuperuser])
	if !ok || rec[colUserID] == "" {
		return User{}, false
	}
	if kind == KindPlain {
		u, err := NewUser(alg, rec[colUserID], rec[colPassword], superuser)
		return u, err == nil
	}
	if rec[colPasswordHash] == "" {
		return User{}, false
	}
	return User{
		UserID:       rec[colUserID],
		PasswordHash: rec[colPasswordHash],
		Salt:         rec[colSalt],
		IsSuperuser:  superuser,
	}, true
}

// parseBool reads is_superuser; empty means false. EMQX treats anything but "true" as
// false, which turns a typo into a silent downgrade; we count the record as failed.
func parseBool(s string) (value, ok bool) {
	switch {
	case s == "", strings.EqualFold(s, "false"):
		return false, true
	case strings.EqualFold(s, "true"):
		return true, true
	}
	return false, false
}

// errTooMany is the error for a file past MaxImportRecords.
func errTooMany(format string) error {
	return fmt.Errorf("import %s: %w", format, ErrTooManyRecords)
}
