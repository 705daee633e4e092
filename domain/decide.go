package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// decider is implemented by every command of this package: the decision for the command's
// action, once Decide has validated it and checked the transition.
type decider interface {
	decide(s State, at time.Time, p Policy) (Event, error)
}

// Decide returns the events that command c produces on claim s at time now under policy p,
// or why it cannot: ValidationErrors (a field is wrong), ErrClaimExists or ErrNoClaim,
// *InvalidTransitionError (not possible in this status), or a rule error (IsRuleError).
// Other errors are faults of the caller (an invalid policy, a register command without the
// ClaimID the application assigns). Decide writes nothing: on error there are no events.
//
// Events are stamped with now in UTC. Every command here produces exactly one event; the
// slice leaves room for commands that record several facts at once.
func Decide(s State, c Command, now time.Time, p Policy) ([]Event, error) {
	if c == nil {
		return nil, errors.New("domain: nil command")
	}
	d, ok := c.(decider)
	if !ok {
		return nil, fmt.Errorf("domain: %T is not a command of this package", c)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch a := c.Action(); {
	case a == ActionRegister && s.Exists():
		return nil, fmt.Errorf("%w: claim %s", ErrClaimExists, s.Number)
	case a == ActionRegister:
	case !s.Exists():
		return nil, ErrNoClaim
	default:
		if err := checkTransition(s, a); err != nil {
			return nil, err
		}
	}
	e, err := d.decide(s, now.UTC(), p)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// trimmed returns the entries of a list without surrounding spaces, or nil for an empty list.
func trimmed(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

// cleanProof returns a trimmed copy of an optional proof of purchase.
func cleanProof(p *ProofOfPurchase) *ProofOfPurchase {
	if p == nil {
		return nil
	}
	return &ProofOfPurchase{Kind: p.Kind, Reference: strings.TrimSpace(p.Reference)}
}

// cleanCenter returns a service center without surrounding spaces.
func cleanCenter(sc ServiceCenter) ServiceCenter {
	return ServiceCenter{
		Name:    strings.TrimSpace(sc.Name),
		Country: sc.Country,
		Address: strings.TrimSpace(sc.Address),
		Contact: strings.TrimSpace(sc.Contact),
	}
}

// inClaimCurrency rejects an amount not in the currency of the claim's price.
func inClaimCurrency(s State, field string, m Money) error {
	if m.Currency != s.Price.Currency {
		return fmt.Errorf("%w: %s is in %s, the claim is in %s", ErrCurrencyMismatch, field, m.Currency, s.Price.Currency)
	}
	return nil
}

// notAfterToday rejects a document date later than the day of the decision in the policy's
// time zone, where the customer's receipt was dated. A date in the future is a typo, and
// eligibility computed from it would be wrong.
func notAfterToday(field string, d Date, at time.Time, p Policy) error {
	if today := p.today(at); d.After(today) {
		return ValidationErrors{{Field: field, Problem: fmt.Sprintf("must not be after today (%s in %s)", today, p.Calendar.Loc())}}
	}
	return nil
}

// today is the day of instant at in the policy's time zone.
func (p Policy) today(at time.Time) Date { return DateOf(at.In(p.Calendar.Loc())) }

// decide records, besides what the customer told, the eligibility decided under p as of the
// claim date (the day of registration in the policy's time zone).
func (c RegisterClaim) decide(_ State, at time.Time, p Policy) (Event, error) {
	if c.ClaimID == uuid.Nil || strings.TrimSpace(c.Number) == "" {
		return nil, errors.New("domain: RegisterClaim needs the ClaimID and Number the application assigns")
	}
	if err := notAfterToday("purchase_date", c.PurchaseDate, at, p); err != nil {
		return nil, err
	}
	if err := evidenceNotAfterToday(c.Coverages, c.PriorRepairs, at, p); err != nil {
		return nil, err
	}
	if err := reportedInTime(c.ReportedAt, c.PurchaseDate, at, p); err != nil {
		return nil, err
	}
	phone, ok := NormalizePhoneIn(c.Customer.Phone, p.DefaultCountry)
	if !ok {
		return nil, ValidationErrors{{Field: "customer.phone", Problem: phoneProblem(p.DefaultCountry)}}
	}
	imei, _ := NormalizeIMEI(c.Product.IMEI)
	return ClaimRegistered{
		ClaimID: c.ClaimID,
		Number:  strings.TrimSpace(c.Number),
		Customer: Customer{
			Name:    strings.TrimSpace(c.Customer.Name),
			Phone:   phone,
			Email:   NormalizeEmail(c.Customer.Email),
			Address: strings.TrimSpace(c.Customer.Address),
		},
		Product: Product{
			SKU:         strings.TrimSpace(c.Product.SKU),
			Category:    c.Product.Category,
			Serial:      strings.TrimSpace(c.Product.Serial),
			IMEI:        imei,
			Description: strings.TrimSpace(c.Product.Description),
			Component:   c.Product.Component,
			Condition:   c.Product.Condition,
		},
		PurchaseDate:    c.PurchaseDate,
		ProofOfPurchase: cleanProof(c.ProofOfPurchase),
		Price:           c.Price,
		Defect:          strings.TrimSpace(c.Defect),
		Channel:         c.Channel,
		Coverages:       cleanCoverages(c.Coverages),
		PriorRepairs:    cleanRepairs(c.PriorRepairs),
		RepairsOnRecord: cleanRepairsOnRecord(c.ClaimID, c.RepairsOnRecord, at),
		ReportedAt:      c.ReportedAt.UTC(),
		Organisation:    c.Organisation,
		At:              at,
	}.withEligibility(p), nil
}

func (c RedirectToServiceCenter) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return ClaimRedirectedToServiceCenter{
		ServiceCenter: cleanCenter(c.ServiceCenter),
		Notes:         strings.TrimSpace(c.Notes),
		At:            at,
	}, nil
}

func (c RecordUnrepairabilityAct) decide(_ State, at time.Time, p Policy) (Event, error) {
	if err := notAfterToday("issued_on", c.IssuedOn, at, p); err != nil {
		return nil, err
	}
	return ServiceCenterActRecorded{
		Kind:      c.Kind,
		Reference: strings.TrimSpace(c.Reference),
		IssuedOn:  c.IssuedOn,
		Notes:     strings.TrimSpace(c.Notes),
		At:        at,
	}, nil
}

// decide enforces that no RMA number is given without a confirmed purchase, i.e. a proof of purchase (on
// the claim or in this command) and a serial number or IMEI. A claim that is not covered
// proceeds only as paid work (see authorizeEligibility).
func (c AuthorizeClaim) decide(s State, at time.Time, p Policy) (Event, error) {
	if s.ProofOfPurchase == nil && c.ProofOfPurchase == nil {
		return nil, fmt.Errorf("%w: no receipt, invoice or warranty card on the claim or in the request", ErrPurchaseNotConfirmed)
	}
	if s.Product.Serial == "" && s.Product.IMEI == "" {
		return nil, fmt.Errorf("%w: the claim has neither a serial number nor an IMEI", ErrPurchaseNotConfirmed)
	}
	if err := evidenceNotAfterToday(c.Coverages, c.PriorRepairs, at, p); err != nil {
		return nil, err
	}
	e := ClaimAuthorized{
		ServiceCenter:      cleanCenter(c.ServiceCenter),
		DocumentsRequested: trimmed(c.DocumentsRequested),
		ProofOfPurchase:    cleanProof(c.ProofOfPurchase),
		Notes:              strings.TrimSpace(c.Notes),
		PaidRepair:         c.PaidRepair,
		Coverages:          cleanCoverages(c.Coverages),
		PriorRepairs:       cleanRepairs(c.PriorRepairs),
		DocumentsFirst:     p.DocumentsBeforeShipment && len(c.DocumentsRequested) > 0,
		At:                 at,
	}
	var err error
	if e.Eligibility, err = authorizeEligibility(s, e, p); err != nil {
		return nil, err
	}
	return e, nil
}

func (c RejectClaim) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return ClaimRejected{ReasonCode: c.ReasonCode, Reason: strings.TrimSpace(c.Reason), At: at}, nil
}

func (c ReceiveDocuments) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return DocumentsReceived{Documents: trimmed(c.Documents), At: at}, nil
}

func (c RecordCustomerShipment) decide(s State, at time.Time, p Policy) (Event, error) {
	if err := documentsChecked(s, p); err != nil {
		return nil, err
	}
	return CustomerShipmentRecorded{
		Carrier:        strings.TrimSpace(c.Carrier),
		TrackingNumber: strings.TrimSpace(c.TrackingNumber),
		At:             at,
	}, nil
}

func (c ReceiveClaim) decide(s State, at time.Time, p Policy) (Event, error) {
	if err := documentsChecked(s, p); err != nil {
		return nil, err
	}
	return ClaimReceived{
		Condition:     strings.TrimSpace(c.Condition),
		Accessories:   trimmed(c.Accessories),
		SealsIntact:   *c.SealsIntact,
		Photos:        trimmed(c.Photos),
		ServiceCenter: strings.TrimSpace(c.ServiceCenter),
		ReceivedBy:    strings.TrimSpace(c.ReceivedBy),
		At:            at,
	}, nil
}

// decide accepts a void reason only from the policy's list, when it has one: reports and the
// release protocol group voids by these codes.
func (c DiagnoseClaim) decide(s State, at time.Time, p Policy) (Event, error) {
	if c.Outcome == OutcomeWarrantyVoid && !p.Warranty.validVoidReason(c.VoidReasonCode) {
		return nil, ValidationErrors{{Field: "void_reason_code", Problem: "must be one of the policy's void reasons: " + strings.Join(p.Warranty.VoidReasons, ", ")}}
	}
	if err := c.confirmable(s); err != nil {
		return nil, err
	}
	return ClaimDiagnosed{
		Outcome:          c.Outcome,
		VoidReasonCode:   c.VoidReasonCode,
		Findings:         strings.TrimSpace(c.Findings),
		ConfirmsEstimate: c.ConfirmsEstimate,
		At:               at,
	}, nil
}

// decide fills absent components with zero in the claim's currency and stores the total.
func (c IssueEstimate) decide(s State, at time.Time, _ Policy) (Event, error) {
	zero := Money{Currency: s.Price.Currency}
	parts := []struct {
		field string
		m     *Money
	}{{"parts", &c.Parts}, {"labour", &c.Labour}, {"shipping", &c.Shipping}}
	total := zero
	for _, part := range parts {
		if part.m.IsZero() {
			*part.m = zero
		}
		if err := inClaimCurrency(s, part.field, *part.m); err != nil {
			return nil, err
		}
		var err error
		if total, err = total.Add(*part.m); err != nil {
			return nil, err
		}
	}
	return EstimateIssued{
		DamageLevel: c.DamageLevel,
		Parts:       c.Parts,
		Labour:      c.Labour,
		Shipping:    c.Shipping,
		Total:       total,
		Description: strings.TrimSpace(c.Description),
		At:          at,
	}, nil
}

func (c AcceptEstimate) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return EstimateAccepted{Reference: strings.TrimSpace(c.Reference), At: at}, nil
}

func (c DeclineEstimate) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return EstimateDeclined{Reason: strings.TrimSpace(c.Reason), At: at}, nil
}

// decide accepts payments up to the outstanding amount of the accepted estimate. The payments
// counted are all payments on the claim, so money paid towards an earlier estimate (before an
// overturned dispute) still counts towards the current one.
func (c RecordPayment) decide(s State, at time.Time, _ Policy) (Event, error) {
	if err := inClaimCurrency(s, "amount", c.Amount); err != nil {
		return nil, err
	}
	ref := strings.TrimSpace(c.Reference)
	if slices.ContainsFunc(s.Payments, func(p Payment) bool { return p.Reference == ref }) {
		return nil, fmt.Errorf("%w: payment %q is already recorded", ErrDuplicateReference, ref)
	}
	if c.Provider != "" && slices.ContainsFunc(s.Payments, func(p Payment) bool {
		return p.Provider == c.Provider && p.ProviderPaymentID == c.ProviderPaymentID
	}) {
		return nil, fmt.Errorf("%w: %s payment %q is already recorded", ErrDuplicateReference, c.Provider, c.ProviderPaymentID)
	}
	purpose, outstanding, err := s.paymentFor(c.For)
	if err != nil {
		return nil, err
	}
	if c.Amount.Amount > outstanding.Amount {
		return nil, limitError(ErrPaymentExceedsOutstanding, c.Amount, outstanding, "%s paid, %s outstanding", c.Amount, outstanding)
	}
	return PaymentRecorded{Amount: c.Amount, Reference: ref, Method: c.Method, For: purpose,
		Provider: c.Provider, ProviderPaymentID: c.ProviderPaymentID, At: at}, nil
}

func (c StartRepair) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return RepairStarted{
		Where:      c.Where,
		Technician: strings.TrimSpace(c.Technician),
		Notes:      strings.TrimSpace(c.Notes),
		At:         at,
	}, nil
}

func (c CompleteRepair) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return RepairCompleted{WorkDone: strings.TrimSpace(c.WorkDone), Parts: trimmed(c.Parts), At: at}, nil
}

// decide records the replacement's value, when given, in the claim's currency: it is what
// finance books as the compensation and may claim back from the supplier.
func (c ReplaceItem) decide(s State, at time.Time, p Policy) (Event, error) {
	if !c.Value.IsZero() {
		if err := inClaimCurrency(s, "value", c.Value); err != nil {
			return nil, err
		}
	}
	c.NewSKU = strings.TrimSpace(c.NewSKU)
	refund, charge, err := c.priceDifference(s, p)
	if err != nil {
		return nil, err
	}
	e := ItemReplaced{
		NewSerial:        strings.TrimSpace(c.NewSerial),
		NewSKU:           c.NewSKU,
		Notes:            strings.TrimSpace(c.Notes),
		Value:            c.Value,
		Reference:        strings.TrimSpace(c.Reference),
		DifferenceRefund: refund,
		DifferenceCharge: charge,
		At:               at,
	}
	if !refund.IsZero() {
		e.CapBasisPoints = p.RefundCapBasisPoints
	}
	return e, nil
}

// withinCap enforces the refund cap (by default at most 70% of the price is ever given back):
// approved refunds, credit notes and the new amount together may not exceed it.
func withinCap(s State, amount Money, p Policy) error {
	if err := inClaimCurrency(s, "amount", amount); err != nil {
		return err
	}
	limit := p.refundCap(s.Price)
	used, err := s.capUsed() // net of reversed approvals and cancelled credit notes
	if err != nil {
		return err
	}
	after, err := used.Add(amount)
	if err != nil {
		return err
	}
	if after.Amount > limit.Amount {
		available := Money{Amount: max(0, limit.Amount-used.Amount), Currency: limit.Currency}
		return limitError(ErrRefundExceedsCap, amount, available, "%s would bring refunds and credit notes to %s; the cap is %s (%s of the price %s), %s already used",
			amount, after, limit, capPercent(p.RefundCapBasisPoints), s.Price, used)
	}
	return nil
}

func (c ApproveRefund) decide(s State, at time.Time, p Policy) (Event, error) {
	if err := withinCap(s, c.Amount, p); err != nil {
		return nil, err
	}
	return RefundApproved{
		Amount:         c.Amount,
		Reason:         strings.TrimSpace(c.Reason),
		CapBasisPoints: p.RefundCapBasisPoints,
		Reference:      strings.TrimSpace(c.Reference),
		At:             at,
	}, nil
}

func (c RecordRefundPayment) decide(s State, at time.Time, _ Policy) (Event, error) {
	if err := inClaimCurrency(s, "amount", c.Amount); err != nil {
		return nil, err
	}
	ref := strings.TrimSpace(c.Reference)
	if slices.ContainsFunc(s.Refund.Payments, func(p RefundPayment) bool { return p.Reference == ref }) {
		return nil, fmt.Errorf("%w: refund payment %q is already recorded", ErrDuplicateReference, ref)
	}
	unpaid, err := s.Refund.Approved.Sub(s.Refund.Paid)
	if err != nil {
		return nil, err
	}
	if c.Amount.Amount > unpaid.Amount {
		return nil, limitError(ErrRefundPaymentExceedsApproved, c.Amount, unpaid, "%s paid, %s of the approved %s unpaid", c.Amount, unpaid, s.Refund.Approved)
	}
	return RefundPaid{Amount: c.Amount, Reference: ref, At: at}, nil
}

func (c IssueCreditNote) decide(s State, at time.Time, p Policy) (Event, error) {
	number := strings.TrimSpace(c.Number)
	if slices.ContainsFunc(s.CreditNotes, func(n CreditNote) bool { return n.Number == number }) {
		return nil, fmt.Errorf("%w: credit note %q is already issued", ErrDuplicateReference, number)
	}
	if err := withinCap(s, c.Amount, p); err != nil {
		return nil, err
	}
	return CreditNoteIssued{
		Number:         number,
		Amount:         c.Amount,
		Reason:         strings.TrimSpace(c.Reason),
		CapBasisPoints: p.RefundCapBasisPoints,
		At:             at,
	}, nil
}

// decide names the resolution after the diagnosis: no fault found is a different outcome for
// the customer (and for statistics) than a repair they did not want.
func (c ReturnUnrepaired) decide(s State, at time.Time, _ Policy) (Event, error) {
	kind := ResolutionReturnedUnrepaired
	if s.Diagnosis != nil && s.Diagnosis.Outcome == OutcomeNoFaultFound {
		kind = ResolutionNoFaultFound
	}
	return ClaimReturnedUnrepaired{Resolution: kind, Reason: strings.TrimSpace(c.Reason), At: at}, nil
}

func (c ShipReturn) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return ReturnShipped{
		Carrier:        strings.TrimSpace(c.Carrier),
		TrackingNumber: strings.TrimSpace(c.TrackingNumber),
		At:             at,
	}, nil
}

func (c ConfirmDelivery) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return DeliveryConfirmed{SignedBy: strings.TrimSpace(c.SignedBy), At: at}, nil
}

func (c OpenDispute) decide(s State, at time.Time, _ Policy) (Event, error) {
	var original string
	if s.Resolution != nil {
		original = s.Resolution.Kind
	}
	return DisputeOpened{
		Reason:             strings.TrimSpace(c.Reason),
		Reference:          strings.TrimSpace(c.Reference),
		OriginalResolution: original,
		At:                 at,
	}, nil
}

// decide cancels the unpaid part of an approved refund when the decision is overturned: the
// refund belonged to the decision that no longer stands.
func (c ResolveDispute) decide(s State, at time.Time, _ Policy) (Event, error) {
	e := DisputeResolved{Outcome: c.Outcome, Decision: strings.TrimSpace(c.Decision), At: at}
	if r := s.Refund; c.Outcome == DisputeOverturned && r != nil && r.Paid.Amount < r.Approved.Amount {
		unpaid, err := r.Approved.Sub(r.Paid)
		if err != nil {
			return nil, err
		}
		e.RefundCancelled = unpaid
	}
	return e, nil
}

func (c AddNote) decide(_ State, at time.Time, _ Policy) (Event, error) {
	visibility := c.Visibility
	if visibility == "" {
		visibility = VisibilityInternal
	}
	return NoteAdded{Text: strings.TrimSpace(c.Text), Visibility: visibility, At: at}, nil
}

func (c PutOnHold) decide(s State, at time.Time, _ Policy) (Event, error) {
	return ClaimPutOnHold{
		ReasonCode:     c.ReasonCode,
		Reason:         strings.TrimSpace(c.Reason),
		PreviousStatus: s.Status,
		At:             at,
	}, nil
}

func (c ReleaseHold) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return ClaimReleasedFromHold{Notes: strings.TrimSpace(c.Notes), At: at}, nil
}

func (c WithdrawClaim) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return ClaimWithdrawn{Reason: strings.TrimSpace(c.Reason), At: at}, nil
}

// decide closes an authorized claim only for an expired shipment window (the SLA process
// sends that); a customer who cancels withdraws instead, which keeps the two apart in reports.
// That reason is accepted only when the window's clock says it expired.
func (c CloseClaim) decide(s State, at time.Time, _ Policy) (Event, error) {
	if s.Status == StatusAuthorized && c.ReasonCode != ReasonShipmentWindowExpired {
		return nil, ValidationErrors{{
			Field:   "reason_code",
			Problem: fmt.Sprintf("an authorized claim is closed only with %q; use withdraw when the customer cancels", ReasonShipmentWindowExpired),
		}}
	}
	if c.ReasonCode == ReasonShipmentWindowExpired {
		if err := shipmentWindowExpired(s, c.Clocks, at); err != nil {
			return nil, err
		}
	}
	return ClaimClosed{ReasonCode: c.ReasonCode, Reason: strings.TrimSpace(c.Reason), At: at}, nil
}
