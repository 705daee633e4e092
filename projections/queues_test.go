package projections

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

// queueWant is the test's own reading of a queue, from the claims' folded
// states and their clocks: what Runner.Queue must answer from its indexes.
func queueWant(name string, s domain.State, clocks []Timer, person string, today time.Time) bool {
	open := s.Status != domain.StatusClosed && s.Status != domain.StatusRejected
	in := func(statuses ...domain.Status) bool { return slices.Contains(statuses, s.Status) }
	switch name {
	case QueueDecision:
		return in(domain.StatusRegistered)
	case QueueDocuments:
		return in(domain.StatusAuthorized) && len(s.DocumentsOutstanding()) > 0
	case QueueArrival:
		return in(domain.StatusAuthorized) && len(s.DocumentsOutstanding()) == 0 || in(domain.StatusInTransit)
	case QueueIntakeToday:
		return in(domain.StatusReceived) && !s.Intake.ReceivedAt.Before(today)
	case QueueDiagnosis:
		return in(domain.StatusReceived, domain.StatusDiagnosed)
	case QueueCustomer:
		return in(domain.StatusEstimateIssued, domain.StatusEstimateAccepted)
	case QueueRepair:
		return in(domain.StatusPaid, domain.StatusInRepair)
	case QueueShip:
		return in(domain.StatusResolved)
	case QueueDisputes:
		return in(domain.StatusDisputed)
	case QueueHold:
		return in(domain.StatusOnHold)
	case QueueMine:
		return open && person != "" && s.Assignee == person
	case QueueUnassigned:
		return open && s.Assignee == ""
	case QueueDueSoon:
		return slices.ContainsFunc(clocks, func(c Timer) bool { return c.State == domain.TimerDueSoon })
	case QueueBreached:
		return slices.ContainsFunc(clocks, func(c Timer) bool { return c.State == domain.TimerBreached })
	}
	panic("unknown queue " + name)
}

// queueOrder is the test's own comparison of two rows for a sort column;
// ties fall back to the last change, oldest first.
func queueOrder(by string, desc bool) func(a, b QueueRow) int {
	key := map[string]func(a, b QueueRow) int{
		"number": func(a, b QueueRow) int { return cmp.Compare(a.Number, b.Number) },
		"customer": func(a, b QueueRow) int {
			return cmp.Compare(strings.ToLower(a.CustomerName), strings.ToLower(b.CustomerName))
		},
		"product": func(a, b QueueRow) int {
			return cmp.Compare(a.ProductSKU+a.Serial+a.IMEI, b.ProductSKU+b.Serial+b.IMEI)
		},
		"status":   func(a, b QueueRow) int { return cmp.Compare(a.Status, b.Status) },
		"assignee": func(a, b QueueRow) int { return cmp.Compare(strings.ToLower(a.Assignee), strings.ToLower(b.Assignee)) },
		"age":      func(a, b QueueRow) int { return b.RegisteredAt.Compare(a.RegisteredAt) },
		"due": func(a, b QueueRow) int { // claims without a running clock last
			if a.NextDue.IsZero() != b.NextDue.IsZero() {
				if a.NextDue.IsZero() {
					return 1
				}
				return -1
			}
			return a.NextDue.Compare(b.NextDue)
		},
	}[by]
	return func(a, b QueueRow) int {
		c := key(a, b)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID.String(), b.ID.String()))
	}
}

// queueWorld is the search world plus claims stopped at every step of
// every path, so that every queue holds some.
func queueWorld(t *testing.T) (*Runner, []claimInfo, map[uuid.UUID]domain.State) {
	w, r, claims, states := searchWorld(t)
	ctx := context.Background()
	for i := range 8 {
		path := lifecycle(i * 3) // whole paths
		for cut := range path {
			res, err := w.ledger.Register(ctx, registration(100+len(claims)), req)
			if err != nil {
				t.Fatal(err)
			}
			for _, cmd := range path[:cut] {
				if res, err = w.ledger.Execute(ctx, res.Claim.ID, cmd, req); err != nil {
					t.Fatalf("path %d step %s: %v", i, cmd.Action(), err)
				}
			}
			claims = append(claims, claimInfo{i: 100 + len(claims), id: res.Claim.ID, number: res.Claim.Number, position: res.Position})
			states[res.Claim.ID] = res.Claim
		}
	}
	waitFor(t, r, w.head())
	return r, claims, states
}

func TestQueue(t *testing.T) {
	r, claims, states := queueWorld(t)
	ctx := context.Background()

	// Judge the clocks at the median due time of the running ones, so that
	// some are breached, and at a moment inside some warning windows.
	var dues []time.Time
	clocksAt := func(at time.Time) map[uuid.UUID][]Timer {
		out := map[uuid.UUID][]Timer{}
		for _, c := range claims {
			list, err := r.ClaimClocks(ctx, c.id, at)
			if err != nil {
				t.Fatal(err)
			}
			out[c.id] = list
		}
		return out
	}
	for _, list := range clocksAt(time.Time{}) {
		for _, c := range list {
			if c.Status == domain.ClockRunning {
				dues = append(dues, c.DueAt, c.SoonAt.Add(time.Minute))
			}
		}
	}
	if len(dues) < 4 {
		t.Fatalf("the fixture has %d running clocks; the SLA queues test nothing", len(dues)/2)
	}
	slices.SortFunc(dues, time.Time.Compare)
	var received []time.Time
	for _, s := range states {
		if s.Status == domain.StatusReceived {
			received = append(received, s.Intake.ReceivedAt)
		}
	}
	slices.SortFunc(received, time.Time.Compare)
	today := time.Time{}
	if len(received) > 0 {
		today = received[len(received)/2]
	}

	seen := map[string]bool{}
	for _, at := range []time.Time{dues[0].Add(-time.Hour), dues[len(dues)/2], dues[len(dues)-1].Add(time.Hour)} {
		clocks := clocksAt(at)
		for _, person := range []string{staffName, ""} {
			for _, withClocks := range []bool{true, false} {
				for _, name := range QueueNames() {
					var want []QueueRow
					for _, c := range claims {
						s := states[c.id]
						if (slaQueue(name) && !withClocks) || !queueWant(name, s, clocks[c.id], person, today) {
							continue
						}
						row := QueueRow{ClaimSummary: ClaimSummary{ID: s.ID, Number: s.Number, Status: s.Status, CustomerName: s.Customer.Name,
							ProductSKU: s.Product.SKU, Serial: s.Product.Serial, IMEI: s.Product.IMEI, Assignee: s.Assignee,
							RegisteredAt: s.RegisteredAt, UpdatedAt: s.UpdatedAt}}
						for _, k := range clocks[c.id] {
							if k.Status != domain.ClockRunning || !withClocks {
								continue
							}
							if row.NextDue.IsZero() || k.DueAt.Before(row.NextDue) {
								row.NextDue = k.DueAt
							}
							row.DueSoon = row.DueSoon || k.State == domain.TimerDueSoon
							row.Breached = row.Breached || k.State == domain.TimerBreached
						}
						want = append(want, row)
					}
					for _, by := range QueueSortColumns() {
						for _, desc := range []bool{false, true} {
							q := QueueQuery{Queue: name, Person: person, Today: today, At: at, Clocks: withClocks, Sort: by, Descending: desc, Limit: MaxSearchLimit}
							page, err := r.Queue(ctx, q)
							if err != nil {
								t.Fatalf("%+v: %v", q, err)
							}
							if page.Counts[name] != len(want) {
								t.Fatalf("%+v: count %d, want %d", q, page.Counts[name], len(want))
							}
							slices.SortStableFunc(want, queueOrder(by, desc))
							if len(page.Rows) != len(want) {
								t.Fatalf("%+v: %d rows, want %d", q, len(page.Rows), len(want))
							}
							for i, got := range page.Rows {
								w := want[i]
								if got.ID != w.ID || !got.NextDue.Equal(w.NextDue) || got.DueSoon != w.DueSoon || got.Breached != w.Breached {
									t.Fatalf("%+v: row %d is %s (due %v soon %v breached %v), want %s (due %v soon %v breached %v)", q, i,
										got.Number, got.NextDue, got.DueSoon, got.Breached, w.Number, w.NextDue, w.DueSoon, w.Breached)
								}
								if got.Assignee != states[got.ID].Assignee || got.Version != states[got.ID].Version {
									t.Fatalf("%+v: row %s does not summarize its claim", q, got.Number)
								}
							}
							if len(want) > 0 {
								seen[name] = true
							}
						}
					}
				}
			}
		}
	}
	for _, name := range QueueNames() {
		if !seen[name] && name != QueueDecision {
			t.Errorf("no claim of the fixture is ever in queue %s: its case tests nothing", name)
		}
	}

	t.Run("pages of an export", func(t *testing.T) {
		q := QueueQuery{Queue: QueueUnassigned, Sort: "number", Limit: MaxSearchLimit}
		all, err := r.Queue(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var paged []QueueRow
		for q.Limit, q.ListOnly = 3, true; ; q.Offset += q.Limit {
			page, err := r.Queue(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Counts) != 0 {
				t.Fatalf("a list-only page counted the queues: %v", page.Counts)
			}
			paged = append(paged, page.Rows...)
			if len(page.Rows) < q.Limit {
				break
			}
		}
		if len(paged) != len(all.Rows) || len(paged) < 4 {
			t.Fatalf("pages of 3 hold %d rows, one page %d", len(paged), len(all.Rows))
		}
		for i := range paged {
			if paged[i].ID != all.Rows[i].ID {
				t.Fatalf("row %d differs between pages and one page", i)
			}
		}
	})

	t.Run("a search's claims", func(t *testing.T) {
		picked := []uuid.UUID{claims[3].id, claims[0].id, claims[9].id}
		page, err := r.Queue(ctx, QueueQuery{Queue: QueueDecision, Claims: picked, Sort: "number"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, row := range page.Rows {
			got = append(got, row.Number)
		}
		want := []string{claims[0].number, claims[3].number, claims[9].number}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("rows %v, want %v", got, want)
		}
		if page, err = r.Queue(ctx, QueueQuery{Claims: []uuid.UUID{}}); err != nil || len(page.Rows) != 0 {
			t.Fatalf("a search that found nothing lists %d rows (%v)", len(page.Rows), err)
		}
	})

	t.Run("an organisation's queues", func(t *testing.T) {
		// The queue world has no partner's claim: an organisation's queues are empty.
		page, err := r.Queue(ctx, QueueQuery{Queue: QueueUnassigned, Organisation: "dealer-b", Clocks: true})
		if err != nil {
			t.Fatal(err)
		}
		for name, n := range page.Counts {
			if n != 0 {
				t.Errorf("queue %s of an organisation without claims counts %d", name, n)
			}
		}
		if len(page.Rows) != 0 {
			t.Errorf("an organisation without claims lists %d", len(page.Rows))
		}
	})

	t.Run("bad queries", func(t *testing.T) {
		for _, q := range []QueueQuery{{Queue: "everything"}, {Queue: QueueHold, Sort: "colour"}, {Queue: QueueHold, Limit: -1}, {Queue: QueueHold, Offset: -1}} {
			if _, err := r.Queue(ctx, q); !errors.Is(err, ErrInvalidQuery) {
				t.Errorf("%+v: %v, want ErrInvalidQuery", q, err)
			}
		}
	})
}

func TestCompareCaseless(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"иванов", "Иванов", 0}, {"Ángel", "ángel", 0}, {"abc", "ABD", -1}, {"Ζήτα", "άλφα", 1}, {"ab", "abc", -1}, {"", "", 0},
	} {
		if got := cmp.Compare(compareCaseless(c.a, c.b), 0); got != c.want {
			t.Errorf("compareCaseless(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
