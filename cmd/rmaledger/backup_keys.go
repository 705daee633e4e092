package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rmaledger/rmaledger/privacy"
)

// The personal-data key store is backed up on its own, never with the
// event log: a backup holding both would open again the data of every
// customer erased after it was taken, for as long as it is kept. So
// `rmaledger backup` copies the log alone, `rmaledger backup-keys` the key
// store alone, into a directory of its own that is neither in a log backup
// nor in a data directory, and restoring keys takes `rmaledger
// restore-keys` with a key backup named on purpose. Key backups should
// expire sooner than log backups (see docs/privacy.md).

// keyStorePath is where serve keeps the key store.
func keyStorePath(cfg config) string {
	if cfg.KeyStoreFile != "" {
		return cfg.KeyStoreFile
	}
	return filepath.Join(cfg.DataDir, privacy.KeyFile)
}

// keyBackupManifest describes a key backup: what it is, when it was taken
// (erasures made since must be repeated after restoring it) and the
// checksum restore-keys verifies.
type keyBackupManifest struct {
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
}

const (
	keyManifestFile   = "key-backup.json"
	keyManifestFormat = "rmaledger-key-backup-1"
	// eventLogFile is the embedded store's log: a directory holding it is a
	// data directory or a log backup, where keys must not go.
	eventLogFile = "events.db"
)

// backupKeysCommand runs `rmaledger backup-keys DIR`: a consistent copy of
// the key store, taken while the service runs, into a new or empty DIR.
func backupKeysCommand(ctx context.Context, cfg config, stdout io.Writer) error {
	dest := cfg.Args.Num(0)
	if dest == "" {
		return usagef("usage: rmaledger backup-keys DIR (a new or empty directory, apart from the event log's backups)")
	}
	if err := checkApart(dest, eventLogFile, "an event log (a log backup or a data directory)"); err != nil {
		return fmt.Errorf("backup-keys: %w", err)
	}
	if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 {
		return fmt.Errorf("backup-keys: %s is not empty; back the keys up into a new directory", dest)
	}
	src := keyStorePath(cfg)
	copyPath := filepath.Join(dest, privacy.KeyFile)
	err := privacy.BackupSQLite(ctx, src, copyPath)
	if errors.Is(err, privacy.ErrNoKey) {
		return fmt.Errorf("backup-keys: there is no key store at %s (nothing encrypted yet, or --key-store-file names another file)", src)
	}
	if err != nil {
		return err
	}
	if err := syncParent(copyPath); err != nil {
		return err
	}
	m := keyBackupManifest{Format: keyManifestFormat, CreatedAt: time.Now().UTC()}
	if m.SHA256, m.Size, err = fileSum(copyPath); err != nil {
		return err
	}
	if err := writeKeyManifest(dest, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up the personal-data key store %s to %s, sha256 %s\nkeep it apart from the event log's backups and let it expire: it opens the data of customers erased after %s\n",
		src, copyPath, m.SHA256, m.CreatedAt.Format(time.RFC3339))
	return nil
}

// restoreKeysCommand runs `rmaledger restore-keys DIR`: the key store
// backed up in DIR becomes the service's, never over an existing one.
func restoreKeysCommand(cfg config, stdout io.Writer) error {
	src := cfg.Args.Num(0)
	if src == "" {
		return usagef("usage: rmaledger restore-keys DIR (a backup made by rmaledger backup-keys) before the service starts")
	}
	from := filepath.Join(src, privacy.KeyFile)
	raw, err := os.ReadFile(filepath.Join(src, keyManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		// Only an old backup of the log held its keys, beside manifest.json.
		if _, err := os.Stat(from); err != nil {
			return fmt.Errorf("restore-keys: %s is not a key backup (no %s): make one with rmaledger backup-keys", src, keyManifestFile)
		}
		return installKeyStore(cfg, from, "", stdout)
	}
	if err != nil {
		return err
	}
	var m keyBackupManifest
	if err := json.Unmarshal(raw, &m); err != nil || m.Format != keyManifestFormat {
		return fmt.Errorf("restore-keys: %s: unknown key backup manifest (want format %s): %v", src, keyManifestFormat, err)
	}
	sum, size, err := fileSum(from)
	if err != nil {
		return fmt.Errorf("restore-keys: %w", err)
	}
	if sum != m.SHA256 || size != m.Size {
		return fmt.Errorf("restore-keys: %s does not match its manifest (sha256 %s, %d bytes; the manifest says %s, %d bytes)", from, sum, size, m.SHA256, m.Size)
	}
	return installKeyStore(cfg, from, m.CreatedAt.Format(time.RFC3339), stdout)
}

// installKeyStore copies a backed-up key store to where serve keeps it.
func installKeyStore(cfg config, from, takenAt string, stdout io.Writer) error {
	to := keyStorePath(cfg)
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	if err := copyNew(from, to); err != nil {
		return fmt.Errorf("restore-keys: %w", err)
	}
	since := "the backup was taken"
	if takenAt != "" {
		since = takenAt
	}
	fmt.Fprintf(stdout, "restored the personal-data key store from %s into %s; repeat every erasure made since %s (GET /v1/audit/trail?action=erase-personal-data lists them)\n", from, to, since)
	return nil
}

// copyNew copies from to a new file to, fsynced; an existing to is an error.
func copyNew(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists; a key store is never overwritten (move it away first if it is to be replaced)", to)
	}
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(to)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(to)
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return syncParent(to)
}

// checkApart refuses dir when it, or a directory above it, holds marker:
// one kind of backup must not travel inside the other.
func checkApart(dir, marker, what string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, marker)); err == nil {
			if d == abs {
				return fmt.Errorf("%s holds %s: keep the personal-data keys and the event log in separate backups", dir, what)
			}
			return fmt.Errorf("%s is inside %s, which holds %s: keep the personal-data keys and the event log in separate backups", dir, d, what)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

func fileSum(path string) (string, int64, error) {
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

// writeKeyManifest writes the manifest last, fsynced with its directory, so
// that a directory with a manifest holds a whole key backup.
func writeKeyManifest(dir string, m keyBackupManifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, keyManifestFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncParent(path)
}

// syncParent fsyncs the directory of path, so that the new name survives a
// crash.
func syncParent(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
