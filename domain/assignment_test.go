package domain_test

import (
	"slices"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

func TestAssign(t *testing.T) {
	assignedTo := func(who string, status domain.Status) func(t *testing.T, s domain.State) {
		return func(t *testing.T, s domain.State) {
			if s.Assignee != who || s.Status != status {
				t.Errorf("assignee %q, status %s; want %q, %s", s.Assignee, s.Status, who, status)
			}
		}
	}
	withMaria := with(history(t, "in_repair"), domain.ClaimAssigned{Assignee: "Maria Ivanova", At: whenAt})
	run(t, []gwt{
		{
			name:  "a registered claim is given to a person",
			given: history(t, "registered"), when: &domain.AssignClaim{Assignee: " Maria Ivanova ", Note: " She speaks Bulgarian. "},
			then:  []domain.Event{domain.ClaimAssigned{Assignee: "Maria Ivanova", Note: "She speaks Bulgarian.", At: whenAt}},
			check: assignedTo("Maria Ivanova", domain.StatusRegistered),
		},
		{
			name:  "another person takes it over",
			given: withMaria, when: &domain.AssignClaim{Assignee: "Georgi Georgiev"},
			then:  []domain.Event{domain.ClaimAssigned{Assignee: "Georgi Georgiev", PreviousAssignee: "Maria Ivanova", At: whenAt}},
			check: assignedTo("Georgi Georgiev", domain.StatusInRepair),
		},
		{
			name:  "an empty assignee unassigns",
			given: withMaria, when: &domain.AssignClaim{},
			then:  []domain.Event{domain.ClaimAssigned{PreviousAssignee: "Maria Ivanova", At: whenAt}},
			check: assignedTo("", domain.StatusInRepair),
		},
		{name: "on hold too", given: history(t, "on_hold"), when: &domain.AssignClaim{Assignee: "Maria Ivanova"}, check: assignedTo("Maria Ivanova", domain.StatusOnHold)},
		{name: "the same person again changes nothing", given: withMaria, when: &domain.AssignClaim{Assignee: "Maria Ivanova "}, fields: []string{"assignee"}},
		{name: "unassigning a claim nobody has changes nothing", given: history(t, "registered"), when: &domain.AssignClaim{Assignee: "  "}, fields: []string{"assignee"}},
		{name: "a name is one line", given: history(t, "registered"), when: &domain.AssignClaim{Assignee: "Maria\nIvanova"}, fields: []string{"assignee"}},
		{name: "a name is bounded", given: history(t, "registered"), when: &domain.AssignClaim{Assignee: string(make([]rune, 201))}, fields: []string{"assignee"}},
		{name: "a closed claim has no owner to change", given: history(t, "closed"), when: &domain.AssignClaim{Assignee: "Maria Ivanova"}, invalid: true},
		{name: "no claim", when: &domain.AssignClaim{Assignee: "Maria Ivanova"}, err: domain.ErrNoClaim},
	})
}

// TestAssignmentStopsNoClock: assigning a claim is not an answer to the customer, so the first
// response and decision clocks keep running.
func TestAssignmentStopsNoClock(t *testing.T) {
	p := slaPolicy(t)
	events := []domain.Event{
		registered(t, "2026-03-09 10:00"),
		domain.ClaimAssigned{Assignee: "Maria Ivanova", At: sofiaAt(t, "2026-03-09 10:30").UTC()},
	}
	before := domain.FoldClocks(events[:1], p)
	after := domain.FoldClocks(events, p)
	for _, name := range []string{domain.ClockFirstResponse, domain.ClockDecision} {
		b, _ := before.Get(name)
		a, ok := after.Get(name)
		if !ok || a.Status != domain.ClockRunning || !a.DueAt.Equal(b.DueAt) {
			t.Errorf("%s after the assignment: %+v; before: %+v", name, a, b)
		}
	}
	if got := domain.AllowedActions(domain.Fold(events)); !slices.Contains(got, domain.ActionAssign) {
		t.Errorf("allowed %v: want assign again", got)
	}
}
