package domain

import (
	"errors"
	"fmt"
)

// ErrInvalidPolicy is wrapped by Policy.Validate. Decide refuses to decide under an invalid
// policy: it is a configuration fault, to be caught at start-up, not a client error.
var ErrInvalidPolicy = errors.New("invalid policy")

// Policy is the deployment configuration that decisions depend on. It is an argument of Decide
// rather than global state, so that a decision is reproducible: the ledger records Version in
// the metadata of the events a decision produced, and the events themselves keep the figures
// they were checked against (e.g. RefundApproved.CapBasisPoints).
type Policy struct {
	// Version names this policy in event metadata; it must change whenever a value does.
	Version string
	// RefundCapBasisPoints caps refunds plus credit notes as a share of the purchase price,
	// in hundredths of a percent (7000 = 70%, seed 001: only the hardware share is refunded).
	RefundCapBasisPoints int64
}

// DefaultPolicy is the policy of the seeds: refunds capped at 70% of the price.
func DefaultPolicy() Policy {
	return Policy{Version: "default-1", RefundCapBasisPoints: 7000}
}

// Validate reports a policy that cannot be used.
func (p Policy) Validate() error {
	switch {
	case p.Version == "":
		return fmt.Errorf("%w: version is empty", ErrInvalidPolicy)
	case p.RefundCapBasisPoints < 0 || p.RefundCapBasisPoints > 10000:
		return fmt.Errorf("%w: refund cap %d basis points is outside 0..10000", ErrInvalidPolicy, p.RefundCapBasisPoints)
	}
	return nil
}

// refundCap is the policy's share of price, rounded down: "at most 70%" must never be exceeded
// by rounding. Computed in two parts so that no intermediate product can overflow.
func (p Policy) refundCap(price Money) Money {
	a, bp := price.Amount, p.RefundCapBasisPoints
	return Money{Amount: a/10000*bp + a%10000*bp/10000, Currency: price.Currency}
}

// capPercent formats basis points as a percentage for messages ("70%", "72.5%").
func capPercent(bp int64) string {
	if bp%100 == 0 {
		return fmt.Sprintf("%d%%", bp/100)
	}
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	if s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s + "%"
}
