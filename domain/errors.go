package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrClaimExists means a register command met a stream that already holds a claim. Registering
// again would fork the history, so the application reports a conflict instead.
var ErrClaimExists = errors.New("claim already exists")

// ErrNoClaim means an action was sent to a stream without a claim; the application reports
// it as "not found".
var ErrNoClaim = errors.New("no such claim")

// The business rules. Each is returned wrapped with the figures that broke it
// (fmt.Errorf("%w: ...")), so the message explains itself while errors.Is still matches;
// IsRuleError recognises all of them (HTTP 422).
var (
	// ErrPurchaseNotConfirmed is returned by authorize without a proof of purchase and a serial
	// number or IMEI: an RMA number is given only for a confirmed purchase.
	ErrPurchaseNotConfirmed = errors.New("purchase not confirmed")
	// ErrCurrencyMismatch is returned for an amount not in the currency of the claim's price;
	// totals and caps must never mix currencies.
	ErrCurrencyMismatch = errors.New("currency mismatch")
	// ErrRefundExceedsCap is returned when refunds and credit notes together would exceed the
	// policy's share of the price (default 70%).
	ErrRefundExceedsCap = errors.New("refunds and credit notes exceed the cap")
	// ErrPaymentExceedsOutstanding is returned for a payment larger than what is still owed on
	// the accepted estimate: an overpayment would have to be refunded, so it is refused instead.
	ErrPaymentExceedsOutstanding = errors.New("payment exceeds the outstanding amount")
	// ErrPaymentNotCovered is returned when paid work would be shipped back before payments cover
	// the accepted estimate: paid work is paid before the goods ship.
	ErrPaymentNotCovered = errors.New("paid work not covered by payments")
	// ErrNothingToRefund is returned for a refund payment when no approved refund is unpaid.
	ErrNothingToRefund = errors.New("nothing to refund")
	// ErrRefundPaymentExceedsApproved is returned for a refund payment larger than the unpaid
	// part of the approved refund.
	ErrRefundPaymentExceedsApproved = errors.New("refund payment exceeds the approved refund")
	// ErrRefundNotPaid is returned when a refunded claim is closed before its refund is fully
	// paid, so that finance never finds a closed claim with money still owed.
	ErrRefundNotPaid = errors.New("approved refund not fully paid")
	// ErrDuplicateReference is returned for a payment reference, refund payment reference or
	// credit note number already on the claim: recording it twice is almost always a double entry.
	ErrDuplicateReference = errors.New("duplicate reference")
	// ErrMoneyOverflow is returned when an amount or a sum does not fit in int64 minor units.
	ErrMoneyOverflow = errors.New("amount out of range")
)

// ruleErrors is the list behind IsRuleError and RuleErrors.
var ruleErrors = []error{
	ErrPurchaseNotConfirmed, ErrCurrencyMismatch, ErrRefundExceedsCap,
	ErrPaymentExceedsOutstanding, ErrPaymentNotCovered, ErrNothingToRefund,
	ErrRefundPaymentExceedsApproved, ErrRefundNotPaid, ErrDuplicateReference, ErrMoneyOverflow,
}

// RuleErrors returns every business-rule sentinel, so that the API can give each a stable
// problem type. The slice is a copy.
func RuleErrors() []error { return slices.Clone(ruleErrors) }

// IsRuleError reports whether err is, or wraps, a business-rule sentinel: the command was well
// formed and allowed in the claim's status, but its content breaks a rule (HTTP 422).
func IsRuleError(err error) bool {
	for _, rule := range ruleErrors {
		if errors.Is(err, rule) {
			return true
		}
	}
	return false
}

// InvalidTransitionError means the action is not possible in the claim's current status, or a
// condition of that status is not met (then Reason says which). Allowed is AllowedActions of the
// same state, so that the client can offer what is possible instead (HTTP 409).
//
// Decide returns it as a pointer; errors.As accepts both *InvalidTransitionError and
// InvalidTransitionError targets.
type InvalidTransitionError struct {
	From    Status   `json:"from"`
	Action  Action   `json:"action"`
	Allowed []Action `json:"allowed"`
	Reason  string   `json:"reason,omitempty"`
}

// Error names the action, the status and what is allowed instead.
func (e InvalidTransitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "action %s is not allowed in status %s", e.Action, e.From)
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	allowed := make([]string, len(e.Allowed))
	for i, a := range e.Allowed {
		allowed[i] = string(a)
	}
	fmt.Fprintf(&b, " (allowed: %s)", strings.Join(allowed, ", "))
	return b.String()
}

// As lets errors.As fill a value target as well as a pointer target, whichever the caller
// chose to declare.
func (e *InvalidTransitionError) As(target any) bool {
	if t, ok := target.(*InvalidTransitionError); ok {
		*t = *e
		return true
	}
	return false
}

// FieldError is one problem with one field of a command. Field is the JSON path of the field
// as the client sent it ("customer.phone", "documents[2]"), so that a form can show the
// problem next to the input.
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// ValidationErrors lists every problem found in a command at once, so that a client fixes a
// form in one round trip (HTTP 422).
type ValidationErrors []FieldError

// Error joins the problems into one line.
func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.Field + ": " + f.Problem
	}
	return "invalid command: " + strings.Join(parts, "; ")
}
