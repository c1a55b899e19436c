package password

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestNormalizeFillsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Algorithm
		want Algorithm
	}{
		{"simple gets prefix", Algorithm{Name: MD5}, Algorithm{Name: MD5, SaltPosition: SaltPrefix}},
		{"simple keeps its position", Algorithm{Name: SHA, SaltPosition: SaltSuffix}, Algorithm{Name: SHA, SaltPosition: SaltSuffix}},
		{"plain gets prefix", Algorithm{Name: Plain}, Algorithm{Name: Plain, SaltPosition: SaltPrefix}},
		{"bcrypt gets 10 rounds", Algorithm{Name: Bcrypt}, Algorithm{Name: Bcrypt, SaltRounds: 10}},
		{"bcrypt keeps its rounds", Algorithm{Name: Bcrypt, SaltRounds: 5}, Algorithm{Name: Bcrypt, SaltRounds: 5}},
		{"pbkdf2 keeps dk_length unset", Algorithm{Name: PBKDF2, MacFun: "sha256", Iterations: 1},
			Algorithm{Name: PBKDF2, MacFun: "sha256", Iterations: 1}},
		{"default is valid", Default(), Algorithm{Name: SHA256, SaltPosition: SaltPrefix}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Normalize()
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if got != tt.want {
				t.Errorf("Normalize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   Algorithm
		want string
	}{
		{"no name", Algorithm{}, "password_hash_algorithm.name: required"},
		{"unknown name", Algorithm{Name: "SHA256"}, "password_hash_algorithm.name: must be one of plain, md5, sha, sha256, sha512, bcrypt, pbkdf2"},
		{"bad salt position", Algorithm{Name: SHA256, SaltPosition: "middle"}, "password_hash_algorithm.salt_position: must be one of disable, prefix, suffix"},
		{"salt_rounds on simple", Algorithm{Name: SHA256, SaltRounds: 10}, "password_hash_algorithm.salt_rounds: not allowed with name sha256"},
		{"iterations on simple", Algorithm{Name: MD5, Iterations: 10}, "password_hash_algorithm.iterations: not allowed with name md5"},
		{"rounds too low", Algorithm{Name: Bcrypt, SaltRounds: 4}, "password_hash_algorithm.salt_rounds: must be between 5 and 10"},
		{"rounds too high", Algorithm{Name: Bcrypt, SaltRounds: 11}, "password_hash_algorithm.salt_rounds: must be between 5 and 10"},
		{"salt_position on bcrypt", Algorithm{Name: Bcrypt, SaltPosition: SaltPrefix}, "password_hash_algorithm.salt_position: not allowed with name bcrypt"},
		{"mac_fun on bcrypt", Algorithm{Name: Bcrypt, MacFun: "sha"}, "password_hash_algorithm.mac_fun: not allowed with name bcrypt"},
		{"pbkdf2 without mac_fun", Algorithm{Name: PBKDF2, Iterations: 1}, "password_hash_algorithm.mac_fun: required"},
		{"pbkdf2 bad mac_fun", Algorithm{Name: PBKDF2, MacFun: "sha1", Iterations: 1}, "password_hash_algorithm.mac_fun: must be one of md4, md5, ripemd160, sha, sha224, sha256, sha384, sha512"},
		{"pbkdf2 without iterations", Algorithm{Name: PBKDF2, MacFun: "sha"}, "password_hash_algorithm.iterations: required"},
		{"pbkdf2 negative iterations", Algorithm{Name: PBKDF2, MacFun: "sha", Iterations: -1}, "password_hash_algorithm.iterations: must be a positive integer"},
		{"pbkdf2 negative dk_length", Algorithm{Name: PBKDF2, MacFun: "sha", Iterations: 1, DKLength: -1}, "password_hash_algorithm.dk_length: must be between 1 and 1024"},
		{"pbkdf2 huge dk_length", Algorithm{Name: PBKDF2, MacFun: "sha", Iterations: 1, DKLength: 1 << 20}, "password_hash_algorithm.dk_length: must be between 1 and 1024"},
		{"salt_position on pbkdf2", Algorithm{Name: PBKDF2, MacFun: "sha", Iterations: 1, SaltPosition: SaltSuffix}, "password_hash_algorithm.salt_position: not allowed with name pbkdf2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Normalize()
			if err == nil {
				t.Fatal("Normalize accepted it")
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FieldError", err)
			}
			if tt.in.Validate() == nil {
				t.Error("Validate accepted what Normalize refused")
			}
		})
	}
}

func TestAlgorithmJSONUsesEMQXFieldNames(t *testing.T) {
	tests := []struct {
		name string
		in   Algorithm
		want string
	}{
		{"simple", Default(), `{"name":"sha256","salt_position":"prefix"}`},
		{"bcrypt", Algorithm{Name: Bcrypt, SaltRounds: 10}, `{"name":"bcrypt","salt_rounds":10}`},
		{"pbkdf2", Algorithm{Name: PBKDF2, MacFun: "sha512", Iterations: 4096, DKLength: 32},
			`{"name":"pbkdf2","mac_fun":"sha512","iterations":4096,"dk_length":32}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("json = %s, want %s", b, tt.want)
			}
			var back Algorithm
			if err := json.Unmarshal(b, &back); err != nil || back != tt.in {
				t.Errorf("round trip = %+v, %v; want %+v", back, err, tt.in)
			}
		})
	}
}
