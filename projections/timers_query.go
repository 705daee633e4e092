package projections

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Timer is one SLA clock of a claim as the timers read model holds it, with
// its state at the instant it was asked for.
type Timer struct {
	ClaimID      uuid.UUID     `json:"claim_id"`
	Number       string        `json:"number"`
	ClaimStatus  domain.Status `json:"claim_status"`
	ClaimVersion int64         `json:"claim_version"`
	// PolicyVersion is the version the clock was computed under: the one
	// governing the claim.
	PolicyVersion string `json:"policy_version"`
	domain.Clock
	// State is the clock's state at the query's instant: running, due_soon,
	// breached or paused, or its final status (met, missed, stopped).
	State string `json:"state"`
	// Overrun is how late a breached clock is at the query's instant.
	Overrun domain.Duration `json:"overrun,omitempty"`
	// Position is that of the claim's last event the clock reflects.
	Position eventstore.Position `json:"-"`
}

// The states a TimerQuery may ask for.
var timerStates = []string{domain.TimerRunning, domain.TimerDueSoon, domain.TimerBreached, domain.TimerPaused}

// TimerStates returns the states GET /v1/sla/timers filters by. The slice is
// a copy.
func TimerStates() []string { return slices.Clone(timerStates) }

// TimerQuery selects open clocks (running or paused). Filters combine with
// AND; empty ones are ignored.
type TimerQuery struct {
	// States keeps clocks in any of these states (TimerStates) at At;
	// empty: all open clocks.
	States []string
	// Clocks keeps these clocks (domain.ClockNames).
	Clocks []string
	// Organisation keeps the clocks of this partner organisation's claims; empty: every claim's.
	Organisation string
	// At is the instant states are judged at (zero: now).
	At time.Time
	// Limit is the page size: DefaultSearchLimit when zero, at most
	// MaxSearchLimit.
	Limit int
	// Cursor continues a previous page (TimerPage.NextCursor).
	Cursor string
}

// TimerPage is one page of timers, most urgent first: by due time, paused
// clocks (which have none) first.
type TimerPage struct {
	Items      []Timer `json:"items"`
	NextCursor string  `json:"next_cursor,omitempty"`
	// At is the instant the states were judged at.
	At time.Time `json:"at"`
}

// timerColumns and timersFrom select open clocks (t) with their claim's
// columns (c): see timersModel.create.
const timerColumns = `t.claim_id, t.clock_name, c.number, c.claim_status, c.claim_version, c.policy_version, c.commit_pos, c.prepare_pos, t.clock, t.due_at`

func timersFrom(gen int64) string {
	return timersTable(gen) + ` AS t JOIN ` + clocksTable(gen) + ` AS c ON c.claim_id = t.claim_id`
}

// Timers lists open SLA clocks from the timers read model.
func (r *Runner) Timers(ctx context.Context, q TimerQuery) (TimerPage, error) {
	p, ok := r.byName[Timers]
	if !ok {
		return TimerPage{}, errNoTimers
	}
	at := q.At
	if at.IsZero() {
		at = time.Now()
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return TimerPage{}, fmt.Errorf("%w: negative limit", ErrInvalidQuery)
	case limit == 0:
		limit = DefaultSearchLimit
	case limit > MaxSearchLimit:
		limit = MaxSearchLimit
	}
	now := at.UnixNano()
	states := q.States
	if len(states) == 0 {
		states = timerStates
	}
	var (
		either []string
		args   []any
	)
	for _, s := range states {
		switch s {
		case domain.TimerRunning:
			either = append(either, `(t.status = 'running' AND t.soon_at > ?)`)
			args = append(args, now)
		case domain.TimerDueSoon:
			either = append(either, `(t.status = 'running' AND t.soon_at <= ? AND t.due_at > ?)`)
			args = append(args, now, now)
		case domain.TimerBreached:
			either = append(either, `(t.status = 'running' AND t.due_at <= ?)`)
			args = append(args, now)
		case domain.TimerPaused:
			either = append(either, `t.status = 'paused'`)
		default:
			return TimerPage{}, fmt.Errorf("%w: state %q is not one of %s", ErrInvalidQuery, s, strings.Join(timerStates, ", "))
		}
	}
	where := []string{`(` + strings.Join(either, ` OR `) + `)`}
	if len(q.Clocks) > 0 {
		marks := make([]string, len(q.Clocks))
		for i, c := range q.Clocks {
			if !slices.Contains(domain.ClockNames(), c) {
				return TimerPage{}, fmt.Errorf("%w: clock %q is not one of %s", ErrInvalidQuery, c, strings.Join(domain.ClockNames(), ", "))
			}
			marks[i] = "?"
			args = append(args, c)
		}
		where = append(where, `t.clock_name IN (`+strings.Join(marks, ", ")+`)`)
	}
	if o := strings.TrimSpace(q.Organisation); o != "" {
		where = append(where, `c.organisation = ?`)
		args = append(args, o)
	}
	if q.Cursor != "" {
		due, claim, clock, err := decodeTimerCursor(q.Cursor)
		if err != nil {
			return TimerPage{}, err
		}
		where = append(where, `(t.due_at > ? OR (t.due_at = ? AND (t.claim_id > ? OR (t.claim_id = ? AND t.clock_name > ?))))`)
		args = append(args, due, due, claim, claim, clock)
	}
	g, release := p.acquire()
	defer release()
	query := `SELECT ` + timerColumns + ` FROM ` + timersFrom(g.number) + ` WHERE ` + strings.Join(where, ` AND `) +
		` ORDER BY t.due_at, t.claim_id, t.clock_name` + limitClause(limit+1)
	items, dues, err := r.scanTimers(ctx, query, args, at)
	if err != nil {
		return TimerPage{}, err
	}
	page := TimerPage{Items: items, At: at}
	if len(items) > limit {
		page.Items = items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = encodeTimerCursor(dues[limit-1], last.ClaimID.String(), last.Name)
	}
	return page, nil
}

// ClaimClocks returns every clock of a claim, open or not, in the order they
// started, with states judged at at (zero: now): what the claim view shows.
// A claim the model has no clocks for (none started, or not yet applied) has
// none.
func (r *Runner) ClaimClocks(ctx context.Context, id uuid.UUID, at time.Time) ([]Timer, error) {
	p, ok := r.byName[Timers]
	if !ok {
		return nil, errNoTimers
	}
	if at.IsZero() {
		at = time.Now()
	}
	g, release := p.acquire()
	defer release()
	var (
		base            Timer
		status          string
		commit, prepare int64
		clocks          []byte
	)
	err := r.db.r.QueryRowContext(ctx, `SELECT number, claim_status, claim_version, policy_version, commit_pos, prepare_pos, clocks FROM `+
		clocksTable(g.number)+` WHERE claim_id = ?`, id.String()).Scan(&base.Number, &status, &base.ClaimVersion, &base.PolicyVersion, &commit, &prepare, &clocks)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("projections: clocks of %s: %w", id, err)
	}
	var list []domain.Clock
	if err := json.Unmarshal(clocks, &list); err != nil {
		return nil, fmt.Errorf("projections: clocks of %s: decode: %w", id, err)
	}
	base.ClaimID, base.ClaimStatus, base.Position = id, domain.Status(status), positionOf(commit, prepare)
	out := make([]Timer, len(list))
	for i, c := range list {
		out[i] = base
		out[i].Clock = c
		out[i].judge(at)
	}
	return out, nil
}

// judge sets the timer's state, and overrun, at instant at.
func (t *Timer) judge(at time.Time) {
	t.State = t.Clock.StateAt(at)
	if t.State == domain.TimerBreached {
		t.Overrun = domain.Duration(at.Sub(t.DueAt))
	}
}

// DueTimers returns running clocks due at or before now whose breach was not
// yet acted on, oldest due first: the SLA timer process's work list.
func (r *Runner) DueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error) {
	p, ok := r.byName[Timers]
	if !ok {
		return nil, errNoTimers
	}
	if limit <= 0 {
		limit = MaxSearchLimit
	}
	g, release := p.acquire()
	defer release()
	items, _, err := r.scanTimers(ctx, `SELECT `+timerColumns+` FROM `+timersFrom(g.number)+
		` WHERE t.status = 'running' AND t.due_at <= ? AND t.breach_recorded = 0 ORDER BY t.due_at, t.claim_id, t.clock_name`+limitClause(limit),
		[]any{now.UnixNano()}, now)
	return items, err
}

// scanTimers runs a timer query and decodes its rows, with their due_at
// keys for cursors.
func (r *Runner) scanTimers(ctx context.Context, query string, args []any, at time.Time) ([]Timer, []int64, error) {
	rows, err := r.db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("projections: timers: %w", err)
	}
	defer rows.Close()
	var (
		items []Timer
		dues  []int64
	)
	for rows.Next() {
		var (
			tm              Timer
			id, name, cs    string
			commit, prepare int64
			clock           []byte
			due             int64
		)
		if err := rows.Scan(&id, &name, &tm.Number, &cs, &tm.ClaimVersion, &tm.PolicyVersion, &commit, &prepare, &clock, &due); err != nil {
			return nil, nil, fmt.Errorf("projections: timers: %w", err)
		}
		if tm.ClaimID, err = uuid.Parse(id); err != nil {
			return nil, nil, fmt.Errorf("projections: timers: claim id %q: %w", id, err)
		}
		if err := json.Unmarshal(clock, &tm.Clock); err != nil {
			return nil, nil, fmt.Errorf("projections: timers: decode %s %s: %w", id, name, err)
		}
		tm.ClaimStatus, tm.Position = domain.Status(cs), positionOf(commit, prepare)
		tm.judge(at)
		items = append(items, tm)
		dues = append(dues, due)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("projections: timers: %w", err)
	}
	return items, dues, nil
}

// A timer cursor is the sort key of a page's last item, opaque to clients.
func encodeTimerCursor(due int64, claim, clock string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(due, 10) + "|" + claim + "|" + clock))
}

func decodeTimerCursor(c string) (int64, string, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	parts := strings.Split(string(raw), "|")
	if err != nil || len(parts) != 3 {
		return 0, "", "", fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	}
	due, err := strconv.ParseInt(parts[0], 10, 64)
	if _, uerr := uuid.Parse(parts[1]); err != nil || uerr != nil || !slices.Contains(domain.ClockNames(), parts[2]) {
		return 0, "", "", fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	}
	return due, parts[1], parts[2], nil
}
