package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/privacy"
)

// errKurrentBackup: a KurrentDB log is backed up with KurrentDB's own tools.
var errKurrentBackup = errors.New("the event log is in KurrentDB: back it up with KurrentDB's own backup (https://docs.kurrent.io/server/latest/operations/backup); read models need no backup, they are rebuilt; the personal-data keys: rmaledger backup-keys DIR")

// backupCommand runs `rmaledger backup DIR`: a consistent copy of the
// embedded event log, taken while the service runs. The personal-data key
// store stays out of it (see backup_keys.go).
func backupCommand(ctx context.Context, cfg config, stdout io.Writer) error {
	dest := cfg.Args.Num(0)
	if dest == "" {
		return usagef("usage: rmaledger backup DIR (a new or empty directory)")
	}
	if cfg.EventStoreURL != "" {
		return errKurrentBackup
	}
	if err := checkApart(dest, keyManifestFile, "a personal-data key backup"); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m, err := embedded.Backup(ctx, cfg.DataDir, dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up the event log: %d events (head position %d) to %s, sha256 %s\n", m.Events, m.Head, dest, m.SHA256)
	if err := backupFiles(ctx, cfg, dest, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the personal-data key store is not in this backup: back it up apart with rmaledger backup-keys DIR\n")
	return nil
}

// restoreCommand runs `rmaledger restore DIR`: the backup in DIR becomes the
// event log of the (empty) data directory; read models are rebuilt when the
// service starts. It restores no personal-data keys (restore-keys does, from
// a key backup), and says where the service will find them.
func restoreCommand(ctx context.Context, cfg config, stdout io.Writer) error {
	src := cfg.Args.Num(0)
	if src == "" {
		return usagef("usage: rmaledger restore DIR --data-dir NEW (an empty data directory)")
	}
	if cfg.EventStoreURL != "" {
		return errKurrentBackup
	}
	if _, err := os.Stat(filepath.Join(src, keyManifestFile)); err == nil {
		return fmt.Errorf("restore: %s is a backup of the personal-data keys, not of the event log: restore it with rmaledger restore-keys %s", src, src)
	}
	m, err := embedded.Restore(src, cfg.DataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored the event log: %d events (head position %d) into %s; the read models are rebuilt when the service starts\n", m.Events, m.Head, cfg.DataDir)
	if err := restoreFiles(ctx, cfg, src, stdout); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(src, privacy.KeyFile)); err == nil {
		fmt.Fprintf(stdout, "not restored: the personal-data key store %s holds beside the log (an older rmaledger backup put it there); restore it only on purpose, with rmaledger restore-keys %s\n", src, src)
	}
	if _, err := os.Stat(keyStorePath(cfg)); err == nil {
		fmt.Fprintf(stdout, "the personal-data key store in place, %s, is kept\n", keyStorePath(cfg))
	} else {
		fmt.Fprintf(stdout, "no personal-data keys restored: put them at %s with rmaledger restore-keys KEY-BACKUP-DIR before the service starts; started without them, it makes a new key store and the restored personal fields stay sealed\n", keyStorePath(cfg))
	}
	return nil
}
