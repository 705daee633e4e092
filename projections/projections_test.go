package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// sameClaims checks that the claims read model holds, for every claim,
// exactly the state the ledger folds from the claim's stream.
func sameClaims(t *testing.T, w *world, r *Runner, claims []claimInfo) {
	t.Helper()
	ctx := context.Background()
	for _, c := range claims {
		got, err := r.Claim(ctx, c.id)
		if err != nil {
			t.Fatalf("claim %d: %v", c.i, err)
		}
		want, pos, err := w.ledger.Claim(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got.State)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Fatalf("claim %d:\n got %s\nwant %s", c.i, gj, wj)
		}
		if got.Position != pos || pos != c.position {
			t.Fatalf("claim %d: position %s, stream's last %s, written %s", c.i, got.Position, pos, c.position)
		}
	}
}

func TestClaimEqualsFoldOfStream(t *testing.T) {
	t.Run("caught up in batches", func(t *testing.T) {
		w := newWorld(t)
		claims := w.register(0, 21)
		r := startRunner(t, w.store, testConfig(t.TempDir()))
		waitFor(t, r, w.head())
		sameClaims(t, w, r, claims)
	})
	t.Run("live, one event at a time", func(t *testing.T) {
		w := newWorld(t)
		r := startRunner(t, w.store, testConfig(t.TempDir()))
		claims := w.register(0, 21)
		waitFor(t, r, w.head())
		sameClaims(t, w, r, claims)
		if _, err := r.Claim(context.Background(), uuid.New()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown claim: %v, want ErrNotFound", err)
		}
	})
}

// allClaimEvents reads every claim event of the store.
func allClaimEvents(t *testing.T, store eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var (
		out  []eventstore.RecordedEvent
		last eventstore.Position
	)
	for {
		recs, err := store.ReadAll(context.Background(), last, 1000, claimFilter)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
		last = recs[len(recs)-1].Position
	}
}

func counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestDeliveredTwiceLeavesReadModelsUnchanged(t *testing.T) {
	w := newWorld(t)
	w.register(0, 28)
	r := startRunner(t, w.store, testConfig(t.TempDir()))
	waitFor(t, r, w.head())
	want := snapshot(t, r)
	wantCheckpoints := checkpoints(t, r)
	events := allClaimEvents(t, w.store)

	t.Run("replayed after the fact", func(t *testing.T) {
		// Compared after half of them too: a model that re-applied old
		// events would show old rows until the replay caught up again.
		for _, part := range [][]eventstore.RecordedEvent{events[:len(events)/2], events[len(events)/2:]} {
			for _, p := range r.projections {
				for _, rec := range part {
					if err := p.handle(newMessage(rec)); err != nil {
						t.Fatal(err)
					}
				}
			}
			sameSnapshots(t, "after a second delivery", snapshot(t, r), want)
		}
		if got := checkpoints(t, r); got[Claims] != wantCheckpoints[Claims] || got[StatusPage] != wantCheckpoints[StatusPage] {
			t.Fatalf("checkpoints moved: %v, want %v", got, wantCheckpoints)
		}
	})

	t.Run("each event twice in a row", func(t *testing.T) {
		twice := newRunner(t, w.store, testConfig(t.TempDir()))
		for _, p := range twice.projections {
			for _, rec := range events {
				for range 2 {
					if err := p.handle(newMessage(rec)); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The second delivery is ignored at the checkpoint, before any
			// fold: the count of applied events is the count of events.
			if got := counter(t, twice.met.applied.WithLabelValues(p.name)); got != float64(len(events)) {
				t.Fatalf("%s applied %v events, want %d", p.name, got, len(events))
			}
		}
		sameSnapshots(t, "each event delivered twice", snapshot(t, twice), want)
	})

	t.Run("a batch overlapping the checkpoint", func(t *testing.T) {
		half := newRunner(t, w.store, testConfig(t.TempDir()))
		items := make([]item, len(events))
		for i, rec := range events {
			items[i] = decodeItem(rec)
		}
		for _, p := range half.projections {
			g := p.lockActive()
			if _, err := p.apply(context.Background(), g, items[:len(items)/2]); err != nil {
				t.Fatal(err)
			}
			n, err := p.apply(context.Background(), g, items)
			g.writeMu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if want := len(items) - len(items)/2; n != want {
				t.Fatalf("%s: applied %d of the overlapping batch, want %d", p.name, n, want)
			}
		}
		sameSnapshots(t, "overlapping batches", snapshot(t, half), want)
	})
}

func TestRebuildEqualsLive(t *testing.T) {
	var r *Runner
	w := newWorld(t)
	claims := w.register(0, 35)
	cfg := testConfig(t.TempDir())
	var inWindow atomic.Bool
	cfg.beforeSwitch = func(string) {
		// Events that the live model applies after the rebuild's bulk
		// catch-up and before its switch: the rebuilt tables must get them
		// too.
		if inWindow.Load() {
			w.register(200+int(w.clock.Load()%1000), 2)
			waitFor(t, r, w.head())
		}
	}
	r = startRunner(t, w.store, cfg)
	waitFor(t, r, w.head())
	ctx := context.Background()

	t.Run("while writes and reads go on", func(t *testing.T) {
		inWindow.Store(true)
		defer inWindow.Store(false)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Add(2)
		go func() { // the ledger keeps writing during the rebuild
			defer wg.Done()
			w.register(100, 14)
		}()
		readErr := make(chan error, 1)
		go func() { // and the live model keeps answering until the switch
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := r.Claim(ctx, claims[0].id); err != nil {
					readErr <- err
					return
				}
				if _, err := r.StatusLookup(ctx, claims[0].number, phone(claims[0].i)); err != nil {
					readErr <- err
					return
				}
			}
		}()
		for _, name := range r.Names() {
			if err := r.Rebuild(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
		close(stop)
		wg.Wait()
		select {
		case err := <-readErr:
			t.Fatalf("a query failed during the rebuild: %v", err)
		default:
		}
		waitFor(t, r, w.head())
		clean := startRunner(t, w.store, testConfig(t.TempDir()))
		waitFor(t, clean, w.head())
		sameSnapshots(t, "rebuilt during writes vs clean build", snapshot(t, r), snapshot(t, clean))
	})

	t.Run("row for row", func(t *testing.T) {
		live := snapshot(t, r)
		liveCheckpoints := checkpoints(t, r)
		gens := make(map[string]int64)
		for _, p := range r.projections {
			gens[p.name] = p.active.Load().number
		}
		for _, name := range r.Names() {
			if err := r.Rebuild(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		sameSnapshots(t, "rebuild vs live", snapshot(t, r), live)
		if got := checkpoints(t, r); got[Claims] != liveCheckpoints[Claims] {
			t.Fatalf("rebuilt checkpoint %v, live %v", got, liveCheckpoints)
		}
		for _, p := range r.projections {
			if g := p.active.Load().number; g != gens[p.name]+1 {
				t.Fatalf("%s: generation %d after rebuild, want %d", p.name, g, gens[p.name]+1)
			}
		}
		// The replaced tables are dropped, in the background.
		active := 0
		for _, p := range r.projections {
			active += len(p.model.tables(p.active.Load().number))
		}
		eventually(t, "the replaced tables to be dropped", func() bool {
			rows, err := r.db.r.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'generations' ORDER BY name`)
			if err != nil {
				t.Fatal(err)
			}
			return len(scanAll(t, rows)) == active
		})
	})

	t.Run("with a cache too small for the claims", func(t *testing.T) {
		// Claims are written back and evicted all the time, then reloaded
		// from their rows (claims) or refolded from the store (status).
		cfg := testConfig(t.TempDir())
		cfg.CacheSize, cfg.BatchSize, cfg.PageSize = 3, 4, 5
		small := startRunner(t, w.store, cfg)
		waitFor(t, small, w.head())
		sameSnapshots(t, "catch-up with a tiny cache vs live", snapshot(t, small), snapshot(t, r))
		if err := small.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		sameSnapshots(t, "rebuild with a tiny cache vs live", snapshot(t, small), snapshot(t, r))
	})

	t.Run("from a runner that was never started", func(t *testing.T) {
		offline := newRunner(t, w.store, testConfig(t.TempDir()))
		for _, name := range offline.Names() {
			if err := offline.Rebuild(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		sameSnapshots(t, "offline rebuild vs live", snapshot(t, offline), snapshot(t, r))
	})

	if err := r.Rebuild(ctx, "nope"); !errors.Is(err, ErrUnknownProjection) {
		t.Fatalf("Rebuild(nope): %v", err)
	}
}

// eventually polls cond for up to 10 s: for states reached by background
// goroutines (retries with backoff) that have no event to wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoisonEventStopsProjection(t *testing.T) {
	for _, live := range []bool{false, true} {
		name := "during catch-up"
		if live {
			name = "live"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			cfg := testConfig(t.TempDir())
			cfg.RetryMax = 2
			var r *Runner
			if live {
				r = startRunner(t, w.store, cfg)
			}
			before := w.register(0, 7)
			good := w.head()
			// An event on a claim stream that this binary cannot decode: a
			// type from a newer version, say.
			poison := eventstore.EventData{ID: uuid.New(), Type: "claim.teleported.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)}
			res, err := w.store.Append(ctx, eventlog.Claims.Stream(before[0].id), eventstore.Any, poison)
			if err != nil {
				t.Fatal(err)
			}
			after := w.register(7, 3)
			if !live {
				r = startRunner(t, w.store, cfg)
			}

			eventually(t, "both projections to fail", func() bool {
				for _, h := range r.Health() {
					if h.State != StateFailed {
						return false
					}
				}
				return true
			})
			for _, h := range r.Health() {
				if h.EventID != poison.ID.String() || h.Position != res.Position || !strings.Contains(h.Reason, "teleported") {
					t.Fatalf("%s health: %+v, want failed at %s", h.Name, h, poison.ID)
				}
			}
			// It stopped right before the event: nothing skipped, nothing after.
			for name, cp := range checkpoints(t, r) {
				if cp != good {
					t.Fatalf("%s checkpoint %s, want %s (the event before the poison)", name, cp, good)
				}
			}
			time.Sleep(50 * time.Millisecond) // nothing moves on
			for name, cp := range checkpoints(t, r) {
				if cp != good {
					t.Fatalf("%s moved on to %s", name, cp)
				}
			}
			sameClaims(t, w, r, before[1:])
			if _, err := r.Claim(ctx, after[0].id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a claim after the poison event is visible: %v", err)
			}
			start := time.Now()
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := r.WaitFor(wctx, res.Position); !errors.Is(err, ErrProjectionFailed) || time.Since(start) > time.Second {
				t.Fatalf("WaitFor past the poison: %v after %s, want ErrProjectionFailed at once", err, time.Since(start))
			}
			if err := r.Ready(); !errors.Is(err, ErrProjectionFailed) || !strings.Contains(err.Error(), poison.ID.String()) {
				t.Fatalf("Ready: %v", err)
			}
			for _, p := range r.projections {
				if got := counter(t, r.met.failed.WithLabelValues(p.name)); got != 1 {
					t.Fatalf("%s failed gauge %v", p.name, got)
				}
				if got := counter(t, r.met.errors.WithLabelValues(p.name)); got < float64(cfg.RetryMax+1) {
					t.Fatalf("%s handler errors %v, want at least %d", p.name, got, cfg.RetryMax+1)
				}
			}
			// A rebuild meets the same event and says which.
			err = r.Rebuild(ctx, Claims)
			var ee *EventError
			if !errors.As(err, &ee) || ee.EventID != poison.ID.String() {
				t.Fatalf("Rebuild: %v, want an EventError for %s", err, poison.ID)
			}
			if h := r.Health()[0]; h.State != StateFailed {
				t.Fatalf("after a failed rebuild: %+v", h)
			}
		})
	}
}

// flakyStore fails stream reads while broken is set: the status model
// reads streams when a claim is not in its cache.
type flakyStore struct {
	eventstore.Store
	mu     sync.Mutex
	broken bool
}

func (f *flakyStore) ReadStream(ctx context.Context, stream string, d eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken {
		return nil, errors.New("disk on fire")
	}
	return f.Store.ReadStream(ctx, stream, d, from, max)
}

func (f *flakyStore) set(broken bool) {
	f.mu.Lock()
	f.broken = broken
	f.mu.Unlock()
}

func TestRebuildResumesAFailedProjection(t *testing.T) {
	w := newWorld(t)
	store := &flakyStore{Store: w.store}
	cfg := testConfig(t.TempDir())
	cfg.RetryMax = 1
	cfg.CacheSize = 1 // every other claim misses the cache and reads its stream
	r := startRunner(t, store, cfg)
	earlier := w.register(0, 3)
	waitFor(t, r, w.head())
	store.set(true)
	claims := w.register(3, 4)
	// A note on each earlier claim: at most one of them is cached, so the
	// others' streams must be read, whatever batches the events came in.
	for _, c := range earlier {
		if _, err := w.ledger.Execute(context.Background(), c.id, &domain.AddNote{Text: "called back"}, req); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the status projection to fail", func() bool { return r.Health()[1].State == StateFailed })
	if h := r.Health()[0]; h.State != StateRunning {
		t.Fatalf("claims projection: %+v; it does not read streams and should run on", h)
	}
	store.set(false)
	// Every model that refolds streams on a cache miss failed with it.
	var failed []string
	for _, h := range r.Health() {
		if h.State == StateFailed {
			failed = append(failed, h.Name)
		}
	}
	if err := r.Rebuild(context.Background(), failed...); err != nil {
		t.Fatal(err)
	}
	more := w.register(7, 2)
	waitFor(t, r, w.head())
	for _, c := range append(claims, more...) {
		if _, err := r.StatusLookup(context.Background(), c.number, phone(c.i)); err != nil {
			t.Fatalf("claim %d after recovery: %v", c.i, err)
		}
	}
	if err := r.Ready(); err != nil {
		t.Fatalf("Ready after recovery: %v", err)
	}
}

func TestWaitFor(t *testing.T) {
	w := newWorld(t)
	r := startRunner(t, w.store, testConfig(t.TempDir()))
	ctx := context.Background()

	t.Run("returns as soon as the position is visible", func(t *testing.T) {
		for range 20 {
			c := w.register(0, 1)[0]
			start := time.Now()
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := r.WaitFor(wctx, c.position)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("WaitFor took %s", d)
			}
			if _, err := r.Claim(ctx, c.id); err != nil {
				t.Fatalf("visible position, claim not found: %v", err)
			}
		}
	})

	t.Run("wakes when the event arrives", func(t *testing.T) {
		head := w.head()
		next := eventstore.Position{Commit: head.Commit + 1, Prepare: head.Commit + 1}
		done := make(chan error, 1)
		go func() {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			done <- r.WaitFor(wctx, next)
		}()
		select {
		case err := <-done:
			t.Fatalf("WaitFor returned before the event existed: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		w.register(1, 1)
		appended := time.Now()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(appended); d > time.Second {
			t.Fatalf("WaitFor woke %s after the append", d)
		}
	})

	t.Run("times out on an event the projections have not passed", func(t *testing.T) {
		// An event of another stream: the projections pass its position
		// only when a claim event follows.
		other, err := w.store.Append(ctx, "other-1", eventstore.Any,
			eventstore.EventData{ID: uuid.New(), Type: "other.noted.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = r.WaitFor(wctx, other.Position)
		if !errors.Is(err, ErrNotVisible) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitFor an event not passed yet: %v", err)
		}
		if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
			t.Fatalf("WaitFor gave up after %s, want the context's 50ms", d)
		}
		w.register(2, 1)
		wctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := r.WaitFor(wctx, other.Position); err != nil {
			t.Fatalf("WaitFor once a claim event followed: %v", err)
		}
	})

	t.Run("a position past the end of the log fails as such", func(t *testing.T) {
		beyond := w.head()
		beyond.Commit += 1000
		beyond.Prepare += 1000
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := r.WaitFor(wctx, beyond)
		if !errors.Is(err, ErrPastEndOfLog) || errors.Is(err, ErrNotVisible) {
			t.Fatalf("WaitFor beyond the head: %v", err)
		}
		if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
			t.Fatalf("WaitFor gave up after %s, want the context's 50ms", d)
		}
	})

	t.Run("one projection by name", func(t *testing.T) {
		if err := r.WaitFor(ctx, eventstore.Start, StatusPage); err != nil {
			t.Fatal(err)
		}
		if err := r.WaitFor(ctx, eventstore.Start, "nope"); !errors.Is(err, ErrUnknownProjection) {
			t.Fatalf("unknown projection: %v", err)
		}
	})
}

func TestStatus(t *testing.T) {
	w := newWorld(t)
	w.register(0, 7)
	r := newRunner(t, w.store, testConfig(t.TempDir()))
	ctx := context.Background()
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events := len(allClaimEvents(t, w.store))
	for _, s := range st {
		if s.State != StateStopped || s.LagEvents != events || s.LagSeconds <= 0 || s.Head != w.head() || s.Checkpoint != eventstore.Start {
			t.Fatalf("before start: %+v, want %d events of lag", s, events)
		}
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, w.head())
	// Visible already during catch-up; running once live delivery starts.
	eventually(t, "live delivery", func() bool {
		for _, h := range r.Health() {
			if h.State != StateRunning {
				return false
			}
		}
		return true
	})
	st, err = r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != StateRunning || s.LagEvents != 0 || s.LagSeconds != 0 || s.Checkpoint != w.head() {
			t.Fatalf("caught up: %+v", s)
		}
		if got := counter(t, r.met.position.WithLabelValues(s.Name)); got != float64(w.head().Commit) {
			t.Fatalf("%s position gauge %v, want %d", s.Name, got, w.head().Commit)
		}
	}
}

// TestRebuildEnlargesThePageCacheWhileItRuns checks that the writer's page
// cache (memory outside the Go heap) is the rebuild's size only while a
// rebuild runs, and the live size before and after.
func TestRebuildEnlargesThePageCacheWhileItRuns(t *testing.T) {
	w := newWorld(t)
	cfg := testConfig(t.TempDir())
	var r *Runner
	cacheKiB := func() int {
		var pages int
		if err := r.db.w.QueryRow(`PRAGMA cache_size`).Scan(&pages); err != nil {
			t.Fatal(err)
		}
		return -pages // negative: KiB
	}
	var during []int
	cfg.beforeSwitch = func(string) { during = append(during, cacheKiB()) }
	r = startRunner(t, w.store, cfg)
	w.register(0, 2)
	waitFor(t, r, w.head())
	if got := cacheKiB(); got != liveCacheKiB {
		t.Fatalf("before the rebuild: %d KiB, want %d", got, liveCacheKiB)
	}
	if err := r.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(during) == 0 {
		t.Fatal("the hook never ran")
	}
	for _, kib := range during {
		if kib != rebuildCacheKiB {
			t.Errorf("during the rebuild: %d KiB, want %d", kib, rebuildCacheKiB)
		}
	}
	if got := cacheKiB(); got != liveCacheKiB {
		t.Errorf("after the rebuild: %d KiB, want %d", got, liveCacheKiB)
	}
}

// TestWALStaysBoundedUnderSustainedWrites catches up, then rebuilds, a log
// with no background checkpoints at all: the writer is never idle long
// enough for them to let SQLite start the WAL over, which is what a long
// catch-up or a steady high rate look like. The writer's own checkpoints
// must keep the WAL near Config.walLimit.
func TestWALStaysBoundedUnderSustainedWrites(t *testing.T) {
	w := newWorld(t)
	fill(t, w.store, 0, 600)
	cfg := testConfig(t.TempDir())
	cfg.CheckpointInterval = time.Hour
	cfg.BatchSize = 32
	cfg.walLimit = 1 << 20
	// Unbounded, this log leaves a WAL of about 12 MiB after the catch-up
	// and 28 MiB after the rebuild; bounded, 1.5 to 3.4 MiB. The bound
	// allows for the transaction that crosses the limit, which in a
	// rebuild holds thousands of rows.
	const bound = 5 << 20
	checkWAL := func(after string) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(cfg.Dir, dbFile+"-wal"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > bound {
			t.Errorf("after the %s the WAL is %d bytes, want at most %d", after, fi.Size(), bound)
		}
	}
	r := startRunner(t, w.store, cfg)
	waitFor(t, r, w.head())
	checkWAL("catch-up")
	if err := r.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkWAL("rebuild")
}

// TestRebuildDropsTheOldTablesWithoutHoldingUpLiveDelivery rebuilds every
// read model of a running Runner. The replaced tables are emptied in the
// background a few rows per transaction: between two of them, an event
// appended then must become visible, and in the end no table of a replaced
// generation is left.
func TestRebuildDropsTheOldTablesWithoutHoldingUpLiveDelivery(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cfg := testConfig(t.TempDir())
	cfg.dropChunk = 7
	var (
		r       *Runner
		mu      sync.Mutex // guards what the drops' hook records
		chunks  = map[string]int{}
		liveErr error
		next    = 30
	)
	cfg.dropHook = func(name string) {
		mu.Lock()
		defer mu.Unlock()
		if chunks[name]++; chunks[name] != 2 {
			return
		}
		// Mid-drop: a new claim, and every read model showing it.
		c := w.register(next, 1)
		next++
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := r.WaitFor(wctx, c[0].position); err != nil && liveErr == nil {
			liveErr = fmt.Errorf("while %s's old tables were emptied: %w", name, err)
		}
	}
	r = startRunner(t, w.store, cfg)
	claims := w.register(0, 30)
	waitFor(t, r, w.head())
	if err := r.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	left := func() (tables []string) {
		for _, p := range r.projections {
			for _, table := range p.model.tables(p.active.Load().number - 1) {
				var n int
				if err := r.db.w.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = ?`, table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					tables = append(tables, table)
				}
			}
		}
		return tables
	}
	eventually(t, "the replaced tables to be dropped", func() bool { return len(left()) == 0 })
	mu.Lock()
	defer mu.Unlock()
	if liveErr != nil {
		t.Fatal(liveErr)
	}
	for _, name := range r.Names() {
		if chunks[name] < 2 {
			t.Errorf("%s's old tables were emptied in %d transactions, want several", name, chunks[name])
		}
	}
	for _, p := range r.projections { // dropped with the tables
		rows, err := r.db.generations(ctx, p.name)
		if err != nil || len(rows) != 1 || rows[0].number != p.active.Load().number {
			t.Errorf("%s generations %+v (%v), want the active one only", p.name, rows, err)
		}
	}
	sameClaims(t, w, r, claims)
}

// TestCloseStopsTheDropOfReplacedTables closes the Runner while a rebuild's
// replaced tables are being emptied: Close must not wait for the whole
// drop, and the next start drops what is left.
func TestCloseStopsTheDropOfReplacedTables(t *testing.T) {
	w := newWorld(t)
	cfg := testConfig(t.TempDir())
	cfg.dropChunk = 1
	inDrop := make(chan struct{})
	var once sync.Once
	cfg.dropHook = func(string) {
		once.Do(func() { close(inDrop) })
		time.Sleep(time.Millisecond) // a drop that would take seconds
	}
	r := startRunner(t, w.store, cfg)
	claims := w.register(0, 20)
	waitFor(t, r, w.head())
	if err := r.Rebuild(context.Background(), AuditTrail); err != nil {
		t.Fatal(err)
	}
	<-inDrop
	replaced := r.byName[AuditTrail].active.Load().number - 1
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.dropHook = nil
	droppedAtNextStart(t, w, cfg, replaced, claims, "the drop was not under way at Close: this test shows nothing")
}

// TestStartRebuildRunsInTheBackground starts a rebuild that is held just
// before its switch: StartRebuild must have returned by then, a second one
// must be refused, and the outcome must show in Health, a failure included.
func TestStartRebuildRunsInTheBackground(t *testing.T) {
	w := newWorld(t)
	cfg := testConfig(t.TempDir())
	hold := make(chan struct{})
	cfg.beforeSwitch = func(string) { <-hold }
	r := startRunner(t, w.store, cfg)
	claims := w.register(0, 5)
	waitFor(t, r, w.head())
	health := func() Health {
		for _, h := range r.Health() {
			if h.Name == Claims {
				return h
			}
		}
		t.Fatal("no claims projection")
		return Health{}
	}

	started := make(chan error, 1)
	go func() { started <- r.StartRebuild(Claims) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(hold)
		t.Fatal("StartRebuild waited for the rebuild")
	}
	if !health().Rebuilding {
		t.Error("not shown as rebuilding")
	}
	if err := r.StartRebuild(Claims); !errors.Is(err, ErrRebuildInProgress) {
		t.Errorf("a second rebuild: %v, want ErrRebuildInProgress", err)
	}
	if err := r.StartRebuild("nope"); !errors.Is(err, ErrUnknownProjection) {
		t.Errorf("an unknown projection: %v", err)
	}
	close(hold)
	eventually(t, "the rebuild to switch", func() bool {
		h := health()
		return !h.Rebuilding && r.byName[Claims].active.Load().number == 2
	})
	if h := health(); h.RebuildError != "" {
		t.Fatalf("after a rebuild that succeeded: %+v", h)
	}
	sameClaims(t, w, r, claims)

	// One that fails: an event this binary cannot decode.
	poison := eventstore.EventData{ID: uuid.New(), Type: "claim.teleported.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)}
	if _, err := w.store.Append(context.Background(), eventlog.Claims.Stream(claims[0].id), eventstore.Any, poison); err != nil {
		t.Fatal(err)
	}
	if err := r.StartRebuild(Claims); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rebuild to fail", func() bool { return health().RebuildError != "" })
	if h := health(); !strings.Contains(h.RebuildError, poison.ID.String()) || h.Rebuilding {
		t.Fatalf("after a failed rebuild: %+v", h)
	}
}

// TestCloseStopsTheDropOfAnAbandonedRebuild closes the Runner while a
// rebuild is about to switch: the rebuild is abandoned, and Close must not
// wait while its tables are emptied row by row; the next start drops them.
func TestCloseStopsTheDropOfAnAbandonedRebuild(t *testing.T) {
	w := newWorld(t)
	cfg := testConfig(t.TempDir())
	cfg.dropChunk = 1
	var r *Runner
	atSwitch := make(chan struct{})
	cfg.beforeSwitch = func(string) {
		close(atSwitch)
		<-r.life.Done() // Close has begun: the switch's catch-up fails
	}
	r = startRunner(t, w.store, cfg)
	claims := w.register(0, 20)
	waitFor(t, r, w.head())
	if err := r.StartRebuild(AuditTrail); err != nil {
		t.Fatal(err)
	}
	<-atSwitch
	abandoned := r.byName[AuditTrail].active.Load().number + 1
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.beforeSwitch = nil
	droppedAtNextStart(t, w, cfg, abandoned, claims, fmt.Sprintf("generation %d of the audit trail was dropped before Close returned", abandoned))
}

// droppedAtNextStart checks, after a Runner on cfg closed, that generation
// number of the audit trail is still in the file (it fails with the message
// early otherwise), that a Runner started again drops it, and that the new
// Runner serves the claims.
func droppedAtNextStart(t *testing.T, w *world, cfg Config, number int64, claims []claimInfo, early string) {
	t.Helper()
	count := func(db *sql.DB) (n int) {
		t.Helper()
		if err := db.QueryRow(`SELECT count(*) FROM generations WHERE projection = ? AND generation = ?`, AuditTrail, number).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	file, err := sql.Open("sqlite", filepath.Join(cfg.Dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if count(file) != 1 {
		t.Fatal(early)
	}
	again := startRunner(t, w.store, cfg)
	if count(again.db.w) != 0 {
		t.Fatalf("after a restart, generation %d of the audit trail is still there", number)
	}
	sameClaims(t, w, again, claims)
}

// TestAFailedWriteStopsOnlyItsProjection makes the audit trail's inserts
// fail once its table holds two more rows. The audit trail must stop at the
// event it could not write, with none of that batch's rows left behind,
// while the other projections go on to the head with every row.
// (TestCommitterTakesOutAFailingPart covers the parts of one transaction.)
func TestAFailedWriteStopsOnlyItsProjection(t *testing.T) {
	w := newWorld(t)
	cfg := testConfig(t.TempDir())
	cfg.RetryMax = 1
	r := startRunner(t, w.store, cfg)
	before := w.register(0, 3)
	waitFor(t, r, w.head())
	good := checkpoints(t, r)[AuditTrail]

	table := auditTrailTable(r.byName[AuditTrail].active.Load().number)
	var rows int
	if err := r.db.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	file, err := sql.Open("sqlite", filepath.Join(cfg.Dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.Exec(`CREATE TRIGGER broken BEFORE INSERT ON ` + table +
		` WHEN (SELECT count(*) FROM ` + table + `) >= ` + strconv.Itoa(rows+2) +
		` BEGIN SELECT RAISE(FAIL, 'disk on fire'); END`); err != nil {
		t.Fatal(err)
	}
	after := w.register(3, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, w.head(), Claims, StatusPage, Compensations, Timers); err != nil {
		t.Fatalf("the other projections did not reach the head: %v", err)
	}
	eventually(t, "the audit trail to fail", func() bool { return r.byName[AuditTrail].currentHealth().State == StateFailed })

	// The audit trail took exactly the two events it could write.
	var written []eventstore.RecordedEvent
	for _, rec := range allClaimEvents(t, w.store) {
		if rec.Position.Compare(good) > 0 {
			written = append(written, rec)
		}
	}
	h := r.byName[AuditTrail].currentHealth()
	if h.EventID != written[2].ID.String() || !strings.Contains(h.Reason, "disk on fire") {
		t.Fatalf("audit trail health %+v, want failed at event %s", h, written[2].ID)
	}
	if cp := checkpoints(t, r)[AuditTrail]; cp != written[1].Position {
		t.Fatalf("audit trail checkpoint %s, want %s", cp, written[1].Position)
	}
	var now int
	if err := r.db.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&now); err != nil {
		t.Fatal(err)
	}
	if now != rows+2 {
		t.Fatalf("audit trail has %d rows, want %d: a failed batch left rows behind", now, rows+2)
	}
	sameClaims(t, w, r, append(before, after...))
	for _, c := range after {
		if _, err := r.StatusLookup(context.Background(), c.number, phone(c.i)); err != nil {
			t.Fatalf("status of claim %d: %v", c.i, err)
		}
	}
}
