package projections

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
)

// policyWorld is a world whose ledger decides under book, as the service does.
func policyWorld(t *testing.T, book *domain.PolicyBook) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir()}
	store, err := embedded.Open(w.dir, embedded.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w.store = store
	if w.ledger, err = ledger.New(store, ledger.Config{Clock: w.now, Policies: book}); err != nil {
		t.Fatal(err)
	}
	return w
}

func timersConfig(dir string, book *domain.PolicyBook) Config {
	cfg := testConfig(dir)
	cfg.Policies = book
	return cfg
}

// clocksJSON renders clocks for comparison: the read model keeps times as
// JSON, with their zone offsets.
func clocksJSON(t *testing.T, clocks []domain.Clock) string {
	t.Helper()
	b, err := json.Marshal(clocks)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTimersRebuildEqualsLive: the timers read model built live, rebuilt
// from position zero and built by a fresh runner are row for row the same,
// and each claim's clocks are the fold of its stream under its policy.
func TestTimersRebuildEqualsLive(t *testing.T) {
	book := policy.Default()
	w := policyWorld(t, book)
	claims := w.register(0, 21)
	live := startRunner(t, w.store, timersConfig(t.TempDir(), book))
	waitFor(t, live, w.head())
	// More claims after the start, so that the live model follows events
	// one at a time as well as catching up.
	claims = append(claims, w.register(100, 7)...)
	waitFor(t, live, w.head())

	want := snapshot(t, live)[Timers]
	if len(want) == 0 {
		t.Fatal("the live timers model is empty")
	}
	ctx := context.Background()
	if err := live.Rebuild(ctx, Timers); err != nil {
		t.Fatal(err)
	}
	sameSnapshots(t, "timers rebuilt vs live", map[string][]string{Timers: snapshot(t, live)[Timers]}, map[string][]string{Timers: want})
	fresh := startRunner(t, w.store, timersConfig(t.TempDir(), book))
	waitFor(t, fresh, w.head())
	sameSnapshots(t, "timers of a fresh runner vs live", map[string][]string{Timers: snapshot(t, fresh)[Timers]}, map[string][]string{Timers: want})

	for _, c := range claims {
		recs, err := w.ledger.Events(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		var events []domain.Event
		for _, r := range recs {
			e, err := domain.DecodeEvent(r.Type, r.Data)
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, e)
		}
		meta, _ := eventlog.DecodeMetadata(recs[0].Metadata)
		p, ok := book.Version(meta.PolicyVersion)
		if !ok {
			t.Fatalf("claim %d registered under %q", c.i, meta.PolicyVersion)
		}
		stored, err := live.ClaimClocks(ctx, c.id, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var got []domain.Clock
		for _, tm := range stored {
			got = append(got, tm.Clock)
			if tm.PolicyVersion != p.Version || tm.Number != c.number {
				t.Errorf("claim %d: timer %+v", c.i, tm)
			}
		}
		if g, w := clocksJSON(t, got), clocksJSON(t, domain.FoldClocks(events, p)); g != w {
			t.Errorf("claim %d: clocks\n got %s\nwant %s", c.i, g, w)
		}
	}
}

// quickPolicy keeps its clocks in plain hours, around the clock in UTC, so
// that due times are easy to state.
func quickPolicy(firstResponseHours int) *domain.PolicyBook {
	book, err := domain.NewPolicyBook(domain.Policy{
		Version: "quick", RefundCapBasisPoints: 7000,
		SLA: domain.SLATargets{
			FirstResponse: domain.Target{Amount: firstResponseHours, Unit: domain.UnitHours},
			Decision:      domain.Target{Amount: 1, Unit: domain.UnitDays},
		},
	})
	if err != nil {
		panic(err)
	}
	return book
}

type clockedLedger struct {
	*ledger.Service
	now time.Time
}

func newClockedLedger(t *testing.T, w *world, book *domain.PolicyBook, start time.Time) *clockedLedger {
	t.Helper()
	l := &clockedLedger{now: start}
	var err error
	if l.Service, err = ledger.New(w.store, ledger.Config{Clock: func() time.Time { return l.now }, Policies: book}); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestTimerQueries(t *testing.T) {
	book := quickPolicy(2)
	w := policyWorld(t, book)
	T := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	l := newClockedLedger(t, w, book, T)
	ctx := context.Background()
	register := func(i int) uuid.UUID {
		res, err := l.Register(ctx, registration(i), req)
		if err != nil {
			t.Fatal(err)
		}
		return res.Claim.ID
	}
	a := register(0) // first response due T+2h, decision T+24h
	l.now = T.Add(time.Hour)
	b := register(1) // first response due T+3h
	r := startRunner(t, w.store, timersConfig(t.TempDir(), book))
	waitFor(t, r, w.head())

	type row struct {
		claim uuid.UUID
		clock string
		state string
	}
	list := func(q TimerQuery) []row {
		t.Helper()
		page, err := r.Timers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		for _, tm := range page.Items {
			out = append(out, row{tm.ClaimID, tm.Name, tm.State})
		}
		return out
	}
	same := func(what string, got, want []row) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: %v, want %v", what, got, want)
			}
		}
	}
	at := T.Add(100 * time.Minute) // A's first response is due soon (at T+1h36m)
	same("due soon", list(TimerQuery{States: []string{domain.TimerDueSoon}, At: at}), []row{{a, domain.ClockFirstResponse, domain.TimerDueSoon}})
	same("running, most urgent first", list(TimerQuery{States: []string{domain.TimerRunning}, At: at}), []row{
		{b, domain.ClockFirstResponse, domain.TimerRunning}, {a, domain.ClockDecision, domain.TimerRunning}, {b, domain.ClockDecision, domain.TimerRunning},
	})
	at = T.Add(160 * time.Minute)
	same("breached", list(TimerQuery{States: []string{domain.TimerBreached}, At: at}), []row{{a, domain.ClockFirstResponse, domain.TimerBreached}})
	same("one clock", list(TimerQuery{Clocks: []string{domain.ClockFirstResponse}, At: at}), []row{
		{a, domain.ClockFirstResponse, domain.TimerBreached}, {b, domain.ClockFirstResponse, domain.TimerDueSoon},
	})
	page, err := r.Timers(ctx, TimerQuery{States: []string{domain.TimerBreached}, At: at})
	if err != nil || page.Items[0].Overrun != domain.Duration(40*time.Minute) || !page.At.Equal(at) {
		t.Errorf("overrun %v, at %v, %v", page.Items[0].Overrun, page.At, err)
	}
	due, err := r.DueTimers(ctx, at, 10)
	if err != nil || len(due) != 1 || due[0].ClaimID != a || due[0].Name != domain.ClockFirstResponse || due[0].ClaimVersion != 1 {
		t.Fatalf("due timers %+v, %v", due, err)
	}

	// Pages of one continue where the last stopped.
	var paged []row
	q := TimerQuery{At: at, Limit: 1}
	for range 10 {
		page, err := r.Timers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, tm := range page.Items {
			paged = append(paged, row{tm.ClaimID, tm.Name, tm.State})
		}
		if q.Cursor = page.NextCursor; q.Cursor == "" {
			break
		}
	}
	same("paged", paged, list(TimerQuery{At: at}))
	if len(paged) != 4 {
		t.Errorf("%d open clocks, want 4", len(paged))
	}

	// The timer process records the breach: no longer due for it, still breached for the desk.
	l.now = at
	res, err := l.Execute(ctx, a, &domain.RecordSLABreach{Clock: domain.ClockFirstResponse, DueAt: due[0].DueAt}, ledger.Request{Actor: ledger.Actor{Name: "sla", Role: "system"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, res.Position)
	if due, _ := r.DueTimers(ctx, at, 10); len(due) != 0 {
		t.Errorf("due after the breach was recorded: %+v", due)
	}
	same("still breached", list(TimerQuery{States: []string{domain.TimerBreached}, At: at}), []row{{a, domain.ClockFirstResponse, domain.TimerBreached}})

	// An answer stops the clock: the claim's view shows it missed.
	l.now = T.Add(170 * time.Minute)
	res, err = l.Execute(ctx, a, &domain.AddNote{Text: "called back", Visibility: domain.VisibilityCustomer}, req)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, res.Position)
	clocks, err := r.ClaimClocks(ctx, a, at)
	if err != nil || len(clocks) != 2 || clocks[0].Name != domain.ClockFirstResponse || clocks[0].State != string(domain.ClockMissed) ||
		clocks[1].Name != domain.ClockDecision || clocks[1].State != domain.TimerRunning || clocks[0].ClaimVersion != 3 {
		t.Errorf("claim clocks %+v, %v", clocks, err)
	}
	same("breached after the answer", list(TimerQuery{States: []string{domain.TimerBreached}, At: at}), nil)
	// The note left A's decision clock as it was, so its row was not
	// written again; the claim's columns it is listed with still follow
	// the claim.
	page, err = r.Timers(ctx, TimerQuery{Clocks: []string{domain.ClockDecision}, At: at})
	if err != nil {
		t.Fatal(err)
	}
	var decision *Timer
	for i := range page.Items {
		if page.Items[i].ClaimID == a {
			decision = &page.Items[i]
		}
	}
	if decision == nil || decision.ClaimVersion != 3 || decision.Position != res.Position || decision.Number != clocks[0].Number {
		t.Errorf("A's decision clock %+v, want claim version 3 at %s", decision, res.Position)
	}

	for name, q := range map[string]TimerQuery{
		"unknown state":  {States: []string{"late"}},
		"unknown clock":  {Clocks: []string{"lunch"}},
		"bad cursor":     {Cursor: "!!"},
		"forged cursor":  {Cursor: encodeTimerCursor(1, "x", domain.ClockDecision)},
		"negative limit": {Limit: -1},
	} {
		if _, err := r.Timers(ctx, q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: %v, want ErrInvalidQuery", name, err)
		}
	}
}

// TestTimersFollowAChangedPolicy: a runner opened with a policy whose values
// changed rebuilds the timers model, so that its due times are the ones a
// rebuild gives; with the same policy it keeps its tables.
func TestTimersFollowAChangedPolicy(t *testing.T) {
	w := policyWorld(t, quickPolicy(2))
	T := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	l := newClockedLedger(t, w, quickPolicy(2), T)
	res, err := l.Register(context.Background(), registration(0), req)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dueOf := func(r *Runner) time.Time {
		t.Helper()
		waitFor(t, r, res.Position)
		clocks, err := r.ClaimClocks(context.Background(), res.Claim.ID, T)
		if err != nil || len(clocks) == 0 {
			t.Fatalf("clocks %+v, %v", clocks, err)
		}
		return clocks[0].DueAt
	}
	generation := func(r *Runner) int64 { return r.byName[Timers].active.Load().number }

	first := startRunner(t, w.store, timersConfig(dir, quickPolicy(2)))
	if got := dueOf(first); !got.Equal(T.Add(2 * time.Hour)) {
		t.Fatalf("due %s", got)
	}
	gen := generation(first)
	first.Close()

	same := startRunner(t, w.store, timersConfig(dir, quickPolicy(2)))
	if g := generation(same); g != gen {
		t.Errorf("the same policy rebuilt the model: generation %d, was %d", g, gen)
	}
	same.Close()

	// Version "quick" edited in place: 4 hours now.
	changed := startRunner(t, w.store, timersConfig(dir, quickPolicy(4)))
	if got := dueOf(changed); !got.Equal(T.Add(4 * time.Hour)) {
		t.Errorf("due %s after the policy changed, want %s", got, T.Add(4*time.Hour))
	}
	if g := generation(changed); g == gen {
		t.Errorf("the timers model was not rebuilt for a changed policy")
	}
}
