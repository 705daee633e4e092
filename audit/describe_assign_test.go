package audit

import (
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// TestDescribeAssignment: the trail names who took the claim, or who gave it up.
func TestDescribeAssignment(t *testing.T) {
	for _, tc := range []struct {
		e             domain.ClaimAssigned
		summary, note string
	}{
		{domain.ClaimAssigned{Assignee: "Maria Ivanova", Note: "Speaks Bulgarian."}, "Assigned to Maria Ivanova", "Speaks Bulgarian."},
		{domain.ClaimAssigned{PreviousAssignee: "Maria Ivanova"}, "Unassigned from Maria Ivanova", ""},
	} {
		if summary, note := Describe(tc.e); summary != tc.summary || note != tc.note {
			t.Errorf("Describe(%+v) = %q, %q; want %q, %q", tc.e, summary, note, tc.summary, tc.note)
		}
	}
}
