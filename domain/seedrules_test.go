package domain_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

// expiredWindow is what the application folds for an authorized claim whose shipment window
// ran out a minute before whenAt.
var expiredWindow = domain.Clocks{{
	Name: domain.ClockShipmentWindow, Status: domain.ClockRunning,
	Target: domain.Target{Amount: 1, Unit: domain.UnitWorkingDays}, DueAt: whenAt.Add(-time.Minute),
}}

// runUnder is run with another policy than the fixtures': given, when, then, under p.
func runUnder(t *testing.T, p domain.Policy, cases []gwt) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.Decide(domain.Fold(tc.given), tc.when, whenAt, p)
			var ite *domain.InvalidTransitionError
			switch {
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("error %v, want %v", err, tc.err)
			case tc.invalid && (!errors.As(err, &ite) || !strings.Contains(ite.Reason, tc.reason)):
				t.Fatalf("error %v, want an InvalidTransitionError mentioning %q", err, tc.reason)
			case tc.err == nil && !tc.invalid && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case err != nil && got != nil:
				t.Fatalf("events %#v along with error %v", got, err)
			case err != nil:
				return
			case tc.then != nil && !reflect.DeepEqual(got, tc.then):
				t.Errorf("events\n got %#v\nwant %#v", got, tc.then)
			}
			if tc.check != nil {
				tc.check(t, domain.Fold(with(tc.given, got...)))
			}
		})
	}
}

// outstanding checks the documents still awaited.
func outstanding(want ...string) func(*testing.T, domain.State) {
	return func(t *testing.T, s domain.State) {
		t.Helper()
		if got := s.DocumentsOutstanding(); !slices.Equal(got, want) {
			t.Errorf("documents outstanding %q, want %q", got, want)
		}
	}
}

// TestRequestedDocuments: documents are received until the claim is resolved, and a policy that
// checks them first keeps the goods from coming in while any is outstanding.
func TestRequestedDocuments(t *testing.T) {
	docsFirst := policy
	docsFirst.DocumentsBeforeShipment = true
	claimForm := domain.DocumentsReceived{Documents: []string{"claim form"}, At: t0.Add(10 * time.Hour)}
	both := domain.DocumentsReceived{Documents: []string{"claim form", "copy of receipt"}, At: t0.Add(10 * time.Hour)}
	onHoldResolved := with(history(t, "resolved"), domain.ClaimPutOnHold{ReasonCode: "unpaid_debt", PreviousStatus: domain.StatusResolved, At: t0})
	onHoldUnauthorized := with(history(t, "registered"), domain.ClaimPutOnHold{ReasonCode: "unpaid_debt", PreviousStatus: domain.StatusRegistered, At: t0})

	t.Run("documents first", func(t *testing.T) {
		runUnder(t, docsFirst, []gwt{
			{name: "no shipment while both are awaited", given: history(t, "authorized"), when: sample(domain.ActionRecordCustomerShipment), err: domain.ErrDocumentsOutstanding},
			{name: "no hand-in at the counter either", given: history(t, "authorized"), when: sample(domain.ActionReceive), err: domain.ErrDocumentsOutstanding},
			{name: "no shipment while one is awaited", given: with(history(t, "authorized"), claimForm), when: sample(domain.ActionRecordCustomerShipment), err: domain.ErrDocumentsOutstanding},
			{name: "the goods of an estimate paid in advance wait for them too", given: history(t, "paid/before-goods"), when: sample(domain.ActionRecordCustomerShipment), err: domain.ErrDocumentsOutstanding},
			{name: "and are not handed in without them", given: history(t, "paid/before-goods"), when: sample(domain.ActionReceive), err: domain.ErrDocumentsOutstanding},
			{name: "they travel once all are in", given: with(history(t, "paid/before-goods"), both), when: sample(domain.ActionRecordCustomerShipment), check: outstanding()},
			{
				name:  "the shipment once all are in",
				given: with(history(t, "authorized"), both),
				when:  sample(domain.ActionRecordCustomerShipment),
				then:  []domain.Event{domain.CustomerShipmentRecorded{Carrier: "Speedy", TrackingNumber: "SP123", At: whenAt}},
				check: outstanding(),
			},
			{
				name:  "an authorization without documents ships at once",
				given: with(history(t, "registered"), domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"}, At: t0}),
				when:  sample(domain.ActionRecordCustomerShipment),
				check: func(t *testing.T, s domain.State) {
					if s.Status != domain.StatusInTransit {
						t.Errorf("status %s", s.Status)
					}
				},
			},
		})
		_, err := domain.Decide(domain.Fold(with(history(t, "authorized"), claimForm)), sample(domain.ActionReceive), whenAt, docsFirst)
		if !domain.IsRuleError(err) || !strings.Contains(err.Error(), "copy of receipt") || strings.Contains(err.Error(), "claim form") {
			t.Errorf("the refusal should be a rule error naming only what is missing: %v", err)
		}
	})

	t.Run("the authorization says the documents come first", func(t *testing.T) {
		given := history(t, "registered")
		authorize := func(p domain.Policy) domain.State {
			t.Helper()
			events, err := domain.Decide(domain.Fold(given), sample(domain.ActionAuthorize), whenAt, p)
			if err != nil {
				t.Fatal(err)
			}
			if got := events[0].(domain.ClaimAuthorized).DocumentsFirst; got != p.DocumentsBeforeShipment {
				t.Fatalf("documents first %v under a policy that checks them first: %v", got, p.DocumentsBeforeShipment)
			}
			return domain.Fold(append(slices.Clone(given), events...))
		}
		goods := []domain.Action{domain.ActionRecordCustomerShipment, domain.ActionReceive}
		offers := func(s domain.State, a domain.Action) bool { return slices.Contains(domain.AllowedActions(s), a) }
		first := authorize(docsFirst)
		for _, a := range goods {
			if offers(first, a) {
				t.Errorf("a claim waiting for its documents offers %s", a)
			}
			// Held to it by its authorization, whatever the policy now.
			if _, err := domain.Decide(first, sample(a), whenAt, policy); !errors.Is(err, domain.ErrDocumentsOutstanding) {
				t.Errorf("%s under a policy changed since: %v, want ErrDocumentsOutstanding", a, err)
			}
		}
		if !offers(first, domain.ActionReceiveDocuments) {
			t.Error("a claim waiting for its documents does not offer receive-documents")
		}
		arrived := domain.Evolve(first, both)
		plain := authorize(policy)
		for _, a := range goods {
			if !offers(arrived, a) || !offers(plain, a) {
				t.Errorf("%s not offered once the documents are in (%v) or when they need not come first (%v)", a, offers(arrived, a), offers(plain, a))
			}
		}
	})

	t.Run("the goods may come with the documents", func(t *testing.T) {
		runUnder(t, policy, []gwt{
			{name: "shipment with documents awaited", given: history(t, "authorized"), when: sample(domain.ActionRecordCustomerShipment), check: outstanding("claim form", "copy of receipt")},
			{name: "hand-in with documents awaited", given: history(t, "authorized"), when: sample(domain.ActionReceive), check: outstanding("claim form", "copy of receipt")},
		})
	})

	run(t, []gwt{
		{name: "outstanding after authorization", given: history(t, "registered"), when: sample(domain.ActionAuthorize), check: outstanding("claim form", "copy of receipt")},
		{
			name:  "a document that came in the parcel, after intake",
			given: history(t, "received"),
			when:  &domain.ReceiveDocuments{Documents: []string{"copy of receipt"}},
			then:  []domain.Event{domain.DocumentsReceived{Documents: []string{"copy of receipt"}, At: whenAt}},
			check: outstanding("claim form"),
		},
		{name: "during the repair", given: history(t, "in_repair"), when: sample(domain.ActionReceiveDocuments), check: outstanding("copy of receipt")},
		{name: "while waiting for payment", given: history(t, "estimate_accepted"), when: sample(domain.ActionReceiveDocuments), check: outstanding("copy of receipt")},
		{name: "on hold during the repair", given: history(t, "on_hold"), when: sample(domain.ActionReceiveDocuments), check: outstanding("copy of receipt")},
		{name: "not once resolved", given: history(t, "resolved"), when: sample(domain.ActionReceiveDocuments), invalid: true},
		{name: "not on hold after resolution", given: onHoldResolved, when: sample(domain.ActionReceiveDocuments), invalid: true, reason: "resolved (repaired)"},
		{name: "not after an appeal of the resolution", given: history(t, "disputed"), when: sample(domain.ActionReceiveDocuments), invalid: true},
		{name: "not before authorization", given: history(t, "registered"), when: sample(domain.ActionReceiveDocuments), invalid: true},
		{name: "not on hold before authorization", given: onHoldUnauthorized, when: sample(domain.ActionReceiveDocuments), invalid: true, reason: "not authorized"},
	})
}

// TestCloseForAnExpiredShipmentWindow: only an expired window closes a claim with that reason.
func TestCloseForAnExpiredShipmentWindow(t *testing.T) {
	window := func(status domain.ClockStatus, due time.Time) domain.Clocks {
		c := domain.Clock{Name: domain.ClockShipmentWindow, Status: status, DueAt: due}
		if status == domain.ClockPaused {
			c.DueAt, c.PauseReason, c.Remaining = time.Time{}, domain.PauseAwaitingDocuments, domain.Duration(8*time.Hour)
		}
		return domain.Clocks{c}
	}
	expired := func(cs domain.Clocks) *domain.CloseClaim {
		return &domain.CloseClaim{ReasonCode: domain.ReasonShipmentWindowExpired, Clocks: cs}
	}
	dueSoon := whenAt.Add(3 * time.Hour)
	run(t, []gwt{
		{name: "the window still runs", given: history(t, "authorized"), when: expired(window(domain.ClockRunning, dueSoon)), err: domain.ErrShipmentWindowNotExpired},
		{name: "the window waits for documents", given: history(t, "authorized"), when: expired(window(domain.ClockPaused, time.Time{})), err: domain.ErrShipmentWindowNotExpired},
		{name: "no window clock", given: history(t, "authorized"), when: expired(nil), err: domain.ErrShipmentWindowNotExpired},
		{name: "the goods were delivered", given: history(t, "delivered"), when: expired(expiredWindow), err: domain.ErrShipmentWindowNotExpired},
		{
			name:  "at its due time",
			given: history(t, "authorized"),
			when:  expired(window(domain.ClockRunning, whenAt)),
			then:  []domain.Event{domain.ClaimClosed{ReasonCode: domain.ReasonShipmentWindowExpired, At: whenAt}},
		},
	})
	_, err := domain.Decide(domain.Fold(history(t, "authorized")), expired(window(domain.ClockRunning, dueSoon)), whenAt, policy)
	if want := dueSoon.Format(time.RFC3339); !domain.IsRuleError(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("the refusal should be a rule error naming the due time %s: %v", want, err)
	}

	// With the clocks folded from the claim's own history, as the ledger hands them over.
	p := slaPolicy(t)
	given := []domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"}, At: sofiaAt(t, "2026-03-10 11:00").UTC()},
	}
	for at, ok := range map[string]bool{"2026-03-11 10:59": false, "2026-03-11 11:00": true} {
		_, err := domain.Decide(domain.Fold(given), expired(domain.FoldClocks(given, p)), sofiaAt(t, at), p)
		if ok != (err == nil) || (!ok && !strings.Contains(err.Error(), "2026-03-11T11:00:00+02:00")) {
			t.Errorf("close at %s: %v", at, err)
		}
	}
}

// TestDecisionClockCycles: the decision clock measures each decision of ours, again when the
// claim comes back from the manufacturer's service center or after an overturned appeal.
func TestDecisionClockCycles(t *testing.T) {
	p := slaPolicy(t)
	at := func(s string) time.Time { return sofiaAt(t, s).UTC() }
	redirected := []domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.ClaimRedirectedToServiceCenter{ServiceCenter: domain.ServiceCenter{Name: "ASC", Country: "BG"}, At: at("2026-03-09 12:00")},
	}
	back := with(redirected, domain.ServiceCenterActRecorded{Kind: domain.ActRefusal, Reference: "ACT-1", IssuedOn: date("2026-03-16"), At: at("2026-03-16 10:00")})
	received := []domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"}, At: at("2026-03-09 11:00")},
		domain.CustomerShipmentRecorded{Carrier: "Speedy", TrackingNumber: "S1", At: at("2026-03-09 12:00")},
		domain.ClaimReceived{Condition: "ok", SealsIntact: true, ReceivedBy: "M", At: at("2026-03-10 10:00")},
		domain.ClaimDiagnosed{Outcome: domain.OutcomeDefectConfirmed, Findings: "f", At: at("2026-03-10 11:00")},
		domain.ItemReplaced{NewSerial: "SN-2", At: at("2026-03-10 12:00")},
		domain.DisputeOpened{Reason: "other colour", OriginalResolution: domain.ResolutionReplaced, At: at("2026-03-10 13:00")},
	}
	overturned := with(received, domain.DisputeResolved{Outcome: domain.DisputeOverturned, Decision: "d", At: at("2026-03-11 10:00")})
	cases := []struct {
		name   string
		given  []domain.Event
		status domain.ClockStatus
		cycle  int
		due    string
	}{
		{"stops when the claim is redirected", redirected, domain.ClockMet, 0, "2026-03-11 10:00"},
		{"a new cycle when the service center returns it", back, domain.ClockRunning, 2, "2026-03-18 10:00"},
		{"the new cycle ends with our authorization", with(back, domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"}, At: at("2026-03-19 10:00")}), domain.ClockMissed, 2, "2026-03-18 10:00"},
		{"a third cycle after a second redirection", with(back,
			domain.ClaimRedirectedToServiceCenter{ServiceCenter: domain.ServiceCenter{Name: "ASC 2", Country: "BG"}, At: at("2026-03-16 11:00")},
			domain.ServiceCenterActRecorded{Kind: domain.ActUnrepairability, Reference: "ACT-2", IssuedOn: date("2026-03-17"), At: at("2026-03-17 10:00")},
		), domain.ClockRunning, 3, "2026-03-19 10:00"},
		{"an upheld appeal asks nothing of us", with(received, domain.DisputeResolved{Outcome: domain.DisputeUpheld, Decision: "d", At: at("2026-03-11 10:00")}), domain.ClockMet, 0, "2026-03-11 10:00"},
		{"a new cycle after an overturned appeal", overturned, domain.ClockRunning, 2, "2026-03-13 10:00"},
		{"which ends with the new remedy", with(overturned, domain.RepairStarted{Where: domain.RepairOwn, At: at("2026-03-12 10:00")}), domain.ClockMet, 2, "2026-03-13 10:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := expectClock(t, domain.FoldClocks(tc.given, p), domain.ClockDecision, tc.status, tc.due)
			if c.Cycle != tc.cycle {
				t.Errorf("cycle %d, want %d", c.Cycle, tc.cycle)
			}
		})
	}
}

// TestFirstResponseIsToTheCustomer: only what reaches the customer stops the first-response
// clock.
func TestFirstResponseIsToTheCustomer(t *testing.T) {
	p := slaPolicy(t)
	at := sofiaAt(t, "2026-03-09 10:30").UTC()
	sc := domain.ServiceCenter{Name: "S", Address: "A", Country: "BG"}
	cases := []struct {
		name string
		then domain.Event
		want domain.ClockStatus
	}{
		{"an internal note", domain.NoteAdded{Text: "checked stock", Visibility: domain.VisibilityInternal, At: at}, domain.ClockRunning},
		{"a note to the customer", domain.NoteAdded{Text: "We received your claim.", Visibility: domain.VisibilityCustomer, At: at}, domain.ClockMet},
		{"an authorization", domain.ClaimAuthorized{ServiceCenter: sc, At: at}, domain.ClockMet},
		{"a rejection", domain.ClaimRejected{ReasonCode: "warranty_expired", At: at}, domain.ClockMet},
		{"a redirection to the service center", domain.ClaimRedirectedToServiceCenter{ServiceCenter: sc, At: at}, domain.ClockMet},
		{"the timer process's breach note", domain.SLABreached{Clock: domain.ClockDecision, DueAt: at, At: at}, domain.ClockRunning},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectClock(t, domain.FoldClocks([]domain.Event{registered(t, "2026-03-09 10:00"), tc.then}, p), domain.ClockFirstResponse, tc.want, "2026-03-09 12:00")
		})
	}
}

// TestRepairsOnRecord: the unit's earlier repairs that the ledger holds count in eligibility
// without anyone typing them, and the registration records them.
func TestRepairsOnRecord(t *testing.T) {
	p := domain.Policy{Version: "w-1", RefundCapBasisPoints: 7000, Warranty: warrantyTerms(24)}
	earlierID := uuid.MustParse("7d1c3e4f-0a9b-4c8d-8e7f-6a5b4c3d2e1f")
	paidRepair := domain.RepairOnRecord{
		ClaimID: earlierID, Number: "RMA-2026-000007",
		ReceivedAt: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), DeliveredAt: time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC), Paid: true,
	}
	// Sold in January 2023: the 24 months ended in January 2025.
	old := registration()
	old.PurchaseDate = date("2023-01-10")
	withRecord := *old
	withRecord.RepairsOnRecord = []domain.RepairOnRecord{paidRepair, paidRepair,
		{ClaimID: uuid.MustParse("11111111-2222-4333-8444-555555555555"), Number: "RMA-2026-000099", DeliveredAt: whenAt.Add(time.Hour)},
		{ClaimID: claimID, Number: "RMA-2026-000042", DeliveredAt: t0}}
	// In warranty, with a free repair on record that the agent also typed.
	freeRepair := domain.RepairOnRecord{ClaimID: earlierID, Number: "RMA-2026-000007",
		ReceivedAt: time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC), DeliveredAt: time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC)}
	typedToo := registration()
	typedToo.RepairsOnRecord = []domain.RepairOnRecord{freeRepair}
	typedToo.PriorRepairs = []domain.PriorRepair{{Reference: "rma-2026-000007", ReceivedOn: date("2026-01-10"), DeliveredOn: date("2026-01-20")}}
	elsewhere := registration()
	elsewhere.PurchaseDate = date("2023-01-10")
	elsewhere.PriorRepairs = []domain.PriorRepair{{Reference: "Repair shop 12", ReceivedOn: date("2026-01-05"), DeliveredOn: date("2026-02-01"), Paid: true}}

	eligibility := func(covered bool, coverage, ref, until, reason string, extended int) func(*testing.T, domain.State) {
		return func(t *testing.T, s domain.State) {
			t.Helper()
			e := s.Eligibility
			if e == nil || e.Covered != covered || e.Coverage != coverage || e.Reference != ref || e.Until.String() != until || e.ReasonCode != reason || e.ExtendedByDays != extended {
				t.Errorf("eligibility %+v", e)
			}
		}
	}
	runUnder(t, p, []gwt{
		{name: "without the record: expired", when: old, check: eligibility(false, "", "", "2025-01-09", domain.NotCoveredExpired, 0)},
		{
			name: "the paid repair on record covers it for 180 days from delivery",
			when: &withRecord,
			check: func(t *testing.T, s domain.State) {
				eligibility(true, domain.CoverageRepair, "RMA-2026-000007", "2026-07-30", "", 0)(t, s)
				// Once each, never the claim itself, none delivered after the decision.
				if !reflect.DeepEqual(s.RepairsOnRecord, []domain.RepairOnRecord{paidRepair}) {
					t.Errorf("repairs on record %+v", s.RepairsOnRecord)
				}
			},
		},
		{name: "a repair elsewhere still counts as evidence", when: elsewhere, check: eligibility(true, domain.CoverageRepair, "Repair shop 12", "2026-07-30", "", 0)},
		{name: "a repair on record and typed counts once", when: typedToo, check: eligibility(true, domain.CoverageManufacturer, "", "2027-11-29", "", 10)},
		{
			name:  "authorization with new evidence decides again with the record",
			given: []domain.Event{mustDecide(t, &withRecord, p)},
			when: &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"},
				Coverages: []domain.CoveragePurchase{{Kind: domain.CoveragePostWarranty, Reference: "PW-1", PurchasedOn: date("2023-01-10"), Months: 12}}},
			check: eligibility(true, domain.CoverageRepair, "RMA-2026-000007", "2026-07-30", "", 0),
		},
	})
}

// mustDecide decides one command on a new claim and returns its event.
func mustDecide(t *testing.T, c domain.Command, p domain.Policy) domain.Event {
	t.Helper()
	events, err := domain.Decide(domain.State{}, c, whenAt, p)
	if err != nil || len(events) != 1 {
		t.Fatalf("%v %v", events, err)
	}
	return events[0]
}

// TestRepairOnRecordOf: which earlier claims hold a repair of the unit.
func TestRepairOnRecordOf(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	delivered := domain.Fold(history(t, "delivered")) // repaired free, in warranty
	paid := domain.Fold(with(history(t, "paid"),
		domain.RepairStarted{Where: domain.RepairOwn, At: at(20)}, domain.RepairCompleted{WorkDone: "w", At: at(21)},
		domain.ReturnShipped{Carrier: "Speedy", At: at(22)}, domain.DeliveryConfirmed{SignedBy: "I", At: at(23)}))
	unit := domain.Product{SKU: "NB-1540", Category: "laptop", Serial: " SN-123456 "}
	cases := []struct {
		name    string
		unit    domain.Product
		earlier domain.State
		ok      bool
		paid    bool
	}{
		{"a free repair delivered", unit, delivered, true, false},
		{"a paid repair delivered", unit, paid, true, true},
		{"the serial alone, without SKUs", domain.Product{Category: "laptop", Serial: "SN-123456"}, delivered, true, false},
		{"another model with the same serial", domain.Product{SKU: "NB-2000", Category: "laptop", Serial: "SN-123456"}, delivered, false, false},
		{"another serial", domain.Product{Category: "laptop", Serial: "SN-9"}, delivered, false, false},
		{"repaired but not yet delivered", unit, domain.Fold(history(t, "return_shipped")), false, false},
		{"replaced, not repaired", unit, domain.Fold(with(history(t, "resolved/credited"))), false, false},
		{"no claim", unit, domain.State{}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := domain.RepairOnRecordOf(tc.unit, tc.earlier)
			if ok != tc.ok || r.Paid != tc.paid {
				t.Fatalf("got %+v, %v", r, ok)
			}
			if ok && (r.ClaimID != tc.earlier.ID || r.Number != tc.earlier.Number || !r.ReceivedAt.Equal(tc.earlier.Intake.ReceivedAt) || !r.DeliveredAt.Equal(tc.earlier.Delivery.DeliveredAt)) {
				t.Errorf("record %+v", r)
			}
		})
	}
	phone := domain.State{ID: claimID, Number: "RMA-1", Status: domain.StatusDelivered,
		Product:    domain.Product{Category: "phone", IMEI: "490154203237518"},
		Resolution: &domain.Resolution{Kind: domain.ResolutionRepaired}, Intake: &domain.Intake{}, Delivery: &domain.Delivery{}}
	if _, ok := domain.RepairOnRecordOf(domain.Product{Category: "phone", IMEI: "49-015420-323751-8"}, phone); !ok {
		t.Errorf("the IMEI as typed does not find the phone's repair")
	}
	if r, ok := domain.RepairOnRecordOf(domain.Product{Category: "phone", Serial: "  ", IMEI: "356938035643809"}, phone); ok {
		t.Errorf("a blank serial matched another phone's repair: %+v", r)
	}
}
