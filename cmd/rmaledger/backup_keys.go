package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rmaledger/rmaledger/privacy"
)

// The personal-data key store travels with a backup: without it a restored
// log's personal fields never open again. That a backup holds the keys of
// customers erased after it was taken is why backups must expire (see
// docs/privacy.md); the copy holds no destroyed key (privacy.BackupSQLite).

// keyStorePath is where serve keeps the key store.
func keyStorePath(cfg config) string {
	if cfg.KeyStoreFile != "" {
		return cfg.KeyStoreFile
	}
	return filepath.Join(cfg.DataDir, privacy.KeyFile)
}

// backupKeys copies the key store into the backup directory.
func backupKeys(ctx context.Context, cfg config, dest string, stdout io.Writer) error {
	err := privacy.BackupSQLite(ctx, keyStorePath(cfg), filepath.Join(dest, privacy.KeyFile))
	if errors.Is(err, privacy.ErrNoKey) {
		return nil // nothing was ever encrypted
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up the personal-data key store to %s\n", filepath.Join(dest, privacy.KeyFile))
	return nil
}

// restoreKeys puts the backup's key store in place, never over an existing one.
func restoreKeys(cfg config, src string, stdout io.Writer) error {
	from := filepath.Join(src, privacy.KeyFile)
	data, err := os.ReadFile(from)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	to := keyStorePath(cfg)
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore the key store: %w", err)
	}
	if _, err := f.Write(data); err != nil {
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
	fmt.Fprintf(stdout, "restored the personal-data key store into %s; repeat any erasure made after the backup was taken\n", to)
	return nil
}
