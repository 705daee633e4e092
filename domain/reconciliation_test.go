package domain_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// The finance reconciliation rules in given / when / then form. The events of a history are
// named e0, e1, ... and happen an hour apart from t0; the event under test is "when", at whenAt.

// booked records a history, naming and dating its events as above.
func booked(given []domain.Event) domain.Books {
	var b domain.Books
	for i, e := range given {
		b = b.Record(fmt.Sprintf("e%d", i), hour(i), e)
	}
	return b
}

func hour(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }

// signed parses an amount that may be negative and may name its currency ("-20", "75 USD");
// EUR when it names none.
func signed(s string) domain.Money {
	amount, currency, ok := strings.Cut(s, " ")
	if !ok {
		currency = "EUR"
	}
	if positive, negative := strings.CutPrefix(amount, "-"); negative {
		m := money(positive, currency)
		return domain.Money{Amount: -m.Amount, Currency: m.Currency}
	}
	return money(amount, currency)
}

// booksOpened is the registration every history starts with: a claim in EUR.
var booksOpened = domain.ClaimRegistered{Number: "RMA-1", Price: eur("1000")}

// fact is a fact of the event under test.
func fact(kind, entry, amount, reference, reverses string) domain.FinancialFact {
	return domain.FinancialFact{EventID: "when", At: whenAt, Kind: kind, Entry: entry, Amount: signed(amount), Reference: reference, Reverses: reverses}
}

// line1 moves a fact to line 1.
func line1(f domain.FinancialFact) domain.FinancialFact { f.Line = 1; return f }

// TestFinancialFacts: which financial facts each event is, given the claim's books so far.
func TestFinancialFacts(t *testing.T) {
	estimate := domain.EstimateIssued{DamageLevel: 1, Total: eur("75")}
	accepted := []domain.Event{booksOpened, estimate, domain.EstimateAccepted{Reference: "Q1"}} // e2 approves 75
	refunded := []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50"), Reference: "A1"}}
	dearer := []domain.Event{booksOpened, domain.ItemReplaced{NewSerial: "S2", Value: eur("1200"), DifferenceCharge: eur("200"), Reference: "R"}}
	cases := []struct {
		name  string
		given []domain.Event
		when  domain.Event
		then  []domain.FinancialFact
	}{
		{"a refund approved", []domain.Event{booksOpened}, domain.RefundApproved{Amount: eur("50"), Reference: "A1"},
			[]domain.FinancialFact{fact(domain.FactRefund, domain.EntryApproval, "50", "A1", "")}},
		{"a refund paid", refunded, domain.RefundPaid{Amount: eur("50"), Reference: "T1"},
			[]domain.FinancialFact{fact(domain.FactRefund, domain.EntryPayment, "50", "T1", "")}},
		{"a refund approval reversed: the open approval", refunded, domain.RefundApprovalReversed{Amount: eur("20")},
			[]domain.FinancialFact{fact(domain.FactRefund, domain.EntryApproval, "-20", "", "e1")}},
		{"a refund approval reversed with none open names none",
			append(slices.Clone(refunded), domain.RefundApprovalReversed{Amount: eur("50")}), domain.RefundApprovalReversed{Amount: eur("1")},
			[]domain.FinancialFact{fact(domain.FactRefund, domain.EntryApproval, "-1", "", "")}},
		{"a refund cancelled on appeal", refunded, domain.DisputeResolved{Outcome: domain.DisputeOverturned, RefundCancelled: eur("50")},
			[]domain.FinancialFact{fact(domain.FactRefund, domain.EntryApproval, "-50", "", "e1")}},
		{"an appeal overturning a dearer replacement: its price difference is owed no more", dearer,
			domain.DisputeResolved{Outcome: domain.DisputeOverturned},
			[]domain.FinancialFact{line1(fact(domain.FactPriceDifference, domain.EntryApproval, "-200", "", "e1"))}},
		{"an upheld appeal is no fact", dearer, domain.DisputeResolved{Outcome: domain.DisputeUpheld}, nil},
		{"a refund transfer bounced: the standing payment of that reference",
			append(slices.Clone(refunded), domain.RefundPaid{Amount: eur("50"), Reference: "T1"}),
			domain.RefundPaymentReversed{Reference: "T1", Amount: eur("50")},
			[]domain.FinancialFact{fact(domain.FactRefund, domain.EntryPayment, "-50", "T1", "e2")}},
		{"a credit note issued", []domain.Event{booksOpened}, domain.CreditNoteIssued{Number: "CN-1", Amount: eur("30")},
			[]domain.FinancialFact{fact(domain.FactCreditNote, domain.EntryApproval, "30", "CN-1", "")}},
		{"a credit note cancelled", []domain.Event{booksOpened, domain.CreditNoteIssued{Number: "CN-1", Amount: eur("30")}},
			domain.CreditNoteCancelled{Number: "CN-1", Amount: eur("30")},
			[]domain.FinancialFact{fact(domain.FactCreditNote, domain.EntryApproval, "-30", "CN-1", "e1")}},
		{"a replacement by the same model", []domain.Event{booksOpened}, domain.ItemReplaced{NewSerial: "S2", Value: eur("1000"), Reference: "R"},
			[]domain.FinancialFact{fact(domain.FactReplacement, domain.EntryApproval, "1000", "R", "")}},
		{"a replacement whose value was not recorded is booked at zero in the claim's currency", []domain.Event{booksOpened},
			domain.ItemReplaced{NewSerial: "S2"},
			[]domain.FinancialFact{fact(domain.FactReplacement, domain.EntryApproval, "0", "", "")}},
		{"a replacement by a cheaper model: the difference is a refund, line 1", []domain.Event{booksOpened},
			domain.ItemReplaced{NewSerial: "S2", Value: eur("800"), DifferenceRefund: eur("200"), Reference: "R"},
			[]domain.FinancialFact{
				fact(domain.FactReplacement, domain.EntryApproval, "800", "R", ""),
				line1(fact(domain.FactRefund, domain.EntryApproval, "200", "R", "")),
			}},
		{"a replacement by a dearer model: the difference is owed by the customer, line 1", []domain.Event{booksOpened},
			domain.ItemReplaced{NewSerial: "S2", Value: eur("1200"), DifferenceCharge: eur("200"), Reference: "R"},
			[]domain.FinancialFact{
				fact(domain.FactReplacement, domain.EntryApproval, "1200", "R", ""),
				line1(fact(domain.FactPriceDifference, domain.EntryApproval, "200", "R", "")),
			}},
		{"an estimate accepted charges the latest estimate", []domain.Event{booksOpened, estimate}, domain.EstimateAccepted{Reference: "Q1"},
			[]domain.FinancialFact{fact(domain.FactPaidRepairCharge, domain.EntryApproval, "75", "Q1", "")}},
		{"a new estimate accepted reverses the charge it replaces first",
			append(slices.Clone(accepted), domain.EstimateIssued{DamageLevel: 2, Total: eur("100")}), domain.EstimateAccepted{},
			[]domain.FinancialFact{
				line1(fact(domain.FactPaidRepairCharge, domain.EntryApproval, "-75", "", "e2")),
				fact(domain.FactPaidRepairCharge, domain.EntryApproval, "100", "", ""),
			}},
		{"returned unrepaired: the accepted charge is owed no more", accepted, domain.ClaimReturnedUnrepaired{Resolution: domain.ResolutionReturnedUnrepaired},
			[]domain.FinancialFact{fact(domain.FactPaidRepairCharge, domain.EntryApproval, "-75", "", "e2")}},
		{"returned unrepaired with nothing accepted is no fact", []domain.Event{booksOpened}, domain.ClaimReturnedUnrepaired{}, nil},
		{"a customer payment", accepted, domain.PaymentRecorded{Amount: eur("75"), Reference: "P1"},
			[]domain.FinancialFact{fact(domain.FactPaymentReceived, domain.EntryPayment, "75", "P1", "")}},
		{"a payment for a price difference", dearer, domain.PaymentRecorded{Amount: eur("200"), Reference: "P1", For: domain.PaymentForPriceDifference},
			[]domain.FinancialFact{fact(domain.FactPriceDifference, domain.EntryPayment, "200", "P1", "")}},
		{"a customer payment reversed", append(slices.Clone(accepted), domain.PaymentRecorded{Amount: eur("75"), Reference: "P1"}),
			domain.PaymentReversed{Reference: "P1", Amount: eur("75")},
			[]domain.FinancialFact{fact(domain.FactPaymentReceived, domain.EntryPayment, "-75", "P1", "e3")}},
		{"a price difference payment reversed is found by its reference",
			append(slices.Clone(dearer), domain.PaymentRecorded{Amount: eur("200"), Reference: "P1", For: domain.PaymentForPriceDifference}),
			domain.PaymentReversed{Reference: "P1", Amount: eur("200")},
			[]domain.FinancialFact{fact(domain.FactPriceDifference, domain.EntryPayment, "-200", "P1", "e2")}},
		{"a reversal of an unknown payment names none", accepted, domain.PaymentReversed{Reference: "P9", Amount: eur("5")},
			[]domain.FinancialFact{fact(domain.FactPaymentReceived, domain.EntryPayment, "-5", "P9", "")}},
		{"a supplier recovery claimed", []domain.Event{booksOpened}, domain.SupplierRecoveryClaimed{Amount: eur("400"), Supplier: "Acme", Reference: "W1"},
			[]domain.FinancialFact{fact(domain.FactSupplierRecovery, domain.EntryApproval, "400", "W1", "")}},
		{"a supplier recovery received", []domain.Event{booksOpened}, domain.SupplierRecoveryReceived{Amount: eur("400"), Reference: "W1"},
			[]domain.FinancialFact{fact(domain.FactSupplierRecovery, domain.EntryPayment, "400", "W1", "")}},
		{"withdrawn after an estimate was accepted: the charge is owed no more", accepted, domain.ClaimWithdrawn{},
			[]domain.FinancialFact{fact(domain.FactPaidRepairCharge, domain.EntryApproval, "-75", "", "e2")}},
		{"closed", accepted, domain.ClaimClosed{ReasonCode: "completed"}, nil},
		{"an event that moves no money", accepted, domain.RepairCompleted{WorkDone: "Fixed."}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := booked(tc.given)
			after := before.Record("when", whenAt, tc.when)
			got := after.Facts[len(before.Facts):]
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.then) {
				t.Errorf("facts\n %+v\nwant\n %+v", got, tc.then)
			}
			if tc.then != nil && !domain.MovesMoney(tc.when) {
				t.Errorf("MovesMoney is false for an event that adds facts")
			}
		})
	}
}

// TestRecordClosesTheBooks: closing or withdrawing a claim is when unpaid approvals become a
// discrepancy; other events leave the books open.
func TestRecordClosesTheBooks(t *testing.T) {
	for _, when := range []domain.Event{domain.ClaimClosed{ReasonCode: "completed"}, domain.ClaimWithdrawn{}} {
		b := booked([]domain.Event{booksOpened}).Record("when", whenAt, when)
		if b.ClosedBy != "when" || !b.ClosedAt.Equal(whenAt) {
			t.Errorf("%s: closed by %q at %v", when.EventType(), b.ClosedBy, b.ClosedAt)
		}
	}
	b := booked([]domain.Event{booksOpened}).Record("when", whenAt, domain.RepairCompleted{})
	if b.ClosedBy != "" || b.Currency != "EUR" || domain.MovesMoney(domain.RepairCompleted{}) {
		t.Errorf("after a repair: closed by %q, currency %q", b.ClosedBy, b.Currency)
	}
}

// TestRecordLeavesItsInputAlone: books are values; recording into a copy never changes the
// books it came from, nor another copy, even when their facts share an array.
func TestRecordLeavesItsInputAlone(t *testing.T) {
	b := booked([]domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}})
	b.Facts = slices.Grow(b.Facts, 4) // room to append in place, were Record careless
	snapshot := slices.Clone(b.Facts)
	paid := b.Record("x", whenAt, domain.RefundPaid{Amount: eur("50"), Reference: "T1"})
	reversed := b.Record("y", whenAt, domain.RefundApprovalReversed{Amount: eur("50")})
	if !slices.Equal(b.Facts, snapshot) {
		t.Errorf("the books recorded into changed: %+v", b.Facts)
	}
	if paid.Facts[1].EventID != "x" || reversed.Facts[1].EventID != "y" {
		t.Errorf("one copy wrote into another: %+v / %+v", paid.Facts, reversed.Facts)
	}
}

// standing is the expected reconciliation of one fact; reverses and reversedBy are indexes of
// events in the history (-1 for none).
type standing struct {
	kind, status string
	line         int
	amount       string
	settled      string
	reverses     int
	reversedBy   []int
}

// discrepancy is an expected discrepancy; events are indexes of the events behind it, at the
// time of the event at.
type discrepancy struct {
	typ, kind, amount string
	at                int
	events            []int
	detail            string
}

// TestReconcile: how a claim's money history reconciles, fact by fact, and which histories are
// discrepancies. Every kind is settled here, and every discrepancy rule is met.
func TestReconcile(t *testing.T) {
	estimate := func(total string) domain.Event { return domain.EstimateIssued{DamageLevel: 1, Total: eur(total)} }
	closed := domain.ClaimClosed{ReasonCode: "completed"}
	cheaper := domain.ItemReplaced{NewSerial: "S2", Value: eur("800"), DifferenceRefund: eur("200")}
	dearer := domain.ItemReplaced{NewSerial: "S3", Value: eur("1200"), DifferenceCharge: eur("200")}
	forDifference := domain.PaymentRecorded{Amount: eur("200"), Reference: "PD1", For: domain.PaymentForPriceDifference}
	none := -1
	cases := []struct {
		name  string
		given []domain.Event
		then  []standing
		found []discrepancy
	}{
		{
			name:  "a refund approved and paid",
			given: []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}, domain.RefundPaid{Amount: eur("50"), Reference: "T1"}},
			then: []standing{
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
			},
		},
		{
			name:  "a refund paid in two parts stays outstanding until the second",
			given: []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}, domain.RefundPaid{Amount: eur("20"), Reference: "T1"}},
			then: []standing{
				{domain.FactRefund, domain.FactOutstanding, 0, "50", "20", none, nil},
				{domain.FactRefund, domain.FactSettled, 0, "20", "20", none, nil},
			},
		},
		{
			name:  "a refund paid, never approved",
			given: []domain.Event{booksOpened, domain.RefundPaid{Amount: eur("10"), Reference: "T1"}},
			then:  []standing{{domain.FactRefund, domain.FactSettled, 0, "10", "10", none, nil}},
			found: []discrepancy{{domain.DiscrepancyPaymentWithoutApproval, domain.FactRefund, "10", 1, []int{1},
				"10.00 EUR of refund paid with no approval before it"}},
		},
		{
			name: "a refund paid twice",
			given: []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}, domain.RefundPaid{Amount: eur("50"), Reference: "T1"},
				domain.RefundPaid{Amount: eur("50"), Reference: "T2"}},
			then: []standing{
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
			},
			found: []discrepancy{{domain.DiscrepancyApprovalPaidTwice, domain.FactRefund, "50", 3, []int{1, 2, 3},
				"50.00 EUR paid again after refund was paid in full"}},
		},
		{
			name:  "a refund overpaid",
			given: []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}, domain.RefundPaid{Amount: eur("60"), Reference: "T1"}},
			then: []standing{
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
				{domain.FactRefund, domain.FactSettled, 0, "60", "60", none, nil},
			},
			found: []discrepancy{{domain.DiscrepancyPaymentDiffers, domain.FactRefund, "10", 2, []int{1, 2},
				"60.00 EUR paid where 50.00 EUR was owed: 10.00 EUR too much"}},
		},
		{
			name: "a refund approval reversed below what was paid on it",
			given: []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}, domain.RefundPaid{Amount: eur("20"), Reference: "T1"},
				domain.RefundApprovalReversed{Amount: eur("40")}},
			then: []standing{
				{domain.FactRefund, domain.FactSettled, 0, "50", "10", none, []int{3}},
				{domain.FactRefund, domain.FactSettled, 0, "20", "20", none, nil},
				{domain.FactRefund, domain.FactReversal, 0, "-40", "-40", 1, nil},
			},
			found: []discrepancy{{domain.DiscrepancyPaymentDiffers, domain.FactRefund, "10", 3, []int{1, 3},
				"refund reduced below what was paid on it: 10.00 EUR paid more than is now owed"}},
		},
		{
			name: "a refund paid in full, then its approval reversed in part",
			given: []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}, domain.RefundPaid{Amount: eur("50"), Reference: "T1"},
				domain.RefundApprovalReversed{Amount: eur("50")}},
			then: []standing{
				{domain.FactRefund, domain.FactReversed, 0, "50", "0", none, []int{3}},
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
				{domain.FactRefund, domain.FactReversal, 0, "-50", "-50", 1, nil},
			},
			found: []discrepancy{{domain.DiscrepancyPaymentDiffers, domain.FactRefund, "50", 3, []int{1, 3},
				"refund reduced below what was paid on it: 50.00 EUR paid more than is now owed"}},
		},
		{
			name: "a refund transfer bounced and paid again",
			given: []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}, domain.RefundPaid{Amount: eur("50"), Reference: "T1"},
				domain.RefundPaymentReversed{Reference: "T1", Amount: eur("50")}, domain.RefundPaid{Amount: eur("50"), Reference: "T2"}},
			then: []standing{
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
				{domain.FactRefund, domain.FactReversed, 0, "50", "50", none, []int{3}},
				{domain.FactRefund, domain.FactReversal, 0, "-50", "-50", 2, nil},
				{domain.FactRefund, domain.FactSettled, 0, "50", "50", none, nil},
			},
		},
		{
			name: "closed with the refund half paid",
			given: []domain.Event{booksOpened, domain.RefundApproved{Amount: eur("50")}, domain.RefundPaid{Amount: eur("20"), Reference: "T1"},
				closed},
			then: []standing{
				{domain.FactRefund, domain.FactOutstanding, 0, "50", "20", none, nil},
				{domain.FactRefund, domain.FactSettled, 0, "20", "20", none, nil},
			},
			found: []discrepancy{{domain.DiscrepancyClosedOutstanding, domain.FactRefund, "30", 3, []int{1, 3},
				"closed with 30.00 EUR of refund unpaid"}},
		},
		{
			name: "a repair charge accepted and paid by the customer",
			given: []domain.Event{booksOpened, estimate("75"), domain.EstimateAccepted{},
				domain.PaymentRecorded{Amount: eur("75"), Reference: "P1"}},
			then: []standing{
				{domain.FactPaidRepairCharge, domain.FactSettled, 0, "75", "75", none, nil},
				{domain.FactPaymentReceived, domain.FactSettled, 0, "75", "75", none, nil},
			},
		},
		{
			name: "a repair charge paid twice",
			given: []domain.Event{booksOpened, estimate("75"), domain.EstimateAccepted{},
				domain.PaymentRecorded{Amount: eur("75"), Reference: "P1"}, domain.PaymentRecorded{Amount: eur("75"), Reference: "P2"}},
			then: []standing{
				{domain.FactPaidRepairCharge, domain.FactSettled, 0, "75", "75", none, nil},
				{domain.FactPaymentReceived, domain.FactSettled, 0, "75", "75", none, nil},
				{domain.FactPaymentReceived, domain.FactSettled, 0, "75", "75", none, nil},
			},
			found: []discrepancy{{domain.DiscrepancyApprovalPaidTwice, domain.FactPaidRepairCharge, "75", 4, []int{2, 3, 4},
				"75.00 EUR paid again after paid repair charge was paid in full"}},
		},
		{
			name: "a customer payment charged back, on a closed claim",
			given: []domain.Event{booksOpened, estimate("75"), domain.EstimateAccepted{},
				domain.PaymentRecorded{Amount: eur("75"), Reference: "P1"}, domain.PaymentReversed{Reference: "P1", Amount: eur("75")}, closed},
			then: []standing{
				{domain.FactPaidRepairCharge, domain.FactOutstanding, 0, "75", "0", none, nil},
				{domain.FactPaymentReceived, domain.FactReversed, 0, "75", "75", none, []int{4}},
				{domain.FactPaymentReceived, domain.FactReversal, 0, "-75", "-75", 3, nil},
			},
			found: []discrepancy{{domain.DiscrepancyClosedOutstanding, domain.FactPaidRepairCharge, "75", 5, []int{2, 5},
				"closed with 75.00 EUR of paid repair charge unpaid"}},
		},
		{
			name: "paid in dollars for a euro claim",
			given: []domain.Event{booksOpened, estimate("75"), domain.EstimateAccepted{},
				domain.PaymentRecorded{Amount: money("75", "USD"), Reference: "P1"}},
			then: []standing{
				{domain.FactPaidRepairCharge, domain.FactOutstanding, 0, "75", "0", none, nil},
				{domain.FactPaymentReceived, domain.FactSettled, 0, "75 USD", "75", none, nil},
			},
			found: []discrepancy{{domain.DiscrepancyCurrencyMismatch, domain.FactPaidRepairCharge, "75 USD", 3, []int{3},
				"payment received payment in USD, the claim is in EUR"}},
		},
		{
			name: "a larger estimate accepted after an appeal takes up what was paid on the old one",
			given: []domain.Event{booksOpened, estimate("75"), domain.EstimateAccepted{}, domain.PaymentRecorded{Amount: eur("75"), Reference: "P1"},
				estimate("100"), domain.EstimateAccepted{}},
			then: []standing{
				{domain.FactPaidRepairCharge, domain.FactReversed, 0, "75", "0", none, []int{5}},
				{domain.FactPaymentReceived, domain.FactSettled, 0, "75", "75", none, nil},
				{domain.FactPaidRepairCharge, domain.FactReversal, 1, "-75", "-75", 2, nil},
				{domain.FactPaidRepairCharge, domain.FactOutstanding, 0, "100", "75", none, nil},
			},
		},
		{
			name: "a smaller one leaves an overpayment",
			given: []domain.Event{booksOpened, estimate("75"), domain.EstimateAccepted{}, domain.PaymentRecorded{Amount: eur("75"), Reference: "P1"},
				estimate("30"), domain.EstimateAccepted{}},
			then: []standing{
				{domain.FactPaidRepairCharge, domain.FactReversed, 0, "75", "0", none, []int{5}},
				{domain.FactPaymentReceived, domain.FactSettled, 0, "75", "75", none, nil},
				{domain.FactPaidRepairCharge, domain.FactReversal, 1, "-75", "-75", 2, nil},
				{domain.FactPaidRepairCharge, domain.FactSettled, 0, "30", "30", none, nil},
			},
			found: []discrepancy{{domain.DiscrepancyPaymentDiffers, domain.FactPaidRepairCharge, "45", 5, []int{2, 5},
				"paid repair charge reduced below what was paid on it: 45.00 EUR paid more than is now owed"}},
		},
		{
			name: "an accepted estimate abandoned unpaid, then closed",
			given: []domain.Event{booksOpened, estimate("75"), domain.EstimateAccepted{},
				domain.ClaimReturnedUnrepaired{Resolution: domain.ResolutionReturnedUnrepaired}, closed},
			then: []standing{
				{domain.FactPaidRepairCharge, domain.FactReversed, 0, "75", "0", none, []int{3}},
				{domain.FactPaidRepairCharge, domain.FactReversal, 0, "-75", "-75", 2, nil},
			},
		},
		{
			name:  "a credit note is settled when issued",
			given: []domain.Event{booksOpened, domain.CreditNoteIssued{Number: "CN-1", Amount: eur("20")}, closed},
			then:  []standing{{domain.FactCreditNote, domain.FactSettled, 0, "20", "20", none, nil}},
		},
		{
			name: "a cancelled credit note and the refund instead",
			given: []domain.Event{booksOpened, domain.CreditNoteIssued{Number: "CN-1", Amount: eur("20")},
				domain.CreditNoteCancelled{Number: "CN-1", Amount: eur("20")}, domain.RefundApproved{Amount: eur("20")}},
			then: []standing{
				{domain.FactCreditNote, domain.FactReversed, 0, "20", "0", none, []int{2}},
				{domain.FactCreditNote, domain.FactReversal, 0, "-20", "-20", 1, nil},
				{domain.FactRefund, domain.FactOutstanding, 0, "20", "0", none, nil},
			},
		},
		{
			name:  "a replacement by a cheaper model, its difference refunded",
			given: []domain.Event{booksOpened, cheaper, domain.RefundPaid{Amount: eur("200"), Reference: "T1"}, closed},
			then: []standing{
				{domain.FactReplacement, domain.FactSettled, 0, "800", "800", none, nil},
				{domain.FactRefund, domain.FactSettled, 1, "200", "200", none, nil},
				{domain.FactRefund, domain.FactSettled, 0, "200", "200", none, nil},
			},
		},
		{
			name:  "a replacement by a cheaper model, its difference unpaid at closure",
			given: []domain.Event{booksOpened, cheaper, closed},
			then: []standing{
				{domain.FactReplacement, domain.FactSettled, 0, "800", "800", none, nil},
				{domain.FactRefund, domain.FactOutstanding, 1, "200", "0", none, nil},
			},
			found: []discrepancy{{domain.DiscrepancyClosedOutstanding, domain.FactRefund, "200", 2, []int{1, 2},
				"closed with 200.00 EUR of refund unpaid"}},
		},
		{
			name: "a cheaper model's difference cancelled on appeal: the refund is reversed, not the replacement",
			given: []domain.Event{booksOpened, cheaper, domain.DisputeOpened{Reason: "r"},
				domain.DisputeResolved{Outcome: domain.DisputeOverturned, RefundCancelled: eur("200")}},
			then: []standing{
				{domain.FactReplacement, domain.FactSettled, 0, "800", "800", none, nil},
				{domain.FactRefund, domain.FactReversed, 1, "200", "0", none, []int{3}},
				{domain.FactRefund, domain.FactReversal, 0, "-200", "-200", 1, nil},
			},
		},
		{
			name:  "a dearer model's difference paid",
			given: []domain.Event{booksOpened, dearer, forDifference},
			then: []standing{
				{domain.FactReplacement, domain.FactSettled, 0, "1200", "1200", none, nil},
				{domain.FactPriceDifference, domain.FactSettled, 1, "200", "200", none, nil},
				{domain.FactPriceDifference, domain.FactSettled, 0, "200", "200", none, nil},
			},
		},
		{
			name:  "a dearer model's difference charged back, on a closed claim",
			given: []domain.Event{booksOpened, dearer, forDifference, domain.PaymentReversed{Reference: "PD1", Amount: eur("200")}, closed},
			then: []standing{
				{domain.FactReplacement, domain.FactSettled, 0, "1200", "1200", none, nil},
				{domain.FactPriceDifference, domain.FactOutstanding, 1, "200", "0", none, nil},
				{domain.FactPriceDifference, domain.FactReversed, 0, "200", "200", none, []int{3}},
				{domain.FactPriceDifference, domain.FactReversal, 0, "-200", "-200", 2, nil},
			},
			found: []discrepancy{{domain.DiscrepancyClosedOutstanding, domain.FactPriceDifference, "200", 4, []int{1, 4},
				"closed with 200.00 EUR of price difference unpaid"}},
		},
		{
			name: "a dearer model's difference unpaid when the appeal is overturned: owed no more",
			given: []domain.Event{booksOpened, dearer, domain.DisputeOpened{Reason: "r"}, domain.DisputeResolved{Outcome: domain.DisputeOverturned},
				closed},
			then: []standing{
				{domain.FactReplacement, domain.FactSettled, 0, "1200", "1200", none, nil},
				{domain.FactPriceDifference, domain.FactReversed, 1, "200", "0", none, []int{3}},
				{domain.FactPriceDifference, domain.FactReversal, 1, "-200", "-200", 1, nil},
			},
		},
		{
			name: "a supplier recovery claimed, paid in part; closing does not count it",
			given: []domain.Event{booksOpened, domain.SupplierRecoveryClaimed{Amount: eur("400"), Supplier: "Acme", Reference: "W1"},
				domain.SupplierRecoveryReceived{Amount: eur("100"), Reference: "M1"}, closed},
			then: []standing{
				{domain.FactSupplierRecovery, domain.FactOutstanding, 0, "400", "100", none, nil},
				{domain.FactSupplierRecovery, domain.FactSettled, 0, "100", "100", none, nil},
			},
		},
		{
			name:  "a supplier paid what was never claimed",
			given: []domain.Event{booksOpened, domain.SupplierRecoveryReceived{Amount: eur("30"), Reference: "M1"}},
			then:  []standing{{domain.FactSupplierRecovery, domain.FactSettled, 0, "30", "30", none, nil}},
			found: []discrepancy{{domain.DiscrepancyPaymentWithoutApproval, domain.FactSupplierRecovery, "30", 1, []int{1},
				"30.00 EUR of supplier recovery paid with no approval before it"}},
		},
		{
			name: "discrepancies come in time order, whatever their kind",
			given: []domain.Event{booksOpened, domain.SupplierRecoveryReceived{Amount: eur("30"), Reference: "M1"},
				domain.RefundPaid{Amount: eur("10"), Reference: "T1"}},
			then: []standing{
				{domain.FactSupplierRecovery, domain.FactSettled, 0, "30", "30", none, nil},
				{domain.FactRefund, domain.FactSettled, 0, "10", "10", none, nil},
			},
			found: []discrepancy{
				{domain.DiscrepancyPaymentWithoutApproval, domain.FactSupplierRecovery, "30", 1, []int{1},
					"30.00 EUR of supplier recovery paid with no approval before it"},
				{domain.DiscrepancyPaymentWithoutApproval, domain.FactRefund, "10", 2, []int{2},
					"10.00 EUR of refund paid with no approval before it"},
			},
		},
	}
	id := func(i int) string { return fmt.Sprintf("e%d", i) }
	ids := func(is []int) []string {
		var s []string
		for _, i := range is {
			s = append(s, id(i))
		}
		return s
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, found := booked(tc.given).Reconcile()
			if len(rows) != len(tc.then) {
				t.Fatalf("%d facts, want %d: %+v", len(rows), len(tc.then), rows)
			}
			for i, w := range tc.then {
				r := rows[i]
				reverses := ""
				if w.reverses >= 0 {
					reverses = id(w.reverses)
				}
				if r.Kind != w.kind || r.Status != w.status || r.Line != w.line || r.Amount != signed(w.amount) ||
					r.Settled != signed(w.settled).Amount || r.Reverses != reverses || !slices.Equal(r.ReversedBy, ids(w.reversedBy)) {
					t.Errorf("fact %d: %s %s line %d %v settled %d reverses %q reversed by %v, want %+v",
						i, r.Kind, r.Status, r.Line, r.Amount, r.Settled, r.Reverses, r.ReversedBy, w)
				}
				if (r.Status == domain.FactOutstanding) != r.ClosedAt.IsZero() {
					t.Errorf("fact %d: %s but closed at %v", i, r.Status, r.ClosedAt)
				}
				if r.Status == domain.FactSettled && r.SettledAt.IsZero() {
					t.Errorf("fact %d: settled, at no time", i)
				}
			}
			var want []domain.Discrepancy
			for _, d := range tc.found {
				want = append(want, domain.Discrepancy{Kind: d.kind, Type: d.typ, Amount: signed(d.amount), At: hour(d.at), EventIDs: ids(d.events), Detail: d.detail})
			}
			if !reflect.DeepEqual(found, want) {
				t.Errorf("discrepancies\n %+v\nwant\n %+v", found, want)
			}
		})
	}
}

// TestEveryKindCountsSomewhere: the lists offered for filters hold every kind and standing,
// and customer payments alone count under another kind.
func TestEveryKindCountsSomewhere(t *testing.T) {
	if len(domain.FactKinds()) != 7 || len(domain.FactStandings()) != 4 {
		t.Errorf("kinds %v, standings %v", domain.FactKinds(), domain.FactStandings())
	}
	for _, k := range domain.FactKinds() {
		want := k
		if k == domain.FactPaymentReceived {
			want = domain.FactPaidRepairCharge
		}
		if got := domain.CountedAs(k); got != want {
			t.Errorf("%s counts as %s, want %s", k, got, want)
		}
	}
	for k, settledByPayments := range map[string]bool{
		domain.FactRefund: true, domain.FactPaidRepairCharge: true, domain.FactSupplierRecovery: true, domain.FactPriceDifference: true,
		domain.FactCreditNote: false, domain.FactReplacement: false,
	} {
		if domain.SettledByPayments(k) != settledByPayments {
			t.Errorf("SettledByPayments(%s) = %v", k, !settledByPayments)
		}
	}
}
