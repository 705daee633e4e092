// Package documents prints the papers of a claim: the RMA authorization, the intake and release
// protocols, the repair estimate, the service report and the credit note. Each is rendered from
// the claim's folded state at one version, in one of the five languages of the pages, as a
// printable HTML page and as a PDF with embedded fonts. The same version renders the same PDF
// bytes every time, so that a paper can be checked against the ledger (issue.go).
package documents

import (
	"fmt"
	"slices"

	"github.com/rmaledger/rmaledger/domain"
)

// Kind is a kind of document; its value is the API's and the CLI's word for it.
type Kind string

// The document kinds.
const (
	Authorization Kind = "authorization"
	Intake        Kind = "intake"
	Release       Kind = "release"
	Estimate      Kind = "estimate"
	ServiceReport Kind = "service-report"
	CreditNote    Kind = "credit-note"
)

var kinds = []Kind{Authorization, Intake, Release, Estimate, ServiceReport, CreditNote}

// Kinds lists every kind, in the order a claim meets them.
func Kinds() []Kind { return slices.Clone(kinds) }

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, bool) {
	k := Kind(s)
	return k, slices.Contains(kinds, k)
}

// ForCustomer reports whether the customer receives documents of this kind (through the
// portal's private link); the intake protocol and the credit note stay with the staff.
func (k Kind) ForCustomer() bool {
	return k == Authorization || k == Estimate || k == Release || k == ServiceReport
}

// NotYetError means the claim has no document of the kind yet at the version asked for;
// Reason says what is missing.
type NotYetError struct {
	Kind   Kind
	Reason string
}

func (e *NotYetError) Error() string {
	return fmt.Sprintf("documents: no %s yet: %s", e.Kind, e.Reason)
}

// Has returns nil when the claim, as it stands in s, has a document of kind k, and a
// *NotYetError saying why not otherwise.
func Has(s domain.State, k Kind) error {
	missing := ""
	switch k {
	case Authorization:
		if s.Authorization == nil {
			missing = "the claim was not authorized"
		}
	case Intake:
		if s.Intake == nil {
			missing = "the item was not received"
		}
	case Release:
		if s.Resolution == nil {
			missing = "the claim is not resolved"
		}
	case Estimate:
		if s.Estimate == nil {
			missing = "no estimate was issued"
		}
	case ServiceReport:
		if s.Diagnosis == nil && s.Repair == nil {
			missing = "the item was neither diagnosed nor repaired"
		}
	case CreditNote:
		if len(s.CreditNotes) == 0 {
			missing = "no credit note was issued"
		}
	default:
		return fmt.Errorf("documents: unknown kind %q", k)
	}
	if missing != "" {
		return &NotYetError{Kind: k, Reason: missing}
	}
	return nil
}

// Available lists the kinds the claim has, in Kinds order.
func Available(s domain.State) []Kind {
	var out []Kind
	for _, k := range kinds {
		if Has(s, k) == nil {
			out = append(out, k)
		}
	}
	return out
}
