package projections

import (
	"context"
	"errors"
	"fmt"
)

// ScrubWAL copies the read models' write-ahead log into the database file
// and truncates it to zero bytes. Call it once the read models have
// applied a personal-data erasure (WaitFor the erasure's position): the
// rows were rewritten and, with secure_delete, their old cells zeroed in
// the database file, but the WAL still holds the page images written
// before, with the plaintext, until it is reset. Unlike the background
// PASSIVE checkpoints it waits (up to the busy timeout) for readers and the
// writer to let it finish.
func (r *Runner) ScrubWAL(ctx context.Context) error {
	var busy, logFrames, checkpointed int
	if err := r.db.ck.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
		return fmt.Errorf("projections: truncate the WAL: %w", err)
	}
	if busy != 0 {
		return errors.New("projections: truncate the WAL: the database stayed busy; retry")
	}
	return nil
}
