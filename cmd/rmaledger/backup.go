package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

// errKurrentBackup: a KurrentDB log is backed up with KurrentDB's own tools.
var errKurrentBackup = errors.New("the event log is in KurrentDB: back it up with KurrentDB's own backup (https://docs.kurrent.io/server/latest/operations/backup); read models need no backup, they are rebuilt")

// backupCommand runs `rmaledger backup DIR`: a consistent copy of the
// embedded event log, taken while the service runs.
func backupCommand(ctx context.Context, cfg config, stdout io.Writer) error {
	dest := cfg.Args.Num(0)
	if dest == "" {
		return errors.New("usage: rmaledger backup DIR (a new or empty directory)")
	}
	if cfg.EventStoreURL != "" {
		return errKurrentBackup
	}
	m, err := embedded.Backup(ctx, cfg.DataDir, dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %d events (head position %d) to %s, sha256 %s\n", m.Events, m.Head, dest, m.SHA256)
	return backupKeys(ctx, cfg, dest, stdout)
}

// restoreCommand runs `rmaledger restore DIR`: the backup in DIR becomes the
// event log of the (empty) data directory; read models are rebuilt when the
// service starts.
func restoreCommand(cfg config, stdout io.Writer) error {
	src := cfg.Args.Num(0)
	if src == "" {
		return errors.New("usage: rmaledger restore DIR --data-dir NEW (an empty data directory)")
	}
	if cfg.EventStoreURL != "" {
		return errKurrentBackup
	}
	m, err := embedded.Restore(src, cfg.DataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %d events (head position %d) into %s; the read models are rebuilt when the service starts\n", m.Events, m.Head, cfg.DataDir)
	return restoreKeys(cfg, src, stdout)
}
