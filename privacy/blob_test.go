package privacy_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rmaledger/rmaledger/privacy"
)

func TestSealBlob(t *testing.T) {
	ctx := context.Background()
	keys, err := privacy.OpenSQLite(filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	c := privacy.NewCodec(keys)
	customer, err := c.CustomerID(ctx, "+359881234567")
	if err != nil {
		t.Fatal(err)
	}
	photo := bytes.Repeat([]byte("\x89PNG a scratched lid "), 100)
	sealed, err := c.SealBlob(ctx, customer, "claim-1/file-1", photo)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("scratched lid")) {
		t.Fatal("the sealed blob holds the plaintext")
	}
	if got, err := c.OpenBlob(ctx, "claim-1/file-1", sealed); err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("open: %v", err)
	}
	if _, err := c.OpenBlob(ctx, "claim-1/file-2", sealed); !errors.Is(err, privacy.ErrCorrupt) {
		t.Errorf("opened under another file's label: %v", err)
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	if _, err := c.OpenBlob(ctx, "claim-1/file-1", altered); !errors.Is(err, privacy.ErrCorrupt) {
		t.Errorf("altered blob: %v, want ErrCorrupt", err)
	}
	if _, err := c.OpenBlob(ctx, "claim-1/file-1", photo); !errors.Is(err, privacy.ErrCorrupt) {
		t.Errorf("a plain file: %v, want ErrCorrupt", err)
	}
	if err := c.Erase(ctx, customer); err != nil {
		t.Fatal(err)
	}
	if got, err := c.OpenBlob(ctx, "claim-1/file-1", sealed); !errors.Is(err, privacy.ErrErased) || got != nil {
		t.Errorf("after erasure: %d bytes, %v; want ErrErased", len(got), err)
	}
}
