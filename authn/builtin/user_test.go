package builtin

import (
	"errors"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn/password"
)

func TestNewUser(t *testing.T) {
	u, err := NewUser(password.Default(), "alice", "wonderland", true)
	if err != nil {
		t.Fatalf("NewUser: %v", err)
	}
	if u.UserID != "alice" || !u.IsSuperuser || len(u.Salt) != 32 || len(u.PasswordHash) != 64 {
		t.Errorf("NewUser = %+v", u)
	}
	if !password.Default().Verify([]byte("wonderland"), u.PasswordHash, u.Salt) {
		t.Error("the stored hash does not verify")
	}
}

func TestNewUserErrors(t *testing.T) {
	tests := []struct {
		name      string
		alg       password.Algorithm
		id, pw    string
		wantField string
	}{
		{"no user id", password.Default(), "", "pw", "user_id"},
		{"no password", password.Default(), "alice", "", "password"},
		{"too long for bcrypt", password.Algorithm{Name: password.Bcrypt, SaltRounds: 5}, "alice", strings.Repeat("p", 73), "password"},
		{"invalid algorithm", password.Algorithm{Name: "md6"}, "alice", "pw", "password_hash_algorithm.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewUser(tt.alg, tt.id, tt.pw, false)
			var fe *password.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Errorf("error = %v, want a *FieldError for %q", err, tt.wantField)
			}
		})
	}
}
