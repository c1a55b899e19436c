// Package password hashes and verifies passwords the way EMQX's password_based
// authenticators do (emqx_passwd, emqx_authn_password_hashing), so that users exported
// from EMQX, with their hash and salt, verify here unchanged.
package password

import (
	"fmt"
	"slices"
	"strings"
)

// Algorithm names, spelt as in EMQX's password_hash_algorithm.name.
const (
	Plain  = "plain"
	MD5    = "md5"
	SHA    = "sha" // SHA-1
	SHA256 = "sha256"
	SHA512 = "sha512"
	Bcrypt = "bcrypt"
	PBKDF2 = "pbkdf2"
)

// Salt positions of the simple algorithms.
const (
	SaltDisable = "disable"
	SaltPrefix  = "prefix"
	SaltSuffix  = "suffix"
)

// Bounds and defaults EMQX applies to bcrypt's work factor.
const (
	MinSaltRounds     = 5
	MaxSaltRounds     = 10
	DefaultSaltRounds = 10
)

// MaxDKLength bounds pbkdf2's dk_length. EMQX sets no bound; ours keeps a configuration
// typo from making every login derive megabytes.
const MaxDKLength = 1024

// fieldPrefix is where the algorithm sits in every EMQX password_based authenticator.
const fieldPrefix = "password_hash_algorithm."

// Algorithm is EMQX's password_hash_algorithm object. Which fields apply depends on Name:
// SaltPosition on the simple algorithms (plain, md5, sha, sha256, sha512), SaltRounds on
// bcrypt, and MacFun, Iterations and DKLength on pbkdf2. A zero number means "not set".
type Algorithm struct {
	Name         string `json:"name"`
	SaltPosition string `json:"salt_position,omitempty"`
	SaltRounds   int    `json:"salt_rounds,omitempty"`
	MacFun       string `json:"mac_fun,omitempty"`
	Iterations   int    `json:"iterations,omitempty"`
	// DKLength is the derived key length in bytes; zero means the digest size of MacFun.
	DKLength int `json:"dk_length,omitempty"`
}

// Default returns EMQX's default algorithm: sha256 with a prefix salt.
func Default() Algorithm {
	return Algorithm{Name: SHA256, SaltPosition: SaltPrefix}
}

// FieldError reports an invalid configuration field. Field is the field's path as EMQX
// names it, e.g. "password_hash_algorithm.salt_rounds".
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: fieldPrefix + field, Reason: fmt.Sprintf(format, args...)}
}

// Normalize checks a and returns it with defaults filled in: salt_position prefix for the
// simple algorithms and salt_rounds 10 for bcrypt. DKLength stays zero when unset, so the
// configuration reads back as it was written. Errors are *FieldError.
func (a Algorithm) Normalize() (Algorithm, error) {
	switch a.Name {
	case Plain, MD5, SHA, SHA256, SHA512:
		return a.normalizeSimple()
	case Bcrypt:
		return a.normalizeBcrypt()
	case PBKDF2:
		return a.normalizePBKDF2()
	case "":
		return a, fieldErr("name", "required")
	}
	return a, fieldErr("name", "must be one of %s", strings.Join(
		[]string{Plain, MD5, SHA, SHA256, SHA512, Bcrypt, PBKDF2}, ", "))
}

// Validate reports whether a is a valid algorithm, without filling defaults.
func (a Algorithm) Validate() error {
	_, err := a.Normalize()
	return err
}

func (a Algorithm) normalizeSimple() (Algorithm, error) {
	if err := a.rejectUnless("salt_position"); err != nil {
		return a, err
	}
	switch a.SaltPosition {
	case "":
		a.SaltPosition = SaltPrefix
	case SaltDisable, SaltPrefix, SaltSuffix:
	default:
		return a, fieldErr("salt_position", "must be one of disable, prefix, suffix")
	}
	return a, nil
}

func (a Algorithm) normalizeBcrypt() (Algorithm, error) {
	if err := a.rejectUnless("salt_rounds"); err != nil {
		return a, err
	}
	if a.SaltRounds == 0 {
		a.SaltRounds = DefaultSaltRounds
	}
	// EMQX clamps an out-of-range value read from its config file but refuses it through
	// the API; refusing is the only behaviour that does not surprise.
	if a.SaltRounds < MinSaltRounds || a.SaltRounds > MaxSaltRounds {
		return a, fieldErr("salt_rounds", "must be between %d and %d", MinSaltRounds, MaxSaltRounds)
	}
	return a, nil
}

func (a Algorithm) normalizePBKDF2() (Algorithm, error) {
	if err := a.rejectUnless("mac_fun", "iterations", "dk_length"); err != nil {
		return a, err
	}
	if a.MacFun == "" {
		return a, fieldErr("mac_fun", "required")
	}
	if _, ok := macFun(a.MacFun); !ok {
		return a, fieldErr("mac_fun", "must be one of %s", strings.Join(macFunNames(), ", "))
	}
	switch {
	case a.Iterations == 0:
		return a, fieldErr("iterations", "required")
	case a.Iterations < 0:
		return a, fieldErr("iterations", "must be a positive integer")
	}
	if a.DKLength < 0 || a.DKLength > MaxDKLength {
		return a, fieldErr("dk_length", "must be between 1 and %d", MaxDKLength)
	}
	return a, nil
}

// rejectUnless refuses every name-specific field that is set but not in allowed, so a
// setting that would be silently ignored (salt_rounds on sha256) is reported instead.
func (a Algorithm) rejectUnless(allowed ...string) error {
	set := []struct {
		field string
		isSet bool
	}{
		{"salt_position", a.SaltPosition != ""},
		{"salt_rounds", a.SaltRounds != 0},
		{"mac_fun", a.MacFun != ""},
		{"iterations", a.Iterations != 0},
		{"dk_length", a.DKLength != 0},
	}
	for _, f := range set {
		if f.isSet && !slices.Contains(allowed, f.field) {
			return fieldErr(f.field, "not allowed with name %s", a.Name)
		}
	}
	return nil
}
