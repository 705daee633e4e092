package main

import "testing"

// TestFinanceTimeZone: the zone is checked at start, so that a typo stops
// the service instead of shifting every finance period.
func TestFinanceTimeZone(t *testing.T) {
	for _, ok := range []string{"", "UTC", "Europe/Sofia", "Asia/Shanghai", "Europe/Athens"} {
		cfg := validConfig()
		cfg.FinanceTimeZone = ok
		if err := cfg.Validate(); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"Local", "Europe/Sofiya", "+02:00", "../../etc/passwd"} {
		cfg := validConfig()
		cfg.FinanceTimeZone = bad
		if err := cfg.Validate(); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if loc := financeLocation("Europe/Sofia"); loc.String() != "Europe/Sofia" {
		t.Errorf("loaded %v", loc)
	}
}
