package builtin

import (
	"errors"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn/password"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Config
	}{
		{
			name: "minimal gets EMQX defaults",
			raw:  `{"mechanism":"password_based","backend":"built_in_database"}`,
			want: DefaultConfig(),
		},
		{
			name: "everything set",
			raw: `{"mechanism":"password_based","backend":"built_in_database","user_id_type":"clientid",
				"password_hash_algorithm":{"name":"pbkdf2","mac_fun":"sha512","iterations":4096,"dk_length":32},
				"enable":false}`,
			want: Config{Mechanism: Mechanism, Backend: Backend, UserIDType: UserIDClientID,
				PasswordHashAlgorithm: password.Algorithm{Name: password.PBKDF2, MacFun: "sha512", Iterations: 4096, DKLength: 32}},
		},
		{
			name: "algorithm defaults are filled",
			raw:  `{"mechanism":"password_based","backend":"built_in_database","password_hash_algorithm":{"name":"bcrypt"}}`,
			want: func() Config {
				c := DefaultConfig()
				c.PasswordHashAlgorithm = password.Algorithm{Name: password.Bcrypt, SaltRounds: 10}
				return c
			}(),
		},
		{
			name: "simple algorithm gets a prefix salt",
			raw:  `{"mechanism":"password_based","backend":"built_in_database","password_hash_algorithm":{"name":"md5"}}`,
			want: func() Config {
				c := DefaultConfig()
				c.PasswordHashAlgorithm = password.Algorithm{Name: password.MD5, SaltPosition: password.SaltPrefix}
				return c
			}(),
		},
		{
			name: "null fields take defaults",
			raw:  `{"mechanism":"password_based","backend":"built_in_database","enable":null,"user_id_type":null,"password_hash_algorithm":null}`,
			want: DefaultConfig(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.raw))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	const head = `"mechanism":"password_based","backend":"built_in_database"`
	tests := []struct {
		name      string
		raw       string
		want      string
		wantField string // "" when the error is not a *password.FieldError
	}{
		{"unknown field", `{` + head + `,"bootstrap":"x"}`, `bootstrap: unknown field`, "bootstrap"},
		{"unknown algorithm field", `{` + head + `,"password_hash_algorithm":{"name":"md5","pepper":"x"}}`, `pepper: unknown field`, "pepper"},
		{"algorithm field of another name", `{` + head + `,"password_hash_algorithm":{"name":"md5","salt_rounds":10}}`,
			`password_hash_algorithm.salt_rounds: not allowed with name md5`, "password_hash_algorithm.salt_rounds"},
		{"salt_rounds out of range", `{` + head + `,"password_hash_algorithm":{"name":"bcrypt","salt_rounds":12}}`,
			`password_hash_algorithm.salt_rounds: must be between 5 and 10`, "password_hash_algorithm.salt_rounds"},
		{"algorithm without name", `{` + head + `,"password_hash_algorithm":{}}`,
			`password_hash_algorithm.name: required`, "password_hash_algorithm.name"},
		{"wrong type", `{` + head + `,"enable":"yes"}`, `enable: must be a boolean`, "enable"},
		{"wrong nested type", `{` + head + `,"password_hash_algorithm":{"name":"bcrypt","salt_rounds":"10"}}`,
			`password_hash_algorithm.salt_rounds: must be an integer`, "password_hash_algorithm.salt_rounds"},
		{"bad user_id_type", `{` + head + `,"user_id_type":"cert_common_name"}`, `user_id_type: must be username or clientid`, "user_id_type"},
		{"no mechanism", `{"backend":"built_in_database"}`, `mechanism: required`, "mechanism"},
		{"other mechanism", `{"mechanism":"scram","backend":"built_in_database"}`, `mechanism: must be password_based`, "mechanism"},
		{"other backend", `{"mechanism":"password_based","backend":"http"}`, `backend: must be built_in_database`, "backend"},
		{"not an object", `[]`, `config: must be a JSON object`, ""},
		{"syntax error", `{"mechanism":}`, `config: invalid JSON at byte 14`, ""},
		{"empty", ``, `config: empty or truncated JSON`, ""},
		{"truncated", `{"mechanism":"password_based"`, `config: empty or truncated JSON`, ""},
		{"trailing data", `{` + head + `} {}`, `config: unexpected data after the JSON object`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.raw))
			if err == nil {
				t.Fatal("ParseConfig accepted it")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to start with %q", err, tt.want)
			}
			var fe *password.FieldError
			isField := errors.As(err, &fe)
			if tt.wantField == "" && isField {
				t.Errorf("error is a *FieldError for %q, want a plain error", fe.Field)
			}
			if tt.wantField != "" && (!isField || fe.Field != tt.wantField) {
				t.Errorf("error = %#v, want a *FieldError for %q", err, tt.wantField)
			}
		})
	}
}

func TestValidateDefaultConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig is invalid: %v", err)
	}
	c := DefaultConfig()
	c.UserIDType = ""
	if err := c.Validate(); err == nil {
		t.Error("Validate accepted an empty user_id_type")
	}
}
