package projections

import (
	"container/heap"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/storage"
)

// generation is one set of a projection's tables with its checkpoint.
type generation struct {
	number int64
	tables tableSet

	// writeMu serialises writes to the generation: live events, catch-up
	// batches and the final step of a rebuild, which holds the old
	// generation's lock to pause live delivery while it switches.
	writeMu    sync.Mutex
	checkpoint eventstore.Position // as committed; guarded by writeMu
	superseded bool                // a rebuilt generation took over; guarded by writeMu

	// readMu is held for reading by every query on the generation; retiring
	// it takes it for writing, so its tables are dropped only once no query
	// uses them and no new query can start on them.
	readMu  sync.RWMutex
	retired bool // guarded by readMu
}

// projection runs one model: it owns the active generation, its checkpoint
// watermark and its health.
type projection struct {
	model model
	name  string
	db    *database
	store eventstore.Store
	cfg   Config
	log   *slog.Logger
	met   *metrics

	position prometheus.Gauge   // met.position of this projection
	applied  prometheus.Counter // met.applied of this projection

	writeCheckpoint *sql.Stmt
	committer       *committer

	active atomic.Pointer[generation]
	mark   watermark

	healthMu sync.Mutex
	health   Health
	lastErr  error         // the handler's last error, the reason a nack gives
	resume   chan struct{} // closed to resume delivery after a failure
	// rebuildErr is why the last rebuild failed (Health.RebuildError).
	rebuildErr string
	// storageErr is the storage fault live delivery is waiting out (see
	// applyThroughStorageFaults); nil when the last write succeeded.
	storageErr error

	rebuilding atomic.Bool
}

func newProjection(ctx context.Context, m model, db *database, store eventstore.Store, cfg Config, met *metrics, c *committer) (*projection, error) {
	p := &projection{
		model: m, name: m.name(), db: db, store: store, cfg: cfg, met: met, committer: c,
		log:    cfg.Logger.With("projection", m.name()),
		health: Health{Name: m.name(), State: StateStopped},
	}
	// Series exist from the start, so dashboards show 0 rather than nothing;
	// the hot ones are resolved once, not per event.
	met.failed.WithLabelValues(p.name).Set(0)
	met.errors.WithLabelValues(p.name)
	p.position = met.position.WithLabelValues(p.name)
	p.applied = met.applied.WithLabelValues(p.name)
	var err error
	if p.writeCheckpoint, err = db.w.PrepareContext(ctx,
		`UPDATE generations SET commit_pos = ?, prepare_pos = ? WHERE projection = ? AND generation = ?`); err != nil {
		return nil, fmt.Errorf("projections: %s: %w", p.name, err)
	}
	if err := p.openActive(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// openActive picks up the active generation, or starts an empty one when
// there is none or it was built by another schema (then the catch-up at
// Start rebuilds it from position zero). Generations left behind by an
// interrupted rebuild are dropped.
func (p *projection) openActive(ctx context.Context) error {
	rows, err := p.db.generations(ctx, p.name)
	if err != nil {
		return err
	}
	var keep *generationRow
	next := int64(1)
	for i, row := range rows {
		if row.active && row.schema == p.model.schema() {
			keep = &rows[i]
		}
		next = max(next, row.number+1)
	}
	for _, row := range rows {
		if keep == nil || row.number != keep.number {
			p.log.Info("dropping read model tables", "generation", row.number, "schema", row.schema, "active", row.active)
			if err := p.dropTables(ctx, row.number, false); err != nil {
				return err
			}
		}
	}
	var g *generation
	if keep == nil {
		g, err = p.createGeneration(ctx, next, true)
	} else {
		// Indexes are created if missing: one added to the schema later
		// needs no rebuild.
		if err = p.createIndexes(ctx, keep.number); err == nil {
			g, err = p.openGeneration(ctx, keep.number, positionOf(keep.commit, keep.prep))
		}
	}
	if err != nil {
		return err
	}
	p.active.Store(g)
	p.mark.advance(g.checkpoint)
	p.position.Set(float64(g.checkpoint.Commit))
	return nil
}

// createGeneration creates a generation's tables, with their indexes when
// it is to serve queries at once (active); a rebuild adds them at the end
// (createIndexes).
func (p *projection) createGeneration(ctx context.Context, number int64, active bool) (*generation, error) {
	tx, err := p.db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("projections: %s: create generation %d: %w", p.name, number, err)
	}
	defer tx.Rollback()
	ddls := p.model.create(number)
	if active {
		ddls = append(ddls, p.model.indexes(number)...)
	}
	for _, ddl := range ddls {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return nil, fmt.Errorf("projections: %s: create generation %d: %w", p.name, number, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO generations (projection, generation, schema, active) VALUES (?, ?, ?, ?)`,
		p.name, number, p.model.schema(), active); err != nil {
		return nil, fmt.Errorf("projections: %s: create generation %d: %w", p.name, number, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("projections: %s: create generation %d: %w", p.name, number, err)
	}
	return p.openGeneration(ctx, number, eventstore.Start)
}

func (p *projection) openGeneration(ctx context.Context, number int64, checkpoint eventstore.Position) (*generation, error) {
	tables, err := p.model.open(ctx, p.db, p.store, number, p.cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("projections: %s: open generation %d: %w", p.name, number, err)
	}
	return &generation{number: number, tables: tables, checkpoint: checkpoint}, nil
}

// createIndexes adds a generation's secondary indexes (a no-op for those
// that exist).
func (p *projection) createIndexes(ctx context.Context, number int64) error {
	for _, ddl := range p.model.indexes(number) {
		if _, err := p.db.w.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("projections: %s: index generation %d: %w", p.name, number, err)
		}
	}
	return nil
}

// dropTables removes a generation's tables and its row in one transaction.
// When live delivery runs (live), the tables are first emptied a chunk of
// rows per transaction (emptyTable), so that it is not held up; emptying
// costs several times the CPU of dropping, so a CLI command or a start,
// which nothing waits on, drops at once.
func (p *projection) dropTables(ctx context.Context, number int64, live bool) error {
	if live {
		for _, t := range p.model.tables(number) {
			if err := p.emptyTable(ctx, t); err != nil {
				return fmt.Errorf("projections: %s: drop %s: %w", p.name, t, err)
			}
		}
	}
	tx, err := p.db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: %s: drop generation %d: %w", p.name, number, err)
	}
	defer tx.Rollback()
	for _, t := range p.model.tables(number) {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
			return fmt.Errorf("projections: %s: drop %s: %w", p.name, t, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM generations WHERE projection = ? AND generation = ?`, p.name, number); err != nil {
		return fmt.Errorf("projections: %s: drop generation %d: %w", p.name, number, err)
	}
	return tx.Commit()
}

// emptyTable deletes a table's rows Config.dropChunk at a time, each chunk
// its own transaction, so that live commits take the writer between them.
// A replaced generation holds as many rows as the one that replaced it, and
// secure_delete zeroes every page a drop frees: one DROP TABLE of a year's
// audit trail would hold the one writer, and so every read model's live
// delivery, for tens of seconds (0.6 s for 200,000 events), and write the
// whole table into the WAL in one transaction, past its limit. A missing
// table is left alone.
func (p *projection) emptyTable(ctx context.Context, table string) error {
	var withoutRowid bool
	switch err := p.db.w.QueryRowContext(ctx, `SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?`, table).Scan(&withoutRowid); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	key := "rowid" // the same columns on both sides of IN: their order does not matter
	if withoutRowid {
		if err := p.db.w.QueryRowContext(ctx, `SELECT group_concat(name) FROM pragma_table_info(?) WHERE pk > 0`, table).Scan(&key); err != nil {
			return err
		}
	}
	del := `DELETE FROM ` + table + ` WHERE (` + key + `) IN (SELECT ` + key + ` FROM ` + table + limitClause(p.cfg.dropChunk) + `)`
	for {
		res, err := p.db.w.ExecContext(ctx, del)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if p.cfg.dropHook != nil {
			p.cfg.dropHook(p.name)
		}
	}
}

// lockActive returns the active generation with its write lock held. A
// writer that waited on a generation a rebuild has just replaced moves on to
// the new one.
func (p *projection) lockActive() *generation {
	for {
		g := p.active.Load()
		g.writeMu.Lock()
		if !g.superseded {
			return g
		}
		g.writeMu.Unlock()
	}
}

// acquire returns the active generation for a query and the function that
// releases it.
func (p *projection) acquire() (*generation, func()) {
	for {
		g := p.active.Load()
		g.readMu.RLock()
		if !g.retired {
			return g, g.readMu.RUnlock
		}
		g.readMu.RUnlock()
	}
}

// apply writes the items that lie after g's checkpoint, and the new
// checkpoint, in one transaction. g.checkpoint is what is committed: it
// changes only after COMMIT, under g.writeMu, and the lock file makes this
// process the only writer, so comparing with it is comparing with the
// database without a query per event. The caller holds g.writeMu.
func (p *projection) apply(ctx context.Context, g *generation, items []item) (int, error) {
	first := 0
	for first < len(items) && items[first].rec.Position.Compare(g.checkpoint) <= 0 {
		first++
	}
	items = items[first:]
	if len(items) == 0 {
		return 0, nil
	}
	// The CPU work first, without the writer connection.
	if err := g.tables.fold(ctx, items); err != nil {
		g.tables.discard()
		return 0, err
	}
	if err := g.tables.encode(0); err != nil {
		g.tables.discard()
		return 0, err
	}
	last := items[len(items)-1].rec.Position
	if err := p.committer.commit(&commitRequest{ctx: ctx, p: p, g: g, last: last, events: len(items)}); err != nil {
		g.tables.discard()
		return 0, err
	}
	g.tables.settle()
	g.tables.clean()
	g.checkpoint = last
	p.hook(afterCommit, last, len(items))
	return len(items), nil
}

// write writes g's encoded rows and its new checkpoint within tx: the
// projection's part of a group commit.
func (p *projection) write(ctx context.Context, tx *sql.Tx, g *generation, last eventstore.Position, events int) error {
	ctx = uninterruptible(ctx)
	if err := g.tables.flush(ctx, tx); err != nil {
		return err
	}
	lc, lp, err := sqlPosition(last)
	if err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, p.writeCheckpoint).ExecContext(ctx, lc, lp, p.name, g.number); err != nil {
		return fmt.Errorf("projections: %s: write checkpoint: %w", p.name, err)
	}
	return nil
}

// uninterruptible keeps ctx's values but not its cancellation, for the
// statements of a read model's writes (and the status lookup's read by
// primary key). The SQLite driver starts a goroutine
// per statement to watch a cancellable context (a tenth of an audit trail
// row's cost in a rebuild, one row per event); a write's statements take
// microseconds each, so cancellation is checked between transactions and
// batches instead, and a transaction is never interrupted halfway.
func uninterruptible(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

// hook calls the test hook, when there is one.
func (p *projection) hook(phase commitPhase, last eventstore.Position, events int) {
	if p.cfg.commitHook != nil {
		p.cfg.commitHook(phase, p.name, positionCommit{Commit: last.Commit, Events: events})
	}
}

// published makes a committed checkpoint of the active generation visible
// to WaitFor and the metrics.
func (p *projection) published(pos eventstore.Position, events int) {
	p.mark.advance(pos)
	if p.cfg.publishHook != nil {
		p.cfg.publishHook(p.name, pos, time.Now())
	}
	p.position.Set(float64(pos.Commit))
	p.applied.Add(float64(events))
}

// handle is the router's handler: one event, one transaction. It works on a
// context that the router's shutdown does not cancel, so that an event
// already being written is finished rather than rolled back and redone.
func (p *projection) handle(msg *message.Message) error {
	it, err := itemOf(msg)
	if err != nil {
		return p.failedAttempt(err)
	}
	ctx := context.WithoutCancel(msg.Context())
	g := p.lockActive()
	defer g.writeMu.Unlock()
	n, err := p.applyThroughStorageFaults(msg.Context().Done(), ctx, g, []item{it})
	if err != nil {
		return p.failedAttempt(err)
	}
	if n > 0 {
		p.published(g.checkpoint, n)
	}
	return nil
}

// applyThroughStorageFaults applies items and, while the storage fails
// (storage.ErrUnavailable: a full disk), tries again, RetryInitial
// doubling to RetryMaxInterval apart, until the write succeeds or done is
// closed. A storage fault is not the event's: counted against the
// handler's retries it would stop the projection until a rebuild, when
// all it needs is space. Meanwhile Ready reports the fault, so the service
// says it is not ready, and delivery resumes on its own once space is back.
// The caller holds g.writeMu.
func (p *projection) applyThroughStorageFaults(done <-chan struct{}, ctx context.Context, g *generation, items []item) (int, error) {
	wait := p.cfg.RetryInitial
	for {
		n, err := p.apply(ctx, g, items)
		if !errors.Is(err, storage.ErrUnavailable) {
			p.setStorageFault(nil)
			return n, err
		}
		p.met.errors.WithLabelValues(p.name).Inc()
		p.setStorageFault(err)
		t := time.NewTimer(wait)
		select {
		case <-done:
			t.Stop()
			return n, err
		case <-t.C:
		}
		wait = min(2*wait, p.cfg.RetryMaxInterval)
	}
}

// setStorageFault records why the projection cannot write, or, with nil,
// that it can again; it logs each change.
func (p *projection) setStorageFault(err error) {
	p.healthMu.Lock()
	was := p.storageErr
	p.storageErr = err
	p.healthMu.Unlock()
	switch {
	case err != nil && was == nil:
		p.log.Warn("the read model's storage fails; retrying until it takes the write", "err", err)
	case err == nil && was != nil:
		p.log.Info("the read model's storage takes writes again")
	}
}

// storageFault is why the projection cannot write now; nil when it can.
func (p *projection) storageFault() error {
	p.healthMu.Lock()
	defer p.healthMu.Unlock()
	return p.storageErr
}

func (p *projection) failedAttempt(err error) error {
	p.met.errors.WithLabelValues(p.name).Inc()
	p.healthMu.Lock()
	p.lastErr = err
	p.healthMu.Unlock()
	p.log.Warn("projection handler failed", "err", err)
	return err
}

// catchUp applies everything after g's checkpoint, read straight from the
// store (see readPages) and applied BatchSize events per transaction. It returns
// once a read finds nothing more. The caller holds g.writeMu.
func (p *projection) catchUp(ctx context.Context, g *generation, published bool) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages, wait := readPages(ctx, p.store, g.checkpoint, p.cfg.PageSize)
	n, err := p.applyPages(ctx, g, pages, published)
	if err != nil {
		cancel()
		wait()
		return n, err
	}
	if err := wait(); err != nil {
		return n, fmt.Errorf("projections: %s: catch up: %w", p.name, err)
	}
	return n, nil
}

// applyPages applies pages of events to g in transactions of at least
// BatchSize events, until pages is closed. The caller holds g.writeMu.
func (p *projection) applyPages(ctx context.Context, g *generation, pages <-chan []item, published bool) (int, error) {
	total := 0
	batch := make([]item, 0, p.cfg.BatchSize+p.cfg.PageSize)
	flush := func() error {
		n, err := p.applyBatch(ctx, g, batch, published)
		total += n
		if err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	for page := range pages {
		batch = append(batch, page...)
		if len(batch) >= p.cfg.BatchSize {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// applyBatch applies a batch in one transaction. When an event of it
// fails, the events before that one are still applied (in a transaction of
// their own), so that one-at-a-time delivery starts at the failing event
// and retries it, and reports it, on its own. The caller holds g.writeMu.
func (p *projection) applyBatch(ctx context.Context, g *generation, items []item, published bool) (int, error) {
	n, err := p.apply(ctx, g, items)
	var ee *EventError
	if errors.As(err, &ee) {
		if i := slices.IndexFunc(items, func(it item) bool { return it.rec.Position == ee.Position }); i > 0 {
			n, _ = p.apply(ctx, g, items[:i])
		}
	}
	if published && n > 0 {
		p.published(g.checkpoint, n)
	}
	return n, err
}

// batch is the Subscriber's Batch: events that piled up in the live
// subscription, applied together to the active generation.
func (p *projection) batch(ctx context.Context, items []item) error {
	g := p.lockActive()
	defer g.writeMu.Unlock()
	_, err := p.applyBatch(context.WithoutCancel(ctx), g, items, true)
	if err != nil {
		p.met.errors.WithLabelValues(p.name).Inc()
		p.log.Warn("batch failed; delivering its events one at a time", "events", len(items), "err", err)
	}
	return err
}

// startAfter is the Subscriber's StartAfter: it applies the backlog in
// batches, then hands over to live delivery at the checkpoint reached. A
// batch that fails is not fatal here: live delivery retries its events one
// at a time and so pins the failure on the exact event.
func (p *projection) startAfter(ctx context.Context) (eventstore.Position, error) {
	p.setState(StateCatchingUp)
	g := p.lockActive()
	start := time.Now()
	n, err := p.catchUp(ctx, g, true)
	checkpoint := g.checkpoint
	g.writeMu.Unlock()
	switch {
	case ctx.Err() != nil:
		return checkpoint, ctx.Err()
	case err != nil:
		p.log.Warn("batched catch-up stopped; continuing one event at a time", "checkpoint", checkpoint.String(), "err", err)
	case n > 0:
		p.log.Info("caught up", "events", n, "checkpoint", checkpoint.String(), "took", time.Since(start))
	}
	p.setState(StateRunning)
	return checkpoint, nil
}

// failed is the Subscriber's OnNack: the router gave up on ev. Delivery
// stops there until a successful Rebuild resumes it.
func (p *projection) failed(ev eventstore.RecordedEvent) <-chan struct{} {
	p.healthMu.Lock()
	reason := "handler failed"
	if p.lastErr != nil {
		reason = p.lastErr.Error()
	}
	p.health = Health{
		Name: p.name, State: StateFailed, Reason: reason,
		EventID: ev.ID.String(), Stream: ev.Stream, Position: ev.Position, Since: time.Now().UTC(),
	}
	p.resume = make(chan struct{})
	resume := p.resume
	p.healthMu.Unlock()
	p.met.failed.WithLabelValues(p.name).Set(1)
	p.log.Error("projection stopped: it cannot apply an event and will not skip it",
		"event_id", ev.ID.String(), "stream", ev.Stream, "revision", ev.Revision,
		"position", ev.Position.String(), "type", ev.Type, "reason", reason)
	p.mark.kick() // WaitFor callers learn at once that waiting is pointless
	return resume
}

// setState records a state change unless the projection has failed: only a
// resume clears a failure.
func (p *projection) setState(s State) {
	p.healthMu.Lock()
	defer p.healthMu.Unlock()
	if p.health.State == StateFailed && s != StateStopped {
		return
	}
	p.health = Health{Name: p.name, State: s, Since: time.Now().UTC()}
}

// waitFor returns once the watermark reaches pos, failing at once when the
// projection has failed and when ctx ends.
func (p *projection) waitFor(ctx context.Context, pos eventstore.Position) error {
	for {
		at, wt := p.mark.wait(pos)
		if wt == nil {
			return nil
		}
		if h := p.currentHealth(); h.State == StateFailed {
			p.mark.forget(wt)
			return fmt.Errorf("%w: %s stopped at event %s, before position %s", ErrProjectionFailed, p.name, h.EventID, pos)
		}
		select {
		case <-wt.ch:
		case <-ctx.Done():
			p.mark.forget(wt)
			return fmt.Errorf("%w: %s is at %s, want %s: %w", ErrNotVisible, p.name, at, pos, ctx.Err())
		}
	}
}

// resumeAfterFailure restarts delivery of a failed projection.
func (p *projection) resumeAfterFailure() {
	p.healthMu.Lock()
	defer p.healthMu.Unlock()
	if p.health.State != StateFailed {
		return
	}
	p.health = Health{Name: p.name, State: StateCatchingUp, Since: time.Now().UTC()}
	p.lastErr = nil
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
	p.met.failed.WithLabelValues(p.name).Set(0)
}

// rebuilt records how the projection's last rebuild ended, for Health.
func (p *projection) rebuilt(err error) {
	p.healthMu.Lock()
	defer p.healthMu.Unlock()
	p.rebuildErr = ""
	if err != nil {
		p.rebuildErr = err.Error()
	}
}

func (p *projection) currentHealth() Health {
	p.healthMu.Lock()
	defer p.healthMu.Unlock()
	h := p.health
	h.Rebuilding = p.rebuilding.Load()
	h.RebuildError = p.rebuildErr
	return h
}

func (p *projection) close() error {
	g := p.active.Load()
	return errors.Join(g.tables.close(), p.writeCheckpoint.Close())
}

// watermark is the checkpoint visible to queries, with the WaitFor calls
// waiting for it to pass their positions. Waiters sit in a heap by
// position and an advance wakes only those it satisfies: waking every
// waiter at every commit (a plain broadcast) would, at a few thousand
// commits a second and many concurrent requests, keep both cores busy
// rescheduling goroutines that go straight back to sleep.
type watermark struct {
	mu      sync.Mutex
	pos     eventstore.Position
	waiters waiterHeap
}

// waiter is one WaitFor call: ch is closed when the watermark reaches pos,
// or when it is kicked.
type waiter struct {
	pos   eventstore.Position
	ch    chan struct{}
	index int // in the heap; -1 once removed
}

func (w *watermark) advance(pos eventstore.Position) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pos.Compare(w.pos) <= 0 {
		return
	}
	w.pos = pos
	for len(w.waiters) > 0 && w.waiters[0].pos.Compare(pos) <= 0 {
		close(heap.Pop(&w.waiters).(*waiter).ch)
	}
}

// kick wakes every waiter without moving: something else changed (a
// failure), and they must look again.
func (w *watermark) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.waiters) > 0 {
		close(heap.Pop(&w.waiters).(*waiter).ch)
	}
}

// wait returns the position and, when it is before pos, a waiter whose
// channel is closed once it is not (or at a kick). Call forget when giving
// up on it.
func (w *watermark) wait(pos eventstore.Position) (eventstore.Position, *waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pos.Compare(pos) >= 0 {
		return w.pos, nil
	}
	wt := &waiter{pos: pos, ch: make(chan struct{})}
	heap.Push(&w.waiters, wt)
	return w.pos, wt
}

// forget removes a waiter that is no longer waited on, so that a position
// never reached does not keep it forever.
func (w *watermark) forget(wt *waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt.index >= 0 {
		heap.Remove(&w.waiters, wt.index)
	}
}

func (w *watermark) position() eventstore.Position {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pos
}

// waiterHeap orders waiters by position (container/heap).
type waiterHeap []*waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].pos.Compare(h[j].pos) < 0 }
func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *waiterHeap) Push(x any) {
	wt := x.(*waiter)
	wt.index = len(*h)
	*h = append(*h, wt)
}

func (h *waiterHeap) Pop() any {
	old := *h
	wt := old[len(old)-1]
	old[len(old)-1] = nil
	wt.index = -1
	*h = old[:len(old)-1]
	return wt
}
