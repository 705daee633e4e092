// Package privacy keeps personal data erasable in an append-only ledger by
// crypto-shredding: every personal field of a stored event is encrypted with
// a data key of its customer (AES-256-GCM), the keys live in a key store
// apart from the event log, and erasing a customer destroys the key. The
// ciphertext stays where it is, so the audit hash chain and the signed
// checkpoints, which cover the stored bytes, still verify; it just can no
// longer be read.
//
// The package knows events and stores, not HTTP: the ledger seals on write
// and opens on read (Codec), the read models fold opened events (Reveal),
// and the API asks for an erasure (Codec.Erase).
package privacy

import (
	"context"
	"errors"
)

// Errors of a KeyStore, matched with errors.Is.
var (
	// ErrNoKey means the store never held a key for the subject.
	ErrNoKey = errors.New("privacy: no key for this subject")
	// ErrErased means the subject's key was destroyed: what it encrypted
	// is gone for good.
	ErrErased = errors.New("privacy: the subject's key was destroyed")
)

// KeyStore holds one 32-byte data key per subject. It is the seam for a key
// management service (AWS KMS, Vault transit, a cloud HSM): an
// implementation there would keep the data keys wrapped by a KMS key, or
// the keys themselves, and destroy them with the service's own deletion.
// SQLiteKeyStore is the embedded implementation.
//
// Implementations must be safe for concurrent use, must make a created key
// and a destruction durable before returning, and must never hand out a
// destroyed key again, not even from a cache. A failure of the storage
// under them (a full disk, an I/O error, a key service not answering) must
// match storage.ErrUnavailable and change nothing, so that the call can
// simply be made again.
type KeyStore interface {
	// Key returns the subject's key, creating it when absent. It returns
	// ErrErased for a subject whose key was destroyed: a new key under the
	// old subject would make the erased data's subject live again.
	Key(ctx context.Context, subject string) ([]byte, error)
	// Lookup returns the subject's key without creating one: ErrNoKey when
	// there never was one, ErrErased when it was destroyed.
	Lookup(ctx context.Context, subject string) ([]byte, error)
	// Destroy erases the subject's key beyond recovery and remembers that
	// it did. Destroying a destroyed key succeeds (erasure is idempotent);
	// a subject that never had a key gives ErrNoKey.
	Destroy(ctx context.Context, subject string) error
}
