package console_test

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkOverviewPage is the overview over 500 claims registered in the
// period: each claim's record and clocks are read to sum them up.
func BenchmarkOverviewPage(b *testing.B) {
	s := newStack(b)
	for i := range 500 {
		s.registerClaim(b, fmt.Sprintf("SN-OVERVIEW-BENCH-%04d", i))
	}
	c := s.client(b)
	c.signIn("Ana Agent", "pw-agent")
	b.ResetTimer()
	for b.Loop() {
		if p := c.get("/console/overview"); p.Code != http.StatusOK {
			b.Fatal(p.Code)
		}
	}
}
