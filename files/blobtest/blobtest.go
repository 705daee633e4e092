// Package blobtest is the contract every files.BlobStore passes: run Run from
// each implementation's tests.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/rmaledger/rmaledger/files"
)

// Store is an implementation under test: Open returns an empty store;
// Reopen returns a second store over the same storage, as a restarted
// service would open it.
type Store struct {
	Open   func(t *testing.T) files.BlobStore
	Reopen func(t *testing.T, s files.BlobStore) files.BlobStore
}

// Run runs the contract against s.
func Run(t *testing.T, s Store) {
	ctx := context.Background()
	photo := bytes.Repeat([]byte("\xff\xd8 a photo of a cracked screen "), 4096)

	t.Run("put gives the SHA-256 and get gives the bytes back", func(t *testing.T) {
		store := s.Open(t)
		address, err := store.Put(ctx, photo)
		if err != nil {
			t.Fatal(err)
		}
		if address != files.Address(photo) || !files.ValidAddress(address) {
			t.Fatalf("address %q, want %q", address, files.Address(photo))
		}
		if got := read(t, store, address); !bytes.Equal(got, photo) {
			t.Fatalf("got %d bytes back, want the %d put", len(got), len(photo))
		}
		if size, err := store.Stat(ctx, address); err != nil || size != int64(len(photo)) {
			t.Fatalf("stat: %d, %v; want %d", size, err, len(photo))
		}
	})

	t.Run("put is idempotent", func(t *testing.T) {
		store := s.Open(t)
		first, err := store.Put(ctx, photo)
		if err != nil {
			t.Fatal(err)
		}
		second, err := store.Put(ctx, bytes.Clone(photo))
		if err != nil || second != first {
			t.Fatalf("second put: %q, %v; want %q", second, err, first)
		}
		if got := read(t, store, first); !bytes.Equal(got, photo) {
			t.Fatal("the blob changed on the second put")
		}
	})

	t.Run("concurrent puts of the same and of different bytes", func(t *testing.T) {
		store := s.Open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Go(func() {
				data := photo
				if i%2 == 1 {
					data = fmt.Appendf(nil, "receipt %d", i)
				}
				if _, err := store.Put(ctx, data); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := 1; i < 16; i += 2 {
			data := fmt.Appendf(nil, "receipt %d", i)
			if got := read(t, store, files.Address(data)); !bytes.Equal(got, data) {
				t.Errorf("blob %d: %q", i, got)
			}
		}
	})

	t.Run("a stored blob is there after a restart", func(t *testing.T) {
		store := s.Open(t)
		address, err := store.Put(ctx, photo)
		if err != nil {
			t.Fatal(err)
		}
		again := s.Reopen(t, store)
		if got := read(t, again, address); !bytes.Equal(got, photo) {
			t.Fatal("the reopened store lost the blob")
		}
	})

	t.Run("a missing blob is ErrBlobNotFound", func(t *testing.T) {
		store := s.Open(t)
		absent := files.Address([]byte("never stored"))
		if _, err := store.Get(ctx, absent); !errors.Is(err, files.ErrBlobNotFound) {
			t.Errorf("get: %v, want ErrBlobNotFound", err)
		}
		if _, err := store.Stat(ctx, absent); !errors.Is(err, files.ErrBlobNotFound) {
			t.Errorf("stat: %v, want ErrBlobNotFound", err)
		}
	})

	t.Run("an address that is not a SHA-256 is refused", func(t *testing.T) {
		store := s.Open(t)
		for _, bad := range []string{"", "../../etc/passwd", "ABCDEF" + files.Address(nil)[6:], files.Address(nil) + "/x"} {
			if rc, err := store.Get(ctx, bad); err == nil || errors.Is(err, files.ErrBlobNotFound) {
				if rc != nil {
					rc.Close()
				}
				t.Errorf("get %q: %v, want a refusal", bad, err)
			}
			if _, err := store.Stat(ctx, bad); err == nil || errors.Is(err, files.ErrBlobNotFound) {
				t.Errorf("stat %q: %v, want a refusal", bad, err)
			}
		}
	})
}

func read(t *testing.T, store files.BlobStore, address string) []byte {
	t.Helper()
	rc, err := store.Get(context.Background(), address)
	if err != nil {
		t.Fatalf("get %s: %v", address, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", address, err)
	}
	return data
}
