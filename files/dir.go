package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rmaledger/rmaledger/storage"
)

// DirStore keeps blobs as files in a directory: <dir>/ab/cd/abcd... (two
// levels of fan-out, so that no directory grows past 65,536 entries per
// level). It is the default store, inside the data directory.
type DirStore struct {
	dir string
}

// NewDirStore returns a store in dir, creating it if needed.
func NewDirStore(dir string) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, storage.Fault(fmt.Errorf("files: %w", err))
	}
	return &DirStore{dir: dir}, nil
}

// Dir is the directory the blobs are in.
func (s *DirStore) Dir() string { return s.dir }

// path is where the blob of address lives.
func (s *DirStore) path(address string) string {
	return filepath.Join(s.dir, address[:2], address[2:4], address)
}

// Put writes the blob to a temporary file, syncs it, renames it into place
// and syncs the directories it was linked into, so that an acknowledged
// blob survives a crash. A blob already stored with the right bytes is
// left alone; one whose bytes no longer match is written again.
func (s *DirStore) Put(ctx context.Context, data []byte) (string, error) {
	address := Address(data)
	path := s.path(address)
	if existing, err := os.ReadFile(path); err == nil && Address(existing) == address {
		return address, nil
	}
	if err := s.write(path, data); err != nil {
		return "", storage.Fault(fmt.Errorf("files: put %s: %w", address, err))
	}
	return address, nil
}

func (s *DirStore) write(path string, data []byte) error {
	leaf := filepath.Dir(path)
	if err := s.mkdirs(leaf); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(leaf, ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up a failure
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o440); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(leaf)
}

// mkdirs creates the fan-out directories of leaf and syncs each parent a
// new one was linked into.
func (s *DirStore) mkdirs(leaf string) error {
	mid := filepath.Dir(leaf)
	for _, d := range []string{mid, leaf} {
		if err := os.Mkdir(d, 0o750); errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get opens the blob's file.
func (s *DirStore) Get(_ context.Context, address string) (io.ReadCloser, error) {
	if !ValidAddress(address) {
		return nil, errBadAddress
	}
	f, err := os.Open(s.path(address))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrBlobNotFound, address)
	}
	if err != nil {
		return nil, storage.Fault(fmt.Errorf("files: get %s: %w", address, err))
	}
	return f, nil
}

// Stat returns the blob file's size.
func (s *DirStore) Stat(_ context.Context, address string) (int64, error) {
	if !ValidAddress(address) {
		return 0, errBadAddress
	}
	fi, err := os.Stat(s.path(address))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s", ErrBlobNotFound, address)
	}
	if err != nil {
		return 0, storage.Fault(fmt.Errorf("files: stat %s: %w", address, err))
	}
	return fi.Size(), nil
}

// CopyTo puts every blob of the directory into dst, checking each against
// its address first: a blob whose bytes no longer hash to its name is not
// copied but reported in damaged, for audit verify to name its claim.
// Blobs are copied in one pass; dst.Put is durable and idempotent, so an
// interrupted copy is completed by running it again.
func (s *DirStore) CopyTo(ctx context.Context, dst BlobStore) (copied int, damaged []string, err error) {
	err = filepath.WalkDir(s.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !ValidAddress(e.Name()) || path != s.path(e.Name()) {
			return nil // the directories, and temporary files of a put cut short
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return storage.Fault(fmt.Errorf("files: read %s: %w", path, err))
		}
		if Address(data) != e.Name() {
			damaged = append(damaged, e.Name())
			return nil
		}
		if _, err := dst.Put(ctx, data); err != nil {
			return err
		}
		copied++
		return nil
	})
	return copied, damaged, err
}
