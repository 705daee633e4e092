package domain

import (
	"errors"
	"fmt"
)

// A replacement by another model with the price difference settled: an item not repaired in
// time is replaced by an equivalent, or by another model with the price difference settled. The difference is the replacement's value less the price paid for the claimed item:
// a cheaper model leaves money owed to the customer, a refund paid like any other (and, like any
// money given back, within the refund cap); a dearer one leaves money owed by the customer, paid
// before the new unit ships (PaymentRecorded.For, price_difference).

// PaymentForPriceDifference is what a customer payment is for when it pays the price difference
// of a dearer replacement; an empty PaymentRecorded.For is a payment for the accepted estimate.
const PaymentForPriceDifference = "price_difference"

// PaymentForEstimate names, in a request, a payment for the accepted estimate.
const PaymentForEstimate = "estimate"

// ErrNothingToPay is returned for a customer payment while nothing is owed for what it names.
var ErrNothingToPay = errors.New("nothing is owed for this payment")

func init() {
	ruleErrors = append(ruleErrors, ErrNothingToPay)
}

// priceDifference computes the settlement of a replacement by another model: value less the
// claim's price, as a refund (cheaper) or a charge (dearer).
func (c ReplaceItem) priceDifference(s State, p Policy) (refund, charge Money, err error) {
	if !c.SettlePriceDifference {
		return Money{}, Money{}, nil
	}
	if s.Product.SKU != "" && c.NewSKU == s.Product.SKU {
		return Money{}, Money{}, ValidationErrors{{Field: "new_sku", Problem: fmt.Sprintf("must name another model than the claimed %s to settle a price difference", s.Product.SKU)}}
	}
	diff, err := c.Value.Sub(s.Price)
	if err != nil {
		return Money{}, Money{}, err
	}
	switch {
	case diff.Amount < 0:
		refund = Money{Amount: -diff.Amount, Currency: diff.Currency}
		if err := withinCap(s, refund, p); err != nil {
			return Money{}, Money{}, err
		}
	case diff.Amount > 0:
		charge = diff
	}
	return refund, charge, nil
}

// differenceOutstanding is what the customer still owes for a dearer replacement model: only
// while the replacement is the claim's standing resolution. After an overturned appeal the unit
// was not given, so its difference is owed no more (what was paid on it counts towards the next
// replacement, see replaced).
func (s State) differenceOutstanding() Money {
	r := s.Replacement
	if r == nil || r.DifferenceCharge.IsZero() || s.Resolution == nil || s.Resolution.Kind != ResolutionReplaced {
		return Money{Currency: s.Price.Currency}
	}
	return Money{Amount: max(0, r.DifferenceCharge.Amount-r.DifferencePaid.Amount), Currency: r.DifferenceCharge.Currency}
}

// estimateOutstanding is what the customer still owes for the accepted estimate.
func (s State) estimateOutstanding() Money {
	e := s.Estimate
	if e == nil || e.Decision != EstimateDecisionAccepted {
		return Money{Currency: s.Price.Currency}
	}
	return Money{Amount: max(0, e.Total.Amount-s.PaidTotal.Amount), Currency: e.Total.Currency}
}

// paymentFor resolves what a customer payment pays (the request's "for"; empty: the accepted
// estimate while it is owed, else a price difference) and what is still owed for it. It returns
// the event's For: empty for the estimate, as every payment stored before price differences.
func (s State) paymentFor(requested string) (string, Money, error) {
	estimate, difference := s.estimateOutstanding(), s.differenceOutstanding()
	switch {
	case requested == PaymentForPriceDifference || (requested == "" && estimate.Amount <= 0 && difference.Amount > 0):
		if difference.Amount <= 0 {
			return "", Money{}, fmt.Errorf("%w: no price difference of a replacement is owed", ErrNothingToPay)
		}
		return PaymentForPriceDifference, difference, nil
	case s.Estimate == nil || s.Estimate.Decision != EstimateDecisionAccepted:
		return "", Money{}, fmt.Errorf("%w: there is no accepted estimate", ErrNothingToPay)
	}
	return "", estimate, nil
}

// evolveDifferencePayment counts a payment towards a dearer replacement's price difference.
func (s State) evolveDifferencePayment(amount int64) State {
	if s.Replacement == nil {
		return s
	}
	r := *s.Replacement
	r.DifferencePaid = Money{Amount: r.DifferencePaid.Amount + amount, Currency: r.DifferenceCharge.Currency}
	s.Replacement = &r
	return s
}

// replaced applies ItemReplaced. A refund of the price difference is owed as any approved
// refund; payments made towards an earlier replacement's difference (before an overturned
// appeal) still count.
func (s State) replaced(e ItemReplaced) State {
	var paid Money
	if s.Replacement != nil {
		paid = s.Replacement.DifferencePaid
	}
	s.Replacement = &Replacement{
		NewSerial: e.NewSerial, NewSKU: e.NewSKU, Notes: e.Notes, Value: e.Value, Reference: e.Reference, ReplacedAt: e.At,
		DifferenceRefund: e.DifferenceRefund, DifferenceCharge: e.DifferenceCharge, DifferencePaid: paid,
	}
	if !e.DifferenceRefund.IsZero() {
		r := s.refund(e.DifferenceRefund.Currency)
		r.Approved.Amount += e.DifferenceRefund.Amount
		r.Reference, r.ApprovedAt = e.Reference, e.At
		s.Refund = r
	}
	return s.resolve(ResolutionReplaced, e.At)
}

// differencePaidBeforeShipping is returnable's check for a dearer replacement model: it ships
// once its price difference is paid.
func differencePaidBeforeShipping(s State) error {
	if owed := s.differenceOutstanding(); owed.Amount > 0 {
		return fmt.Errorf("%w: %s of the price difference %s of the replacement is unpaid", ErrPaymentNotCovered, owed, s.Replacement.DifferenceCharge)
	}
	return nil
}

// refundOwed guards record-refund-payment. A resolved claim keeps refundOutstanding's rule
// error; after the return, only a refund still owed (a cheaper replacement's price difference)
// makes the action possible at all.
func refundOwed(s State) error {
	err := refundOutstanding(s)
	if err != nil && s.Status != StatusResolved {
		return blocked("no approved refund is waiting for payment")
	}
	return err
}
