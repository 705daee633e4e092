package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
)

// TestBackupWhileWritingAndRestore takes a backup while writers append, then
// restores it into a new directory: the restored log is exactly the original
// log up to the backup's head (a consistent snapshot, no half commit), the
// manifest counts it right, and a tampered or misplaced restore is refused.
func TestBackupWhileWritingAndRestore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				// Two events per append: a snapshot that split a commit would show.
				if _, err := s.Append(context.Background(), fmt.Sprintf("w%d-%d", w, i), eventstore.NoStream, event("t", 200), event("t", 200)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for len(allEvents(t, s)) < 2000 {
	}
	dest := filepath.Join(t.TempDir(), "backup")
	m, err := Backup(context.Background(), dir, dest)
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if m.Events < 2000 || m.Events%2 != 0 || uint64(m.Events) != m.Head {
		t.Fatalf("manifest %+v: want an even count of at least 2000 events ending at their own position", m)
	}

	restored := t.TempDir()
	if _, err := Restore(dest, restored); err != nil {
		t.Fatal(err)
	}
	original := allEvents(t, s)
	got := allEvents(t, openStore(t, restored, Config{}))
	if int64(len(got)) != m.Events {
		t.Fatalf("restored %d events, manifest says %d", len(got), m.Events)
	}
	for i := range got {
		if got[i].ID != original[i].ID || got[i].Position != original[i].Position || got[i].Stream != original[i].Stream {
			t.Fatalf("restored event %d = %s@%v, original %s@%v", i, got[i].ID, got[i].Position, original[i].ID, original[i].Position)
		}
	}

	if _, err := Restore(dest, restored); err == nil {
		t.Error("restore into a directory that holds a log succeeded")
	}
	if _, err := Backup(context.Background(), dir, dest); err == nil {
		t.Error("backup into a non-empty directory succeeded")
	}
	f, err := os.OpenFile(filepath.Join(dest, dbFile), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, m.Size/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Restore(dest, t.TempDir()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("restore of a changed backup: %v, want ErrCorrupt", err)
	}
}
