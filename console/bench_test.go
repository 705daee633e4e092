package console_test

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkQueuePage is the desk's home with 500 open claims: every tab's
// count, the open SLA clocks and one tab's rows, as a signed-in agent sees
// it.
func BenchmarkQueuePage(b *testing.B) {
	s := newStack(b)
	for i := range 500 {
		s.registerClaim(b, fmt.Sprintf("SN-BENCH-%04d", i))
	}
	c := s.client(b)
	c.signIn("Ana Agent", "pw-agent")
	b.ResetTimer()
	for b.Loop() {
		if p := c.get("/console/queues?tab=decision"); p.Code != http.StatusOK {
			b.Fatal(p.Code)
		}
	}
}
