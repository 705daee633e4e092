package embedded

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Manifest describes a backup: what it holds and the checksum that proves
// the copy is the one that was made.
type Manifest struct {
	// Format names the layout, so a later version can still read this one.
	Format string `json:"format"`
	// CreatedAt is when the backup was taken.
	CreatedAt time.Time `json:"created_at"`
	// Events is how many events the backup holds; Head is the position of
	// the last one: the backup is exactly the log up to Head.
	Events int64  `json:"events"`
	Head   uint64 `json:"head_position"`
	// SHA256 and Size are of the backup's events.db.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

const (
	manifestFile   = "manifest.json"
	manifestFormat = "rmaledger-embedded-backup-1"
)

// Backup copies the event log of dataDir into the new directory dest while
// the service may be running: SQLite's VACUUM INTO reads one consistent
// snapshot (the log up to some commit, never part of one) through its own
// read transaction, without the store's lock and without stopping writers.
// The copy is checked (quick_check), fsynced and described by a manifest.
// Read models are not copied: they are rebuilt from the log after a restore.
func Backup(ctx context.Context, dataDir, dest string) (Manifest, error) {
	src, err := filepath.Abs(filepath.Join(dataDir, dbFile))
	if err != nil {
		return Manifest{}, err
	}
	if _, err := os.Stat(src); err != nil {
		return Manifest{}, fmt.Errorf("embedded: backup: no event log at %s: %w", src, err)
	}
	if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 {
		return Manifest{}, fmt.Errorf("embedded: backup: %s is not empty; back up into a new directory", dest)
	}
	if err := os.MkdirAll(dest, 0o750); err != nil {
		return Manifest{}, fmt.Errorf("embedded: backup: %w", err)
	}
	partial := filepath.Join(dest, dbFile+".partial")
	db, err := sql.Open("sqlite", dsn(src, url.Values{"mode": {"ro"}, "_pragma": {"busy_timeout(10000)"}}))
	if err != nil {
		return Manifest{}, fmt.Errorf("embedded: backup: open %s: %w", src, err)
	}
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", partial)
	db.Close()
	if err != nil {
		os.Remove(partial)
		return Manifest{}, fmt.Errorf("embedded: backup: copy %s: %w", src, err)
	}
	m, err := describe(ctx, partial)
	if err != nil {
		return Manifest{}, err
	}
	if err := syncFile(partial); err != nil {
		return Manifest{}, err
	}
	if err := os.Rename(partial, filepath.Join(dest, dbFile)); err != nil {
		return Manifest{}, fmt.Errorf("embedded: backup: %w", err)
	}
	if err := writeManifest(dest, m); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Restore puts the backup in src into dataDir, which must hold no event log
// and no read models (those of another log would be wrong; they are rebuilt
// from the restored log when the service starts). The backup's checksum is
// verified first, and the log is opened once before Restore returns, so a
// restore that succeeded can be served.
func Restore(src, dataDir string) (Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(src, manifestFile))
	if err != nil {
		return Manifest{}, fmt.Errorf("embedded: restore: %s is not a backup: %w", src, err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.Format != manifestFormat {
		return Manifest{}, fmt.Errorf("embedded: restore: %s: unknown manifest (want format %s): %v", src, manifestFormat, err)
	}
	backup := filepath.Join(src, dbFile)
	sum, size, err := checksum(backup)
	if err != nil {
		return Manifest{}, err
	}
	if sum != m.SHA256 || size != m.Size {
		return Manifest{}, fmt.Errorf("%w: restore: %s does not match its manifest (sha256 %s, %d bytes; manifest says %s, %d bytes)",
			ErrCorrupt, backup, sum, size, m.SHA256, m.Size)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return Manifest{}, fmt.Errorf("embedded: restore: %w", err)
	}
	lock, err := lockDir(dataDir)
	if err != nil {
		return Manifest{}, err
	}
	defer unlockDir(lock)
	for _, name := range []string{dbFile, dbFile + "-wal", "readmodels.db"} {
		if _, err := os.Stat(filepath.Join(dataDir, name)); err == nil {
			return Manifest{}, fmt.Errorf("embedded: restore: %s already holds %s; restore into an empty data directory", dataDir, name)
		}
	}
	partial := filepath.Join(dataDir, dbFile+".partial")
	if err := copyFile(backup, partial); err != nil {
		return Manifest{}, err
	}
	if err := os.Rename(partial, filepath.Join(dataDir, dbFile)); err != nil {
		return Manifest{}, fmt.Errorf("embedded: restore: %w", err)
	}
	if err := syncDir(dataDir); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// describe checks a copy and counts what it holds.
func describe(ctx context.Context, path string) (Manifest, error) {
	db, err := sql.Open("sqlite", dsn(path, url.Values{"mode": {"ro"}}))
	if err != nil {
		return Manifest{}, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err != nil || check != "ok" {
		return Manifest{}, fmt.Errorf("%w: backup copy fails its check: %s %v", ErrCorrupt, check, err)
	}
	m := Manifest{Format: manifestFormat, CreatedAt: time.Now().UTC()}
	var head int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events").Scan(&m.Events, &head); err != nil {
		return Manifest{}, fmt.Errorf("embedded: backup: count events: %w", err)
	}
	m.Head = uint64(head)
	if m.SHA256, m.Size, err = checksum(path); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

func checksum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func writeManifest(dir string, m Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, manifestFile)
	if err := os.WriteFile(path+".partial", append(data, '\n'), 0o640); err != nil {
		return err
	}
	if err := syncFile(path + ".partial"); err != nil {
		return err
	}
	if err := os.Rename(path+".partial", path); err != nil {
		return err
	}
	return syncDir(dir)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
