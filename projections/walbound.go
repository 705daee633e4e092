package projections

import (
	"fmt"
	"math/bits"
	"os"
	"path/filepath"

	"github.com/rmaledger/rmaledger/storage"
)

// The read models' WAL is transient space: the checkpoints copy it into
// readmodels.db, and SQLite then starts it over. Config.walLimit bounds it
// (see database.open), and so does the space left on its file system: the
// WAL may take at most an eighth of what is free. On a filling disk the
// writer checkpoints, and cuts the file back, ever more often, so the read
// models give their WAL back rather than take the space the event log and
// the key store need; on a disk with room (more than eight times walLimit
// free) the bound is walLimit, and nothing changes.
const (
	// walShareOfFree: the WAL may take 1/walShareOfFree of the free space.
	walShareOfFree = 8
	// minWALBound is the smallest bound: 16 pages, so that a commit does
	// not checkpoint every time even on a nearly full disk.
	minWALBound = 16 * walPageSize
)

// walBound is the WAL's bound, in bytes, with free bytes left on its file
// system: free/walShareOfFree rounded down to a power of two (so that it
// moves in steps, not with every page written), between minWALBound and
// limit.
func walBound(free uint64, limit int) int {
	share := free / walShareOfFree
	if share < minWALBound {
		return min(minWALBound, limit)
	}
	return min(1<<(bits.Len64(share)-1), limit)
}

// boundWAL sets the writer's WAL bound (the page count past which its
// commit checkpoints, and the size SQLite cuts the file back to when it
// starts it over) for the space free now, if that changed it, and returns
// the bound in force. A failure keeps the bound as it was: that costs
// space, never correctness.
func (db *database) boundWAL(limit int) int {
	free, err := storage.Free(filepath.Dir(db.path))
	if err != nil {
		return db.walBound
	}
	bound := walBound(free, limit)
	if bound == db.walBound {
		return bound
	}
	for _, pragma := range []string{
		fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", bound/walPageSize),
		fmt.Sprintf("PRAGMA journal_size_limit = %d", bound),
	} {
		if _, err := db.w.Exec(pragma); err != nil {
			db.log.Warn("cannot bound the read models' WAL", "bytes", bound, "err", err)
			return db.walBound
		}
	}
	db.walBound = bound
	return bound
}

// walOver reports whether the WAL file is larger than bound.
func (db *database) walOver(bound int) bool {
	fi, err := os.Stat(db.path + "-wal")
	return err == nil && fi.Size() > int64(bound)
}
