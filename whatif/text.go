package whatif

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// timeFormat is how the table writes instants, in the policy's time zone.
const timeFormat = "2006-01-02 15:04 -07:00"

// WriteText writes the report as a table per differing claim, then the
// totals, with instants in loc.
func (r Report) WriteText(w io.Writer, loc *time.Location) error {
	at := func(t time.Time) string { return t.In(loc).Format(timeFormat) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	since := ""
	if r.Since != nil {
		since = ", claims registered since " + at(*r.Since)
	}
	claims := "claims"
	if r.Totals.Claims == 1 {
		claims = "claim"
	}
	fmt.Fprintf(tw, "Policy what-if as of %s%s: %d %s replayed, %d would differ. Nothing was written.\n",
		at(r.Now), since, r.Totals.Claims, claims, r.Totals.Differing)
	for _, c := range r.Claims {
		fmt.Fprintf(tw, "\n%s\tregistered %s\tgoverned by %s\tcandidate %s\n", c.Number, at(c.RegisteredAt), c.RecordedVersion, c.CandidateVersion)
		fmt.Fprintln(tw, "  WHAT\tRECORDED\tCANDIDATE")
		for _, e := range c.Eligibility {
			fmt.Fprintf(tw, "  eligibility (%s)\t%s\t%s\n", e.Decision, eligibilityText(e.Recorded), eligibilityText(e.Candidate))
		}
		for _, k := range c.Clocks {
			name := k.Clock
			if k.Cycle > 1 {
				name = fmt.Sprintf("%s (cycle %d)", name, k.Cycle)
			}
			fmt.Fprintf(tw, "  clock %s\t%s\t%s\n", name, runText(k.Recorded, at), runText(k.Candidate, at))
		}
		for _, b := range c.Breaches {
			fmt.Fprintf(tw, "  breach %s (%s)\t%s\t%s\n", b.Clock, b.Change, breachText(b.Recorded, at), breachText(b.Candidate, at))
		}
		if d := c.Divergence; d != nil {
			fmt.Fprintf(tw, "  history\tas recorded\t%s at %s; %d recorded events after it would not have happened\n", d.Reason, at(d.At), d.NotReached)
		}
	}
	t := r.Totals
	fmt.Fprintf(tw, "\nTOTALS\n")
	for _, row := range []struct {
		name string
		n    int
	}{
		{"claims replayed", t.Claims}, {"claims that would differ", t.Differing},
		{"eligibility decided differently", t.EligibilityChanged}, {"no longer covered", t.NoLongerCovered},
		{"newly covered", t.NowCovered}, {"coverage ends on another day", t.CoverageEndChanged},
		{"clock runs with another due time or outcome", t.DueTimesChanged},
		{"breaches added", t.BreachesAdded}, {"breaches removed", t.BreachesRemoved}, {"breaches moved", t.BreachesMoved},
		{"claims whose history would leave the record", t.Diverged},
	} {
		fmt.Fprintf(tw, "  %s\t%d\n", row.name, row.n)
	}
	return tw.Flush()
}

func eligibilityText(e *domain.Eligibility) string {
	switch {
	case e == nil:
		return "not assessed"
	case e.Covered:
		s := fmt.Sprintf("covered (%s) until %s", e.Coverage, e.Until)
		if e.ExtendedByDays > 0 {
			s += fmt.Sprintf(", +%d days in repair", e.ExtendedByDays)
		}
		return s
	case e.Until.IsZero():
		return "not covered: " + e.ReasonCode
	}
	return fmt.Sprintf("not covered: %s (coverage until %s)", e.ReasonCode, e.Until)
}

func runText(r *ClockRun, at func(time.Time) string) string {
	switch {
	case r == nil:
		return "none"
	case r.DueAt.IsZero():
		return string(r.Status)
	}
	return fmt.Sprintf("%s, due %s", r.Status, at(r.DueAt))
}

func breachText(b *Breach, at func(time.Time) string) string {
	switch {
	case b == nil:
		return "none"
	case b.ActedAt.IsZero():
		return fmt.Sprintf("due %s, not acted on yet", at(b.DueAt))
	}
	return fmt.Sprintf("due %s, acted on %s", at(b.DueAt), at(b.ActedAt))
}
