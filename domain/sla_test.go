package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// slaPolicy is seed-like: answer within 2 working hours, decide within 2 working days, hand in
// within 1 working day, repair within 7 days, replace after 45 days; seed 000's calendar.
func slaPolicy(t testing.TB) domain.Policy {
	return domain.Policy{
		Version: "sla-1", RefundCapBasisPoints: 7000, Calendar: sofia000(t),
		SLA: domain.SLATargets{
			FirstResponse:    domain.Target{Amount: 2, Unit: domain.UnitWorkingHours},
			Decision:         domain.Target{Amount: 2, Unit: domain.UnitWorkingDays},
			ShipmentWindow:   domain.Target{Amount: 1, Unit: domain.UnitWorkingDays},
			RepairTurnaround: domain.Target{Amount: 7, Unit: domain.UnitDays},
			RepairHardLimit:  domain.Target{Amount: 45, Unit: domain.UnitDays},
			DueSoonPercent:   20,
		},
	}
}

// sofiaAt parses a Sofia wall time.
func sofiaAt(t testing.TB, s string) time.Time { return local(t, zone(t, "Europe/Sofia"), s) }

func registered(t testing.TB, at string) domain.ClaimRegistered {
	return domain.ClaimRegistered{
		ClaimID: claimID, Number: "RMA-2026-000042", Customer: domain.Customer{Name: "I", Phone: "+359881234567"},
		Product: domain.Product{Category: "laptop", Serial: "SN"}, PurchaseDate: date("2026-01-10"),
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: "R"},
		Price:           eur("129.90"), Defect: "dead", At: sofiaAt(t, at).UTC(),
	}
}

// clock fails the test unless the named clock exists.
func clock(t *testing.T, cs domain.Clocks, name string) domain.Clock {
	t.Helper()
	c, ok := cs.Get(name)
	if !ok {
		t.Fatalf("no %s clock in %+v", name, cs)
	}
	return c
}

func expectClock(t *testing.T, cs domain.Clocks, name string, status domain.ClockStatus, due string) domain.Clock {
	t.Helper()
	c := clock(t, cs, name)
	if c.Status != status {
		t.Errorf("%s: status %s, want %s", name, c.Status, status)
	}
	if due != "" && !c.DueAt.Equal(sofiaAt(t, due)) {
		t.Errorf("%s: due %s, want %s", name, c.DueAt, due)
	}
	return c
}

// TestClocksThroughAClaim follows one claim through every clock: business hours, a weekend, a
// missed decision, a window paused for documents, repair clocks paused for the estimate and the
// payment (across the spring DST change), and all of them stopping.
func TestClocksThroughAClaim(t *testing.T) {
	p := slaPolicy(t)
	at := func(s string) time.Time { return sofiaAt(t, s).UTC() }
	var events []domain.Event
	step := func(e domain.Event) domain.Clocks {
		events = append(events, e)
		return domain.FoldClocks(events, p)
	}

	// Friday 17:00: one working hour left that day.
	cs := step(registered(t, "2026-03-06 17:00"))
	fr := expectClock(t, cs, domain.ClockFirstResponse, domain.ClockRunning, "2026-03-09 11:00")
	if fr.Budget != domain.Duration(2*time.Hour) || !fr.SoonAt.Equal(sofiaAt(t, "2026-03-09 10:36")) {
		t.Errorf("first response budget %s, due soon at %s", time.Duration(fr.Budget), fr.SoonAt)
	}
	dec := expectClock(t, cs, domain.ClockDecision, domain.ClockRunning, "2026-03-10 17:00")
	if dec.Budget != domain.Duration(16*time.Hour) || !dec.SoonAt.Equal(sofiaAt(t, "2026-03-10 13:48")) {
		t.Errorf("decision budget %s, due soon at %s", time.Duration(dec.Budget), dec.SoonAt)
	}
	for when, want := range map[string]string{
		"2026-03-09 10:00": domain.TimerRunning, "2026-03-10 14:00": domain.TimerDueSoon,
		"2026-03-10 17:00": domain.TimerBreached, "2026-03-12 09:00": domain.TimerBreached,
	} {
		if got := dec.StateAt(sofiaAt(t, when)); got != want {
			t.Errorf("decision at %s: %s, want %s", when, got, want)
		}
	}

	// An internal note answers no one; a note to the customer is the response.
	cs = step(domain.NoteAdded{Text: "called", Visibility: domain.VisibilityInternal, At: at("2026-03-09 09:00")})
	expectClock(t, cs, domain.ClockFirstResponse, domain.ClockRunning, "2026-03-09 11:00")
	cs = step(domain.NoteAdded{Text: "We are looking into it.", Visibility: domain.VisibilityCustomer, At: at("2026-03-09 10:30")})
	expectClock(t, cs, domain.ClockFirstResponse, domain.ClockMet, "2026-03-09 11:00")

	// Authorized on Tuesday evening, after the decision was due; documents requested.
	cs = step(domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"}, DocumentsRequested: []string{"claim form"}, At: at("2026-03-10 18:30")})
	expectClock(t, cs, domain.ClockDecision, domain.ClockMissed, "2026-03-10 17:00")
	win := expectClock(t, cs, domain.ClockShipmentWindow, domain.ClockPaused, "")
	if win.PauseReason != domain.PauseAwaitingDocuments || win.Remaining != domain.Duration(8*time.Hour) {
		t.Errorf("window while documents are awaited: %+v", win)
	}
	if got := win.StateAt(sofiaAt(t, "2026-03-30 10:00")); got != domain.TimerPaused {
		t.Errorf("a paused window is %s", got)
	}
	cs = step(domain.DocumentsReceived{Documents: []string{"claim form"}, At: at("2026-03-11 15:00")})
	win = expectClock(t, cs, domain.ClockShipmentWindow, domain.ClockRunning, "2026-03-12 15:00")
	if !win.SoonAt.Equal(sofiaAt(t, "2026-03-12 13:24")) || win.PauseReason != "" {
		t.Errorf("resumed window: %+v", win)
	}
	cs = step(domain.CustomerShipmentRecorded{Carrier: "Speedy", TrackingNumber: "S1", At: at("2026-03-12 14:00")})
	expectClock(t, cs, domain.ClockShipmentWindow, domain.ClockMet, "2026-03-12 15:00")

	// Intake on Monday: 7 and 45 calendar days.
	cs = step(domain.ClaimReceived{Condition: "ok", SealsIntact: true, ReceivedBy: "M", At: at("2026-03-16 10:00")})
	expectClock(t, cs, domain.ClockRepairTurnaround, domain.ClockRunning, "2026-03-23 10:00")
	expectClock(t, cs, domain.ClockRepairHardLimit, domain.ClockRunning, "2026-04-30 10:00")
	step(domain.ClaimDiagnosed{Outcome: domain.OutcomeWarrantyVoid, VoidReasonCode: "liquid_damage", Findings: "f", At: at("2026-03-17 10:00")})
	cs = step(domain.EstimateIssued{DamageLevel: 1, Parts: eur("10"), Labour: eur("0"), Shipping: eur("0"), Total: eur("10"), At: at("2026-03-18 10:00")})
	rt := expectClock(t, cs, domain.ClockRepairTurnaround, domain.ClockPaused, "")
	if rt.PauseReason != domain.PauseAwaitingAcceptance || rt.Remaining != domain.Duration(5*24*time.Hour) {
		t.Errorf("turnaround waiting for acceptance: %+v", rt)
	}
	cs = step(domain.EstimateAccepted{At: at("2026-03-20 10:00")})
	if rt := clock(t, cs, domain.ClockRepairTurnaround); rt.PauseReason != domain.PauseAwaitingPayment || rt.Remaining != domain.Duration(5*24*time.Hour) {
		t.Errorf("turnaround waiting for payment: %+v", rt)
	}
	// Paid on Monday: five days left from then; the hard limit moves by the five days paused
	// and still reads 10:00 on the wall clock after the change to summer time.
	cs = step(domain.PaymentRecorded{Amount: eur("10"), Reference: "P1", Method: domain.PaymentCard, At: at("2026-03-23 10:00")})
	expectClock(t, cs, domain.ClockRepairTurnaround, domain.ClockRunning, "2026-03-28 10:00")
	expectClock(t, cs, domain.ClockRepairHardLimit, domain.ClockRunning, "2026-05-05 10:00")
	step(domain.RepairStarted{Where: domain.RepairOwn, At: at("2026-03-24 10:00")})
	cs = step(domain.RepairCompleted{WorkDone: "w", At: at("2026-03-27 12:00")})
	expectClock(t, cs, domain.ClockRepairTurnaround, domain.ClockMet, "2026-03-28 10:00")
	hl := expectClock(t, cs, domain.ClockRepairHardLimit, domain.ClockMet, "2026-05-05 10:00")
	if !hl.StoppedAt.Equal(at("2026-03-27 12:00")) || hl.StateAt(at("2026-06-01 00:00")) != string(domain.ClockMet) {
		t.Errorf("stopped clock %+v", hl)
	}
	if got := len(cs); got != 5 {
		t.Errorf("%d clocks, want 5", got)
	}
}

func TestClocksPauseOnHold(t *testing.T) {
	p := slaPolicy(t)
	events := []domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.ClaimPutOnHold{ReasonCode: "unpaid_debt", PreviousStatus: domain.StatusRegistered, At: sofiaAt(t, "2026-03-09 11:00")},
	}
	cs := domain.FoldClocks(events, p)
	// A hold is no response: the first response waits with the rest.
	if fr := expectClock(t, cs, domain.ClockFirstResponse, domain.ClockPaused, ""); fr.Remaining != domain.Duration(time.Hour) {
		t.Errorf("first response on hold: %+v", fr)
	}
	dec := expectClock(t, cs, domain.ClockDecision, domain.ClockPaused, "")
	if dec.PauseReason != domain.PauseOnHold || dec.Remaining != domain.Duration(15*time.Hour) {
		t.Errorf("decision on hold: %+v", dec)
	}
	events = append(events, domain.ClaimReleasedFromHold{At: sofiaAt(t, "2026-03-12 10:00")})
	expectClock(t, domain.FoldClocks(events, p), domain.ClockDecision, domain.ClockRunning, "2026-03-13 17:00")
}

func TestClocksOfAnExpiredShipmentWindow(t *testing.T) {
	p := slaPolicy(t)
	events := []domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"}, At: sofiaAt(t, "2026-03-10 11:00")},
	}
	cs := domain.FoldClocks(events, p)
	expectClock(t, cs, domain.ClockDecision, domain.ClockMet, "2026-03-11 10:00")
	expectClock(t, cs, domain.ClockShipmentWindow, domain.ClockRunning, "2026-03-11 11:00")
	// The timer process's breach note is not a response, and leaves the clock running.
	events = append(events, domain.SLABreached{Clock: domain.ClockShipmentWindow, DueAt: sofiaAt(t, "2026-03-11 11:00"), At: sofiaAt(t, "2026-03-11 11:01")})
	if c := clock(t, domain.FoldClocks(events, p), domain.ClockShipmentWindow); c.Status != domain.ClockRunning || c.BreachRecordedAt.IsZero() {
		t.Errorf("after the breach note: %+v", c)
	}
	events = append(events[:2], domain.ClaimClosed{ReasonCode: domain.ReasonShipmentWindowExpired, At: sofiaAt(t, "2026-03-11 11:05")})
	cs = domain.FoldClocks(events, p)
	win := expectClock(t, cs, domain.ClockShipmentWindow, domain.ClockMissed, "2026-03-11 11:00")
	if !win.BreachRecordedAt.Equal(sofiaAt(t, "2026-03-11 11:05")) {
		t.Errorf("window %+v", win)
	}
	if slices.ContainsFunc(cs, func(c domain.Clock) bool { return c.Open() }) {
		t.Errorf("an open clock on a closed claim: %+v", cs)
	}
}

func TestSystemEventsAreNoResponse(t *testing.T) {
	p := slaPolicy(t)
	cs := domain.FoldClocks([]domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.SLABreached{Clock: domain.ClockDecision, DueAt: sofiaAt(t, "2026-03-09 10:30"), At: sofiaAt(t, "2026-03-09 10:31")},
	}, p)
	expectClock(t, cs, domain.ClockFirstResponse, domain.ClockRunning, "2026-03-09 12:00")
	if c := clock(t, cs, domain.ClockDecision); c.BreachRecordedAt.IsZero() {
		t.Errorf("breach not noted: %+v", c)
	}
}

func TestNoClocksWithoutTargets(t *testing.T) {
	if cs := domain.FoldClocks(history(t, "in_repair"), domain.DefaultPolicy()); len(cs) != 0 {
		t.Errorf("clocks without targets: %+v", cs)
	}
	// A policy with only some targets keeps only those clocks.
	p := slaPolicy(t)
	p.SLA = domain.SLATargets{RepairHardLimit: domain.Target{Amount: 45, Unit: domain.UnitDays}}
	cs := domain.FoldClocks(history(t, "in_repair"), p)
	if len(cs) != 1 || cs[0].Name != domain.ClockRepairHardLimit {
		t.Errorf("clocks %+v", cs)
	}
}

func TestSLAActions(t *testing.T) {
	due := whenAt.Add(-90 * time.Minute)
	run(t, []gwt{
		{
			name:  "a breach is recorded with its overrun",
			given: history(t, "registered"),
			when:  &domain.RecordSLABreach{Clock: domain.ClockDecision, DueAt: due},
			then:  []domain.Event{domain.SLABreached{Clock: domain.ClockDecision, DueAt: due, Overrun: domain.Duration(90 * time.Minute), At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if len(s.SLABreaches) != 1 || s.SLABreaches[0].Clock != domain.ClockDecision || s.Status != domain.StatusRegistered {
					t.Errorf("breaches %+v, status %s", s.SLABreaches, s.Status)
				}
			},
		},
		{name: "not before it is due", given: history(t, "registered"), when: &domain.RecordSLABreach{Clock: domain.ClockDecision, DueAt: whenAt.Add(time.Minute)}, err: domain.ErrNotYetDue},
		{
			name:  "not twice",
			given: with(history(t, "registered"), domain.SLABreached{Clock: domain.ClockDecision, DueAt: due, At: whenAt}),
			when:  &domain.RecordSLABreach{Clock: domain.ClockDecision, DueAt: due},
			err:   domain.ErrDuplicateReference,
		},
		{name: "the window closes the claim instead", given: history(t, "authorized"), when: &domain.RecordSLABreach{Clock: domain.ClockShipmentWindow, DueAt: due}, fields: []string{"clock"}},
		{name: "not on a closed claim", given: history(t, "closed"), when: &domain.RecordSLABreach{Clock: domain.ClockDecision, DueAt: due}, invalid: true},
		{
			name:  "the hard limit escalates",
			given: history(t, "in_repair"),
			when:  &domain.EscalateRepair{DueAt: due},
			then: []domain.Event{domain.RepairEscalated{DueAt: due, Overrun: domain.Duration(90 * time.Minute),
				Required: []domain.Action{domain.ActionReplace, domain.ActionApproveRefund}, At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Escalation == nil || s.Status != domain.StatusInRepair {
					t.Errorf("escalation %+v, status %s", s.Escalation, s.Status)
				}
				if slices.Contains(domain.AllowedActions(s), domain.ActionCompleteRepair) || !slices.Contains(domain.AllowedActions(s), domain.ActionReplace) {
					t.Errorf("allowed after escalation: %v", domain.AllowedActions(s))
				}
			},
		},
		{
			name:    "an escalated repair cannot end as repaired",
			given:   with(history(t, "in_repair"), domain.RepairEscalated{DueAt: due, Required: []domain.Action{domain.ActionReplace, domain.ActionApproveRefund}, At: whenAt}),
			when:    sample(domain.ActionCompleteRepair),
			invalid: true, reason: "replace or approve-refund",
		},
		{
			name:  "an escalated repair ends with a replacement",
			given: with(history(t, "in_repair"), domain.RepairEscalated{DueAt: due, Required: []domain.Action{domain.ActionReplace, domain.ActionApproveRefund}, At: whenAt}),
			when:  sample(domain.ActionReplace),
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusResolved {
					t.Errorf("status %s", s.Status)
				}
			},
		},
		{
			name:  "escalation happens once",
			given: with(history(t, "in_repair"), domain.RepairEscalated{DueAt: due, At: whenAt}),
			when:  &domain.EscalateRepair{DueAt: due},
			err:   domain.ErrDuplicateReference,
		},
		{name: "no escalation before intake", given: history(t, "authorized"), when: &domain.EscalateRepair{DueAt: due}, invalid: true},
		{name: "no escalation before the limit", given: history(t, "in_repair"), when: &domain.EscalateRepair{DueAt: whenAt.Add(time.Hour)}, err: domain.ErrNotYetDue},
	})
	// The process's actions are never offered to clients, nor accepted as HTTP actions.
	for _, a := range []domain.Action{domain.ActionRecordSLABreach, domain.ActionEscalateRepair} {
		if slices.Contains(domain.Actions(), a) || slices.Contains(domain.AllowedActions(domain.Fold(history(t, "in_repair"))), a) {
			t.Errorf("%s is offered to clients", a)
		}
		if _, ok := domain.ParseAction(string(a)); ok {
			t.Errorf("%s parses as an HTTP action", a)
		}
		if !errors.Is(domain.ErrNotYetDue, domain.ErrNotYetDue) || !domain.IsRuleError(domain.ErrNotYetDue) {
			t.Errorf("ErrNotYetDue is not a rule error")
		}
	}
}

// TestEvolveClocksLeavesItsInputAlone: like Evolve, a fold step never changes the clocks it was
// given, so a caller may keep them (a read model's cache, an auditor's "as it was").
func TestEvolveClocksLeavesItsInputAlone(t *testing.T) {
	p := slaPolicy(t)
	reg := registered(t, "2026-03-09 10:00")
	s := domain.Evolve(domain.State{}, reg)
	before := domain.EvolveClocks(nil, s, reg, p)
	snapshot := slices.Clone(before)
	hold := domain.ClaimPutOnHold{ReasonCode: "unpaid_debt", PreviousStatus: domain.StatusRegistered, At: sofiaAt(t, "2026-03-09 11:00")}
	after := domain.EvolveClocks(before, domain.Evolve(s, hold), hold, p)
	if !slices.Equal(before, snapshot) {
		t.Errorf("EvolveClocks modified its input:\n%+v\nwas\n%+v", before, snapshot)
	}
	if c, _ := after.Get(domain.ClockDecision); c.Status != domain.ClockPaused {
		t.Errorf("the result did not change: %+v", c)
	}
	note := domain.NoteAdded{Text: "x", At: sofiaAt(t, "2026-03-09 12:00")}
	if again := domain.EvolveClocks(after, domain.Evolve(domain.Evolve(s, hold), note), note, p); !slices.Equal(again, after) {
		t.Errorf("a note changed paused clocks")
	}
}
