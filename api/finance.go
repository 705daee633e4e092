package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/csvexport"
	"github.com/rmaledger/rmaledger/projections"
)

// The finance endpoints: every compensation the service gave, owes or
// received, as JSON pages or one CSV file, and the reconciliation of a
// period. Finance, auditors and admins read them (PermReadFinance).

// registerFinance adds the finance routes to the authenticated /v1 group.
func (s *server) registerFinance(v1 *echo.Group) {
	v1.GET("/finance/compensations", s.listCompensations, require(PermReadFinance))
	v1.GET("/finance/reconciliation", s.reconciliation, require(PermReadFinance))
}

// CompensationResponse is one financial fact. Amounts are decimal strings in
// the currency's precision, negative for a reversal; times are RFC 3339 in
// the finance time zone.
type CompensationResponse struct {
	EventID  uuid.UUID `json:"event_id"`
	Line     int       `json:"line"`
	ClaimID  uuid.UUID `json:"claim_id"`
	Number   string    `json:"number"`
	Kind     string    `json:"kind"`
	Entry    string    `json:"entry"`
	Status   string    `json:"status"`
	Amount   string    `json:"amount"`
	Currency string    `json:"currency"`
	// At is when the fact happened; ApprovedAt and ApprovedBy are set on
	// approvals (who approved it: the recording key's name).
	At         time.Time  `json:"at"`
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	ApprovedBy string     `json:"approved_by,omitempty"`
	RecordedBy string     `json:"recorded_by"`
	Role       string     `json:"role,omitempty"`
	// Settled is how much of an approval is paid (or settled in kind);
	// SettledAt when it was settled in full.
	Settled    string     `json:"settled"`
	SettledAt  *time.Time `json:"settled_at,omitempty"`
	Reference  string     `json:"reference,omitempty"`
	Reverses   string     `json:"reverses,omitempty"`
	ReversedBy []string   `json:"reversed_by,omitempty"`
	Stream     string     `json:"stream"`
	Revision   uint64     `json:"revision"`
	Position   string     `json:"position"`
}

// CompensationsResponse is one page of compensations.
type CompensationsResponse struct {
	Items      []CompensationResponse `json:"items"`
	NextCursor string                 `json:"next_cursor,omitempty"`
	TimeZone   string                 `json:"time_zone"`
}

// compensationParams are the query parameters of GET /v1/finance/compensations.
var compensationParams = map[string]bool{
	"from": true, "to": true, "kind": true, "currency": true, "status": true,
	"limit": true, "cursor": true, "format": true, "min_position": true,
}

// reconciliationParams are the query parameters of GET /v1/finance/reconciliation.
var reconciliationParams = map[string]bool{"from": true, "to": true, "min_position": true}

// compensationCSVHeader names the CSV columns, in order.
var compensationCSVHeader = []string{
	"event_id", "line", "claim_id", "number", "kind", "entry", "status", "amount", "currency",
	"at", "approved_at", "approved_by", "recorded_by", "role", "settled", "settled_at",
	"reference", "reverses", "reversed_by", "stream", "revision", "position",
}

func (s *server) listCompensations(c *echo.Context) error {
	values := c.QueryParams()
	if err := checkFinanceParams(values, compensationParams); err != nil {
		return err
	}
	q, err := s.compensationQuery(values)
	if err != nil {
		return err
	}
	asCSV, err := wantsCSV(c, values.Get("format"))
	if err != nil {
		return err
	}
	if err := s.waitForPosition(c, projections.Compensations); err != nil {
		return err
	}
	if asCSV {
		return s.compensationsCSV(c, q, values.Get("limit") != "")
	}
	page, err := s.cfg.Reads.CompensationsPage(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := CompensationsResponse{Items: make([]CompensationResponse, len(page.Items)), NextCursor: page.NextCursor, TimeZone: s.cfg.FinanceLocation.String()}
	for i, item := range page.Items {
		out.Items[i] = s.compensationResponse(item)
	}
	return c.JSON(http.StatusOK, out)
}

// compensationsCSV streams every matching row (from the cursor on) as one
// CSV file, reading the read model a page at a time; with limit, one page,
// whose continuation is in the Next-Cursor header. The first page is read
// before anything is written, so that a bad cursor is still a problem
// answer; a failure later can only cut the file short (and is logged).
func (s *server) compensationsCSV(c *echo.Context, q projections.CompensationQuery, onePage bool) error {
	ctx := c.Request().Context()
	if !onePage {
		q.Limit = projections.MaxCompensationLimit
	}
	page, err := s.cfg.Reads.CompensationsPage(ctx, q)
	if err != nil {
		return err
	}
	first := csvexport.Page[projections.Compensation]{Items: page.Items, Next: page.NextCursor}
	next := func(cursor string) (csvexport.Page[projections.Compensation], error) {
		q.Cursor = cursor
		page, err := s.cfg.Reads.CompensationsPage(ctx, q)
		return csvexport.Page[projections.Compensation]{Items: page.Items, Next: page.NextCursor}, err
	}
	file := csvexport.File[projections.Compensation]{Name: "compensations.csv", Header: compensationCSVHeader, Record: s.compensationRecord}
	if err := csvexport.Stream(c.Response(), file, first, onePage, next); err != nil {
		s.cfg.Logger.Error("compensations CSV cut short", "error", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	return nil
}

func (s *server) compensationResponse(item projections.Compensation) CompensationResponse {
	loc := s.cfg.FinanceLocation
	r := CompensationResponse{
		EventID: item.EventID, Line: item.Line, ClaimID: item.ClaimID, Number: item.Number,
		Kind: item.Kind, Entry: item.Entry, Status: item.Status,
		Amount: item.Amount.Decimal(), Currency: item.Amount.Currency,
		At: item.At.In(loc), RecordedBy: item.Actor, Role: item.Role,
		Settled: item.Settled.Decimal(), Reference: item.Reference, Reverses: item.Reverses, ReversedBy: item.ReversedBy,
		Stream: item.Stream, Revision: item.Revision, Position: item.Position.String(),
	}
	if item.Entry == projections.EntryApproval && item.Status != projections.StatusReversal {
		at := item.At.In(loc)
		r.ApprovedAt, r.ApprovedBy = &at, item.Actor
	}
	if !item.SettledAt.IsZero() {
		at := item.SettledAt.In(loc)
		r.SettledAt = &at
	}
	return r
}

// compensationRecord is one CSV line: the JSON fields, flattened.
func (s *server) compensationRecord(item projections.Compensation) []string {
	r := s.compensationResponse(item)
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	return []string{
		r.EventID.String(), strconv.Itoa(r.Line), r.ClaimID.String(), cell(r.Number), r.Kind, r.Entry, r.Status,
		r.Amount, r.Currency, r.At.Format(time.RFC3339Nano), ts(r.ApprovedAt), cell(r.ApprovedBy), cell(r.RecordedBy), r.Role,
		r.Settled, ts(r.SettledAt), cell(r.Reference), r.Reverses, strings.Join(r.ReversedBy, " "), r.Stream,
		strconv.FormatUint(r.Revision, 10), r.Position,
	}
}

// cell defuses text that a spreadsheet would run as a formula (a reference
// typed as "=HYPERLINK(...)", say) by prefixing an apostrophe, as OWASP
// advises for CSV meant for spreadsheets. Amounts are never text from a
// person and are left exact; a reference starting with '-' gets the prefix
// too, which is the price of safety.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// wantsCSV decides the representation: ?format= wins, else Accept.
func wantsCSV(c *echo.Context, format string) (bool, error) {
	switch format {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, badRequest("invalid-parameter", "format must be csv or json, not %q", format)
	}
	for _, part := range strings.Split(c.Request().Header.Get("Accept"), ",") {
		mediaType, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mediaType), "text/csv") {
			return true, nil
		}
	}
	return false, nil
}

// checkFinanceParams refuses unknown and repeated query parameters, so that a typo
// ("curency=EUR") does not silently widen a report.
func checkFinanceParams(values url.Values, allowed map[string]bool) error {
	for name, vs := range values {
		if !allowed[name] {
			return badRequest("unknown-parameter", "unknown query parameter %q", name)
		}
		if len(vs) > 1 {
			return badRequest("repeated-parameter", "query parameter %q given %d times", name, len(vs))
		}
	}
	return nil
}

func (s *server) compensationQuery(values url.Values) (projections.CompensationQuery, error) {
	var q projections.CompensationQuery
	var err error
	if q.From, q.To, err = s.period(values); err != nil {
		return q, err
	}
	list := func(name string, allowed []string) ([]string, error) {
		raw := values.Get(name)
		if raw == "" {
			return nil, nil
		}
		var out []string
		for _, v := range strings.Split(raw, ",") {
			v = strings.TrimSpace(v)
			if !slices.Contains(allowed, v) {
				return nil, badRequest("invalid-parameter", "%s %q is not one of: %s", name, v, strings.Join(allowed, ", "))
			}
			out = append(out, v)
		}
		return out, nil
	}
	if q.Kinds, err = list("kind", projections.CompensationKinds()); err != nil {
		return q, err
	}
	if q.Statuses, err = list("status", projections.CompensationStatuses()); err != nil {
		return q, err
	}
	if cur := values.Get("currency"); cur != "" {
		if _, ok := domain.CurrencyExponent(cur); !ok {
			return q, badRequest("invalid-parameter", "currency %q is not an upper-case ISO 4217 code such as EUR", cur)
		}
		q.Currency = cur
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

// period reads from and to. A date (YYYY-MM-DD) is a day in the finance
// time zone: from starts at its midnight, to includes the whole day. An RFC
// 3339 time is that instant, included. The result is half-open, [from, to),
// zero where not given.
func (s *server) period(values url.Values) (from, to time.Time, err error) {
	loc := s.cfg.FinanceLocation
	parse := func(name string, end bool) (time.Time, error) {
		raw := values.Get(name)
		if raw == "" {
			return time.Time{}, nil
		}
		if len(raw) == len("2006-01-02") {
			day, err := time.ParseInLocation(time.DateOnly, raw, loc)
			if err != nil {
				return time.Time{}, badRequest("invalid-parameter", "%s %q is not a date (YYYY-MM-DD) or an RFC 3339 time", name, raw)
			}
			if err := checkQueryYear(name, day); err != nil {
				return time.Time{}, err
			}
			if end {
				day = day.AddDate(0, 0, 1) // midnight of the next day, whatever the day's length
			}
			return day, nil
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return time.Time{}, badRequest("invalid-parameter", "%s %q is not a date (YYYY-MM-DD) or an RFC 3339 time such as 2026-03-01T00:00:00Z", name, raw)
		}
		if err := checkQueryYear(name, t); err != nil {
			return time.Time{}, err
		}
		if end {
			t = t.Add(time.Nanosecond)
		}
		return t, nil
	}
	if from, err = parse("from", false); err != nil {
		return
	}
	if to, err = parse("to", true); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return time.Time{}, time.Time{}, badRequest("invalid-period", "from (%s) is after to (%s)", values.Get("from"), values.Get("to"))
	}
	return from, to, nil
}

// ReconciliationResponse is the books of a period.
type ReconciliationResponse struct {
	// From and Before bound the period: From <= t < Before; absent when
	// unbounded.
	From     *time.Time `json:"from,omitempty"`
	Before   *time.Time `json:"before,omitempty"`
	TimeZone string     `json:"time_zone"`
	// AsOf is when outstanding amounts are measured and aged: now, or the
	// end of the period.
	AsOf             time.Time             `json:"as_of"`
	Totals           []ReconciliationTotal `json:"totals"`
	Discrepancies    []DiscrepancyResponse `json:"discrepancies"`
	DiscrepancyCount int                   `json:"discrepancy_count"`
}

// ReconciliationTotal is one currency and kind. Amounts are exact decimal
// strings.
type ReconciliationTotal struct {
	Currency          string            `json:"currency"`
	Kind              string            `json:"kind"`
	Approved          string            `json:"approved"`
	Paid              string            `json:"paid"`
	Outstanding       string            `json:"outstanding"`
	OutstandingClaims int               `json:"outstanding_claims"`
	OldestOutstanding *time.Time        `json:"oldest_outstanding_at,omitempty"`
	OldestAgeDays     *int              `json:"oldest_outstanding_age_days,omitempty"`
	Aging             map[string]string `json:"aging"`
}

// DiscrepancyResponse is one problem in a claim's money history, linked to
// the claim and the events behind it.
type DiscrepancyResponse struct {
	Type     string            `json:"type"`
	Kind     string            `json:"kind"`
	ClaimID  uuid.UUID         `json:"claim_id"`
	Number   string            `json:"number"`
	Amount   string            `json:"amount"`
	Currency string            `json:"currency"`
	At       time.Time         `json:"at"`
	EventIDs []uuid.UUID       `json:"event_ids"`
	Detail   string            `json:"detail"`
	Links    map[string]string `json:"links"`
}

func (s *server) reconciliation(c *echo.Context) error {
	values := c.QueryParams()
	if err := checkFinanceParams(values, reconciliationParams); err != nil {
		return err
	}
	from, to, err := s.period(values)
	if err != nil {
		return err
	}
	if err := s.waitForPosition(c, projections.Compensations); err != nil {
		return err
	}
	rec, err := s.cfg.Reads.Reconciliation(c.Request().Context(), projections.ReconciliationQuery{From: from, To: to, AsOf: s.cfg.Clock()})
	if err != nil {
		return err
	}
	loc := s.cfg.FinanceLocation
	out := ReconciliationResponse{
		TimeZone: loc.String(), AsOf: rec.AsOf.In(loc),
		Totals:           make([]ReconciliationTotal, len(rec.Totals)),
		Discrepancies:    make([]DiscrepancyResponse, len(rec.Discrepancies)),
		DiscrepancyCount: rec.DiscrepancyCount,
	}
	if !from.IsZero() {
		f := from.In(loc)
		out.From = &f
	}
	if !to.IsZero() {
		b := to.In(loc)
		out.Before = &b
	}
	for i, t := range rec.Totals {
		r := ReconciliationTotal{
			Currency: t.Currency, Kind: t.Kind, Approved: t.Approved.Decimal(), Paid: t.Paid.Decimal(),
			Outstanding: t.Outstanding.Decimal(), OutstandingClaims: t.OutstandingClaims, Aging: map[string]string{},
		}
		for b, name := range projections.AgingBuckets {
			r.Aging[name] = t.Aging[b].Decimal()
		}
		if !t.OldestOutstanding.IsZero() {
			oldest := t.OldestOutstanding.In(loc)
			days := int(rec.AsOf.Sub(t.OldestOutstanding) / (24 * time.Hour))
			r.OldestOutstanding, r.OldestAgeDays = &oldest, &days
		}
		out.Totals[i] = r
	}
	for i, d := range rec.Discrepancies {
		out.Discrepancies[i] = DiscrepancyResponse{
			Type: d.Type, Kind: d.Kind, ClaimID: d.ClaimID, Number: d.Number,
			Amount: d.Amount.Decimal(), Currency: d.Amount.Currency, At: d.At.In(loc), EventIDs: d.EventIDs, Detail: d.Detail,
			Links: map[string]string{
				"claim":  fmt.Sprintf("/v1/claims/%s", d.ClaimID),
				"events": fmt.Sprintf("/v1/claims/%s/events", d.ClaimID),
			},
		}
	}
	return c.JSON(http.StatusOK, out)
}
