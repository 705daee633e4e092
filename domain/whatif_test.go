package domain_test

import (
	"errors"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// TestRedecide replays recorded events under another policy: given the history, when a
// recorded event (with its action) is decided again under the candidate, then the event as the
// candidate records it, or its refusal.
func TestRedecide(t *testing.T) {
	long, short := policyWithLaptopMonths(t, 24), policyWithLaptopMonths(t, 12)
	record := func(p domain.Policy, given []domain.Event, c domain.Command) domain.Event {
		t.Helper()
		out, err := domain.Decide(domain.Fold(given), c, whenAt, p)
		if err != nil {
			t.Fatalf("%s: %v", c.Action(), err)
		}
		return out[0]
	}
	bought := registration()
	bought.PurchaseDate = date("2025-01-10") // 24 months: until 2027-01-09; 12: until 2026-01-09
	registered := record(long, nil, bought)
	authorized := record(long, []domain.Event{registered}, sample(domain.ActionAuthorize))
	withCertificate := sample(domain.ActionAuthorize).(*domain.AuthorizeClaim)
	withCertificate.PaidRepair = true
	withCertificate.Coverages = []domain.CoveragePurchase{{Kind: domain.CoverageExtended, Reference: "EW-1", PurchasedOn: date("2025-01-10"), Months: 36}}
	authorizedWithCertificate := record(long, []domain.Event{registered}, withCertificate)
	withDocuments := record(long, []domain.Event{registered}, &domain.AuthorizeClaim{ServiceCenter: sample(domain.ActionAuthorize).(*domain.AuthorizeClaim).ServiceCenter, DocumentsRequested: []string{"receipt copy"}})
	documentsFirst := long
	documentsFirst.DocumentsBeforeShipment = true
	lowCap := long
	lowCap.RefundCapBasisPoints = 5000
	diagnosed := []domain.Event{registered, authorized}
	diagnosed = append(diagnosed, record(long, diagnosed, sample(domain.ActionReceive)))
	diagnosed = append(diagnosed, record(long, diagnosed, &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "dead board"}))
	refund := record(long, diagnosed, &domain.ApproveRefund{Amount: eur("80.00"), Reason: "no parts"}) // 62% of 129.90
	// under re-decides a given event under p, with the action that recorded it.
	under := func(p domain.Policy, e domain.Event, s domain.State) domain.Event {
		out, err := domain.Redecide(s, actionOf(e), e, p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	tests := []struct {
		name   string
		policy domain.Policy
		given  []domain.Event // recorded, re-decided under the policy in turn
		when   domain.Event
		action domain.Action
		// then: the eligibility recorded (nil: none), or the error.
		covered *bool
		until   domain.Date
		err     error
	}{
		{name: "the same policy decides the registration the same", policy: long, when: registered, action: domain.ActionRegister,
			covered: new(true), until: date("2027-01-09")},
		{name: "a shorter warranty leaves the registration uncovered", policy: short, when: registered, action: domain.ActionRegister,
			covered: new(false), until: date("2026-01-09")},
		{name: "the same policy authorizes", policy: long, given: []domain.Event{registered}, when: authorized, action: domain.ActionAuthorize},
		{name: "a shorter warranty refuses free service", policy: short, given: []domain.Event{registered}, when: authorized,
			action: domain.ActionAuthorize, err: domain.ErrNotCovered},
		{name: "new evidence is assessed under the candidate", policy: short, given: []domain.Event{registered}, when: authorizedWithCertificate,
			action: domain.ActionAuthorize, covered: new(true), until: date("2028-01-09")},
		{name: "an action the candidate's state does not allow is refused", policy: long, given: []domain.Event{registered},
			when:   record(long, []domain.Event{registered, authorized}, sample(domain.ActionRecordCustomerShipment)),
			action: domain.ActionRecordCustomerShipment, err: &domain.InvalidTransitionError{}},
		{name: "goods before the requested documents, where the candidate checks documents first", policy: documentsFirst,
			given: []domain.Event{registered, withDocuments}, when: record(long, []domain.Event{registered, withDocuments}, sample(domain.ActionRecordCustomerShipment)),
			action: domain.ActionRecordCustomerShipment, err: domain.ErrDocumentsOutstanding},
		{name: "the same refund above a lower cap", policy: lowCap, given: diagnosed, when: refund,
			action: domain.ActionApproveRefund, err: domain.ErrRefundExceedsCap},
		{name: "the same refund within the recorded cap", policy: long, given: diagnosed, when: refund, action: domain.ActionApproveRefund},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var given []domain.Event
			for _, e := range tc.given {
				given = append(given, under(tc.policy, e, domain.Fold(given)))
			}
			got, err := domain.Redecide(domain.Fold(given), tc.action, tc.when, tc.policy)
			var transition *domain.InvalidTransitionError
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case errors.As(tc.err, &transition):
				if !errors.As(err, &transition) {
					t.Fatalf("error %v, want an invalid transition", err)
				}
				return
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			var e *domain.Eligibility
			switch ev := got.(type) {
			case domain.ClaimRegistered:
				e = ev.Eligibility
			case domain.ClaimAuthorized:
				e = ev.Eligibility
			}
			if tc.covered == nil {
				if e != nil {
					t.Fatalf("eligibility %+v, want none recorded", e)
				}
				return
			}
			if e == nil || e.Covered != *tc.covered || e.Until != tc.until {
				t.Fatalf("eligibility %+v, want covered %v until %s", e, *tc.covered, tc.until)
			}
			// Then: the state folds the candidate's decision.
			if s := domain.Fold(append(given, got)); s.Eligibility == nil || s.Eligibility.Covered != *tc.covered {
				t.Errorf("state eligibility %+v", s.Eligibility)
			}
		})
	}
}

// TestRedecideRecordsTheCandidateCap: a refund, a credit note and a cheaper replacement's price
// difference record the cap they were checked against, so each carries the candidate's.
func TestRedecideRecordsTheCandidateCap(t *testing.T) {
	lowCap := policy
	lowCap.RefundCapBasisPoints = 5000
	s := domain.Fold(history(t, "diagnosed"))
	for _, c := range []domain.Command{
		sample(domain.ActionApproveRefund), sample(domain.ActionIssueCreditNote), anotherModel("99.00"), // 30.90 of 129.90: within 50%
	} {
		out, err := domain.Decide(s, c, whenAt, policy)
		if err != nil {
			t.Fatalf("%s: %v", c.Action(), err)
		}
		got, err := domain.Redecide(s, c.Action(), out[0], lowCap)
		if err != nil {
			t.Fatalf("%s under a 50%% cap: %v", c.Action(), err)
		}
		var recorded int64
		switch e := got.(type) {
		case domain.RefundApproved:
			recorded = e.CapBasisPoints
		case domain.CreditNoteIssued:
			recorded = e.CapBasisPoints
		case domain.ItemReplaced:
			recorded = e.CapBasisPoints
		}
		if recorded != 5000 {
			t.Errorf("%s re-decided under a 50%% cap records a cap of %d basis points", c.Action(), recorded)
		}
	}
}

// policyWithLaptopMonths is a one-version book whose laptops have months of warranty.
func policyWithLaptopMonths(t *testing.T, months int) domain.Policy {
	t.Helper()
	book, err := domain.NewPolicyBook(domain.Policy{Version: "laptops-" + string(rune('0'+months/12)), RefundCapBasisPoints: 7000, Warranty: warrantyTerms(months)})
	if err != nil {
		t.Fatal(err)
	}
	return book.Latest()
}

// actionOf is the action that records a sample event.
func actionOf(e domain.Event) domain.Action {
	switch e.(type) {
	case domain.ClaimRegistered:
		return domain.ActionRegister
	case domain.ClaimAuthorized:
		return domain.ActionAuthorize
	case domain.ClaimReceived:
		return domain.ActionReceive
	case domain.ClaimDiagnosed:
		return domain.ActionDiagnose
	}
	panic("no action for " + e.EventType())
}
