package domain

import (
	"fmt"
	"time"
)

// reportedInTime checks the arrival time of a request entered later (RegisterClaim.ReportedAt):
// not after the registration at at, at most the policy's MaxReportedAge before it, and not
// before the day the item was bought. A zero time means the request arrived as it was entered.
//
// The bound keeps a typo (a wrong year) or a stale note from starting the clocks long ago and
// moving the claim date, on which eligibility turns, into the warranty.
func reportedInTime(reported time.Time, purchased Date, at time.Time, p Policy) error {
	if reported.IsZero() {
		return nil
	}
	limit := p.maxReportedAge()
	switch earliest := at.Add(-limit); {
	case reported.After(at):
		return ValidationErrors{{Field: "reported_at", Problem: fmt.Sprintf("must not be in the future (it is %s)", at.Format(time.RFC3339))}}
	case reported.Before(earliest):
		return ValidationErrors{{Field: "reported_at", Problem: fmt.Sprintf("must be at most %s before the registration, i.e. not before %s (the policy's max_reported_age)",
			ageText(limit), earliest.Format(time.RFC3339))}}
	case p.DayOf(reported).Before(purchased):
		return ValidationErrors{{Field: "reported_at", Problem: fmt.Sprintf("must not be before purchase_date (%s)", purchased)}}
	}
	return nil
}

// ageText writes a duration the way the policy file does: "14 days", "36 hours".
func ageText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return fmt.Sprintf("%d hours", d/time.Hour)
}
