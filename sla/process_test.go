package sla_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
	"github.com/rmaledger/rmaledger/sla"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeClock is the one clock of a test: the ledgers stamp events with it and
// the processes judge what is due by it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is one event store with the seeds' default policy, written to by
// service instances that each have their own ledger, read models and timer
// process, as several instances of the service on one KurrentDB would.
type env struct {
	t     *testing.T
	store eventstore.Store
	book  *domain.PolicyBook
	clock *fakeClock
	desk  *ledger.Service
}

func newEnv(t *testing.T, start string) *env {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{t: t, store: store, book: policy.Default(), clock: &fakeClock{}}
	e.at(start)
	e.desk = e.ledger()
	return e
}

var sofia = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at sets the clock to a Sofia wall time.
func (e *env) at(s string) {
	e.t.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, sofia)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Set(t)
}

func (e *env) ledger() *ledger.Service {
	e.t.Helper()
	l, err := ledger.New(e.store, ledger.Config{Clock: e.clock.Now, Policies: e.book})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// readModels opens the read models in dir, started (following the store) or not.
func (e *env) readModels(dir string, start bool) *projections.Runner {
	e.t.Helper()
	r, err := projections.New(e.store, projections.Config{Dir: dir, Logger: quiet, Policies: e.book, MetricsInterval: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close() })
	if start {
		if err := r.Start(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
	return r
}

// instance is one service instance's timer process.
type instance struct {
	reads   *projections.Runner
	process *sla.Process
	metrics *prometheus.Registry
}

func (e *env) instance(reads *projections.Runner) *instance {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	p, err := sla.New(sla.Config{Ledger: e.ledger(), Timers: reads, Clock: e.clock.Now, Logger: quiet, Registerer: reg})
	if err != nil {
		e.t.Fatal(err)
	}
	return &instance{reads: reads, process: p, metrics: reg}
}

func (i *instance) tick(t *testing.T) sla.Report {
	t.Helper()
	r, err := i.process.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// breaches reads the breach counter of a clock.
func (i *instance) breaches(t *testing.T, clock string) float64 {
	t.Helper()
	families, err := i.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "rmaledger_sla_breaches_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "clock" && l.GetValue() == clock {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no breach counter for %s", clock)
	return 0
}

func waitFor(t *testing.T, r *projections.Runner, pos eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, pos); err != nil {
		t.Fatal(err)
	}
}

var desk = ledger.Request{Actor: ledger.Actor{Name: "agent-1", Role: "agent"}}

func (e *env) register() (uuid.UUID, eventstore.Position) {
	e.t.Helper()
	price, _ := domain.ParseMoney("899.00", "BGN")
	res, err := e.desk.Register(context.Background(), &domain.RegisterClaim{
		Customer:        domain.Customer{Name: "Maria Georgieva", Phone: "+359 888 123 456"},
		Product:         domain.Product{Category: "laptop", Serial: "SN-" + e.clock.Now().Format("150405")},
		PurchaseDate:    domain.Date{Year: 2026, Month: time.January, Day: 10},
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: "R-1"},
		Price:           price, Defect: "does not power on",
	}, desk)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Claim.ID, res.Position
}

func (e *env) do(id uuid.UUID, c domain.Command) eventstore.Position {
	e.t.Helper()
	res, err := e.desk.Execute(context.Background(), id, c, desk)
	if err != nil {
		e.t.Fatalf("%s: %v", c.Action(), err)
	}
	return res.Position
}

// count counts the claim's events of a type, and returns its state.
func (e *env) count(id uuid.UUID, eventType string) (int, domain.State) {
	e.t.Helper()
	recs, err := e.desk.Events(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Type == eventType {
			n++
		}
	}
	state, _, err := e.desk.Claim(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return n, state
}

var authorize = &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Address: "1 Vitosha Blvd"}}

// TestShipmentWindowClosesTheClaimOnce moves the clock past a claim's
// shipment window with two service instances acting at once, then restarts
// them, one of them with a read model that missed the closure: the claim is
// closed exactly once, and a claim whose goods were shipped in time is not.
func TestShipmentWindowClosesTheClaimOnce(t *testing.T) {
	e := newEnv(t, "2026-03-09 10:00")
	late, _ := e.register()
	onTime, _ := e.register()
	e.at("2026-03-09 11:00")
	e.do(late, authorize) // a working day to hand in: due Tuesday 11:00
	pos := e.do(onTime, authorize)
	e.at("2026-03-10 10:30")
	pos = e.do(onTime, &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"})

	a := e.instance(e.readModels(t.TempDir(), true))
	b := e.instance(e.readModels(t.TempDir(), true))
	// A third instance whose read models stop right after the authorizations:
	// it is down when the others act.
	staleDir := t.TempDir()
	stale := e.readModels(staleDir, true)
	for _, r := range []*projections.Runner{a.reads, b.reads, stale} {
		waitFor(t, r, pos)
	}
	stale.Close()

	e.at("2026-03-10 10:59")
	if r := a.tick(t); r.Due != 0 {
		t.Fatalf("a minute before the window closes: %+v", r)
	}
	e.at("2026-03-10 11:01")
	// Six processes at once, three on each instance's read models.
	processes := []*instance{a, b}
	for range 2 {
		processes = append(processes, e.instance(a.reads), e.instance(b.reads))
	}
	var wg sync.WaitGroup
	reports := make(chan sla.Report, len(processes))
	for _, i := range processes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports <- i.tick(t)
		}()
	}
	wg.Wait()
	close(reports)
	acted := 0
	for r := range reports {
		acted += r.Acted
	}
	// And each once more, in turn.
	for _, i := range processes {
		acted += i.tick(t).Acted
	}
	if n, s := e.count(late, "claim.closed.v1"); n != 1 || s.Status != domain.StatusClosed || s.Closure.ReasonCode != domain.ReasonShipmentWindowExpired {
		t.Fatalf("%d closures, status %s, closure %+v", n, s.Status, s.Closure)
	}
	if acted != 1 {
		t.Errorf("the instances report %d actions, want 1", acted)
	}
	counted := 0.0
	for _, i := range processes {
		counted += i.breaches(t, domain.ClockShipmentWindow)
	}
	if got := counted; got != 1 {
		t.Errorf("breach counters add up to %v, want 1", got)
	}
	if n, s := e.count(onTime, "claim.closed.v1"); n != 0 || s.Status != domain.StatusInTransit {
		t.Errorf("the claim shipped in time: %d closures, status %s", n, s.Status)
	}

	// A restart of the stale instance: its read model still says the window
	// is due (it is not started, so it never catches up); the ledger answers
	// with the closure already made.
	restarted := e.instance(e.readModels(staleDir, false))
	r := restarted.tick(t)
	if r.Due != 1 || r.Replayed != 1 || r.Acted != 0 {
		t.Errorf("stale restart: %+v", r)
	}
	restarted.reads.Close()
	// A restart with read models that caught up: nothing is due any more.
	caughtUp := e.instance(e.readModels(staleDir, true))
	waitFor(t, caughtUp.reads, headOf(t, e))
	if r := caughtUp.tick(t); r.Due != 0 {
		t.Errorf("caught-up restart: %+v", r)
	}
	if n, _ := e.count(late, "claim.closed.v1"); n != 1 {
		t.Errorf("%d closures after the restarts", n)
	}
}

// TestBreachesAndEscalation: clocks other than the shipment window are
// recorded as breaches once each; the repair hard limit escalates the claim,
// which then cannot end with a repair.
func TestBreachesAndEscalation(t *testing.T) {
	e := newEnv(t, "2026-03-09 10:00")
	id, pos := e.register() // first response due 12:00
	i := e.instance(e.readModels(t.TempDir(), true))
	waitFor(t, i.reads, pos)

	e.at("2026-03-09 12:05")
	if r := i.tick(t); r.Acted != 1 {
		t.Fatalf("first response: %+v", r)
	}
	// Acted on again before the read model has caught up: the ledger replays.
	if r := i.tick(t); r.Acted != 0 {
		t.Errorf("second pass: %+v", r)
	}
	if n, s := e.count(id, "claim.sla_breached.v1"); n != 1 || s.SLABreaches[0].Clock != domain.ClockFirstResponse ||
		s.SLABreaches[0].Overrun != domain.Duration(5*time.Minute) {
		t.Fatalf("%d breaches: %+v", n, s.SLABreaches)
	}

	e.at("2026-03-09 13:00")
	e.do(id, authorize)
	e.at("2026-03-09 13:30")
	e.do(id, &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP2"})
	e.at("2026-03-10 10:00")
	e.do(id, &domain.ReceiveClaim{Condition: "ok", SealsIntact: new(true), ReceivedBy: "M"})
	e.at("2026-03-10 12:00")
	e.do(id, &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "dead board"})
	pos = e.do(id, &domain.StartRepair{Where: domain.RepairManufacturer})
	waitFor(t, i.reads, pos)

	// 46 days later: the week's turnaround and the 45 days have passed.
	e.at("2026-04-25 12:00")
	r := i.tick(t)
	if r.Acted != 2 {
		t.Fatalf("after 46 days: %+v", r)
	}
	// The report says what the pass did with each clock, most overdue first.
	want := []sla.ClockOutcome{
		{ClaimID: id, Clock: domain.ClockRepairTurnaround, DueAt: time.Date(2026, 3, 17, 10, 0, 0, 0, sofia), Action: domain.ActionRecordSLABreach, Outcome: "acted"},
		{ClaimID: id, Clock: domain.ClockRepairHardLimit, DueAt: time.Date(2026, 4, 24, 10, 0, 0, 0, sofia), Action: domain.ActionEscalateRepair, Outcome: "acted"},
	}
	if len(r.Clocks) != len(want) {
		t.Fatalf("report clocks %+v, want %+v", r.Clocks, want)
	}
	for k, got := range r.Clocks {
		if got.ClaimID != want[k].ClaimID || got.Clock != want[k].Clock || !got.DueAt.Equal(want[k].DueAt) ||
			got.Action != want[k].Action || got.Outcome != want[k].Outcome || got.Number == "" {
			t.Errorf("report clock %d: %+v, want %+v", k, got, want[k])
		}
	}
	n, s := e.count(id, "claim.sla_breached.v1")
	if n != 2 || s.SLABreaches[1].Clock != domain.ClockRepairTurnaround {
		t.Errorf("breaches %+v", s.SLABreaches)
	}
	if m, _ := e.count(id, "claim.repair_escalated.v1"); m != 1 || s.Escalation == nil {
		t.Fatalf("%d escalations, %+v", m, s.Escalation)
	}
	if _, err := e.desk.Execute(context.Background(), id, &domain.CompleteRepair{WorkDone: "fixed"}, desk); err == nil {
		t.Errorf("an escalated claim was completed as a repair")
	}
	e.do(id, &domain.ReplaceItem{NewSerial: "SN-NEW"})
	for clock, want := range map[string]float64{
		domain.ClockFirstResponse: 1, domain.ClockRepairTurnaround: 1, domain.ClockRepairHardLimit: 1,
		domain.ClockDecision: 0, domain.ClockShipmentWindow: 0,
	} {
		if got := i.breaches(t, clock); got != want {
			t.Errorf("breaches of %s: %v, want %v", clock, got, want)
		}
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	e := newEnv(t, "2026-03-09 10:00")
	p, err := sla.New(sla.Config{Ledger: e.desk, Timers: e.readModels(t.TempDir(), true), Interval: time.Millisecond, Logger: quiet, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if _, err := sla.New(sla.Config{}); err == nil {
		t.Errorf("a process without a ledger")
	}
}

// headOf is the store's last event position.
func headOf(t *testing.T, e *env) eventstore.Position {
	t.Helper()
	var last eventstore.Position
	for {
		recs, err := e.store.ReadAll(context.Background(), last, 1000, eventstore.Filter{StreamPrefixes: []string{eventlog.Claims.Prefix()}})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return last
		}
		last = recs[len(recs)-1].Position
	}
}
