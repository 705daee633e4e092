package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// FileStore is where attached files are kept, addressed by the SHA-256 of
// their stored bytes (files.BlobStore is one).
type FileStore interface {
	// Get opens the bytes stored under address; an error matching
	// fs.ErrNotExist when none are.
	Get(ctx context.Context, address string) (io.ReadCloser, error)
}

// fileAttached is the part of a claim.file_attached event the check needs.
type fileAttached struct {
	FileID string `json:"file_id"`
	SHA256 string `json:"sha256"`
}

// file checks the stored bytes of a file the event attached: they must be
// there and hash to the SHA-256 the event recorded, which the chain covers.
// A file sealed with an erased customer's key passes: its sealed bytes are
// unchanged, only the key that opened them is gone (erasure is not
// tampering). A store that fails is an error, not a break.
func (v *verifier) file(rec *eventstore.RecordedEvent) error {
	if v.opts.Files == nil || rec.Type != (domain.FileAttached{}).EventType() {
		return nil
	}
	var f fileAttached
	if err := json.Unmarshal(rec.Data, &f); err != nil {
		return fmt.Errorf("audit: %s revision %d: %w", rec.Stream, rec.Revision, err)
	}
	v.files++
	claim := strings.TrimPrefix(rec.Stream, eventlog.Claims.Prefix())
	at := func(kind, found, detail string) {
		v.fail(&Break{Kind: kind, Stream: rec.Stream, Revision: rec.Revision, Position: FormatPosition(rec.Position),
			EventID: rec.ID.String(), Expected: "file " + f.FileID + " with SHA-256 " + f.SHA256, Found: found,
			Detail: fmt.Sprintf("claim %s, file %s: %s", claim, f.FileID, detail)})
	}
	rc, err := v.opts.Files.Get(v.ctx, f.SHA256)
	if errors.Is(err, fs.ErrNotExist) {
		at(BreakFileMissing, "no file stored under that SHA-256", "the file attached to the claim is gone from the file store")
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: read file %s of claim %s: %w", f.FileID, claim, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return fmt.Errorf("audit: read file %s of claim %s: %w", f.FileID, claim, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		at(BreakFileChanged, "bytes with SHA-256 "+sum, "the stored file's bytes were changed after it was attached")
	}
	return nil
}
