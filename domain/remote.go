package domain

import (
	"fmt"
	"strings"
	"time"
)

// Help given without the goods (after-sales support answers first, and many claims end there):
// a claim fixed by phone, in a remote session or by e-mail is resolved as such, with the
// work done on record, and closed without anything being shipped.

// ActionResolveRemotely resolves a claim before any goods moved.
const ActionResolveRemotely Action = "resolve-remotely"

// ResolutionResolvedRemotely is the resolution of a claim fixed without the goods.
const ResolutionResolvedRemotely = "resolved_remotely"

// How remote help was given.
const (
	RemoteByPhone   = "phone"
	RemoteBySession = "remote_session"
	RemoteByEmail   = "email"
)

// ClaimResolvedRemotely records that the customer's problem was fixed without the goods: how
// (phone, remote_session, email), what was done, by whom, and the service report's reference.
// PreviousStatus is where the claim was (registered or authorized): an overturned appeal sends
// it back there, so that the goods can still come in.
type ClaimResolvedRemotely struct {
	Method         string    `json:"method"`
	WorkDone       string    `json:"work_done"`
	Technician     string    `json:"technician,omitempty"`
	Reference      string    `json:"reference,omitempty"`
	PreviousStatus Status    `json:"previous_status"`
	At             time.Time `json:"at"`
}

// EventType returns "claim.resolved_remotely.v1".
func (ClaimResolvedRemotely) EventType() string { return "claim.resolved_remotely.v1" }

func (e ClaimResolvedRemotely) occurredAt() time.Time { return e.At }

// RemoteResolution is the latest resolution of the claim without the goods.
type RemoteResolution struct {
	Method         string    `json:"method"`
	WorkDone       string    `json:"work_done"`
	Technician     string    `json:"technician,omitempty"`
	Reference      string    `json:"reference,omitempty"`
	PreviousStatus Status    `json:"previous_status"`
	ResolvedAt     time.Time `json:"resolved_at"`
}

// ResolveRemotely resolves a claim whose problem was fixed without the goods, before they were
// shipped. method and work_done are required: the work done goes on the service report the
// customer confirms; technician and reference (the service report's number) are
// optional.
type ResolveRemotely struct {
	Method     string `json:"method"`
	WorkDone   string `json:"work_done"`
	Technician string `json:"technician,omitempty"`
	Reference  string `json:"reference,omitempty"`
}

// Action returns ActionResolveRemotely.
func (ResolveRemotely) Action() Action { return ActionResolveRemotely }

// Validate checks the fields.
func (c ResolveRemotely) Validate() error {
	var v validation
	v.required("method", c.Method)
	v.oneOf("method", c.Method, RemoteByPhone, RemoteBySession, RemoteByEmail)
	v.required("work_done", c.WorkDone)
	v.long("work_done", c.WorkDone)
	v.line("technician", c.Technician, maxLine)
	v.line("reference", c.Reference, maxLine)
	return v.result()
}

func (c ResolveRemotely) decide(s State, at time.Time, _ Policy) (Event, error) {
	return ClaimResolvedRemotely{
		Method:         c.Method,
		WorkDone:       strings.TrimSpace(c.WorkDone),
		Technician:     strings.TrimSpace(c.Technician),
		Reference:      strings.TrimSpace(c.Reference),
		PreviousStatus: s.Status,
		At:             at,
	}, nil
}

// evolveRemote applies ClaimResolvedRemotely; Evolve delegates to it.
func (s State) evolveRemote(e ClaimResolvedRemotely) State {
	s.RemoteResolution = &RemoteResolution{
		Method: e.Method, WorkDone: e.WorkDone, Technician: e.Technician, Reference: e.Reference,
		PreviousStatus: e.PreviousStatus, ResolvedAt: e.At,
	}
	return s.resolve(ResolutionResolvedRemotely, e.At)
}

// resolvedRemotely reports whether the claim's standing resolution was given without the goods.
func (s State) resolvedRemotely() bool {
	return s.Resolution != nil && s.Resolution.Kind == ResolutionResolvedRemotely
}

// notShippedBack guards ship-return for a claim resolved without the goods: nothing is with the
// service to send back.
func notShippedBack(s State) error {
	if s.resolvedRemotely() {
		return blocked(fmt.Sprintf("the claim was %s: no item is with the service; close the claim instead", ResolutionResolvedRemotely))
	}
	return nil
}
