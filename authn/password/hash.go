package password

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"hash"
)

// Hash hashes pw with a new random salt and returns the hash and the salt as EMQX stores
// them. The salt is 32 lowercase hex characters, except that it is empty when
// salt_position is disable and for plain: EMQX never salts plain, since a salt next to a
// readable password protects nothing. For bcrypt the salt is the hash's first 29
// characters ("$2b$10$" and 22 salt characters).
func (a Algorithm) Hash(pw []byte) (hash, salt string, err error) {
	a, err = a.Normalize()
	if err != nil {
		return "", "", err
	}
	switch {
	case a.Name == Bcrypt:
		return hashBcrypt(pw, a.SaltRounds)
	case a.Name == Plain, a.SaltPosition == SaltDisable:
		salt = ""
	default:
		salt = newSalt()
	}
	hash, err = a.HashWithSalt(pw, salt)
	if err != nil {
		return "", "", err
	}
	return hash, salt, nil
}

// HashWithSalt hashes pw with the given salt, used as the bytes of the string. Simple
// algorithms give the lowercase hex of H(salt‖pw) (prefix), H(pw‖salt) (suffix) or H(pw)
// (disable); plain gives the concatenation itself, so a plain user stored with a salt by
// EMQX keeps working. pbkdf2 gives the hex of the derived key. It returns ErrBcryptSalt
// for bcrypt, whose hash can only be made with a salt it draws itself.
func (a Algorithm) HashWithSalt(pw []byte, salt string) (string, error) {
	a, err := a.Normalize()
	if err != nil {
		return "", err
	}
	switch a.Name {
	case Bcrypt:
		return "", ErrBcryptSalt
	case PBKDF2:
		key, err := a.deriveKey(pw, salt)
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(key), nil
	case Plain:
		return string(a.salted(pw, salt)), nil
	}
	return hex.EncodeToString(a.digest(pw, salt)), nil
}

// Verify reports whether pw matches the stored hash and salt. Hex hashes are compared
// case-insensitively and every comparison takes constant time. For bcrypt the salt is
// ignored: the hash carries its own. An empty stored hash never matches, and neither does
// anything when a is invalid.
func (a Algorithm) Verify(pw []byte, hash, salt string) bool {
	a, err := a.Normalize()
	if err != nil || hash == "" {
		return false
	}
	switch a.Name {
	case Bcrypt:
		return verifyBcrypt(pw, hash)
	case Plain:
		return subtle.ConstantTimeCompare(a.salted(pw, salt), []byte(hash)) == 1
	case PBKDF2:
		want, err := hex.DecodeString(hash)
		if err != nil {
			return false
		}
		got, err := a.deriveKey(pw, salt)
		return err == nil && subtle.ConstantTimeCompare(got, want) == 1
	}
	// Decoding the stored hex rather than lowercasing it makes the comparison
	// case-insensitive without a second, non-constant-time pass over the digest.
	want, err := hex.DecodeString(hash)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(a.digest(pw, salt), want) == 1
}

// salted places the salt as salt_position says.
func (a Algorithm) salted(pw []byte, salt string) []byte {
	switch a.SaltPosition {
	case SaltPrefix:
		return append([]byte(salt), pw...)
	case SaltSuffix:
		return append(append([]byte(nil), pw...), salt...)
	}
	return append([]byte(nil), pw...)
}

// digest is the raw digest of a simple hashing algorithm other than plain.
func (a Algorithm) digest(pw []byte, salt string) []byte {
	var h hash.Hash
	switch a.Name {
	case MD5:
		h = md5.New()
	case SHA:
		h = sha1.New()
	case SHA256:
		h = sha256.New()
	default:
		h = sha512.New()
	}
	h.Write(a.salted(pw, salt))
	return h.Sum(nil)
}

// newSalt draws a salt as EMQX does: 16 random bytes written as 32 lowercase hex digits.
func newSalt() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand aborts the program instead
	return hex.EncodeToString(b[:])
}
