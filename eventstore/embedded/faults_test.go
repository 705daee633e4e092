package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/storage"
	"github.com/rmaledger/rmaledger/storage/storagetest"
)

// allEvents reads $all.
func allEvents(t *testing.T, s *Store) []eventstore.RecordedEvent {
	t.Helper()
	events, err := s.ReadAll(context.Background(), eventstore.Start, 1<<20, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// TestRealDiskFull fills a real file system: the append that does not fit
// fails with ErrUnavailable (503 at the API), nothing of it is visible, every
// acknowledged event stays, and appends work again once space returns, in
// the same process and after a restart.
func TestRealDiskFull(t *testing.T) {
	dir := storagetest.Mount(t, "2m")
	s := openStore(t, dir, Config{})
	ctx := context.Background()
	var acked []eventstore.EventData
	var failure error
	for i := 0; i < 1000 && failure == nil; i++ {
		ev := event("t", 16<<10)
		if _, err := s.Append(ctx, fmt.Sprintf("s-%d", i), eventstore.NoStream, ev); err != nil {
			failure = err
			break
		}
		acked = append(acked, ev)
	}
	if !errors.Is(failure, eventstore.ErrUnavailable) || !errors.Is(failure, storage.ErrNoSpace) {
		t.Fatalf("appending 16 MiB to a 2 MiB file system: %v, want ErrUnavailable and storage.ErrNoSpace", failure)
	}
	if len(acked) == 0 {
		t.Fatal("not one append fitted: the test's file system is too small")
	}
	check := func(s *Store, want []eventstore.EventData) {
		t.Helper()
		got := allEvents(t, s)
		if len(got) != len(want) {
			t.Fatalf("%d events visible, want the %d acknowledged", len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID {
				t.Fatalf("event %d is %s, want %s", i, got[i].ID, want[i].ID)
			}
		}
	}
	check(s, acked)
	// Still full: still refused, still nothing half-written.
	if _, err := s.Append(ctx, "again", eventstore.NoStream, event("t", 16<<10)); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append while still full: %v, want ErrUnavailable", err)
	}
	check(s, acked)

	storagetest.Resize(t, dir, "64m")
	ev := event("t", 16<<10)
	if _, err := s.Append(ctx, "after", eventstore.NoStream, ev); err != nil {
		t.Fatalf("append after space returned: %v", err)
	}
	acked = append(acked, ev)
	check(s, acked)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openStore(t, dir, Config{}), acked)
}

// crashCopy copies the store's files while it is open, as a crash would
// leave them: the main file and the write-ahead log, not checkpointed.
func crashCopy(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	for _, name := range []string{dbFile, dbFile + "-wal"} {
		src, err := os.Open(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// TestTornLogTail cuts the write-ahead log in the middle of its last
// commit, as a power cut during that commit's write would: the store opens
// and serves every earlier commit, and the torn one (never acknowledged:
// its fsync had not returned) is not served in part.
func TestTornLogTail(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Config{})
	ctx := context.Background()
	var ids []string
	for i := range 10 {
		ev := event("t", 3000)
		if _, err := s.Append(ctx, fmt.Sprintf("s-%d", i), eventstore.NoStream, ev, event("t", 3000)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID.String())
	}
	copyDir := crashCopy(t, dir)
	wal := filepath.Join(copyDir, dbFile+"-wal")
	info, err := os.Stat(wal)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(wal, info.Size()-1000); err != nil {
		t.Fatal(err)
	}
	got := allEvents(t, openStore(t, copyDir, Config{}))
	if len(got) != 18 {
		t.Fatalf("%d events after a torn last commit, want the 18 of the 9 whole commits", len(got))
	}
	for i := 0; i < 9; i++ {
		if got[2*i].ID.String() != ids[i] {
			t.Fatalf("commit %d: event %s, want %s", i, got[2*i].ID, ids[i])
		}
	}
}

// TestTruncatedDatabaseRefused cuts the main file short, by part of a page
// and by whole pages: Open refuses with ErrCorrupt and a message that says
// what is wrong and what to do, instead of serving a log with a hole.
func TestTruncatedDatabaseRefused(t *testing.T) {
	for name, cut := range map[string]int64{"part of a page": 1000, "whole pages": 8192} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, Config{})
			for i := range 200 {
				if _, err := s.Append(context.Background(), fmt.Sprintf("s-%d", i), eventstore.NoStream, event("t", 1000)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil { // checkpoints the log into the main file
				t.Fatal(err)
			}
			path := filepath.Join(dir, dbFile)
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, info.Size()-cut); err != nil {
				t.Fatal(err)
			}
			_, err = Open(dir, Config{Logger: quiet})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "restore") {
				t.Fatalf("Open of a truncated events.db: %v, want ErrCorrupt saying to restore", err)
			}
		})
	}
}
