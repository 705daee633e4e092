package domain

// EstimateOutstanding is what the customer still owes for the accepted estimate, in the
// estimate's currency: the amount an online checkout asks for. It is zero when no estimate is
// accepted or the payments cover it.
func (s State) EstimateOutstanding() Money { return s.estimateOutstanding() }
