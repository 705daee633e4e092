package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

// Rebuild rebuilds the named projections (every one when none is named)
// from position zero into fresh tables, and switches each to its new tables
// atomically; the live read models keep serving, and following the store,
// until then. Several projections are rebuilt in one pass over the store:
// each event is read and decoded once for all of them. A failed projection
// whose rebuild succeeds resumes live delivery. It works with or without
// Start.
func (r *Runner) Rebuild(ctx context.Context, names ...string) error {
	targets := r.projections
	if len(names) > 0 {
		targets = nil
		for _, n := range names {
			p, ok := r.byName[n]
			if !ok {
				return fmt.Errorf("%w: %q", ErrUnknownProjection, n)
			}
			targets = append(targets, p)
		}
	}
	if err := r.enter(); err != nil {
		return err
	}
	defer r.work.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(r.life, cancel)
	defer stop()

	var builds []*build
	defer func() {
		for _, b := range builds {
			b.abandon()
		}
	}()
	for _, p := range targets {
		b, err := p.startBuild(ctx)
		if err != nil {
			return err
		}
		builds = append(builds, b)
	}
	start := time.Now()
	errs := fillBuilds(ctx, builds)
	for i, b := range builds {
		if errs[i] != nil {
			continue
		}
		errs[i] = b.finish(ctx, start)
	}
	return errors.Join(errs...)
}

// build is a rebuild of one projection in progress: its new generation,
// locked for writing by the rebuild until it is switched in or dropped.
type build struct {
	p        *projection
	g        *generation
	events   int
	switched bool
}

// startBuild creates the projection's next generation, empty.
func (p *projection) startBuild(ctx context.Context) (*build, error) {
	if !p.rebuilding.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("%w: %s", ErrRebuildInProgress, p.name)
	}
	rows, err := p.db.generations(ctx, p.name)
	if err != nil {
		p.rebuilding.Store(false)
		return nil, err
	}
	next := int64(1)
	for _, row := range rows {
		next = max(next, row.number+1)
	}
	g, err := p.createGeneration(ctx, next, false)
	if err != nil {
		p.rebuilding.Store(false)
		return nil, err
	}
	g.writeMu.Lock()
	p.log.Info("rebuild started", "generation", g.number)
	return &build{p: p, g: g}, nil
}

// fillBuilds folds every claim event in the store into each build, reading
// and decoding once for all: a goroutine per build applies the shared pages
// (the items are read-only), and a build that fails keeps draining its
// pages so that the others go on.
func fillBuilds(ctx context.Context, builds []*build) []error {
	errs := make([]error, len(builds))
	if len(builds) == 0 {
		return errs
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages, wait := feed(ctx, builds[0].p.store, builds[0].g.checkpoint, builds[0].p.cfg.PageSize)
	inputs := make([]chan []item, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		inputs[i] = make(chan []item, 4) // lets the feed run ahead while a build writes back
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := b.fill(ctx, inputs[i])
			b.events += n
			if err != nil {
				errs[i] = fmt.Errorf("projections: rebuild %s: %w", b.p.name, err)
				for range inputs[i] {
				}
			}
		}()
	}
	for page := range pages {
		for _, in := range inputs {
			in <- page
		}
	}
	for _, in := range inputs {
		close(in)
	}
	wg.Wait()
	if err := wait(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("projections: rebuild %s: %w", builds[i].p.name, err)
			}
		}
	}
	return errs
}

// fill folds pages into the build's generation in memory and writes rows
// back lazily: when Config.BatchSize claims are dirty, the half longest
// dirty are written (they are the likeliest to be finished), and the rest
// go with the checkpoint in one final transaction. A claim is thus written
// about once per rebuild, not once per batch its events fall in: in a real
// log a claim's events are spread over weeks, and per-batch writes would
// cost a row write per event. Writing back while reading goes on also keeps
// both cores busy.
//
// Rows written back before the final transaction are ahead of the
// generation's checkpoint, which the rule "rows and checkpoint commit
// together" would forbid for a generation anyone reads or resumes. A build
// is neither: queries see it only after the switch, which comes after the
// final transaction, and an interrupted build is dropped, never resumed
// (openActive drops every inactive generation).
func (b *build) fill(ctx context.Context, pages <-chan []item) (int, error) {
	p, g := b.p, b.g
	var (
		n    int
		last eventstore.Position
	)
	for page := range pages {
		if err := g.tables.fold(ctx, page); err != nil {
			g.tables.discard()
			return n, err
		}
		g.tables.settle()
		n += len(page)
		last = page[len(page)-1].rec.Position
		if d := g.tables.dirty(); d >= p.cfg.BatchSize {
			if err := p.writeBack(ctx, g, d/2, nil); err != nil {
				return n, err
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	return n, p.writeBack(ctx, g, 0, &last)
}

// writeBack writes the rows of the n claims of a build longest dirty (all
// when n <= 0) and, when checkpoint is given, the checkpoint in the same
// transaction.
func (p *projection) writeBack(ctx context.Context, g *generation, n int, checkpoint *eventstore.Position) error {
	if err := g.tables.encode(n); err != nil {
		g.tables.discard()
		return err
	}
	tx, err := p.db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: %s: begin: %w", p.name, err)
	}
	defer tx.Rollback()
	if err := g.tables.flush(ctx, tx); err != nil {
		g.tables.discard()
		return err
	}
	if checkpoint != nil {
		c, pr, err := sqlPosition(*checkpoint)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, p.writeCheckpoint).ExecContext(ctx, c, pr, p.name, g.number); err != nil {
			return fmt.Errorf("projections: %s: write checkpoint: %w", p.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		g.tables.discard()
		return fmt.Errorf("projections: %s: commit: %w", p.name, err)
	}
	g.tables.settle()
	g.tables.clean()
	if checkpoint != nil {
		g.checkpoint = *checkpoint
	}
	return nil
}

// finish switches the projection to the rebuilt generation: it pauses live
// delivery (the active generation's write lock), applies what arrived
// during the rebuild, flips the active flag in one UPDATE, and drops the old
// tables once no query reads them.
func (b *build) finish(ctx context.Context, start time.Time) error {
	p, ng := b.p, b.g
	if err := p.createIndexes(ctx, ng.number); err != nil {
		return err
	}
	if p.cfg.beforeSwitch != nil {
		p.cfg.beforeSwitch(p.name)
	}
	old := p.lockActive()
	n, err := p.catchUp(ctx, ng, false)
	if err == nil {
		_, err = p.db.w.ExecContext(ctx, `UPDATE generations SET active = (generation = ?) WHERE projection = ?`, ng.number, p.name)
	}
	if err != nil {
		old.writeMu.Unlock()
		return fmt.Errorf("projections: rebuild %s: %w", p.name, err)
	}
	b.switched = true
	old.superseded = true
	p.active.Store(ng)
	old.writeMu.Unlock()
	// The rebuilt generation read the store up to its head while live
	// delivery was paused, so its checkpoint is at or past the old one and
	// the watermark only moves forward.
	p.published(ng.checkpoint, 0)
	ng.writeMu.Unlock()
	p.rebuilding.Store(false)
	p.log.Info("rebuild switched", "generation", ng.number, "events", b.events+n,
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

// abandon drops a build that was not switched in.
func (b *build) abandon() {
	if b.switched {
		return
	}
	b.g.tables.close()
	b.g.writeMu.Unlock()
	if err := b.p.dropTables(context.Background(), b.g.number); err != nil {
		b.p.log.Error("cannot drop an abandoned rebuild", "generation", b.g.number, "err", err)
	}
	b.p.rebuilding.Store(false)
}
