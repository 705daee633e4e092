package console

import (
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
	"github.com/rmaledger/rmaledger/projections"
)

// maxRows bounds the rows a queue page shows; the CSV export holds them
// all.
const maxRows = projections.MaxSearchLimit

// queues are the tabs, in the order the desk works through them.
var queues = projections.QueueNames()

func queueNamed(name string) bool { return slices.Contains(queues, name) }

// searchIDs finds the claims whose number, phone, e-mail, serial or IMEI
// is text.
func (s *console) searchIDs(ctx context.Context, text string) ([]uuid.UUID, error) {
	queries := []projections.SearchQuery{{Number: text}, {Serial: text}, {Phone: text}}
	if strings.Contains(text, "@") {
		queries = append(queries, projections.SearchQuery{Email: text})
	}
	ids := []uuid.UUID{}
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
			if !slices.Contains(ids, item.ID) {
				ids = append(ids, item.ID)
			}
		}
	}
	return ids, nil
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

// rowView is a row of the table as drawn, every text made once in Go: a
// queue page draws up to maxRows of them, and a template's lookups and
// calls cost far more per row than this.
type rowView struct {
	Href, Number, Customer, Product, Unit, Status, Assignee, Age, Due string
	DueSoon, Breached                                                 bool
}

// labelsView are the column names each cell repeats for a phone's
// stacked layout, and the row tags.
type labelsView struct {
	Number, Customer, Product, Status, Assignee, Age, Due, Overdue, DueSoon string
}

type queuesView struct {
	Tabs    []tabView
	Tab     string
	Search  string
	Columns []columnView
	Labels  labelsView
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
	if !slices.Contains(projections.QueueSortColumns(), by) {
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

// today is the start of the current day in the policy's time zone.
func (s *console) today() time.Time {
	now := s.cfg.Clock().In(s.cfg.Location)
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.cfg.Location)
}

// pageQuery reads what a queue page asks for: a tab's claims or a
// search's, in the order chosen, with clocks for a role that may read them.
func (s *console) pageQuery(c *echo.Context) (tab string, q projections.QueueQuery, err error) {
	tab = c.QueryParam("tab")
	if !queueNamed(tab) {
		tab = queues[0]
	}
	p := personOf(c)
	by, desc := sortParams(c)
	q = projections.QueueQuery{
		Queue: tab, Person: p.Name, Today: s.today(), At: s.cfg.Clock(),
		Clocks: api.Allowed(api.Role(p.Role), api.PermReadSLA), Sort: by, Descending: desc, Limit: maxRows,
	}
	if text := searchText(c); text != "" {
		tab = ""
		if q.Claims, err = s.searchIDs(c.Request().Context(), text); err != nil {
			return "", q, err
		}
	}
	return tab, q, nil
}

func (s *console) queues(c *echo.Context) error {
	if !mayRead(personOf(c)) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	tab, q, err := s.pageQuery(c)
	if err != nil {
		return s.fail(c, err)
	}
	page, err := s.cfg.Reads.Queue(c.Request().Context(), q)
	if err != nil {
		return s.fail(c, err)
	}
	loc := s.locale(c)
	text := searchText(c)
	v := queuesView{Tab: tab, Search: text}
	for _, name := range queues {
		v.Tabs = append(v.Tabs, tabView{Name: name, Href: QueuesPath + "?tab=" + name, Count: page.Counts[name], Current: name == tab})
	}
	by, desc := q.Sort, q.Descending
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
	v.Total = page.Counts[tab]
	if tab == "" {
		v.Total = len(q.Claims)
	}
	v.Labels = labelsView{
		Number: loc.T("column.number"), Customer: loc.T("column.customer"), Product: loc.T("column.product"),
		Status: loc.T("column.status"), Assignee: loc.T("column.assignee"), Age: loc.T("column.age"), Due: loc.T("column.due"),
		Overdue: loc.T("queues.overdue"), DueSoon: loc.T("queues.due-soon"),
	}
	for _, r := range page.Rows {
		due := ""
		if !r.NextDue.IsZero() {
			due = loc.dateTime(r.NextDue.In(s.cfg.Location))
		}
		v.Rows = append(v.Rows, rowView{
			Href: Prefix + "/claims/" + r.ID.String(), Number: r.Number, Customer: r.CustomerName,
			Product: strings.TrimSpace(r.ProductSKU + " " + r.ProductCategory), Unit: r.Serial + r.IMEI,
			Status: loc.codeName("status.", string(r.Status)), Assignee: r.Assignee,
			Age: age(loc, now.Sub(r.RegisteredAt)), Due: due, DueSoon: r.DueSoon, Breached: r.Breached,
		})
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
	tab, q, err := s.pageQuery(c)
	if err != nil {
		return s.fail(c, err)
	}
	q.Limit = projections.MaxSearchLimit
	page, err := s.cfg.Reads.Queue(c.Request().Context(), q)
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
	for {
		if err := s.writeRows(w, page.Rows); err != nil {
			return err
		}
		if len(page.Rows) < q.Limit {
			break
		}
		// The rest of the queue, a page at a time, without counting again.
		q.Offset, q.ListOnly = q.Offset+q.Limit, true
		if page, err = s.cfg.Reads.Queue(c.Request().Context(), q); err != nil {
			return err // the answer has begun: the error ends it short
		}
	}
	w.Flush()
	return w.Error()
}

// writeRows writes queue rows as CSV lines.
func (s *console) writeRows(w *csv.Writer, rows []projections.QueueRow) error {
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
	return w.Error()
}

// csvSafe keeps a spreadsheet from reading a customer's text as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
