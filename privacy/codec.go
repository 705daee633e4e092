package privacy

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rmaledger/rmaledger/domain"
)

// Prefix starts every envelope: "pii:v1:<subject>:<base64url(nonce|ciphertext)>".
// The subject is in the clear so that a reader knows which key to ask for,
// and so that an erasure can find a customer's claims without any key.
const Prefix = "pii:v1:"

// ErrCorrupt means an envelope is malformed, or its ciphertext does not
// open under its subject's key: it was altered, moved to another field or
// another subject, or written with a key that is not this store's.
var ErrCorrupt = errors.New("privacy: envelope does not open")

// secretSubject holds the per-installation secret customer ids are keyed
// with. Customer ids are hex, so no customer can collide with it.
const secretSubject = "installation-secret"

// maxGenerations bounds the data keys one customer may have had: a
// customer who comes back after an erasure gets a new key (subject
// "<id>.2", "<id>.3", ...), since the erased one must never open again.
const maxGenerations = 64

// Codec seals and opens the personal fields of events with a KeyStore.
type Codec struct {
	keys KeyStore
}

// NewCodec returns a Codec over keys.
func NewCodec(keys KeyStore) *Codec { return &Codec{keys: keys} }

// Keys is the key store the codec uses.
func (c *Codec) Keys() KeyStore { return c.keys }

// CustomerID derives the customer's pseudonymous id from the phone the
// claim was registered with (normalised, E.164): an HMAC-SHA-256 keyed with
// a per-installation secret, so the same phone always gives the same id
// (one customer's claims share a key and are erased together), while the id
// itself reveals nothing and cannot be recomputed from a guessed phone
// without the secret. 128 bits, hex.
func (c *Codec) CustomerID(ctx context.Context, phone string) (string, error) {
	secret, err := c.keys.Key(ctx, secretSubject)
	if err != nil {
		return "", fmt.Errorf("privacy: installation secret: %w", err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("customer\x00" + phone))
	return hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// ValidCustomerID reports whether id has the form CustomerID gives.
func ValidCustomerID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// CustomerOf gives the customer id of a subject ("<id>" or "<id>.<n>").
func CustomerOf(subject string) string {
	id, _, _ := strings.Cut(subject, ".")
	return id
}

// subject returns the subject new data of the customer is sealed under:
// the customer's first key that was not destroyed, created if needed.
func (c *Codec) subject(ctx context.Context, customerID string) (string, []byte, error) {
	for g := 1; g <= maxGenerations; g++ {
		s := customerID
		if g > 1 {
			s += "." + strconv.Itoa(g)
		}
		key, err := c.keys.Key(ctx, s)
		if errors.Is(err, ErrErased) {
			continue
		}
		return s, key, err
	}
	return "", nil, fmt.Errorf("privacy: customer %s was erased %d times", customerID, maxGenerations)
}

// Erase destroys every data key the customer ever had. It returns ErrNoKey
// when the customer never had one, and succeeds again on an erased
// customer.
func (c *Codec) Erase(ctx context.Context, customerID string) error {
	for g := 1; g <= maxGenerations; g++ {
		s := customerID
		if g > 1 {
			s += "." + strconv.Itoa(g)
		}
		err := c.keys.Destroy(ctx, s)
		if errors.Is(err, ErrNoKey) {
			if g == 1 {
				return ErrNoKey
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// additional binds a ciphertext to its subject and its field, so that an
// envelope copied into another field or relabelled with another subject
// does not open.
func additional(subject, path string) []byte {
	return []byte("pii:v1\x00" + subject + "\x00" + path)
}

func aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts plain for field path under subject's key. Empty strings
// stay empty: they say nothing about anyone, and keep optional fields
// optional.
func seal(subject string, key []byte, path, plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	g, err := aead(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plain)+g.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := g.Seal(nonce, nonce, []byte(plain), additional(subject, path))
	return Prefix + subject + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// SealString encrypts plain for field path under the customer's current
// key: an envelope string, or "" for "".
func (c *Codec) SealString(ctx context.Context, customerID, path, plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	subject, key, err := c.subject(ctx, customerID)
	if err != nil {
		return "", err
	}
	return seal(subject, key, path, plain)
}

// SubjectOf returns the subject of an envelope; ok is false for anything
// else (plaintext stored before encryption, an empty field).
func SubjectOf(s string) (subject string, ok bool) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return "", false
	}
	subject, _, ok = strings.Cut(rest, ":")
	return subject, ok && subject != ""
}

// OpenString decrypts an envelope written for field path. A string that is
// not an envelope is returned as it is (events stored before encryption
// stay readable); an envelope whose key was destroyed gives domain.Erased;
// one that does not open is ErrCorrupt.
func (c *Codec) OpenString(ctx context.Context, path, s string) (string, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return s, nil
	}
	subject, body, ok := strings.Cut(rest, ":")
	if !ok || subject == "" {
		return "", fmt.Errorf("%w: %s: malformed envelope", ErrCorrupt, path)
	}
	key, err := c.keys.Lookup(ctx, subject)
	switch {
	case errors.Is(err, ErrErased):
		return domain.Erased, nil
	case errors.Is(err, ErrNoKey):
		return "", fmt.Errorf("%w: %s: no key for subject %s", ErrCorrupt, path, subject)
	case err != nil:
		return "", err
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	g, err := aead(key)
	if err != nil {
		return "", err
	}
	if len(raw) < g.NonceSize()+g.Overhead() {
		return "", fmt.Errorf("%w: %s: too short", ErrCorrupt, path)
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], additional(subject, path))
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrCorrupt, path)
	}
	return string(plain), nil
}
