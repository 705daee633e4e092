package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/csvexport"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// The audit endpoints: a claim's readable history and its state at any
// point, verification of the hash chains, signed checkpoints on demand, an
// export an auditor can check offline, and the audit trail across claims.
// See docs/audit.md.

// AuditConfig wires the audit endpoints. The zero value works: the store
// is the ledger's, no checkpoints can be requested, and checkpoint
// signatures verify against no key (so any checkpoint is reported).
type AuditConfig struct {
	// Store is the event log to verify and export (default: the ledger's).
	Store eventstore.Store
	// Checkpointer signs checkpoints on demand; nil means
	// POST /v1/audit/checkpoints answers 503.
	Checkpointer *audit.Checkpointer
	// Keys verify checkpoint signatures (default: the Checkpointer's).
	Keys audit.Keys
	// DensePositions says the store's positions have no gaps (the
	// embedded store), so verification reads ranges in parallel and shows
	// an emptied position.
	DensePositions bool
	// VerifyTimeout bounds one verification (default 10 minutes).
	VerifyTimeout time.Duration
	// Withheld names the streams an export shows only as hashes (see
	// audit.ExportOptions.Withheld).
	Withheld func(stream string) bool
	// Files is where attached files are stored; verification checks each
	// one's bytes against its event (nil: the events alone).
	Files audit.FileStore
}

// auditHandlers serves the audit routes.
type auditHandlers struct {
	s   *server
	cfg AuditConfig
	// verifying admits one verification at a time: each reads the whole
	// log, and two at once would only halve each other's speed.
	verifying chan struct{}
}

// registerAudit adds the audit routes to the authenticated /v1 group.
func (s *server) registerAudit(v1 *echo.Group) {
	cfg := s.cfg.Audit
	if cfg.Store == nil {
		cfg.Store = s.cfg.Ledger.Store()
	}
	if cfg.Keys == nil && cfg.Checkpointer != nil {
		cfg.Keys = cfg.Checkpointer.Keys()
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = 10 * time.Minute
	}
	a := &auditHandlers{s: s, cfg: cfg, verifying: make(chan struct{}, 1)}
	v1.GET("/claims/:id/history", a.history, require(PermReadClaims))
	v1.GET("/claims/:id/state", a.state, require(PermReadClaims))
	v1.GET("/audit/verify", a.verify, require(PermAudit))
	v1.GET("/audit/export", a.export, require(PermAudit))
	v1.GET("/audit/trail", a.trail, require(PermAudit))
	v1.POST("/audit/checkpoints", a.checkpoint, require(PermCheckpoint))
}

// auditorAccess logs every request made with an auditor's key, after it is
// answered: who read what, and whether it was served. It is a log line,
// not an event, so that reading never writes to the ledger.
func auditorAccess(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			actor := actorOf(c)
			if Role(actor.Role) != RoleAuditor {
				return next(c)
			}
			err := next(c)
			_, status := echo.ResolveResponseStatus(c.Response(), err)
			logger.LogAttrs(c.Request().Context(), slog.LevelInfo, "auditor access",
				slog.String("actor", actor.Name), slog.String("role", actor.Role),
				slog.String("method", c.Request().Method), slog.String("route", c.Path()),
				slog.String("path", c.Request().URL.Path), slog.String("query", c.Request().URL.RawQuery),
				slog.Int("status", status), slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)))
			return err
		}
	}
}

// HistoryEventResponse is one event of a claim's history, readable.
type HistoryEventResponse struct {
	audit.HistoryEntry
	Position string `json:"position,omitempty"`
}

// HistoryResponse is a claim's full history in order.
type HistoryResponse struct {
	ClaimID uuid.UUID              `json:"claim_id"`
	Number  string                 `json:"number"`
	Events  []HistoryEventResponse `json:"events"`
}

func (a *auditHandlers) history(c *echo.Context) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	if err := onlyParams(c.QueryParams()); err != nil {
		return err
	}
	records, err := a.s.cfg.Ledger.Events(c.Request().Context(), id)
	if err != nil {
		return err
	}
	records = eventsForCaller(c, records)
	entries, err := audit.History(records)
	if err != nil {
		return err
	}
	out := HistoryResponse{ClaimID: id, Events: make([]HistoryEventResponse, len(entries))}
	for i, e := range entries {
		out.Events[i] = HistoryEventResponse{HistoryEntry: e, Position: positionString(e.Position)}
	}
	if len(records) > 0 {
		if reg, ok := decodeRegistration(records[0]); ok {
			out.Number = reg.Number
		}
	}
	c.Response().Header().Set("ETag", etag(int64(len(records))))
	return c.JSON(http.StatusOK, out)
}

func decodeRegistration(rec eventstore.RecordedEvent) (domain.ClaimRegistered, bool) {
	e, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		return domain.ClaimRegistered{}, false
	}
	reg, ok := e.(domain.ClaimRegistered)
	return reg, ok
}

// StateResponse is a claim as it stood at a version or an instant.
type StateResponse struct {
	ClaimResponse
	// AsOf echoes the instant asked for; Version (in the state) is how many
	// events were folded.
	AsOf *time.Time `json:"as_of,omitempty"`
	// EventID and OccurredAt describe the last event folded.
	EventID    uuid.UUID `json:"event_id"`
	OccurredAt time.Time `json:"occurred_at"`
}

func (a *auditHandlers) state(c *echo.Context) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	values := c.QueryParams()
	if err := onlyParams(values, "as_of", "version"); err != nil {
		return err
	}
	rawAsOf, rawVersion := values.Get("as_of"), values.Get("version")
	if rawAsOf != "" && rawVersion != "" {
		return badRequest("invalid-parameter", "give as_of or version, not both")
	}
	var (
		asOf    time.Time
		version int64
	)
	switch {
	case rawAsOf != "":
		if asOf, err = queryTime("as_of", rawAsOf); err != nil {
			return err
		}
	case rawVersion != "":
		if version, err = strconv.ParseInt(rawVersion, 10, 64); err != nil || version < 1 {
			return badRequest("invalid-parameter", "version must be a positive integer (the number of events folded)")
		}
	}
	records, err := a.s.cfg.Ledger.Events(c.Request().Context(), id)
	if err != nil {
		return err
	}
	var snap audit.Snapshot
	switch {
	case rawAsOf != "":
		snap, err = audit.StateAsOf(records, asOf)
	case rawVersion != "":
		snap, err = audit.StateAtVersion(records, version)
	default:
		snap, err = audit.StateAtVersion(records, int64(len(records)))
	}
	switch {
	case errors.Is(err, audit.ErrNotYetRegistered):
		return newProblem(http.StatusNotFound, "not-yet-registered", "The claim did not exist yet at that time", err.Error())
	case errors.Is(err, audit.ErrNoSuchVersion):
		return newProblem(http.StatusNotFound, "no-such-version", "The claim never had that version", err.Error())
	case err != nil:
		return err
	}
	out := StateResponse{ClaimResponse: forCaller(c, claimResponse(snap.State, snap.Position)), EventID: snap.EventID, OccurredAt: snap.OccurredAt}
	if rawAsOf != "" {
		out.AsOf = &asOf
	}
	c.Response().Header().Set("ETag", etag(snap.State.Version))
	return c.JSON(http.StatusOK, out)
}

// VerifyResponse is the outcome of GET /v1/audit/verify.
type VerifyResponse struct {
	audit.Report
	// Claim is the claim checked on its own, if one was asked for.
	Claim string `json:"claim,omitempty"`
	// TookSeconds is how long it ran.
	TookSeconds float64 `json:"took_seconds"`
}

func (a *auditHandlers) verify(c *echo.Context) error {
	values := c.QueryParams()
	if err := onlyParams(values, "claim", "from"); err != nil {
		return err
	}
	var (
		claim uuid.UUID
		from  eventstore.Position
		err   error
	)
	if raw := values.Get("claim"); raw != "" {
		if claim, err = uuid.Parse(raw); err != nil || claim == uuid.Nil {
			return badRequest("invalid-parameter", "claim must be a claim id (a UUID)")
		}
	}
	if raw := values.Get("from"); raw != "" {
		if from, err = eventstore.ParsePosition(raw); err != nil {
			return badRequest("invalid-parameter", "from must be a position, e.g. \"42\" or \"42/40\"")
		}
	}
	select {
	case a.verifying <- struct{}{}:
		defer func() { <-a.verifying }()
	default:
		c.Response().Header().Set("Retry-After", "10")
		return newProblem(http.StatusConflict, "verification-in-progress", "A verification is already running; retry when it is done", "")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.VerifyTimeout)
	defer cancel()
	var report audit.Report
	out := VerifyResponse{}
	if claim != uuid.Nil {
		out.Claim = claim.String()
		report, err = audit.VerifyStream(ctx, a.cfg.Store, eventlog.Claims.Stream(claim), a.cfg.Files)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return ledger.ErrNotFound
		}
	} else {
		report, err = audit.Verify(ctx, a.cfg.Store, audit.VerifyOptions{Keys: a.cfg.Keys, From: from, DensePositions: a.cfg.DensePositions, Files: a.cfg.Files})
	}
	if err != nil {
		return err
	}
	out.Report, out.TookSeconds = report, report.Took.Seconds()
	level := slog.LevelInfo
	if !report.OK {
		level = slog.LevelError // someone must look at this
	}
	a.s.cfg.Logger.Log(ctx, level, "ledger verified", "ok", report.OK, "events", report.Events,
		"checkpoints", report.Checkpoints, "break", report.Break, "claim", out.Claim, "actor", actorOf(c).Name, "took", report.Took)
	return c.JSON(http.StatusOK, out)
}

// CheckpointResponse is a checkpoint just signed, and where its event is.
type CheckpointResponse struct {
	audit.Checkpoint
	EventPosition string `json:"event_position"`
}

func (a *auditHandlers) checkpoint(c *echo.Context) error {
	var body struct{}
	if err := decodeJSON(c, &body, true); err != nil {
		return err
	}
	if err := onlyParams(c.QueryParams()); err != nil {
		return err
	}
	if a.cfg.Checkpointer == nil {
		return newProblem(http.StatusServiceUnavailable, "checkpoints-disabled", "No signing key is configured; checkpoints cannot be signed",
			"start the service with --signing-key-file (make one with `rmaledger keys generate`)")
	}
	actor := actorOf(c)
	cp, pos, err := a.cfg.Checkpointer.Checkpoint(c.Request().Context(), actor.Name, actor.Role)
	if err != nil {
		return err
	}
	a.s.cfg.Logger.Info("audit checkpoint signed on request", "actor", actor.Name, "position", cp.Position, "events", cp.Count, "head", cp.Head.String())
	return c.JSON(http.StatusCreated, CheckpointResponse{Checkpoint: cp, EventPosition: positionString(pos)})
}

func (a *auditHandlers) export(c *echo.Context) error {
	values := c.QueryParams()
	if err := onlyParams(values, "from", "to", "claim"); err != nil {
		return err
	}
	opts := audit.ExportOptions{Withheld: a.cfg.Withheld}
	for name, dst := range map[string]*eventstore.Position{"from": &opts.From, "to": &opts.To} {
		if raw := values.Get(name); raw != "" {
			p, err := eventstore.ParsePosition(raw)
			if err != nil {
				return badRequest("invalid-parameter", "%s must be a position, e.g. \"42\" or \"42/40\"", name)
			}
			*dst = p
		}
	}
	if raw := values.Get("claim"); raw != "" {
		claim, err := uuid.Parse(raw)
		if err != nil || claim == uuid.Nil {
			return badRequest("invalid-parameter", "claim must be a claim id (a UUID)")
		}
		if _, err := a.cfg.Store.ReadStream(c.Request().Context(), eventlog.Claims.Stream(claim), eventstore.Backwards, eventstore.End, 1); err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				return ledger.ErrNotFound
			}
			return err
		}
		opts.Stream = eventlog.Claims.Stream(claim)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/x-ndjson")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="rmaledger-audit-export.jsonl"`)
	c.Response().WriteHeader(http.StatusOK)
	sum, err := audit.Export(c.Request().Context(), a.cfg.Store, c.Response(), opts)
	if err != nil {
		// The status is sent: the file is cut short, and a check of it fails.
		a.s.cfg.Logger.Error("audit export cut short", "error", err, "request_id", h.Get(echo.HeaderXRequestID))
		return nil
	}
	a.s.cfg.Logger.Info("audit export", "actor", actorOf(c).Name, "events", sum.Events, "hashes", sum.Hashes, "checkpoints", sum.Checkpoints, "uncovered", sum.Uncovered)
	return nil
}

// onlyParams refuses query parameters other than those named, and repeated
// ones, so that a typo does not silently change what is answered.
func onlyParams(values url.Values, allowed ...string) error {
	for name, vs := range values {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			return badRequest("unknown-parameter", "unknown query parameter %q", name)
		}
		if len(vs) > 1 {
			return badRequest("repeated-parameter", "query parameter %q given %d times", name, len(vs))
		}
	}
	return nil
}

// TrailEntryResponse is one action in the audit trail.
type TrailEntryResponse struct {
	projections.TrailEntry
	Position string `json:"position"`
}

// TrailResponse is one page of the audit trail.
type TrailResponse struct {
	Items      []TrailEntryResponse `json:"items"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

// trailCSVHeader names the CSV columns, in order.
var trailCSVHeader = []string{
	"position", "occurred_at", "recorded_at", "claim_id", "number", "revision", "action", "actor", "role",
	"summary", "reason", "event_type", "event_id",
}

func (a *auditHandlers) trail(c *echo.Context) error {
	values := c.QueryParams()
	if err := onlyParams(values, "actor", "role", "action", "claim", "from", "to", "limit", "cursor", "format", "min_position"); err != nil {
		return err
	}
	q := projections.TrailQuery{Actor: values.Get("actor"), Role: values.Get("role"), Cursor: values.Get("cursor")}
	if raw := values.Get("action"); raw != "" {
		for _, action := range strings.Split(raw, ",") {
			if action = strings.TrimSpace(action); action != "" {
				q.Actions = append(q.Actions, action)
			}
		}
	}
	if raw := strings.TrimSpace(values.Get("claim")); raw != "" {
		if id, err := uuid.Parse(raw); err == nil {
			q.ClaimID = id
		} else {
			q.Number = raw // a claim number, e.g. RMA-2026-000042
		}
	}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if raw := values.Get(name); raw != "" {
			t, err := queryTime(name, raw)
			if err != nil {
				return err
			}
			*dst = t
		}
	}
	if raw := values.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > projections.MaxTrailLimit {
			return badRequest("invalid-parameter", "limit must be an integer from 1 to %d", projections.MaxTrailLimit)
		}
		q.Limit = n
	}
	asCSV, err := wantsCSV(c, values.Get("format"))
	if err != nil {
		return err
	}
	if err := a.s.waitForPosition(c, projections.AuditTrail); err != nil {
		return err
	}
	ctx := c.Request().Context()
	onePage := values.Get("limit") != ""
	if asCSV && !onePage {
		q.Limit = projections.MaxTrailLimit
	}
	// The first page is read before anything is written, so that a bad
	// cursor is still a problem answer.
	page, err := a.s.cfg.Reads.AuditTrailPage(ctx, q)
	if err != nil {
		return err
	}
	if !asCSV {
		out := TrailResponse{Items: make([]TrailEntryResponse, len(page.Items)), NextCursor: page.NextCursor}
		for i, e := range page.Items {
			out.Items[i] = TrailEntryResponse{TrailEntry: e, Position: e.Position.String()}
		}
		return c.JSON(http.StatusOK, out)
	}
	first := csvexport.Page[projections.TrailEntry]{Items: page.Items, Next: page.NextCursor}
	next := func(cursor string) (csvexport.Page[projections.TrailEntry], error) {
		q.Cursor = cursor
		page, err := a.s.cfg.Reads.AuditTrailPage(ctx, q)
		return csvexport.Page[projections.TrailEntry]{Items: page.Items, Next: page.NextCursor}, err
	}
	if err := csvexport.Stream(c.Response(), trailCSV, first, onePage, next); err != nil {
		a.s.cfg.Logger.Error("audit trail CSV cut short", "error", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	return nil
}

// trailCSV is the audit trail as a CSV file: one line per entry.
var trailCSV = csvexport.File[projections.TrailEntry]{Name: "audit-trail.csv", Header: trailCSVHeader, Record: func(e projections.TrailEntry) []string {
	return []string{
		e.Position.String(), e.OccurredAt.Format(time.RFC3339Nano), e.RecordedAt.Format(time.RFC3339Nano),
		e.ClaimID.String(), cell(e.Number), strconv.FormatUint(e.Revision, 10), e.Action, cell(e.Actor), cell(e.Role),
		cell(e.Summary), cell(e.Reason), e.EventType, e.EventID.String(),
	}
}}
