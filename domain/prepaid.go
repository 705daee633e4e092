package domain

import (
	"fmt"
	"slices"
)

// Paid work quoted before the goods travel, in the order quote, accept, pay, then ship. A claim
// authorized as paid work gets its estimate from the customer's description while it is still
// authorized; once the estimate is accepted and paid the goods are shipped or handed in, and the
// diagnosis on arrival either confirms the estimate (ClaimDiagnosed.ConfirmsEstimate: the repair
// may start) or leads to a revised estimate the customer accepts again, the payments made so far
// counting towards it.

// ReasonEstimateDeclined is the closure reason of a claim whose customer declined the estimate
// before the goods were sent: nothing came in, so nothing goes back.
const ReasonEstimateDeclined = "estimate_declined"

// goodsArrived reports whether the item is with the service (an intake was recorded).
func (s State) goodsArrived() bool { return s.Intake != nil }

// estimateBeforeGoods reports whether the claim's estimate was accepted before the goods came
// in: the one a diagnosis on arrival confirms or revises. Issued at the very instant of the
// intake counts as before it: on a sandbox's test clock, which stands still until it is moved,
// a whole claim happens at one instant, and an estimate issued after the intake always follows
// a diagnosis made later than the intake in real time.
func (s State) estimateBeforeGoods() bool {
	e := s.Estimate
	return e != nil && e.Decision == EstimateDecisionAccepted && (s.Intake == nil || !e.IssuedAt.After(s.Intake.ReceivedAt))
}

// estimable guards issue-estimate: after a diagnosis, or, for a claim authorized as paid work,
// before the goods travel, from the customer's description.
func estimable(s State) error {
	if s.Status != StatusAuthorized {
		return nil
	}
	if a := s.Authorization; a == nil || !a.PaidRepair {
		return blocked("the claim was authorized as covered: an estimate before the goods arrive is for paid work only (paid_repair)")
	}
	return nil
}

// goodsAwaited guards the customer's shipment and the intake of a paid claim: from paid they are
// the goods of an estimate paid in advance, which have not arrived yet.
func goodsAwaited(s State) error {
	if s.Status == StatusPaid && s.goodsArrived() {
		return blocked("the goods are already here: the paid repair can start")
	}
	return nil
}

// repairable guards start-repair: the goods must be here (a claim paid in advance waits for
// them), and the free remedies need a confirmed defect (defectConfirmed).
func repairable(s State) error {
	if !s.goodsArrived() {
		return blocked("the goods have not arrived: record the customer's shipment or the intake first")
	}
	return defectConfirmed(s)
}

// withdrawable guards withdraw: besides the statuses before the goods are sent, an estimate
// accepted before they are may be abandoned while nothing is paid on it.
func withdrawable(s State) error {
	if s.Status != StatusEstimateAccepted {
		return nil
	}
	if s.goodsArrived() {
		return blocked("the goods are here: return them unrepaired instead")
	}
	return nothingPaid(s)
}

// unrepairedReturnable guards return-unrepaired: only goods that came in go back, and not while
// the customer's payments towards an estimate stand (one accepted, or one paid before the goods
// arrived that the diagnosis did not confirm): the work is not done, so the money is given back
// first with reverse-payment, as before a decline (declinable).
func unrepairedReturnable(s State) error {
	if !s.goodsArrived() {
		return blocked("the goods have not arrived: withdraw the claim instead")
	}
	if s.PaidTotal.Amount > 0 {
		return blocked(fmt.Sprintf("%s has been paid towards the estimate: reverse the payments first (reverse-payment)", s.PaidTotal))
	}
	return nil
}

// declinable guards decline-estimate: money paid towards an earlier estimate (one accepted before
// the goods arrived, revised on diagnosis) is given back first, with reverse-payment, so that a
// declined claim does not keep the customer's money.
func declinable(s State) error {
	if standing := slices.ContainsFunc(s.Payments, func(p Payment) bool { return !p.Reversed }); standing {
		return blocked(fmt.Sprintf("%s has been paid towards an earlier estimate: reverse the payments first (reverse-payment)", s.PaidTotal))
	}
	return nil
}

// confirmable checks a diagnosis that confirms the estimate: there must be one accepted before
// the goods arrived, and a finding of something to repair.
func (c DiagnoseClaim) confirmable(s State) error {
	if !c.ConfirmsEstimate {
		return nil
	}
	switch {
	case !s.estimateBeforeGoods():
		return ValidationErrors{{Field: "confirms_estimate", Problem: "the claim has no estimate accepted before the goods arrived"}}
	case c.Outcome == OutcomeNoFaultFound:
		return ValidationErrors{{Field: "confirms_estimate", Problem: "a finding of no fault confirms no repair estimate"}}
	}
	return nil
}

// afterDiagnosis is the status a diagnosis leads to: diagnosed, or, when it confirms the
// estimate paid in advance, paid (the repair may start) or estimate_accepted while payments do
// not cover it.
func (s State) afterDiagnosis(e ClaimDiagnosed) Status {
	if !e.ConfirmsEstimate || s.Estimate == nil {
		return StatusDiagnosed
	}
	if s.PaidTotal.Amount >= s.Estimate.Total.Amount {
		return StatusPaid
	}
	return StatusEstimateAccepted
}

// declined applies EstimateDeclined: the goods that came in are returned unrepaired; a claim
// whose customer declined before sending them is closed.
func (s State) declined(e EstimateDeclined) State {
	if s.goodsArrived() {
		return s.resolve(ResolutionReturnedUnrepaired, e.At)
	}
	s.Status = StatusClosed
	s.Closure = &Closure{ReasonCode: ReasonEstimateDeclined, Reason: e.Reason, ClosedAt: e.At}
	return s
}
