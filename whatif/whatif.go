// Package whatif replays the recorded claims under a candidate policy and
// reports, claim by claim and in totals, where its decisions would differ
// from those recorded: eligibility and the end of coverage, the due times of
// the SLA clocks, the breaches the timer process acted on, and the point
// where the candidate would have ended a claim or refused what the record
// did next. It reads the event log and writes nothing.
//
// The replay is exact because it runs the decisions themselves, not a model
// of them. Each recorded event is decided again with domain.Redecide under
// the candidate version that would have governed the claim (the one in force
// at its registration; its warranty terms those in force on the sale date).
// The timer process's own events (breaches, escalations, closures for an
// expired shipment window) are not taken from the record: under the
// candidate they happen where its clocks say, decided by domain.Decide with
// the command the process would send (sla.Command):
//
//   - a clock the record also had, with the same due time, is acted on where
//     the record acted on it, and not at all if the record never did (the
//     claim moved on before the process came by);
//   - a clock whose due time only the candidate has is acted on at that due
//     time, as a process acting at once would; an event recorded at that very
//     instant comes first, since an action at the due instant meets a clock.
//
// Once the candidate would have closed a claim, or refused one of its
// recorded events, its later history is unknown: the replay of that claim
// stops there, and the report says so.
package whatif

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/projections"
	"github.com/rmaledger/rmaledger/sla"
)

// Entry is one recorded event of a claim with its metadata.
type Entry struct {
	Event    domain.Event
	Metadata eventlog.Metadata
}

// Claim is a claim's recorded history, in stream order.
type Claim struct {
	ID      uuid.UUID
	Entries []Entry
}

// Options are what a replay compares.
type Options struct {
	// Recorded is the service's policy: the versions the events name.
	Recorded *domain.PolicyBook
	// Candidate is the policy to replay the claims under.
	Candidate *domain.PolicyBook
	// Since keeps the claims registered at or after it (zero: all).
	Since time.Time
	// Now is the instant clocks are judged at: a running clock due by now
	// counts as breached on either side.
	Now time.Time
}

// Report is the outcome of a replay.
type Report struct {
	Now   time.Time  `json:"now"`
	Since *time.Time `json:"since,omitempty"`
	// Claims are the claims whose replay differs, in registration order.
	Claims []ClaimReport `json:"claims"`
	Totals Totals        `json:"totals"`
}

// Totals count the differences over every claim replayed.
type Totals struct {
	Claims    int `json:"claims"`
	Differing int `json:"differing"`
	// NoLongerCovered and NowCovered count claims whose coverage flips;
	// EligibilityChanged those whose eligibility differs in any way
	// (coverage, kind, end date, reason); CoverageEndChanged those whose
	// last day of coverage moves.
	EligibilityChanged int `json:"eligibility_changed"`
	NoLongerCovered    int `json:"no_longer_covered"`
	NowCovered         int `json:"now_covered"`
	CoverageEndChanged int `json:"coverage_end_changed"`
	// DueTimesChanged counts clock runs whose due time or outcome differs.
	DueTimesChanged int `json:"due_times_changed"`
	BreachesAdded   int `json:"breaches_added"`
	BreachesRemoved int `json:"breaches_removed"`
	BreachesMoved   int `json:"breaches_moved"`
	// Diverged counts claims the candidate would have ended, or refused
	// a recorded action on.
	Diverged int `json:"diverged"`
}

// ClaimReport is where one claim's replay differs from its record.
type ClaimReport struct {
	ClaimID      uuid.UUID `json:"claim_id"`
	Number       string    `json:"number"`
	RegisteredAt time.Time `json:"registered_at"`
	// RecordedVersion governed the claim; CandidateVersion would have.
	RecordedVersion  string              `json:"recorded_version"`
	CandidateVersion string              `json:"candidate_version"`
	Eligibility      []EligibilityChange `json:"eligibility,omitempty"`
	Clocks           []ClockChange       `json:"clocks,omitempty"`
	Breaches         []BreachChange      `json:"breaches,omitempty"`
	Divergence       *Divergence         `json:"divergence,omitempty"`
}

// EligibilityChange is an eligibility decided differently: at
// "registration", or at an "authorization" that brought new evidence.
type EligibilityChange struct {
	Decision  string              `json:"decision"`
	Recorded  *domain.Eligibility `json:"recorded"`
	Candidate *domain.Eligibility `json:"candidate"`
}

// ClockRun is a run of an SLA clock as it ended (or stands now).
type ClockRun struct {
	Status    domain.ClockStatus `json:"status"`
	StartedAt time.Time          `json:"started_at"`
	// DueAt is when it expires, expired or would have; zero while paused.
	DueAt time.Time `json:"due_at,omitzero"`
}

// ClockChange is a clock run whose due time or outcome differs; a nil side
// did not have the run. Cycle numbers the runs of a clock that started
// again (2 for its second run); the first has none.
type ClockChange struct {
	Clock     string    `json:"clock"`
	Cycle     int       `json:"cycle,omitempty"`
	Recorded  *ClockRun `json:"recorded"`
	Candidate *ClockRun `json:"candidate"`
}

// Breach is a clock past its due time that the timer process acted on (at
// ActedAt), or that is due by now and not acted on yet (ActedAt zero).
type Breach struct {
	DueAt   time.Time `json:"due_at"`
	ActedAt time.Time `json:"acted_at,omitzero"`
}

// BreachChange is a breach only one side has (added or removed), or that
// both have at different due times (moved).
type BreachChange struct {
	Clock     string  `json:"clock"`
	Change    string  `json:"change"`
	Recorded  *Breach `json:"recorded"`
	Candidate *Breach `json:"candidate"`
}

// Divergence is where the candidate's history of a claim leaves the
// record: it closed the claim, or refused a recorded action.
type Divergence struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	// NotReached counts the recorded events after it, which the candidate's
	// history does not have.
	NotReached int `json:"not_reached"`
}

// differs reports whether the claim's replay differs at all.
func (c ClaimReport) differs() bool {
	return len(c.Eligibility)+len(c.Clocks)+len(c.Breaches) > 0 || c.Divergence != nil
}

// Replay replays each claim under the candidate and compares.
func Replay(claims []Claim, opts Options) (Report, error) {
	if opts.Recorded == nil || opts.Candidate == nil {
		return Report{}, errors.New("whatif: both the recorded and the candidate policy are required")
	}
	report := Report{Now: opts.Now, Claims: []ClaimReport{}}
	if !opts.Since.IsZero() {
		report.Since = &opts.Since
	}
	for _, c := range claims {
		reg, ok := registration(c)
		if !ok || reg.At.Before(opts.Since) {
			continue
		}
		cr, err := replayClaim(c, reg, opts)
		if err != nil {
			return Report{}, fmt.Errorf("whatif: claim %s: %w", c.ID, err)
		}
		report.Totals.add(cr)
		if cr.differs() {
			report.Claims = append(report.Claims, cr)
		}
	}
	slices.SortStableFunc(report.Claims, func(a, b ClaimReport) int { return a.RegisteredAt.Compare(b.RegisteredAt) })
	return report, nil
}

func registration(c Claim) (domain.ClaimRegistered, bool) {
	if len(c.Entries) == 0 {
		return domain.ClaimRegistered{}, false
	}
	reg, ok := c.Entries[0].Event.(domain.ClaimRegistered)
	return reg, ok
}

func (t *Totals) add(c ClaimReport) {
	t.Claims++
	if !c.differs() {
		return
	}
	t.Differing++
	if len(c.Eligibility) > 0 {
		t.EligibilityChanged++
		// The claim's coverage is the last eligibility decided.
		last := c.Eligibility[len(c.Eligibility)-1]
		was, is := covered(last.Recorded), covered(last.Candidate)
		switch {
		case was && !is:
			t.NoLongerCovered++
		case !was && is:
			t.NowCovered++
		}
		if until(last.Recorded) != until(last.Candidate) {
			t.CoverageEndChanged++
		}
	}
	t.DueTimesChanged += len(c.Clocks)
	for _, b := range c.Breaches {
		switch b.Change {
		case "added":
			t.BreachesAdded++
		case "removed":
			t.BreachesRemoved++
		default:
			t.BreachesMoved++
		}
	}
	if c.Divergence != nil {
		t.Diverged++
	}
}

func covered(e *domain.Eligibility) bool { return e != nil && e.Covered }

func until(e *domain.Eligibility) domain.Date {
	if e == nil {
		return domain.Date{}
	}
	return e.Until
}

// clockKey names a clock run by its clock and due time.
type clockKey struct {
	name string
	due  int64
}

func keyOf(c domain.Clock) clockKey { return clockKey{c.Name, c.DueAt.UnixNano()} }

// runKey names a clock run by its clock and the instant it started: a
// clock that starts again (a new decision cycle) is a new run, and a run
// starts at the same event on both sides.
type runKey struct {
	name    string
	started int64
}

// side is one history of a claim, folded: the record, or the candidate's.
type side struct {
	policy   domain.Policy
	state    domain.State
	clocks   domain.Clocks
	runs     map[runKey]domain.Clock
	order    []runKey
	seen     map[clockKey]bool // every running clock's name and due time
	breaches map[string][]Breach
}

func newSide(p domain.Policy) *side {
	return &side{policy: p, runs: map[runKey]domain.Clock{}, seen: map[clockKey]bool{}, breaches: map[string][]Breach{}}
}

// apply folds one event.
func (s *side) apply(e domain.Event) {
	s.state = domain.Evolve(s.state, e)
	s.clocks = domain.EvolveClocks(s.clocks, s.state, e, s.policy)
	for _, c := range s.clocks {
		k := runKey{c.Name, c.StartedAt.UnixNano()}
		if _, ok := s.runs[k]; !ok {
			s.order = append(s.order, k)
		}
		s.runs[k] = c
		if c.Status == domain.ClockRunning {
			s.seen[keyOf(c)] = true
		}
	}
}

// breach notes the timer process's action on a clock.
func (s *side) breach(name string, due, at time.Time) {
	s.breaches[name] = append(s.breaches[name], Breach{DueAt: due, ActedAt: at})
}

// pending notes the running clocks due by now that no one acted on yet.
func (s *side) pending(now time.Time) {
	for _, c := range s.clocks {
		if c.Status == domain.ClockRunning && !c.DueAt.After(now) && c.BreachRecordedAt.IsZero() {
			s.breach(c.Name, c.DueAt, time.Time{})
		}
	}
}

// timerAction returns the clock a recorded event of the timer process acted
// on, and its due time; ok is false for any other event. A closure for an
// expired shipment window carries no due time: it is the window's, in
// clocks (the clocks before the event).
func timerAction(e domain.Event, clocks domain.Clocks) (name string, due time.Time, ok bool) {
	switch e := e.(type) {
	case domain.SLABreached:
		return e.Clock, e.DueAt, true
	case domain.RepairEscalated:
		return domain.ClockRepairHardLimit, e.DueAt, true
	case domain.ClaimClosed:
		if e.ReasonCode == domain.ReasonShipmentWindowExpired {
			w, _ := clocks.Get(domain.ClockShipmentWindow)
			return domain.ClockShipmentWindow, w.DueAt, true
		}
	}
	return "", time.Time{}, false
}

// eligibilityOf is the eligibility an event records, and which decision
// recorded it.
func eligibilityOf(e domain.Event) (*domain.Eligibility, string, bool) {
	switch e := e.(type) {
	case domain.ClaimRegistered:
		return e.Eligibility, "registration", true
	case domain.ClaimAuthorized:
		return e.Eligibility, "authorization", true
	}
	return nil, "", false
}

func replayClaim(c Claim, reg domain.ClaimRegistered, opts Options) (ClaimReport, error) {
	first := c.Entries[0].Metadata
	recorded := newSide(opts.Recorded.Governing(first.PolicyVersion, reg.At, reg.At))
	candidate := newSide(opts.Candidate.InForce(reg.At))
	out := ClaimReport{
		ClaimID: c.ID, Number: reg.Number, RegisteredAt: reg.At,
		RecordedVersion: recorded.policy.Version, CandidateVersion: candidate.policy.Version,
	}

	// The record, as it was decided; clocksBefore[i] are its clocks before
	// entry i.
	clocksBefore := make([]domain.Clocks, len(c.Entries))
	for i, en := range c.Entries {
		clocksBefore[i] = recorded.clocks
		recorded.apply(en.Event)
		if name, due, ok := timerAction(en.Event, clocksBefore[i]); ok {
			recorded.breach(name, due, en.Metadata.OccurredAt)
		}
	}
	recorded.pending(opts.Now)

	// The candidate's history, up to where it leaves the record.
	var diverged *Divergence
	for i, en := range c.Entries {
		at := en.Metadata.OccurredAt
		if name, due, ok := timerAction(en.Event, clocksBefore[i]); ok {
			// The record's timer action: the candidate acts here too if
			// its clock has the same due time.
			if cl, ok := candidate.clocks.Get(name); ok && cl.Status == domain.ClockRunning && cl.DueAt.Equal(due) && cl.BreachRecordedAt.IsZero() {
				candidate.act(c.ID, reg.Number, cl, at)
			}
			continue
		}
		if diverged = candidate.fireUnseen(c.ID, reg.Number, recorded.seen, func(due time.Time) bool { return due.Before(at) }); diverged != nil {
			diverged.NotReached = countStaff(c.Entries[i:])
			break
		}
		decided, err := domain.Redecide(candidate.state, domain.Action(en.Metadata.Action), en.Event, candidate.policy)
		if err != nil {
			diverged = &Divergence{At: at, Reason: fmt.Sprintf("%s would have been refused: %v", en.Metadata.Action, err), NotReached: countStaff(c.Entries[i:])}
			break
		}
		if was, decision, ok := eligibilityOf(en.Event); ok {
			is, _, _ := eligibilityOf(decided)
			if !sameEligibility(was, is) {
				out.Eligibility = append(out.Eligibility, EligibilityChange{Decision: decision, Recorded: was, Candidate: is})
			}
		}
		candidate.apply(decided)
	}
	if diverged == nil {
		// What the process would have done since the last recorded event.
		diverged = candidate.fireUnseen(c.ID, reg.Number, recorded.seen, func(due time.Time) bool { return !due.After(opts.Now) })
	}
	if diverged == nil || diverged.NotReached == 0 {
		candidate.pending(opts.Now)
	}
	out.Divergence = diverged
	out.Clocks = compareRuns(recorded, candidate, diverged)
	out.Breaches = compareBreaches(recorded, candidate, diverged)
	return out, nil
}

// countStaff counts the entries that are not the timer process's.
func countStaff(entries []Entry) int {
	n := 0
	for _, en := range entries {
		if en.Metadata.Actor != sla.Actor.Name {
			n++
		}
	}
	return n
}

// fireUnseen acts, in due order, on the candidate's running clocks that the
// record never had and whose due time passes due: the timer process acting
// at once at each due time.
func (s *side) fireUnseen(id uuid.UUID, number string, seen map[clockKey]bool, due func(time.Time) bool) *Divergence {
	acted := map[clockKey]bool{}
	for {
		var next *domain.Clock
		for i, c := range s.clocks {
			k := keyOf(c)
			if c.Status != domain.ClockRunning || !c.BreachRecordedAt.IsZero() || seen[k] || acted[k] || !due(c.DueAt) {
				continue
			}
			if next == nil || c.DueAt.Before(next.DueAt) {
				next = &s.clocks[i]
			}
		}
		if next == nil {
			return nil
		}
		c := *next
		acted[keyOf(c)] = true
		if s.act(id, number, c, c.DueAt) {
			return &Divergence{At: c.DueAt, Reason: fmt.Sprintf("closed by the timer process: the %s expired", c.Name)}
		}
	}
}

// act decides the timer process's command for clock c at instant at and
// folds its events; it reports whether they closed the claim.
func (s *side) act(id uuid.UUID, number string, c domain.Clock, at time.Time) (closed bool) {
	cmd, _ := sla.Command(projections.Timer{ClaimID: id, Number: number, Clock: c})
	// A command decided on the claim's clocks gets them, as the ledger
	// gives them (domain.ClockDependent).
	if d, ok := cmd.(interface{ SetClocks(domain.Clocks) }); ok {
		d.SetClocks(s.clocks)
	}
	events, err := domain.Decide(s.state, cmd, at, s.policy)
	if err != nil {
		return false // the process would be refused too, and write nothing
	}
	for _, e := range events {
		s.apply(e)
	}
	s.breach(c.Name, c.DueAt, at)
	return s.state.Status == domain.StatusClosed
}

func sameEligibility(a, b *domain.Eligibility) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Covered == b.Covered && a.Coverage == b.Coverage && a.Reference == b.Reference && a.Until == b.Until &&
		a.ReasonCode == b.ReasonCode && a.ExtendedByDays == b.ExtendedByDays && a.AsOf == b.AsOf
}

// compareRuns lists the clock runs whose due time or outcome differ. After
// a divergence, the record's runs that started at or after it, and the
// candidate's runs still open, are not compared: they belong to a history
// the candidate does not have, or whose end it does not know.
func compareRuns(recorded, candidate *side, diverged *Divergence) []ClockChange {
	keys := slices.Clone(recorded.order)
	for _, k := range candidate.order {
		if _, ok := recorded.runs[k]; !ok {
			keys = append(keys, k)
		}
	}
	// cycles numbers each clock's runs in the order they started.
	cycles, started := map[runKey]int{}, map[string]int{}
	for _, k := range slices.SortedStableFunc(slices.Values(keys), func(a, b runKey) int { return cmp.Compare(a.started, b.started) }) {
		started[k.name]++
		cycles[k] = started[k.name]
	}
	var out []ClockChange
	for _, k := range keys {
		r, inRecord := recorded.runs[k]
		c, inCandidate := candidate.runs[k]
		if diverged != nil && ((inRecord && !r.StartedAt.Before(diverged.At)) || (inCandidate && c.Open())) {
			continue
		}
		if inRecord && inCandidate && r.Status == c.Status && r.DueAt.Equal(c.DueAt) {
			continue
		}
		change := ClockChange{Clock: k.name}
		if n := cycles[k]; n > 1 {
			change.Cycle = n
		}
		if inRecord {
			change.Recorded = runOf(r)
		}
		if inCandidate {
			change.Candidate = runOf(c)
		}
		out = append(out, change)
	}
	return out
}

func runOf(c domain.Clock) *ClockRun {
	return &ClockRun{Status: c.Status, StartedAt: c.StartedAt, DueAt: c.DueAt}
}

// compareBreaches pairs each clock's breaches on both sides: equal due
// times match; the rest pair up in due order as moved, and what is left is
// added or removed. After a divergence, the record's breaches acted on (or
// due, when not acted on yet) after it are not compared: they belong to a
// history the candidate does not have.
func compareBreaches(recorded, candidate *side, diverged *Divergence) []BreachChange {
	var out []BreachChange
	for _, name := range domain.ClockNames() {
		rec := slices.Clone(recorded.breaches[name])
		if diverged != nil {
			rec = slices.DeleteFunc(rec, func(b Breach) bool {
				return b.ActedAt.After(diverged.At) || (b.ActedAt.IsZero() && b.DueAt.After(diverged.At))
			})
		}
		cand := slices.Clone(candidate.breaches[name])
		rec = slices.DeleteFunc(rec, func(b Breach) bool {
			i := slices.IndexFunc(cand, func(c Breach) bool { return c.DueAt.Equal(b.DueAt) })
			if i < 0 {
				return false
			}
			cand = slices.Delete(cand, i, i+1)
			return true
		})
		byDue := func(a, b Breach) int { return a.DueAt.Compare(b.DueAt) }
		slices.SortFunc(rec, byDue)
		slices.SortFunc(cand, byDue)
		for i := range max(len(rec), len(cand)) {
			change := BreachChange{Clock: name}
			switch {
			case i < len(rec) && i < len(cand):
				change.Change, change.Recorded, change.Candidate = "moved", &rec[i], &cand[i]
			case i < len(rec):
				change.Change, change.Recorded = "removed", &rec[i]
			default:
				change.Change, change.Candidate = "added", &cand[i]
			}
			out = append(out, change)
		}
	}
	slices.SortStableFunc(out, func(a, b BreachChange) int { return cmp.Compare(dueOf(a).UnixNano(), dueOf(b).UnixNano()) })
	return out
}

func dueOf(b BreachChange) time.Time {
	if b.Recorded != nil {
		return b.Recorded.DueAt
	}
	return b.Candidate.DueAt
}
