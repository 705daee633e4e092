package domain

// Redecide says how policy p would have decided a recorded event of action a, on the claim s as
// it stood before the event under p: the question of a policy what-if, which replays recorded
// claims under a candidate policy. It re-runs the decisions of the recorded history that depend
// on the policy, with the same code Decide runs:
//
//   - a registration's eligibility, as of its claim date;
//   - an authorization's: whether it is possible at all (a claim that is not covered is
//     authorized only as paid work), and the eligibility new coverage evidence gives;
//   - whether the action is possible in s at all: a claim p closed or escalated earlier, say,
//     refuses what the recorded history did next.
//
// It returns the event as p would have recorded it, or the error p's Decide would have given.
// Everything else about the event (what the person did, its time) is the record's. Actions that
// are not lifecycle transitions (an erasure of personal data) pass unchanged.
func Redecide(s State, a Action, e Event, p Policy) (Event, error) {
	if r, ok := e.(ClaimRegistered); ok {
		return r.withEligibility(p), nil
	}
	if _, lifecycle := transitions[a]; !lifecycle {
		return e, nil
	}
	if err := checkTransition(s, a); err != nil {
		return nil, err
	}
	if auth, ok := e.(ClaimAuthorized); ok {
		eligibility, err := authorizeEligibility(s, auth, p)
		if err != nil {
			return nil, err
		}
		auth.Eligibility = eligibility
		return auth, nil
	}
	return e, nil
}
