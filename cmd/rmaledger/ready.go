package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/projections"
	"github.com/rmaledger/rmaledger/storage"
)

// minFreeSpace is the room below which the service says it is not ready:
// what one write may need at most, the largest event the embedded log
// takes (1 MiB) with its index pages and the read models' rows for it.
// Writes go on meanwhile, and those that do not fit answer 503: not
// ready means "send the traffic elsewhere, and free space", before
// writes start failing.
const minFreeSpace = 2 << 20

// readiness is /readyz's check: every read model runs and can write, the
// disks the service writes (the data directory's, the key store's) have
// room for a write, and the event store answers. Every part recovers by
// itself: a read model waiting for space writes on once there is some, and
// the check sees the space.
func readiness(cfg config, reads *projections.Runner, store eventstore.Store) func(context.Context) error {
	dirs := []string{cfg.DataDir, filepath.Dir(keyStorePath(cfg))}
	return func(ctx context.Context) error {
		if err := reads.Ready(); err != nil {
			return err
		}
		if err := roomToWrite(dirs); err != nil {
			return err
		}
		if pinger, ok := store.(interface{ Ping(context.Context) error }); ok {
			return pinger.Ping(ctx) // KurrentDB: is the connection up
		}
		_, err := store.ReadAll(ctx, eventstore.Start, 1, eventstore.Filter{})
		return err
	}
}

// roomToWrite fails with storage.ErrNoSpace when a file system under dirs
// has less than minFreeSpace left. A system without statfs is not checked.
func roomToWrite(dirs []string) error {
	for _, dir := range dirs {
		free, err := storage.Free(dir)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			return nil
		case err != nil:
			return fmt.Errorf("%w: %s: %w", storage.ErrUnavailable, dir, err)
		case free < minFreeSpace:
			return fmt.Errorf("%w: %s has %d bytes free, less than the %d a write may need", storage.ErrNoSpace, dir, free, minFreeSpace)
		}
	}
	return nil
}
