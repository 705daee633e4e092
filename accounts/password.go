package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// MinPasswordLength is the fewest characters a password may have.
const MinPasswordLength = 12

// maxPasswordLength bounds the work a sign-in can ask of the hash.
const maxPasswordLength = 256

// ErrWeakPassword means a password is shorter than MinPasswordLength (or
// longer than 256 characters); nothing was written.
var ErrWeakPassword = fmt.Errorf("accounts: a password needs at least %d characters (and at most %d)", MinPasswordLength, maxPasswordLength)

// argon2id parameters: the second recommendation of RFC 9106 scaled to
// OWASP's minimum (19 MiB, 2 passes, 1 lane), so that a sign-in costs a
// few tens of milliseconds on a small server. They are written into every
// hash, so raising them later leaves the old hashes readable.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// checkPassword applies the length rule.
func checkPassword(password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLength || n > maxPasswordLength {
		return ErrWeakPassword
	}
	return nil
}

// hashPassword hashes with argon2id and a fresh random salt, encoded in the
// PHC string format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func hashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return encodeHash(salt, argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)), nil
}

// unmatchableHash is a hash in hashPassword's form that no password
// matches (its sum is random, not computed), to compare an unknown name's
// password with: the same work as a known name's, without computing a hash
// first.
func unmatchableHash() (string, error) {
	raw := make([]byte, argonSaltLen+argonKeyLen)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return encodeHash(raw[:argonSaltLen], raw[argonSaltLen:]), nil
}

// encodeHash writes a salt and a sum in the PHC string format.
func encodeHash(salt, sum []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(sum))
}

var errBadHash = errors.New("accounts: malformed password hash")

// passwordMatches recomputes the hash of password with the parameters and
// salt of encoded and compares in constant time.
func passwordMatches(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil || passes == 0 || threads == 0 || memory > 1<<20 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, passes, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// GeneratePassword returns a random password of 26 base32 characters
// (128 bits), for a new account or a reset whose password is printed once.
func GeneratePassword() string { return rand.Text() }
