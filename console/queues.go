package console

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/projections"
)

// maxQueueClaims bounds the open claims one queue page reads, so that one
// request cannot read an unbounded table; a desk with more open claims
// than this sees the most recently changed ones.
const maxQueueClaims = 5000

// maxRows bounds the rows a queue page shows; the CSV export holds them
// all.
const maxRows = 200

// row is one claim in a queue, with its SLA clocks summed up.
type row struct {
	projections.ClaimSummary
	NextDue  time.Time // the earliest due time of its running clocks
	DueSoon  bool
	Breached bool
	// ReceivedAt is when the goods came in, read only for a claim
	// received and changed today (see receivedToday).
	ReceivedAt time.Time
	// Mine: the claim is assigned to the signed-in person.
	Mine bool
}

// queue is a tab of the desk's home: which claims it holds.
type queue struct {
	Name string
	has  func(r row, today time.Time) bool
}

func statusIn(statuses ...domain.Status) func(row, time.Time) bool {
	return func(r row, _ time.Time) bool { return slices.Contains(statuses, r.Status) }
}

// queues are the tabs, in the order the desk works through them.
var queues = []queue{
	{"decision", statusIn(domain.StatusRegistered)},
	{"documents", func(r row, _ time.Time) bool {
		return r.Status == domain.StatusAuthorized && r.NextAction == domain.ActionReceiveDocuments
	}},
	{"arrival", func(r row, _ time.Time) bool {
		return (r.Status == domain.StatusAuthorized && r.NextAction != domain.ActionReceiveDocuments) || r.Status == domain.StatusInTransit
	}},
	{"intake-today", func(r row, today time.Time) bool {
		return r.Status == domain.StatusReceived && !r.ReceivedAt.Before(today)
	}},
	{"diagnosis", statusIn(domain.StatusReceived, domain.StatusDiagnosed)},
	{"customer", statusIn(domain.StatusEstimateIssued, domain.StatusEstimateAccepted)},
	{"repair", statusIn(domain.StatusPaid, domain.StatusInRepair)},
	{"ship", statusIn(domain.StatusResolved)},
	{"disputes", statusIn(domain.StatusDisputed)},
	{"hold", statusIn(domain.StatusOnHold)},
	{"mine", func(r row, _ time.Time) bool { return r.Mine }},
	{"unassigned", func(r row, _ time.Time) bool { return r.Assignee == "" }},
	{"due-soon", func(r row, _ time.Time) bool { return r.DueSoon }},
	{"breached", func(r row, _ time.Time) bool { return r.Breached }},
}

func queueNamed(name string) (queue, bool) {
	for _, q := range queues {
		if q.Name == name {
			return q, true
		}
	}
	return queue{}, false
}

// openClaims reads every claim not closed, with its clocks.
func (s *console) openClaims(ctx context.Context, p Person) ([]row, error) {
	var open []domain.Status
	for _, st := range domain.Statuses() {
		if st != domain.StatusClosed && st != domain.StatusRejected {
			open = append(open, st)
		}
	}
	var rows []row
	q := projections.SearchQuery{Statuses: open, Limit: projections.MaxSearchLimit}
	for len(rows) < maxQueueClaims {
		page, err := s.cfg.Reads.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			rows = append(rows, row{ClaimSummary: item})
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	clocks, err := s.clocksByClaim(ctx, p)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		if c, ok := clocks[rows[i].ID]; ok {
			rows[i].NextDue, rows[i].DueSoon, rows[i].Breached = c.NextDue, c.DueSoon, c.Breached
		}
		rows[i].Mine = p.Name != "" && rows[i].Assignee == p.Name
	}
	return rows, nil
}

// clocksByClaim sums up the open SLA clocks of every claim; none for a
// role the API does not let read SLA timers.
func (s *console) clocksByClaim(ctx context.Context, p Person) (map[uuid.UUID]row, error) {
	out := map[uuid.UUID]row{}
	if !api.Allowed(api.Role(p.Role), api.PermReadSLA) {
		return out, nil
	}
	q := projections.TimerQuery{At: s.cfg.Clock(), Limit: projections.MaxSearchLimit}
	for n := 0; n < maxQueueClaims; {
		page, err := s.cfg.Reads.Timers(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Items {
			r := out[t.ClaimID]
			if !t.DueAt.IsZero() && (r.NextDue.IsZero() || t.DueAt.Before(r.NextDue)) {
				r.NextDue = t.DueAt
			}
			r.DueSoon = r.DueSoon || t.State == domain.TimerDueSoon
			r.Breached = r.Breached || t.State == domain.TimerBreached
			out[t.ClaimID] = r
		}
		n += len(page.Items)
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	return out, nil
}

// receivedToday reads when the goods came in for the claims that may have
// come in today: received, and changed since the day began (an intake is a
// change), so that a note added today to yesterday's intake does not count.
func (s *console) receivedToday(ctx context.Context, rows []row, today time.Time) error {
	for i := range rows {
		if rows[i].Status != domain.StatusReceived || rows[i].UpdatedAt.Before(today) {
			continue
		}
		rec, err := s.cfg.Reads.Claim(ctx, rows[i].ID)
		if errors.Is(err, projections.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if rec.State.Intake != nil {
			rows[i].ReceivedAt = rec.State.Intake.ReceivedAt
		}
	}
	return nil
}

// search finds claims by number, phone, e-mail, serial or IMEI.
func (s *console) search(ctx context.Context, p Person, text string) ([]row, error) {
	queries := []projections.SearchQuery{{Number: text}, {Serial: text}, {Phone: text}}
	if strings.Contains(text, "@") {
		queries = append(queries, projections.SearchQuery{Email: text})
	}
	clocks, err := s.clocksByClaim(ctx, p)
	if err != nil {
		return nil, err
	}
	seen := map[uuid.UUID]bool{}
	var rows []row
	for _, q := range queries {
		q.Limit = projections.MaxSearchLimit
		page, err := s.cfg.Reads.Search(ctx, q)
		if errors.Is(err, projections.ErrInvalidQuery) {
			continue // not a phone, say
		}
		if err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			if !seen[item.ID] {
				seen[item.ID] = true
				c := clocks[item.ID]
				rows = append(rows, row{ClaimSummary: item, NextDue: c.NextDue, DueSoon: c.DueSoon, Breached: c.Breached})
			}
		}
	}
	return rows, nil
}

// columns are the sortable columns of a queue.
var columns = map[string]func(a, b row) int{
	"number": func(a, b row) int { return cmp.Compare(a.Number, b.Number) },
	"customer": func(a, b row) int {
		return cmp.Compare(strings.ToLower(a.CustomerName), strings.ToLower(b.CustomerName))
	},
	"product": func(a, b row) int { return cmp.Compare(a.ProductSKU+a.Serial+a.IMEI, b.ProductSKU+b.Serial+b.IMEI) },
	"status":  func(a, b row) int { return cmp.Compare(a.Status, b.Status) },
	"assignee": func(a, b row) int {
		return cmp.Compare(strings.ToLower(a.Assignee), strings.ToLower(b.Assignee))
	},
	"age": func(a, b row) int { return a.RegisteredAt.Compare(b.RegisteredAt) * -1 },
	"due": func(a, b row) int { // claims without a running clock last
		switch {
		case a.NextDue.IsZero() && b.NextDue.IsZero():
			return 0
		case a.NextDue.IsZero():
			return 1
		case b.NextDue.IsZero():
			return -1
		}
		return a.NextDue.Compare(b.NextDue)
	},
}

// columnOrder is the order the table shows the columns in.
var columnOrder = []string{"number", "customer", "product", "status", "assignee", "age", "due"}

type tabView struct {
	Name, Href string
	Count      int
	Current    bool
}

type columnView struct {
	// Href sorts a tab by the column; Value is the sort a search's header
	// button posts.
	Name, Href, Value string
	Sorted            string // "ascending", "descending" or ""
}

type rowView struct {
	row
	Href, Age string
}

type queuesView struct {
	Tabs    []tabView
	Tab     string
	Search  string
	Columns []columnView
	Rows    []rowView
	Export  string
	// Descending is the sort direction, for the sort form.
	Descending bool
	// Total is the number of claims in the tab or search; the page shows
	// at most maxRows of them.
	Total int
}

// sortParams reads and checks ?sort= and ?dir=, defaulting to the next due
// time, most urgent first.
func sortParams(c *echo.Context) (string, bool) {
	// A column header of search results is a button whose value carries
	// the direction too: "number:desc".
	by, dir, hasDir := strings.Cut(c.FormValue("sort"), ":")
	if !hasDir {
		dir = c.FormValue("dir")
	}
	if _, ok := columns[by]; !ok {
		by = "due"
	}
	return by, dir == "desc"
}

// searchText is the search of a queue page. A search is posted, never put
// in a URL: a phone number or an e-mail address in a query string would be
// written to access logs, browser history and Referer headers.
func searchText(c *echo.Context) string {
	if c.Request().Method != http.MethodPost {
		return ""
	}
	return strings.TrimSpace(c.Request().PostFormValue("q"))
}

func sortRows(rows []row, by string, desc bool) {
	less := columns[by]
	slices.SortStableFunc(rows, func(a, b row) int {
		if desc {
			return -less(a, b)
		}
		return less(a, b)
	})
}

// today is the start of the current day in the policy's time zone.
func (s *console) today() time.Time {
	now := s.cfg.Clock().In(s.cfg.Location)
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.cfg.Location)
}

// selectRows answers the claims of a queue page: a search's, or a tab's.
func (s *console) selectRows(c *echo.Context) (tab string, counts map[string]int, rows []row, err error) {
	ctx := c.Request().Context()
	tab = c.QueryParam("tab")
	if _, ok := queueNamed(tab); !ok {
		tab = queues[0].Name
	}
	all, err := s.openClaims(ctx, personOf(c))
	if err != nil {
		return "", nil, nil, err
	}
	today := s.today()
	if err := s.receivedToday(ctx, all, today); err != nil {
		return "", nil, nil, err
	}
	counts = map[string]int{}
	for _, q := range queues {
		for _, r := range all {
			if q.has(r, today) {
				counts[q.Name]++
				if q.Name == tab {
					rows = append(rows, r)
				}
			}
		}
	}
	if text := searchText(c); text != "" {
		tab = ""
		if rows, err = s.search(ctx, personOf(c), text); err != nil {
			return "", nil, nil, err
		}
	}
	by, desc := sortParams(c)
	sortRows(rows, by, desc)
	return tab, counts, rows, nil
}

func (s *console) queues(c *echo.Context) error {
	if !mayRead(personOf(c)) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	tab, counts, rows, err := s.selectRows(c)
	if err != nil {
		return s.fail(c, err)
	}
	loc := s.locale(c)
	text := searchText(c)
	v := queuesView{Tab: tab, Search: text}
	for _, q := range queues {
		v.Tabs = append(v.Tabs, tabView{Name: q.Name, Href: QueuesPath + "?tab=" + q.Name, Count: counts[q.Name], Current: q.Name == tab})
	}
	by, desc := sortParams(c)
	v.Descending = desc
	base := QueuesPath + "?tab=" + tab
	for _, name := range columnOrder {
		col := columnView{Name: name, Href: base + "&sort=" + name, Value: name}
		if name == by {
			col.Sorted = "ascending"
			if desc {
				col.Sorted = "descending"
			} else {
				col.Href += "&dir=desc"
				col.Value += ":desc"
			}
		}
		v.Columns = append(v.Columns, col)
	}
	now := s.cfg.Clock()
	v.Total = len(rows)
	if len(rows) > maxRows {
		rows = rows[:maxRows]
	}
	for _, r := range rows {
		v.Rows = append(v.Rows, rowView{row: r, Href: Prefix + "/claims/" + r.ID.String(), Age: age(loc, now.Sub(r.RegisteredAt))})
	}
	v.Export = ExportPath + "?tab=" + tab + "&sort=" + by
	if desc {
		v.Export += "&dir=desc"
	}
	return s.render(c, http.StatusOK, "queues", "queues.title", v)
}

// age writes a claim's age in days and hours.
func age(loc *locale, d time.Duration) string {
	if d < 0 {
		d = 0
	}
	days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	return loc.T("age", days, hours)
}

// exportCSV writes a queue (or a search) as CSV, in the order shown.
func (s *console) exportCSV(c *echo.Context) error {
	if !mayRead(personOf(c)) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	tab, _, rows, err := s.selectRows(c)
	if err != nil {
		return s.fail(c, err)
	}
	name := "queue-" + tab
	if tab == "" {
		name = "search"
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write([]string{"number", "status", "customer_name", "customer_phone", "customer_email", "product_category", "product_sku", "serial", "imei", "registered_at", "updated_at", "next_due_at", "sla"})
	for _, r := range rows {
		due, sla := "", ""
		if !r.NextDue.IsZero() {
			due = r.NextDue.In(s.cfg.Location).Format(time.RFC3339)
		}
		switch {
		case r.Breached:
			sla = "breached"
		case r.DueSoon:
			sla = "due_soon"
		}
		_ = w.Write([]string{
			r.Number, string(r.Status), csvSafe(r.CustomerName), csvSafe(r.CustomerPhone), csvSafe(r.CustomerEmail),
			r.ProductCategory, csvSafe(r.ProductSKU), csvSafe(r.Serial), r.IMEI,
			r.RegisteredAt.In(s.cfg.Location).Format(time.RFC3339), r.UpdatedAt.In(s.cfg.Location).Format(time.RFC3339), due, sla,
		})
	}
	w.Flush()
	return w.Error()
}

// csvSafe keeps a spreadsheet from reading a customer's text as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
