package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/projections"
)

// minPositionHeader is the header form of ?min_position=, for clients that
// would rather not touch the URL.
const minPositionHeader = "Min-Position"

// waitForPosition makes a read see the client's own writes: given the
// position a write answered with, it waits (boundedly) until the read
// models have applied it.
func (s *server) waitForPosition(c *echo.Context, names ...string) error {
	raw := c.QueryParam("min_position")
	if raw == "" {
		raw = c.Request().Header.Get(minPositionHeader)
	}
	if raw == "" {
		return nil
	}
	pos, err := eventstore.ParsePosition(raw)
	if err != nil {
		return badRequest("invalid-position", "min_position must be a position as returned by a write, e.g. \"42\"")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ReadYourWritesTimeout)
	defer cancel()
	return s.cfg.Reads.WaitFor(ctx, pos, names...)
}

func (s *server) getClaim(c *echo.Context) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	if err := s.waitForPosition(c, projections.Claims, projections.Timers); err != nil {
		return err
	}
	rec, err := s.cfg.Reads.Claim(c.Request().Context(), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(rec.State.Version))
	res := claimResponse(rec.State, rec.Position)
	res.NextAction = rec.NextAction
	if res.Clocks, err = s.claimClocks(c.Request().Context(), id); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, forCaller(c, res))
}

// searchParams are the query parameters GET /v1/claims understands; any
// other is refused, so a typo does not silently widen a search.
var searchParams = map[string]bool{
	"number": true, "serial": true, "phone": true, "email": true, "status": true,
	"updated_since": true, "limit": true, "cursor": true, "min_position": true,
	"assignee": true, "unassigned": true, "organisation": true,
}

func (s *server) searchClaims(c *echo.Context) error {
	q, err := parseSearch(c.QueryParams())
	if err != nil {
		return err
	}
	if err := s.waitForPosition(c, projections.Claims); err != nil {
		return err
	}
	if org := callerOrganisation(c); org != "" {
		q.Organisation = org // a partner's search never leaves its organisation
	}
	page, err := s.cfg.Reads.Search(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []projections.ClaimSummary{}
	}
	return c.JSON(http.StatusOK, page)
}

func parseSearch(values url.Values) (q projections.SearchQuery, err error) {
	for name, vs := range values {
		if !searchParams[name] {
			return q, badRequest("unknown-parameter", "unknown query parameter %q", name)
		}
		if len(vs) > 1 {
			return q, badRequest("repeated-parameter", "query parameter %q given %d times", name, len(vs))
		}
	}
	q.Number, q.Serial, q.Phone, q.Email, q.Cursor = values.Get("number"), values.Get("serial"), values.Get("phone"), values.Get("email"), values.Get("cursor")
	if raw := values.Get("status"); raw != "" {
		for _, name := range strings.Split(raw, ",") {
			st, ok := domain.ParseStatus(strings.TrimSpace(name))
			if !ok {
				return q, badRequest("invalid-parameter", "status %q is not a claim status", name)
			}
			q.Statuses = append(q.Statuses, st)
		}
	}
	if q.Organisation, err = organisationParam(values); err != nil {
		return q, err
	}
	q.Assignee = strings.TrimSpace(values.Get("assignee"))
	if raw := values.Get("unassigned"); raw != "" {
		unassigned, err := strconv.ParseBool(raw)
		if err != nil {
			return q, badRequest("invalid-parameter", "unassigned must be true or false")
		}
		q.Unassigned = unassigned
	}
	if q.Assignee != "" && q.Unassigned {
		return q, badRequest("invalid-parameter", "assignee and unassigned=true contradict each other")
	}
	if raw := values.Get("updated_since"); raw != "" {
		t, err := queryTime("updated_since", raw)
		if err != nil {
			return q, err
		}
		q.UpdatedSince = t
	}
	if raw := values.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > projections.MaxSearchLimit {
			return q, badRequest("invalid-parameter", "limit must be an integer from 1 to %d", projections.MaxSearchLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// ProjectionStatus is a projection's progress as the admin API shows it.
type ProjectionStatus struct {
	projections.Status
	Checkpoint string `json:"checkpoint"`
	Head       string `json:"head"`
	// Reason and EventID tell why a failed projection stopped.
	Reason  string `json:"reason,omitempty"`
	EventID string `json:"event_id,omitempty"`
}

func (s *server) projectionStatus(c *echo.Context) error {
	return s.writeProjectionStatus(c, http.StatusOK)
}

func (s *server) writeProjectionStatus(c *echo.Context, code int) error {
	statuses, err := s.cfg.Reads.Status(c.Request().Context())
	if err != nil {
		return err
	}
	health := map[string]projections.Health{}
	for _, h := range s.cfg.Reads.Health() {
		health[h.Name] = h
	}
	out := make([]ProjectionStatus, len(statuses))
	for i, st := range statuses {
		out[i] = ProjectionStatus{
			Status: st, Checkpoint: st.Checkpoint.String(), Head: st.Head.String(),
			Reason: health[st.Name].Reason, EventID: health[st.Name].EventID,
		}
	}
	return c.JSON(code, map[string]any{"projections": out})
}

// rebuildProjection starts rebuilding one read model from position zero
// while the live one keeps serving, and answers 202 at once with the
// projections' status: a rebuild of a large log takes minutes, longer than
// a request may. GET /v1/admin/projections (the Location) then shows it
// under way, and at the end its new generation or why it failed.
func (s *server) rebuildProjection(c *echo.Context) error {
	name := c.Param("name")
	if err := s.cfg.Reads.StartRebuild(name); err != nil {
		return err
	}
	s.cfg.Logger.Info("projection rebuild started", "projection", name, "actor", actorOf(c).Name)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/admin/projections")
	return s.writeProjectionStatus(c, http.StatusAccepted)
}

// readProblem maps the read side's errors; problemFor calls it.
func readProblem(err error) *Problem {
	switch {
	case errors.Is(err, projections.ErrNotFound):
		return newProblem(http.StatusNotFound, "not-found", "No such claim", "")
	case errors.Is(err, projections.ErrPastEndOfLog):
		return newProblem(http.StatusBadRequest, "unknown-position", "min_position is past the end of the event log: no write answered with it", err.Error())
	case errors.Is(err, projections.ErrNotVisible):
		return newProblem(http.StatusServiceUnavailable, "not-yet-visible", "The read models have not reached min_position yet; retry shortly", err.Error())
	case errors.Is(err, projections.ErrProjectionFailed):
		return newProblem(http.StatusServiceUnavailable, "projection-failed", "A read model has stopped; an operator must repair it", err.Error())
	case errors.Is(err, projections.ErrInvalidQuery), errors.Is(err, eventstore.ErrBadPosition):
		return newProblem(http.StatusBadRequest, "invalid-parameter", "Malformed request", err.Error())
	case errors.Is(err, projections.ErrUnknownProjection):
		return newProblem(http.StatusNotFound, "unknown-projection", "No such projection", err.Error())
	case errors.Is(err, projections.ErrRebuildInProgress):
		return newProblem(http.StatusConflict, "rebuild-in-progress", "That projection is already being rebuilt", err.Error())
	case errors.Is(err, projections.ErrClosed):
		return newProblem(http.StatusServiceUnavailable, "unavailable", "The service is shutting down", "")
	}
	return nil
}

// positionString renders a position for JSON, empty when unknown.
func positionString(p eventstore.Position) string {
	if p == eventstore.Start {
		return ""
	}
	return p.String()
}
