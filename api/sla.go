package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/projections"
)

// registerSLA adds the SLA routes to the authenticated /v1 group.
func (s *server) registerSLA(v1 *echo.Group) {
	v1.GET("/sla/timers", s.listTimers, require(PermReadSLA))
}

// ClockView is one of a claim's SLA clocks in the claim view: the clock as
// the timers read model holds it, with its state at the time of the request.
type ClockView struct {
	domain.Clock
	// State is running, due_soon, breached, paused, or the clock's final
	// status (met, missed, stopped).
	State string `json:"state"`
	// Overrun is how late a breached clock is now.
	Overrun domain.Duration `json:"overrun,omitempty"`
	// PolicyVersion is the policy version the clock follows: the claim's.
	PolicyVersion string `json:"policy_version"`
}

// TimersResponse is a page of GET /v1/sla/timers.
type TimersResponse struct {
	// At is the instant the states were judged at.
	At         time.Time           `json:"at"`
	Items      []projections.Timer `json:"items"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

// timerParams are the query parameters GET /v1/sla/timers understands.
var timerParams = map[string]bool{
	"state": true, "clock": true, "at": true, "limit": true, "cursor": true, "min_position": true, "organisation": true,
}

// listTimers lists open SLA clocks: running, due soon, breached or paused,
// most urgent first.
func (s *server) listTimers(c *echo.Context) error {
	q, err := parseTimerQuery(c.QueryParams())
	if err != nil {
		return err
	}
	if err := s.waitForPosition(c, projections.Timers); err != nil {
		return err
	}
	if q.At.IsZero() {
		q.At = s.cfg.Clock()
	}
	if org := callerOrganisation(c); org != "" {
		q.Organisation = org // a partner sees its own organisation's clocks only
	}
	page, err := s.cfg.Reads.Timers(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []projections.Timer{}
	}
	return c.JSON(http.StatusOK, TimersResponse{At: page.At, Items: page.Items, NextCursor: page.NextCursor})
}

func parseTimerQuery(values url.Values) (projections.TimerQuery, error) {
	var q projections.TimerQuery
	for name, vs := range values {
		if !timerParams[name] {
			return q, badRequest("unknown-parameter", "unknown query parameter %q (known: state, clock, at, limit, cursor, min_position, organisation)", name)
		}
		if len(vs) > 1 {
			return q, badRequest("repeated-parameter", "query parameter %q given %d times", name, len(vs))
		}
	}
	list := func(name string, allowed []string) ([]string, error) {
		var out []string
		for _, v := range strings.Split(values.Get(name), ",") {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if !slices.Contains(allowed, v) {
				return nil, badRequest("invalid-parameter", "%s %q is not one of %s", name, v, strings.Join(allowed, ", "))
			}
			out = append(out, v)
		}
		return out, nil
	}
	var err error
	if q.States, err = list("state", projections.TimerStates()); err != nil {
		return q, err
	}
	if q.Clocks, err = list("clock", domain.ClockNames()); err != nil {
		return q, err
	}
	if q.Organisation, err = organisationParam(values); err != nil {
		return q, err
	}
	if raw := values.Get("at"); raw != "" {
		if q.At, err = queryTime("at", raw); err != nil {
			return q, err
		}
	}
	if raw := values.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > projections.MaxSearchLimit {
			return q, badRequest("invalid-parameter", "limit must be an integer from 1 to %d", projections.MaxSearchLimit)
		}
		q.Limit = n
	}
	q.Cursor = values.Get("cursor")
	return q, nil
}

// claimClocks returns a claim's clocks for the claim view, judged now.
func (s *server) claimClocks(ctx context.Context, id uuid.UUID) ([]ClockView, error) {
	timers, err := s.cfg.Reads.ClaimClocks(ctx, id, s.cfg.Clock())
	if err != nil {
		return nil, err
	}
	out := make([]ClockView, len(timers))
	for i, t := range timers {
		out[i] = ClockView{Clock: t.Clock, State: t.State, Overrun: t.Overrun, PolicyVersion: t.PolicyVersion}
	}
	return out, nil
}

// policyProblem gives the warranty and SLA rules their own problem types, so
// that a client can offer "authorize as paid repair" without parsing text;
// problemFor calls it.
func policyProblem(err error) *Problem {
	switch {
	case errors.Is(err, domain.ErrNotCovered):
		return newProblem(http.StatusUnprocessableEntity, "not-covered",
			"The claim is not covered: authorize it as a paid repair (paid_repair: true) or reject it", err.Error())
	case errors.Is(err, domain.ErrNotYetDue):
		return newProblem(http.StatusUnprocessableEntity, "not-yet-due", "The SLA clock is not yet due", err.Error())
	}
	return nil
}
