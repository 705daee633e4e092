package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/policy"
)

func date(s string) domain.Date {
	d, err := domain.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestDefault: the embedded default loads and says what the seeds say.
func TestDefault(t *testing.T) {
	book := policy.Default()
	versions := book.Versions()
	if len(versions) != 2 {
		t.Fatalf("%d versions", len(versions))
	}
	// seeds-2 repeats seeds-1 and adds the registration and intake rules; claims registered
	// under seeds-1 keep the terms they were decided with.
	if v1, v2 := versions[0], versions[1]; v1.Version != "seeds-1" || v1.DocumentsBeforeShipment || v1.DefaultCountry != "" || v1.MaxReportedAge != 0 ||
		v2.Version != "seeds-2" || v2.EffectiveFrom != date("2026-12-07") || !v2.DocumentsBeforeShipment || v2.DefaultCountry != "BG" || v2.MaxReportedAge != 14*24*time.Hour {
		t.Errorf("versions: %+v\n%+v", v1, v2)
	}
	for _, p := range versions {
		checkSeedTerms(t, p)
	}
	if !strings.Contains(string(policy.DefaultYAML()), "versions:") {
		t.Errorf("DefaultYAML is not the file")
	}
}

// checkSeedTerms checks the terms every default version takes from the seeds.
func checkSeedTerms(t *testing.T, p domain.Policy) {
	t.Helper()
	w := p.Warranty
	switch {
	case p.RefundCapBasisPoints != 7000 || p.Calendar.Loc().String() != "Europe/Sofia":
		t.Errorf("version %s, cap %d, zone %s", p.Version, p.RefundCapBasisPoints, p.Calendar.Loc())
	case w == nil || w.Categories["laptop"].ManufacturerMonths != 24 || w.Categories["default"].ManufacturerMonths != 12:
		t.Errorf("categories %+v", w)
	case w.ExtendedMaxMonths != 60 || w.PostWarrantyMonths != 12 || w.RepairWarrantyDays != 180 || !w.RepairTimeExtends:
		t.Errorf("coverage terms %+v", w)
	case p.SLA.Decision != (domain.Target{Amount: 2, Unit: domain.UnitWorkingDays}) ||
		p.SLA.ShipmentWindow != (domain.Target{Amount: 1, Unit: domain.UnitWorkingDays}) ||
		p.SLA.FirstResponse != (domain.Target{Amount: 2, Unit: domain.UnitWorkingHours}) ||
		p.SLA.RepairTurnaround != (domain.Target{Amount: 7, Unit: domain.UnitDays}) ||
		p.SLA.RepairHardLimit != (domain.Target{Amount: 45, Unit: domain.UnitDays}):
		t.Errorf("SLA %+v", p.SLA)
	case !p.Calendar.IsHoliday(date("2026-03-03")) || !p.Calendar.IsHoliday(date("2026-04-13")) || p.Calendar.IsWorkingDay(date("2026-11-22")) || !p.Calendar.IsWorkingDay(date("2026-11-23")):
		t.Errorf("calendar: holidays or weekends wrong")
	}
	// Seed 001: a used laptop's HDD has 3 months.
	e := domain.AssessEligibility(p, domain.EligibilityInput{
		Product:      domain.Product{Category: "laptop", Component: "hdd", Condition: domain.ConditionUsed},
		PurchaseDate: date("2026-01-10"), ClaimDate: date("2026-05-01"),
	})
	if e == nil || e.Covered || e.Until != date("2026-04-09") {
		t.Errorf("%s: used laptop HDD: %+v", p.Version, e)
	}
}

const twoVersions = `
versions:
  - version: v1
    time_zone: Europe/Athens
    working_hours:
      monday: ["09:00-13:00", "14:00-17:00"]
      saturday: ["10:00-14:00"]
    holidays: [2026-03-25, {from: 2026-08-14, to: 2026-08-16}]
    refund_cap_percent: 72.5
    warranty:
      categories: {nas: {manufacturer_months: 36}}
  - version: v2
    effective_from: 2027-01-01
    time_zone: Europe/Athens
    working_hours: {monday: ["09:00-17:00"]}
    sla:
      decision: 1 working_day
      repair_hard_limit: 30 days
`

func TestLoadVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(twoVersions), 0o600); err != nil {
		t.Fatal(err)
	}
	book, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := book.At(date("2026-06-01")), book.At(date("2027-06-01"))
	if v1.Version != "v1" || v2.Version != "v2" {
		t.Fatalf("versions %s, %s", v1.Version, v2.Version)
	}
	if v1.RefundCapBasisPoints != 7250 || v2.RefundCapBasisPoints != 7000 {
		t.Errorf("caps %d, %d (72.5%% is 7250, the default 70%%)", v1.RefundCapBasisPoints, v2.RefundCapBasisPoints)
	}
	if got := v1.Calendar.Hours[time.Monday]; len(got) != 2 || got[1].Start != 14*time.Hour {
		t.Errorf("monday %v", got)
	}
	if !v1.Calendar.IsHoliday(date("2026-08-15")) || v1.Calendar.IsHoliday(date("2026-08-17")) {
		t.Errorf("holiday range")
	}
	if v1.Warranty.Categories["nas"].ManufacturerMonths != 36 || v2.Warranty != nil {
		t.Errorf("warranty %+v / %+v", v1.Warranty, v2.Warranty)
	}
	if v1.SLA != (domain.SLATargets{}) || v2.SLA.Decision != (domain.Target{Amount: 1, Unit: domain.UnitWorkingDays}) {
		t.Errorf("SLA %+v / %+v", v1.SLA, v2.SLA)
	}
	if _, err := policy.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// minimal is a valid version to break one field at a time.
const minimal = `versions:
  - version: v1
    time_zone: Europe/Sofia
    working_hours:
      monday: ["10:00-18:00"]
`

func TestInvalidFiles(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		// every problem expected: "line N: path: text" prefixes
		want []string
	}{
		{"empty", "", []string{"the file is empty"}},
		{"not YAML", "versions: [\n", []string{"line 1: did not find expected node content"}},
		{"no versions", "versions: []\n", []string{"versions: at least one version"}},
		{"unknown top-level field", minimal + "colour: blue\n", []string{"line 6: colour: unknown field"}},
		{"unknown field in a version", minimal + "    timezone: UTC\n", []string{"line 6: versions[0].timezone: unknown field"}},
		{"misspelt weekday", minimal + "      mondy: [\"10:00-18:00\"]\n", []string{"line 6: versions[0].working_hours.mondy: unknown field"}},
		{"wrong type", minimal + "    warranty:\n      categories: {laptop: {manufacturer_months: two}}\n",
			[]string{`line 7: versions[0].warranty.categories.laptop.manufacturer_months: "two" is text, want a whole number`}},
		{"a list where a mapping belongs", minimal + "    sla: [1, 2]\n", []string{"line 6: versions[0].sla: is a list, want a mapping"}},
		{"missing version and zone", "versions:\n  - working_hours: {monday: [\"10:00-18:00\"]}\n",
			[]string{"line 2: versions[0].version: is required", "line 2: versions[0].time_zone: is required"}},
		{"unknown zone", strings.Replace(minimal, "Europe/Sofia", "Europe/Sofiya", 1), []string{`line 3: versions[0].time_zone: "Europe/Sofiya" is not an IANA time zone`}},
		{"no working hours", "versions:\n  - version: v1\n    time_zone: UTC\n", []string{"line 2: versions[0].working_hours: is required"}},
		{"bad period", strings.Replace(minimal, "10:00-18:00", "18:00-10:00", 1), []string{`line 5: versions[0].working_hours.monday[0]: "18:00-10:00" ends before it starts`}},
		{"not a period", strings.Replace(minimal, "10:00-18:00", "10-18", 1), []string{`line 5: versions[0].working_hours.monday[0]: "10-18" is not a period`}},
		{"overlapping periods", strings.Replace(minimal, `"10:00-18:00"`, `"10:00-14:00", "13:00-18:00"`, 1), []string{"line 5: versions[0].working_hours.monday[1]:"}},
		{"bad holiday", minimal + "    holidays: [2026-02-30, {from: 2026-05-02, to: 2026-05-01}, {from: 2026-05-01, till: 2026-05-02}]\n",
			[]string{`line 6: versions[0].holidays[0]: "2026-02-30" is not a date`, "line 6: versions[0].holidays[1]: ends 2026-05-01, before it starts", `line 6: versions[0].holidays[2]: unknown field "till"`}},
		{"bad percentage", minimal + "    refund_cap_percent: 170\n", []string{`line 6: versions[0].refund_cap_percent: "170" is not a percentage`}},
		{"bad targets", minimal + "    sla:\n      decision: 2 fortnights\n      repair_hard_limit: 0 days\n      due_soon_percent: 120\n",
			[]string{`line 7: versions[0].sla.decision: "2 fortnights" is not a target`, `line 8: versions[0].sla.repair_hard_limit: "0 days": the amount must be`, "line 9: versions[0].sla.due_soon_percent: 120 is outside 0..100"}},
		{"bad warranty", minimal + `    warranty:
      categories: {Laptop: {manufacturer_months: -1}}
      components: [{component: hdd, conditions: [second_hand]}]
      exclusions: [{component: battery, coverages: [lifetime]}]
`, []string{
			`line 7: versions[0].warranty.categories.Laptop: "Laptop" is not a category code`,
			"line 7: versions[0].warranty.categories.Laptop.manufacturer_months: -1 is outside 0..600",
			`line 8: versions[0].warranty.components[0].conditions[0]: "second_hand" is not one of new, used, refurbished`,
			"line 8: versions[0].warranty.components[0]: needs a period",
			`line 9: versions[0].warranty.exclusions[0].coverages[0]: "lifetime" is not one of manufacturer`,
		}},
		{"duplicate versions", minimal + "  - version: v1\n    time_zone: UTC\n    working_hours: {friday: [\"09:00-17:00\"]}\n",
			[]string{`line 6: versions[1].version: "v1" is also the name of versions[0]`, "line 6: versions[1].effective_from: is required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse("test.yaml", []byte(tc.yaml))
			var pe *policy.Error
			if !errors.As(err, &pe) || !errors.Is(err, domain.ErrInvalidPolicy) {
				t.Fatalf("error %v, want a *policy.Error", err)
			}
			if pe.File != "test.yaml" {
				t.Errorf("file %q", pe.File)
			}
			var got []string
			for _, p := range pe.Problems {
				got = append(got, p.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) && !strings.Contains(got[i], w) {
					t.Errorf("problem %d: %q, want %q", i, got[i], w)
				}
			}
			if !strings.Contains(err.Error(), "policy file test.yaml is invalid") {
				t.Errorf("message %q", err)
			}
		})
	}
}
