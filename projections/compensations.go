package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Compensations is the finance read model: one row per financial fact of
// every claim (an approval of money or goods given or owed, a payment, a
// reversal), and the discrepancies found in each claim's money history.
// CompensationsPage and Reconciliation read it.
const Compensations = "compensations"

// The kinds of compensation row: the kinds of domain.FinancialFact, whose
// documentation says what each holds.
const (
	KindRefund           = domain.FactRefund
	KindReplacement      = domain.FactReplacement
	KindCreditNote       = domain.FactCreditNote
	KindPaidRepairCharge = domain.FactPaidRepairCharge
	KindPaymentReceived  = domain.FactPaymentReceived
	KindSupplierRecovery = domain.FactSupplierRecovery
	KindPriceDifference  = domain.FactPriceDifference
)

// CompensationKinds lists every kind, for validating filters.
func CompensationKinds() []string { return domain.FactKinds() }

// What a row records: money (or goods) approved, given or owed, or money
// that moved (see domain.EntryApproval).
const (
	EntryApproval = domain.EntryApproval
	EntryPayment  = domain.EntryPayment
)

// The statuses of a row: the standings of domain.FactStanding.
const (
	StatusOutstanding = domain.FactOutstanding
	StatusSettled     = domain.FactSettled
	StatusReversed    = domain.FactReversed
	StatusReversal    = domain.FactReversal
)

// CompensationStatuses lists every row status, for validating filters.
func CompensationStatuses() []string { return domain.FactStandings() }

// The kinds of discrepancy the model finds in a claim's money history:
// domain.Books.Reconcile's, whose documentation says what each means.
const (
	DiscrepancyPaymentWithoutApproval = domain.DiscrepancyPaymentWithoutApproval
	DiscrepancyApprovalPaidTwice      = domain.DiscrepancyApprovalPaidTwice
	DiscrepancyPaymentDiffers         = domain.DiscrepancyPaymentDiffers
	DiscrepancyClosedOutstanding      = domain.DiscrepancyClosedOutstanding
	DiscrepancyCurrencyMismatch       = domain.DiscrepancyCurrencyMismatch
)

// compensationsSchema changes whenever the tables or what goes into them
// change; an active generation of another schema is rebuilt at startup.
const compensationsSchema = "compensations-2" // 2: price differences, approvals told apart by kind

// compensationsModel is the "compensations" read model.
type compensationsModel struct{}

func (compensationsModel) name() string   { return Compensations }
func (compensationsModel) schema() string { return compensationsSchema }

func compensationsTable(gen int64) string { return fmt.Sprintf("compensations_g%d", gen) }
func discrepanciesTable(gen int64) string { return fmt.Sprintf("finance_discrepancies_g%d", gen) }

func (compensationsModel) tables(gen int64) []string {
	return []string{compensationsTable(gen), discrepanciesTable(gen)}
}

// create lays out the tables. Amounts are signed int64 minor units, times
// Unix nanoseconds (UTC); settled_at and closed_at are NULL while a row is
// outstanding.
func (compensationsModel) create(gen int64) []string {
	return []string{`CREATE TABLE ` + compensationsTable(gen) + ` (
		event_id       TEXT    NOT NULL,
		line           INTEGER NOT NULL,
		claim_id       TEXT    NOT NULL,
		number         TEXT    NOT NULL,
		kind           TEXT    NOT NULL,
		entry          TEXT    NOT NULL,
		amount         INTEGER NOT NULL,
		currency       TEXT    NOT NULL,
		at             INTEGER NOT NULL,
		actor          TEXT    NOT NULL,
		role           TEXT    NOT NULL,
		status         TEXT    NOT NULL,
		settled_amount INTEGER NOT NULL,
		settled_at     INTEGER,
		closed_at      INTEGER,
		reference      TEXT    NOT NULL,
		reverses       TEXT    NOT NULL,
		reversed_by    TEXT    NOT NULL,
		stream         TEXT    NOT NULL,
		revision       INTEGER NOT NULL,
		commit_pos     INTEGER NOT NULL,
		prepare_pos    INTEGER NOT NULL,
		PRIMARY KEY (event_id, line)
	) STRICT`, `CREATE TABLE ` + discrepanciesTable(gen) + ` (
		claim_id  TEXT    NOT NULL,
		seq       INTEGER NOT NULL,
		number    TEXT    NOT NULL,
		type      TEXT    NOT NULL,
		kind      TEXT    NOT NULL,
		amount    INTEGER NOT NULL,
		currency  TEXT    NOT NULL,
		at        INTEGER NOT NULL,
		event_ids TEXT    NOT NULL,
		detail    TEXT    NOT NULL,
		PRIMARY KEY (claim_id, seq)
	) STRICT`,
		// Made with the table, not after a rebuild's fill like the other
		// indexes: flush rewrites a claim's rows (DELETE ... WHERE claim_id),
		// and without it every such delete scans the whole table, which
		// made a rebuild quadratic (620 events/s over 1M events).
		`CREATE INDEX ` + compensationsTable(gen) + `_claim ON ` + compensationsTable(gen) + ` (claim_id)`}
}

// indexes serve the listing's order (at, event_id, line) and the period
// filter of the discrepancies.
func (compensationsModel) indexes(gen int64) []string {
	t, d := compensationsTable(gen), discrepanciesTable(gen)
	return []string{
		`CREATE INDEX IF NOT EXISTS ` + t + `_at ON ` + t + ` (at, event_id, line)`,
		`CREATE INDEX IF NOT EXISTS ` + d + `_at ON ` + d + ` (at, claim_id, seq)`,
	}
}

// compEntry is a claim folded up to (not including) revision next: its
// number, its books (the financial facts and what reconciling them needs),
// and where each fact came from. Facts are only ever appended, so a claim's
// rows are a function of its events alone, and a rebuild writes the same
// rows as live delivery.
type compEntry struct {
	number  string
	books   domain.Books
	origins []factOrigin // of books.Facts, index by index
	next    uint64
}

// factOrigin is where a fact came from: its event's place in the log and
// who decided it.
type factOrigin struct {
	revision    uint64
	position    eventstore.Position
	actor, role string
}

// advance folds one event into a copy of the entry. It reports whether the
// claim's rows may have changed: only events that domain.MovesMoney reports
// do, and only theirs need the metadata.
func (e compEntry) advance(it item) (compEntry, bool, error) {
	e.next = it.rec.Revision + 1
	if ev, ok := it.event.(domain.ClaimRegistered); ok {
		e.number = ev.Number
	}
	if !domain.MovesMoney(it.event) {
		e.books = e.books.Record("", time.Time{}, it.event)
		return e, false, nil
	}
	meta, err := decodeMetadata(it.rec.Metadata)
	if err != nil {
		return e, false, err
	}
	before := len(e.books.Facts)
	e.books = e.books.Record(it.rec.ID.String(), factTime(it, meta), it.event)
	origin := factOrigin{revision: it.rec.Revision, position: it.rec.Position, actor: meta.Actor, role: meta.Role}
	e.origins = slices.Clip(e.origins) // never append into the array of the entry advanced from
	for range e.books.Facts[before:] {
		e.origins = append(e.origins, origin)
	}
	return e, true, nil
}

// factTime is when a fact happened: the event's own time (the decision
// time), else the metadata's, else when the store recorded the event.
func factTime(it item, meta eventlog.Metadata) time.Time {
	if at := domain.OccurredAt(it.event); !at.IsZero() {
		return at.UTC()
	}
	if !meta.OccurredAt.IsZero() {
		return meta.OccurredAt.UTC()
	}
	return it.rec.Created.UTC()
}

// compRow is a reconciled fact with where it came from: one row.
type compRow struct {
	domain.FactStanding
	factOrigin
}

// derive reconciles the claim's books into its rows and discrepancies.
func (e *compEntry) derive() ([]compRow, []domain.Discrepancy) {
	facts, found := e.books.Reconcile()
	rows := make([]compRow, len(facts))
	for i, f := range facts {
		rows[i] = compRow{FactStanding: f, factOrigin: e.origins[i]}
	}
	return rows, found
}

// compTables writes and reads one generation of the compensations model.
type compTables struct {
	table, disc string
	store       eventstore.Store
	cache       *cache[compEntry]
	rows        []compClaimRows // encoded, waiting for flush

	deleteRows, deleteDisc, insertRow, insertDisc *sql.Stmt // writer
}

// compClaimRows is one claim's rows and discrepancies, ready to write.
type compClaimRows struct {
	claimID string
	number  string
	rows    []compRow
	found   []domain.Discrepancy
}

func (compensationsModel) open(ctx context.Context, db *database, store eventstore.Store, gen int64, cacheSize int) (tableSet, error) {
	t := &compTables{table: compensationsTable(gen), disc: discrepanciesTable(gen), store: store, cache: newCache[compEntry](cacheSize)}
	var err error
	prepare := func(query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.w.PrepareContext(ctx, query)
		return s
	}
	t.deleteRows = prepare(`DELETE FROM ` + t.table + ` WHERE claim_id = ?`)
	t.deleteDisc = prepare(`DELETE FROM ` + t.disc + ` WHERE claim_id = ?`)
	t.insertRow = prepare(`INSERT INTO ` + t.table + ` (event_id, line, claim_id, number, kind, entry, amount, currency,
		at, actor, role, status, settled_amount, settled_at, closed_at, reference, reverses, reversed_by, stream, revision,
		commit_pos, prepare_pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	t.insertDisc = prepare(`INSERT INTO ` + t.disc + ` (claim_id, seq, number, type, kind, amount, currency, at, event_ids, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// fold folds the events like the status model does: a claim missing from
// the cache is folded again from its stream, since the facts are a
// function of the stream. Only events that add a fact or close the claim
// make it dirty.
func (t *compTables) fold(ctx context.Context, items []item) error {
	t.cache.folded()
	for _, it := range items {
		key := it.rec.Stream
		prev, ok := t.cache.get(key)
		if !ok || prev.next != it.rec.Revision {
			history, err := readStream(ctx, t.store, key, it.rec.Revision)
			if err != nil {
				return eventError(Compensations, it.rec, err)
			}
			var e compEntry
			for _, h := range history {
				if e, _, err = e.advance(h); err != nil {
					return eventError(Compensations, it.rec, err)
				}
			}
			prev = &e
		}
		if it.err != nil {
			return eventError(Compensations, it.rec, it.err)
		}
		next, changed, err := prev.advance(it)
		if err != nil {
			return eventError(Compensations, it.rec, err)
		}
		if changed {
			t.cache.fold(key, &next)
		} else {
			t.cache.put(key, &next)
		}
	}
	return nil
}

// encode derives each chosen dirty claim's rows.
func (t *compTables) encode(n int) error {
	t.rows = t.rows[:0]
	for _, key := range t.cache.toFlush(n) {
		e, _ := t.cache.get(key)
		if e.number == "" {
			continue // events without a registration: no claim to book them on
		}
		rows, found := e.derive()
		t.rows = append(t.rows, compClaimRows{claimID: strings.TrimPrefix(key, eventlog.Claims.Prefix()), number: e.number, rows: rows, found: found})
	}
	return nil
}

// flush replaces each claim's rows: a claim has a handful, and rewriting
// them is simpler and safer than working out which of them changed.
func (t *compTables) flush(ctx context.Context, tx *sql.Tx) error {
	delRows, delDisc := tx.StmtContext(ctx, t.deleteRows), tx.StmtContext(ctx, t.deleteDisc)
	insRow, insDisc := tx.StmtContext(ctx, t.insertRow), tx.StmtContext(ctx, t.insertDisc)
	nullTime := func(at time.Time) any {
		if at.IsZero() {
			return nil
		}
		return at.UnixNano()
	}
	for _, c := range t.rows {
		if _, err := delRows.ExecContext(ctx, c.claimID); err != nil {
			return fmt.Errorf("projections: compensations: write %s: %w", c.claimID, err)
		}
		if _, err := delDisc.ExecContext(ctx, c.claimID); err != nil {
			return fmt.Errorf("projections: compensations: write %s: %w", c.claimID, err)
		}
		for _, r := range c.rows {
			cp, pp, err := sqlPosition(r.position)
			if err != nil {
				return err
			}
			if _, err := insRow.ExecContext(ctx, r.EventID, r.Line, c.claimID, c.number, r.Kind, r.Entry, r.Amount.Amount, r.Amount.Currency,
				r.At.UnixNano(), r.actor, r.role, r.Status, r.Settled, nullTime(r.SettledAt), nullTime(r.ClosedAt), r.Reference,
				r.Reverses, strings.Join(r.ReversedBy, " "), eventlog.Claims.Prefix()+c.claimID, int64(r.revision), cp, pp); err != nil {
				return fmt.Errorf("projections: compensations: write %s: %w", c.claimID, err)
			}
		}
		for i, d := range c.found {
			if _, err := insDisc.ExecContext(ctx, c.claimID, i, c.number, d.Type, d.Kind, d.Amount.Amount, d.Amount.Currency,
				d.At.UnixNano(), strings.Join(d.EventIDs, " "), d.Detail); err != nil {
				return fmt.Errorf("projections: compensations: write %s: %w", c.claimID, err)
			}
		}
	}
	return nil
}

func (t *compTables) boundCache(n int) { t.cache.max = n }

func (t *compTables) dirty() int { return len(t.cache.dirty) }
func (t *compTables) settle()    { t.cache.settle() }
func (t *compTables) clean()     { t.cache.clean() }
func (t *compTables) discard() {
	t.cache.discard()
	t.rows = t.rows[:0]
}

func (t *compTables) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{t.deleteRows, t.deleteDisc, t.insertRow, t.insertDisc} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
