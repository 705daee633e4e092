package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

// CheckpointType is the stored name of a checkpoint event.
const CheckpointType = "audit.checkpoint.v1"

// Checkpoint is a signed statement of the ledger-wide chain: "after the
// event at Position, Count events had been chained and the head was Head".
// Its fields are kept as the strings that were signed, so that verifying
// never depends on re-encoding a time or a position the same way.
type Checkpoint struct {
	// Position is the $all position of the last chained event, as
	// "<commit>/<prepare>" ("0/0" for an empty ledger).
	Position string `json:"position"`
	// Head is the chain's head after that event.
	Head Hash `json:"head_hash"`
	// Count is how many events the chain held then.
	Count uint64 `json:"event_count"`
	// Time is when the checkpoint was signed, RFC 3339 in UTC.
	Time string `json:"time"`
	// KeyID names the key that signed (KeyID of its public key).
	KeyID string `json:"key_id"`
	// Signature is the Ed25519 signature of Message, base64 (standard, padded).
	Signature string `json:"signature"`
}

// Message is the exact byte string a checkpoint's signature covers: six
// lines separated by "\n" (no trailing newline).
//
//	rmaledger checkpoint v1
//	position <commit>/<prepare>
//	head <64 hex>
//	events <count>
//	time <RFC 3339 time>
//	key <key id>
func (c Checkpoint) Message() []byte {
	return fmt.Appendf(nil, "rmaledger checkpoint v1\nposition %s\nhead %s\nevents %d\ntime %s\nkey %s",
		c.Position, c.Head, c.Count, c.Time, c.KeyID)
}

// At parses Position.
func (c Checkpoint) At() (eventstore.Position, error) { return eventstore.ParsePosition(c.Position) }

// SignedAt parses Time.
func (c Checkpoint) SignedAt() (time.Time, error) { return time.Parse(time.RFC3339Nano, c.Time) }

// Errors of checkpoint signatures.
var (
	// ErrUnknownKey means a checkpoint names a key the verifier does not hold.
	ErrUnknownKey = errors.New("audit: checkpoint signed by an unknown key")
	// ErrBadSignature means the signature does not match the checkpoint.
	ErrBadSignature = errors.New("audit: checkpoint signature does not verify")
)

// Keys are the public keys checkpoints may be signed with, by key ID.
type Keys map[string]ed25519.PublicKey

// NewKeys indexes public keys by their IDs.
func NewKeys(keys ...ed25519.PublicKey) Keys {
	k := make(Keys, len(keys))
	for _, pub := range keys {
		k[KeyID(pub)] = pub
	}
	return k
}

// Verify checks a checkpoint's signature.
func (k Keys) Verify(c Checkpoint) error {
	pub, ok := k[c.KeyID]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, c.KeyID)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(pub, c.Message(), sig) {
		return ErrBadSignature
	}
	return nil
}

// KeyID names a public key: "ed25519:" and the first 8 bytes of the
// SHA-256 of the raw 32-byte key, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// Signer signs checkpoints with an Ed25519 private key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner wraps a private key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}
}

// Public is the key that verifies this signer's checkpoints.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID is the ID of the signer's public key.
func (s *Signer) KeyID() string { return s.id }

// Sign makes a checkpoint of chain signed now.
func (s *Signer) Sign(chain Chain, now time.Time) Checkpoint {
	c := Checkpoint{
		Position: FormatPosition(chain.Position),
		Head:     chain.Head,
		Count:    chain.Count,
		Time:     now.UTC().Format(time.RFC3339Nano),
		KeyID:    s.id,
	}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, c.Message()))
	return c
}

// decodeCheckpoint reads a checkpoint event's data strictly.
func decodeCheckpoint(data []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("audit: decode checkpoint: %w", err)
	}
	if _, err := c.At(); err != nil {
		return c, err
	}
	return c, nil
}

// FormatPosition writes a position the way the audit's documents spell it
// (signed checkpoints, exports, verification reports): "<commit>/<prepare>"
// even when the two are equal ("42/42", "0/0"), as docs/audit.md specifies
// it to auditors and signatures cover it. The rest of the service writes
// eventstore.Position.String ("42"); eventstore.ParsePosition reads both.
func FormatPosition(p eventstore.Position) string {
	return strconv.FormatUint(p.Commit, 10) + "/" + strconv.FormatUint(p.Prepare, 10)
}

// GenerateKey makes a new Ed25519 key pair.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
}

// WritePrivateKey stores a private key as PKCS #8 PEM, readable only by its
// owner (0600). It refuses to overwrite a file: losing a signing key would
// orphan every checkpoint it signed.
func WritePrivateKey(path string, key ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// WritePublicKey stores a public key as PKIX PEM (0644): what auditors get.
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadPrivateKey loads a key written by WritePrivateKey. A key file others
// can read is refused: anyone who can read it can sign checkpoints.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit: signing key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit: signing key %s is readable by others (mode %v); chmod 600 it", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: signing key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit: signing key %s: not a PEM \"PRIVATE KEY\"", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit: signing key %s is a %T, want Ed25519", path, k)
	}
	return priv, nil
}

// ParsePublicKey reads a public key given as a PEM "PUBLIC KEY" file's
// contents, or as the base64 (standard or URL alphabet, padded or not) of
// the raw 32-byte key, as `rmaledger keys generate` prints it.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("audit: public key: PEM block %q, want \"PUBLIC KEY\"", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("audit: public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("audit: public key is a %T, want Ed25519", k)
		}
		return pub, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, errors.New("audit: public key: want a PEM \"PUBLIC KEY\" or the base64 of 32 bytes")
}

// EncodePublicKey is the base64 form ParsePublicKey reads.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }
