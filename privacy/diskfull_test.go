package privacy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rmaledger/rmaledger/storage"
	"github.com/rmaledger/rmaledger/storage/storagetest"
)

// TestKeyStoreOnAFullDisk fills the file system under the key store: a new
// key and a destruction fail with storage.ErrNoSpace (the API's 503), and
// neither leaves anything half-done: no key row, no key destroyed. Once
// space is back, the same calls succeed, in the same process.
func TestKeyStoreOnAFullDisk(t *testing.T) {
	dir := storagetest.Mount(t, "4m")
	ks := openStore(t, dir)
	ctx := context.Background()
	kept, err := ks.Key(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	release := storagetest.Fill(t, dir)

	if _, err := ks.Key(ctx, "new"); !errors.Is(err, storage.ErrNoSpace) || !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("a new key on a full disk: %v, want storage.ErrNoSpace", err)
	}
	if _, err := ks.Lookup(ctx, "new"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("the key that did not fit: %v, want ErrNoKey", err)
	}
	if err := ks.Destroy(ctx, "kept"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("a destruction on a full disk: %v, want storage.ErrUnavailable", err)
	}
	if key, err := ks.Lookup(ctx, "kept"); err != nil || !bytes.Equal(key, kept) {
		t.Fatalf("the key whose destruction failed: %x, %v; want it unchanged", key, err)
	}

	release()
	if _, err := ks.Key(ctx, "new"); err != nil {
		t.Fatalf("a new key once space is back: %v", err)
	}
	if err := ks.Destroy(ctx, "kept"); err != nil {
		t.Fatalf("the destruction once space is back: %v", err)
	}
	if _, err := ks.Lookup(ctx, "kept"); !errors.Is(err, ErrErased) {
		t.Fatalf("the destroyed key: %v, want ErrErased", err)
	}
}

// TestKeyStoreWALStaysSmall creates keys one by one, each its own commit of
// two pages (the row and its index) for a few dozen bytes of key: the WAL
// must be checkpointed and started over within maxKeyWAL, so that a
// growing key store does not take the disk the event log needs (it took
// 2.5 MB for 350 keys).
func TestKeyStoreWALStaysSmall(t *testing.T) {
	dir := t.TempDir()
	ks := openStore(t, dir)
	ctx := context.Background()
	var peak int64
	for i := range 500 {
		if _, err := ks.Key(ctx, fmt.Sprintf("subject-%d", i)); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, storagetest.Size(t, filepath.Join(dir, KeyFile+"-wal")))
	}
	if bound := int64(2 * maxKeyWAL); peak > bound {
		t.Errorf("the key store's WAL grew to %d bytes for 500 keys, want at most %d", peak, bound)
	}
}
