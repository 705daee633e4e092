package console

import (
	"cmp"
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/projections"
)

// OverviewPath is the manager's dashboard.
const OverviewPath = Prefix + "/overview"

// Bounds of the overview's period, in weeks.
const (
	defaultOverviewWeeks = 12
	maxOverviewWeeks     = 52
	// topReasons is how many void reasons the overview names.
	topReasons = 8
)

// turnaroundBuckets split registration-to-closure times; the last is
// open-ended.
var turnaroundBuckets = []struct {
	Key  string
	Upto time.Duration
}{
	{"overview.within-1d", 24 * time.Hour},
	{"overview.within-3d", 3 * 24 * time.Hour},
	{"overview.within-7d", 7 * 24 * time.Hour},
	{"overview.within-14d", 14 * 24 * time.Hour},
	{"overview.within-30d", 30 * 24 * time.Hour},
	{"overview.over-30d", 0},
}

// MayOverview reports whether the person may see the overview: a role the
// API lets read claims.
func (v *view) MayOverview() bool {
	return v.Person != nil && mayRead(*v.Person) && !isPartner(*v.Person)
}

// overviewFigures are the overview's numbers, before any language.
type overviewFigures struct {
	Weeks      []time.Time // each week's Monday, oldest first
	Opened     []int64
	Closed     []int64
	SLAMet     map[string]int64 // per clock name
	SLABreach  map[string]int64
	Turnaround []int64 // per turnaroundBuckets
	Voids      map[string]int64
	Outcomes   map[string]int64
	// Refunded is money refunded per month ("2026-11") and currency.
	Refunded map[string]map[string]int64
	Months   []time.Time
	Claims   int // claims read
	Capped   bool
}

// weekStart is the Monday 00:00 of t's week, in zone.
func weekStart(t time.Time, zone *time.Location) time.Time {
	t = t.In(zone)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, zone)
	back := (int(day.Weekday()) + 6) % 7
	return day.AddDate(0, 0, -back)
}

// overviewFigures reads the claims changed in the period's weeks (this one
// and the weeks before it) and sums them up.
func (s *console) overviewFigures(ctx context.Context, weeks int) (overviewFigures, error) {
	zone := s.cfg.Location
	now := s.cfg.Clock()
	start := weekStart(now, zone).AddDate(0, 0, -7*(weeks-1))
	f := overviewFigures{
		Opened: make([]int64, weeks), Closed: make([]int64, weeks),
		SLAMet: map[string]int64{}, SLABreach: map[string]int64{},
		Turnaround: make([]int64, len(turnaroundBuckets)),
		Voids:      map[string]int64{}, Outcomes: map[string]int64{},
		Refunded: map[string]map[string]int64{},
	}
	for i := range weeks {
		f.Weeks = append(f.Weeks, start.AddDate(0, 0, 7*i))
	}
	for m := time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, zone); !m.After(now); m = m.AddDate(0, 1, 0) {
		f.Months = append(f.Months, m)
	}
	week := func(t time.Time) int {
		if t.IsZero() || t.Before(start) || t.After(now) {
			return -1
		}
		return int(t.Sub(start) / (7 * 24 * time.Hour))
	}
	inPeriod := func(t time.Time) bool { return week(t) >= 0 }

	q := projections.SearchQuery{UpdatedSince: start, Limit: projections.MaxSearchLimit}
	for {
		page, err := s.cfg.Reads.Search(ctx, q)
		if err != nil {
			return f, err
		}
		for _, item := range page.Items {
			if f.Claims >= maxOverviewClaims {
				f.Capped = true
				break
			}
			f.Claims++
			if err := s.addClaim(ctx, &f, item, now, week, inPeriod); err != nil {
				return f, err
			}
		}
		if page.NextCursor == "" || f.Capped {
			break
		}
		q.Cursor = page.NextCursor
	}
	return f, nil
}

// addClaim counts one claim into the figures.
func (s *console) addClaim(ctx context.Context, f *overviewFigures, item projections.ClaimSummary, now time.Time,
	week func(time.Time) int, inPeriod func(time.Time) bool,
) error {
	if w := week(item.RegisteredAt); w >= 0 {
		f.Opened[w]++
	}
	rec, err := s.cfg.Reads.Claim(ctx, item.ID)
	if errors.Is(err, projections.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st := rec.State
	if c := st.Closure; c != nil {
		if w := week(c.ClosedAt); w >= 0 {
			f.Closed[w]++
			took := c.ClosedAt.Sub(st.RegisteredAt)
			i := slices.IndexFunc(turnaroundBuckets, func(b struct {
				Key  string
				Upto time.Duration
			}) bool {
				return b.Upto == 0 || took < b.Upto
			})
			f.Turnaround[i]++
		}
	}
	if d := st.Diagnosis; d != nil && inPeriod(d.DiagnosedAt) {
		f.Outcomes[d.Outcome]++
		if d.VoidReasonCode != "" {
			f.Voids[d.VoidReasonCode]++
		}
	}
	if r := st.Refund; r != nil {
		for _, p := range r.Payments {
			if p.Reversed || !inPeriod(p.PaidAt) {
				continue
			}
			month := p.PaidAt.In(s.cfg.Location).Format("2006-01")
			if f.Refunded[month] == nil {
				f.Refunded[month] = map[string]int64{}
			}
			f.Refunded[month][p.Amount.Currency] += p.Amount.Amount
		}
	}
	clocks, err := s.cfg.Reads.ClaimClocks(ctx, item.ID, now)
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		return err
	}
	for _, c := range clocks {
		switch {
		case c.State == string(domain.ClockMet) && inPeriod(c.StoppedAt):
			f.SLAMet[c.Name]++
		case c.State == string(domain.ClockMissed) && inPeriod(c.StoppedAt),
			c.State == domain.TimerBreached:
			f.SLABreach[c.Name]++
		}
	}
	return nil
}

// maxOverviewClaims bounds the claims one overview reads, so that one
// request cannot read an unbounded table; a busier period shows the most
// recently changed ones and says so.
const maxOverviewClaims = 5000

// overviewView is the overview page's data.
type overviewView struct {
	Weeks  int
	Claims int
	Capped bool
	Charts []chart
}

// overviewWeeks reads the period asked for: default 12 weeks, at most 52.
func overviewWeeks(c *echo.Context) (int, bool) {
	text := c.QueryParam("weeks")
	if text == "" {
		return defaultOverviewWeeks, true
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 || n > maxOverviewWeeks {
		return 0, false
	}
	return n, true
}

func (s *console) overview(c *echo.Context) error {
	weeks, ok := overviewWeeks(c)
	if !ok {
		return s.refuse(c, http.StatusBadRequest, "overview.bad-period")
	}
	f, err := s.overviewFigures(c.Request().Context(), weeks)
	if err != nil {
		return s.fail(c, err)
	}
	loc := s.locale(c)
	return s.render(c, http.StatusOK, "overview", "overview.title", overviewView{
		Weeks: weeks, Claims: f.Claims, Capped: f.Capped, Charts: overviewCharts(loc, f),
	})
}

// overviewCharts words the figures as charts in the page's language.
func overviewCharts(loc *locale, f overviewFigures) []chart {
	weekly := chart{ID: "weekly", Caption: loc.T("overview.weekly"),
		Series: []string{loc.T("overview.opened"), loc.T("overview.closed")}}
	for i, w := range f.Weeks {
		weekly.Rows = append(weekly.Rows, chartRow{
			Label:  loc.date(domain.Date{Year: w.Year(), Month: w.Month(), Day: w.Day()}),
			Values: []int64{f.Opened[i], f.Closed[i]},
		})
	}
	sla := chart{ID: "sla", Caption: loc.T("overview.sla"),
		Series: []string{loc.T("overview.met"), loc.T("overview.breached")}}
	for _, name := range domain.ClockNames() {
		sla.Rows = append(sla.Rows, chartRow{
			Label: loc.codeName("clock.", name), Values: []int64{f.SLAMet[name], f.SLABreach[name]},
		})
	}
	turnaround := chart{ID: "turnaround", Caption: loc.T("overview.turnaround"), Series: []string{loc.T("overview.claims")}}
	for i, b := range turnaroundBuckets {
		turnaround.Rows = append(turnaround.Rows, chartRow{Label: loc.T(b.Key), Values: []int64{f.Turnaround[i]}})
	}
	voids := countChart(loc, "voids", "overview.voids", f.Voids, topReasons)
	outcomes := countChart(loc, "outcomes", "overview.outcomes", f.Outcomes, 0)

	refunds := chart{ID: "refunds", Caption: loc.T("overview.refunds"), Series: []string{loc.T("overview.refunded")}}
	for _, m := range f.Months {
		month := m.Format("2006-01")
		currencies := make([]string, 0, len(f.Refunded[month]))
		for cur := range f.Refunded[month] {
			currencies = append(currencies, cur)
		}
		slices.Sort(currencies)
		if len(currencies) == 0 {
			refunds.Rows = append(refunds.Rows, chartRow{Label: month, Values: []int64{0}, Texts: []string{"0"}})
		}
		for _, cur := range currencies {
			amount := domain.Money{Amount: f.Refunded[month][cur], Currency: cur}
			refunds.Rows = append(refunds.Rows, chartRow{
				Label: month + " " + cur, Values: []int64{amount.Amount}, Texts: []string{loc.money(amount)},
			})
		}
	}
	return []chart{weekly, sla, turnaround, voids, outcomes, refunds}
}

// countChart charts counts per code, most first, at most top rows (0: all).
func countChart(loc *locale, id, caption string, counts map[string]int64, top int) chart {
	c := chart{ID: id, Caption: loc.T(caption), Series: []string{loc.T("overview.claims")}}
	codes := make([]string, 0, len(counts))
	for code := range counts {
		codes = append(codes, code)
	}
	slices.SortFunc(codes, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
	if top > 0 && len(codes) > top {
		codes = codes[:top]
	}
	for _, code := range codes {
		c.Rows = append(c.Rows, chartRow{Label: loc.codeName("option.", code), Values: []int64{counts[code]}})
	}
	return c
}

// mountOverview serves the overview to every role that may read claims.
func (s *console) mountOverview(g *echo.Group, base *template.Template) error {
	if err := s.addPage(base, "overview"); err != nil {
		return err
	}
	g.GET("/overview", s.overview, s.signedIn, s.permitted(mayRead))
	return nil
}

// addPage parses one more page inside the layout.
func (s *console) addPage(base *template.Template, name string) error {
	t, err := base.Clone()
	if err != nil {
		return err
	}
	s.pages[name], err = t.ParseFS(assets, "assets/"+name+".html")
	return err
}

// permitted refuses with 403, writing nothing, a person whose role may not.
func (s *console) permitted(may func(Person) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if !may(personOf(c)) {
				return s.refuse(c, http.StatusForbidden, "refused.role")
			}
			return next(c)
		}
	}
}
