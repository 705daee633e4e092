package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
)

func policyBook(t *testing.T, versions ...domain.Policy) *domain.PolicyBook {
	t.Helper()
	b, err := domain.NewPolicyBook(versions...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func laptopTerms(months int) *domain.Warranty {
	return &domain.Warranty{Categories: map[string]domain.CategoryTerms{"laptop": {ManufacturerMonths: months}}}
}

func laptopClaim(t *testing.T) *domain.RegisterClaim {
	c := registration(t)
	c.Product = domain.Product{Category: "laptop", Serial: "SN-77"}
	c.PurchaseDate, _ = domain.ParseDate("2025-06-01")
	return c
}

func runCommands(t *testing.T, s *Service, id uuid.UUID, cmds ...domain.Command) Result {
	t.Helper()
	var res Result
	for _, c := range cmds {
		var err error
		if res, err = s.Execute(context.Background(), id, c, agent); err != nil {
			t.Fatalf("%s: %v", c.Action(), err)
		}
	}
	return res
}

var (
	policyAuthorize = &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "S", Address: "Sofia"}}
	policyReceive   = &domain.ReceiveClaim{Condition: "ok", SealsIntact: new(true), ReceivedBy: "M"}
	policyDiagnose  = &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "dead board"}
)

// TestAPolicyChangeChangesNoRecordedDecision: eligibility decided at registration stays what it
// was when the configuration changes under it, and an open claim stays governed by the version
// it was registered under (here: its refund cap), while new claims get the new version.
func TestAPolicyChangeChangesNoRecordedDecision(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := time.Date(2026, 2, 20, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }

	before, err := New(store, Config{Clock: now, Policies: policyBook(t,
		domain.Policy{Version: "a", RefundCapBasisPoints: 7000, Warranty: laptopTerms(24)})})
	if err != nil {
		t.Fatal(err)
	}
	old, err := before.Register(ctx, laptopClaim(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	if e := old.Claim.Eligibility; e == nil || !e.Covered || e.PolicyVersion != "a" {
		t.Fatalf("eligibility at registration: %+v", e)
	}

	// The configuration changes: from 1 March laptops sold have no warranty and refunds are
	// capped at 50%.
	clock = time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	after, err := New(store, Config{Clock: now, Policies: policyBook(t,
		domain.Policy{Version: "a", RefundCapBasisPoints: 7000, Warranty: laptopTerms(24)},
		domain.Policy{Version: "c", RefundCapBasisPoints: 5000, EffectiveFrom: policyDate(t, "2026-03-01"), Warranty: laptopTerms(0)})})
	if err != nil {
		t.Fatal(err)
	}
	state, _, err := after.Claim(ctx, old.Claim.ID)
	if err != nil || state.Eligibility == nil || *state.Eligibility != *old.Claim.Eligibility {
		t.Fatalf("the recorded eligibility changed: %+v, %v", state.Eligibility, err)
	}
	// The old claim proceeds as covered and keeps version a's 70% cap.
	runCommands(t, after, old.Claim.ID, policyAuthorize, policyReceive, policyDiagnose)
	res := runCommands(t, after, old.Claim.ID, &domain.ApproveRefund{Amount: policyEUR(t, "349.00"), Reason: "hardware share"})
	if res.Claim.Status != domain.StatusResolved {
		t.Errorf("status %s", res.Claim.Status)
	}
	records, err := after.Events(ctx, old.Claim.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if m, _ := eventlog.DecodeMetadata(r.Metadata); m.PolicyVersion != "a" {
			t.Errorf("%s decided under %q, want the claim's version a", r.Type, m.PolicyVersion)
		}
	}
	last, _ := domain.DecodeEvent(records[len(records)-1].Type, records[len(records)-1].Data)
	if r, ok := last.(domain.RefundApproved); !ok || r.CapBasisPoints != 7000 {
		t.Errorf("refund %#v, want one checked against 70%%", last)
	}

	// A new claim for the same kind of goods, sold after the change, is decided under c.
	fresh := laptopClaim(t)
	fresh.PurchaseDate = policyDate(t, "2026-03-02")
	res, err = after.Register(ctx, fresh, agent)
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Claim.Eligibility; e == nil || e.Covered || e.PolicyVersion != "c" || e.ReasonCode != domain.NotCoveredCategory {
		t.Errorf("new claim's eligibility %+v", e)
	}
	if _, err := after.Execute(ctx, res.Claim.ID, policyAuthorize, agent); !errors.Is(err, domain.ErrNotCovered) {
		t.Errorf("authorizing the uncovered claim: %v", err)
	}
	records, _ = after.Events(ctx, res.Claim.ID)
	if m, _ := eventlog.DecodeMetadata(records[0].Metadata); m.PolicyVersion != "c" {
		t.Errorf("new claim registered under %q", m.PolicyVersion)
	}
}

// TestARemovedVersionFallsBackToTheDay: a claim whose recorded version the configuration no
// longer has is governed by the version in force at its registration.
func TestARemovedVersionFallsBackToTheDay(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	clock := time.Date(2026, 2, 20, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	first, _ := New(store, Config{Clock: now, Policies: policyBook(t, domain.Policy{Version: "gone", RefundCapBasisPoints: 7000})})
	res, err := first.Register(ctx, laptopClaim(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := New(store, Config{Clock: now, Policies: policyBook(t,
		domain.Policy{Version: "old", RefundCapBasisPoints: 6000},
		domain.Policy{Version: "new", RefundCapBasisPoints: 5000, EffectiveFrom: policyDate(t, "2026-03-01")})})
	clock = time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	runCommands(t, second, res.Claim.ID, &domain.AddNote{Text: "x"})
	records, _ := second.Events(ctx, res.Claim.ID)
	if m, _ := eventlog.DecodeMetadata(records[1].Metadata); m.PolicyVersion != "old" {
		t.Errorf("decided under %q, want old (in force on 20 February)", m.PolicyVersion)
	}
}

func policyDate(t *testing.T, s string) domain.Date {
	t.Helper()
	d, err := domain.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func policyEUR(t *testing.T, s string) domain.Money {
	t.Helper()
	m, err := domain.ParseMoney(s, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	return m
}
