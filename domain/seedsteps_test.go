package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// Tests of the seeds' process steps beyond the main path: a request entered later than it
// arrived, national phone numbers at registration, help given without the goods, an estimate
// paid before the goods travel, and a replacement by another model with the price difference
// settled.

// bulgarian is the fixtures' policy with Bulgaria as the default country of phone numbers.
func bulgarian() *domain.Policy {
	p := domain.DefaultPolicy()
	p.DefaultCountry = "BG"
	return &p
}

// phoned is the sample registration with the phone written as typed.
func phoned(phone string) *domain.RegisterClaim {
	c := registration()
	c.Customer.Phone = phone
	return c
}

// registeredPhone checks the phone the claim was registered with.
func registeredPhone(want string) func(t *testing.T, s domain.State) {
	return func(t *testing.T, s domain.State) {
		if s.Customer.Phone != want {
			t.Errorf("phone %q, want %q", s.Customer.Phone, want)
		}
	}
}

func TestRegisterNationalPhone(t *testing.T) {
	run(t, []gwt{
		{name: "national form in the default country", policy: bulgarian(), when: phoned("0888 123 456"), check: registeredPhone("+359888123456")},
		{name: "a Sofia fixed line", policy: bulgarian(), when: phoned("02/123 4567"), check: registeredPhone("+35921234567")},
		{name: "international form, another country", policy: bulgarian(), when: phoned("+7 916 123-45-67"), check: registeredPhone("+79161234567")},
		{name: "00 prefix", policy: bulgarian(), when: phoned("0030 210 123 4567"), check: registeredPhone("+302101234567")},
		// Another country's national form is not read in Bulgaria: it would be a guess.
		{name: "Russian national form", policy: bulgarian(), when: phoned("8 916 123-45-67"), fields: []string{"customer.phone"}},
		{name: "missing trunk prefix", policy: bulgarian(), when: phoned("888 123 456"), fields: []string{"customer.phone"}},
		{name: "international without its +", policy: bulgarian(), when: phoned("359888123456"), fields: []string{"customer.phone"}},
		{name: "no default country", when: phoned("0888 123 456"), fields: []string{"customer.phone"}},
		{name: "not a phone number", policy: bulgarian(), when: phoned("0888 CALL ME"), fields: []string{"customer.phone"}},
	})
}

// TestRegisteredPhoneIsFoundAsTyped: the number a registration stores from what was typed is one
// of the numbers a status lookup typed the same way compares, for every country with a
// national form; and a registration never stores a number the lookup would not find.
func TestRegisteredPhoneIsFoundAsTyped(t *testing.T) {
	for _, tc := range []struct{ country, typed, want string }{
		{"BG", "0888 123 456", "+359888123456"},
		{"RU", "8 (916) 123-45-67", "+79161234567"},
		{"KZ", "8 701 123 4567", "+77011234567"},
		{"GR", "210 123 4567", "+302101234567"},
		{"CN", "138 0013 8000", "+8613800138000"},
		{"CN", "010 1234 5678", "+861012345678"},
		{"GB", "020 7946 0958", "+442079460958"},
		{"IT", "06 1234 5678", "+390612345678"},
		{"US", "(212) 555-0123", "+12125550123"},
		{"US", "1 212 555 0123", "+12125550123"},
		{"BG", "+44 (0)20 7946 0958", "+442079460958"},
	} {
		got, ok := domain.NormalizePhoneIn(tc.typed, tc.country)
		if !ok || got != tc.want {
			t.Errorf("NormalizePhoneIn(%q, %s) = %q, %v; want %q", tc.typed, tc.country, got, ok, tc.want)
		}
		if !slices.Contains(domain.PhoneCandidates(tc.typed), got) {
			t.Errorf("%q registered in %s as %q, which a lookup typed the same way (%v) does not find", tc.typed, tc.country, got, domain.PhoneCandidates(tc.typed))
		}
	}
	if _, ok := domain.NormalizePhoneIn("0888 123 456", "XX"); ok {
		t.Errorf("a national number read in an unknown country")
	}
	p := domain.DefaultPolicy()
	p.DefaultCountry = "XX"
	if err := p.Validate(); !errors.Is(err, domain.ErrInvalidPolicy) {
		t.Errorf("default country XX: %v, want ErrInvalidPolicy", err)
	}
}

// reportedAgo is the sample registration of a request that arrived d before whenAt.
func reportedAgo(d time.Duration) *domain.RegisterClaim {
	c := registration()
	c.ReportedAt = whenAt.Add(-d)
	return c
}

func TestRegisterReportedAt(t *testing.T) {
	threeDays := reportedAgo(72 * time.Hour)
	beforePurchase := registration()
	beforePurchase.PurchaseDate = domain.DateOf(whenAt)
	beforePurchase.ReportedAt = whenAt.Add(-24 * time.Hour)
	week := domain.DefaultPolicy()
	week.MaxReportedAge = 7 * 24 * time.Hour
	run(t, []gwt{
		{
			name: "recorded on the event and the claim",
			when: threeDays,
			then: []domain.Event{domain.ClaimRegistered{
				ClaimID: claimID, Number: "RMA-2026-000042",
				Customer:     domain.Customer{Name: "Ivan Petrov", Phone: "+359881234567", Email: "ivan@example.bg"},
				Product:      domain.Product{SKU: "NB-1540", Category: "laptop", Serial: "SN-123456"},
				PurchaseDate: date("2025-11-20"), ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: "R-7781"},
				Price: eur("129.90"), Defect: "Does not power on.", Channel: domain.ChannelWeb,
				ReportedAt: whenAt.Add(-72 * time.Hour), At: whenAt,
			}},
			check: func(t *testing.T, s domain.State) {
				if !s.RegisteredAt.Equal(whenAt) || !s.RequestedAt().Equal(whenAt.Add(-72*time.Hour)) {
					t.Errorf("registered %s, requested %s", s.RegisteredAt, s.RequestedAt())
				}
			},
		},
		{name: "absent: the registration's time", when: registration(), check: func(t *testing.T, s domain.State) {
			if !s.ReportedAt.IsZero() || !s.RequestedAt().Equal(whenAt) {
				t.Errorf("reported %s, requested %s", s.ReportedAt, s.RequestedAt())
			}
		}},
		{name: "exactly the default bound", when: reportedAgo(domain.DefaultMaxReportedAge)},
		{name: "beyond the default bound", when: reportedAgo(domain.DefaultMaxReportedAge + time.Second), fields: []string{"reported_at"}},
		{name: "beyond the policy's bound", policy: &week, when: reportedAgo(8 * 24 * time.Hour), fields: []string{"reported_at"}},
		{name: "within the policy's bound", policy: &week, when: reportedAgo(6 * 24 * time.Hour)},
		{name: "in the future", when: reportedAgo(-time.Minute), fields: []string{"reported_at"}},
		{name: "before the purchase", when: beforePurchase, fields: []string{"reported_at"}},
	})
}

// TestReportedAtStartsTheClocks: a request e-mailed on Friday afternoon and entered on Monday
// is answered late, and its decision is due two working days after Friday, not Monday.
func TestReportedAtStartsTheClocks(t *testing.T) {
	p := slaPolicy(t)
	reg := registered(t, "2026-03-09 10:00") // Monday
	reg.ReportedAt = sofiaAt(t, "2026-03-06 16:00").UTC()
	cs := domain.FoldClocks([]domain.Event{reg}, p)
	fr := expectClock(t, cs, domain.ClockFirstResponse, domain.ClockRunning, "2026-03-06 18:00")
	if !fr.StartedAt.Equal(reg.ReportedAt) || fr.StateAt(reg.At) != domain.TimerBreached {
		t.Errorf("first response %+v: want started Friday 16:00, breached when the request is entered", fr)
	}
	expectClock(t, cs, domain.ClockDecision, domain.ClockRunning, "2026-03-10 16:00")

	// The same request entered as it arrived has Monday's clocks.
	reg.ReportedAt = time.Time{}
	cs = domain.FoldClocks([]domain.Event{reg}, p)
	expectClock(t, cs, domain.ClockFirstResponse, domain.ClockRunning, "2026-03-09 12:00")
	expectClock(t, cs, domain.ClockDecision, domain.ClockRunning, "2026-03-11 10:00")
}

// TestReportedAtIsTheClaimDate: the claim date eligibility is decided on is the day the request
// arrived, so a request made on the warranty's last day and entered the next is covered.
func TestReportedAtIsTheClaimDate(t *testing.T) {
	p := domain.Policy{Version: "w-1", RefundCapBasisPoints: 7000, Warranty: warrantyTerms(24)}
	lastDay := registration()
	lastDay.PurchaseDate = date("2024-04-13") // 24 months: covered until 2026-04-12, the day before whenAt
	late, err := domain.Decide(domain.State{}, lastDay, whenAt, p)
	if err != nil {
		t.Fatal(err)
	}
	if e := domain.Fold(late).Eligibility; e == nil || e.Covered {
		t.Fatalf("registered today, eligibility %+v: want not covered", e)
	}
	lastDay.ReportedAt = whenAt.Add(-24 * time.Hour)
	inTime, err := domain.Decide(domain.State{}, lastDay, whenAt, p)
	if err != nil {
		t.Fatal(err)
	}
	if e := domain.Fold(inTime).Eligibility; e == nil || !e.Covered || e.AsOf != domain.DateOf(lastDay.ReportedAt) {
		t.Errorf("reported yesterday, eligibility %+v: want covered as of yesterday", e)
	}
}

// remotely is a remote resolution with untrimmed text.
func remotely() *domain.ResolveRemotely {
	return &domain.ResolveRemotely{Method: domain.RemoteByPhone, WorkDone: " Reset the BIOS settings over the phone. ", Technician: " G. Georgiev ", Reference: " SR-2026-118 "}
}

func TestResolveRemotely(t *testing.T) {
	resolved := func(previous domain.Status) func(t *testing.T, s domain.State) {
		return func(t *testing.T, s domain.State) {
			r := s.RemoteResolution
			if s.Status != domain.StatusResolved || s.Resolution == nil || s.Resolution.Kind != domain.ResolutionResolvedRemotely ||
				r == nil || r.WorkDone != "Reset the BIOS settings over the phone." || r.PreviousStatus != previous {
				t.Errorf("status %s, resolution %+v, remote %+v", s.Status, s.Resolution, r)
			}
			allowed := domain.AllowedActions(s)
			if !slices.Contains(allowed, domain.ActionClose) || slices.Contains(allowed, domain.ActionShipReturn) {
				t.Errorf("allowed %v: want close and no ship-return", allowed)
			}
		}
	}
	overturned := with(history(t, "resolved/remotely"),
		domain.DisputeOpened{Reason: "It froze again.", OriginalResolution: domain.ResolutionResolvedRemotely, At: whenAt},
	)
	run(t, []gwt{
		{
			name:  "from registered, by phone",
			given: history(t, "registered"), when: remotely(),
			then: []domain.Event{domain.ClaimResolvedRemotely{
				Method: domain.RemoteByPhone, WorkDone: "Reset the BIOS settings over the phone.", Technician: "G. Georgiev",
				Reference: "SR-2026-118", PreviousStatus: domain.StatusRegistered, At: whenAt,
			}},
			check: resolved(domain.StatusRegistered),
		},
		{name: "from authorized, before the goods were shipped", given: history(t, "authorized"), when: remotely(), check: resolved(domain.StatusAuthorized)},
		{name: "the goods are on their way", given: history(t, "in_transit"), when: remotely(), invalid: true},
		{name: "the goods are here", given: history(t, "diagnosed"), when: remotely(), invalid: true},
		{name: "method and work done required", given: history(t, "registered"), when: &domain.ResolveRemotely{}, fields: []string{"method", "work_done"}},
		{name: "unknown method", given: history(t, "registered"), when: &domain.ResolveRemotely{Method: "carrier_pigeon", WorkDone: "w"}, fields: []string{"method"}},
		{
			name: "closed as such", given: history(t, "resolved/remotely"), when: &domain.CloseClaim{ReasonCode: "resolved_remotely"},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusClosed || s.Resolution.Kind != domain.ResolutionResolvedRemotely {
					t.Errorf("status %s, resolution %+v", s.Status, s.Resolution)
				}
			},
		},
		{name: "nothing to ship back", given: history(t, "resolved/remotely"), when: sample(domain.ActionShipReturn), invalid: true, reason: "no item is with the service"},
		{name: "nothing to recover from a supplier", given: history(t, "resolved/remotely"), when: sample(domain.ActionClaimSupplierRecovery), invalid: true},
		{
			name:  "an overturned appeal sends it back to where the goods may come in",
			given: overturned, when: &domain.ResolveDispute{Outcome: domain.DisputeOverturned, Decision: "The fix did not hold; send the laptop in."},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusAuthorized || s.Resolution != nil || s.RemoteResolution == nil {
					t.Errorf("status %s, resolution %+v, remote %+v", s.Status, s.Resolution, s.RemoteResolution)
				}
				if !slices.Contains(domain.AllowedActions(s), domain.ActionRecordCustomerShipment) {
					t.Errorf("allowed %v: want the shipment", domain.AllowedActions(s))
				}
			},
		},
	})
}

// TestRemoteResolutionStopsTheClocks: help by phone answers the customer and decides the claim;
// an authorized claim's shipment window no longer runs.
func TestRemoteResolutionStopsTheClocks(t *testing.T) {
	p := slaPolicy(t)
	events := []domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"}, At: sofiaAt(t, "2026-03-09 11:00").UTC()},
		domain.ClaimResolvedRemotely{Method: domain.RemoteBySession, WorkDone: "w", PreviousStatus: domain.StatusAuthorized, At: sofiaAt(t, "2026-03-09 12:00").UTC()},
	}
	cs := domain.FoldClocks(events, p)
	expectClock(t, cs, domain.ClockDecision, domain.ClockMet, "")
	expectClock(t, cs, domain.ClockShipmentWindow, domain.ClockStopped, "")
	if c, ok := cs.Get(domain.ClockFirstResponse); ok && c.Open() {
		t.Errorf("first response still %s", c.Status)
	}
	// Resolved straight from registered: the decision is met by the help itself.
	cs = domain.FoldClocks([]domain.Event{events[0], domain.ClaimResolvedRemotely{Method: domain.RemoteByPhone, WorkDone: "w",
		PreviousStatus: domain.StatusRegistered, At: sofiaAt(t, "2026-03-09 10:30").UTC()}}, p)
	expectClock(t, cs, domain.ClockFirstResponse, domain.ClockMet, "")
	expectClock(t, cs, domain.ClockDecision, domain.ClockMet, "")
}

// statusIs checks the status a command leads to.
func statusIs(want domain.Status) func(t *testing.T, s domain.State) {
	return func(t *testing.T, s domain.State) {
		if s.Status != want {
			t.Errorf("status %s, want %s", s.Status, want)
		}
	}
}

// decided extends a history by the events of commands decided one after another at whenAt.
func decided(t *testing.T, given []domain.Event, cmds ...domain.Command) []domain.Event {
	t.Helper()
	events := given
	for _, c := range cmds {
		out, err := domain.Decide(domain.Fold(events), c, whenAt, policy)
		if err != nil {
			t.Fatalf("%s: %v", c.Action(), err)
		}
		events = with(events, out...)
	}
	return events
}

// TestEstimateBeforeTheGoodsTravel is seed 004's order: quote from the customer's description,
// accept, pay, then ship; the diagnosis on arrival confirms the estimate or revises it.
func TestEstimateBeforeTheGoodsTravel(t *testing.T) {
	confirm := &domain.DiagnoseClaim{Outcome: domain.OutcomeOutOfWarranty, Findings: " Swollen battery, as described. ", ConfirmsEstimate: true}
	revise := &domain.DiagnoseClaim{Outcome: domain.OutcomeOutOfWarranty, Findings: "The board is damaged as well."}
	revised := decided(t, history(t, "received/paid-before"), revise,
		&domain.IssueEstimate{DamageLevel: 3, Parts: eur("80.00"), Labour: eur("20.00")}) // 100.00, 75.00 paid
	noFault := history(t, "diagnosed/paid-before")
	cheaper := decided(t, history(t, "received/paid-before"), revise,
		&domain.IssueEstimate{DamageLevel: 1, Labour: eur("50.00")}) // 50.00, 75.00 paid
	run(t, []gwt{
		{
			name: "quoted before the goods travel", given: history(t, "authorized/paid-repair"), when: sample(domain.ActionIssueEstimate),
			then:  []domain.Event{domain.EstimateIssued{DamageLevel: 2, Parts: eur("40.00"), Labour: eur("25.00"), Shipping: eur("10.00"), Total: eur("75.00"), At: whenAt}},
			check: statusIs(domain.StatusEstimateIssued),
		},
		{name: "only for paid work", given: history(t, "authorized"), when: sample(domain.ActionIssueEstimate), invalid: true, reason: "paid work only"},
		{name: "not shipped before it is paid", given: history(t, "estimate_accepted/before-goods"), when: sample(domain.ActionRecordCustomerShipment), invalid: true},
		{name: "shipped once paid", given: history(t, "paid/before-goods"), when: sample(domain.ActionRecordCustomerShipment), check: statusIs(domain.StatusInTransit)},
		{name: "or handed in once paid", given: history(t, "paid/before-goods"), when: sample(domain.ActionReceive), check: statusIs(domain.StatusReceived)},
		{name: "no repair before the goods arrive", given: history(t, "paid/before-goods"), when: sample(domain.ActionStartRepair), invalid: true, reason: "have not arrived"},
		{
			name: "declined before the goods travel: closed, nothing to send back", given: history(t, "estimate_issued/before-goods"), when: &domain.DeclineEstimate{Reason: "Too expensive."},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusClosed || s.Closure == nil || s.Closure.ReasonCode != domain.ReasonEstimateDeclined || s.Resolution != nil {
					t.Errorf("status %s, closure %+v, resolution %+v", s.Status, s.Closure, s.Resolution)
				}
			},
		},
		{name: "withdrawn while unpaid", given: history(t, "estimate_accepted/before-goods"), when: sample(domain.ActionWithdraw), check: statusIs(domain.StatusClosed)},
		{name: "not withdrawn once paid", given: history(t, "paid/before-goods"), when: sample(domain.ActionWithdraw), invalid: true},
		{name: "nothing to return unrepaired", given: history(t, "estimate_accepted/before-goods"), when: sample(domain.ActionReturnUnrepaired), invalid: true, reason: "withdraw"},
		{
			name: "the diagnosis confirms the estimate: ready for the paid repair", given: history(t, "received/paid-before"), when: confirm,
			then: []domain.Event{domain.ClaimDiagnosed{Outcome: domain.OutcomeOutOfWarranty, Findings: "Swollen battery, as described.", ConfirmsEstimate: true, At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusPaid || !s.Diagnosis.ConfirmsEstimate || !slices.Contains(domain.AllowedActions(s), domain.ActionStartRepair) {
					t.Errorf("status %s, diagnosis %+v, allowed %v", s.Status, s.Diagnosis, domain.AllowedActions(s))
				}
			},
		},
		{
			name: "on a test clock that stands still, the estimate paid at the instant of intake is confirmed",
			given: decided(t, history(t, "registered"), paidRepair(), sample(domain.ActionIssueEstimate), sample(domain.ActionAcceptEstimate),
				sample(domain.ActionRecordPayment), sample(domain.ActionReceive)),
			when: confirm, check: statusIs(domain.StatusPaid),
		},
		{name: "no estimate to confirm", given: history(t, "received"), when: confirm, fields: []string{"confirms_estimate"}},
		{
			name: "no fault found confirms no estimate", given: history(t, "received/paid-before"),
			when:   &domain.DiagnoseClaim{Outcome: domain.OutcomeNoFaultFound, Findings: "Works.", ConfirmsEstimate: true},
			fields: []string{"confirms_estimate"},
		},
		{name: "a revised estimate is accepted again", given: history(t, "received/paid-before"), when: revise, check: statusIs(domain.StatusDiagnosed)},
		{name: "no fault found: not returned while the payment stands", given: noFault, when: sample(domain.ActionReturnUnrepaired), invalid: true, reason: "reverse the payments first"},
		{name: "no fault found: the payment is given back", given: noFault, when: sample(domain.ActionReversePayment), check: statusIs(domain.StatusDiagnosed)},
		{
			name: "no fault found: returned once the money went back", given: decided(t, noFault, sample(domain.ActionReversePayment)), when: sample(domain.ActionReturnUnrepaired),
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusResolved || s.PaidTotal.Amount != 0 {
					t.Errorf("status %s, resolution %+v, paid %s", s.Status, s.Resolution, s.PaidTotal)
				}
			},
		},
		{
			name: "a dearer revision waits for the difference", given: revised, when: sample(domain.ActionAcceptEstimate),
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusEstimateAccepted || s.PaidTotal != eur("75.00") || s.Estimate.Total != eur("100.00") {
					t.Errorf("status %s, paid %s of %s", s.Status, s.PaidTotal, s.Estimate.Total)
				}
			},
		},
		{
			name: "the difference is paid, and no more", given: decided(t, revised, sample(domain.ActionAcceptEstimate)),
			when: &domain.RecordPayment{Amount: eur("25.01"), Reference: "PAY-2", Method: domain.PaymentOnline}, err: domain.ErrPaymentExceedsOutstanding,
		},
		{name: "a cheaper revision is covered by what was paid", given: cheaper, when: sample(domain.ActionAcceptEstimate), check: statusIs(domain.StatusPaid)},
		{name: "a revision declined with money paid", given: revised, when: sample(domain.ActionDeclineEstimate), invalid: true, reason: "reverse the payments first"},
		{
			name: "declined once the money went back: returned unrepaired", given: decided(t, revised, &domain.ReversePayment{Reference: "PAY-1", Reason: "Refunded at the customer's request."}),
			when: sample(domain.ActionDeclineEstimate),
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusResolved || s.Resolution.Kind != domain.ResolutionReturnedUnrepaired {
					t.Errorf("status %s, resolution %+v", s.Status, s.Resolution)
				}
			},
		},
	})
}

// TestClocksOfAnEstimateBeforeTheGoods: the shipment window ends when the estimate takes its
// place; the repair clocks start when the goods arrive and wait while a revision awaits the
// customer.
func TestClocksOfAnEstimateBeforeTheGoods(t *testing.T) {
	p := slaPolicy(t)
	at := func(s string) time.Time { return sofiaAt(t, s).UTC() }
	events := []domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "A"}, PaidRepair: true, At: at("2026-03-09 11:00")},
		domain.EstimateIssued{DamageLevel: 2, Labour: eur("75.00"), Total: eur("75.00"), At: at("2026-03-09 12:00")},
	}
	cs := domain.FoldClocks(events, p)
	expectClock(t, cs, domain.ClockShipmentWindow, domain.ClockStopped, "")
	events = append(events,
		domain.EstimateAccepted{At: at("2026-03-10 10:00")},
		domain.PaymentRecorded{Amount: eur("75.00"), Reference: "P", Method: domain.PaymentOnline, At: at("2026-03-10 11:00")},
		domain.ClaimReceived{Condition: "ok", SealsIntact: true, ReceivedBy: "M", At: at("2026-03-12 10:00")},
		domain.ClaimDiagnosed{Outcome: domain.OutcomeOutOfWarranty, Findings: "f", At: at("2026-03-12 12:00")},
		domain.EstimateIssued{DamageLevel: 3, Labour: eur("100.00"), Total: eur("100.00"), At: at("2026-03-12 13:00")},
	)
	cs = domain.FoldClocks(events, p)
	if c := expectClock(t, cs, domain.ClockRepairTurnaround, domain.ClockPaused, ""); c.PauseReason != domain.PauseAwaitingAcceptance || !c.StartedAt.Equal(at("2026-03-12 10:00")) {
		t.Errorf("repair turnaround %+v: want started at intake, paused for the revised estimate", c)
	}
}

// anotherModel replaces the sample laptop (129.90 EUR) by model NB-2000 worth value, settling
// the price difference.
func anotherModel(value string) *domain.ReplaceItem {
	return &domain.ReplaceItem{NewSerial: "SN-2001", NewSKU: " NB-2000 ", Value: eur(value), Reference: "DN-77", SettlePriceDifference: true}
}

func TestReplacementByAnotherModel(t *testing.T) {
	cheaper := decided(t, history(t, "diagnosed"), anotherModel("99.00"))
	dearer := decided(t, history(t, "diagnosed"), anotherModel("149.90"))
	differencePaid := decided(t, dearer, &domain.RecordPayment{Amount: eur("20.00"), Reference: "PAY-D1", Method: domain.PaymentCard})
	delivered := decided(t, cheaper, sample(domain.ActionShipReturn), sample(domain.ActionConfirmDelivery))
	sameModel := anotherModel("99.00")
	sameModel.NewSKU = "NB-1540"
	overturned := func(given []domain.Event) []domain.Event {
		return decided(t, given, sample(domain.ActionOpenDispute), &domain.ResolveDispute{Outcome: domain.DisputeOverturned, Decision: "Repair the claimed unit instead."})
	}
	repairedInstead := decided(t, overturned(dearer), sample(domain.ActionStartRepair), sample(domain.ActionCompleteRepair))
	run(t, []gwt{
		{
			name: "a cheaper model: the difference is refunded", given: history(t, "diagnosed"), when: anotherModel("99.00"),
			then: []domain.Event{domain.ItemReplaced{NewSerial: "SN-2001", NewSKU: "NB-2000", Value: eur("99.00"), Reference: "DN-77",
				DifferenceRefund: eur("30.90"), CapBasisPoints: 7000, At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Resolution.Kind != domain.ResolutionReplaced || s.Refund == nil || s.Refund.Approved != eur("30.90") || s.Replacement.DifferenceRefund != eur("30.90") {
					t.Errorf("resolution %+v, refund %+v, replacement %+v", s.Resolution, s.Refund, s.Replacement)
				}
				if allowed := domain.AllowedActions(s); !slices.Contains(allowed, domain.ActionRecordRefundPayment) || !slices.Contains(allowed, domain.ActionShipReturn) {
					t.Errorf("allowed %v: want the refund payment and the return", allowed)
				}
			},
		},
		{
			name: "a dearer model: the customer pays the difference", given: history(t, "diagnosed"), when: anotherModel("149.90"),
			then: []domain.Event{domain.ItemReplaced{NewSerial: "SN-2001", NewSKU: "NB-2000", Value: eur("149.90"), Reference: "DN-77",
				DifferenceCharge: eur("20.00"), At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Refund != nil || s.Replacement.DifferenceCharge != eur("20.00") || !slices.Contains(domain.AllowedActions(s), domain.ActionRecordPayment) {
					t.Errorf("refund %+v, replacement %+v, allowed %v", s.Refund, s.Replacement, domain.AllowedActions(s))
				}
			},
		},
		{name: "the same price: nothing to settle", given: history(t, "diagnosed"), when: anotherModel("129.90"), check: func(t *testing.T, s domain.State) {
			if s.Refund != nil || !s.Replacement.DifferenceCharge.IsZero() || !s.Replacement.DifferenceRefund.IsZero() {
				t.Errorf("refund %+v, replacement %+v", s.Refund, s.Replacement)
			}
		}},
		{name: "an equivalent settles nothing", given: history(t, "diagnosed"), when: sample(domain.ActionReplace), check: func(t *testing.T, s domain.State) {
			if s.Refund != nil || !s.Replacement.DifferenceCharge.IsZero() {
				t.Errorf("refund %+v, replacement %+v", s.Refund, s.Replacement)
			}
		}},
		{name: "another model is named and valued", given: history(t, "diagnosed"), when: &domain.ReplaceItem{NewSerial: "SN-2001", SettlePriceDifference: true}, fields: []string{"new_sku", "value"}},
		{name: "the claimed model is no other model", given: history(t, "diagnosed"), when: sameModel, fields: []string{"new_sku"}},
		{name: "the refunded difference stays within the cap", given: history(t, "diagnosed"), when: anotherModel("20.00"), err: domain.ErrRefundExceedsCap},
		{name: "no shipping before the difference is paid", given: dearer, when: sample(domain.ActionShipReturn), err: domain.ErrPaymentNotCovered},
		{
			name: "the difference is paid", given: dearer, when: &domain.RecordPayment{Amount: eur("20.00"), Reference: "PAY-D1", Method: domain.PaymentCard},
			then: []domain.Event{domain.PaymentRecorded{Amount: eur("20.00"), Reference: "PAY-D1", Method: domain.PaymentCard, For: domain.PaymentForPriceDifference, At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Replacement.DifferencePaid != eur("20.00") || s.PaidTotal != eur("0") || !slices.Contains(domain.AllowedActions(s), domain.ActionShipReturn) {
					t.Errorf("difference paid %s, paid total %s, allowed %v", s.Replacement.DifferencePaid, s.PaidTotal, domain.AllowedActions(s))
				}
			},
		},
		{name: "no more than the difference", given: dearer, when: &domain.RecordPayment{Amount: eur("20.01"), Reference: "PAY-D1", Method: domain.PaymentCard}, err: domain.ErrPaymentExceedsOutstanding},
		{name: "no estimate to pay", given: dearer, when: &domain.RecordPayment{Amount: eur("20.00"), Reference: "PAY-D1", Method: domain.PaymentCard, For: domain.PaymentForEstimate}, err: domain.ErrNothingToPay},
		{name: "nothing owed once paid", given: differencePaid, when: &domain.RecordPayment{Amount: eur("1.00"), Reference: "PAY-D2", Method: domain.PaymentCard}, invalid: true},
		{
			name: "a reversed difference payment holds the unit again", given: differencePaid, when: &domain.ReversePayment{Reference: "PAY-D1", Reason: "Card chargeback."},
			check: func(t *testing.T, s domain.State) {
				if s.Replacement.DifferencePaid != eur("0") || s.PaidTotal != eur("0") || slices.Contains(domain.AllowedActions(s), domain.ActionShipReturn) {
					t.Errorf("difference paid %s, paid total %s, allowed %v", s.Replacement.DifferencePaid, s.PaidTotal, domain.AllowedActions(s))
				}
			},
		},
		{
			name: "overturned and repaired instead: the difference of the unit not given is owed no more", given: repairedInstead, when: sample(domain.ActionShipReturn),
			check: func(t *testing.T, s domain.State) {
				if slices.Contains(domain.AllowedActions(s), domain.ActionRecordPayment) {
					t.Errorf("allowed %v: a payment for the price difference of a replacement that no longer stands", domain.AllowedActions(s))
				}
			},
		},
		{
			name: "what was paid on the overturned replacement counts towards the next one", given: overturned(differencePaid), when: anotherModel("149.90"),
			check: func(t *testing.T, s domain.State) {
				if s.Replacement.DifferencePaid != eur("20.00") || !slices.Contains(domain.AllowedActions(s), domain.ActionShipReturn) {
					t.Errorf("replacement %+v, allowed %v", s.Replacement, domain.AllowedActions(s))
				}
			},
		},
		{name: "the refunded difference is paid after delivery", given: delivered, when: &domain.RecordRefundPayment{Amount: eur("30.90"), Reference: "REF-D1"}, check: statusIs(domain.StatusDelivered)},
		{name: "not closed while the refunded difference is unpaid", given: delivered, when: sample(domain.ActionClose), err: domain.ErrRefundNotPaid},
		{name: "closed once it is paid", given: decided(t, delivered, &domain.RecordRefundPayment{Amount: eur("30.90"), Reference: "REF-D1"}), when: sample(domain.ActionClose), check: statusIs(domain.StatusClosed)},
		{
			name: "a refund transfer returned by the bank after delivery is reversed", given: decided(t, delivered, &domain.RecordRefundPayment{Amount: eur("30.90"), Reference: "REF-D1"}),
			when: &domain.ReverseRefundPayment{Reference: "REF-D1", Reason: "Returned by the bank: closed account."},
			check: func(t *testing.T, s domain.State) {
				allowed := domain.AllowedActions(s)
				if s.Status != domain.StatusDelivered || s.Refund.Paid != eur("0") || slices.Contains(allowed, domain.ActionClose) || !slices.Contains(allowed, domain.ActionRecordRefundPayment) {
					t.Errorf("status %s, refund %+v, allowed %v: want it owed again, not closed", s.Status, s.Refund, allowed)
				}
			},
		},
	})
}
