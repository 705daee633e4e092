package projections

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
)

// ErrTotalOverflow means a reconciliation total does not fit in int64
// minor units. Totals are never rounded or wrapped; the client must ask for
// a narrower period.
var ErrTotalOverflow = errors.New("projections: a total does not fit in 64-bit minor units")

// MaxCompensationLimit bounds one page of compensations. The JSON API
// allows less (MaxSearchLimit); a CSV export reads page after page of this
// size.
const MaxCompensationLimit = 1000

// MaxDiscrepancies bounds the discrepancies one reconciliation lists; the
// count of all of them is reported beside.
const MaxDiscrepancies = 1000

// Compensation is one financial fact of a claim, as the compensations read
// model holds it.
type Compensation struct {
	// EventID and Line identify the fact: the event it came from, and 1
	// for the second fact of an event (the reversal of the charge a newly
	// accepted estimate replaces).
	EventID uuid.UUID
	Line    int
	ClaimID uuid.UUID
	Number  string
	Kind    string
	// Entry is EntryApproval (money or goods given or owed) or EntryPayment
	// (money that moved).
	Entry string
	// Amount is negative for a reversal.
	Amount domain.Money
	// At is when the fact happened; Actor and Role who recorded it (the
	// event's metadata): for an approval, who approved it.
	At     time.Time
	Actor  string
	Role   string
	Status string
	// Settled is how much of an approval payments covered (its amount for
	// a payment, a credit note or a replacement); SettledAt when it was
	// settled in full, zero while it is not.
	Settled   domain.Money
	SettledAt time.Time
	// Reference is the external reference: payment id, credit note number,
	// the supplier's claim or remittance, the approval document.
	Reference string
	// Reverses is the event id of the fact a reversal reverses;
	// ReversedBy lists the reversals of this fact.
	Reverses   string
	ReversedBy []string
	// Stream, Revision and Position locate the event in the store.
	Stream   string
	Revision uint64
	Position eventstore.Position
}

// CompensationQuery selects compensations. Filters combine with AND; empty
// ones are ignored.
type CompensationQuery struct {
	// From and To bound the facts' time: From <= At < To. Zero is
	// unbounded.
	From, To time.Time
	// Kinds keeps rows of any of these kinds (CompensationKinds).
	Kinds []string
	// Currency keeps rows in this ISO 4217 currency.
	Currency string
	// Statuses keeps rows in any of these statuses (CompensationStatuses).
	Statuses []string
	// Limit is the page size: DefaultSearchLimit when zero, at most
	// MaxCompensationLimit.
	Limit int
	// Cursor continues a previous page (CompensationPage.NextCursor).
	Cursor string
}

// CompensationPage is one page of compensations, ordered by (At, EventID,
// Line): the order in which the facts happened.
type CompensationPage struct {
	Items      []Compensation
	NextCursor string
}

// ReconciliationQuery asks for the books of a period.
type ReconciliationQuery struct {
	// From and To bound the period: From <= t < To; zero is unbounded.
	From, To time.Time
	// AsOf is the moment outstanding amounts are aged at (now); the end of
	// the period when that is earlier.
	AsOf time.Time
}

// Reconciliation is the books of a period: totals per currency and kind,
// and the discrepancies that arose in it.
type Reconciliation struct {
	// AsOf is when the outstanding amounts were aged.
	AsOf   time.Time
	Totals []ReconciliationTotal
	// Discrepancies lists at most MaxDiscrepancies, oldest first;
	// DiscrepancyCount counts all of them.
	Discrepancies    []Discrepancy
	DiscrepancyCount int
}

// AgingBuckets names the age brackets of outstanding amounts, in days.
var AgingBuckets = []string{"0-30", "31-60", "61-90", "91+"}

// ReconciliationTotal is one currency and kind of compensation. Kind is
// one of refund, replacement, credit_note, paid_repair_charge (settled by
// the payments received), price_difference (a dearer replacement model's,
// settled by the payments made for it) and supplier_recovery.
type ReconciliationTotal struct {
	Currency string
	Kind     string
	// Approved is what was approved in the period, net of the reversals
	// made in it.
	Approved domain.Money
	// Paid is what was paid in the period, net of reversals; credit notes
	// and replacements count as settled when issued.
	Paid domain.Money
	// Outstanding is, at the end of the period, what was approved and not
	// paid, claim by claim (a claim paid more than approved counts zero:
	// that is a discrepancy, not a credit against other claims).
	Outstanding       domain.Money
	OutstandingClaims int
	// OldestOutstanding is the approval time of the oldest unpaid approval.
	OldestOutstanding time.Time
	// Aging splits Outstanding by the age of each claim's oldest unpaid
	// approval, as AgingBuckets names them.
	Aging []domain.Money
}

// Discrepancy is a problem in a claim's money history, with the events
// behind it.
type Discrepancy struct {
	Type     string
	Kind     string
	ClaimID  uuid.UUID
	Number   string
	Amount   domain.Money
	At       time.Time
	EventIDs []uuid.UUID
	Detail   string
}

// CompensationsPage lists compensations from the compensations read model.
func (r *Runner) CompensationsPage(ctx context.Context, q CompensationQuery) (CompensationPage, error) {
	return compensationsQueries{p: r.byName[Compensations], db: r.db}.page(ctx, q)
}

// Reconciliation computes the books of a period from the compensations
// read model.
func (r *Runner) Reconciliation(ctx context.Context, q ReconciliationQuery) (Reconciliation, error) {
	return compensationsQueries{p: r.byName[Compensations], db: r.db}.reconcile(ctx, q)
}

type compensationsQueries struct {
	p  *projection
	db *database
}

// nanos maps a time onto the model's Unix nanoseconds, saturating outside
// the range they can hold (1677-2262), and def for the zero time.
func nanos(t time.Time, def int64) int64 {
	switch {
	case t.IsZero():
		return def
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	}
	return t.UnixNano()
}

const compensationColumns = `event_id, line, claim_id, number, kind, entry, amount, currency, at, actor, role, status,
	settled_amount, settled_at, reference, reverses, reversed_by, stream, revision, commit_pos, prepare_pos`

func (q compensationsQueries) page(ctx context.Context, cq CompensationQuery) (CompensationPage, error) {
	limit := cq.Limit
	switch {
	case limit < 0:
		return CompensationPage{}, fmt.Errorf("%w: negative limit", ErrInvalidQuery)
	case limit == 0:
		limit = DefaultSearchLimit
	case limit > MaxCompensationLimit:
		limit = MaxCompensationLimit
	}
	from, to := nanos(cq.From, math.MinInt64), nanos(cq.To, math.MaxInt64)
	if from > to {
		return CompensationPage{}, fmt.Errorf("%w: from is after to", ErrInvalidQuery)
	}
	where := []string{`at >= ?`, `at < ?`}
	args := []any{from, to}
	in := func(column string, values, allowed []string) error {
		if len(values) == 0 {
			return nil
		}
		marks := make([]string, len(values))
		for i, v := range values {
			if !slices.Contains(allowed, v) {
				return fmt.Errorf("%w: unknown %s %q", ErrInvalidQuery, column, v)
			}
			marks[i] = "?"
			args = append(args, v)
		}
		where = append(where, column+` IN (`+strings.Join(marks, ", ")+`)`)
		return nil
	}
	if err := in("kind", cq.Kinds, CompensationKinds()); err != nil {
		return CompensationPage{}, err
	}
	if err := in("status", cq.Statuses, CompensationStatuses()); err != nil {
		return CompensationPage{}, err
	}
	if cq.Currency != "" {
		if _, ok := domain.CurrencyExponent(cq.Currency); !ok {
			return CompensationPage{}, fmt.Errorf("%w: unknown currency %q", ErrInvalidQuery, cq.Currency)
		}
		where = append(where, `currency = ?`)
		args = append(args, cq.Currency)
	}
	if cq.Cursor != "" {
		at, id, line, err := decodeCompensationCursor(cq.Cursor)
		if err != nil {
			return CompensationPage{}, err
		}
		where = append(where, `(at > ? OR (at = ? AND (event_id > ? OR (event_id = ? AND line > ?))))`)
		args = append(args, at, at, id, id, line)
	}

	g, release := q.p.acquire()
	defer release()
	t := g.tables.(*compTables)
	query := `SELECT ` + compensationColumns + ` FROM ` + t.table + ` WHERE ` + strings.Join(where, ` AND `) +
		` ORDER BY at, event_id, line` + limitClause(limit+1)
	rows, err := q.db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return CompensationPage{}, fmt.Errorf("projections: compensations: %w", err)
	}
	defer rows.Close()
	page := CompensationPage{Items: make([]Compensation, 0, min(limit, 64))}
	for rows.Next() {
		var (
			c                    Compensation
			eventID, claimID     string
			amount, settled      int64
			currency, reversedBy string
			at, revision, cp, pp int64
			settledAt            sql.NullInt64
		)
		if err := rows.Scan(&eventID, &c.Line, &claimID, &c.Number, &c.Kind, &c.Entry, &amount, &currency, &at,
			&c.Actor, &c.Role, &c.Status, &settled, &settledAt, &c.Reference, &c.Reverses, &reversedBy,
			&c.Stream, &revision, &cp, &pp); err != nil {
			return CompensationPage{}, fmt.Errorf("projections: compensations: %w", err)
		}
		if c.EventID, err = uuid.Parse(eventID); err != nil {
			return CompensationPage{}, fmt.Errorf("projections: compensations: event id %q: %w", eventID, err)
		}
		if c.ClaimID, err = uuid.Parse(claimID); err != nil {
			return CompensationPage{}, fmt.Errorf("projections: compensations: claim id %q: %w", claimID, err)
		}
		c.Amount = domain.Money{Amount: amount, Currency: currency}
		c.Settled = domain.Money{Amount: settled, Currency: currency}
		c.At = time.Unix(0, at).UTC()
		if settledAt.Valid {
			c.SettledAt = time.Unix(0, settledAt.Int64).UTC()
		}
		if reversedBy != "" {
			c.ReversedBy = strings.Split(reversedBy, " ")
		}
		c.Revision, c.Position = uint64(revision), positionOf(cp, pp)
		page.Items = append(page.Items, c)
	}
	if err := rows.Err(); err != nil {
		return CompensationPage{}, fmt.Errorf("projections: compensations: %w", err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = encodeCompensationCursor(last.At.UnixNano(), last.EventID.String(), last.Line)
	}
	return page, nil
}

// A compensation cursor is the sort key of the last row of a page, opaque
// to clients like the claims search cursor.
func encodeCompensationCursor(at int64, eventID string, line int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "c|%d|%s|%d", at, eventID, line))
}

func decodeCompensationCursor(c string) (int64, string, int, error) {
	bad := fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", 0, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 || parts[0] != "c" {
		return 0, "", 0, bad
	}
	at, err1 := strconv.ParseInt(parts[1], 10, 64)
	line, err2 := strconv.Atoi(parts[3])
	if _, err := uuid.Parse(parts[2]); err != nil || err1 != nil || err2 != nil {
		return 0, "", 0, bad
	}
	return at, parts[2], line, nil
}

// reconcile adds up the period claim by claim. SQLite sums each claim's
// rows (its SUM raises an error on overflow rather than wrapping), Go adds
// the claims up with checked arithmetic; both read one snapshot.
func (q compensationsQueries) reconcile(ctx context.Context, rq ReconciliationQuery) (Reconciliation, error) {
	from, to := nanos(rq.From, math.MinInt64), nanos(rq.To, math.MaxInt64)
	if from > to {
		return Reconciliation{}, fmt.Errorf("%w: from is after to", ErrInvalidQuery)
	}
	asOf := rq.AsOf.UTC()
	if !rq.To.IsZero() && rq.To.Before(asOf) {
		asOf = rq.To.UTC()
	}
	g, release := q.p.acquire()
	defer release()
	t := g.tables.(*compTables)
	tx, err := q.db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Reconciliation{}, fmt.Errorf("projections: reconciliation: %w", err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT CASE kind WHEN 'payment_received' THEN 'paid_repair_charge' ELSE kind END AS grp, currency,
		SUM(CASE WHEN at >= ?1 AND entry = 'approval' THEN amount ELSE 0 END),
		SUM(CASE WHEN at >= ?1 AND (entry = 'payment' OR kind IN ('credit_note', 'replacement')) THEN amount ELSE 0 END),
		SUM(CASE WHEN entry = 'approval' THEN amount ELSE 0 END),
		SUM(CASE WHEN entry = 'payment' OR kind IN ('credit_note', 'replacement') THEN amount ELSE 0 END),
		MIN(CASE WHEN entry = 'approval' AND amount > 0 AND (closed_at IS NULL OR closed_at >= ?2) THEN at END)
		FROM `+t.table+` WHERE at < ?2 GROUP BY claim_id, grp, currency`, from, to)
	if err != nil {
		return Reconciliation{}, reconcileError(err)
	}
	type key struct{ currency, kind string }
	totals := map[key]*ReconciliationTotal{}
	for rows.Next() {
		var (
			k                                    key
			approved, paid, approvedAll, paidAll int64
			oldest                               sql.NullInt64
		)
		if err := rows.Scan(&k.kind, &k.currency, &approved, &paid, &approvedAll, &paidAll, &oldest); err != nil {
			rows.Close()
			return Reconciliation{}, reconcileError(err)
		}
		tot := totals[k]
		if tot == nil {
			zero := domain.Money{Currency: k.currency}
			tot = &ReconciliationTotal{Currency: k.currency, Kind: k.kind, Approved: zero, Paid: zero, Outstanding: zero,
				Aging: []domain.Money{zero, zero, zero, zero}}
			totals[k] = tot
		}
		if err := addTo(&tot.Approved, approved); err != nil {
			rows.Close()
			return Reconciliation{}, err
		}
		if err := addTo(&tot.Paid, paid); err != nil {
			rows.Close()
			return Reconciliation{}, err
		}
		balance, err := domain.Money{Amount: approvedAll, Currency: k.currency}.Sub(domain.Money{Amount: paidAll, Currency: k.currency})
		if err != nil {
			rows.Close()
			return Reconciliation{}, fmt.Errorf("%w: %v", ErrTotalOverflow, err)
		}
		owed := balance.Amount
		if owed <= 0 || !domain.SettledByPayments(k.kind) {
			continue
		}
		if err := addTo(&tot.Outstanding, owed); err != nil {
			rows.Close()
			return Reconciliation{}, err
		}
		tot.OutstandingClaims++
		since := asOf
		if oldest.Valid {
			since = time.Unix(0, oldest.Int64).UTC()
		}
		if tot.OldestOutstanding.IsZero() || since.Before(tot.OldestOutstanding) {
			tot.OldestOutstanding = since
		}
		if err := addTo(&tot.Aging[agingBucket(asOf.Sub(since))], owed); err != nil {
			rows.Close()
			return Reconciliation{}, err
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return Reconciliation{}, reconcileError(err)
	}
	rows.Close()

	out := Reconciliation{AsOf: asOf, Totals: make([]ReconciliationTotal, 0, len(totals)), Discrepancies: []Discrepancy{}}
	for _, tot := range totals {
		out.Totals = append(out.Totals, *tot)
	}
	order := []string{KindRefund, KindReplacement, KindCreditNote, KindPaidRepairCharge, KindPriceDifference, KindSupplierRecovery}
	slices.SortFunc(out.Totals, func(a, b ReconciliationTotal) int {
		if c := strings.Compare(a.Currency, b.Currency); c != 0 {
			return c
		}
		return slices.Index(order, a.Kind) - slices.Index(order, b.Kind)
	})

	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.disc+` WHERE at >= ? AND at < ?`, from, to).Scan(&out.DiscrepancyCount); err != nil {
		return Reconciliation{}, reconcileError(err)
	}
	drows, err := tx.QueryContext(ctx, `SELECT claim_id, number, type, kind, amount, currency, at, event_ids, detail FROM `+t.disc+
		` WHERE at >= ? AND at < ? ORDER BY at, claim_id, seq`+limitClause(MaxDiscrepancies), from, to)
	if err != nil {
		return Reconciliation{}, reconcileError(err)
	}
	defer drows.Close()
	for drows.Next() {
		var (
			d                         Discrepancy
			claimID, currency, events string
			amount, at                int64
		)
		if err := drows.Scan(&claimID, &d.Number, &d.Type, &d.Kind, &amount, &currency, &at, &events, &d.Detail); err != nil {
			return Reconciliation{}, reconcileError(err)
		}
		if d.ClaimID, err = uuid.Parse(claimID); err != nil {
			return Reconciliation{}, fmt.Errorf("projections: reconciliation: claim id %q: %w", claimID, err)
		}
		for _, id := range strings.Fields(events) {
			u, err := uuid.Parse(id)
			if err != nil {
				return Reconciliation{}, fmt.Errorf("projections: reconciliation: event id %q: %w", id, err)
			}
			d.EventIDs = append(d.EventIDs, u)
		}
		d.Amount, d.At = domain.Money{Amount: amount, Currency: currency}, time.Unix(0, at).UTC()
		out.Discrepancies = append(out.Discrepancies, d)
	}
	if err := drows.Err(); err != nil {
		return Reconciliation{}, reconcileError(err)
	}
	return out, nil
}

// addTo adds minor units to a total, refusing to overflow.
func addTo(total *domain.Money, amount int64) error {
	sum, err := total.Add(domain.Money{Amount: amount, Currency: total.Currency})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTotalOverflow, err)
	}
	*total = sum
	return nil
}

// agingBucket is the index in AgingBuckets of an age.
func agingBucket(age time.Duration) int {
	days := int(age / (24 * time.Hour))
	switch {
	case days <= 30:
		return 0
	case days <= 60:
		return 1
	case days <= 90:
		return 2
	}
	return 3
}

// reconcileError recognises SQLite's refusal to overflow a SUM.
func reconcileError(err error) error {
	if strings.Contains(err.Error(), "integer overflow") {
		return fmt.Errorf("%w: %v", ErrTotalOverflow, err)
	}
	return fmt.Errorf("projections: reconciliation: %w", err)
}
