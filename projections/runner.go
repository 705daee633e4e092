package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Names of the projections, for Rebuild, WaitFor and the status command.
const (
	// Claims serves Claim and Search.
	Claims = "claims"
	// StatusPage serves StatusLookup.
	StatusPage = "status"
)

// Errors of the runner, matched with errors.Is.
var (
	// ErrNotFound means no read model row matches: an unknown claim, or a
	// status lookup whose number and phone do not belong together (the two
	// are deliberately indistinguishable).
	ErrNotFound = errors.New("projections: not found")
	// ErrNotVisible means WaitFor's context ended before the read models
	// reached the position: answer 503 with Retry-After.
	ErrNotVisible = errors.New("projections: position not yet visible")
	// ErrPastEndOfLog means WaitFor was given a position after the last
	// event in the store: no write answered with it (it comes from another
	// installation, or from before a restore), so retrying will not help.
	ErrPastEndOfLog = errors.New("projections: position is past the end of the event log")
	// ErrProjectionFailed means a projection stopped on an event it cannot
	// apply; waiting for it is pointless until it is repaired.
	ErrProjectionFailed = errors.New("projections: projection failed")
	// ErrUnknownProjection means no projection has that name.
	ErrUnknownProjection = errors.New("projections: unknown projection")
	// ErrRebuildInProgress means a rebuild of that projection is running.
	ErrRebuildInProgress = errors.New("projections: rebuild already in progress")
	// ErrClosed means the runner was closed.
	ErrClosed = errors.New("projections: runner closed")
)

// claimFilter selects what the projections read: claim streams only.
var claimFilter = eventstore.Filter{StreamPrefixes: []string{eventlog.Claims.Prefix()}}

// State is a projection's condition.
type State string

// The states of a projection.
const (
	// StateStopped: not started (a CLI command) or closed.
	StateStopped State = "stopped"
	// StateCatchingUp: applying a backlog in batches before live delivery.
	StateCatchingUp State = "catching_up"
	// StateRunning: following the store live.
	StateRunning State = "running"
	// StateFailed: stopped on an event it cannot apply (see Health.EventID).
	StateFailed State = "failed"
)

// Health is what /readyz reports per projection.
type Health struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// Reason, EventID, Stream and Position describe the event a failed
	// projection stopped on: its checkpoint stays just before it.
	Reason     string              `json:"reason,omitempty"`
	EventID    string              `json:"event_id,omitempty"`
	Stream     string              `json:"stream,omitempty"`
	Position   eventstore.Position `json:"-"`
	Since      time.Time           `json:"since"`
	Rebuilding bool                `json:"rebuilding"`
	// RebuildError tells why the last rebuild failed; a rebuild that
	// succeeds clears it.
	RebuildError string `json:"rebuild_error,omitempty"`
}

// Status is a projection's progress, for `rmaledger projections status`.
type Status struct {
	Name       string              `json:"name"`
	State      State               `json:"state"`
	Generation int64               `json:"generation"`
	Checkpoint eventstore.Position `json:"-"`
	// Head is the last claim event in the store (the checkpoint when there
	// is no lag).
	Head eventstore.Position `json:"-"`
	// LagEvents counts claim events after the checkpoint; when LagCapped it
	// is at least that many (Config.LagScanLimit).
	LagEvents int  `json:"lag_events"`
	LagCapped bool `json:"lag_capped"`
	// LagSeconds is the age of the oldest event not yet applied, by the
	// store's clock: how stale the read model is. Zero without lag.
	LagSeconds   float64 `json:"lag_seconds"`
	Rebuilding   bool    `json:"rebuilding"`
	RebuildError string  `json:"rebuild_error,omitempty"` // see Health
	// StorageFault says why the read model cannot write now (a full disk); it
	// keeps its place and goes on by itself once the storage takes writes.
	StorageFault string `json:"storage_fault,omitempty"`
}

// Runner runs the projections and answers queries from their read models.
// New opens the read model database; Start begins following the store;
// queries, Status and Rebuild also work on a Runner that was never started
// (CLI commands).
type Runner struct {
	cfg   Config
	store eventstore.Store
	db    *database
	log   *slog.Logger
	met   *metrics

	projections []*projection
	byName      map[string]*projection
	committer   *committer
	claims      *claimsQueries
	status      *statusQueries

	life     context.Context // ends at Close; bounds Rebuild and the metrics loop
	shutdown context.CancelFunc
	work     sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
	router  *message.Router
	sub     *Subscriber
	runDone chan struct{}
}

// New opens Dir/readmodels.db (creating it and its tables if needed) for the
// projections of store. It does not read the store yet: Start does.
func New(store eventstore.Store, cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := openDatabase(cfg.Dir, cfg)
	if err != nil {
		return nil, err
	}
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		db.close()
		return nil, err
	}
	life, shutdown := context.WithCancel(context.Background())
	r := &Runner{
		cfg: cfg, store: store, db: db, log: cfg.Logger, met: met,
		byName: make(map[string]*projection), life: life, shutdown: shutdown,
	}
	ctx := context.Background()
	r.committer = newCommitter(db.w, cfg.transactHook, cfg.noWrites)
	for _, m := range []model{claimsModel{}, statusModel{book: cfg.Policies}, compensationsModel{}, timersModel{book: cfg.Policies}, auditTrailModel{}} {
		if cfg.only != nil && !slices.Contains(cfg.only, m.name()) {
			continue
		}
		p, err := newProjection(ctx, m, db, store, cfg, met, r.committer)
		if err != nil {
			r.closeStorage()
			return nil, err
		}
		r.projections = append(r.projections, p)
		r.byName[p.name] = p
	}
	r.claims = &claimsQueries{p: r.byName[Claims], db: db}
	r.status = &statusQueries{p: r.byName[StatusPage]}
	return r, nil
}

// Names lists the projections in a stable order.
func (r *Runner) Names() []string {
	names := make([]string, len(r.projections))
	for i, p := range r.projections {
		names[i] = p.name
	}
	return names
}

// Start catches every projection up with the store and then follows it
// live, until Close or until ctx ends. It returns once the router runs; the
// catch-up continues in the background (Health says catching_up), so a large
// backlog does not hold up the HTTP server: read-your-writes goes through
// WaitFor either way.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return ErrClosed
	case r.started:
		return errors.New("projections: already started")
	}
	sub, err := NewSubscriber(r.store, SubscriberConfig{
		Filter: claimFilter,
		StartAfter: func(ctx context.Context, topic string) (eventstore.Position, error) {
			return r.byName[topic].startAfter(ctx)
		},
		OnNack: func(topic string, ev eventstore.RecordedEvent) <-chan struct{} {
			return r.byName[topic].failed(ev)
		},
		Batch: func(ctx context.Context, topic string, items []item) error {
			return r.byName[topic].batch(ctx, items)
		},
		Backlog:          r.cfg.Backlog,
		MaxBatch:         r.cfg.BatchSize,
		Feed:             r.cfg.Feed,
		Queue:            r.cfg.BatchSize,
		PageSize:         r.cfg.PageSize,
		ResubscribeDelay: r.cfg.ResubscribeDelay,
		Logger:           r.log,
	})
	if err != nil {
		return err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: r.cfg.CloseTimeout}, watermill.NewSlogLogger(r.log))
	if err != nil {
		return err
	}
	// Retry wraps Recoverer, so that a panic counts as one failed attempt
	// like any error, and is retried, before the event is given up on.
	router.AddMiddleware(middleware.Retry{
		MaxRetries:          r.cfg.RetryMax,
		InitialInterval:     r.cfg.RetryInitial,
		MaxInterval:         r.cfg.RetryMaxInterval,
		Multiplier:          2,
		RandomizationFactor: 0.2,
		ResetContextOnRetry: true,
		Logger:              watermill.NewSlogLogger(r.log),
	}.Middleware, middleware.Recoverer)
	for _, p := range r.projections {
		router.AddConsumerHandler(p.name, p.name, sub, p.handle)
		p.setState(StateCatchingUp)
	}
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		if err := router.Run(ctx); err != nil {
			r.log.Error("projection router stopped", "err", err)
		}
	}()
	select {
	case <-router.Running():
	case <-runDone:
		sub.Close()
		return errors.New("projections: router did not start")
	}
	r.started, r.router, r.sub, r.runDone = true, router, sub, runDone
	r.work.Add(1)
	go r.refreshMetrics()
	return nil
}

// Close stops the router (letting a handler in flight finish, within
// Config.CloseTimeout), waits for rebuilds to give up and closes the
// database. Checkpoints are committed with their rows, so stopping at any
// point loses nothing.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.shutdown()
	var errs []error
	if r.router != nil {
		errs = append(errs, r.router.Close())
		<-r.runDone
		errs = append(errs, r.sub.Close())
	}
	r.work.Wait()
	for _, p := range r.projections {
		p.setState(StateStopped)
	}
	errs = append(errs, r.closeStorage())
	return errors.Join(errs...)
}

func (r *Runner) closeStorage() error {
	r.committer.close()
	var errs []error
	for _, p := range r.projections {
		errs = append(errs, p.close())
	}
	return errors.Join(append(errs, r.db.close())...)
}

// enter registers background work that Close must wait for.
func (r *Runner) enter() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.work.Add(1)
	return nil
}

// Health reports each projection's state, in Names order.
func (r *Runner) Health() []Health {
	out := make([]Health, len(r.projections))
	for i, p := range r.projections {
		out[i] = p.currentHealth()
	}
	return out
}

// Ready is nil when the runner is started, no projection has failed and
// none is waiting for its storage to take a write (a full disk; the error
// then matches storage.ErrUnavailable): what /readyz needs. A projection
// still catching up is ready: queries answer from what is applied, and
// WaitFor covers read-your-writes.
func (r *Runner) Ready() error {
	r.mu.Lock()
	started, closed := r.started, r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if !started {
		return errors.New("projections: not started")
	}
	var errs []error
	for _, h := range r.Health() {
		if h.State == StateFailed {
			errs = append(errs, fmt.Errorf("%w: %s stopped at event %s: %s", ErrProjectionFailed, h.Name, h.EventID, h.Reason))
		}
	}
	for _, p := range r.projections {
		if err := p.storageFault(); err != nil {
			errs = append(errs, fmt.Errorf("projections: %s cannot write its read model: %w", p.name, err))
		}
	}
	return errors.Join(errs...)
}

// WaitFor returns once the named projections (all of them when none is
// named) have applied every claim event up to pos, the position a write
// answered with: read-your-writes. It wakes the moment the checkpoint
// passes pos. It fails with ErrNotVisible when ctx ends first (give ctx the
// deadline the API is willing to wait), or with ErrPastEndOfLog if by then
// the store holds no event at or after pos, and at once with
// ErrProjectionFailed when a projection has stopped.
func (r *Runner) WaitFor(ctx context.Context, pos eventstore.Position, names ...string) error {
	targets := r.projections
	if len(names) > 0 {
		targets = make([]*projection, 0, len(names))
		for _, n := range names {
			p, ok := r.byName[n]
			if !ok {
				return fmt.Errorf("%w: %q", ErrUnknownProjection, n)
			}
			targets = append(targets, p)
		}
	}
	for _, p := range targets {
		if err := p.waitFor(ctx, pos); err != nil {
			if errors.Is(err, ErrNotVisible) && errors.Is(ctx.Err(), context.DeadlineExceeded) && r.pastEndOfLog(ctx, p.mark.position(), pos) {
				return fmt.Errorf("%w: %s", ErrPastEndOfLog, pos)
			}
			return err
		}
	}
	return nil
}

// pastEndOfLog reports whether the store has no event at or after pos; it
// reads $all after from, where a projection stands. It is asked only once a
// wait has timed out, so that the position of a write the projections have
// not reached yet never costs a read. Events of any stream count: the
// projections pass a later event of another stream only when a claim event
// follows it, and until then such a position is not visible yet, not
// unknown. When it cannot tell (the read fails, or the projection is more
// than LagScanLimit events behind), it says no: the caller answers "not yet".
func (r *Runner) pastEndOfLog(ctx context.Context, from, pos eventstore.Position) bool {
	if pos.Compare(from) <= 0 {
		return false // reached since the wait ended
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	recs, err := rawStore(r.store).ReadAll(ctx, from, r.cfg.LagScanLimit, eventstore.Filter{})
	if err != nil || len(recs) == r.cfg.LagScanLimit {
		return false
	}
	return len(recs) == 0 || recs[len(recs)-1].Position.Compare(pos) < 0
}

// Status reports each projection's checkpoint and its lag behind the
// store's last claim event, and refreshes the lag metrics.
func (r *Runner) Status(ctx context.Context) ([]Status, error) {
	out := make([]Status, 0, len(r.projections))
	type scan struct {
		recs []eventstore.RecordedEvent
		err  error
	}
	scans := make(map[eventstore.Position]scan) // projections at one checkpoint share a read
	for _, p := range r.projections {
		g, release := p.acquire()
		generation := g.number
		release()
		checkpoint := p.mark.position()
		sc, ok := scans[checkpoint]
		if !ok {
			// Only positions and times are needed: no decrypting.
			sc.recs, sc.err = rawStore(r.store).ReadAll(ctx, checkpoint, r.cfg.LagScanLimit, claimFilter)
			scans[checkpoint] = sc
		}
		if sc.err != nil {
			return nil, fmt.Errorf("projections: status of %s: %w", p.name, sc.err)
		}
		h := p.currentHealth()
		st := Status{
			Name: p.name, State: h.State, Generation: generation, Checkpoint: checkpoint, Head: checkpoint,
			LagEvents: len(sc.recs), LagCapped: len(sc.recs) >= r.cfg.LagScanLimit,
			Rebuilding: h.Rebuilding, RebuildError: h.RebuildError,
		}
		if err := p.storageFault(); err != nil {
			st.StorageFault = err.Error()
		}
		if n := len(sc.recs); n > 0 {
			st.Head = sc.recs[n-1].Position
			st.LagSeconds = max(0, time.Since(sc.recs[0].Created).Seconds())
		}
		r.met.lagEvents.WithLabelValues(p.name).Set(float64(st.LagEvents))
		r.met.lagSeconds.WithLabelValues(p.name).Set(st.LagSeconds)
		out = append(out, st)
	}
	return out, nil
}

// refreshMetrics keeps the lag gauges current between scrapes. It used to
// call Status every tick, which read up to LagScanLimit claim events per
// distinct checkpoint through the store the projections read (in serve, the
// one that decrypts personal data) over and over: 5% of the service's CPU
// under load (docs/performance.md). It now keeps a window of the unapplied
// events' positions and times, reads only what was appended since the last
// tick, and reads the undecrypted store: the lag needs neither data nor
// plaintext.
func (r *Runner) refreshMetrics() {
	defer r.work.Done()
	t := time.NewTicker(r.cfg.MetricsInterval)
	defer t.Stop()
	var w lagWindow
	for {
		select {
		case <-t.C:
			ctx, cancel := context.WithTimeout(r.life, r.cfg.MetricsInterval)
			if err := r.refreshLag(ctx, &w); err != nil && r.life.Err() == nil {
				r.log.Warn("cannot refresh projection lag", "err", err)
			}
			cancel()
		case <-r.life.Done():
			return
		}
	}
}

// lagWindow is what the metrics loop knows of the claim events that some
// projection has not applied: their positions and store times, oldest
// first, after the slowest checkpoint, at most LagScanLimit of them.
type lagWindow struct {
	events []lagEvent
	// read is the position the window has read up to; floor is the
	// slowest checkpoint when it was last trimmed.
	read, floor eventstore.Position
}

type lagEvent struct {
	pos     eventstore.Position
	created time.Time
}

// afterPosition orders lagEvents against a checkpoint for a binary search
// that finds the first event after it.
func afterPosition(e lagEvent, p eventstore.Position) int {
	if e.pos.Compare(p) <= 0 {
		return -1
	}
	return 1
}

// refreshLag updates w and the lag gauges. The gauges mean what Status
// reports (claim events after the checkpoint, capped at LagScanLimit; the
// age of the oldest), with one difference: while the slowest projection is
// more than LagScanLimit events behind, a faster one's count is the events
// of the window after its checkpoint, a lower bound.
func (r *Runner) refreshLag(ctx context.Context, w *lagWindow) error {
	checkpoints := make([]eventstore.Position, len(r.projections))
	for i, p := range r.projections {
		checkpoints[i] = p.mark.position()
	}
	if len(checkpoints) == 0 {
		return nil
	}
	low := slices.MinFunc(checkpoints, eventstore.Position.Compare)
	if low.Compare(w.read) > 0 || low.Compare(w.floor) < 0 {
		// Everything read is applied (or a rebuild went back before the
		// window): start over from the slowest checkpoint.
		w.events, w.read = w.events[:0], low
	} else {
		// Forget what every projection has applied.
		applied, _ := slices.BinarySearchFunc(w.events, low, afterPosition)
		w.events = append(w.events[:0], w.events[applied:]...)
	}
	w.floor = low
	raw := rawStore(r.store)
	for len(w.events) < r.cfg.LagScanLimit {
		recs, err := raw.ReadAll(ctx, w.read, min(r.cfg.PageSize, r.cfg.LagScanLimit-len(w.events)), claimFilter)
		if err != nil {
			return fmt.Errorf("projections: lag: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			w.events = append(w.events, lagEvent{pos: rec.Position, created: rec.Created})
		}
		w.read = recs[len(recs)-1].Position
	}
	for i, p := range r.projections {
		first, _ := slices.BinarySearchFunc(w.events, checkpoints[i], afterPosition)
		lag, seconds := len(w.events)-first, 0.0
		if lag > 0 {
			seconds = max(0, time.Since(w.events[first].created).Seconds())
		}
		r.met.lagEvents.WithLabelValues(p.name).Set(float64(lag))
		r.met.lagSeconds.WithLabelValues(p.name).Set(seconds)
	}
	return nil
}

// rawStore returns the store under the wrappers that implement Unwrap (the
// one that opens personal data, privacy.Reveal), for reads that need only
// positions and times.
func rawStore(s eventstore.Store) eventstore.Store {
	for {
		u, ok := s.(interface{ Unwrap() eventstore.Store })
		if !ok {
			return s
		}
		s = u.Unwrap()
	}
}
