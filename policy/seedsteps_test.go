package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/policy"
)

// TestRegistrationSettings: default_country and max_reported_age are read, defaulted and
// checked like every other setting.
func TestRegistrationSettings(t *testing.T) {
	p := policy.Default().Latest()
	if p.DefaultCountry != "BG" || p.MaxReportedAge != 14*24*time.Hour {
		t.Errorf("embedded default: country %q, max reported age %s", p.DefaultCountry, p.MaxReportedAge)
	}

	book, err := policy.Parse("test.yaml", []byte(minimal+"    default_country: GR\n    max_reported_age: 36 hours\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := book.Latest(); p.DefaultCountry != "GR" || p.MaxReportedAge != 36*time.Hour {
		t.Errorf("country %q, max reported age %s", p.DefaultCountry, p.MaxReportedAge)
	}
	book, err = policy.Parse("test.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if p := book.Latest(); p.DefaultCountry != "" || p.MaxReportedAge != 0 {
		t.Errorf("left out: country %q (want none), max reported age %s (want 0, read as the default)", p.DefaultCountry, p.MaxReportedAge)
	}

	for _, tc := range []struct{ yaml, want string }{
		{"    default_country: Bulgaria\n", `line 6: versions[0].default_country: "Bulgaria" is not a country`},
		{"    default_country: XX\n", `line 6: versions[0].default_country: "XX" is not a country`},
		{"    max_reported_age: 2 working_days\n", `line 6: versions[0].max_reported_age: "2 working_days": counts elapsed time`},
		{"    max_reported_age: 400 days\n", `line 6: versions[0].max_reported_age: "400 days": the amount must be 1 to 366`},
		{"    max_reported_age: a fortnight\n", `line 6: versions[0].max_reported_age: "a fortnight" is not a target`},
	} {
		_, err := policy.Parse("test.yaml", []byte(minimal+tc.yaml))
		var pe *policy.Error
		if !errors.As(err, &pe) || !errors.Is(err, domain.ErrInvalidPolicy) || len(pe.Problems) != 1 || !strings.HasPrefix(pe.Problems[0].String(), tc.want) {
			t.Errorf("%q: %v, want one problem %q", tc.yaml, err, tc.want)
		}
	}
}
