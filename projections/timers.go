package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/policy"
)

// Timers is the SLA timers read model: every claim's clocks (first
// response, decision, shipment window, repair turnaround, repair hard limit)
// and a row per open clock with its status and due time. Timers, ClaimClocks
// and DueTimers read it; the SLA timer process acts on what it says is due.
const Timers = "timers"

// timersModel computes each claim's clocks with domain.EvolveClocks under the
// policy version the claim is governed by: the one its registration's
// metadata names (see ledger.governing). The clocks are thus a function of
// the claim's stream and the policy, which is what makes a rebuild equal the
// live model.
type timersModel struct {
	// book is the deployment's policy; nil means the embedded default.
	book *domain.PolicyBook
}

// timersSchema changes with the table layout or the fold.
const timersSchema = "timers-5" // 3: open clocks' rows hold the clock only, the claim's columns are joined from sla_clocks; 4: decision cycles, first response to the customer; 5: the claim's organisation, the due-soon index

func (m timersModel) policies() *domain.PolicyBook {
	if m.book == nil {
		return policy.Default()
	}
	return m.book
}

func (timersModel) name() string { return Timers }

// schema includes the policy's fingerprint: due times are computed from it,
// so a changed policy file (a version edited in place, say) makes the
// projection rebuild itself at start instead of keeping due times that a
// rebuild would no longer produce.
func (m timersModel) schema() string { return timersSchema + "/" + m.policies().Fingerprint() }

func timersTable(gen int64) string { return fmt.Sprintf("sla_timers_g%d", gen) }
func clocksTable(gen int64) string { return fmt.Sprintf("sla_clocks_g%d", gen) }

func (timersModel) tables(gen int64) []string { return []string{clocksTable(gen), timersTable(gen)} }

// create lays out two tables. sla_clocks holds every clock of a claim, in
// one row, for the claim view. sla_timers holds one row per open (running or
// paused) clock, for the timer list and the timer process; a clock's row
// goes when the clock stops, so the table and its indexes stay the size of
// the work in progress rather than of the history, and a rebuild writes a
// row per claim plus one per open clock. A clock's row holds the clock
// alone; the claim's columns (number, status, version, position) are read
// from its sla_clocks row, so that an event that leaves a clock as it was
// rewrites no row of sla_timers or its indexes. Times are Unix nanoseconds;
// due_at and soon_at are 0 for a paused clock. clock holds the whole
// domain.Clock, with its times in the policy's zone.
func (timersModel) create(gen int64) []string {
	return []string{
		`CREATE TABLE ` + clocksTable(gen) + ` (
		claim_id       TEXT    PRIMARY KEY,
		number         TEXT    NOT NULL,
		claim_status   TEXT    NOT NULL,
		claim_version  INTEGER NOT NULL,
		policy_version TEXT    NOT NULL,
		organisation   TEXT    NOT NULL,
		commit_pos     INTEGER NOT NULL,
		prepare_pos    INTEGER NOT NULL,
		clocks         BLOB    NOT NULL
	) STRICT`,
		`CREATE TABLE ` + timersTable(gen) + ` (
		claim_id        TEXT    NOT NULL,
		clock_name      TEXT    NOT NULL,
		status          TEXT    NOT NULL,
		due_at          INTEGER NOT NULL,
		soon_at         INTEGER NOT NULL,
		breach_recorded INTEGER NOT NULL,
		clock           BLOB    NOT NULL,
		PRIMARY KEY (claim_id, clock_name)
	) STRICT`,
	}
}

// indexes serve the timer list (by status and due time, optionally one
// clock) and the timer process's "due and not yet acted on".
func (timersModel) indexes(gen int64) []string {
	t := timersTable(gen)
	return []string{
		`CREATE INDEX IF NOT EXISTS ` + t + `_due ON ` + t + ` (status, due_at, claim_id, clock_name)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_clock ON ` + t + ` (clock_name, status, due_at)`,
		// The desk's "due soon" queue: running clocks past their warning time.
		`CREATE INDEX IF NOT EXISTS ` + t + `_soon ON ` + t + ` (status, soon_at, due_at, claim_id)`,
	}
}

// timerEntry is a claim folded up to (not including) revision next: its
// state (working copy, never stored), its clocks and the policy governing
// it, and the clocks as its sla_timers rows were last written.
type timerEntry struct {
	state    domain.State
	clocks   domain.Clocks
	policy   domain.Policy
	next     uint64
	position eventstore.Position
	// written holds the clocks as the claim's rows were last written: its
	// open clocks have rows, with these values. Only when rowsKnown, which
	// a claim refolded after eviction is not (its rows are then replaced
	// wholesale). EvolveClocks copies the slice before it changes a clock,
	// so this costs no memory until the clocks change, and is never
	// changed under it.
	written   domain.Clocks
	rowsKnown bool
}

// rowOf reports whether the clock had a row when the claim was last
// written, and whether that row holds the same clock.
func (e *timerEntry) rowOf(c domain.Clock) (exists, same bool) {
	if !e.rowsKnown {
		return false, false
	}
	w, ok := e.written.Get(c.Name)
	if !ok || !w.Open() {
		return false, false
	}
	// Equal fields encode to equal rows; fields that differ only in
	// representation (a time's location) cost a needless write, never a
	// missed one.
	return true, w == c
}

type timerTables struct {
	table, clocksTable string
	store              eventstore.Store
	book               *domain.PolicyBook
	cache              *cache[timerEntry]
	encoded            []encodedClaim

	upsertClaim, upsertTimer, deleteTimer, deleteTimers *sql.Stmt // writer
}

// encodedClaim is a dirty claim's rows, encoded.
type encodedClaim struct {
	key, claimID    string
	entry           *timerEntry
	clocks          []byte
	commit, prepare int64
	changed         []timerRow // open clocks whose rows are new or differ
	closed          []string   // clocks whose rows go
	replaceAll      bool
}

// timerRow is one open clock's row, encoded.
type timerRow struct {
	name, status      string
	due, soon, breach int64
	clock             []byte
}

func (m timersModel) open(ctx context.Context, db *database, store eventstore.Store, gen int64, cacheSize int) (tableSet, error) {
	t := &timerTables{table: timersTable(gen), clocksTable: clocksTable(gen), store: store, book: m.policies(), cache: newCache[timerEntry](cacheSize)}
	var err error
	prepare := func(query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.w.PrepareContext(ctx, query)
		return s
	}
	t.upsertClaim = prepare(`INSERT INTO ` + t.clocksTable + ` (claim_id, number, claim_status, claim_version, policy_version,
		organisation, commit_pos, prepare_pos, clocks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (claim_id) DO UPDATE SET claim_status = excluded.claim_status, claim_version = excluded.claim_version,
		policy_version = excluded.policy_version, commit_pos = excluded.commit_pos, prepare_pos = excluded.prepare_pos,
		clocks = excluded.clocks`)
	t.upsertTimer = prepare(`INSERT INTO ` + t.table + ` (claim_id, clock_name, status, due_at, soon_at, breach_recorded, clock)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (claim_id, clock_name) DO UPDATE SET status = excluded.status, due_at = excluded.due_at,
		soon_at = excluded.soon_at, breach_recorded = excluded.breach_recorded, clock = excluded.clock`)
	t.deleteTimer = prepare(`DELETE FROM ` + t.table + ` WHERE claim_id = ? AND clock_name = ?`)
	t.deleteTimers = prepare(`DELETE FROM ` + t.table + ` WHERE claim_id = ?`)
	if err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// advance folds one event. The first event fixes the governing policy from
// its metadata.
func (t *timerTables) advance(e timerEntry, it item) (timerEntry, error) {
	if it.rec.Revision == 0 {
		meta, err := decodeMetadata(it.rec.Metadata)
		if err != nil {
			return e, err
		}
		e.state, e.clocks = domain.Evolve(domain.State{}, it.event), nil
		e.policy = t.book.Governing(meta.PolicyVersion, e.state.RegisteredAt, e.state.RegisteredAt)
	} else {
		e.state = domain.Evolve(e.state, it.event)
	}
	e.clocks = domain.EvolveClocks(e.clocks, e.state, it.event, e.policy)
	e.next, e.position = it.rec.Revision+1, it.rec.Position
	return e, nil
}

// fold folds the events into the cached entries. Like the status model this
// one stores no state: a claim missing from the cache is folded again from
// its stream, which gives the same clocks.
func (t *timerTables) fold(ctx context.Context, items []item) error {
	t.cache.folded()
	for _, it := range items {
		key := it.rec.Stream
		prev, ok := t.cache.get(key)
		if !ok || prev.next != it.rec.Revision {
			history, err := readStream(ctx, t.store, key, it.rec.Revision)
			if err != nil {
				return eventError(Timers, it.rec, err)
			}
			// A claim first seen at its registration has no rows yet; one
			// refolded after eviction may have any.
			e := timerEntry{rowsKnown: it.rec.Revision == 0}
			for _, h := range history {
				if e, err = t.advance(e, h); err != nil {
					return eventError(Timers, h.rec, err)
				}
			}
			prev = &e
		}
		if it.err != nil {
			return eventError(Timers, it.rec, it.err)
		}
		// Two variables on purpose: taking next's address below would move
		// it to the heap in this branch as well, which folding in place
		// exists to avoid.
		if ok && t.cache.inPlace {
			e, err := t.advance(*prev, it)
			if err != nil {
				return eventError(Timers, it.rec, err)
			}
			*prev = e
			t.cache.fold(key, prev)
			continue
		}
		next, err := t.advance(*prev, it)
		if err != nil {
			return eventError(Timers, it.rec, err)
		}
		t.cache.fold(key, &next)
	}
	return nil
}

func (t *timerTables) foldInPlace(on bool) { t.cache.inPlace = on }

// encode turns each chosen dirty claim into its clocks row and the rows of
// its open clocks.
func (t *timerTables) encode(n int) error {
	t.encoded = t.encoded[:0]
	for _, key := range t.cache.toFlush(n) {
		e, _ := t.cache.get(key)
		if !e.state.Exists() {
			continue
		}
		clocks, err := encodeJSON(e.clocks)
		if err != nil {
			return fmt.Errorf("projections: timers: encode %s: %w", key, err)
		}
		commit, prepare, err := sqlPosition(e.position)
		if err != nil {
			return err
		}
		ec := encodedClaim{
			key: key, claimID: strings.TrimPrefix(key, eventlog.Claims.Prefix()), entry: e, clocks: clocks,
			commit: commit, prepare: prepare, replaceAll: !e.rowsKnown,
		}
		for _, c := range e.clocks {
			exists, same := e.rowOf(c)
			if !c.Open() {
				if exists {
					ec.closed = append(ec.closed, c.Name)
				}
				continue
			}
			if same {
				continue
			}
			clock, err := encodeJSON(c)
			if err != nil {
				return fmt.Errorf("projections: timers: encode %s: %w", key, err)
			}
			row := timerRow{name: c.Name, status: string(c.Status), clock: clock}
			if c.Status == domain.ClockRunning {
				row.due, row.soon = c.DueAt.UnixNano(), c.SoonAt.UnixNano()
			}
			if !c.BreachRecordedAt.IsZero() {
				row.breach = 1
			}
			ec.changed = append(ec.changed, row)
		}
		t.encoded = append(t.encoded, ec)
	}
	return nil
}

// flush writes the encoded rows, and records which clocks now have rows.
func (t *timerTables) flush(ctx context.Context, tx *sql.Tx) error {
	upsertClaim, upsertTimer := tx.StmtContext(ctx, t.upsertClaim), tx.StmtContext(ctx, t.upsertTimer)
	deleteTimer, deleteTimers := tx.StmtContext(ctx, t.deleteTimer), tx.StmtContext(ctx, t.deleteTimers)
	for _, ec := range t.encoded {
		fail := func(err error) error { return fmt.Errorf("projections: timers: write %s: %w", ec.claimID, err) }
		s := ec.entry.state
		if _, err := upsertClaim.ExecContext(ctx, ec.claimID, s.Number, string(s.Status), s.Version, ec.entry.policy.Version,
			s.Organisation, ec.commit, ec.prepare, ec.clocks); err != nil {
			return fail(err)
		}
		if ec.replaceAll {
			if _, err := deleteTimers.ExecContext(ctx, ec.claimID); err != nil {
				return fail(err)
			}
		}
		for _, name := range ec.closed {
			if _, err := deleteTimer.ExecContext(ctx, ec.claimID, name); err != nil {
				return fail(err)
			}
		}
		for _, r := range ec.changed {
			if _, err := upsertTimer.ExecContext(ctx, ec.claimID, r.name, r.status, r.due, r.soon, r.breach, r.clock); err != nil {
				return fail(err)
			}
		}
		if !ec.entry.rowsKnown || len(ec.changed) > 0 || len(ec.closed) > 0 {
			stored := *ec.entry
			stored.written, stored.rowsKnown = stored.clocks, true
			t.cache.put(ec.key, &stored)
		}
	}
	return nil
}

func (t *timerTables) boundCache(n int) { t.cache.max = n }

func (t *timerTables) dirty() int { return len(t.cache.dirty) }
func (t *timerTables) settle()    { t.cache.settle() }
func (t *timerTables) clean()     { t.cache.clean() }
func (t *timerTables) discard() {
	t.cache.discard()
	t.encoded = t.encoded[:0]
}

func (t *timerTables) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{t.upsertClaim, t.upsertTimer, t.deleteTimer, t.deleteTimers} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// errNoTimers is returned by the queries when the runner has no timers
// projection (it always has one; this guards a misassembled Runner).
var errNoTimers = errors.New("projections: no timers projection")
