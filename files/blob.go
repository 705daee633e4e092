// Package files keeps the photos and documents that travel with a claim: the
// receipt that proves the purchase, the intake photos, the service center's
// act of unrepairability, the signed protocol. A file's bytes live in a
// BlobStore under their SHA-256; the claim's event (claim.file_attached.v1)
// holds that hash, so the audit hash chain covers the file and audit verify
// can tell when a stored file was changed or lost.
//
// An upload is checked before anything is written (see Inspect): only JPEG,
// PNG and PDF are taken, recognised from their bytes, never from what the
// client says; images are decoded and encoded again, which drops their
// metadata (an EXIF location) and anything appended to them; a file that
// is also another kind of file (a polyglot) is refused. On a claim whose
// personal data is encrypted, the stored bytes are encrypted with the
// customer's data key, so that erasing the customer makes the files
// unreadable too (see Service).
package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// ErrBlobNotFound means the store holds no blob under the address. It
// matches fs.ErrNotExist too, so that a reader that knows no BlobStore
// (audit verify) can tell a missing blob from a failing store.
var ErrBlobNotFound = fmt.Errorf("files: no such blob: %w", fs.ErrNotExist)

// BlobStore keeps immutable blobs addressed by the SHA-256 of their bytes.
// Implementations must be safe for concurrent use.
type BlobStore interface {
	// Put stores data under Address(data) and returns the address. It is
	// idempotent: putting bytes already stored changes nothing. It returns
	// only once the blob is durable (on disk, or acknowledged by the object
	// store), so that an event naming the address never outlives the blob.
	Put(ctx context.Context, data []byte) (address string, err error)
	// Get opens the blob stored under address; ErrBlobNotFound when none is.
	// The caller closes it. The bytes are whatever the store holds: a reader
	// that must trust them checks them against the address.
	Get(ctx context.Context, address string) (io.ReadCloser, error)
	// Stat returns the size of the blob under address; ErrBlobNotFound when
	// none is stored.
	Stat(ctx context.Context, address string) (size int64, err error)
}

// Address is the address of data in every BlobStore: its SHA-256, 64
// lowercase hex digits.
func Address(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ValidAddress reports whether s has the form Address gives. Stores refuse
// anything else, so that an address can never name a path outside them.
func ValidAddress(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// errBadAddress is returned for an address that is not a SHA-256.
var errBadAddress = errors.New("files: blob address is not a lowercase hex SHA-256")
