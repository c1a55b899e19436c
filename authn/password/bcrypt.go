package password

import (
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// ErrBcryptSalt is returned by HashWithSalt for bcrypt: the bcrypt library draws the salt
// itself and cannot hash with a given one. Use Hash.
var ErrBcryptSalt = errors.New("bcrypt makes its own salt: use Hash")

// ErrTooLongForBcrypt is returned by Hash for a bcrypt password longer than 72 bytes.
// bcrypt ignores every byte past the 72nd; refusing such a password when it is set
// beats letting its end silently not count.
var ErrTooLongForBcrypt = errors.New("bcrypt cannot hash a password longer than 72 bytes")

// bcryptSaltLen is the length of "$2b$NN$" followed by the 22-character encoded salt,
// which is what EMQX stores in the salt column for bcrypt users.
const bcryptSaltLen = 29

// maxBcryptPassword is the most bytes of a password bcrypt uses.
const maxBcryptPassword = 72

func hashBcrypt(pw []byte, rounds int) (hash, salt string, err error) {
	if len(pw) > maxBcryptPassword {
		return "", "", ErrTooLongForBcrypt
	}
	b, err := bcrypt.GenerateFromPassword(pw, rounds)
	if err != nil {
		return "", "", err
	}
	// x/crypto labels its hashes $2a$ and EMQX's bcrypt $2b$. Both compute the same
	// hash for every password x/crypto accepts ($2b$ fixed a length wrap-around past 255
	// bytes), so relabel to store exactly what EMQX would.
	hash = "$2b$" + strings.TrimPrefix(string(b), "$2a$")
	return hash, hash[:bcryptSaltLen], nil
}

// verifyBcrypt accepts the $2a$ (x/crypto, older tools), $2b$ (EMQX, OpenBSD) and $2y$
// (htpasswd, PHP) labels: they mark fixes of other implementations' bugs, not a different
// hash. $2x$, crypt_blowfish's label for its buggy hashes, is refused.
func verifyBcrypt(pw []byte, hash string) bool {
	if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") &&
		!strings.HasPrefix(hash, "$2y$") {
		return false
	}
	// CompareHashAndPassword compares in constant time.
	return bcrypt.CompareHashAndPassword([]byte(hash), pw) == nil
}
