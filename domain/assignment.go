package domain

import (
	"strings"
	"time"
)

// Ownership of a claim on the desk: who works on it now. Assignment is bookkeeping of the
// service, not a step of the lifecycle: it changes no status and answers no customer, so it
// stops no SLA clock.

// ActionAssign gives a claim to a person, or takes it from whoever has it.
const ActionAssign Action = "assign"

// ClaimAssigned records who owns the claim from now on. Assignee is the person's name, empty
// when the claim was unassigned; PreviousAssignee is who had it, empty when nobody did.
type ClaimAssigned struct {
	Assignee         string    `json:"assignee,omitempty"`
	PreviousAssignee string    `json:"previous_assignee,omitempty"`
	Note             string    `json:"note,omitempty"`
	At               time.Time `json:"at"`
}

// EventType returns "claim.assigned.v1".
func (ClaimAssigned) EventType() string { return "claim.assigned.v1" }

func (e ClaimAssigned) occurredAt() time.Time { return e.At }

// AssignClaim gives the claim to the person named by assignee (a single line, as the accounts
// directory names people); an empty assignee unassigns it. note says why, optionally.
type AssignClaim struct {
	Assignee string `json:"assignee"`
	Note     string `json:"note,omitempty"`
}

// Action returns ActionAssign.
func (AssignClaim) Action() Action { return ActionAssign }

// Validate checks the fields.
func (c AssignClaim) Validate() error {
	var v validation
	v.line("assignee", c.Assignee, maxLine)
	v.long("note", c.Note)
	return v.result()
}

// decide refuses an assignment that changes nothing (the same person again, or unassigning a
// claim nobody has): it would only add noise to the history.
func (c AssignClaim) decide(s State, at time.Time, _ Policy) (Event, error) {
	assignee := strings.TrimSpace(c.Assignee)
	if assignee == s.Assignee {
		problem := "is already the claim's assignee"
		if assignee == "" {
			problem = "is empty, and the claim is not assigned to anyone"
		}
		return nil, ValidationErrors{{Field: "assignee", Problem: problem}}
	}
	return ClaimAssigned{Assignee: assignee, PreviousAssignee: s.Assignee, Note: strings.TrimSpace(c.Note), At: at}, nil
}
