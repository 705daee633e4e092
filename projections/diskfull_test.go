package projections

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/storage"
	"github.com/rmaledger/rmaledger/storage/storagetest"
)

// TestFullDiskStallsTheReadModelsUntilSpaceReturns fills the file system
// under the read models while the log (on another disk) grows. The
// projections cannot write: none stops for good (a failed projection would
// wait for a rebuild), Ready reports the full disk, a rebuild is refused
// with storage.ErrUnavailable, and queries keep answering from what was
// applied. Once space is back the projections catch up on their own, in the
// same process, and equal the fold of the streams.
func TestFullDiskStallsTheReadModelsUntilSpaceReturns(t *testing.T) {
	w := newWorld(t)
	dir := storagetest.Mount(t, "16m")
	r := startRunner(t, w.store, testConfig(dir))
	ctx := context.Background()
	before := w.register(0, 3)
	waitFor(t, r, w.head())
	// An empty WAL: from here every write needs new space.
	if _, err := r.db.ck.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	release := storagetest.Fill(t, dir)

	after := w.register(3, 10)
	eventually(t, "Ready to report the full disk", func() bool { return errors.Is(r.Ready(), storage.ErrNoSpace) })
	time.Sleep(50 * time.Millisecond) // ten times the test's longest retry interval: any projection would have failed by now
	for _, h := range r.Health() {
		if h.State == StateFailed {
			t.Fatalf("%s stopped on a full disk: %s", h.Name, h.Reason)
		}
	}
	statuses, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range statuses {
		if st.StorageFault == "" {
			t.Errorf("the status of %s does not say it waits for space", st.Name)
		}
	}
	if err := r.StartRebuild(Claims); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("a rebuild on a full disk: %v, want storage.ErrUnavailable", err)
	}
	if _, err := r.Claim(ctx, before[0].id); err != nil {
		t.Fatalf("a query on a full disk: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := r.WaitFor(short, w.head()); !errors.Is(err, ErrNotVisible) {
		t.Fatalf("waiting for the last event on a full disk: %v, want ErrNotVisible", err)
	}

	release()
	waitFor(t, r, w.head())
	if err := r.Ready(); err != nil {
		t.Fatalf("Ready once space is back: %v", err)
	}
	sameClaims(t, w, r, append(before, after...))
}
