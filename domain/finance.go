package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the claim's money beyond the first decision: recoveries claimed from the
// manufacturer (the supplier) and received from it, and corrections. A correction is never an
// edit: a refund approval, a refund transfer, a customer payment or a credit note that turns out
// wrong is reversed by a new event, so that the books show both the mistake and its correction.

// The finance rules added with corrections and supplier recovery. Like the other rule sentinels
// they are returned wrapped with the figures that broke them, and IsRuleError knows them (422).
var (
	// ErrUnknownReference is returned for a reversal naming a payment or credit note that is not
	// on the claim.
	ErrUnknownReference = errors.New("no such payment or credit note on the claim")
	// ErrAlreadyReversed is returned for a reversal of a payment or credit note already reversed:
	// reversing twice would take the money back twice.
	ErrAlreadyReversed = errors.New("already reversed")
	// ErrReversalExceedsUnpaid is returned when a refund approval reversal takes back more than
	// the unpaid part of the approved refund. Money already paid is reversed by reversing the
	// payment first, so that approved never drops below paid.
	ErrReversalExceedsUnpaid = errors.New("reversal exceeds the unpaid approved refund")
	// ErrRecoveryExceedsClaimed is returned when more is received from the supplier than was
	// claimed from it and is still outstanding.
	ErrRecoveryExceedsClaimed = errors.New("recovery received exceeds the amount claimed")
)

func init() {
	// Appended here rather than listed in errors.go so that the finance rules stay together;
	// init runs before any caller can ask for RuleErrors.
	ruleErrors = append(ruleErrors, ErrUnknownReference, ErrAlreadyReversed, ErrReversalExceedsUnpaid, ErrRecoveryExceedsClaimed)
}

// LimitError is a money rule broken by an amount: the command asked for Requested where the
// rule left only Available (what the cap, the approval or the claim still allows). It wraps the
// rule's sentinel, so errors.Is(err, ErrRefundExceedsCap) and IsRuleError work on it, and
// errors.As gives a client the figures to offer a corrected amount.
type LimitError struct {
	Rule      error
	Requested Money
	Available Money
	detail    string
}

// Error is the rule followed by the figures that broke it.
func (e *LimitError) Error() string { return e.Rule.Error() + ": " + e.detail }

// Unwrap returns the rule's sentinel.
func (e *LimitError) Unwrap() error { return e.Rule }

// limitError builds a LimitError whose detail explains the figures.
func limitError(rule error, requested, available Money, format string, args ...any) *LimitError {
	return &LimitError{Rule: rule, Requested: requested, Available: available, detail: fmt.Sprintf(format, args...)}
}

// SupplierRecoveryClaimed records money claimed back from the manufacturer or supplier for a
// claim it is responsible for (a refund, replacement or repair the service paid for). Reference
// is the supplier's claim, RMA or invoice number that finance matches the remittance against.
type SupplierRecoveryClaimed struct {
	Amount    Money     `json:"amount"`
	Supplier  string    `json:"supplier"`
	Reference string    `json:"reference"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// SupplierRecoveryReceived records money received from the supplier against what was claimed.
// Reference is the remittance's payment id or the supplier's credit note number.
type SupplierRecoveryReceived struct {
	Amount    Money     `json:"amount"`
	Reference string    `json:"reference"`
	At        time.Time `json:"at"`
}

// RefundApprovalReversed takes back (part of) an approved refund that has not been paid, e.g.
// an amount approved by mistake. When nothing of the refund remains, the claim returns to
// diagnosed for a new decision, as after an overturned appeal.
type RefundApprovalReversed struct {
	Amount Money     `json:"amount"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// RefundPaymentReversed records that a refund transfer did not reach the customer (returned by
// the bank, sent to the wrong account): the money is owed again. Amount is the payment's,
// copied so that the event explains itself.
type RefundPaymentReversed struct {
	Reference string    `json:"reference"`
	Amount    Money     `json:"amount"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// PaymentReversed records that a customer payment for paid work was taken back (a card
// chargeback, a bounced transfer, or money returned to the customer). Amount is the payment's.
type PaymentReversed struct {
	Reference string    `json:"reference"`
	Amount    Money     `json:"amount"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// CreditNoteCancelled cancels an issued credit note; its amount no longer counts against the
// refund cap. When no credit note of a credited claim remains, the claim returns to diagnosed.
type CreditNoteCancelled struct {
	Number string    `json:"number"`
	Amount Money     `json:"amount"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// EventType returns "claim.supplier_recovery_claimed.v1".
func (SupplierRecoveryClaimed) EventType() string { return "claim.supplier_recovery_claimed.v1" }

// EventType returns "claim.supplier_recovery_received.v1".
func (SupplierRecoveryReceived) EventType() string { return "claim.supplier_recovery_received.v1" }

// EventType returns "claim.refund_approval_reversed.v1".
func (RefundApprovalReversed) EventType() string { return "claim.refund_approval_reversed.v1" }

// EventType returns "claim.refund_payment_reversed.v1".
func (RefundPaymentReversed) EventType() string { return "claim.refund_payment_reversed.v1" }

// EventType returns "claim.payment_reversed.v1".
func (PaymentReversed) EventType() string { return "claim.payment_reversed.v1" }

// EventType returns "claim.credit_note_cancelled.v1".
func (CreditNoteCancelled) EventType() string { return "claim.credit_note_cancelled.v1" }

func (e SupplierRecoveryClaimed) occurredAt() time.Time  { return e.At }
func (e SupplierRecoveryReceived) occurredAt() time.Time { return e.At }
func (e RefundApprovalReversed) occurredAt() time.Time   { return e.At }
func (e RefundPaymentReversed) occurredAt() time.Time    { return e.At }
func (e PaymentReversed) occurredAt() time.Time          { return e.At }
func (e CreditNoteCancelled) occurredAt() time.Time      { return e.At }

// OccurredAt returns the time an event of this package records (its At, the time of the
// decision), or the zero time for an event of another package. Read models use it to date
// facts without a case per event type.
func OccurredAt(e Event) time.Time {
	if t, ok := e.(timed); ok {
		return t.occurredAt()
	}
	return time.Time{}
}

// SupplierRecovery is what was claimed from suppliers for the claim and what they paid.
// Claimed and Received are in the claim's currency.
type SupplierRecovery struct {
	Claimed  Money             `json:"claimed"`
	Received Money             `json:"received"`
	Claims   []RecoveryClaim   `json:"claims,omitempty"`
	Receipts []RecoveryReceipt `json:"receipts,omitempty"`
}

// RecoveryClaim is one claim for money sent to a supplier.
type RecoveryClaim struct {
	Amount    Money     `json:"amount"`
	Supplier  string    `json:"supplier"`
	Reference string    `json:"reference"`
	Reason    string    `json:"reason,omitempty"`
	ClaimedAt time.Time `json:"claimed_at"`
}

// RecoveryReceipt is one remittance received from a supplier.
type RecoveryReceipt struct {
	Amount     Money     `json:"amount"`
	Reference  string    `json:"reference"`
	ReceivedAt time.Time `json:"received_at"`
}

// ClaimSupplierRecovery claims money back from the supplier; amount, supplier and reference
// are required, all in the claim's currency.
type ClaimSupplierRecovery struct {
	Amount    Money  `json:"amount"`
	Supplier  string `json:"supplier"`
	Reference string `json:"reference"`
	Reason    string `json:"reason,omitempty"`
}

// Action returns ActionClaimSupplierRecovery.
func (ClaimSupplierRecovery) Action() Action { return ActionClaimSupplierRecovery }

// Validate checks the fields.
func (c ClaimSupplierRecovery) Validate() error {
	var v validation
	v.positive("amount", c.Amount)
	v.required("supplier", c.Supplier)
	v.line("supplier", c.Supplier, maxLine)
	v.required("reference", c.Reference)
	v.line("reference", c.Reference, maxLine)
	v.long("reason", c.Reason)
	return v.result()
}

// RecordSupplierRecovery records money received from the supplier; amount and reference are
// required. Decide caps it at what was claimed and is still outstanding.
type RecordSupplierRecovery struct {
	Amount    Money  `json:"amount"`
	Reference string `json:"reference"`
}

// Action returns ActionRecordSupplierRecovery.
func (RecordSupplierRecovery) Action() Action { return ActionRecordSupplierRecovery }

// Validate checks the fields.
func (c RecordSupplierRecovery) Validate() error {
	var v validation
	v.positive("amount", c.Amount)
	v.required("reference", c.Reference)
	v.line("reference", c.Reference, maxLine)
	return v.result()
}

// ReverseRefundApproval takes back an unpaid amount of the approved refund; amount and reason
// are required (a correction always says why).
type ReverseRefundApproval struct {
	Amount Money  `json:"amount"`
	Reason string `json:"reason"`
}

// Action returns ActionReverseRefundApproval.
func (ReverseRefundApproval) Action() Action { return ActionReverseRefundApproval }

// Validate checks the fields.
func (c ReverseRefundApproval) Validate() error {
	var v validation
	v.positive("amount", c.Amount)
	v.required("reason", c.Reason)
	v.long("reason", c.Reason)
	return v.result()
}

// ReverseRefundPayment reverses one refund transfer, named by its reference; reason required.
type ReverseRefundPayment struct {
	Reference string `json:"reference"`
	Reason    string `json:"reason"`
}

// Action returns ActionReverseRefundPayment.
func (ReverseRefundPayment) Action() Action { return ActionReverseRefundPayment }

// Validate checks the fields.
func (c ReverseRefundPayment) Validate() error {
	var v validation
	v.required("reference", c.Reference)
	v.line("reference", c.Reference, maxLine)
	v.required("reason", c.Reason)
	v.long("reason", c.Reason)
	return v.result()
}

// ReversePayment reverses one customer payment, named by its reference; reason required.
type ReversePayment struct {
	Reference string `json:"reference"`
	Reason    string `json:"reason"`
}

// Action returns ActionReversePayment.
func (ReversePayment) Action() Action { return ActionReversePayment }

// Validate checks the fields.
func (c ReversePayment) Validate() error {
	var v validation
	v.required("reference", c.Reference)
	v.line("reference", c.Reference, maxLine)
	v.required("reason", c.Reason)
	v.long("reason", c.Reason)
	return v.result()
}

// CancelCreditNote cancels one credit note, named by its number; reason required.
type CancelCreditNote struct {
	Number string `json:"number"`
	Reason string `json:"reason"`
}

// Action returns ActionCancelCreditNote.
func (CancelCreditNote) Action() Action { return ActionCancelCreditNote }

// Validate checks the fields.
func (c CancelCreditNote) Validate() error {
	var v validation
	v.required("number", c.Number)
	v.line("number", c.Number, maxLine)
	v.required("reason", c.Reason)
	v.long("reason", c.Reason)
	return v.result()
}

func (c ClaimSupplierRecovery) decide(s State, at time.Time, _ Policy) (Event, error) {
	if err := inClaimCurrency(s, "amount", c.Amount); err != nil {
		return nil, err
	}
	ref := strings.TrimSpace(c.Reference)
	if r := s.SupplierRecovery; r != nil && slices.ContainsFunc(r.Claims, func(rc RecoveryClaim) bool { return rc.Reference == ref }) {
		return nil, fmt.Errorf("%w: supplier recovery %q is already claimed", ErrDuplicateReference, ref)
	}
	return SupplierRecoveryClaimed{
		Amount:    c.Amount,
		Supplier:  strings.TrimSpace(c.Supplier),
		Reference: ref,
		Reason:    strings.TrimSpace(c.Reason),
		At:        at,
	}, nil
}

func (c RecordSupplierRecovery) decide(s State, at time.Time, _ Policy) (Event, error) {
	if err := inClaimCurrency(s, "amount", c.Amount); err != nil {
		return nil, err
	}
	r := s.SupplierRecovery // the transition guard made sure it exists
	ref := strings.TrimSpace(c.Reference)
	if slices.ContainsFunc(r.Receipts, func(rr RecoveryReceipt) bool { return rr.Reference == ref }) {
		return nil, fmt.Errorf("%w: supplier remittance %q is already recorded", ErrDuplicateReference, ref)
	}
	outstanding, err := r.Claimed.Sub(r.Received)
	if err != nil {
		return nil, err
	}
	if c.Amount.Amount > outstanding.Amount {
		return nil, limitError(ErrRecoveryExceedsClaimed, c.Amount, outstanding,
			"%s received, %s of the %s claimed outstanding", c.Amount, outstanding, r.Claimed)
	}
	return SupplierRecoveryReceived{Amount: c.Amount, Reference: ref, At: at}, nil
}

func (c ReverseRefundApproval) decide(s State, at time.Time, _ Policy) (Event, error) {
	if err := inClaimCurrency(s, "amount", c.Amount); err != nil {
		return nil, err
	}
	unpaid, err := s.Refund.Approved.Sub(s.Refund.Paid)
	if err != nil {
		return nil, err
	}
	if c.Amount.Amount > unpaid.Amount {
		return nil, limitError(ErrReversalExceedsUnpaid, c.Amount, unpaid,
			"%s reversed, %s of the approved %s unpaid (reverse the refund payment first)", c.Amount, unpaid, s.Refund.Approved)
	}
	return RefundApprovalReversed{Amount: c.Amount, Reason: strings.TrimSpace(c.Reason), At: at}, nil
}

func (c ReverseRefundPayment) decide(s State, at time.Time, _ Policy) (Event, error) {
	ref := strings.TrimSpace(c.Reference)
	i := slices.IndexFunc(s.Refund.Payments, func(p RefundPayment) bool { return p.Reference == ref })
	switch {
	case i < 0:
		return nil, fmt.Errorf("%w: no refund payment %q", ErrUnknownReference, ref)
	case s.Refund.Payments[i].Reversed:
		return nil, fmt.Errorf("%w: refund payment %q", ErrAlreadyReversed, ref)
	}
	return RefundPaymentReversed{Reference: ref, Amount: s.Refund.Payments[i].Amount, Reason: strings.TrimSpace(c.Reason), At: at}, nil
}

func (c ReversePayment) decide(s State, at time.Time, _ Policy) (Event, error) {
	ref := strings.TrimSpace(c.Reference)
	i := slices.IndexFunc(s.Payments, func(p Payment) bool { return p.Reference == ref })
	switch {
	case i < 0:
		return nil, fmt.Errorf("%w: no payment %q", ErrUnknownReference, ref)
	case s.Payments[i].Reversed:
		return nil, fmt.Errorf("%w: payment %q", ErrAlreadyReversed, ref)
	}
	return PaymentReversed{Reference: ref, Amount: s.Payments[i].Amount, Reason: strings.TrimSpace(c.Reason), At: at}, nil
}

func (c CancelCreditNote) decide(s State, at time.Time, _ Policy) (Event, error) {
	number := strings.TrimSpace(c.Number)
	i := slices.IndexFunc(s.CreditNotes, func(n CreditNote) bool { return n.Number == number })
	switch {
	case i < 0:
		return nil, fmt.Errorf("%w: no credit note %q", ErrUnknownReference, number)
	case s.CreditNotes[i].Cancelled:
		return nil, fmt.Errorf("%w: credit note %q is already cancelled", ErrAlreadyReversed, number)
	}
	return CreditNoteCancelled{Number: number, Amount: s.CreditNotes[i].Amount, Reason: strings.TrimSpace(c.Reason), At: at}, nil
}

// Guards of the finance actions. They are plain guards (409 with the reason): the action makes
// no sense for the claim as it stands, whatever the amount.

// remedyGiven guards supplier recovery: something was given or is under repair that a supplier
// could owe for. A rejected or withdrawn claim has nothing to recover, nor one fixed without the
// goods.
func remedyGiven(s State) error {
	if s.Status != StatusInRepair && (s.Resolution == nil || s.resolvedRemotely()) {
		return blocked("the claim has no remedy (repair, replacement, refund or credit note) to recover from a supplier")
	}
	return nil
}

// recoveryOutstanding guards recording a supplier remittance.
func recoveryOutstanding(s State) error {
	if err := remedyGiven(s); err != nil {
		return err
	}
	if r := s.SupplierRecovery; r == nil || r.Received.Amount >= r.Claimed.Amount {
		return blocked("no supplier recovery is outstanding: claim it first (claim-supplier-recovery)")
	}
	return nil
}

// refundUnpaid guards reversing a refund approval: only an unpaid approved amount can be taken
// back.
func refundUnpaid(s State) error {
	if r := s.Refund; r == nil || r.Paid.Amount >= r.Approved.Amount {
		return blocked("no approved refund is unpaid (a paid refund is corrected by reversing its payment)")
	}
	return nil
}

// refundPaymentStanding guards reversing a refund payment.
func refundPaymentStanding(s State) error {
	if r := s.Refund; r == nil || !slices.ContainsFunc(r.Payments, func(p RefundPayment) bool { return !p.Reversed }) {
		return blocked("no refund payment to reverse")
	}
	return nil
}

// paymentStanding guards reversing a customer payment.
func paymentStanding(s State) error {
	if !slices.ContainsFunc(s.Payments, func(p Payment) bool { return !p.Reversed }) {
		return blocked("no payment to reverse")
	}
	return nil
}

// paymentOutstanding guards recording a customer payment: an accepted estimate not yet covered,
// or the price difference of a dearer replacement model. Besides estimate_accepted, this lets a
// claim whose payment was reversed during or after the repair be paid again; otherwise it could
// never be shipped back.
func paymentOutstanding(s State) error {
	if s.differenceOutstanding().Amount > 0 {
		return nil
	}
	e := s.Estimate
	if e == nil || e.Decision != EstimateDecisionAccepted {
		return blocked("no accepted estimate or price difference to pay")
	}
	if s.PaidTotal.Amount >= e.Total.Amount {
		return blocked(fmt.Sprintf("the accepted estimate of %s is paid", e.Total))
	}
	return nil
}

// creditNoteStanding guards cancelling a credit note.
func creditNoteStanding(s State) error {
	if !slices.ContainsFunc(s.CreditNotes, func(n CreditNote) bool { return !n.Cancelled }) {
		return blocked("no credit note to cancel")
	}
	return nil
}

// evolveFinance applies the events of this file; Evolve delegates to it.
func (s State) evolveFinance(e Event) State {
	switch e := e.(type) {
	case SupplierRecoveryClaimed:
		r := s.recovery(e.Amount.Currency)
		r.Claimed.Amount += e.Amount.Amount
		r.Claims = append(slices.Clip(r.Claims), RecoveryClaim{Amount: e.Amount, Supplier: e.Supplier, Reference: e.Reference, Reason: e.Reason, ClaimedAt: e.At})
		s.SupplierRecovery = r
	case SupplierRecoveryReceived:
		r := s.recovery(e.Amount.Currency)
		r.Received.Amount += e.Amount.Amount
		r.Receipts = append(slices.Clip(r.Receipts), RecoveryReceipt{Amount: e.Amount, Reference: e.Reference, ReceivedAt: e.At})
		s.SupplierRecovery = r
	case RefundApprovalReversed:
		r := s.refund(e.Amount.Currency)
		r.Approved.Amount -= e.Amount.Amount
		s.Refund = r
		if r.Approved.Amount <= 0 && r.Paid.Amount <= 0 {
			s = s.unresolve(ResolutionRefunded)
		}
	case RefundPaymentReversed:
		r := s.refund(e.Amount.Currency)
		r.Payments = slices.Clone(r.Payments)
		if i := slices.IndexFunc(r.Payments, func(p RefundPayment) bool { return p.Reference == e.Reference && !p.Reversed }); i >= 0 {
			r.Payments[i].Reversed, r.Payments[i].ReversedAt, r.Payments[i].ReversalReason = true, e.At, e.Reason
		}
		r.Paid.Amount -= e.Amount.Amount
		s.Refund = r
	case PaymentReversed:
		s.Payments = slices.Clone(s.Payments)
		if i := slices.IndexFunc(s.Payments, func(p Payment) bool { return p.Reference == e.Reference && !p.Reversed }); i >= 0 {
			s.Payments[i].Reversed, s.Payments[i].ReversedAt, s.Payments[i].ReversalReason = true, e.At, e.Reason
			if s.Payments[i].For == PaymentForPriceDifference {
				return s.evolveDifferencePayment(-e.Amount.Amount)
			}
		}
		s.PaidTotal = Money{Amount: s.PaidTotal.Amount - e.Amount.Amount, Currency: s.PaidTotal.Currency}
		if s.Status == StatusPaid && s.Estimate != nil && s.PaidTotal.Amount < s.Estimate.Total.Amount {
			s.Status = StatusEstimateAccepted // the work waits for payment again
		}
	case CreditNoteCancelled:
		s.CreditNotes = slices.Clone(s.CreditNotes)
		if i := slices.IndexFunc(s.CreditNotes, func(n CreditNote) bool { return n.Number == e.Number && !n.Cancelled }); i >= 0 {
			s.CreditNotes[i].Cancelled, s.CreditNotes[i].CancelledAt, s.CreditNotes[i].CancelReason = true, e.At, e.Reason
		}
		if !slices.ContainsFunc(s.CreditNotes, func(n CreditNote) bool { return !n.Cancelled }) {
			s = s.unresolve(ResolutionCredited)
		}
	}
	return s
}

// unresolve sends a resolved claim whose remedy was entirely reversed back to diagnosed for a
// new decision, as an overturned appeal does. Only the remedy that resolved it counts: a
// reversed refund does not undo a later repair.
func (s State) unresolve(kind string) State {
	if s.Status == StatusResolved && s.Resolution != nil && s.Resolution.Kind == kind {
		s.Status, s.Resolution = StatusDiagnosed, nil
	}
	return s
}

// recovery returns a copy of the supplier recovery record to modify, or a new one.
func (s State) recovery(currency string) *SupplierRecovery {
	if s.SupplierRecovery == nil {
		return &SupplierRecovery{Claimed: Money{Currency: currency}, Received: Money{Currency: currency}}
	}
	r := *s.SupplierRecovery
	return &r
}

// capUsed is what counts against the refund cap: the approved refund net of reversals and the
// credit notes not cancelled.
func (s State) capUsed() (Money, error) {
	used := Money{Currency: s.Price.Currency}
	if s.Refund != nil {
		used.Amount = s.Refund.Approved.Amount
	}
	for _, n := range s.CreditNotes {
		if n.Cancelled {
			continue
		}
		var err error
		if used, err = used.Add(n.Amount); err != nil {
			return Money{}, err
		}
	}
	return used, nil
}
