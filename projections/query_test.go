package projections

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
)

// searchWorld is 28 claims written through the ledger, projected, with
// their states as the ledger folds them: the expected answers.
func searchWorld(t *testing.T) (*world, *Runner, []claimInfo, map[uuid.UUID]domain.State) {
	t.Helper()
	w := newWorld(t)
	claims := w.register(0, 28)
	r := startRunner(t, w.store, testConfig(t.TempDir()))
	waitFor(t, r, w.head())
	states := make(map[uuid.UUID]domain.State)
	for _, c := range claims {
		s, _, err := w.ledger.Claim(context.Background(), c.id)
		if err != nil {
			t.Fatal(err)
		}
		states[c.id] = s
	}
	return w, r, claims, states
}

func ids(items []ClaimSummary) []uuid.UUID {
	out := make([]uuid.UUID, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func expect(claims []claimInfo, states map[uuid.UUID]domain.State, keep func(claimInfo, domain.State) bool) []uuid.UUID {
	var out []uuid.UUID
	for _, c := range claims {
		if keep(c, states[c.id]) {
			out = append(out, c.id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func TestSearch(t *testing.T) {
	_, r, claims, states := searchWorld(t)
	ctx := context.Background()
	median := states[claims[14].id].UpdatedAt

	filters := []struct {
		name  string
		query SearchQuery
		keep  func(claimInfo, domain.State) bool
	}{
		{"number", SearchQuery{Number: claims[5].number}, func(c claimInfo, _ domain.State) bool { return c.i == 5 }},
		{"number in lower case", SearchQuery{Number: strings.ToLower(claims[6].number)}, func(c claimInfo, _ domain.State) bool { return c.i == 6 }},
		{"serial", SearchQuery{Serial: "SN-000004"}, func(c claimInfo, _ domain.State) bool { return c.i == 4 }},
		{"imei", SearchQuery{Serial: imei(3)}, func(c claimInfo, _ domain.State) bool { return c.i == 3 }},
		{"imei typed with dashes", SearchQuery{Serial: imei(7)[:5] + "-" + imei(7)[5:]}, func(c claimInfo, _ domain.State) bool { return c.i == 7 }},
		{"phone typed another way", SearchQuery{Phone: "+35988 000 0002"}, func(c claimInfo, _ domain.State) bool { return c.i/2 == 2 }},
		{"phone in its national form", SearchQuery{Phone: "088 000 0002"}, func(c claimInfo, _ domain.State) bool { return c.i/2 == 2 }},
		{"email in another case", SearchQuery{Email: "CUSTOMER3@example.BG"}, func(c claimInfo, _ domain.State) bool { return c.i/2 == 3 }},
		{"statuses", SearchQuery{Statuses: []domain.Status{domain.StatusClosed, domain.StatusInTransit}}, func(_ claimInfo, s domain.State) bool {
			return s.Status == domain.StatusClosed || s.Status == domain.StatusInTransit
		}},
		{"updated since", SearchQuery{UpdatedSince: median}, func(_ claimInfo, s domain.State) bool { return !s.UpdatedAt.Before(median) }},
		{"phone and status", SearchQuery{Phone: phone(0), Statuses: []domain.Status{domain.StatusClosed}}, func(c claimInfo, s domain.State) bool {
			return c.i/2 == 0 && s.Status == domain.StatusClosed
		}},
		{"assignee", SearchQuery{Assignee: " " + staffName}, func(_ claimInfo, s domain.State) bool { return s.Assignee == staffName }},
		{"unassigned", SearchQuery{Unassigned: true}, func(_ claimInfo, s domain.State) bool { return s.Assignee == "" }},
		{"assignee and status", SearchQuery{Assignee: intakeClerk, Statuses: []domain.Status{domain.StatusInRepair}}, func(_ claimInfo, s domain.State) bool {
			return s.Assignee == intakeClerk && s.Status == domain.StatusInRepair
		}},
		{"no match", SearchQuery{Serial: "SN-NOPE"}, func(claimInfo, domain.State) bool { return false }},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			page, err := r.Search(ctx, f.query)
			if err != nil {
				t.Fatal(err)
			}
			want := expect(claims, states, f.keep)
			if got := ids(page.Items); !slices.Equal(got, want) {
				t.Fatalf("got %d claims %v, want %d %v", len(got), got, len(want), want)
			}
			if page.NextCursor != "" {
				t.Fatalf("one page of results has a next cursor")
			}
			if f.name != "no match" && len(want) == 0 {
				t.Fatalf("the fixture has no claim for this filter; the case tests nothing")
			}
			for _, it := range page.Items {
				s := states[it.ID]
				if it.Number != s.Number || it.Status != s.Status || it.Version != s.Version || !it.UpdatedAt.Equal(s.UpdatedAt) ||
					it.CustomerPhone != s.Customer.Phone || it.CustomerEmail != s.Customer.Email || it.Serial != s.Product.Serial || it.IMEI != s.Product.IMEI ||
					it.Assignee != s.Assignee || !slices.Equal(it.AllowedActions, domain.AllowedActions(s)) {
					t.Fatalf("summary %+v does not match the claim %+v", it, s)
				}
			}
		})
	}

	t.Run("pagination", func(t *testing.T) {
		for _, q := range []SearchQuery{{Limit: 4}, {Limit: 3, Statuses: []domain.Status{domain.StatusClosed, domain.StatusDiagnosed, domain.StatusInRepair}}, {Limit: 1, UpdatedSince: median}} {
			var (
				all   []ClaimSummary
				pages int
			)
			for {
				page, err := r.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(page.Items) > q.Limit {
					t.Fatalf("page of %d, limit %d", len(page.Items), q.Limit)
				}
				all = append(all, page.Items...)
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			q.Cursor = ""
			want := expect(claims, states, func(c claimInfo, s domain.State) bool {
				return (len(q.Statuses) == 0 || slices.Contains(q.Statuses, s.Status)) && !s.UpdatedAt.Before(q.UpdatedSince)
			})
			if got := ids(all); !slices.Equal(got, want) {
				t.Fatalf("%+v: pages gave %d claims, want %d (duplicates or gaps)", q, len(got), len(want))
			}
			if pages < 2 {
				t.Fatalf("%+v: %d page(s); the case tests no pagination", q, pages)
			}
			if !slices.IsSortedFunc(all, func(a, b ClaimSummary) int {
				if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
					return c
				}
				return strings.Compare(a.ID.String(), b.ID.String())
			}) {
				t.Fatal("results are not in (updated_at, id) order across pages")
			}
		}
	})

	t.Run("a claim changed while paging is seen again, not skipped", func(t *testing.T) {
		// A change moves a claim to the end of the order: it cannot fall
		// between two pages.
		first, err := r.Search(ctx, SearchQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		moved := first.Items[0]
		addNote(t, r, moved.ID)
		var rest []ClaimSummary
		q := SearchQuery{Limit: 10, Cursor: first.NextCursor}
		for {
			page, err := r.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			rest = append(rest, page.Items...)
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
		if !slices.ContainsFunc(rest, func(s ClaimSummary) bool { return s.ID == moved.ID && s.Version == moved.Version+1 }) {
			t.Fatalf("the claim changed while paging was not seen again with its change")
		}
	})

	t.Run("an assignment after the claim was stored moves it between assignees", func(t *testing.T) {
		svc, err := ledger.New(r.store, ledger.Config{})
		if err != nil {
			t.Fatal(err)
		}
		id := claims[2].id // a refund under way, never assigned
		found := func(q SearchQuery) bool {
			page, err := r.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(page.Items, func(s ClaimSummary) bool { return s.ID == id })
		}
		if !found(SearchQuery{Unassigned: true, Limit: MaxSearchLimit}) {
			t.Fatal("the claim is not unassigned to begin with")
		}
		for _, who := range []string{"New Owner", ""} {
			res, err := svc.Execute(ctx, id, &domain.AssignClaim{Assignee: who}, req)
			var ite *domain.InvalidTransitionError
			if errors.As(err, &ite) {
				t.Fatalf("fixture claim 2 is %s: pick an open claim", ite.From)
			}
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, r, res.Position)
			if got := found(SearchQuery{Assignee: "New Owner"}); got != (who != "") {
				t.Errorf("assigned to %q: found by assignee %v", who, got)
			}
			if got := found(SearchQuery{Unassigned: true, Limit: MaxSearchLimit}); got != (who == "") {
				t.Errorf("assigned to %q: found unassigned %v", who, got)
			}
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for _, q := range []SearchQuery{
			{Cursor: "!!!"},
			{Cursor: "bm90IGEgY3Vyc29y"},
			{Phone: "call me"},
			{Statuses: []domain.Status{"lost"}},
			{Limit: -1},
			{Assignee: staffName, Unassigned: true},
		} {
			if _, err := r.Search(ctx, q); !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("%+v: %v, want ErrInvalidQuery", q, err)
			}
		}
		page, err := r.Search(ctx, SearchQuery{Limit: 10 * MaxSearchLimit})
		if err != nil || len(page.Items) != len(claims) {
			t.Fatalf("a limit above the maximum: %d items, %v", len(page.Items), err)
		}
	})
}

// addNote adds a note to a claim through a ledger over the runner's store
// and waits until the runner shows it.
func addNote(t *testing.T, r *Runner, id uuid.UUID) {
	t.Helper()
	svc, err := ledger.New(r.store, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Execute(context.Background(), id, &domain.AddNote{Text: "Called the customer."}, req)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, res.Position)
}

func TestStatusLookup(t *testing.T) {
	_, r, claims, states := searchWorld(t)
	ctx := context.Background()

	sawDue := false
	for _, c := range claims {
		s := states[c.id]
		v, err := r.StatusLookup(ctx, c.number, phone(c.i))
		if err != nil {
			t.Fatalf("claim %d: %v", c.i, err)
		}
		if v.Number != s.Number || v.Status != s.Status || !v.UpdatedAt.Equal(s.UpdatedAt) || v.NextStep == "" {
			t.Fatalf("claim %d: view %+v, claim status %s", c.i, v, s.Status)
		}
		if len(v.Timeline) == 0 || v.Timeline[0].Step != "registered" || v.Timeline[len(v.Timeline)-1].Status != s.Status {
			t.Fatalf("claim %d: timeline %+v", c.i, v.Timeline)
		}
		// "Expected by" is the earliest running customer-facing clock, as
		// the timers read model (a separate fold) has the claim's clocks.
		clocks, err := r.ClaimClocks(ctx, c.id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var want *time.Time
		for _, k := range clocks {
			if k.Status == domain.ClockRunning && k.Name != domain.ClockRepairHardLimit && (want == nil || k.DueAt.Before(*want)) {
				want = &k.DueAt
			}
		}
		if (want == nil) != (v.NextStepDue == nil) || want != nil && !want.Equal(*v.NextStepDue) {
			t.Fatalf("claim %d (%s): next step due %v, the running clocks say %v", c.i, s.Status, v.NextStepDue, want)
		}
		if want != nil {
			sawDue = true
		}
		// The same phone typed another way, and the number in lower case.
		alt := strings.ReplaceAll(normalisedPhone(c.i), "88", "(88) ")
		if _, err := r.StatusLookup(ctx, strings.ToLower(c.number), alt); err != nil {
			t.Fatalf("claim %d with %q: %v", c.i, alt, err)
		}
		// Never with another phone: every other customer's phone fails.
		for _, o := range claims {
			if normalisedPhone(o.i) == normalisedPhone(c.i) {
				continue
			}
			if _, err := r.StatusLookup(ctx, c.number, phone(o.i)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("claim %d looked up with claim %d's phone: %v", c.i, o.i, err)
			}
		}
		if c.i%7 == 1 && s.Estimate != nil {
			if v.Estimate == nil || v.Estimate.Total != s.Estimate.Total {
				t.Fatalf("claim %d: estimate %+v, want %+v", c.i, v.Estimate, s.Estimate)
			}
			if s.Status != domain.StatusEstimateIssued && (len(v.Notes) != 1 || v.Notes[0].Text != customerNote) {
				t.Fatalf("claim %d: customer notes %+v", c.i, v.Notes)
			}
		}
		if s.CustomerShipment != nil && (v.CustomerShipment == nil || v.CustomerShipment.TrackingNumber != s.CustomerShipment.TrackingNumber) {
			t.Fatalf("claim %d: customer shipment %+v", c.i, v.CustomerShipment)
		}
	}
	if !sawDue {
		t.Error("no claim has a next step due: the fixture runs no clock")
	}
	for _, bad := range [][2]string{
		{"RMA-2026-999999", phone(0)},
		{claims[0].number, ""},
		{claims[0].number, "not a phone"},
		{"", phone(0)},
	} {
		if _, err := r.StatusLookup(ctx, bad[0], bad[1]); !errors.Is(err, ErrNotFound) {
			t.Fatalf("lookup %q: %v, want ErrNotFound", bad, err)
		}
	}

	t.Run("stores nothing the page may not show", func(t *testing.T) {
		g, release := r.byName[StatusPage].acquire()
		rows, err := r.db.r.Query(`SELECT * FROM ` + statusTable(g.number))
		release()
		if err != nil {
			t.Fatal(err)
		}
		table := strings.Join(scanAll(t, rows), "\n")
		secrets := []string{internalNote, staffName, intakeClerk, "Customer 1", "xample.bg", "+359880", "Does not power on", "PAY-1", "REF-1", "129.90", "50.00", "SN-0000", "R-1"}
		for _, s := range secrets {
			if strings.Contains(table, s) {
				t.Errorf("the status read model contains %q", s)
			}
		}
		for _, public := range []string{customerNote, "SP0000", "Service Sofia", "75.00"} {
			if !strings.Contains(table, public) {
				t.Errorf("the status read model lacks %q, which the page shows", public)
			}
		}
	})
}
