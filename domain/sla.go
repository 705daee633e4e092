package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The SLA clocks a claim can have.
const (
	// ClockFirstResponse runs from registration to the first response to the customer: a note
	// written for the customer, an authorization, a rejection or a redirection to the
	// manufacturer's service center. Internal notes answer no one.
	ClockFirstResponse = "first_response"
	// ClockDecision runs from registration to authorization, rejection or redirection (e.g.
	// an accurate answer within a couple of working days).
	// It starts a new cycle when the claim comes back for another decision of ours: after the
	// manufacturer's service center refused it or found it unrepairable (then until authorization,
	// rejection or another redirection), and after an overturned appeal (then until the new
	// remedy: an estimate, a repair, a replacement, a refund, a credit note or a return).
	ClockDecision = "decision"
	// ClockShipmentWindow is the customer's: from authorization (once requested documents are in)
	// to the shipment or hand-in of the goods (e.g. one working day, else the claim counts
	// as resolved and is closed).
	ClockShipmentWindow = "shipment_window"
	// ClockRepairTurnaround runs from intake to resolution (e.g. repaired within a week of
	// receiving the goods).
	ClockRepairTurnaround = "repair_turnaround"
	// ClockRepairHardLimit runs from intake to resolution too; when it passes, the item must be
	// replaced or refunded (e.g. 45 days).
	ClockRepairHardLimit = "repair_hard_limit"
)

// clockNames lists the clocks in the order a claim meets them.
var clockNames = []string{ClockFirstResponse, ClockDecision, ClockShipmentWindow, ClockRepairTurnaround, ClockRepairHardLimit}

// ClockNames returns every clock name in lifecycle order. The slice is a copy.
func ClockNames() []string { return slices.Clone(clockNames) }

// Units of an SLA target. Working units count only the calendar's working time; the others
// count elapsed time.
const (
	UnitWorkingHours = "working_hours"
	UnitWorkingDays  = "working_days"
	UnitHours        = "hours"
	UnitDays         = "days"
)

// Target is an SLA target: Amount of Unit ("2 working_days", "45 days"). The zero Target keeps
// no clock.
type Target struct {
	Amount int    `json:"amount"`
	Unit   string `json:"unit"`
}

// IsZero reports whether the target keeps no clock.
func (t Target) IsZero() bool { return t.Amount == 0 }

// String writes "2 working_days".
func (t Target) String() string { return fmt.Sprintf("%d %s", t.Amount, t.Unit) }

// working reports whether the target counts working time only.
func (t Target) working() bool { return t.Unit == UnitWorkingHours || t.Unit == UnitWorkingDays }

// due is when a clock with this target, started at start, expires.
func (t Target) due(cal Calendar, start time.Time) time.Time {
	switch t.Unit {
	case UnitWorkingHours:
		return cal.AddWorking(start, time.Duration(t.Amount)*time.Hour)
	case UnitWorkingDays:
		return cal.AddWorkingDays(start, t.Amount)
	case UnitDays:
		// Calendar days keep the wall-clock time across a DST change.
		return start.In(cal.Loc()).AddDate(0, 0, t.Amount)
	}
	return start.In(cal.Loc()).Add(time.Duration(t.Amount) * time.Hour)
}

// between measures [a, b) as this target counts: working time or elapsed time.
func (t Target) between(cal Calendar, a, b time.Time) time.Duration {
	if t.working() {
		return cal.WorkingBetween(a, b)
	}
	return b.Sub(a)
}

// advance returns the instant d of this target's time after from.
func (t Target) advance(cal Calendar, from time.Time, d time.Duration) time.Time {
	if t.working() {
		return cal.AddWorking(from, d)
	}
	return from.In(cal.Loc()).Add(d)
}

// SLATargets are a policy's service-level targets, one per clock.
type SLATargets struct {
	FirstResponse    Target
	Decision         Target
	ShipmentWindow   Target
	RepairTurnaround Target
	RepairHardLimit  Target
	// DueSoonPercent: a running clock is due soon once less than this share of its target is
	// left (default 20).
	DueSoonPercent int
}

// Target returns the target of the named clock (zero for an unknown name).
func (s SLATargets) Target(clock string) Target {
	switch clock {
	case ClockFirstResponse:
		return s.FirstResponse
	case ClockDecision:
		return s.Decision
	case ClockShipmentWindow:
		return s.ShipmentWindow
	case ClockRepairTurnaround:
		return s.RepairTurnaround
	case ClockRepairHardLimit:
		return s.RepairHardLimit
	}
	return Target{}
}

// Validate reports targets that cannot be used.
func (s SLATargets) Validate() error {
	var errs []error
	for _, name := range clockNames {
		t := s.Target(name)
		if t.IsZero() && t.Unit == "" {
			continue
		}
		limit := map[string]int{UnitWorkingHours: 24 * 366, UnitWorkingDays: 366, UnitHours: 24 * 366, UnitDays: 366}[t.Unit]
		switch {
		case limit == 0:
			errs = append(errs, fmt.Errorf("sla.%s.unit: %q is not one of working_hours, working_days, hours, days", name, t.Unit))
		case t.Amount < 1 || t.Amount > limit:
			errs = append(errs, fmt.Errorf("sla.%s: %d %s is outside 1..%d", name, t.Amount, t.Unit, limit))
		}
	}
	if s.DueSoonPercent < 0 || s.DueSoonPercent > 100 {
		errs = append(errs, fmt.Errorf("sla.due_soon_percent: %d is outside 0..100", s.DueSoonPercent))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(errs...))
	}
	return nil
}

// dueSoonPercent is the configured share, 20 when unset.
func (s SLATargets) dueSoonPercent() int64 {
	if s.DueSoonPercent == 0 {
		return 20
	}
	return int64(s.DueSoonPercent)
}

// Duration is a time.Duration written in JSON as Go's duration text ("16h0m0s"), which a person
// reading an event or a clock understands without arithmetic.
type Duration time.Duration

// MarshalText writes the duration as text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads time.ParseDuration's format.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ClockStatus is where a clock stands.
type ClockStatus string

// The statuses of a clock.
const (
	// ClockRunning: counting down to DueAt.
	ClockRunning ClockStatus = "running"
	// ClockPaused: waiting on the customer (or on hold); Remaining is what is left.
	ClockPaused ClockStatus = "paused"
	// ClockMet: stopped at or before its due time.
	ClockMet ClockStatus = "met"
	// ClockMissed: stopped after its due time.
	ClockMissed ClockStatus = "missed"
	// ClockStopped: the claim ended (withdrawn, rejected, closed) before the clock was due.
	ClockStopped ClockStatus = "stopped"
)

// Reasons a clock is paused.
const (
	PauseOnHold             = "on_hold"
	PauseAwaitingAcceptance = "awaiting_estimate_acceptance"
	PauseAwaitingPayment    = "awaiting_payment"
	PauseAwaitingDocuments  = "awaiting_documents"
)

// Clock is one SLA clock of a claim. Times are in the policy's time zone, so that a due time
// reads as the wall-clock time it is at the service desk.
type Clock struct {
	Name   string      `json:"clock"`
	Status ClockStatus `json:"status"`
	Target Target      `json:"target"`
	// Cycle numbers the runs of a clock that started again (2 for its second run); the first
	// run has none. The clock shows its latest run.
	Cycle int `json:"cycle,omitempty"`
	// StartedAt is when it started; DueAt when it expires (running), expired or would have
	// (stopped); zero while paused.
	StartedAt time.Time `json:"started_at"`
	DueAt     time.Time `json:"due_at,omitzero"`
	// SoonAt is when a running clock becomes due soon (DueSoonPercent of its target left).
	SoonAt time.Time `json:"due_soon_at,omitzero"`
	// Budget is the whole target in the clock's measure (working time or elapsed time);
	// Remaining is what was left when it paused.
	Budget    Duration `json:"budget"`
	Remaining Duration `json:"remaining,omitempty"`
	// PausedAt and PauseReason describe a paused clock.
	PausedAt    time.Time `json:"paused_at,omitzero"`
	PauseReason string    `json:"pause_reason,omitempty"`
	StoppedAt   time.Time `json:"stopped_at,omitzero"`
	// BreachRecordedAt is when the breach was acted on: SLABreached, RepairEscalated or the
	// closure of an expired shipment window.
	BreachRecordedAt time.Time `json:"breach_recorded_at,omitzero"`
}

// Timer states, as GET /v1/sla/timers filters them: the clock's status, with a running clock
// split by how close its due time is.
const (
	TimerRunning  = "running"
	TimerDueSoon  = "due_soon"
	TimerBreached = "breached"
	TimerPaused   = "paused"
)

// StateAt is the clock's state at instant now: running, due_soon or breached for a running
// clock, paused, or its final status.
func (c Clock) StateAt(now time.Time) string {
	switch c.Status {
	case ClockRunning:
		switch {
		case !now.Before(c.DueAt):
			return TimerBreached
		case !now.Before(c.SoonAt):
			return TimerDueSoon
		}
		return TimerRunning
	case ClockPaused:
		return TimerPaused
	}
	return string(c.Status)
}

// Open reports whether the clock still counts (running or paused).
func (c Clock) Open() bool { return c.Status == ClockRunning || c.Status == ClockPaused }

// Clocks are a claim's SLA clocks, in the order they started.
type Clocks []Clock

// Get returns the named clock.
func (cs Clocks) Get(name string) (Clock, bool) {
	i := slices.IndexFunc(cs, func(c Clock) bool { return c.Name == name })
	if i < 0 {
		return Clock{}, false
	}
	return cs[i], true
}

// FoldClocks computes a claim's clocks from its events under policy p (the version governing
// the claim): the same function for the live read model, a rebuild and a test.
func FoldClocks(events []Event, p Policy) Clocks {
	var (
		s  State
		cs Clocks
	)
	for _, e := range events {
		s = Evolve(s, e)
		cs = EvolveClocks(cs, s, e, p)
	}
	return cs
}

// EvolveClocks applies one event to a claim's clocks. s is the claim with the event applied
// (Evolve's result), p the policy governing the claim. Like Evolve it is total and never
// modifies its input.
//
// Clocks start and stop on events, and pause while the claim waits on the customer (an estimate
// to accept, a payment, requested documents) or is on hold: a paused clock keeps the time it had
// left and, resumed, runs out that much later. All instants are the events' own times, so the
// clocks are a function of the history and the policy only.
func EvolveClocks(cs Clocks, s State, e Event, p Policy) Clocks {
	t, ok := e.(timed)
	if !ok || !s.Exists() {
		return cs
	}
	at := t.occurredAt()
	// cs is copied on the first change only: most events change no clock, and
	// a read model folds every event.
	owned := false
	own := func() {
		if !owned {
			cs, owned = slices.Clone(cs), true
		}
	}
	running := func(name string) (Clock, bool) {
		target := p.SLA.Target(name)
		if target.IsZero() {
			return Clock{}, false
		}
		c := Clock{Name: name, Status: ClockRunning, Target: target, StartedAt: at.In(p.Calendar.Loc())}
		c.DueAt = target.due(p.Calendar, at)
		c.Budget = Duration(target.between(p.Calendar, at, c.DueAt))
		c.SoonAt = c.soonAt(p, at, time.Duration(c.Budget))
		return c, true
	}
	start := func(name string) {
		if _, exists := cs.Get(name); exists {
			return
		}
		if c, ok := running(name); ok {
			own()
			cs = append(cs, c)
		}
	}
	// restart runs a stopped clock again, as its next cycle, in the place of the last one.
	restart := func(name string) {
		i := slices.IndexFunc(cs, func(c Clock) bool { return c.Name == name })
		if i < 0 {
			start(name)
			return
		}
		if cs[i].Open() {
			return
		}
		if c, ok := running(name); ok {
			c.Cycle = max(cs[i].Cycle, 1) + 1
			own()
			cs[i] = c
		}
	}
	update := func(name string, f func(c *Clock)) {
		if i := slices.IndexFunc(cs, func(c Clock) bool { return c.Name == name }); i >= 0 {
			own()
			f(&cs[i])
		}
	}
	stop := func(name string, ended bool) {
		if c, ok := cs.Get(name); ok && c.Open() {
			update(name, func(c *Clock) { c.stop(p, at, ended) })
		}
	}

	switch e := e.(type) {
	case ClaimRegistered:
		// The clocks start when the request arrived, earlier than the registration for a request
		// entered later; at is read by start, and nothing else runs on this event.
		at = e.RequestedAt()
		start(ClockFirstResponse)
		start(ClockDecision)
	case SLABreached:
		update(e.Clock, func(c *Clock) { c.BreachRecordedAt = e.At })
	case RepairEscalated:
		update(ClockRepairHardLimit, func(c *Clock) { c.BreachRecordedAt = e.At })
	case ClaimAuthorized:
		stop(ClockDecision, false)
		start(ClockShipmentWindow)
	case ClaimRejected, ClaimRedirectedToServiceCenter:
		stop(ClockDecision, false)
	case ServiceCenterActRecorded:
		restart(ClockDecision)
	case DisputeResolved:
		if e.Outcome == DisputeOverturned {
			restart(ClockDecision)
		}
	case EstimateIssued, RepairStarted, ItemReplaced, RefundApproved, CreditNoteIssued, ClaimReturnedUnrepaired:
		stop(ClockDecision, false) // the new remedy after an overturned appeal
	case ClaimResolvedRemotely:
		// Help without the goods answers the customer and decides the claim; the goods no
		// longer need to come in.
		stop(ClockFirstResponse, false)
		stop(ClockDecision, false)
		stop(ClockShipmentWindow, true)
	case CustomerShipmentRecorded:
		stop(ClockShipmentWindow, false)
	case ClaimReceived:
		stop(ClockShipmentWindow, false)
		start(ClockRepairTurnaround)
		start(ClockRepairHardLimit)
	case ClaimClosed:
		if e.ReasonCode == ReasonShipmentWindowExpired {
			update(ClockShipmentWindow, func(c *Clock) { c.BreachRecordedAt = e.At })
		}
	}
	if _, ok := e.(EstimateIssued); ok && !s.goodsArrived() {
		// Paid work quoted before the goods travel: they are sent once the estimate is paid,
		// and a customer who paid is followed up by the desk, not closed by the window.
		stop(ClockShipmentWindow, true)
	}
	if respondsToCustomer(e) {
		stop(ClockFirstResponse, false)
	}
	if s.Resolution != nil {
		stop(ClockRepairTurnaround, false)
		stop(ClockRepairHardLimit, false)
	}
	if s.Status == StatusClosed || s.Status == StatusRejected {
		for _, name := range clockNames {
			stop(name, true)
		}
	}
	for i := range cs {
		if !cs[i].Open() {
			continue
		}
		switch reason := pauseReason(cs[i].Name, s); {
		case reason != "" && cs[i].Status == ClockRunning:
			own()
			cs[i].pause(p, at, reason)
		case reason != "" && reason != cs[i].PauseReason:
			own()
			cs[i].PauseReason = reason
		case reason == "" && cs[i].Status == ClockPaused:
			own()
			cs[i].resume(p, at)
		}
	}
	return cs
}

// respondsToCustomer reports whether e answers the customer: a note written for them, or a
// decision they are told (authorization, rejection, redirection to the manufacturer's service
// center). Internal notes and work on the claim answer no one; the timer process's events
// neither.
func respondsToCustomer(e Event) bool {
	switch e := e.(type) {
	case ClaimAuthorized, ClaimRejected, ClaimRedirectedToServiceCenter:
		return true
	case NoteAdded:
		return e.Visibility == VisibilityCustomer
	}
	return false
}

// pauseReason says why clock name waits in claim state s, or "" when it runs.
func pauseReason(name string, s State) string {
	if s.Status == StatusOnHold {
		return PauseOnHold
	}
	switch name {
	case ClockRepairTurnaround, ClockRepairHardLimit:
		switch s.Status {
		case StatusEstimateIssued:
			return PauseAwaitingAcceptance
		case StatusEstimateAccepted:
			return PauseAwaitingPayment
		}
	case ClockShipmentWindow:
		// Seed 000: the customer sends the documents for checking first, then ships.
		if a := s.Authorization; a != nil {
			for _, d := range a.DocumentsRequested {
				if !slices.Contains(a.DocumentsReceived, d) {
					return PauseAwaitingDocuments
				}
			}
		}
	}
	return ""
}

// soonAt is when a clock running from 'from' with 'left' to go becomes due soon.
func (c Clock) soonAt(p Policy, from time.Time, left time.Duration) time.Time {
	margin := time.Duration(int64(c.Budget) / 100 * p.SLA.dueSoonPercent())
	if left <= margin {
		return from.In(p.Calendar.Loc())
	}
	return c.Target.advance(p.Calendar, from, left-margin)
}

// pause keeps what is left of the clock.
func (c *Clock) pause(p Policy, at time.Time, reason string) {
	c.Remaining = Duration(c.Target.between(p.Calendar, at, c.DueAt))
	c.Status, c.PausedAt, c.PauseReason = ClockPaused, at.In(p.Calendar.Loc()), reason
	c.DueAt, c.SoonAt = time.Time{}, time.Time{}
}

// resume runs the clock again with what it had left.
func (c *Clock) resume(p Policy, at time.Time) {
	left := time.Duration(c.Remaining)
	c.Status, c.PausedAt, c.PauseReason, c.Remaining = ClockRunning, time.Time{}, "", 0
	c.DueAt = c.Target.advance(p.Calendar, at, left)
	c.SoonAt = c.soonAt(p, at, left)
}

// stop ends an open clock: met or missed by its due time, or stopped when the claim ended
// before it was due.
func (c *Clock) stop(p Policy, at time.Time, claimEnded bool) {
	if !c.Open() {
		return
	}
	late := false
	if c.Status == ClockPaused {
		late = c.Remaining <= 0
		c.DueAt = c.Target.advance(p.Calendar, at, time.Duration(c.Remaining)) // when it would have expired
	} else {
		late = at.After(c.DueAt)
	}
	switch {
	case late:
		c.Status = ClockMissed
	case claimEnded:
		c.Status = ClockStopped
	default:
		c.Status = ClockMet
	}
	c.StoppedAt = at.In(p.Calendar.Loc())
	c.PausedAt, c.PauseReason, c.Remaining, c.SoonAt = time.Time{}, "", 0, time.Time{}
}

// SLABreach is a breach the timer process recorded on a claim.
type SLABreach struct {
	Clock      string    `json:"clock"`
	DueAt      time.Time `json:"due_at"`
	Overrun    Duration  `json:"overrun"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Escalation is the repair hard limit passing: the item must now be replaced or
// refunded; a completed repair is no longer an acceptable end.
type Escalation struct {
	DueAt       time.Time `json:"due_at"`
	Overrun     Duration  `json:"overrun"`
	Required    []Action  `json:"required"`
	EscalatedAt time.Time `json:"escalated_at"`
}

// escalationRemedies are what an escalated claim must end with.
var escalationRemedies = []Action{ActionReplace, ActionApproveRefund}

// The actions of the SLA timer process. They are not among Actions(): no HTTP client can send
// them, and AllowedActions never offers them.
const (
	ActionRecordSLABreach Action = "record-sla-breach"
	ActionEscalateRepair  Action = "escalate-repair"
)

// RecordSLABreach records that a clock passed its due time. The SLA timer process sends it, with
// the clock and the due time it saw; the overrun is computed at the decision. It is not an HTTP
// action. The shipment window and the repair hard limit have their own consequences (closure,
// EscalateRepair) and are not recorded with it.
type RecordSLABreach struct {
	Clock string    `json:"clock"`
	DueAt time.Time `json:"due_at"`
}

// Action returns ActionRecordSLABreach.
func (RecordSLABreach) Action() Action { return ActionRecordSLABreach }

// Validate checks the fields.
func (c RecordSLABreach) Validate() error {
	var v validation
	v.required("clock", c.Clock)
	v.oneOf("clock", c.Clock, ClockFirstResponse, ClockDecision, ClockRepairTurnaround)
	if c.DueAt.IsZero() {
		v.fail("due_at", "is required")
	}
	return v.result()
}

// EscalateRepair records that the repair hard limit passed: the claim must be settled by
// replacement or refund. The SLA timer process sends it; it is not an HTTP action.
type EscalateRepair struct {
	DueAt time.Time `json:"due_at"`
}

// Action returns ActionEscalateRepair.
func (EscalateRepair) Action() Action { return ActionEscalateRepair }

// Validate checks the fields.
func (c EscalateRepair) Validate() error {
	var v validation
	if c.DueAt.IsZero() {
		v.fail("due_at", "is required")
	}
	return v.result()
}

// ErrNotYetDue is returned for a breach or an escalation decided before the clock's due time:
// the process that sent it had a wrong clock.
var ErrNotYetDue = errors.New("the clock is not yet due")

func (c RecordSLABreach) decide(s State, at time.Time, _ Policy) (Event, error) {
	if at.Before(c.DueAt) {
		return nil, fmt.Errorf("%w: %s is due at %s, it is %s", ErrNotYetDue, c.Clock, c.DueAt.UTC().Format(time.RFC3339), at.Format(time.RFC3339))
	}
	if slices.ContainsFunc(s.SLABreaches, func(b SLABreach) bool { return b.Clock == c.Clock && b.DueAt.Equal(c.DueAt) }) {
		return nil, fmt.Errorf("%w: the %s breach due %s is already recorded", ErrDuplicateReference, c.Clock, c.DueAt.UTC().Format(time.RFC3339))
	}
	return SLABreached{Clock: c.Clock, DueAt: c.DueAt.UTC(), Overrun: Duration(at.Sub(c.DueAt)), At: at}, nil
}

func (c EscalateRepair) decide(s State, at time.Time, _ Policy) (Event, error) {
	if at.Before(c.DueAt) {
		return nil, fmt.Errorf("%w: the repair hard limit is %s, it is %s", ErrNotYetDue, c.DueAt.UTC().Format(time.RFC3339), at.Format(time.RFC3339))
	}
	if s.Escalation != nil {
		return nil, fmt.Errorf("%w: the repair was escalated at %s", ErrDuplicateReference, s.Escalation.EscalatedAt.Format(time.RFC3339))
	}
	return RepairEscalated{DueAt: c.DueAt.UTC(), Overrun: Duration(at.Sub(c.DueAt)), Required: slices.Clone(escalationRemedies), At: at}, nil
}

// notEscalated guards complete-repair: after the hard limit the repair no longer settles the
// claim (the item is replaced by an equivalent instead).
func notEscalated(s State) error {
	if s.Escalation == nil {
		return nil
	}
	names := make([]string, len(s.Escalation.Required))
	for i, a := range s.Escalation.Required {
		names[i] = string(a)
	}
	return blocked(fmt.Sprintf("the repair hard limit passed at %s: settle the claim with %s", s.Escalation.DueAt.Format(time.RFC3339), strings.Join(names, " or ")))
}
