package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// warrantyTerms are seed-like terms: laptops 24 months from the manufacturer, desktops 12 from
// the seller (seed 001), phones 12 from the manufacturer; shorter periods for second-hand
// mechanical parts (seed 001); post-warranty certificates of 12 months excluding batteries
// (seed 003); cables never covered; extended warranty up to 60 months in total and 180 days on
// paid repairs (seed 004); time in repair extends the warranty.
func warrantyTerms(laptopMonths int) *domain.Warranty {
	used := []string{domain.ConditionUsed, domain.ConditionRefurbished}
	return &domain.Warranty{
		Categories: map[string]domain.CategoryTerms{
			"laptop":  {ManufacturerMonths: laptopMonths},
			"desktop": {SellerMonths: 12},
			"phone":   {ManufacturerMonths: 12},
		},
		Components: []domain.ComponentTerms{
			{Component: "hdd", Categories: []string{"laptop"}, Conditions: used, Months: 3},
			{Component: "hdd", Categories: []string{"desktop"}, Conditions: used, Months: 6},
			{Component: "power_supply", Conditions: used, Days: 7},
			{Component: "fan", Months: 3},
		},
		Exclusions: []domain.Exclusion{
			{Component: "battery", Coverages: []string{domain.CoveragePostWarranty}},
			{Component: "cable"},
		},
		VoidReasons:        []string{"broken_seal", "liquid_damage"},
		ExtendedMaxMonths:  60,
		PostWarrantyMonths: 12,
		RepairWarrantyDays: 180,
		RepairTimeExtends:  true,
	}
}

// twoVersions is a book whose laptop warranty was cut from 24 to 12 months for goods sold from
// 2026-01-01.
func twoVersions(t testing.TB) *domain.PolicyBook {
	t.Helper()
	book, err := domain.NewPolicyBook(
		domain.Policy{Version: "2025-a", RefundCapBasisPoints: 7000, Warranty: warrantyTerms(24)},
		domain.Policy{Version: "2026-b", RefundCapBasisPoints: 7000, EffectiveFrom: date("2026-01-01"), Warranty: warrantyTerms(12)},
	)
	if err != nil {
		t.Fatal(err)
	}
	return book
}

func TestEligibility(t *testing.T) {
	book := twoVersions(t)
	laptop := domain.Product{Category: "laptop", Serial: "SN-1"}
	part := func(category, component, condition string) domain.Product {
		return domain.Product{Category: category, Serial: "SN-1", Component: component, Condition: condition}
	}
	extended := func(months int) []domain.CoveragePurchase {
		return []domain.CoveragePurchase{{Kind: domain.CoverageExtended, Reference: "EW-7", PurchasedOn: date("2026-02-01"), Months: months}}
	}
	certificate := []domain.CoveragePurchase{{Kind: domain.CoveragePostWarranty, Reference: "PW-3", PurchasedOn: date("2025-03-01")}}
	cases := []struct {
		name      string
		product   domain.Product
		sold      string
		claimed   string
		coverages []domain.CoveragePurchase
		repairs   []domain.PriorRepair
		// then
		covered  bool
		coverage string
		ref      string
		until    string
		reason   string
		version  string
		extended int
	}{
		// The terms are those in force on the sale date, whatever is in force on the claim date.
		{name: "sold under 24 months, claimed after the cut", product: laptop, sold: "2025-06-10", claimed: "2027-06-01",
			covered: true, coverage: domain.CoverageManufacturer, until: "2027-06-09", version: "2025-a"},
		{name: "sold under 12 months", product: laptop, sold: "2026-02-01", claimed: "2027-03-01",
			reason: domain.NotCoveredExpired, until: "2027-01-31", version: "2026-b"},
		{name: "the last day is covered", product: laptop, sold: "2026-02-01", claimed: "2027-01-31",
			covered: true, coverage: domain.CoverageManufacturer, until: "2027-01-31", version: "2026-b"},
		{name: "sold the day before the cut", product: laptop, sold: "2025-12-31", claimed: "2027-12-01",
			covered: true, coverage: domain.CoverageManufacturer, until: "2027-12-30", version: "2025-a"},
		// Component periods.
		{name: "used laptop HDD: 3 months", product: part("laptop", "hdd", domain.ConditionUsed), sold: "2025-06-10", claimed: "2025-09-10",
			reason: domain.NotCoveredExpired, until: "2025-09-09", version: "2025-a"},
		{name: "used laptop HDD on its last day", product: part("laptop", "hdd", domain.ConditionUsed), sold: "2025-06-10", claimed: "2025-09-09",
			covered: true, coverage: domain.CoverageManufacturer, until: "2025-09-09", version: "2025-a"},
		{name: "used desktop HDD: 6 months from the seller", product: part("desktop", "hdd", domain.ConditionRefurbished), sold: "2025-06-10", claimed: "2025-12-01",
			covered: true, coverage: domain.CoverageSeller, until: "2025-12-09", version: "2025-a"},
		{name: "a new laptop's HDD has the laptop's period", product: part("laptop", "hdd", domain.ConditionNew), sold: "2025-06-10", claimed: "2026-10-01",
			covered: true, coverage: domain.CoverageManufacturer, until: "2027-06-09", version: "2025-a"},
		{name: "used power supply: 7 days", product: part("desktop", "power_supply", domain.ConditionUsed), sold: "2025-06-10", claimed: "2025-06-16",
			covered: true, coverage: domain.CoverageSeller, until: "2025-06-16", version: "2025-a"},
		{name: "used power supply on day 8", product: part("desktop", "power_supply", domain.ConditionUsed), sold: "2025-06-10", claimed: "2025-06-17",
			reason: domain.NotCoveredExpired, until: "2025-06-16", version: "2025-a"},
		{name: "fans: 3 months in any condition", product: part("laptop", "fan", ""), sold: "2026-02-01", claimed: "2026-05-02",
			reason: domain.NotCoveredExpired, until: "2026-04-30", version: "2026-b"},
		{name: "a category without warranty", product: domain.Product{Category: "toaster", Serial: "T"}, sold: "2026-02-01", claimed: "2026-02-02",
			reason: domain.NotCoveredCategory, version: "2026-b"},
		// Extended warranty (seed 004).
		{name: "extended warranty after the manufacturer's", product: laptop, sold: "2026-02-01", claimed: "2028-06-01", coverages: extended(36),
			covered: true, coverage: domain.CoverageExtended, ref: "EW-7", until: "2029-01-31", version: "2026-b"},
		{name: "the manufacturer comes first while both cover", product: laptop, sold: "2026-02-01", claimed: "2026-06-01", coverages: extended(36),
			covered: true, coverage: domain.CoverageManufacturer, until: "2027-01-31", version: "2026-b"},
		{name: "extended warranty capped at five years", product: laptop, sold: "2026-02-01", claimed: "2031-02-01", coverages: extended(84),
			reason: domain.NotCoveredExpired, until: "2031-01-31", version: "2026-b"},
		{name: "on the cap's last day", product: laptop, sold: "2026-02-01", claimed: "2031-01-31", coverages: extended(84),
			covered: true, coverage: domain.CoverageExtended, ref: "EW-7", until: "2031-01-31", version: "2026-b"},
		// Post-warranty certificate (seed 003): 12 months from the day after the manufacturer's.
		{name: "post-warranty certificate", product: domain.Product{Category: "phone", IMEI: "490154203237518"}, sold: "2025-03-01", claimed: "2026-07-01", coverages: certificate,
			covered: true, coverage: domain.CoveragePostWarranty, ref: "PW-3", until: "2027-02-28", version: "2025-a"},
		{name: "the certificate does not cover batteries", product: part("phone", "battery", ""), sold: "2025-03-01", claimed: "2026-07-01", coverages: certificate,
			reason: domain.NotCoveredExcludedComponent, until: "2027-02-28", version: "2025-a"},
		{name: "the manufacturer covers batteries", product: part("phone", "battery", ""), sold: "2025-03-01", claimed: "2025-07-01", coverages: certificate,
			covered: true, coverage: domain.CoverageManufacturer, until: "2026-02-28", version: "2025-a"},
		{name: "cables are never covered", product: part("laptop", "cable", ""), sold: "2026-02-01", claimed: "2026-03-01",
			reason: domain.NotCoveredExcludedComponent, until: "2027-01-31", version: "2026-b"},
		// Repair warranty (seed 004) and time in repair.
		{name: "180 days on a paid repair", product: laptop, sold: "2025-01-01", claimed: "2027-09-01",
			repairs: []domain.PriorRepair{{Reference: "RMA-2027-000101", ReceivedOn: date("2027-04-20"), DeliveredOn: date("2027-05-01"), Paid: true}},
			covered: true, coverage: domain.CoverageRepair, ref: "RMA-2027-000101", until: "2027-10-27", version: "2025-a"},
		{name: "after the repair warranty", product: laptop, sold: "2025-01-01", claimed: "2027-10-28",
			repairs: []domain.PriorRepair{{Reference: "RMA-2027-000101", ReceivedOn: date("2027-04-20"), DeliveredOn: date("2027-05-01"), Paid: true}},
			reason:  domain.NotCoveredExpired, until: "2027-10-27", version: "2025-a"},
		{name: "time in warranty repair extends the warranty", product: laptop, sold: "2026-02-01", claimed: "2027-02-15",
			repairs: []domain.PriorRepair{{Reference: "RMA-2026-000007", ReceivedOn: date("2026-06-01"), DeliveredOn: date("2026-06-21")}},
			covered: true, coverage: domain.CoverageManufacturer, until: "2027-02-20", version: "2026-b", extended: 20},
		{name: "a claim dated before the sale in another zone counts as the sale day", product: laptop, sold: "2026-02-01", claimed: "2026-01-31",
			covered: true, coverage: domain.CoverageManufacturer, until: "2027-01-31", version: "2026-b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Any version of the book decides the same: the terms come from the sale date.
			for _, p := range book.Versions() {
				got := domain.AssessEligibility(p, domain.EligibilityInput{
					Product: tc.product, PurchaseDate: date(tc.sold), ClaimDate: date(tc.claimed),
					Coverages: tc.coverages, PriorRepairs: tc.repairs,
				})
				if got == nil {
					t.Fatal("not assessed")
				}
				if got.Covered != tc.covered || got.Coverage != tc.coverage || got.Reference != tc.ref ||
					got.ReasonCode != tc.reason || got.PolicyVersion != tc.version || got.ExtendedByDays != tc.extended ||
					got.AsOf != date(tc.claimed) {
					t.Errorf("under %s: %+v", p.Version, *got)
				}
				if (tc.until == "" && !got.Until.IsZero()) || (tc.until != "" && got.Until != date(tc.until)) {
					t.Errorf("until %s, want %s", got.Until, tc.until)
				}
				if !got.Covered && got.Reason == "" {
					t.Errorf("no explanation for %s", got.ReasonCode)
				}
			}
		})
	}
}

func TestEligibilityNotAssessedWithoutTerms(t *testing.T) {
	if got := domain.AssessEligibility(domain.DefaultPolicy(), domain.EligibilityInput{
		Product: domain.Product{Category: "laptop"}, PurchaseDate: date("2020-01-01"), ClaimDate: date("2026-01-01"),
	}); got != nil {
		t.Errorf("eligibility %+v without warranty terms", *got)
	}
}

// TestEligibilityOnTheClaim: registration records eligibility as of the claim date under the
// policy the ledger passes; authorization of a claim that is not covered needs paid_repair, and
// a certificate shown at authorization decides again.
func TestEligibilityOnTheClaim(t *testing.T) {
	book := twoVersions(t)
	p := book.At(date("2026-03-01"))
	old := registration()
	old.PurchaseDate = date("2025-01-10") // laptop, 24 months under 2025-a: until 2027-01-09
	expired := registration()
	expired.PurchaseDate = date("2023-01-10")
	decide := func(events []domain.Event, c domain.Command) []domain.Event {
		t.Helper()
		out, err := domain.Decide(domain.Fold(events), c, whenAt, p)
		if err != nil {
			t.Fatalf("%s: %v", c.Action(), err)
		}
		return append(events, out...)
	}

	covered := decide(nil, old)
	e := covered[0].(domain.ClaimRegistered).Eligibility
	if e == nil || !e.Covered || e.Coverage != domain.CoverageManufacturer || e.PolicyVersion != "2025-a" || e.AsOf != domain.DateOf(whenAt) {
		t.Fatalf("registration eligibility %+v", e)
	}
	if s := domain.Fold(covered); s.Eligibility == nil || *s.Eligibility != *e {
		t.Errorf("state eligibility %+v", s.Eligibility)
	}

	notCovered := decide(nil, expired)
	if e := domain.Fold(notCovered).Eligibility; e == nil || e.Covered || e.ReasonCode != domain.NotCoveredExpired || e.Until != date("2025-01-09") {
		t.Fatalf("eligibility %+v", e)
	}
	_, err := domain.Decide(domain.Fold(notCovered), sample(domain.ActionAuthorize), whenAt, p)
	if !errors.Is(err, domain.ErrNotCovered) || !domain.IsRuleError(err) || !strings.Contains(err.Error(), "paid_repair") {
		t.Errorf("authorize an expired claim: %v, want ErrNotCovered mentioning paid_repair", err)
	}

	paid := sample(domain.ActionAuthorize).(*domain.AuthorizeClaim)
	paid.PaidRepair = true
	asPaid := decide(notCovered, paid)
	if s := domain.Fold(asPaid); s.Status != domain.StatusAuthorized || !s.Authorization.PaidRepair {
		t.Errorf("paid repair: status %s, authorization %+v", s.Status, s.Authorization)
	}
	// A paid repair does not get free remedies, even with a confirmed defect.
	diagnosed := decide(decide(asPaid, sample(domain.ActionReceive)), sample(domain.ActionDiagnose))
	if _, err := domain.Decide(domain.Fold(diagnosed), sample(domain.ActionStartRepair), whenAt, p); err == nil {
		t.Errorf("a paid repair started without an estimate")
	}
	if _, err := domain.Decide(domain.Fold(diagnosed), sample(domain.ActionIssueEstimate), whenAt, p); err != nil {
		t.Errorf("estimate on a paid repair: %v", err)
	}

	// A post-warranty certificate shown at authorization makes the claim covered after all.
	withCertificate := sample(domain.ActionAuthorize).(*domain.AuthorizeClaim)
	withCertificate.Coverages = []domain.CoveragePurchase{{Kind: domain.CoverageExtended, Reference: "EW-1", PurchasedOn: date("2023-01-10"), Months: 48}}
	authorized := decide(notCovered, withCertificate)
	ev := authorized[len(authorized)-1].(domain.ClaimAuthorized)
	s := domain.Fold(authorized)
	if ev.Eligibility == nil || !ev.Eligibility.Covered || ev.Eligibility.Coverage != domain.CoverageExtended ||
		s.Eligibility != ev.Eligibility || len(s.Coverages) != 1 || s.Authorization.PaidRepair {
		t.Errorf("authorization eligibility %+v, state %+v", ev.Eligibility, s.Eligibility)
	}
	// The registration's decision stays on record beside it.
	if reg := authorized[0].(domain.ClaimRegistered).Eligibility; reg.Covered {
		t.Errorf("the registration's eligibility changed: %+v", reg)
	}
}

func TestVoidReasonsFromThePolicy(t *testing.T) {
	book := twoVersions(t)
	p := book.Latest()
	received := history(t, "received")
	for code, ok := range map[string]bool{"liquid_damage": true, "broken_seal": true, "sunburn": false} {
		_, err := domain.Decide(domain.Fold(received), &domain.DiagnoseClaim{Outcome: domain.OutcomeWarrantyVoid, VoidReasonCode: code, Findings: "f"}, whenAt, p)
		var ve domain.ValidationErrors
		if ok && err != nil || !ok && (!errors.As(err, &ve) || ve[0].Field != "void_reason_code") {
			t.Errorf("void reason %s: %v", code, err)
		}
	}
}

func TestCoverageValidation(t *testing.T) {
	c := registration()
	c.Product.Component = "Hard Disk"
	c.Product.Condition = "second-hand"
	c.Coverages = []domain.CoveragePurchase{{Kind: "lifetime"}, {Kind: domain.CoverageExtended, Reference: "E", PurchasedOn: date("2026-01-01")}}
	c.PriorRepairs = []domain.PriorRepair{{Reference: "R", ReceivedOn: date("2026-02-10"), DeliveredOn: date("2026-02-01")}}
	var ve domain.ValidationErrors
	if err := c.Validate(); !errors.As(err, &ve) {
		t.Fatalf("validate: %v", err)
	}
	want := []string{"product.component", "product.condition", "coverages[0].kind", "coverages[0].reference", "coverages[0].purchased_on", "coverages[1].months", "prior_repairs[0].delivered_on"}
	var got []string
	for _, f := range ve {
		got = append(got, f.Field)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("fields %v\nwant   %v", got, want)
	}
	future := registration()
	future.Coverages = []domain.CoveragePurchase{{Kind: domain.CoverageExtended, Reference: "E", PurchasedOn: domain.DateOf(whenAt).AddDays(3), Months: 12}}
	if _, err := domain.Decide(domain.State{}, future, whenAt, policy); !errors.As(err, &ve) || ve[0].Field != "coverages[0].purchased_on" {
		t.Errorf("a certificate bought in the future: %v", err)
	}
}

func TestPolicyBook(t *testing.T) {
	book := twoVersions(t)
	for day, want := range map[string]string{"2019-05-05": "2025-a", "2025-12-31": "2025-a", "2026-01-01": "2026-b", "2030-01-01": "2026-b"} {
		if got := book.At(date(day)).Version; got != want {
			t.Errorf("At(%s) = %s, want %s", day, got, want)
		}
	}
	if p, ok := book.Version("2025-a"); !ok || p.Warranty.Categories["laptop"].ManufacturerMonths != 24 {
		t.Errorf("Version(2025-a) = %+v, %v", p, ok)
	}
	if _, ok := book.Version("nope"); ok {
		t.Errorf("found an unknown version")
	}
	for name, versions := range map[string][]domain.Policy{
		"none":                     nil,
		"a duplicate name":         {{Version: "a", RefundCapBasisPoints: 1}, {Version: "a", RefundCapBasisPoints: 1, EffectiveFrom: date("2026-01-01")}},
		"two on one day":           {{Version: "a", RefundCapBasisPoints: 1, EffectiveFrom: date("2026-01-01")}, {Version: "b", RefundCapBasisPoints: 1, EffectiveFrom: date("2026-01-01")}},
		"two without a start":      {{Version: "a", RefundCapBasisPoints: 1}, {Version: "b", RefundCapBasisPoints: 1}},
		"an invalid version":       {{Version: "a", RefundCapBasisPoints: 20000}},
		"invalid warranty months":  {{Version: "a", Warranty: &domain.Warranty{Categories: map[string]domain.CategoryTerms{"laptop": {ManufacturerMonths: -1}}}}},
		"an unknown coverage kind": {{Version: "a", Warranty: &domain.Warranty{Exclusions: []domain.Exclusion{{Component: "x", Coverages: []string{"lifetime"}}}}}},
		"an unknown SLA unit":      {{Version: "a", SLA: domain.SLATargets{Decision: domain.Target{Amount: 2, Unit: "fortnights"}}}},
	} {
		if _, err := domain.NewPolicyBook(versions...); !errors.Is(err, domain.ErrInvalidPolicy) {
			t.Errorf("%s: %v, want ErrInvalidPolicy", name, err)
		}
	}
	other := twoVersions(t)
	if book.Fingerprint() != other.Fingerprint() {
		t.Errorf("equal books, different fingerprints")
	}
	changed, _ := domain.NewPolicyBook(domain.Policy{Version: "2025-a", RefundCapBasisPoints: 7000, Warranty: warrantyTerms(25)},
		domain.Policy{Version: "2026-b", RefundCapBasisPoints: 7000, EffectiveFrom: date("2026-01-01"), Warranty: warrantyTerms(12)})
	if changed.Fingerprint() == book.Fingerprint() {
		t.Errorf("a changed value kept the fingerprint")
	}
}
