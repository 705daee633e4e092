package domain

import (
	"errors"
	"fmt"
	"slices"
)

// transition says from which statuses an action may run, and what else about the claim must
// hold (guard). The target status is not here: it follows from the event, in Evolve.
type transition struct {
	from  []Status
	guard func(State) error // nil, or why the action is not possible now
}

// blocked is a guard failure without a business-rule sentinel: Decide reports it as an
// InvalidTransitionError (409) whose Reason is the text. A guard that breaks a named rule
// returns that rule's sentinel instead (422), as ErrPaymentNotCovered does for paid work that
// would ship back unpaid.
type blocked string

// Error returns the reason.
func (b blocked) Error() string { return string(b) }

// transitions is the lifecycle. It is the single source of AllowedActions and of the transition
// check in Decide, so the two can never disagree.
var transitions = map[Action]transition{
	ActionRedirectToServiceCenter:  {from: []Status{StatusRegistered}},
	ActionRecordUnrepairabilityAct: {from: []Status{StatusRedirected}},
	ActionAuthorize:                {from: []Status{StatusRegistered}},
	ActionReject:                   {from: []Status{StatusRegistered, StatusRedirected}},
	// Help without the goods: before they are shipped (remote.go).
	ActionResolveRemotely: {from: []Status{StatusRegistered, StatusAuthorized}},
	// Documents are received until the claim is resolved: they may come with the goods.
	ActionReceiveDocuments: {from: []Status{
		StatusAuthorized, StatusInTransit, StatusReceived, StatusDiagnosed, StatusEstimateIssued,
		StatusEstimateAccepted, StatusPaid, StatusInRepair, StatusOnHold,
	}, guard: documentsOpen},
	// From paid: the goods of an estimate paid before they travel (prepaid.go).
	ActionRecordCustomerShipment: {from: []Status{StatusAuthorized, StatusPaid}, guard: goodsMayCome},
	ActionReceive:                {from: []Status{StatusAuthorized, StatusInTransit, StatusPaid}, guard: goodsMayCome},
	// A diagnosed claim may be diagnosed again: the second review after an overturned appeal
	// (the service keeps the item and reviews it again), or a correction before anything was
	// decided on it.
	ActionDiagnose: {from: []Status{StatusReceived, StatusDiagnosed}},
	// From authorized: paid work quoted from the customer's description, before the goods travel.
	ActionIssueEstimate:   {from: []Status{StatusDiagnosed, StatusAuthorized}, guard: estimable},
	ActionAcceptEstimate:  {from: []Status{StatusEstimateIssued}},
	ActionDeclineEstimate: {from: []Status{StatusEstimateIssued}, guard: declinable},
	// A payment is also taken in repair or resolved when a reversed payment left the accepted
	// estimate uncovered: the work is not released until it is paid (see returnable).
	ActionRecordPayment:  {from: []Status{StatusEstimateAccepted, StatusInRepair, StatusResolved}, guard: paymentOutstanding},
	ActionStartRepair:    {from: []Status{StatusDiagnosed, StatusPaid}, guard: repairable},
	ActionCompleteRepair: {from: []Status{StatusInRepair}, guard: notEscalated},
	ActionReplace:        {from: []Status{StatusDiagnosed, StatusInRepair}, guard: defectConfirmed},
	ActionApproveRefund:  {from: []Status{StatusDiagnosed, StatusInRepair}, guard: defectConfirmed},
	// After a return too: the price difference of a cheaper replacement model is refunded while
	// the new unit travels.
	ActionRecordRefundPayment: {from: []Status{StatusResolved, StatusReturnShipped, StatusDelivered}, guard: refundOwed},
	ActionIssueCreditNote:     {from: []Status{StatusDiagnosed, StatusInRepair}, guard: defectConfirmed},
	ActionReturnUnrepaired:    {from: []Status{StatusDiagnosed, StatusEstimateAccepted}, guard: unrepairedReturnable},
	ActionShipReturn:          {from: []Status{StatusResolved}, guard: returnable},
	ActionConfirmDelivery:     {from: []Status{StatusReturnShipped}},
	ActionOpenDispute:         {from: []Status{StatusResolved}, guard: reportUnconfirmed},
	// The customer's answer to the service report at release (servicereport.go).
	ActionConfirmServiceReport: {from: []Status{StatusResolved}, guard: reportUnconfirmed},
	ActionResolveDispute:       {from: []Status{StatusDisputed}},
	ActionAddNote:              {from: statuses},
	ActionAttachFile:           {from: statuses}, // any time, after closure too: a signed protocol often comes last
	// Who works on the claim changes until it is closed.
	ActionAssign:      {from: statusesExcept(StatusClosed)},
	ActionPutOnHold:   {from: statusesExcept(StatusOnHold, StatusClosed)},
	ActionReleaseHold: {from: []Status{StatusOnHold}},
	ActionWithdraw:    {from: []Status{StatusRegistered, StatusRedirected, StatusAuthorized, StatusEstimateAccepted}, guard: withdrawable},
	// An authorized claim closes only when its shipment window expired; the reason code is
	// part of the command, so Decide checks it (see CloseClaim.decide).
	ActionClose: {from: []Status{StatusRejected, StatusDelivered, StatusResolved, StatusAuthorized}, guard: settled},

	// Finance (finance.go). A supplier pays long after the customer's claim closed, so recovery
	// is possible until and after closure; corrections only while the claim is resolved, before
	// it closes with its books settled.
	ActionClaimSupplierRecovery:  {from: recoveryStatuses, guard: remedyGiven},
	ActionRecordSupplierRecovery: {from: recoveryStatuses, guard: recoveryOutstanding},
	ActionReverseRefundApproval:  {from: []Status{StatusResolved}, guard: refundUnpaid},
	// After a return too, where a refund is paid (a cheaper replacement's price difference): a
	// transfer the bank returns is reversed and paid again before the claim closes (settled).
	ActionReverseRefundPayment: {from: []Status{StatusResolved, StatusReturnShipped, StatusDelivered}, guard: refundPaymentStanding},
	// From diagnosed: money paid before the goods arrived, on an estimate the diagnosis did not
	// confirm, is given back before they return unrepaired (unrepairedReturnable).
	ActionReversePayment:   {from: []Status{StatusDiagnosed, StatusEstimateIssued, StatusEstimateAccepted, StatusPaid, StatusInRepair, StatusResolved}, guard: paymentStanding},
	ActionCancelCreditNote: {from: []Status{StatusResolved}, guard: creditNoteStanding},

	// The SLA timer process's actions (sla.go): a breach is noted on any claim not yet closed;
	// an escalation wherever the repair clocks run, from intake to resolution.
	ActionRecordSLABreach: {from: statusesExcept(StatusClosed)},
	ActionEscalateRepair: {from: []Status{
		StatusReceived, StatusDiagnosed, StatusEstimateIssued, StatusEstimateAccepted, StatusPaid,
		StatusInRepair, StatusOnHold, StatusDisputed,
	}},
}

// recoveryStatuses are where money can be claimed back from a supplier: from the repair on.
var recoveryStatuses = []Status{StatusInRepair, StatusResolved, StatusReturnShipped, StatusDelivered, StatusDisputed, StatusClosed}

// statusesExcept lists every status but the given ones.
func statusesExcept(excluded ...Status) []Status {
	var out []Status
	for _, s := range statuses {
		if !slices.Contains(excluded, s) {
			out = append(out, s)
		}
	}
	return out
}

// defectConfirmed guards the free remedies (repair, replacement, refund, credit note): from
// diagnosed they need a confirmed defect; other outcomes go through a paid estimate or back
// unrepaired. From in_repair or paid the decision was already made.
func defectConfirmed(s State) error {
	if s.Status != StatusDiagnosed {
		return nil
	}
	outcome := "missing"
	if s.Diagnosis != nil {
		outcome = s.Diagnosis.Outcome
	}
	if outcome != OutcomeDefectConfirmed {
		return blocked(fmt.Sprintf("the diagnosis is %s, not defect_confirmed: issue an estimate or return the item unrepaired", outcome))
	}
	if a := s.Authorization; a != nil && a.PaidRepair {
		return blocked("the claim is not covered and was authorized as a paid repair: issue an estimate or return the item unrepaired")
	}
	return nil
}

// refundOutstanding guards refund payments: there must be an approved refund not yet fully paid.
func refundOutstanding(s State) error {
	if s.Refund == nil || s.Refund.Paid.Amount >= s.Refund.Approved.Amount {
		return fmt.Errorf("%w: no approved refund is waiting for payment", ErrNothingToRefund)
	}
	return nil
}

// nothingPaid guards return-unrepaired: an accepted estimate can be abandoned only while nothing
// is paid on it, since money received must first be given back (reverse-payment).
func nothingPaid(s State) error {
	if s.Status == StatusEstimateAccepted && s.PaidTotal.Amount > 0 {
		return blocked(fmt.Sprintf("%s has been paid towards the estimate", s.PaidTotal))
	}
	return nil
}

// returnable guards ship-return: refunded and credited items stay with the service, and paid
// work leaves only when it is paid for.
func returnable(s State) error {
	if s.Resolution == nil {
		return blocked("the claim has no resolution")
	}
	if err := notShippedBack(s); err != nil {
		return err
	}
	switch s.Resolution.Kind {
	case ResolutionRefunded, ResolutionCredited:
		return blocked(fmt.Sprintf("the claim was %s: the item stays with the service; close the claim instead", s.Resolution.Kind))
	case ResolutionRepaired, ResolutionReplaced:
		if e := s.Estimate; e != nil && e.Decision == EstimateDecisionAccepted && s.PaidTotal.Amount < e.Total.Amount {
			return fmt.Errorf("%w: %s paid of the accepted estimate of %s", ErrPaymentNotCovered, s.PaidTotal, e.Total)
		}
		return differencePaidBeforeShipping(s)
	}
	return nil
}

// settled guards close: a resolved claim is closed only when nothing goes back to the customer
// (refunded or credited, or resolved without the goods) and no approved refund is unpaid;
// otherwise the item is shipped back first.
func settled(s State) error {
	if r := s.Refund; s.Status == StatusDelivered && r != nil && r.Paid.Amount < r.Approved.Amount {
		return fmt.Errorf("%w: %s of %s paid", ErrRefundNotPaid, r.Paid, r.Approved)
	}
	if s.Status != StatusResolved {
		return nil
	}
	if s.Resolution == nil || (s.Resolution.Kind != ResolutionRefunded && s.Resolution.Kind != ResolutionCredited && !s.resolvedRemotely()) {
		return blocked("the item must be shipped back to the customer first (ship-return)")
	}
	if r := s.Refund; r != nil && r.Paid.Amount < r.Approved.Amount {
		return fmt.Errorf("%w: %s of %s paid", ErrRefundNotPaid, r.Paid, r.Approved)
	}
	return nil
}

// AllowedActions returns the actions whose transition rule (status and guards) is met now, in
// lifecycle order: what a client may offer. A command can still fail on its content (an amount
// above the cap, say). For a state without a claim it is empty; register is not listed.
func AllowedActions(s State) []Action {
	allowed := []Action{}
	if !s.Exists() {
		return allowed
	}
	for _, a := range actions {
		if t := transitions[a]; slices.Contains(t.from, s.Status) && (t.guard == nil || t.guard(s) == nil) {
			allowed = append(allowed, a)
		}
	}
	return allowed
}

// checkTransition returns nil if a may run on s now, an InvalidTransitionError if its status or
// a plain guard forbids it, or a rule error if a guard with a sentinel does.
func checkTransition(s State, a Action) error {
	t, ok := transitions[a]
	if !ok || !slices.Contains(t.from, s.Status) {
		return &InvalidTransitionError{From: s.Status, Action: a, Allowed: AllowedActions(s)}
	}
	if t.guard == nil {
		return nil
	}
	err := t.guard(s)
	var b blocked
	if errors.As(err, &b) {
		return &InvalidTransitionError{From: s.Status, Action: a, Allowed: AllowedActions(s), Reason: string(b)}
	}
	return err
}
