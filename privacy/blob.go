package privacy

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
)

// Files (photos, receipts, protocols) are sealed whole under the customer's
// data key, like the personal fields of events: erasing the customer
// destroys the key, and with it every file's content, while the sealed
// bytes stay where they are and still match the hash the ledger recorded.
//
// A sealed blob is "pii-blob:v1:<subject>\n" followed by the AES-256-GCM
// nonce and ciphertext. The label (the file's claim and id) is bound in as
// additional data, so that a sealed file copied under another file's name
// does not open.

// blobPrefix starts every sealed blob.
var blobPrefix = []byte("pii-blob:v1:")

// SealBlob encrypts plain under the customer's current key for label.
func (c *Codec) SealBlob(ctx context.Context, customerID, label string, plain []byte) ([]byte, error) {
	if !ValidCustomerID(customerID) {
		return nil, fmt.Errorf("privacy: seal file: invalid customer id %q", customerID)
	}
	subject, key, err := c.subject(ctx, customerID)
	if err != nil {
		return nil, err
	}
	g, err := aead(key)
	if err != nil {
		return nil, err
	}
	head := append(append(bytes.Clone(blobPrefix), subject...), '\n')
	out := make([]byte, len(head)+g.NonceSize(), len(head)+g.NonceSize()+len(plain)+g.Overhead())
	copy(out, head)
	nonce := out[len(head):]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.Seal(out, nonce, plain, blobAdditional(subject, label)), nil
}

// OpenBlob decrypts a blob SealBlob wrote for label. It returns ErrErased
// when the customer's key was destroyed, and ErrCorrupt when the blob is
// not a sealed blob or does not open (altered, or sealed for another label).
func (c *Codec) OpenBlob(ctx context.Context, label string, sealed []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, blobPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: file %s is not sealed", ErrCorrupt, label)
	}
	subject, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok || len(subject) == 0 {
		return nil, fmt.Errorf("%w: file %s: malformed", ErrCorrupt, label)
	}
	key, err := c.keys.Lookup(ctx, string(subject))
	switch {
	case errors.Is(err, ErrErased):
		return nil, err
	case errors.Is(err, ErrNoKey):
		return nil, fmt.Errorf("%w: file %s: no key for subject %s", ErrCorrupt, label, subject)
	case err != nil:
		return nil, err
	}
	g, err := aead(key)
	if err != nil {
		return nil, err
	}
	if len(body) < g.NonceSize()+g.Overhead() {
		return nil, fmt.Errorf("%w: file %s: too short", ErrCorrupt, label)
	}
	plain, err := g.Open(nil, body[:g.NonceSize()], body[g.NonceSize():], blobAdditional(string(subject), label))
	if err != nil {
		return nil, fmt.Errorf("%w: file %s", ErrCorrupt, label)
	}
	return plain, nil
}

func blobAdditional(subject, label string) []byte {
	return []byte("pii-blob:v1\x00" + subject + "\x00" + label)
}
