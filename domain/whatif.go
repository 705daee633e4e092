package domain

// Redecide says how policy p would have decided a recorded event of action a, on the claim s as
// it stood before the event under p: the question of a policy what-if, which replays recorded
// claims under a candidate policy. It re-runs the checks and figures of the recorded decision
// that depend on the policy, with the code Decide runs:
//
//   - whether the action is possible in s at all: a claim p closed or escalated earlier, say,
//     refuses what the recorded history did next;
//   - a registration's eligibility, as of its claim date, and how late its request may arrive;
//   - an authorization's: a claim that is not covered is authorized only as paid work, and new
//     coverage evidence is assessed again;
//   - goods coming in before the requested documents, where p checks documents first;
//   - a void reason p does not list;
//   - refunds, credit notes and a cheaper replacement's price difference above p's refund cap,
//     and the cap recorded on them.
//
// It returns the event as p would have recorded it, or the error p's Decide would have given.
// Everything else about the event (what the person did, its time) is the record's. Actions that
// are not lifecycle transitions (an erasure of personal data) pass unchanged.
func Redecide(s State, a Action, e Event, p Policy) (Event, error) {
	if r, ok := e.(ClaimRegistered); ok {
		if err := reportedInTime(r.ReportedAt, r.PurchaseDate, r.At, p); err != nil {
			return nil, err
		}
		return r.withEligibility(p), nil
	}
	if _, lifecycle := transitions[a]; !lifecycle {
		return e, nil
	}
	if err := checkTransition(s, a); err != nil {
		return nil, err
	}
	switch e := e.(type) {
	case ClaimAuthorized:
		eligibility, err := authorizeEligibility(s, e, p)
		if err != nil {
			return nil, err
		}
		e.Eligibility = eligibility
		return e, nil
	case CustomerShipmentRecorded, ClaimReceived:
		if err := documentsChecked(s, p); err != nil {
			return nil, err
		}
	case ClaimDiagnosed:
		if e.Outcome == OutcomeWarrantyVoid && !p.Warranty.validVoidReason(e.VoidReasonCode) {
			return nil, ValidationErrors{{Field: "void_reason_code", Problem: "is not one of the policy's void reasons"}}
		}
	case RefundApproved:
		if err := withinCap(s, e.Amount, p); err != nil {
			return nil, err
		}
		e.CapBasisPoints = p.RefundCapBasisPoints
		return e, nil
	case CreditNoteIssued:
		if err := withinCap(s, e.Amount, p); err != nil {
			return nil, err
		}
		e.CapBasisPoints = p.RefundCapBasisPoints
		return e, nil
	case ItemReplaced:
		if !e.DifferenceRefund.IsZero() {
			if err := withinCap(s, e.DifferenceRefund, p); err != nil {
				return nil, err
			}
			e.CapBasisPoints = p.RefundCapBasisPoints
			return e, nil
		}
	}
	return e, nil
}
