package password

import (
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	// Deprecated and weak, but EMQX offers both as pbkdf2 mac_fun values.
	"golang.org/x/crypto/md4"
	"golang.org/x/crypto/ripemd160"
)

// macFunNames lists pbkdf2's mac_fun values in EMQX's order.
func macFunNames() []string {
	return []string{"md4", "md5", "ripemd160", "sha", "sha224", "sha256", "sha384", "sha512"}
}

// macFun returns the hash behind a pbkdf2 mac_fun name; "sha" is SHA-1 as in EMQX.
func macFun(name string) (func() hash.Hash, bool) {
	switch name {
	case "md4":
		return md4.New, true
	case "md5":
		return md5.New, true
	case "ripemd160":
		return ripemd160.New, true
	case "sha":
		return sha1.New, true
	case "sha224":
		return sha256.New224, true
	case "sha256":
		return sha256.New, true
	case "sha384":
		return sha512.New384, true
	case "sha512":
		return sha512.New, true
	}
	return nil, false
}

// deriveKey runs PBKDF2-HMAC over the salt string's bytes; the key is dk_length bytes
// long, or the digest size when dk_length is unset. a must be normalized.
func (a Algorithm) deriveKey(pw []byte, salt string) ([]byte, error) {
	newHash, _ := macFun(a.MacFun)
	n := a.DKLength
	if n == 0 {
		n = newHash().Size()
	}
	return pbkdf2.Key(newHash, string(pw), []byte(salt), a.Iterations, n)
}
