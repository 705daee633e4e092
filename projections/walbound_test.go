package projections

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/storage"
	"github.com/rmaledger/rmaledger/storage/storagetest"
)

func TestWALBound(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		free  uint64
		limit int
		want  int
	}{
		{free: 100 << 30, limit: 64 * MiB, want: 64 * MiB}, // room: the configured limit
		{free: 512 * MiB, limit: 64 * MiB, want: 64 * MiB},
		{free: 511 * MiB, limit: 64 * MiB, want: 32 * MiB}, // an eighth, rounded down to a power of two
		{free: 8 * MiB, limit: 64 * MiB, want: MiB},
		{free: 15 * MiB, limit: 64 * MiB, want: MiB},
		{free: 100 << 10, limit: 64 * MiB, want: minWALBound}, // nearly full: never below 16 pages
		{free: 0, limit: 64 * MiB, want: minWALBound},
		{free: 0, limit: 8 << 10, want: 8 << 10}, // a limit below the floor wins
	} {
		if got := walBound(c.free, c.limit); got != c.want {
			t.Errorf("walBound(%d free, limit %d) = %d, want %d", c.free, c.limit, got, c.want)
		}
	}
}

// TestWALGivesWayToAFillingDisk catches up a log whose read models'
// transactions, unbounded, leave a WAL of about 12 MiB, into a file system
// with 16 MiB left. The WAL is bounded by an eighth of the free space, so it
// stays a small share of the disk and the catch-up completes; bounded by
// walLimit alone (64 MiB) it would have taken most of the disk.
func TestWALGivesWayToAFillingDisk(t *testing.T) {
	w := newWorld(t)
	fill(t, w.store, 0, 600)
	dir := storagetest.Mount(t, "24m")
	ballast(t, dir, 8<<20)
	free, err := storage.Free(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir)
	// Small transactions, as live delivery's: the bound cannot be smaller
	// than one transaction.
	cfg.BatchSize, cfg.PageSize = 32, 32
	var peak atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			peak.Store(max(peak.Load(), storagetest.Size(t, filepath.Join(dir, dbFile+"-wal"))))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	r := startRunner(t, w.store, cfg)
	waitFor(t, r, w.head())
	close(stop)
	sampler.Wait()
	if err := r.Ready(); err != nil {
		t.Fatal(err)
	}
	// The bound with 16 MiB free is 2 MiB; the WAL may pass it by the
	// transaction that crosses it and the commits before the checkpoint.
	if bound := int64(free) / 4; peak.Load() > bound {
		t.Errorf("the WAL grew to %d bytes with %d free, want at most %d", peak.Load(), free, bound)
	}
	t.Logf("WAL peak %d bytes with %d free; readmodels.db %d bytes", peak.Load(), free, storagetest.Size(t, filepath.Join(dir, dbFile)))
}

// ballast takes size bytes of dir's file system.
func ballast(t *testing.T, dir string, size int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "ballast"), make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
}
