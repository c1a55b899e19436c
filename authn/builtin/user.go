package builtin

import (
	"context"
	"errors"

	"github.com/xgate/xgate/authn/password"
)

// User is one user of the built-in database, stored as EMQX stores it: the password only
// as hash and salt under the authenticator's algorithm.
type User struct {
	UserID       string
	PasswordHash string
	Salt         string
	IsSuperuser  bool
}

// UserStore finds the users of one authenticator; the caller binds the store to it.
type UserStore interface {
	// LookupUser returns the user with id userID, or found false when there is none.
	LookupUser(ctx context.Context, userID string) (u User, found bool, err error)
}

// NewUser makes a user from a plain password, hashed with alg and a new salt. Errors
// about the input are *password.FieldError naming "user_id" or "password".
func NewUser(alg password.Algorithm, userID, pw string, superuser bool) (User, error) {
	if userID == "" {
		return User{}, &password.FieldError{Field: "user_id", Reason: "required"}
	}
	if pw == "" {
		return User{}, &password.FieldError{Field: "password", Reason: "required"}
	}
	hash, salt, err := alg.Hash([]byte(pw))
	if errors.Is(err, password.ErrTooLongForBcrypt) {
		return User{}, &password.FieldError{Field: "password", Reason: "must be at most 72 bytes with bcrypt"}
	}
	if err != nil {
		return User{}, err
	}
	return User{UserID: userID, PasswordHash: hash, Salt: salt, IsSuperuser: superuser}, nil
}
