package console

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/csvexport"
	"github.com/rmaledger/rmaledger/projections"
)

// Paths of the finance screen.
const (
	FinancePath    = Prefix + "/finance"
	FinanceCSVPath = Prefix + "/finance.csv"
)

// Finance reads the compensations read model; *projections.Runner is one.
type Finance interface {
	CompensationsPage(ctx context.Context, q projections.CompensationQuery) (projections.CompensationPage, error)
	Reconciliation(ctx context.Context, q projections.ReconciliationQuery) (projections.Reconciliation, error)
}

// mayReadFinance reports whether the role may read the money: the API's
// own table.
func mayReadFinance(p Person) bool { return api.Allowed(api.Role(p.Role), api.PermReadFinance) }

// mountFinance adds the finance screen when Config.Finance is set.
func (s *console) mountFinance(g *echo.Group, base *template.Template) error {
	if s.cfg.Finance == nil {
		return nil
	}
	t, err := base.Clone()
	if err != nil {
		return err
	}
	if s.pages["finance"], err = t.ParseFS(assets, "assets/finance.html"); err != nil {
		return err
	}
	g.GET("/finance", s.finance, s.signedIn, s.onlyIf(mayReadFinance))
	g.GET("/finance.csv", s.financeCSV, s.signedIn, s.onlyIf(mayReadFinance))
	return nil
}

// financeRows is how many compensations the page shows; the CSV holds all.
const financeRows = 200

// financeView is the finance page.
type financeView struct {
	From, To, Kind, Currency, Status string
	Kinds, Statuses                  []string
	Problem                          string
	Rows                             []projections.Compensation
	More                             bool
	Totals                           []projections.ReconciliationTotal
	Discrepancies                    []projections.Discrepancy
	DiscrepancyCount                 int
	Export                           string
}

// financeQuery reads the filters; problem names what is wrong with them.
func (s *console) financeQuery(c *echo.Context) (financeView, projections.CompensationQuery, string) {
	q := c.QueryParams()
	v := financeView{From: q.Get("from"), To: q.Get("to"), Kind: q.Get("kind"), Currency: strings.ToUpper(strings.TrimSpace(q.Get("currency"))),
		Status: q.Get("status"), Kinds: projections.CompensationKinds(), Statuses: projections.CompensationStatuses()}
	var cq projections.CompensationQuery
	var err error
	if cq.From, cq.To, err = s.dayPeriod(v.From, v.To); err != nil {
		return v, cq, "finance.bad-period"
	}
	if v.Kind != "" {
		if !slices.Contains(v.Kinds, v.Kind) {
			return v, cq, "finance.bad-kind"
		}
		cq.Kinds = []string{v.Kind}
	}
	if v.Status != "" {
		if !slices.Contains(v.Statuses, v.Status) {
			return v, cq, "finance.bad-status"
		}
		cq.Statuses = []string{v.Status}
	}
	if v.Currency != "" {
		if _, ok := domain.CurrencyExponent(v.Currency); !ok {
			return v, cq, "finance.bad-currency"
		}
		cq.Currency = v.Currency
	}
	return v, cq, ""
}

func (s *console) finance(c *echo.Context) error {
	v, q, problem := s.financeQuery(c)
	if problem != "" {
		v.Problem = problem
		return s.render(c, http.StatusBadRequest, "finance", "finance.title", v)
	}
	v.Export = FinanceCSVPath
	if raw := c.Request().URL.RawQuery; raw != "" {
		v.Export += "?" + raw
	}
	ctx := c.Request().Context()
	q.Limit = financeRows + 1
	page, err := s.cfg.Finance.CompensationsPage(ctx, q)
	if err != nil {
		return s.fail(c, err)
	}
	v.Rows = page.Items
	if len(v.Rows) > financeRows {
		v.Rows, v.More = v.Rows[:financeRows], true
	}
	rec, err := s.cfg.Finance.Reconciliation(ctx, projections.ReconciliationQuery{From: q.From, To: q.To, AsOf: s.cfg.Clock()})
	if err != nil {
		return s.fail(c, err)
	}
	// The reconciliation follows the currency and kind chosen; a status
	// says nothing of totals, which hold every status.
	keep := func(currency, kind string) bool {
		return (v.Currency == "" || currency == v.Currency) && (v.Kind == "" || kind == v.Kind)
	}
	for _, t := range rec.Totals {
		if keep(t.Currency, t.Kind) {
			v.Totals = append(v.Totals, t)
		}
	}
	v.DiscrepancyCount = rec.DiscrepancyCount
	for _, d := range rec.Discrepancies {
		if keep(d.Amount.Currency, d.Kind) {
			v.Discrepancies = append(v.Discrepancies, d)
		}
	}
	if v.Currency != "" || v.Kind != "" {
		v.DiscrepancyCount = len(v.Discrepancies)
	}
	return s.render(c, http.StatusOK, "finance", "finance.title", v)
}

// compensationCSVHeader names the CSV columns, in order: those of the
// API's GET /v1/finance/compensations?format=csv.
var compensationCSVHeader = []string{
	"event_id", "line", "claim_id", "number", "kind", "entry", "status", "amount", "currency",
	"at", "approved_at", "approved_by", "recorded_by", "role", "settled", "settled_at",
	"reference", "reverses", "reversed_by", "stream", "revision", "position",
}

func (s *console) financeCSV(c *echo.Context) error {
	_, q, problem := s.financeQuery(c)
	if problem != "" {
		return s.refuse(c, http.StatusBadRequest, problem)
	}
	ctx := c.Request().Context()
	q.Limit = projections.MaxCompensationLimit
	page, err := s.cfg.Finance.CompensationsPage(ctx, q)
	if err != nil {
		return s.fail(c, err)
	}
	file := csvexport.File[projections.Compensation]{Name: "compensations.csv", Header: compensationCSVHeader, Record: s.compensationRecord}
	first := csvexport.Page[projections.Compensation]{Items: page.Items, Next: page.NextCursor}
	err = csvexport.Stream(c.Response(), file, first, false, func(cursor string) (csvexport.Page[projections.Compensation], error) {
		q.Cursor = cursor
		page, err := s.cfg.Finance.CompensationsPage(ctx, q)
		return csvexport.Page[projections.Compensation]{Items: page.Items, Next: page.NextCursor}, err
	})
	if err != nil {
		s.cfg.Logger.Error("console: compensations CSV cut short", "error", err)
	}
	return nil
}

// compensationRecord is one CSV line, as the API writes it: times in the
// policy's zone, text a spreadsheet would run defused.
func (s *console) compensationRecord(item projections.Compensation) []string {
	loc := s.cfg.Location
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format(time.RFC3339Nano)
	}
	approvedAt, approvedBy := "", ""
	if item.Entry == projections.EntryApproval && item.Status != projections.StatusReversal {
		approvedAt, approvedBy = ts(item.At), item.Actor
	}
	return []string{
		item.EventID.String(), strconv.Itoa(item.Line), item.ClaimID.String(), cell(item.Number), item.Kind, item.Entry, item.Status,
		item.Amount.Decimal(), item.Amount.Currency, ts(item.At), approvedAt, cell(approvedBy), cell(item.Actor), item.Role,
		item.Settled.Decimal(), ts(item.SettledAt), cell(item.Reference), item.Reverses, strings.Join(item.ReversedBy, " "), item.Stream,
		strconv.FormatUint(item.Revision, 10), item.Position.String(),
	}
}

// cell defuses text a spreadsheet would run as a formula by prefixing an
// apostrophe, as the API's CSV does.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// MayFinance tells the layout to link the finance screen.
func (v *view) MayFinance() bool { return v.Person != nil && mayReadFinance(*v.Person) }
