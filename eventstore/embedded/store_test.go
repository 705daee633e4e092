package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openStore(t testing.TB, dir string, cfg Config) *Store {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func event(typ string, size int) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(strings.Repeat("x", size))}
}

// holdWriter makes the writer stop, once it has taken the first append of
// its next batch, until release is called, so a test can line appends up in
// the queue behind that one; all of them then form a single batch.
func holdWriter(s *Store) (held <-chan struct{}, release func()) {
	h := make(chan struct{})
	r := make(chan struct{})
	var once sync.Once
	s.beforeBatch = func() {
		once.Do(func() {
			close(h)
			<-r
		})
	}
	return h, sync.OnceFunc(func() { close(r) })
}

// startAppend runs an append in a goroutine.
func startAppend(s *Store, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) <-chan appendResponse {
	done := make(chan appendResponse, 1)
	go func() {
		res, err := s.Append(context.Background(), stream, expected, events...)
		done <- appendResponse{res, err}
	}()
	return done
}

// queueAppend starts an append in a goroutine and waits until it stands in
// the writer's queue, so appends queue in the order they are started.
func queueAppend(t *testing.T, s *Store, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) <-chan appendResponse {
	t.Helper()
	before := len(s.queue)
	done := startAppend(s, stream, expected, events...)
	for deadline := time.Now().Add(5 * time.Second); len(s.queue) == before; {
		if time.Now().After(deadline) {
			t.Fatal("append did not reach the queue")
		}
		time.Sleep(100 * time.Microsecond)
	}
	return done
}

func TestConfigValidate(t *testing.T) {
	var c Config
	c.setDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	c.MaxBatchSize, c.PageSize, c.BusyTimeout = -1, -5, time.Microsecond
	err := c.Validate()
	for _, field := range []string{"MaxBatchSize", "PageSize", "BusyTimeout"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want it to name %s", err, field)
		}
	}
	if _, err := Open(t.TempDir(), Config{QueueSize: -1}); err == nil {
		t.Fatal("Open accepted QueueSize -1")
	}
}

// TestWriterIsDurableByConfiguration checks the settings durability rests
// on. That each commit is fsynced before Append returns cannot be seen from
// a test; synchronous=FULL in WAL mode is SQLite's promise of it. (Checked by
// hand: strace -c -e fsync on BenchmarkAppend/writers=1 counts one fsync per
// commit.)
func TestWriterIsDurableByConfiguration(t *testing.T) {
	s := openStore(t, t.TempDir(), Config{})
	ctx := context.Background()
	var mode string
	var syncMode int
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || syncMode != 2 {
		t.Fatalf("writer runs journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, syncMode)
	}
	// Readers cannot write, whatever a bug in a read path tries.
	if _, err := s.rdb.ExecContext(ctx, "DELETE FROM events"); err == nil {
		t.Fatal("a read connection deleted events")
	}
}

func TestLockRefusesSecondOpen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Config{})
	if _, err := Open(dir, Config{Logger: quiet}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of a locked dir: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openStore(t, dir, Config{}) // the lock went with the first store
}

func TestOversizeEventIsInvalid(t *testing.T) {
	s := openStore(t, t.TempDir(), Config{MaxEventSize: 1000})
	ctx := context.Background()
	if _, err := s.Append(ctx, "s", eventstore.Any, event("t", 1000)); !errors.Is(err, eventstore.ErrInvalidAppend) {
		t.Fatalf("event of 1001 bytes with a 1000-byte limit: %v, want ErrInvalidAppend", err)
	}
	if _, err := s.Append(ctx, "s", eventstore.Any, event("t", 999)); err != nil {
		t.Fatalf("event of exactly the limit: %v", err)
	}
}

func TestSchemaVersionFromTheFutureIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Config{})
	if _, err := s.wconn.ExecContext(context.Background(), "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir, Config{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a schema-99 file: %v, want a refusal", err)
	}
}

// TestGroupCommit checks that appends waiting together share one commit.
func TestGroupCommit(t *testing.T) {
	const waiting = 50
	s := openStore(t, t.TempDir(), Config{})
	held, release := holdWriter(s)
	defer release()
	first := startAppend(s, "first", eventstore.NoStream, event("t", 10))
	<-held
	var dones []<-chan appendResponse
	for i := range waiting {
		dones = append(dones, queueAppend(t, s, fmt.Sprintf("s-%d", i), eventstore.NoStream, event("t", 10)))
	}
	release()
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	positions := make(map[uint64]bool)
	for _, d := range dones {
		r := <-d
		if r.err != nil {
			t.Fatal(r.err)
		}
		positions[r.res.Position.Commit] = true
	}
	if got := s.commits.Load(); got != 1 {
		t.Fatalf("%d commits for 1 + %d waiting appends, want 1", got, waiting)
	}
	for p := uint64(2); p <= waiting+1; p++ {
		if !positions[p] {
			t.Fatalf("position %d not handed out; got %v", p, positions)
		}
	}
}

// TestBatchDecidesEachAppend checks that inside one batch each append is
// judged against the stream as the earlier appends of the batch left it, and
// that a failed expectation fails only its own append.
func TestBatchDecidesEachAppend(t *testing.T) {
	s := openStore(t, t.TempDir(), Config{})
	held, release := holdWriter(s)
	defer release()
	first := startAppend(s, "blocker", eventstore.NoStream, event("t", 1))
	<-held

	a := event("a", 1)
	created := queueAppend(t, s, "s1", eventstore.NoStream, a)
	conflict := queueAppend(t, s, "s1", eventstore.NoStream, event("b", 1))
	next := queueAppend(t, s, "s1", eventstore.Exact(0), event("c", 1))
	retry := queueAppend(t, s, "s1", eventstore.NoStream, a)
	stale := queueAppend(t, s, "s1", eventstore.Exact(0), event("d", 1))
	other := queueAppend(t, s, "s2", eventstore.Any, event("e", 1))
	release()
	<-first

	want := func(name string, d <-chan appendResponse, rev, pos uint64) {
		t.Helper()
		r := <-d
		if r.err != nil {
			t.Fatalf("%s: %v", name, r.err)
		}
		if r.res.NextExpectedRevision != rev || r.res.Position.Commit != pos {
			t.Fatalf("%s: %+v, want revision %d at position %d", name, r.res, rev, pos)
		}
	}
	wantConflict := func(name string, d <-chan appendResponse, actual uint64) {
		t.Helper()
		r := <-d
		var wer *eventstore.WrongExpectedRevisionError
		if !errors.As(r.err, &wer) || !wer.ActualExists || wer.Actual != actual {
			t.Fatalf("%s: %v, want a wrong expected revision with actual %d", name, r.err, actual)
		}
	}
	want("created", created, 0, 2)
	wantConflict("conflict", conflict, 0)
	want("next", next, 1, 3)
	want("retry", retry, 0, 2)
	wantConflict("stale", stale, 1)
	want("other", other, 0, 4)
	if got := s.commits.Load(); got != 1 {
		t.Fatalf("%d commits, want 1: the whole batch", got)
	}
}

// TestDiskFullRollsBackBatch fills the "disk" (a page limit on the file:
// SQLite then fails with SQLITE_FULL as on a full device) under a batch.
// Every append of the batch fails with ErrUnavailable, nothing of it becomes
// visible, and once space returns the positions carry on without a gap.
func TestDiskFullRollsBackBatch(t *testing.T) {
	s := openStore(t, t.TempDir(), Config{})
	ctx := context.Background()
	if _, err := s.Append(ctx, "before", eventstore.NoStream, event("t", 10)); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setLimit := func(n int) {
		if _, err := s.wconn.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", n)); err != nil {
			t.Fatal(err)
		}
	}
	setLimit(pages)

	held, release := holdWriter(s)
	defer release()
	// The two small appends fit in the file's free space; the big one does
	// not, and its failure must undo theirs.
	blocker := startAppend(s, "blocker", eventstore.NoStream, event("t", 10))
	<-held
	small := queueAppend(t, s, "small", eventstore.NoStream, event("t", 10))
	big := queueAppend(t, s, "big", eventstore.NoStream, event("t", 500_000))
	release()
	for name, d := range map[string]<-chan appendResponse{"blocker": blocker, "small": small, "big": big} {
		if r := <-d; !errors.Is(r.err, eventstore.ErrUnavailable) {
			t.Fatalf("%s on a full disk: %+v, want ErrUnavailable", name, r)
		}
	}
	for _, stream := range []string{"blocker", "small", "big"} {
		if _, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("stream %s after a failed batch: %v, want ErrStreamNotFound", stream, err)
		}
	}

	// The writer forgot the rolled-back state: the streams are new again.
	setLimit(1 << 30)
	for i, stream := range []string{"small", "blocker"} {
		res, err := s.Append(ctx, stream, eventstore.NoStream, event("t", 10))
		if err != nil {
			t.Fatalf("append to %s after space returned: %v", stream, err)
		}
		if want := uint64(2 + i); res.Position.Commit != want || res.NextExpectedRevision != 0 {
			t.Fatalf("append to %s after the failed batch: %+v, want revision 0 at position %d", stream, res, want)
		}
	}
}

// TestCloseCommitsQueuedAppends checks that Close lets the writer finish
// what was queued before it, and that later appends fail with ErrClosed.
func TestCloseCommitsQueuedAppends(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Config{})
	held, release := holdWriter(s)
	defer release()
	first := startAppend(s, "first", eventstore.NoStream, event("t", 1))
	<-held
	var queued []<-chan appendResponse
	for i := range 5 {
		queued = append(queued, queueAppend(t, s, fmt.Sprintf("q-%d", i), eventstore.NoStream, event("t", 1)))
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	for !s.isClosed() {
		time.Sleep(100 * time.Microsecond)
	}
	if _, err := s.Append(context.Background(), "late", eventstore.Any, event("t", 1)); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append after Close began: %v, want ErrClosed", err)
	}
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, d := range append(queued, first) {
		if r := <-d; r.err != nil {
			t.Fatalf("append queued before Close: %v", r.err)
		}
	}
	s = openStore(t, dir, Config{})
	all, err := s.ReadAll(context.Background(), eventstore.Start, 0, eventstore.Filter{})
	if err != nil || len(all) != 6 {
		t.Fatalf("after reopen: %d events, %v; want 6", len(all), err)
	}
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// TestSlowSubscriberDoesNotBlockWriter appends far more than a subscription
// buffers while nobody reads it: appends must not wait for the reader, and
// the reader later gets everything, in order.
func TestSlowSubscriberDoesNotBlockWriter(t *testing.T) {
	const n = 500
	s := openStore(t, t.TempDir(), Config{SubscriptionBuffer: 1, PageSize: 16})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := s.SubscribeAll(ctx, eventstore.Start, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for range n / 10 {
				if _, err := s.Append(ctx, fmt.Sprintf("s-%d", w), eventstore.Any, event("t", 10)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait() // would time out if the writer waited for the subscriber
	for want := uint64(1); want <= n; want++ {
		select {
		case ev := <-sub.Events():
			if ev.Position.Commit != want {
				t.Fatalf("event at position %d, want %d", ev.Position.Commit, want)
			}
		case <-ctx.Done():
			t.Fatalf("received %d of %d events", want-1, n)
		}
	}
}

// crashDirEnv tells the test binary to act as the crashing writer.
const crashDirEnv = "EMBEDDED_CRASH_HELPER_DIR"

// TestCrashKeepsAcknowledged runs a writer in a child process, kills it with
// SIGKILL mid-stream (no Close, no drain) and reopens the directory: every
// append the child acknowledged is there, the $all sequence has no holes,
// and the dead process's lock does not block the reopen. Without cutting
// power this cannot show that the fsync happened; synchronous=FULL is what
// guarantees that part.
func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process; skipped in -short mode")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		stream string
		id     uuid.UUID
		rev    uint64
		pos    uint64
	}
	var acks []ack
	lines := bufio.NewScanner(out)
	for len(acks) < 300 && lines.Scan() {
		var a ack
		var id string
		if _, err := fmt.Sscanf(lines.Text(), "ack %s %s %d %d", &a.stream, &id, &a.rev, &a.pos); err != nil {
			continue // test framework output
		}
		a.id = uuid.MustParse(id)
		acks = append(acks, a)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acks) < 300 {
		t.Fatalf("child acknowledged only %d appends before it stopped", len(acks))
	}

	s := openStore(t, dir, Config{})
	ctx := context.Background()
	byPos := make(map[uint64]eventstore.RecordedEvent)
	for after := eventstore.Start; ; {
		page, err := s.ReadAll(ctx, after, 1000, eventstore.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if ev.Position.Commit != uint64(len(byPos))+1 {
				t.Fatalf("hole in $all: position %d after %d events", ev.Position.Commit, len(byPos))
			}
			byPos[ev.Position.Commit] = ev
		}
		after = page[len(page)-1].Position
	}
	for _, a := range acks {
		ev, ok := byPos[a.pos]
		if !ok || ev.ID != a.id || ev.Stream != a.stream || ev.Revision != a.rev {
			t.Fatalf("acknowledged %+v lost or changed after the crash (found %+v)", a, ev)
		}
	}
	t.Logf("%d acknowledged appends survived; %d events stored", len(acks), len(byPos))
}

// TestCrashHelper is the child of TestCrashKeepsAcknowledged: it appends
// until killed, printing each acknowledgement.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashKeepsAcknowledged; runs only as its child")
	}
	s, err := Open(dir, Config{Logger: quiet})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	for i := range 4 {
		go func() {
			stream := fmt.Sprintf("crash-%d", i)
			for {
				ev := event("t", 100)
				res, err := s.Append(context.Background(), stream, eventstore.Any, ev)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %s %s %d %d\n", stream, ev.ID, res.NextExpectedRevision, res.Position.Commit)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	select {} // until killed
}
