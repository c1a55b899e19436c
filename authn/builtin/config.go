// Package builtin is the password_based authenticator with the built_in_database backend:
// users with a password hash and salt, stored by the gateway and checked as EMQX checks
// them, plus the parsing of EMQX's user import files.
package builtin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/xgate/xgate/authn/password"
)

// The authenticator's mechanism and backend, as EMQX names them.
const (
	Mechanism = "password_based"
	Backend   = "built_in_database"
)

// User id types: which client field names the user.
const (
	UserIDUsername = "username"
	UserIDClientID = "clientid"
)

// Config is the authenticator's JSON object, with EMQX's field names.
type Config struct {
	Mechanism             string             `json:"mechanism"`
	Backend               string             `json:"backend"`
	UserIDType            string             `json:"user_id_type"`
	PasswordHashAlgorithm password.Algorithm `json:"password_hash_algorithm"`
	Enable                bool               `json:"enable"`
}

// DefaultConfig returns EMQX's defaults: users named by username, sha256 with a prefix
// salt, enabled.
func DefaultConfig() Config {
	return Config{
		Mechanism:             Mechanism,
		Backend:               Backend,
		UserIDType:            UserIDUsername,
		PasswordHashAlgorithm: password.Default(),
		Enable:                true,
	}
}

// Validate checks every field. Errors are *password.FieldError naming the field.
func (c Config) Validate() error {
	if err := mustEqual("mechanism", c.Mechanism, Mechanism); err != nil {
		return err
	}
	if err := mustEqual("backend", c.Backend, Backend); err != nil {
		return err
	}
	if c.UserIDType != UserIDUsername && c.UserIDType != UserIDClientID {
		return &password.FieldError{Field: "user_id_type", Reason: "must be username or clientid"}
	}
	return c.PasswordHashAlgorithm.Validate()
}

func mustEqual(field, got, want string) error {
	switch got {
	case want:
		return nil
	case "":
		return &password.FieldError{Field: field, Reason: "required"}
	}
	return &password.FieldError{Field: field, Reason: "must be " + want}
}

// configJSON tells absent fields from zero ones, so that defaults apply only to the
// former ("enable": false stays false).
type configJSON struct {
	Mechanism             string              `json:"mechanism"`
	Backend               string              `json:"backend"`
	UserIDType            *string             `json:"user_id_type"`
	PasswordHashAlgorithm *password.Algorithm `json:"password_hash_algorithm"`
	Enable                *bool               `json:"enable"`
}

// ParseConfig decodes the authenticator's JSON strictly (an unknown field is an error),
// fills the defaults of absent fields and validates the result. The returned algorithm
// has its own defaults filled too.
func ParseConfig(raw []byte) (Config, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var in configJSON
	if err := dec.Decode(&in); err != nil {
		return Config{}, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, errors.New("config: unexpected data after the JSON object")
	}
	cfg := DefaultConfig()
	cfg.Mechanism, cfg.Backend = in.Mechanism, in.Backend
	if in.UserIDType != nil {
		cfg.UserIDType = *in.UserIDType
	}
	if in.PasswordHashAlgorithm != nil {
		cfg.PasswordHashAlgorithm = *in.PasswordHashAlgorithm
	}
	if in.Enable != nil {
		cfg.Enable = *in.Enable
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	cfg.PasswordHashAlgorithm, _ = cfg.PasswordHashAlgorithm.Normalize() // Validate checked it
	return cfg, nil
}

// decodeError turns encoding/json's errors into ones that name the field.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errors.New("config: must be a JSON object")
		}
		return &password.FieldError{Field: typeErr.Field, Reason: "must be " + jsonKind(typeErr.Type)}
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("config: invalid JSON at byte %d: %w", syntaxErr.Offset, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("config: empty or truncated JSON")
	}
	// DisallowUnknownFields reports `json: unknown field "name"` with no typed error.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &password.FieldError{Field: strings.Trim(name, `"`), Reason: "unknown field"}
	}
	return fmt.Errorf("config: %w", err)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}
