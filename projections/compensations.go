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
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
)

// Compensations is the finance read model: one row per financial fact of
// every claim (an approval of money or goods given or owed, a payment, a
// reversal), and the discrepancies found in each claim's money history.
// CompensationsPage and Reconciliation read it.
const Compensations = "compensations"

// The kinds of compensation row. Payments received from customers are the
// settlement of paid repair charges; refund, supplier recovery and price
// difference rows hold both approvals and payments (see Entry).
//
// A replacement by another model settles a price difference: a cheaper
// model's is a refund row of the replacement's event (line 1), a dearer
// model's a price_difference row (line 1), owed by the customer and settled
// by the payments made for it.
const (
	KindRefund           = "refund"
	KindReplacement      = "replacement"
	KindCreditNote       = "credit_note"
	KindPaidRepairCharge = "paid_repair_charge"
	KindPaymentReceived  = "payment_received"
	KindSupplierRecovery = "supplier_recovery"
	KindPriceDifference  = "price_difference"
)

// CompensationKinds lists every kind, for validating filters.
func CompensationKinds() []string {
	return []string{KindRefund, KindReplacement, KindCreditNote, KindPaidRepairCharge, KindPaymentReceived, KindSupplierRecovery, KindPriceDifference}
}

// What a row records: money (or goods) approved, given or owed, or money
// that moved. A reversal is a row of the same entry as the fact it
// reverses, with a negative amount.
const (
	EntryApproval = "approval"
	EntryPayment  = "payment"
)

// The statuses of a row. An approval is outstanding until payments cover
// it (refunds, paid repair charges, supplier recoveries; credit notes and
// replacements are settled when issued), settled once they do, reversed
// when corrections took all of it back. A payment is settled, or reversed.
// A reversal row itself has the status reversal.
const (
	StatusOutstanding = "outstanding"
	StatusSettled     = "settled"
	StatusReversed    = "reversed"
	StatusReversal    = "reversal"
)

// CompensationStatuses lists every row status, for validating filters.
func CompensationStatuses() []string {
	return []string{StatusOutstanding, StatusSettled, StatusReversed, StatusReversal}
}

// The kinds of discrepancy the model finds in a claim's money history. The
// domain refuses most of them at decision time; they can still be in the
// log, written before a rule existed, by another tool, or imported.
const (
	// DiscrepancyPaymentWithoutApproval: money moved with no approval
	// before it (a refund paid that was never approved, a payment received
	// with no accepted estimate, a supplier remittance never claimed).
	DiscrepancyPaymentWithoutApproval = "payment_without_approval"
	// DiscrepancyApprovalPaidTwice: a payment arrived for approvals that
	// payments already covered in full.
	DiscrepancyApprovalPaidTwice = "approval_paid_twice"
	// DiscrepancyPaymentDiffers: a payment larger than what was still owed,
	// or an approval reduced below what was already paid on it.
	DiscrepancyPaymentDiffers = "payment_differs_from_approval"
	// DiscrepancyClosedOutstanding: the claim was closed while a refund or
	// a paid repair charge was not fully paid. Supplier recoveries are not
	// counted: suppliers pay long after claims close.
	DiscrepancyClosedOutstanding = "closed_with_outstanding"
	// DiscrepancyCurrencyMismatch: an amount not in the claim's currency.
	DiscrepancyCurrencyMismatch = "currency_mismatch"
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

// compFact is one financial fact taken from an event, with where it came
// from. Facts are only ever appended: what changes (a row's status, what is
// settled) is derived from the list, so a claim's rows are a function of its
// events alone, and a rebuild writes the same rows as live delivery.
type compFact struct {
	eventID   string
	line      int // a second fact from the same event (a superseded charge's reversal, a replacement's price difference) is line 1
	revision  uint64
	position  eventstore.Position
	at        time.Time
	actor     string
	role      string
	kind      string
	entry     string
	amount    domain.Money // negative for a reversal
	reference string
	reverses  string // event id of the fact this one reverses
}

func (f compFact) reversal() bool { return f.amount.Amount < 0 || f.reverses != "" }

// compEntry is a claim folded up to (not including) revision next: what the
// model needs of the claim, and its facts.
type compEntry struct {
	number   string
	currency string       // the claim's, from the price
	estimate domain.Money // the latest estimate's total: what an acceptance charges
	closedBy string       // the event that closed or withdrew the claim
	closedAt time.Time
	facts    []compFact
	next     uint64
}

// moneyEvent reports whether an event can add a fact or close the claim. Any other event only advances the claim's revision, so its rows
// are not rewritten.
func moneyEvent(e domain.Event) bool {
	switch e := e.(type) {
	case domain.RefundApproved, domain.RefundPaid, domain.RefundApprovalReversed, domain.RefundPaymentReversed,
		domain.CreditNoteIssued, domain.CreditNoteCancelled, domain.ItemReplaced, domain.EstimateAccepted,
		domain.ClaimReturnedUnrepaired, domain.PaymentRecorded, domain.PaymentReversed,
		domain.SupplierRecoveryClaimed, domain.SupplierRecoveryReceived, domain.ClaimClosed, domain.ClaimWithdrawn:
		return true
	case domain.DisputeResolved:
		return !e.RefundCancelled.IsZero() || e.Outcome == domain.DisputeOverturned
	}
	return false
}

// advance folds one event into a copy of the entry. It reports whether the
// claim's rows may have changed.
func (e compEntry) advance(it item) (compEntry, bool, error) {
	e.next = it.rec.Revision + 1
	switch ev := it.event.(type) {
	case domain.ClaimRegistered:
		e.number, e.currency = ev.Number, ev.Price.Currency
		return e, false, nil
	case domain.EstimateIssued:
		e.estimate = ev.Total
		return e, false, nil
	}
	if !moneyEvent(it.event) {
		return e, false, nil
	}
	meta, err := decodeMetadata(it.rec.Metadata)
	if err != nil {
		return e, false, err
	}
	fact := func(kind, entry string, amount domain.Money, reference, reverses string) compFact {
		return compFact{
			eventID: it.rec.ID.String(), revision: it.rec.Revision, position: it.rec.Position,
			at: factTime(it, meta), actor: meta.Actor, role: meta.Role,
			kind: kind, entry: entry, amount: amount, reference: reference, reverses: reverses,
		}
	}
	negate := func(m domain.Money) domain.Money { return domain.Money{Amount: -m.Amount, Currency: m.Currency} }
	var add []compFact
	switch ev := it.event.(type) {
	case domain.RefundApproved:
		add = append(add, fact(KindRefund, EntryApproval, ev.Amount, ev.Reference, ""))
	case domain.RefundPaid:
		add = append(add, fact(KindRefund, EntryPayment, ev.Amount, ev.Reference, ""))
	case domain.RefundApprovalReversed:
		add = append(add, fact(KindRefund, EntryApproval, negate(ev.Amount), "", e.openApproval(KindRefund)))
	case domain.DisputeResolved:
		if !ev.RefundCancelled.IsZero() {
			add = append(add, fact(KindRefund, EntryApproval, negate(ev.RefundCancelled), "", e.openApproval(KindRefund)))
		}
		// Overturned: the replacement by a dearer model no longer stands, nor its price
		// difference; what was paid on it is credit for the next decision.
		if prev := e.openApproval(KindPriceDifference); ev.Outcome == domain.DisputeOverturned && prev != "" {
			f := fact(KindPriceDifference, EntryApproval, negate(e.approvalNet(prev, KindPriceDifference)), "", prev)
			f.line = 1
			add = append(add, f)
		}
	case domain.RefundPaymentReversed:
		add = append(add, fact(KindRefund, EntryPayment, negate(ev.Amount), ev.Reference, e.standing(KindRefund, EntryPayment, ev.Reference)))
	case domain.CreditNoteIssued:
		add = append(add, fact(KindCreditNote, EntryApproval, ev.Amount, ev.Number, ""))
	case domain.CreditNoteCancelled:
		add = append(add, fact(KindCreditNote, EntryApproval, negate(ev.Amount), ev.Number, e.standing(KindCreditNote, EntryApproval, ev.Number)))
	case domain.ItemReplaced:
		value := ev.Value
		if value.IsZero() {
			value = domain.Money{Currency: e.currency} // given, value not recorded
		}
		add = append(add, fact(KindReplacement, EntryApproval, value, ev.Reference, ""))
		// Another model: the price difference, owed to or by the customer.
		var difference compFact
		switch {
		case !ev.DifferenceRefund.IsZero():
			difference = fact(KindRefund, EntryApproval, ev.DifferenceRefund, ev.Reference, "")
		case !ev.DifferenceCharge.IsZero():
			difference = fact(KindPriceDifference, EntryApproval, ev.DifferenceCharge, ev.Reference, "")
		}
		if difference.kind != "" {
			difference.line = 1
			add = append(add, difference)
		}
	case domain.EstimateAccepted:
		// The customer now owes the latest estimate; an earlier accepted
		// one it replaces (after an overturned appeal) is owed no more.
		// The reversal goes first, so that what was paid on the old charge
		// is free when the new one is settled.
		if prev := e.openApproval(KindPaidRepairCharge); prev != "" {
			f := fact(KindPaidRepairCharge, EntryApproval, negate(e.approvalNet(prev, KindPaidRepairCharge)), "", prev)
			f.line = 1
			add = append(add, f)
		}
		add = append(add, fact(KindPaidRepairCharge, EntryApproval, e.estimate, ev.Reference, ""))
	case domain.ClaimReturnedUnrepaired:
		// An accepted estimate abandoned: the work was never done.
		if prev := e.openApproval(KindPaidRepairCharge); prev != "" {
			add = append(add, fact(KindPaidRepairCharge, EntryApproval, negate(e.approvalNet(prev, KindPaidRepairCharge)), "", prev))
		}
	case domain.PaymentRecorded:
		kind := KindPaymentReceived
		if ev.For == domain.PaymentForPriceDifference {
			kind = KindPriceDifference
		}
		add = append(add, fact(kind, EntryPayment, ev.Amount, ev.Reference, ""))
	case domain.PaymentReversed:
		kind, reversed := KindPaymentReceived, e.standing(KindPaymentReceived, EntryPayment, ev.Reference)
		if reversed == "" {
			if id := e.standing(KindPriceDifference, EntryPayment, ev.Reference); id != "" {
				kind, reversed = KindPriceDifference, id
			}
		}
		add = append(add, fact(kind, EntryPayment, negate(ev.Amount), ev.Reference, reversed))
	case domain.SupplierRecoveryClaimed:
		add = append(add, fact(KindSupplierRecovery, EntryApproval, ev.Amount, ev.Reference, ""))
	case domain.SupplierRecoveryReceived:
		add = append(add, fact(KindSupplierRecovery, EntryPayment, ev.Amount, ev.Reference, ""))
	case domain.ClaimWithdrawn:
		// An estimate accepted before the goods travelled, abandoned unpaid.
		if prev := e.openApproval(KindPaidRepairCharge); prev != "" {
			add = append(add, fact(KindPaidRepairCharge, EntryApproval, negate(e.approvalNet(prev, KindPaidRepairCharge)), "", prev))
		}
		e.closedBy, e.closedAt = it.rec.ID.String(), factTime(it, meta)
	case domain.ClaimClosed:
		e.closedBy, e.closedAt = it.rec.ID.String(), factTime(it, meta)
	}
	e.facts = append(slices.Clip(e.facts), add...)
	return e, true, nil
}

// factTime is when a fact happened: the event's own time (the decision
// time), else the metadata's, else when the store recorded the event.
func factTime(it item, meta ledger.Metadata) time.Time {
	if at := domain.OccurredAt(it.event); !at.IsZero() {
		return at.UTC()
	}
	if !meta.OccurredAt.IsZero() {
		return meta.OccurredAt.UTC()
	}
	return it.rec.Created.UTC()
}

// approvalNet is an approval's amount less the reversals of it so far. An
// approval is named by its event and kind: one event may approve two things
// (a replacement and its price difference), never two of one kind.
func (e compEntry) approvalNet(id, kind string) domain.Money {
	var net domain.Money
	for _, f := range e.facts {
		if f.eventID == id && f.kind == kind && !f.reversal() {
			net = f.amount
		}
	}
	for _, f := range e.facts {
		if f.reverses == id && f.kind == kind {
			net.Amount += f.amount.Amount
		}
	}
	return net
}

// openApproval is the latest approval of a kind that reversals have not
// taken back in full: the one a reversal without a reference reverses.
func (e compEntry) openApproval(kind string) string {
	for i := len(e.facts) - 1; i >= 0; i-- {
		f := e.facts[i]
		if f.kind == kind && f.entry == EntryApproval && !f.reversal() && e.approvalNet(f.eventID, kind).Amount > 0 {
			return f.eventID
		}
	}
	return ""
}

// standing is the latest fact of a kind and entry with this reference that
// no reversal names yet: the payment or credit note a reversal reverses.
func (e compEntry) standing(kind, entry, reference string) string {
	for i := len(e.facts) - 1; i >= 0; i-- {
		f := e.facts[i]
		if f.kind != kind || f.entry != entry || f.reversal() || f.reference != reference {
			continue
		}
		if !slices.ContainsFunc(e.facts, func(r compFact) bool { return r.reverses == f.eventID }) {
			return f.eventID
		}
	}
	return ""
}

// compRow is a fact with what is derived from the claim's other facts.
type compRow struct {
	compFact
	status     string
	settled    int64     // of an approval: how much of it payments covered
	settledAt  time.Time // when it was settled in full (zero while not)
	closedAt   time.Time // when it stopped being outstanding (zero while it is)
	reversedBy []string
}

// discrepancy is a problem in one claim's money history, with the events
// behind it.
type discrepancy struct {
	kind     string // the compensation kind it concerns
	typ      string
	amount   domain.Money
	at       time.Time
	eventIDs []string
	detail   string
}

// group is the compensation kind a fact counts under in the books:
// customer payments settle paid repair charges.
func group(kind string) string {
	if kind == KindPaymentReceived {
		return KindPaidRepairCharge
	}
	return kind
}

// cashKind reports whether approvals of the kind are settled by payments;
// credit notes and replacements are settled when issued.
func cashKind(kind string) bool {
	return kind == KindRefund || kind == KindPaidRepairCharge || kind == KindSupplierRecovery || kind == KindPriceDifference
}

// derive computes every row's status and the discrepancies of a claim from
// its facts, kind by kind, in the order the facts happened. Payments are
// allocated to the open approvals oldest first; a payment beyond what is
// owed is kept as credit for a later approval (the domain counts earlier
// payments towards a new estimate), and reported.
func (e *compEntry) derive() ([]compRow, []discrepancy) {
	rows := make([]compRow, len(e.facts))
	index := make(map[string]int, len(e.facts)) // factKey of a fact that is no reversal -> row
	for i, f := range e.facts {
		rows[i] = compRow{compFact: f}
		if !f.reversal() {
			index[factKey(f.eventID, f.kind)] = i
		}
	}
	for _, f := range e.facts {
		if j, ok := index[factKey(f.reverses, f.kind)]; ok && f.reversal() {
			rows[j].reversedBy = append(rows[j].reversedBy, f.eventID)
		}
	}
	var found []discrepancy
	for _, kind := range []string{KindRefund, KindPaidRepairCharge, KindSupplierRecovery, KindCreditNote, KindReplacement, KindPriceDifference} {
		found = append(found, e.deriveKind(kind, rows, index)...)
	}
	if e.closedBy != "" {
		for _, kind := range []string{KindRefund, KindPaidRepairCharge, KindPriceDifference} {
			var (
				owed int64
				ids  []string
			)
			for _, r := range rows {
				if group(r.kind) == kind && r.entry == EntryApproval && !r.reversal() && r.status == StatusOutstanding && r.amount.Currency == e.currency {
					owed += e.approvalNetOf(r, rows) - r.settled
					ids = append(ids, r.eventID)
				}
			}
			if owed > 0 {
				m := domain.Money{Amount: owed, Currency: e.currency}
				found = append(found, discrepancy{kind: kind, typ: DiscrepancyClosedOutstanding, amount: m, at: e.closedAt,
					eventIDs: append(ids, e.closedBy), detail: fmt.Sprintf("closed with %s of %s unpaid", m, kindLabel(kind))})
			}
		}
	}
	slices.SortStableFunc(found, func(a, b discrepancy) int { return a.at.Compare(b.at) })
	return rows, found
}

// factKey names a fact that is no reversal: its event and kind (see
// approvalNet). A reversal names the fact it reverses by its event, and is
// of the same kind.
func factKey(eventID, kind string) string { return eventID + "/" + kind }

// approvalNetOf is an approval row's amount net of its reversals.
func (e *compEntry) approvalNetOf(r compRow, rows []compRow) int64 {
	net := r.amount.Amount
	for _, o := range rows {
		if o.reverses == r.eventID && o.kind == r.kind && o.reversal() {
			net += o.amount.Amount
		}
	}
	return net
}

// open is an approval waiting for payment during derive.
type open struct {
	row       int
	remaining int64
}

// deriveKind settles one kind's approvals with its payments.
func (e *compEntry) deriveKind(kind string, rows []compRow, index map[string]int) []discrepancy {
	var (
		found     []discrepancy
		queue     []open   // approvals not fully paid, oldest first
		credits   []credit // paid beyond what is owed, for later approvals
		approvals []string
		payments  []string
		seen      bool // an approval of this kind has been recorded
	)
	reversed := func(r compRow) bool { return len(r.reversedBy) > 0 }
	// draw takes up to need from the credits, oldest first.
	draw := func(need int64) int64 {
		var got int64
		for i := range credits {
			take := min(need-got, credits[i].amount)
			credits[i].amount -= take
			got += take
		}
		return got
	}
	// freed keeps what a reversal left paid beyond what is now owed. It is
	// a discrepancy only if no later approval takes it up: a new estimate
	// accepted after an appeal replaces the old charge, and what was paid on
	// the old one counts towards it, as the domain has it.
	freed := func(amount int64, t *compRow, r *compRow) {
		if amount <= 0 {
			return
		}
		credits = append(credits, credit{amount: amount, d: &discrepancy{kind: kind, typ: DiscrepancyPaymentDiffers, at: r.at,
			eventIDs: []string{t.eventID, r.eventID}, detail: kindLabel(kind) + " reduced below what was paid on it: %s paid more than is now owed"}})
	}
	for i := range rows {
		r := &rows[i]
		if group(r.kind) != kind {
			continue
		}
		switch {
		case r.reversal():
			r.status, r.settled, r.settledAt, r.closedAt = StatusReversal, r.amount.Amount, r.at, r.at
		case r.entry == EntryPayment && reversed(*r):
			r.status, r.settled, r.settledAt, r.closedAt = StatusReversed, r.amount.Amount, r.at, r.at
		case r.entry == EntryPayment:
			r.status, r.settled, r.settledAt, r.closedAt = StatusSettled, r.amount.Amount, r.at, r.at
		case !cashKind(kind):
			net := e.approvalNetOf(*r, rows)
			r.status, r.settled, r.settledAt, r.closedAt = StatusSettled, net, r.at, r.at
			if net <= 0 && reversed(*r) {
				r.status, r.settled = StatusReversed, 0
			}
		default:
			r.status = StatusOutstanding // until a payment or reversal below says otherwise
		}
		if r.amount.Currency != e.currency {
			found = append(found, discrepancy{kind: kind, typ: DiscrepancyCurrencyMismatch, amount: r.amount, at: r.at, eventIDs: []string{r.eventID},
				detail: fmt.Sprintf("%s %s in %s, the claim is in %s", kindLabel(r.kind), r.entry, r.amount.Currency, e.currency)})
			continue
		}
		if !cashKind(kind) {
			continue
		}
		switch {
		case r.entry == EntryApproval && !r.reversal():
			seen = true
			approvals = append(approvals, r.eventID)
			o := open{row: i, remaining: r.amount.Amount}
			take := draw(o.remaining)
			o.remaining -= take
			rows[i].settled += take
			if o.remaining > 0 {
				queue = append(queue, o)
			} else {
				rows[i].status, rows[i].settledAt, rows[i].closedAt = StatusSettled, r.at, r.at
			}
		case r.entry == EntryApproval: // a reversal of an approval
			j, ok := index[factKey(r.reverses, r.kind)]
			if !ok {
				continue
			}
			q := slices.IndexFunc(queue, func(o open) bool { return o.row == j })
			if q < 0 {
				// Reversing an approval already paid in full: what was paid
				// on it is now more than it asks.
				t := &rows[j]
				excess := min(-r.amount.Amount, t.settled)
				t.settled -= excess
				if e.approvalNetOf(*t, rows) <= 0 && t.settled <= 0 {
					t.status, t.closedAt = StatusReversed, r.at
				}
				freed(excess, t, r)
				continue
			}
			o := &queue[q]
			o.remaining += r.amount.Amount
			if o.remaining <= 0 {
				t := &rows[j]
				t.settled += o.remaining // a reversal beyond the unpaid part frees what was paid
				if t.settled > 0 {
					t.status, t.settledAt = StatusSettled, r.at
				} else {
					t.status, t.settled = StatusReversed, 0
				}
				t.closedAt = r.at
				freed(-o.remaining, t, r)
				queue = slices.Delete(queue, q, q+1)
			}
		case r.entry == EntryPayment && !reversed(*r):
			var owed int64
			for _, o := range queue {
				owed += o.remaining
			}
			ids := append(append(slices.Clone(approvals), payments...), r.eventID)
			switch {
			case !seen:
				found = append(found, discrepancy{kind: kind, typ: DiscrepancyPaymentWithoutApproval, amount: r.amount, at: r.at, eventIDs: []string{r.eventID},
					detail: fmt.Sprintf("%s of %s paid with no approval before it", r.amount, kindLabel(kind))})
			case owed <= 0:
				found = append(found, discrepancy{kind: kind, typ: DiscrepancyApprovalPaidTwice, amount: r.amount, at: r.at, eventIDs: ids,
					detail: fmt.Sprintf("%s paid again after %s was paid in full", r.amount, kindLabel(kind))})
			case r.amount.Amount > owed:
				m := domain.Money{Amount: r.amount.Amount - owed, Currency: e.currency}
				found = append(found, discrepancy{kind: kind, typ: DiscrepancyPaymentDiffers, amount: m, at: r.at, eventIDs: ids,
					detail: fmt.Sprintf("%s paid where %s was owed: %s too much", r.amount, domain.Money{Amount: owed, Currency: e.currency}, m)})
			}
			payments = append(payments, r.eventID)
			left := r.amount.Amount
			for len(queue) > 0 && left > 0 {
				o := &queue[0]
				take := min(left, o.remaining)
				left, o.remaining = left-take, o.remaining-take
				rows[o.row].settled += take
				if o.remaining == 0 {
					rows[o.row].status, rows[o.row].settledAt, rows[o.row].closedAt = StatusSettled, r.at, r.at
					queue = queue[1:]
				}
			}
			if left > 0 {
				credits = append(credits, credit{amount: left}) // reported above
			}
		}
	}
	for _, c := range credits {
		if c.d != nil && c.amount > 0 {
			d := *c.d
			d.amount = domain.Money{Amount: c.amount, Currency: e.currency}
			d.detail = fmt.Sprintf(d.detail, d.amount)
			found = append(found, d)
		}
	}
	return found
}

// credit is money paid beyond what was owed. d is the discrepancy to report
// if it is never taken up (nil when it was reported when paid).
type credit struct {
	amount int64
	d      *discrepancy
}

// kindLabel names a kind in a discrepancy's detail.
func kindLabel(kind string) string { return strings.ReplaceAll(kind, "_", " ") }

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
	found   []discrepancy
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
		t.rows = append(t.rows, compClaimRows{claimID: strings.TrimPrefix(key, ledger.ClaimStreamPrefix), number: e.number, rows: rows, found: found})
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
			if _, err := insRow.ExecContext(ctx, r.eventID, r.line, c.claimID, c.number, r.kind, r.entry, r.amount.Amount, r.amount.Currency,
				r.at.UnixNano(), r.actor, r.role, r.status, r.settled, nullTime(r.settledAt), nullTime(r.closedAt), r.reference,
				r.reverses, strings.Join(r.reversedBy, " "), ledger.ClaimStreamPrefix+c.claimID, int64(r.revision), cp, pp); err != nil {
				return fmt.Errorf("projections: compensations: write %s: %w", c.claimID, err)
			}
		}
		for i, d := range c.found {
			if _, err := insDisc.ExecContext(ctx, c.claimID, i, c.number, d.typ, d.kind, d.amount.Amount, d.amount.Currency,
				d.at.UnixNano(), strings.Join(d.eventIDs, " "), d.detail); err != nil {
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
