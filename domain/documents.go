package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrDocumentsOutstanding is returned for a customer shipment or an intake not preceded by a
// shipment while documents requested at authorization are still outstanding, under a policy
// that checks documents before the goods come in (Policy.DocumentsBeforeShipment).
var ErrDocumentsOutstanding = errors.New("requested documents outstanding")

func init() {
	ruleErrors = append(ruleErrors, ErrDocumentsOutstanding)
}

// DocumentsOutstanding lists the documents requested at authorization that have not been
// received, in the order they were requested; nil when none is.
func (s State) DocumentsOutstanding() []string {
	a := s.Authorization
	if a == nil {
		return nil
	}
	var out []string
	for _, d := range a.DocumentsRequested {
		if !slices.Contains(a.DocumentsReceived, d) && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// documentsOpen guards receive-documents: documents belong to an authorization, and are
// received until the claim is resolved, so that a document that came in the parcel with the
// goods is still recorded after intake.
func documentsOpen(s State) error {
	switch {
	case s.Authorization == nil:
		return blocked("the claim is not authorized: documents are requested with the authorization")
	case s.Resolution != nil:
		return blocked(fmt.Sprintf("the claim is resolved (%s): documents are received until resolution", s.Resolution.Kind))
	}
	return nil
}

// goodsMayCome guards the customer's shipment and the intake: the goods are awaited, and an
// authorization that asked for the documents first has them all (so that the claim does not
// offer a step the rule would refuse).
func goodsMayCome(s State) error {
	if err := goodsAwaited(s); err != nil {
		return err
	}
	if a := s.Authorization; a != nil && a.DocumentsFirst {
		return documentsChecked(s, Policy{DocumentsBeforeShipment: true})
	}
	return nil
}

// documentsChecked refuses goods coming in while requested documents are outstanding, when
// policy p checks documents first: straight from authorized, or from paid for the goods of an
// estimate paid before they travel (in transit, they were checked when they were shipped).
func documentsChecked(s State, p Policy) error {
	if !p.DocumentsBeforeShipment || (s.Status != StatusAuthorized && s.Status != StatusPaid) {
		return nil
	}
	if missing := s.DocumentsOutstanding(); len(missing) > 0 {
		return fmt.Errorf("%w: the policy checks documents before the goods come in; still outstanding: %s (record them with receive-documents first)",
			ErrDocumentsOutstanding, strings.Join(missing, ", "))
	}
	return nil
}
