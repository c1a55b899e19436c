// Package httpauth asks an HTTP server whether a client may connect (EMQX's
// "password_based" + "http" authenticator) and whether it may publish or subscribe (EMQX's
// "http" authorization source).
package httpauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Config is an HTTP authenticator, with EMQX's field names.
type Config struct {
	Mechanism string `json:"mechanism"` // "password_based"
	Backend   string `json:"backend"`   // "http"
	Enable    bool   `json:"enable"`
	Endpoint
}

// AuthzConfig is an HTTP authorization source, with EMQX's field names.
type AuthzConfig struct {
	Type   string `json:"type"` // "http"
	Enable bool   `json:"enable"`
	Endpoint
}

// Endpoint is the request both the authenticator and the authorization source send.
type Endpoint struct {
	Method string `json:"method"` // "get" or "post"
	// URL may hold placeholders in its path and query, not in its scheme or host.
	URL string `json:"url"`
	// Headers are added to, and override, the default headers. Values may hold placeholders.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent as JSON or a form for POST, and as query parameters for GET. Strings,
	// at any depth, may hold placeholders.
	Body           map[string]any `json:"body,omitempty"`
	RequestTimeout Duration       `json:"request_timeout"`
	// PoolSize is how many idle connections to the server are kept.
	PoolSize int `json:"pool_size"`
	SSL      SSL `json:"ssl"`
}

// SSL is the client side of TLS to the server. Files are read when the authenticator is
// built.
type SSL struct {
	Enable bool `json:"enable"`
	// Verify is "verify_peer" or "verify_none" (EMQX's default).
	Verify     string `json:"verify"`
	CACertFile string `json:"cacertfile,omitempty"`
	CertFile   string `json:"certfile,omitempty"`
	KeyFile    string `json:"keyfile,omitempty"`
	// ServerNameIndication is the name sent in SNI and checked against the certificate;
	// empty means the URL's host, "disable" sends none.
	ServerNameIndication string `json:"server_name_indication,omitempty"`
}

const (
	verifyPeer = "verify_peer"
	verifyNone = "verify_none"
	sniDisable = "disable"
)

// defaultEndpoint returns EMQX's defaults: POST, 5 s timeout, 8 pooled connections.
func defaultEndpoint() Endpoint {
	return Endpoint{
		Method:         "post",
		RequestTimeout: Duration(5 * time.Second),
		PoolSize:       8,
		SSL:            SSL{Verify: verifyNone},
	}
}

// DefaultConfig returns an enabled HTTP authenticator with EMQX's defaults and no URL.
func DefaultConfig() Config {
	return Config{Mechanism: "password_based", Backend: "http", Enable: true, Endpoint: defaultEndpoint()}
}

// DefaultAuthzConfig returns an enabled HTTP authorization source with EMQX's defaults
// and no URL.
func DefaultAuthzConfig() AuthzConfig {
	return AuthzConfig{Type: "http", Enable: true, Endpoint: defaultEndpoint()}
}

// ParseConfig decodes an authenticator strictly over DefaultConfig and validates it.
func ParseConfig(raw []byte) (Config, error) {
	c := DefaultConfig()
	if err := decodeStrict(raw, &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ParseAuthzConfig decodes an authorization source strictly over DefaultAuthzConfig and
// validates it.
func ParseAuthzConfig(raw []byte) (AuthzConfig, error) {
	c := DefaultAuthzConfig()
	if err := decodeStrict(raw, &c); err != nil {
		return AuthzConfig{}, err
	}
	if err := c.Validate(); err != nil {
		return AuthzConfig{}, err
	}
	return c, nil
}

// Validate checks everything that does not need files: fields, URL and placeholders.
func (c Config) Validate() error {
	if c.Mechanism != "password_based" {
		return fmt.Errorf("mechanism: %q is not password_based", c.Mechanism)
	}
	if c.Backend != "http" {
		return fmt.Errorf("backend: %q is not http", c.Backend)
	}
	_, err := c.compile(authnVars())
	return err
}

// Validate checks everything that does not need files: fields, URL and placeholders.
func (c AuthzConfig) Validate() error {
	if c.Type != "http" {
		return fmt.Errorf("type: %q is not http", c.Type)
	}
	_, err := c.compile(authzVars())
	return err
}

// validate checks the SSL fields on their own.
func (s SSL) validate() error {
	switch s.Verify {
	case "", verifyPeer, verifyNone:
	default:
		return fmt.Errorf("ssl.verify: %q is not verify_peer or verify_none", s.Verify)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return errors.New("ssl.certfile, ssl.keyfile: give both or neither")
	}
	return nil
}

// UnmarshalJSON decodes strictly over the current values, so that a partial "ssl" object
// keeps the defaults and errors name the field inside it.
func (s *SSL) UnmarshalJSON(b []byte) error {
	type plain SSL
	p := plain(*s)
	if err := decodeStrict(b, &p); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return &fieldError{field: "ssl." + fe.field, msg: fe.msg}
		}
		return fmt.Errorf("ssl: %w", err)
	}
	*s = SSL(p)
	return nil
}

// fieldError is a decoding error that names the field it is about.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// decodeStrict decodes one JSON object into v, refusing unknown fields and trailing
// data. Numbers in the body stay json.Number, so large integers keep their digits.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return describeDecodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// describeDecodeError rewrites encoding/json errors so they start with the field's
// JSON path.
func describeDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// Field is a path of JSON names, except embedded structs, which appear by their
		// Go name.
		field := strings.TrimPrefix(te.Field, "Endpoint.")
		if field == "" {
			return fmt.Errorf("want a JSON object, got %s", te.Value)
		}
		return &fieldError{field: field, msg: fmt.Sprintf("want %s, got %s", jsonKind(te.Type.String()), te.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &fieldError{field: strings.Trim(name, `"`), msg: "unknown field"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at offset %d: %w", se.Offset, err)
	}
	return err
}

// jsonKind names a Go type the way a config author thinks of it.
func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"):
		return "an integer"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	}
	return goType
}
