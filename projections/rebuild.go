package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/storage"
)

// Rebuild rebuilds the named projections (every one when none is named)
// from position zero into fresh tables, and switches each to its new tables
// atomically; the live read models keep serving, and following the store,
// until then. Several projections are rebuilt in one pass over the store:
// each event is read and decoded once for all of them. A failed projection
// whose rebuild succeeds resumes live delivery. It works with or without
// Start.
func (r *Runner) Rebuild(ctx context.Context, names ...string) error {
	run, err := r.startRebuild(ctx, names)
	if err != nil {
		return err
	}
	return run()
}

// StartRebuild starts what Rebuild does and returns once the projections
// are marked as rebuilding, or with what prevented it (ErrUnknownProjection,
// ErrRebuildInProgress, ErrClosed, storage.ErrUnavailable). The rebuild
// goes on in the background, bounded by the Runner's life and no caller's:
// an admin request that waited for a rebuild of a year's log would outlast
// every HTTP timeout on its way, and its cancellation would abandon the
// rebuild. Health and Status show it under way (Rebuilding) and, if it
// fails, why (RebuildError); the log says how it ended.
func (r *Runner) StartRebuild(names ...string) error {
	run, err := r.startRebuild(r.life, names)
	if err != nil {
		return err
	}
	go func() {
		switch err := run(); {
		case err == nil:
		case r.life.Err() != nil:
			r.cfg.Logger.Info("closing: the rebuild was abandoned; start it again", "projections", names)
		default:
			r.cfg.Logger.Error("rebuild failed", "projections", names, "err", err)
		}
	}()
	return nil
}

// startRebuild marks the named projections as rebuilding, each with its
// next generation created, and returns the rest of the rebuild as run.
func (r *Runner) startRebuild(ctx context.Context, names []string) (run func() error, err error) {
	targets := r.projections
	if len(names) > 0 {
		targets = nil
		for _, n := range names {
			p, ok := r.byName[n]
			if !ok {
				return nil, fmt.Errorf("%w: %q", ErrUnknownProjection, n)
			}
			targets = append(targets, p)
		}
	}
	if err := r.enter(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.life, cancel)
	r.mu.Lock()
	live := r.started
	r.mu.Unlock()
	var builds []*build
	end := func() {
		for _, b := range builds {
			b.abandon(r.life) // those not switched in
		}
		stop()
		cancel()
		r.work.Done()
	}
	for _, p := range targets {
		b, err := p.startBuild(ctx)
		if err != nil {
			end()
			return nil, storage.Fault(err)
		}
		b.live = live
		builds = append(builds, b)
	}
	return func() error {
		defer end()
		start := time.Now()
		release := r.db.rebuilding(ctx)
		defer release()
		errs := fillBuilds(ctx, builds)
		for i, b := range builds {
			if errs[i] == nil {
				errs[i] = b.finish(ctx, start)
			}
			b.err = errs[i] // for abandon to report
		}
		r.dropReplaced(builds, live)
		return errors.Join(errs...)
	}, nil
}

// dropGeneration drops generation number (dropTables) and logs how that
// ended. A drop that ctx cut short is finished by the next start, which
// drops every generation but the active one (openActive).
func (p *projection) dropGeneration(ctx context.Context, number int64, live bool, which string) {
	switch err := p.dropTables(ctx, number, live); {
	case err == nil:
	case ctx.Err() != nil:
		p.log.Info("closing: the "+which+" generation is dropped at the next start", "generation", number)
	default:
		p.log.Error("cannot drop the "+which+" generation; the next start will", "generation", number, "err", err)
	}
}

// dropReplaced drops the generations the builds replaced. With live
// delivery running, that is done after Rebuild returns, in the background,
// a chunk of rows per transaction (dropTables): emptying tables the size of
// the ones just built takes a while, and nothing waits on it. Close stops
// it, and the next start drops what is left.
func (r *Runner) dropReplaced(builds []*build, live bool) {
	var drops []func(context.Context)
	for _, b := range builds {
		if b.replaced == 0 {
			continue
		}
		p, number := b.p, b.replaced
		drops = append(drops, func(ctx context.Context) { p.dropGeneration(ctx, number, live, "replaced") })
	}
	if !live {
		for _, drop := range drops {
			drop(context.Background())
		}
		return
	}
	r.work.Go(func() { // Rebuild's own share of r.work is still held
		for _, drop := range drops {
			drop(r.life)
		}
	})
}

// build is a rebuild of one projection in progress: its new generation,
// locked for writing by the rebuild until it is switched in or dropped.
type build struct {
	p *projection
	g *generation
	// parts fold the claims of the build, each its own share of them:
	// g.tables alone, or, for a model whose rows depend on one claim's
	// events only (claimLocal), one table set per core, so that a rebuild
	// of that model alone folds and encodes on every core while the
	// single writer connection takes each part's rows in turn.
	parts    []tableSet
	events   int
	switched bool
	// live: the Runner's live delivery runs (dropTables empties the tables
	// this build abandons or replaces in chunks). replaced is the
	// generation the switch replaced, for dropReplaced to drop.
	live     bool
	replaced int64
	err      error // why the build failed
}

// claimLocal is implemented by a model whose rows and fold depend on each
// claim's own events only, never on another claim's: a rebuild may then
// split the claims among table sets of the same generation and fold them in
// parallel. A model with state across claims (a running total, a chain
// over $all) must not implement it.
type claimLocal interface {
	claimLocal()
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
	b := &build{p: p, g: g, parts: []tableSet{g.tables}}
	if _, ok := p.model.(claimLocal); ok {
		for range runtime.GOMAXPROCS(0) - 1 {
			t, err := p.model.open(ctx, p.db, p.store, g.number, p.cfg.RebuildCacheSize)
			if err != nil {
				b.abandon(ctx)
				return nil, fmt.Errorf("projections: %s: open generation %d: %w", p.name, g.number, err)
			}
			b.parts = append(b.parts, t)
		}
	}
	p.log.Info("rebuild started", "generation", g.number, "parts", len(b.parts))
	return b, nil
}

// fillBuilds folds every claim event in the store into each build, reading
// and decoding once for all: a goroutine per part of each build folds the
// shared pages (the items are read-only), and a build that fails keeps
// draining its pages so that the others go on. Each build's checkpoint is
// written last, once all its parts have written their rows.
func fillBuilds(ctx context.Context, builds []*build) []error {
	errs := make([]error, len(builds))
	if len(builds) == 0 {
		return errs
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages, wait := readPages(ctx, builds[0].p.store, builds[0].g.checkpoint, builds[0].p.cfg.PageSize)
	var (
		inputs []chan []item
		wg     sync.WaitGroup
		mu     sync.Mutex // guards errs while the parts run
	)
	seed := maphash.MakeSeed()
	for i, b := range builds {
		for k, t := range b.parts {
			if f, ok := t.(inPlaceFolder); ok {
				f.foldInPlace(true)
			}
			if c, ok := t.(cacheBounder); ok {
				c.boundCache(b.p.cfg.RebuildCacheSize)
			}
			// A few pages of slack let the feed run ahead while a part
			// writes back.
			in := make(chan []item, 8)
			inputs = append(inputs, in)
			wg.Go(func() {
				var err error
				if len(b.parts) == 1 {
					err = b.fill(ctx, t, in, nil)
				} else {
					err = b.fill(ctx, t, in, func(it item) bool {
						return maphash.String(seed, it.rec.Stream)%uint64(len(b.parts)) == uint64(k)
					})
				}
				if err != nil {
					mu.Lock()
					if errs[i] == nil {
						errs[i] = fmt.Errorf("projections: rebuild %s: %w", b.p.name, err)
					}
					mu.Unlock()
					for range in {
					}
				}
			})
		}
	}
	var (
		events int
		last   eventstore.Position
	)
	for page := range pages {
		for _, in := range inputs {
			in <- page
		}
		events += len(page)
		last = page[len(page)-1].rec.Position
	}
	for _, in := range inputs {
		close(in)
	}
	wg.Wait()
	err := wait()
	for _, b := range builds {
		for _, t := range b.parts {
			if f, ok := t.(inPlaceFolder); ok {
				f.foldInPlace(false) // g.tables goes on to live delivery
			}
			if c, ok := t.(cacheBounder); ok {
				c.boundCache(b.p.cfg.CacheSize) // its next settle evicts down to it
			}
		}
	}
	for i, b := range builds {
		b.events += events
		switch {
		case errs[i] != nil:
		case err != nil:
			errs[i] = fmt.Errorf("projections: rebuild %s: %w", b.p.name, err)
		case events > 0:
			if err := b.p.writeBack(ctx, b.g, b.g.tables, 0, &last); err != nil {
				errs[i] = fmt.Errorf("projections: rebuild %s: %w", b.p.name, err)
			}
		}
		b.closeParts()
	}
	return errs
}

// fill folds pages (the items of them that mine selects, all when it is
// nil) into the table set t in memory and writes rows back lazily: when a
// part's share of Config.BatchSize claims are dirty, the half longest dirty
// are written (they are the likeliest to be finished), and the rest at the
// end. A claim is thus written about once per rebuild, not once per batch
// its events fall in: in a real log a claim's events are spread over weeks,
// and per-batch writes would cost a row write per event. Writing back while
// reading goes on also keeps both cores busy.
//
// Rows written back before the final transaction are ahead of the
// generation's checkpoint, which the rule "rows and checkpoint commit
// together" would forbid for a generation anyone reads or resumes. A build
// is neither: queries see it only after the switch, which comes after the
// checkpoint is written, and an interrupted build is dropped, never
// resumed (openActive drops every inactive generation).
func (b *build) fill(ctx context.Context, t tableSet, pages <-chan []item, mine func(item) bool) error {
	p, g := b.p, b.g
	threshold := max(1, p.cfg.BatchSize/len(b.parts))
	var share []item // reused page after page: a fold keeps no items

	for page := range pages {
		if mine != nil {
			share = share[:0]
			for _, it := range page {
				if mine(it) {
					share = append(share, it)
				}
			}
			page = share
		}
		if len(page) == 0 {
			continue
		}
		if err := t.fold(ctx, page); err != nil {
			t.discard()
			return err
		}
		t.settle()
		if d := t.dirty(); d >= threshold {
			if err := p.writeBack(ctx, g, t, d/2, nil); err != nil {
				return err
			}
		}
	}
	return p.writeBack(ctx, g, t, 0, nil)
}

// closeParts closes the table sets a build opened besides g.tables: the
// generation goes on with g.tables alone, which reads what the others
// wrote from its rows like anything else not in its cache.
func (b *build) closeParts() {
	for _, t := range b.parts[1:] {
		t.close()
	}
	b.parts = b.parts[:1]
}

// writeBack writes the rows of the n claims of table set t longest dirty
// (all when n <= 0) and, when checkpoint is given, the checkpoint of g in
// the same transaction.
func (p *projection) writeBack(ctx context.Context, g *generation, t tableSet, n int, checkpoint *eventstore.Position) error {
	if err := t.encode(n); err != nil {
		t.discard()
		return err
	}
	tx, err := p.db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: %s: begin: %w", p.name, err)
	}
	defer tx.Rollback()
	if err := t.flush(uninterruptible(ctx), tx); err != nil {
		t.discard()
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
		t.discard()
		return fmt.Errorf("projections: %s: commit: %w", p.name, err)
	}
	t.settle()
	t.clean()
	if checkpoint != nil {
		g.checkpoint = *checkpoint
	}
	return nil
}

// finish switches the projection to the rebuilt generation: it pauses live
// delivery (the active generation's write lock), applies what arrived
// during the rebuild, flips the active flag in one UPDATE, and retires the
// old tables once no query reads them, for dropReplaced to drop.
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
	p.rebuilt(nil)
	p.rebuilding.Store(false)
	p.log.Info("rebuild switched", "generation", ng.number, "events", b.events+n,
		"checkpoint", ng.checkpoint.String(), "took", time.Since(start))

	old.readMu.Lock()
	old.retired = true
	old.readMu.Unlock()
	old.tables.close()
	b.replaced = old.number
	p.resumeAfterFailure()
	return nil
}

// abandon drops a build that was not switched in, unless ctx ends first:
// a rebuild abandoned because the Runner closes (ctx is its life) leaves
// its tables to the next start, as a replaced generation does, instead of
// holding up Close while they are emptied.
func (b *build) abandon(ctx context.Context) {
	if b.switched {
		return
	}
	b.closeParts()
	b.g.tables.close()
	b.g.writeMu.Unlock()
	b.p.dropGeneration(ctx, b.g.number, b.live, "abandoned")
	if b.err != nil {
		b.p.rebuilt(b.err)
	}
	b.p.rebuilding.Store(false)
}
