package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rmaledger/rmaledger/eventstore"
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

	readCheckpoint  *sql.Stmt
	writeCheckpoint *sql.Stmt

	active atomic.Pointer[generation]
	mark   watermark

	healthMu sync.Mutex
	health   Health
	lastErr  error         // the handler's last error, the reason a nack gives
	resume   chan struct{} // closed to resume delivery after a failure

	rebuilding atomic.Bool
}

func newProjection(ctx context.Context, m model, db *database, store eventstore.Store, cfg Config, met *metrics) (*projection, error) {
	p := &projection{
		model: m, name: m.name(), db: db, store: store, cfg: cfg, met: met,
		log:    cfg.Logger.With("projection", m.name()),
		health: Health{Name: m.name(), State: StateStopped},
	}
	// Series exist from the start, so dashboards show 0 rather than nothing.
	met.failed.WithLabelValues(p.name).Set(0)
	met.errors.WithLabelValues(p.name)
	met.applied.WithLabelValues(p.name)
	var err error
	if p.readCheckpoint, err = db.w.PrepareContext(ctx,
		`SELECT commit_pos, prepare_pos FROM generations WHERE projection = ? AND generation = ?`); err != nil {
		return nil, fmt.Errorf("projections: %s: %w", p.name, err)
	}
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
			if err := p.dropTables(ctx, row.number); err != nil {
				return err
			}
		}
	}
	var g *generation
	if keep == nil {
		g, err = p.createGeneration(ctx, next, true)
	} else {
		g, err = p.openGeneration(ctx, keep.number, positionOf(keep.commit, keep.prep))
	}
	if err != nil {
		return err
	}
	p.active.Store(g)
	p.mark.advance(g.checkpoint)
	p.met.position.WithLabelValues(p.name).Set(float64(g.checkpoint.Commit))
	return nil
}

func (p *projection) createGeneration(ctx context.Context, number int64, active bool) (*generation, error) {
	tx, err := p.db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("projections: %s: create generation %d: %w", p.name, number, err)
	}
	defer tx.Rollback()
	for _, ddl := range p.model.create(number) {
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

// dropTables removes a generation's tables and its row in one transaction.
func (p *projection) dropTables(ctx context.Context, number int64) error {
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
// checkpoint, in one transaction. The checkpoint is read inside that
// transaction, so "at or below the checkpoint is ignored" holds against what
// is committed, whatever this process believes. The caller holds g.writeMu.
func (p *projection) apply(ctx context.Context, g *generation, items []item) (int, error) {
	tx, err := p.db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("projections: %s: begin: %w", p.name, err)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
			g.tables.discard()
		}
	}()
	var c, pr int64
	if err := tx.StmtContext(ctx, p.readCheckpoint).QueryRowContext(ctx, p.name, g.number).Scan(&c, &pr); err != nil {
		return 0, fmt.Errorf("projections: %s: read checkpoint: %w", p.name, err)
	}
	checkpoint := positionOf(c, pr)
	first := 0
	for first < len(items) && items[first].rec.Position.Compare(checkpoint) <= 0 {
		first++
	}
	items = items[first:]
	if len(items) == 0 {
		return 0, nil
	}
	if err := g.tables.apply(ctx, tx, items); err != nil {
		return 0, err
	}
	last := items[len(items)-1].rec.Position
	lc, lp, err := sqlPosition(last)
	if err != nil {
		return 0, err
	}
	if _, err := tx.StmtContext(ctx, p.writeCheckpoint).ExecContext(ctx, lc, lp, p.name, g.number); err != nil {
		return 0, fmt.Errorf("projections: %s: write checkpoint: %w", p.name, err)
	}
	hook := func(commitPhase) {}
	if p.cfg.commitHook != nil {
		hook = func(phase commitPhase) {
			p.cfg.commitHook(phase, p.name, positionCommit{Commit: last.Commit, Events: len(items)})
		}
	}
	hook(beforeCommit)
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("projections: %s: commit: %w", p.name, err)
	}
	committed = true
	g.tables.commit()
	g.checkpoint = last
	hook(afterCommit)
	return len(items), nil
}

// published makes a committed checkpoint of the active generation visible
// to WaitFor and the metrics.
func (p *projection) published(pos eventstore.Position, events int) {
	p.mark.advance(pos)
	p.met.position.WithLabelValues(p.name).Set(float64(pos.Commit))
	p.met.applied.WithLabelValues(p.name).Add(float64(events))
}

// handle is the router's handler: one event, one transaction. It works on a
// context that the router's shutdown does not cancel, so that an event
// already being written is finished rather than rolled back and redone.
func (p *projection) handle(msg *message.Message) error {
	rec, err := EventFromMessage(msg)
	if err != nil {
		return p.failedAttempt(err)
	}
	it := decodeItem(rec)
	ctx := context.WithoutCancel(msg.Context())
	g := p.lockActive()
	defer g.writeMu.Unlock()
	n, err := p.apply(ctx, g, []item{it})
	if err != nil {
		return p.failedAttempt(err)
	}
	if n > 0 {
		p.published(g.checkpoint, n)
	}
	return nil
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
// store in pages and applied BatchSize events per transaction. A goroutine
// reads and decodes the next page while the current batch is written, which
// on two cores roughly halves a rebuild. It returns once a read finds
// nothing more. The caller holds g.writeMu.
func (p *projection) catchUp(ctx context.Context, g *generation, published bool) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []item, 2)
	readErr := make(chan error, 1)
	after := g.checkpoint
	go func() {
		defer close(pages)
		for {
			recs, err := p.store.ReadAll(ctx, after, p.cfg.PageSize, claimFilter)
			if err != nil {
				readErr <- err
				return
			}
			if len(recs) == 0 {
				return
			}
			page := make([]item, len(recs))
			for i, rec := range recs {
				page[i] = decodeItem(rec)
			}
			select {
			case pages <- page:
			case <-ctx.Done():
				return
			}
			after = recs[len(recs)-1].Position
		}
	}()
	total := 0
	batch := make([]item, 0, p.cfg.BatchSize+p.cfg.PageSize)
	flush := func() error {
		n, err := p.apply(ctx, g, batch)
		if err != nil {
			return err
		}
		total += n
		if published && n > 0 {
			p.published(g.checkpoint, n)
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
	select {
	case err := <-readErr:
		return total, fmt.Errorf("projections: %s: catch up: %w", p.name, err)
	default:
	}
	return total, ctx.Err()
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

func (p *projection) currentHealth() Health {
	p.healthMu.Lock()
	defer p.healthMu.Unlock()
	h := p.health
	h.Rebuilding = p.rebuilding.Load()
	return h
}

// rebuild fills a fresh generation from position zero while the active one
// keeps serving, then switches: it pauses live delivery (the active
// generation's write lock), applies what arrived meanwhile, flips the active
// flag in one UPDATE and drops the old tables once no query reads them.
func (p *projection) rebuild(ctx context.Context) error {
	if !p.rebuilding.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: %s", ErrRebuildInProgress, p.name)
	}
	defer p.rebuilding.Store(false)
	start := time.Now()
	rows, err := p.db.generations(ctx, p.name)
	if err != nil {
		return err
	}
	next := int64(1)
	for _, row := range rows {
		next = max(next, row.number+1)
	}
	ng, err := p.createGeneration(ctx, next, false)
	if err != nil {
		return err
	}
	switched := false
	defer func() {
		if !switched {
			ng.tables.close()
			if err := p.dropTables(context.WithoutCancel(ctx), ng.number); err != nil {
				p.log.Error("cannot drop an abandoned rebuild", "generation", ng.number, "err", err)
			}
		}
	}()
	ng.writeMu.Lock()
	defer ng.writeMu.Unlock()
	p.log.Info("rebuild started", "generation", ng.number)
	n, err := p.catchUp(ctx, ng, false)
	if err != nil {
		return fmt.Errorf("projections: rebuild %s: %w", p.name, err)
	}

	if p.cfg.beforeSwitch != nil {
		p.cfg.beforeSwitch(p.name)
	}
	old := p.lockActive()
	m, err := p.catchUp(ctx, ng, false)
	if err == nil {
		_, err = p.db.w.ExecContext(ctx, `UPDATE generations SET active = (generation = ?) WHERE projection = ?`, ng.number, p.name)
	}
	if err != nil {
		old.writeMu.Unlock()
		return fmt.Errorf("projections: rebuild %s: %w", p.name, err)
	}
	switched = true
	old.superseded = true
	p.active.Store(ng)
	old.writeMu.Unlock()
	// The rebuilt generation read the store up to its head while live
	// delivery was paused, so its checkpoint is at or past the old one and
	// the watermark only moves forward.
	p.published(ng.checkpoint, 0)
	p.log.Info("rebuild switched", "generation", ng.number, "events", n+m,
		"checkpoint", ng.checkpoint.String(), "took", time.Since(start))

	old.readMu.Lock()
	old.retired = true
	old.readMu.Unlock()
	old.tables.close()
	if err := p.dropTables(context.WithoutCancel(ctx), old.number); err != nil {
		p.log.Error("cannot drop the replaced generation", "generation", old.number, "err", err)
	}
	p.resumeAfterFailure()
	return nil
}

func (p *projection) close() error {
	g := p.active.Load()
	return errors.Join(g.tables.close(), p.readCheckpoint.Close(), p.writeCheckpoint.Close())
}

// watermark is the checkpoint visible to queries with a broadcast to its
// waiters: a channel closed and replaced at each advance, so WaitFor wakes
// the moment its position is committed instead of polling.
type watermark struct {
	mu  sync.Mutex
	pos eventstore.Position
	ch  chan struct{}
}

func (w *watermark) advance(pos eventstore.Position) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pos.Compare(w.pos) > 0 {
		w.pos = pos
		w.wakeLocked()
	}
}

// kick wakes the waiters without moving: something else changed (a failure).
func (w *watermark) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wakeLocked()
}

func (w *watermark) wakeLocked() {
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// wait returns the position and a channel closed at the next change; taking
// both under one lock means no change can slip between them.
func (w *watermark) wait() (eventstore.Position, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.pos, w.ch
}

func (w *watermark) position() eventstore.Position {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pos
}
