package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the finance reconciliation rules: which financial facts an event of a claim
// is (Books.Record), and how a claim's money history reconciles (Books.Reconcile): what each
// approval has been paid, which facts were reversed, and the discrepancies. The finance read
// model stores what they return; they are pure, so that a rebuild writes the same rows as live
// delivery.

// The kinds of financial fact. Payments received from customers are the settlement of paid
// repair charges; refund, supplier recovery and price difference facts hold both approvals and
// payments (see FinancialFact.Entry).
//
// A replacement by another model settles a price difference: a cheaper model's is a refund fact
// of the replacement's event (line 1), a dearer model's a price_difference fact (line 1), owed by
// the customer and settled by the payments made for it.
const (
	FactRefund           = "refund"
	FactReplacement      = "replacement"
	FactCreditNote       = "credit_note"
	FactPaidRepairCharge = "paid_repair_charge"
	FactPaymentReceived  = "payment_received"
	FactSupplierRecovery = "supplier_recovery"
	FactPriceDifference  = "price_difference"
)

// FactKinds lists every kind of financial fact.
func FactKinds() []string {
	return []string{FactRefund, FactReplacement, FactCreditNote, FactPaidRepairCharge, FactPaymentReceived, FactSupplierRecovery, FactPriceDifference}
}

// What a fact records: money (or goods) approved, given or owed, or money that moved. A
// reversal is a fact of the same entry as the fact it reverses, with a negative amount.
const (
	EntryApproval = "approval"
	EntryPayment  = "payment"
)

// The standings of a reconciled fact. An approval is outstanding until payments cover it
// (refunds, paid repair charges, supplier recoveries, price differences; credit notes and
// replacements are settled when issued), settled once they do, reversed when corrections took
// all of it back. A payment is settled, or reversed. A reversal itself has the standing
// reversal.
const (
	FactOutstanding = "outstanding"
	FactSettled     = "settled"
	FactReversed    = "reversed"
	FactReversal    = "reversal"
)

// FactStandings lists every standing of a reconciled fact.
func FactStandings() []string {
	return []string{FactOutstanding, FactSettled, FactReversed, FactReversal}
}

// The kinds of discrepancy Reconcile finds in a claim's money history. Decide refuses most of
// them; they can still be in the log, written before a rule existed, by another tool, or
// imported.
const (
	// DiscrepancyPaymentWithoutApproval: money moved with no approval before it (a refund paid
	// that was never approved, a payment received with no accepted estimate, a supplier
	// remittance never claimed).
	DiscrepancyPaymentWithoutApproval = "payment_without_approval"
	// DiscrepancyApprovalPaidTwice: a payment arrived for approvals that payments already
	// covered in full.
	DiscrepancyApprovalPaidTwice = "approval_paid_twice"
	// DiscrepancyPaymentDiffers: a payment larger than what was still owed, or an approval
	// reduced below what was already paid on it.
	DiscrepancyPaymentDiffers = "payment_differs_from_approval"
	// DiscrepancyClosedOutstanding: the claim was closed while a refund, a paid repair charge or
	// a price difference was not fully paid. Supplier recoveries are not counted: suppliers pay
	// long after claims close.
	DiscrepancyClosedOutstanding = "closed_with_outstanding"
	// DiscrepancyCurrencyMismatch: an amount not in the claim's currency.
	DiscrepancyCurrencyMismatch = "currency_mismatch"
)

// FinancialFact is one financial fact taken from an event of a claim.
type FinancialFact struct {
	EventID string // the event it was taken from
	// Line tells apart two facts of one event: a second fact (a superseded charge's reversal,
	// a replacement's price difference) is line 1.
	Line      int
	At        time.Time
	Kind      string // FactRefund, ...
	Entry     string // EntryApproval or EntryPayment
	Amount    Money  // negative for a reversal
	Reference string // the payment's, credit note's or supplier's reference
	Reverses  string // the event id of the fact this one reverses
}

// Reversal reports whether the fact takes back another.
func (f FinancialFact) Reversal() bool { return f.Amount.Amount < 0 || f.Reverses != "" }

// Books is a claim's money history: its facts, in the order they happened, and what
// reconciling them needs to know of the claim. The zero value is a claim with no events;
// Record folds events into it. Facts are only ever appended: what changes (a fact's standing,
// what is settled) is derived from them by Reconcile.
type Books struct {
	Currency string    // the claim's, from its price
	Estimate Money     // the latest estimate's total: what an acceptance charges
	ClosedBy string    // the event that closed or withdrew the claim
	ClosedAt time.Time // when it did
	Facts    []FinancialFact
}

// MovesMoney reports whether Record may add a fact for the event or close the books. Any other
// event leaves the facts as they are.
func MovesMoney(e Event) bool {
	switch e := e.(type) {
	case RefundApproved, RefundPaid, RefundApprovalReversed, RefundPaymentReversed,
		CreditNoteIssued, CreditNoteCancelled, ItemReplaced, EstimateAccepted,
		ClaimReturnedUnrepaired, PaymentRecorded, PaymentReversed,
		SupplierRecoveryClaimed, SupplierRecoveryReceived, ClaimClosed, ClaimWithdrawn:
		return true
	case DisputeResolved:
		return !e.RefundCancelled.IsZero() || e.Outcome == DisputeOverturned
	}
	return false
}

// Record folds one event of the claim into a copy of the books: eventID names the event, at is
// when it happened. Both are read only for events MovesMoney reports; the books it is given are
// left alone.
func (b Books) Record(eventID string, at time.Time, e Event) Books {
	switch ev := e.(type) {
	case ClaimRegistered:
		b.Currency = ev.Price.Currency
		return b
	case EstimateIssued:
		b.Estimate = ev.Total
		return b
	}
	if !MovesMoney(e) {
		return b
	}
	fact := func(kind, entry string, amount Money, reference, reverses string) FinancialFact {
		return FinancialFact{EventID: eventID, At: at, Kind: kind, Entry: entry, Amount: amount, Reference: reference, Reverses: reverses}
	}
	negate := func(m Money) Money { return Money{Amount: -m.Amount, Currency: m.Currency} }
	var add []FinancialFact
	switch ev := e.(type) {
	case RefundApproved:
		add = append(add, fact(FactRefund, EntryApproval, ev.Amount, ev.Reference, ""))
	case RefundPaid:
		add = append(add, fact(FactRefund, EntryPayment, ev.Amount, ev.Reference, ""))
	case RefundApprovalReversed:
		add = append(add, fact(FactRefund, EntryApproval, negate(ev.Amount), "", b.openApproval(FactRefund)))
	case DisputeResolved:
		if !ev.RefundCancelled.IsZero() {
			add = append(add, fact(FactRefund, EntryApproval, negate(ev.RefundCancelled), "", b.openApproval(FactRefund)))
		}
		// Overturned: the replacement by a dearer model no longer stands, nor its price
		// difference; what was paid on it is credit for the next decision.
		if prev := b.openApproval(FactPriceDifference); ev.Outcome == DisputeOverturned && prev != "" {
			f := fact(FactPriceDifference, EntryApproval, negate(b.approvalNet(prev, FactPriceDifference)), "", prev)
			f.Line = 1
			add = append(add, f)
		}
	case RefundPaymentReversed:
		add = append(add, fact(FactRefund, EntryPayment, negate(ev.Amount), ev.Reference, b.standing(FactRefund, EntryPayment, ev.Reference)))
	case CreditNoteIssued:
		add = append(add, fact(FactCreditNote, EntryApproval, ev.Amount, ev.Number, ""))
	case CreditNoteCancelled:
		add = append(add, fact(FactCreditNote, EntryApproval, negate(ev.Amount), ev.Number, b.standing(FactCreditNote, EntryApproval, ev.Number)))
	case ItemReplaced:
		value := ev.Value
		if value.IsZero() {
			value = Money{Currency: b.Currency} // given, value not recorded
		}
		add = append(add, fact(FactReplacement, EntryApproval, value, ev.Reference, ""))
		// Another model: the price difference, owed to or by the customer.
		var difference FinancialFact
		switch {
		case !ev.DifferenceRefund.IsZero():
			difference = fact(FactRefund, EntryApproval, ev.DifferenceRefund, ev.Reference, "")
		case !ev.DifferenceCharge.IsZero():
			difference = fact(FactPriceDifference, EntryApproval, ev.DifferenceCharge, ev.Reference, "")
		}
		if difference.Kind != "" {
			difference.Line = 1
			add = append(add, difference)
		}
	case EstimateAccepted:
		// The customer now owes the latest estimate; an earlier accepted one it replaces (after
		// an overturned appeal) is owed no more. The reversal goes first, so that what was paid
		// on the old charge is free when the new one is settled.
		if prev := b.openApproval(FactPaidRepairCharge); prev != "" {
			f := fact(FactPaidRepairCharge, EntryApproval, negate(b.approvalNet(prev, FactPaidRepairCharge)), "", prev)
			f.Line = 1
			add = append(add, f)
		}
		add = append(add, fact(FactPaidRepairCharge, EntryApproval, b.Estimate, ev.Reference, ""))
	case ClaimReturnedUnrepaired:
		// An accepted estimate abandoned: the work was never done.
		if prev := b.openApproval(FactPaidRepairCharge); prev != "" {
			add = append(add, fact(FactPaidRepairCharge, EntryApproval, negate(b.approvalNet(prev, FactPaidRepairCharge)), "", prev))
		}
	case PaymentRecorded:
		kind := FactPaymentReceived
		if ev.For == PaymentForPriceDifference {
			kind = FactPriceDifference
		}
		add = append(add, fact(kind, EntryPayment, ev.Amount, ev.Reference, ""))
	case PaymentReversed:
		kind, reversed := FactPaymentReceived, b.standing(FactPaymentReceived, EntryPayment, ev.Reference)
		if reversed == "" {
			if id := b.standing(FactPriceDifference, EntryPayment, ev.Reference); id != "" {
				kind, reversed = FactPriceDifference, id
			}
		}
		add = append(add, fact(kind, EntryPayment, negate(ev.Amount), ev.Reference, reversed))
	case SupplierRecoveryClaimed:
		add = append(add, fact(FactSupplierRecovery, EntryApproval, ev.Amount, ev.Reference, ""))
	case SupplierRecoveryReceived:
		add = append(add, fact(FactSupplierRecovery, EntryPayment, ev.Amount, ev.Reference, ""))
	case ClaimWithdrawn:
		// An estimate accepted before the goods travelled, abandoned unpaid.
		if prev := b.openApproval(FactPaidRepairCharge); prev != "" {
			add = append(add, fact(FactPaidRepairCharge, EntryApproval, negate(b.approvalNet(prev, FactPaidRepairCharge)), "", prev))
		}
		b.ClosedBy, b.ClosedAt = eventID, at
	case ClaimClosed:
		b.ClosedBy, b.ClosedAt = eventID, at
	}
	// Clipped, so that appending never writes into the array of the books given.
	b.Facts = append(slices.Clip(b.Facts), add...)
	return b
}

// approvalNet is an approval's amount less the reversals of it so far. An approval is named by
// its event and kind: one event may approve two things (a replacement and its price
// difference), never two of one kind.
func (b Books) approvalNet(id, kind string) Money {
	var net Money
	for _, f := range b.Facts {
		if f.EventID == id && f.Kind == kind && !f.Reversal() {
			net = f.Amount
		}
	}
	for _, f := range b.Facts {
		if f.Reverses == id && f.Kind == kind {
			net.Amount += f.Amount.Amount
		}
	}
	return net
}

// openApproval is the latest approval of a kind that reversals have not taken back in full: the
// one a reversal without a reference reverses.
func (b Books) openApproval(kind string) string {
	for i := len(b.Facts) - 1; i >= 0; i-- {
		f := b.Facts[i]
		if f.Kind == kind && f.Entry == EntryApproval && !f.Reversal() && b.approvalNet(f.EventID, kind).Amount > 0 {
			return f.EventID
		}
	}
	return ""
}

// standing is the latest fact of a kind and entry with this reference that no reversal names
// yet: the payment or credit note a reversal reverses.
func (b Books) standing(kind, entry, reference string) string {
	for i := len(b.Facts) - 1; i >= 0; i-- {
		f := b.Facts[i]
		if f.Kind != kind || f.Entry != entry || f.Reversal() || f.Reference != reference {
			continue
		}
		if !slices.ContainsFunc(b.Facts, func(r FinancialFact) bool { return r.Reverses == f.EventID }) {
			return f.EventID
		}
	}
	return ""
}

// FactStanding is a fact with what is derived from the claim's other facts.
type FactStanding struct {
	FinancialFact
	Status     string    // FactOutstanding, FactSettled, FactReversed or FactReversal
	Settled    int64     // of an approval: how much of it payments covered (minor units)
	SettledAt  time.Time // when it was settled in full (zero while not)
	ClosedAt   time.Time // when it stopped being outstanding (zero while it is)
	ReversedBy []string  // the events of the facts that reverse it
}

// Discrepancy is a problem in one claim's money history, with the events behind it.
type Discrepancy struct {
	Kind     string // the kind of fact it concerns (customer payments count as paid repair charges)
	Type     string // DiscrepancyPaymentWithoutApproval, ...
	Amount   Money
	At       time.Time
	EventIDs []string
	Detail   string // a sentence for people
}

// CountedAs is the kind a fact of the kind counts under in the books and in discrepancies:
// customer payments settle paid repair charges.
func CountedAs(kind string) string {
	if kind == FactPaymentReceived {
		return FactPaidRepairCharge
	}
	return kind
}

// SettledByPayments reports whether approvals of the kind are settled by payments (they stay
// outstanding until paid); credit notes and replacements are settled when issued.
func SettledByPayments(kind string) bool {
	return kind == FactRefund || kind == FactPaidRepairCharge || kind == FactSupplierRecovery || kind == FactPriceDifference
}

// Reconcile computes the standing of every fact (in the order of b.Facts) and the discrepancies
// of the claim, ordered by time, kind by kind in the order the facts happened. Payments are
// allocated to the open approvals oldest first; a payment beyond what is owed is kept as credit
// for a later approval (Decide counts earlier payments towards a new estimate), and reported.
func (b Books) Reconcile() ([]FactStanding, []Discrepancy) {
	rows := make([]FactStanding, len(b.Facts))
	index := make(map[string]int, len(b.Facts)) // factKey of a fact that is no reversal -> row
	for i, f := range b.Facts {
		rows[i] = FactStanding{FinancialFact: f}
		if !f.Reversal() {
			index[factKey(f.EventID, f.Kind)] = i
		}
	}
	for _, f := range b.Facts {
		if j, ok := index[factKey(f.Reverses, f.Kind)]; ok && f.Reversal() {
			rows[j].ReversedBy = append(rows[j].ReversedBy, f.EventID)
		}
	}
	var found []Discrepancy
	for _, kind := range []string{FactRefund, FactPaidRepairCharge, FactSupplierRecovery, FactCreditNote, FactReplacement, FactPriceDifference} {
		found = append(found, b.reconcileKind(kind, rows, index)...)
	}
	if b.ClosedBy != "" {
		for _, kind := range []string{FactRefund, FactPaidRepairCharge, FactPriceDifference} {
			var (
				owed int64
				ids  []string
			)
			for _, r := range rows {
				if CountedAs(r.Kind) == kind && r.Entry == EntryApproval && !r.Reversal() && r.Status == FactOutstanding && r.Amount.Currency == b.Currency {
					owed += approvalNetOf(r, rows) - r.Settled
					ids = append(ids, r.EventID)
				}
			}
			if owed > 0 {
				m := Money{Amount: owed, Currency: b.Currency}
				found = append(found, Discrepancy{Kind: kind, Type: DiscrepancyClosedOutstanding, Amount: m, At: b.ClosedAt,
					EventIDs: append(ids, b.ClosedBy), Detail: fmt.Sprintf("closed with %s of %s unpaid", m, kindLabel(kind))})
			}
		}
	}
	slices.SortStableFunc(found, func(a, b Discrepancy) int { return a.At.Compare(b.At) })
	return rows, found
}

// factKey names a fact that is no reversal: its event and kind (see approvalNet). A reversal
// names the fact it reverses by its event, and is of the same kind.
func factKey(eventID, kind string) string { return eventID + "/" + kind }

// approvalNetOf is an approval row's amount net of its reversals.
func approvalNetOf(r FactStanding, rows []FactStanding) int64 {
	net := r.Amount.Amount
	for _, o := range rows {
		if o.Reverses == r.EventID && o.Kind == r.Kind && o.Reversal() {
			net += o.Amount.Amount
		}
	}
	return net
}

// openApprovalRow is an approval waiting for payment during Reconcile.
type openApprovalRow struct {
	row       int
	remaining int64
}

// credit is money paid beyond what was owed. d is the discrepancy to report if it is never
// taken up (nil when it was reported when paid).
type credit struct {
	amount int64
	d      *Discrepancy
}

// reconcileKind settles one kind's approvals with its payments.
func (b Books) reconcileKind(kind string, rows []FactStanding, index map[string]int) []Discrepancy {
	var (
		found     []Discrepancy
		queue     []openApprovalRow // approvals not fully paid, oldest first
		credits   []credit          // paid beyond what is owed, for later approvals
		approvals []string
		payments  []string
		seen      bool // an approval of this kind has been recorded
	)
	reversed := func(r FactStanding) bool { return len(r.ReversedBy) > 0 }
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
	// freed keeps what a reversal left paid beyond what is now owed. It is a discrepancy only
	// if no later approval takes it up: a new estimate accepted after an appeal replaces the
	// old charge, and what was paid on the old one counts towards it, as Decide has it.
	freed := func(amount int64, t *FactStanding, r *FactStanding) {
		if amount <= 0 {
			return
		}
		credits = append(credits, credit{amount: amount, d: &Discrepancy{Kind: kind, Type: DiscrepancyPaymentDiffers, At: r.At,
			EventIDs: []string{t.EventID, r.EventID}, Detail: kindLabel(kind) + " reduced below what was paid on it: %s paid more than is now owed"}})
	}
	for i := range rows {
		r := &rows[i]
		if CountedAs(r.Kind) != kind {
			continue
		}
		switch {
		case r.Reversal():
			r.Status, r.Settled, r.SettledAt, r.ClosedAt = FactReversal, r.Amount.Amount, r.At, r.At
		case r.Entry == EntryPayment && reversed(*r):
			r.Status, r.Settled, r.SettledAt, r.ClosedAt = FactReversed, r.Amount.Amount, r.At, r.At
		case r.Entry == EntryPayment:
			r.Status, r.Settled, r.SettledAt, r.ClosedAt = FactSettled, r.Amount.Amount, r.At, r.At
		case !SettledByPayments(kind):
			net := approvalNetOf(*r, rows)
			r.Status, r.Settled, r.SettledAt, r.ClosedAt = FactSettled, net, r.At, r.At
			if net <= 0 && reversed(*r) {
				r.Status, r.Settled = FactReversed, 0
			}
		default:
			r.Status = FactOutstanding // until a payment or reversal below says otherwise
		}
		if r.Amount.Currency != b.Currency {
			found = append(found, Discrepancy{Kind: kind, Type: DiscrepancyCurrencyMismatch, Amount: r.Amount, At: r.At, EventIDs: []string{r.EventID},
				Detail: fmt.Sprintf("%s %s in %s, the claim is in %s", kindLabel(r.Kind), r.Entry, r.Amount.Currency, b.Currency)})
			continue
		}
		if !SettledByPayments(kind) {
			continue
		}
		switch {
		case r.Entry == EntryApproval && !r.Reversal():
			seen = true
			approvals = append(approvals, r.EventID)
			o := openApprovalRow{row: i, remaining: r.Amount.Amount}
			take := draw(o.remaining)
			o.remaining -= take
			rows[i].Settled += take
			if o.remaining > 0 {
				queue = append(queue, o)
			} else {
				rows[i].Status, rows[i].SettledAt, rows[i].ClosedAt = FactSettled, r.At, r.At
			}
		case r.Entry == EntryApproval: // a reversal of an approval
			j, ok := index[factKey(r.Reverses, r.Kind)]
			if !ok {
				continue
			}
			q := slices.IndexFunc(queue, func(o openApprovalRow) bool { return o.row == j })
			if q < 0 {
				// Reversing an approval already paid in full: what was paid on it is now more
				// than it asks.
				t := &rows[j]
				excess := min(-r.Amount.Amount, t.Settled)
				t.Settled -= excess
				if approvalNetOf(*t, rows) <= 0 && t.Settled <= 0 {
					t.Status, t.ClosedAt = FactReversed, r.At
				}
				freed(excess, t, r)
				continue
			}
			o := &queue[q]
			o.remaining += r.Amount.Amount
			if o.remaining <= 0 {
				t := &rows[j]
				t.Settled += o.remaining // a reversal beyond the unpaid part frees what was paid
				if t.Settled > 0 {
					t.Status, t.SettledAt = FactSettled, r.At
				} else {
					t.Status, t.Settled = FactReversed, 0
				}
				t.ClosedAt = r.At
				freed(-o.remaining, t, r)
				queue = slices.Delete(queue, q, q+1)
			}
		case r.Entry == EntryPayment && !reversed(*r):
			var owed int64
			for _, o := range queue {
				owed += o.remaining
			}
			ids := append(append(slices.Clone(approvals), payments...), r.EventID)
			switch {
			case !seen:
				found = append(found, Discrepancy{Kind: kind, Type: DiscrepancyPaymentWithoutApproval, Amount: r.Amount, At: r.At, EventIDs: []string{r.EventID},
					Detail: fmt.Sprintf("%s of %s paid with no approval before it", r.Amount, kindLabel(kind))})
			case owed <= 0:
				found = append(found, Discrepancy{Kind: kind, Type: DiscrepancyApprovalPaidTwice, Amount: r.Amount, At: r.At, EventIDs: ids,
					Detail: fmt.Sprintf("%s paid again after %s was paid in full", r.Amount, kindLabel(kind))})
			case r.Amount.Amount > owed:
				m := Money{Amount: r.Amount.Amount - owed, Currency: b.Currency}
				found = append(found, Discrepancy{Kind: kind, Type: DiscrepancyPaymentDiffers, Amount: m, At: r.At, EventIDs: ids,
					Detail: fmt.Sprintf("%s paid where %s was owed: %s too much", r.Amount, Money{Amount: owed, Currency: b.Currency}, m)})
			}
			payments = append(payments, r.EventID)
			left := r.Amount.Amount
			for len(queue) > 0 && left > 0 {
				o := &queue[0]
				take := min(left, o.remaining)
				left, o.remaining = left-take, o.remaining-take
				rows[o.row].Settled += take
				if o.remaining == 0 {
					rows[o.row].Status, rows[o.row].SettledAt, rows[o.row].ClosedAt = FactSettled, r.At, r.At
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
			d.Amount = Money{Amount: c.amount, Currency: b.Currency}
			d.Detail = fmt.Sprintf(d.Detail, d.Amount)
			found = append(found, d)
		}
	}
	return found
}

// kindLabel names a kind in a discrepancy's detail.
func kindLabel(kind string) string { return strings.ReplaceAll(kind, "_", " ") }
