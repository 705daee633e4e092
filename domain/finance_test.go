package domain_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// The money rules of a claim, in given / when / then form. The sample claim's price is
// 129.90 EUR, so the default 70% cap is 90.93 EUR.

// limit checks that err is a LimitError for rule leaving exactly available.
func limit(t *testing.T, err error, rule error, available domain.Money) {
	t.Helper()
	var le *domain.LimitError
	if !errors.As(err, &le) || !errors.Is(err, rule) || !domain.IsRuleError(err) {
		t.Fatalf("error %v, want a LimitError for %v", err, rule)
	}
	if le.Available != available {
		t.Errorf("available %v, want %v (%v)", le.Available, available, err)
	}
}

// decideErr runs one command that must fail, and checks that it wrote nothing.
func decideErr(t *testing.T, given []domain.Event, c domain.Command) error {
	t.Helper()
	events, err := domain.Decide(domain.Fold(given), c, whenAt, policy)
	if err == nil || events != nil {
		t.Fatalf("%s: events %v, error %v; want an error and no events", c.Action(), events, err)
	}
	return err
}

func TestRefundCap(t *testing.T) {
	credited := with(history(t, "diagnosed"), domain.CreditNoteIssued{Number: "CN-1", Amount: eur("20"), CapBasisPoints: 7000, At: t0})
	refunded := history(t, "resolved/refund-unpaid") // 50.00 EUR approved, unpaid

	t.Run("over-cap refund is rejected with the room left", func(t *testing.T) {
		err := decideErr(t, history(t, "diagnosed"), &domain.ApproveRefund{Amount: eur("90.94"), Reason: "All of it."})
		limit(t, err, domain.ErrRefundExceedsCap, eur("90.93"))
	})
	t.Run("credit notes count against the cap after an overturned appeal", func(t *testing.T) {
		overturned := with(credited,
			domain.DisputeOpened{Reason: "Wants money.", OriginalResolution: domain.ResolutionCredited, At: t0},
			domain.DisputeResolved{Outcome: domain.DisputeOverturned, Decision: "Refund instead.", At: t0})
		err := decideErr(t, overturned, &domain.ApproveRefund{Amount: eur("90.93"), Reason: "x"})
		limit(t, err, domain.ErrRefundExceedsCap, eur("70.93"))
	})

	run(t, []gwt{
		{
			name:  "a cancelled credit note gives its room back",
			given: with(credited, domain.CreditNoteCancelled{Number: "CN-1", Amount: eur("20"), Reason: "Issued in error.", At: t0}),
			when:  &domain.ApproveRefund{Amount: eur("90.93"), Reason: "Hardware share.", Reference: " FIN-7 "},
			then:  []domain.Event{domain.RefundApproved{Amount: eur("90.93"), Reason: "Hardware share.", CapBasisPoints: 7000, Reference: "FIN-7", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Refund.Approved != eur("90.93") || s.Refund.Reference != "FIN-7" || !s.CreditNotes[0].Cancelled {
					t.Errorf("refund %+v notes %+v", s.Refund, s.CreditNotes)
				}
			},
		},
		{
			name:  "a reversed refund approval gives its room back",
			given: with(refunded, domain.RefundApprovalReversed{Amount: eur("50"), Reason: "Wrong claim.", At: t0}),
			when:  &domain.ApproveRefund{Amount: eur("90.93"), Reason: "Hardware share."},
			check: func(t *testing.T, s domain.State) {
				if s.Refund.Approved != eur("90.93") || s.Status != domain.StatusResolved {
					t.Errorf("status %s refund %+v", s.Status, s.Refund)
				}
			},
		},
		{name: "a refund payment never exceeds the approval, even after an appeal", given: with(refunded, domain.DisputeOpened{Reason: "x", OriginalResolution: domain.ResolutionRefunded, At: t0}, domain.DisputeResolved{Outcome: domain.DisputeUpheld, Decision: "y", At: t0}), when: &domain.RecordRefundPayment{Amount: eur("50.01"), Reference: "R"}, err: domain.ErrRefundPaymentExceedsApproved},
	})
}

func TestRefundCorrections(t *testing.T) {
	refunded := history(t, "resolved/refund-unpaid") // 50.00 EUR approved
	partPaid := with(refunded, domain.RefundPaid{Amount: eur("30"), Reference: "REF-1", At: t0})
	paid := history(t, "resolved/refund-paid") // 50.00 EUR paid as REF-1

	t.Run("a reversal never takes back paid money", func(t *testing.T) {
		err := decideErr(t, partPaid, &domain.ReverseRefundApproval{Amount: eur("20.01"), Reason: "x"})
		limit(t, err, domain.ErrReversalExceedsUnpaid, eur("20.00"))
	})
	t.Run("a refund payment never exceeds the approved refund", func(t *testing.T) {
		err := decideErr(t, partPaid, &domain.RecordRefundPayment{Amount: eur("20.01"), Reference: "REF-2"})
		limit(t, err, domain.ErrRefundPaymentExceedsApproved, eur("20.00"))
	})

	run(t, []gwt{
		{
			name:  "the whole approval reversed: back to a new decision",
			given: refunded,
			when:  &domain.ReverseRefundApproval{Amount: eur("50"), Reason: " Approved on the wrong claim. "},
			then:  []domain.Event{domain.RefundApprovalReversed{Amount: eur("50"), Reason: "Approved on the wrong claim.", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusDiagnosed || s.Resolution != nil || s.Refund.Approved != eur("0") {
					t.Errorf("status %s resolution %+v refund %+v", s.Status, s.Resolution, s.Refund)
				}
			},
		},
		{
			name:  "part of an approval reversed: the rest is still owed",
			given: partPaid,
			when:  &domain.ReverseRefundApproval{Amount: eur("15"), Reason: "Approved too much."},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusResolved || s.Refund.Approved != eur("35") || s.Refund.Paid != eur("30") {
					t.Errorf("status %s refund %+v", s.Status, s.Refund)
				}
				if _, err := domain.Decide(s, &domain.RecordRefundPayment{Amount: eur("5.01"), Reference: "REF-2"}, whenAt, policy); !errors.Is(err, domain.ErrRefundPaymentExceedsApproved) {
					t.Errorf("pay more than the reduced approval: %v", err)
				}
			},
		},
		{name: "nothing unpaid to reverse", given: paid, when: &domain.ReverseRefundApproval{Amount: eur("1"), Reason: "x"}, invalid: true, reason: "reversing its payment"},
		{name: "reversal in another currency", given: refunded, when: &domain.ReverseRefundApproval{Amount: money("1", "USD"), Reason: "x"}, err: domain.ErrCurrencyMismatch},
		{name: "a reversal says why", given: refunded, when: &domain.ReverseRefundApproval{Amount: eur("1")}, fields: []string{"reason"}},
		{
			name:  "a returned refund transfer is owed again",
			given: paid,
			when:  &domain.ReverseRefundPayment{Reference: "REF-1", Reason: "Returned by the bank."},
			then:  []domain.Event{domain.RefundPaymentReversed{Reference: "REF-1", Amount: eur("50"), Reason: "Returned by the bank.", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Refund.Paid != eur("0") || !s.Refund.Payments[0].Reversed || !s.Refund.Payments[0].ReversedAt.Equal(whenAt) {
					t.Errorf("refund %+v", s.Refund)
				}
				if !slices.Contains(domain.AllowedActions(s), domain.ActionRecordRefundPayment) {
					t.Errorf("the refund cannot be paid again: %v", domain.AllowedActions(s))
				}
				if _, err := domain.Decide(s, sample(domain.ActionClose), whenAt, policy); !errors.Is(err, domain.ErrRefundNotPaid) {
					t.Errorf("closed with the refund owed: %v", err)
				}
				// The bank's reference of the returned transfer stays used.
				if _, err := domain.Decide(s, &domain.RecordRefundPayment{Amount: eur("50"), Reference: "REF-1"}, whenAt, policy); !errors.Is(err, domain.ErrDuplicateReference) {
					t.Errorf("pay again under the returned reference: %v", err)
				}
			},
		},
		{
			name: "a transfer is reversed once",
			given: with(partPaid,
				domain.RefundPaymentReversed{Reference: "REF-1", Amount: eur("30"), Reason: "x", At: t0},
				domain.RefundPaid{Amount: eur("30"), Reference: "REF-2", At: t0}),
			when: &domain.ReverseRefundPayment{Reference: "REF-1", Reason: "again"},
			err:  domain.ErrAlreadyReversed,
		},
		{name: "an unknown transfer", given: paid, when: &domain.ReverseRefundPayment{Reference: "REF-9", Reason: "x"}, err: domain.ErrUnknownReference},
		{name: "no transfer to reverse", given: refunded, when: sample(domain.ActionReverseRefundPayment), invalid: true, reason: "no refund payment"},
	})
}

func TestCustomerPaymentCorrections(t *testing.T) {
	repairedPaid := with(history(t, "paid"), // 75.00 EUR accepted and paid as PAY-1
		domain.RepairStarted{Where: domain.RepairOwn, At: t0},
		domain.RepairCompleted{WorkDone: "Done.", At: t0})
	chargedBack := with(repairedPaid, domain.PaymentReversed{Reference: "PAY-1", Amount: eur("75"), Reason: "Chargeback.", At: t0})

	run(t, []gwt{
		{
			name:  "a chargeback before the repair: the work waits for payment again",
			given: history(t, "paid"),
			when:  &domain.ReversePayment{Reference: " PAY-1", Reason: "Card chargeback."},
			then:  []domain.Event{domain.PaymentReversed{Reference: "PAY-1", Amount: eur("75"), Reason: "Card chargeback.", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusEstimateAccepted || s.PaidTotal != eur("0") || !s.Payments[0].Reversed {
					t.Errorf("status %s paid %v payments %+v", s.Status, s.PaidTotal, s.Payments)
				}
				allowed := domain.AllowedActions(s)
				if !slices.Contains(allowed, domain.ActionRecordPayment) || !slices.Contains(allowed, domain.ActionReturnUnrepaired) || slices.Contains(allowed, domain.ActionStartRepair) {
					t.Errorf("allowed %v", allowed)
				}
			},
		},
		{name: "paid work is not released after a chargeback", given: chargedBack, when: sample(domain.ActionShipReturn), err: domain.ErrPaymentNotCovered},
		{
			name:  "paid again, it is released",
			given: chargedBack,
			when:  &domain.RecordPayment{Amount: eur("75"), Reference: "PAY-2", Method: domain.PaymentBankTransfer},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusResolved || s.PaidTotal != eur("75") || !slices.Contains(domain.AllowedActions(s), domain.ActionShipReturn) {
					t.Errorf("status %s paid %v allowed %v", s.Status, s.PaidTotal, domain.AllowedActions(s))
				}
			},
		},
		{name: "no more than the estimate", given: chargedBack, when: &domain.RecordPayment{Amount: eur("75.01"), Reference: "PAY-2", Method: domain.PaymentCash}, err: domain.ErrPaymentExceedsOutstanding},
		{name: "nothing to pay on a repaired claim that is paid", given: repairedPaid, when: &domain.RecordPayment{Amount: eur("1"), Reference: "PAY-2", Method: domain.PaymentCash}, invalid: true, reason: "is paid"},
		{name: "nothing to pay without an estimate", given: history(t, "resolved"), when: &domain.RecordPayment{Amount: eur("1"), Reference: "PAY-2", Method: domain.PaymentCash}, invalid: true, reason: "no accepted estimate"},
		{name: "a payment is reversed once", given: with(chargedBack, domain.PaymentRecorded{Amount: eur("75"), Reference: "PAY-2", Method: domain.PaymentCash, At: t0}), when: &domain.ReversePayment{Reference: "PAY-1", Reason: "x"}, err: domain.ErrAlreadyReversed},
		{name: "an unknown payment", given: repairedPaid, when: &domain.ReversePayment{Reference: "PAY-9", Reason: "x"}, err: domain.ErrUnknownReference},
		{name: "no payment to reverse", given: history(t, "estimate_accepted"), when: sample(domain.ActionReversePayment), invalid: true, reason: "no payment"},
	})
}

func TestCreditNoteCancellation(t *testing.T) {
	credited := history(t, "resolved/credited") // CN-1, 20.00 EUR
	run(t, []gwt{
		{
			name:  "the only credit note cancelled: back to a new decision",
			given: credited,
			when:  &domain.CancelCreditNote{Number: "CN-1 ", Reason: "Issued in error."},
			then:  []domain.Event{domain.CreditNoteCancelled{Number: "CN-1", Amount: eur("20"), Reason: "Issued in error.", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusDiagnosed || s.Resolution != nil || !s.CreditNotes[0].Cancelled {
					t.Errorf("status %s resolution %+v notes %+v", s.Status, s.Resolution, s.CreditNotes)
				}
				// Its number is never issued again.
				if _, err := domain.Decide(s, sample(domain.ActionIssueCreditNote), whenAt, policy); !errors.Is(err, domain.ErrDuplicateReference) {
					t.Errorf("reissue CN-1: %v", err)
				}
			},
		},
		{name: "an unknown note", given: credited, when: &domain.CancelCreditNote{Number: "CN-2", Reason: "x"}, err: domain.ErrUnknownReference},
		{name: "a note is cancelled once", given: with(credited, domain.CreditNoteCancelled{Number: "CN-1", Amount: eur("20"), Reason: "x", At: t0}), when: sample(domain.ActionCancelCreditNote), invalid: true},
	})
}

func TestSupplierRecovery(t *testing.T) {
	claimed := history(t, "resolved/recovery-claimed") // 40.00 EUR claimed as LEN-RMA-1
	rejectedClosed := with(history(t, "rejected"), domain.ClaimClosed{ReasonCode: "completed", At: t0})
	run(t, []gwt{
		{
			name:  "claimed from the supplier",
			given: history(t, "closed"),
			when:  &domain.ClaimSupplierRecovery{Amount: eur("40"), Supplier: " Lenovo ", Reference: "LEN-RMA-1", Reason: "Board failure under warranty."},
			then:  []domain.Event{domain.SupplierRecoveryClaimed{Amount: eur("40"), Supplier: "Lenovo", Reference: "LEN-RMA-1", Reason: "Board failure under warranty.", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if r := s.SupplierRecovery; r == nil || r.Claimed != eur("40") || r.Received != eur("0") || s.Status != domain.StatusClosed {
					t.Errorf("status %s recovery %+v", s.Status, r)
				}
			},
		},
		{
			name:  "received in part",
			given: claimed,
			when:  &domain.RecordSupplierRecovery{Amount: eur("25"), Reference: "REM-1"},
			then:  []domain.Event{domain.SupplierRecoveryReceived{Amount: eur("25"), Reference: "REM-1", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.SupplierRecovery.Received != eur("25") || !slices.Contains(domain.AllowedActions(s), domain.ActionRecordSupplierRecovery) {
					t.Errorf("recovery %+v", s.SupplierRecovery)
				}
			},
		},
		{
			name:  "received in full",
			given: with(claimed, domain.SupplierRecoveryReceived{Amount: eur("25"), Reference: "REM-1", At: t0}),
			when:  &domain.RecordSupplierRecovery{Amount: eur("15"), Reference: "REM-2"},
			check: func(t *testing.T, s domain.State) {
				if s.SupplierRecovery.Received != eur("40") || slices.Contains(domain.AllowedActions(s), domain.ActionRecordSupplierRecovery) {
					t.Errorf("recovery %+v allowed %v", s.SupplierRecovery, domain.AllowedActions(s))
				}
			},
		},
		{name: "the same supplier reference twice", given: claimed, when: sample(domain.ActionClaimSupplierRecovery), err: domain.ErrDuplicateReference},
		{name: "the same remittance twice", given: with(claimed, domain.SupplierRecoveryReceived{Amount: eur("1"), Reference: "REM-1", At: t0}), when: &domain.RecordSupplierRecovery{Amount: eur("1"), Reference: "REM-1"}, err: domain.ErrDuplicateReference},
		{name: "claimed in another currency", given: history(t, "resolved"), when: &domain.ClaimSupplierRecovery{Amount: money("40", "USD"), Supplier: "Lenovo", Reference: "L"}, err: domain.ErrCurrencyMismatch},
		{name: "received before it was claimed", given: history(t, "resolved"), when: sample(domain.ActionRecordSupplierRecovery), invalid: true, reason: "claim it first"},
		{name: "nothing given, nothing to recover", given: rejectedClosed, when: sample(domain.ActionClaimSupplierRecovery), invalid: true, reason: "no remedy"},
		{name: "supplier and reference are required", given: history(t, "resolved"), when: &domain.ClaimSupplierRecovery{Amount: eur("1")}, fields: []string{"supplier", "reference"}},
	})

	t.Run("more received than claimed", func(t *testing.T) {
		err := decideErr(t, claimed, &domain.RecordSupplierRecovery{Amount: eur("40.01"), Reference: "REM-1"})
		limit(t, err, domain.ErrRecoveryExceedsClaimed, eur("40"))
	})
}

func TestReplacementValue(t *testing.T) {
	run(t, []gwt{
		{
			name:  "the value of the unit given is recorded",
			given: history(t, "diagnosed"),
			when:  &domain.ReplaceItem{NewSerial: "SN-999", Value: eur("119.00"), Reference: " DN-7 "},
			then:  []domain.Event{domain.ItemReplaced{NewSerial: "SN-999", Value: eur("119.00"), Reference: "DN-7", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Replacement.Value != eur("119") || s.Replacement.Reference != "DN-7" {
					t.Errorf("replacement %+v", s.Replacement)
				}
			},
		},
		{name: "in the claim's currency", given: history(t, "diagnosed"), when: &domain.ReplaceItem{NewSerial: "SN-999", Value: money("119", "USD")}, err: domain.ErrCurrencyMismatch},
		{name: "never negative", given: history(t, "diagnosed"), when: &domain.ReplaceItem{NewSerial: "SN-999", Value: domain.Money{Amount: -1, Currency: "EUR"}}, fields: []string{"value"}},
	})
}

// TestFinanceEvolveLeavesItsInputAlone: corrections mark payments and notes in copies, so a
// state kept by an auditor ("as it was") does not change under them.
func TestFinanceEvolveLeavesItsInputAlone(t *testing.T) {
	paid := domain.Fold(history(t, "resolved/refund-paid"))
	credited := domain.Fold(history(t, "resolved/credited"))
	customer := domain.Fold(history(t, "paid"))
	keep := []domain.State{domain.Fold(history(t, "resolved/refund-paid")), domain.Fold(history(t, "resolved/credited")), domain.Fold(history(t, "paid"))}
	_ = domain.Evolve(paid, domain.RefundPaymentReversed{Reference: "REF-1", Amount: eur("50"), Reason: "x", At: t0})
	_ = domain.Evolve(credited, domain.CreditNoteCancelled{Number: "CN-1", Amount: eur("20"), Reason: "x", At: t0})
	_ = domain.Evolve(customer, domain.PaymentReversed{Reference: "PAY-1", Amount: eur("75"), Reason: "x", At: t0})
	for i, s := range []domain.State{paid, credited, customer} {
		if !reflect.DeepEqual(s, keep[i]) {
			t.Errorf("state %d was modified by Evolve", i)
		}
	}
}

func TestFinanceRulesAreRuleErrors(t *testing.T) {
	for _, err := range []error{domain.ErrUnknownReference, domain.ErrAlreadyReversed, domain.ErrReversalExceedsUnpaid, domain.ErrRecoveryExceedsClaimed} {
		if !domain.IsRuleError(err) || !slices.Contains(domain.RuleErrors(), err) {
			t.Errorf("%v is not a rule error", err)
		}
	}
}
