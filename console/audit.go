package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// Paths of the auditor's screens.
const (
	AuditPath = Prefix + "/audit"
)

// Audit checks and exports a claim's stream and reads the audit trail;
// LedgerAudit is one.
type Audit interface {
	// VerifyClaim checks the hash chain of one claim's stream.
	VerifyClaim(ctx context.Context, id uuid.UUID) (audit.Report, error)
	// ExportClaim writes the claim's export (JSON Lines) to w.
	ExportClaim(ctx context.Context, id uuid.UUID, w io.Writer) (audit.ExportSummary, error)
	// AuditTrailPage reads a page of the audit trail across claims.
	AuditTrailPage(ctx context.Context, q projections.TrailQuery) (projections.TrailPage, error)
}

// TrailReader is the audit trail read model; *projections.Runner is one.
type TrailReader interface {
	AuditTrailPage(ctx context.Context, q projections.TrailQuery) (projections.TrailPage, error)
}

// LedgerAudit is Audit over the event store and the trail read model.
type LedgerAudit struct {
	Store eventstore.Store
	Trail TrailReader
	// Withheld names the streams an export shows only as hashes, as
	// audit.ExportOptions.Withheld.
	Withheld func(stream string) bool
	// Files, when set, is where attached files are stored: a claim's
	// verification checks them too.
	Files audit.FileStore
}

// VerifyClaim checks the claim's stream on its own (audit.VerifyStream).
func (a LedgerAudit) VerifyClaim(ctx context.Context, id uuid.UUID) (audit.Report, error) {
	return audit.VerifyStream(ctx, a.Store, eventlog.Claims.Stream(id), a.Files)
}

// ExportClaim exports the claim's events in full and the rest as hashes.
func (a LedgerAudit) ExportClaim(ctx context.Context, id uuid.UUID, w io.Writer) (audit.ExportSummary, error) {
	return audit.Export(ctx, a.Store, w, audit.ExportOptions{Stream: eventlog.Claims.Stream(id), Withheld: a.Withheld})
}

// AuditTrailPage reads the trail read model.
func (a LedgerAudit) AuditTrailPage(ctx context.Context, q projections.TrailQuery) (projections.TrailPage, error) {
	return a.Trail.AuditTrailPage(ctx, q)
}

// mayAudit reports whether the role may audit: the API's own table.
func mayAudit(p Person) bool { return api.Allowed(api.Role(p.Role), api.PermAudit) }

// mountAudit adds the auditor's screens when Config.Audit is set.
func (s *console) mountAudit(g *echo.Group, base *template.Template) error {
	if s.cfg.Audit == nil {
		return nil
	}
	for _, name := range []string{"audit", "auditclaim"} {
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if s.pages[name], err = t.ParseFS(assets, "assets/"+name+".html"); err != nil {
			return err
		}
	}
	g.GET("/audit", s.auditTrail, s.signedIn, s.onlyIf(mayAudit))
	g.GET("/audit/claims/:id", s.auditClaim, s.signedIn, s.onlyIf(mayAudit))
	g.GET("/audit/claims/:id/export", s.auditExport, s.signedIn, s.onlyIf(mayAudit))
	return nil
}

// onlyIf refuses with 403 a person whose role may not.
func (s *console) onlyIf(may func(Person) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if !may(personOf(c)) {
				return s.refuse(c, http.StatusForbidden, "refused.role")
			}
			return next(c)
		}
	}
}

// trailView is the audit trail page.
type trailView struct {
	Actor, Action, From, To string
	Actions                 []string
	Rows                    []trailRow
	More                    bool
	Problem                 string
}

type trailRow struct {
	projections.TrailEntry
	Href string
}

// trailRows is how many entries the page shows.
const trailRows = 200

func (s *console) auditTrail(c *echo.Context) error {
	q := c.QueryParams()
	v := trailView{Actor: strings.TrimSpace(q.Get("actor")), Action: q.Get("action"), From: q.Get("from"), To: q.Get("to")}
	for _, a := range domain.Actions() {
		v.Actions = append(v.Actions, string(a))
	}
	tq := projections.TrailQuery{Actor: v.Actor, Limit: trailRows + 1}
	if v.Action != "" {
		tq.Actions = []string{v.Action}
	}
	var err error
	if tq.From, tq.To, err = s.dayPeriod(v.From, v.To); err != nil {
		v.Problem = "audit.bad-period"
		return s.render(c, http.StatusBadRequest, "audit", "audit.title", v)
	}
	page, err := s.cfg.Audit.AuditTrailPage(c.Request().Context(), tq)
	if err != nil {
		return s.fail(c, err)
	}
	for i, e := range page.Items {
		if i == trailRows {
			v.More = true
			break
		}
		v.Rows = append(v.Rows, trailRow{TrailEntry: e, Href: fmt.Sprintf("%s/claims/%s?version=%d", AuditPath, e.ClaimID, e.Revision+1)})
	}
	return s.render(c, http.StatusOK, "audit", "audit.title", v)
}

// dayPeriod reads a from and a to day (YYYY-MM-DD) in the policy's zone as
// the half-open [from, to+1 day); empty is unbounded.
func (s *console) dayPeriod(from, to string) (time.Time, time.Time, error) {
	var f, t time.Time
	var err error
	if from != "" {
		if f, err = time.ParseInLocation(time.DateOnly, from, s.cfg.Location); err != nil {
			return f, t, err
		}
	}
	if to != "" {
		if t, err = time.ParseInLocation(time.DateOnly, to, s.cfg.Location); err != nil {
			return f, t, err
		}
		t = t.AddDate(0, 0, 1)
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		return f, t, errors.New("console: from after to")
	}
	return f, t, nil
}

// auditClaimView is a claim's history for an auditor.
type auditClaimView struct {
	ID      uuid.UUID
	Number  string
	Entries []historyRow
	// Version is the version shown; Compare the one it is compared with.
	Version, Compare int64
	AsOf             string
	At               time.Time
	State            []change // the state at Version, path by path
	Changes          []change // what differs from Compare
	Chain            audit.Report
	Problem          string
	Export           string
}

type historyRow struct {
	audit.HistoryEntry
	Href    string
	Current bool
}

// change is one JSON path of a claim's state, before and after.
type change struct{ Path, Before, After string }

func (s *console) auditClaim(c *echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	ctx := c.Request().Context()
	records, err := s.cfg.Commands.Events(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) || errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && len(records) == 0) {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	if err != nil {
		return s.fail(c, err)
	}
	entries, err := audit.History(records)
	if err != nil {
		return s.fail(c, err)
	}
	q := c.QueryParams()
	v := auditClaimView{ID: id, AsOf: q.Get("as_of"), Export: fmt.Sprintf("%s/claims/%s/export", AuditPath, id)}
	var snap audit.Snapshot
	status := http.StatusOK
	switch {
	case v.AsOf != "":
		at, perr := time.ParseInLocation("2006-01-02T15:04", v.AsOf, s.cfg.Location)
		if perr != nil {
			v.Problem = "audit.bad-instant"
		} else if snap, err = audit.StateAsOf(records, at.Add(time.Minute-time.Nanosecond)); errors.Is(err, audit.ErrNotYetRegistered) {
			v.Problem = "audit.not-yet"
		}
	case q.Get("version") != "":
		n, perr := strconv.ParseInt(q.Get("version"), 10, 64)
		if perr != nil {
			v.Problem = "audit.no-version"
		} else if snap, err = audit.StateAtVersion(records, n); errors.Is(err, audit.ErrNoSuchVersion) {
			v.Problem = "audit.no-version"
		}
	default:
		snap, err = audit.StateAtVersion(records, int64(len(records)))
	}
	if v.Problem != "" {
		status = http.StatusBadRequest
		snap, err = audit.StateAtVersion(records, int64(len(records)))
	}
	if err != nil {
		return s.fail(c, err)
	}
	v.Version, v.At, v.Number = snap.State.Version, snap.OccurredAt, snap.State.Number
	v.Compare = v.Version - 1
	if raw := q.Get("compare"); raw != "" {
		if n, perr := strconv.ParseInt(raw, 10, 64); perr == nil && n >= 0 && n <= int64(len(records)) {
			v.Compare = n
		}
	}
	after, err := flatState(snap)
	if err != nil {
		return s.fail(c, err)
	}
	before := map[string]string{}
	if v.Compare > 0 {
		old, err := audit.StateAtVersion(records, v.Compare)
		if err != nil {
			return s.fail(c, err)
		}
		if before, err = flatState(old); err != nil {
			return s.fail(c, err)
		}
	}
	v.Changes = diff(before, after)
	for _, p := range sortedKeys(after) {
		v.State = append(v.State, change{Path: p, After: after[p]})
	}
	for _, e := range entries {
		v.Entries = append(v.Entries, historyRow{HistoryEntry: e, Current: e.Version == v.Version,
			Href: fmt.Sprintf("%s/claims/%s?version=%d", AuditPath, id, e.Version)})
	}
	if v.Chain, err = s.cfg.Audit.VerifyClaim(ctx, id); err != nil {
		return s.fail(c, err)
	}
	return s.render(c, status, "auditclaim", "audit.claim-title", v)
}

// flatState writes a claim's state as JSON paths and their values.
func flatState(snap audit.Snapshot) (map[string]string, error) {
	raw, err := json.Marshal(snap.State)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	out := map[string]string{}
	flatten("", doc, out)
	return out, nil
}

func flatten(path string, node any, out map[string]string) {
	switch n := node.(type) {
	case map[string]any:
		for k, child := range n {
			p := k
			if path != "" {
				p = path + "." + k
			}
			flatten(p, child, out)
		}
	case []any:
		for i, child := range n {
			flatten(fmt.Sprintf("%s[%d]", path, i), child, out)
		}
	case nil:
	default:
		b, _ := json.Marshal(n)
		text := string(b)
		if str, ok := n.(string); ok {
			text = str
		}
		if text != "" && text != "0001-01-01T00:00:00Z" {
			out[path] = text
		}
	}
}

// diff lists the paths whose values differ, in order.
func diff(before, after map[string]string) []change {
	paths := sortedKeys(before)
	for p := range after {
		if _, ok := before[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var out []change
	for _, p := range paths {
		if before[p] != after[p] {
			out = append(out, change{Path: p, Before: before[p], After: after[p]})
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *console) auditExport(c *echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	records, err := s.cfg.Commands.Events(c.Request().Context(), id)
	if errors.Is(err, ledger.ErrNotFound) || (err == nil && len(records) == 0) {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	if err != nil {
		return s.fail(c, err)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/x-ndjson")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+url.PathEscape("rmaledger-audit-"+id.String())+`.jsonl"`)
	c.Response().WriteHeader(http.StatusOK)
	sum, err := s.cfg.Audit.ExportClaim(c.Request().Context(), id, c.Response())
	if err != nil {
		// The status is sent: the file is cut short, and a check of it fails.
		s.cfg.Logger.Error("console: audit export cut short", "claim", id, "error", err)
		return nil
	}
	s.cfg.Logger.Info("console: audit export", "claim", id, "actor", personOf(c).Name, "events", sum.Events, "hashes", sum.Hashes)
	return nil
}

// MayAudit tells the layout to link the auditor's screens.
func (v *view) MayAudit() bool { return v.Person != nil && mayAudit(*v.Person) }
