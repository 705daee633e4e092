package whatif_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
	"github.com/rmaledger/rmaledger/sla"
	"github.com/rmaledger/rmaledger/whatif"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var sofia = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		panic(err)
	}
	return loc
}()

// ledgerEnv is a small ledger under the default policy, with the timers
// read model and the SLA timer process, on a clock the test moves.
type ledgerEnv struct {
	t       *testing.T
	store   eventstore.Store
	mu      sync.Mutex
	now     time.Time
	desk    *ledger.Service
	reads   *projections.Runner
	process *sla.Process
}

func newLedger(t *testing.T) *ledgerEnv {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &ledgerEnv{t: t, store: store}
	if e.desk, err = ledger.New(store, ledger.Config{Clock: e.clock, Policies: policy.Default()}); err != nil {
		t.Fatal(err)
	}
	if e.reads, err = projections.New(store, projections.Config{Dir: t.TempDir(), Logger: quiet, Policies: policy.Default(), MetricsInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.reads.Close() })
	if err := e.reads.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.process, err = sla.New(sla.Config{Ledger: e.desk, Timers: e.reads, Clock: e.clock, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *ledgerEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// at sets the clock to a Sofia wall time.
func (e *ledgerEnv) at(s string) {
	e.t.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, sofia)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

var desk = ledger.Request{Actor: ledger.Actor{Name: "agent-1", Role: "agent"}}

func (e *ledgerEnv) register(serial string, bought domain.Date) uuid.UUID {
	e.t.Helper()
	price, _ := domain.ParseMoney("899.00", "BGN")
	res, err := e.desk.Register(context.Background(), &domain.RegisterClaim{
		Customer:        domain.Customer{Name: "Maria Georgieva", Phone: "+359 888 123 456"},
		Product:         domain.Product{Category: "laptop", Serial: serial},
		PurchaseDate:    bought,
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: "R-" + serial},
		Price:           price, Defect: "does not power on",
	}, desk)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Claim.ID
}

func (e *ledgerEnv) do(id uuid.UUID, c domain.Command) {
	e.t.Helper()
	if _, err := e.desk.Execute(context.Background(), id, c, desk); err != nil {
		e.t.Fatalf("%s: %v", c.Action(), err)
	}
}

// tick runs the timer process once the read model has every event.
func (e *ledgerEnv) tick() sla.Report {
	e.t.Helper()
	claims, err := whatif.Load(context.Background(), e.store)
	if err != nil {
		e.t.Fatal(err)
	}
	var head eventstore.Position
	for _, c := range claims {
		recs, _ := e.store.ReadStream(context.Background(), eventlog.Claims.Stream(c.ID), eventstore.Backwards, eventstore.End, 1)
		if len(recs) == 1 && recs[0].Position.Compare(head) > 0 {
			head = recs[0].Position
		}
	}
	if head.Compare(eventstore.Start) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.reads.WaitFor(ctx, head); err != nil {
			e.t.Fatal(err)
		}
	}
	r, err := e.process.Tick(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

var authorize = &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Address: "1 Vitosha Blvd"}}

// history is the ledger every what-if test replays: four laptops claimed on
// Monday 9 March 2026 under the default policy (a working day to ship, two
// working hours to respond, laptops 24 months):
//   - late: authorized at 11:00, never shipped: closed Tuesday 11:01;
//   - onTime: authorized at 11:00, shipped Tuesday 10:30, received, repaired;
//   - slow: not answered for two hours (a first-response breach), then authorized;
//   - old: bought in June 2024, covered until 31 May 2026, authorized, shipped.
type history struct {
	*ledgerEnv
	late, onTime, slow, old uuid.UUID
}

func newHistory(t *testing.T) *history {
	h := &history{ledgerEnv: newLedger(t)}
	h.at("2026-03-09 10:00")
	recent := domain.Date{Year: 2026, Month: time.January, Day: 10}
	h.late = h.register("SN-LATE", recent)
	h.onTime = h.register("SN-ONTIME", recent)
	h.slow = h.register("SN-SLOW", recent)
	h.at("2026-03-09 10:45")
	h.old = h.register("SN-OLD", domain.Date{Year: 2024, Month: time.June, Day: 1})
	h.at("2026-03-09 11:00")
	h.do(h.late, authorize)
	h.do(h.onTime, authorize)
	h.do(h.old, authorize)
	h.at("2026-03-09 12:05")
	if r := h.tick(); r.Acted != 1 {
		t.Fatalf("first response of the slow claim: %+v", r)
	}
	h.at("2026-03-09 13:00")
	h.do(h.slow, authorize)
	h.at("2026-03-10 10:30")
	h.do(h.onTime, &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"})
	h.do(h.slow, &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP2"})
	h.do(h.old, &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP3"})
	h.at("2026-03-10 11:01")
	if r := h.tick(); r.Acted != 1 {
		t.Fatalf("shipment window of the late claim: %+v", r)
	}
	h.at("2026-03-11 10:00")
	h.do(h.onTime, &domain.ReceiveClaim{Condition: "ok", SealsIntact: new(true), ReceivedBy: "M"})
	h.do(h.onTime, &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "dead board"})
	h.do(h.onTime, &domain.StartRepair{Where: domain.RepairOwn})
	h.at("2026-03-12 12:00")
	return h
}

// candidate is the default policy file with each old text replaced by its new one.
func candidate(t *testing.T, replacements ...string) *domain.PolicyBook {
	t.Helper()
	text := string(policy.DefaultYAML())
	for i := 0; i < len(replacements); i += 2 {
		if !strings.Contains(text, replacements[i]) {
			t.Fatalf("the default policy has no %q", replacements[i])
		}
		text = strings.Replace(text, replacements[i], replacements[i+1], 1)
	}
	book, err := policy.Parse("candidate.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return book
}

func (h *history) replay(t *testing.T, book *domain.PolicyBook, since time.Time) whatif.Report {
	t.Helper()
	claims, err := whatif.Load(context.Background(), h.store)
	if err != nil {
		t.Fatal(err)
	}
	r, err := whatif.Replay(claims, whatif.Options{Recorded: policy.Default(), Candidate: book, Now: h.clock(), Since: since})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r claimsByID) get(t *testing.T, id uuid.UUID) whatif.ClaimReport {
	t.Helper()
	c, ok := r[id]
	if !ok {
		t.Fatalf("claim %s is not reported as differing", id)
	}
	return c
}

type claimsByID map[uuid.UUID]whatif.ClaimReport

func byID(r whatif.Report) claimsByID {
	out := claimsByID{}
	for _, c := range r.Claims {
		out[c.ClaimID] = c
	}
	return out
}

func sofiaTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, sofia)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestReplay(t *testing.T) {
	h := newHistory(t)

	t.Run("the policy that decided the record changes nothing", func(t *testing.T) {
		r := h.replay(t, policy.Default(), time.Time{})
		if r.Totals.Claims != 4 || r.Totals.Differing != 0 || len(r.Claims) != 0 {
			t.Fatalf("totals %+v, claims %+v", r.Totals, r.Claims)
		}
	})

	t.Run("a shorter laptop warranty", func(t *testing.T) {
		r := h.replay(t, candidate(t, "laptop: {manufacturer_months: 24}", "laptop: {manufacturer_months: 12}"), time.Time{})
		claims := byID(r)
		old := claims.get(t, h.old)
		if len(old.Eligibility) != 1 || !old.Eligibility[0].Recorded.Covered || old.Eligibility[0].Candidate.Covered ||
			old.Eligibility[0].Candidate.Until != (domain.Date{Year: 2025, Month: time.May, Day: 31}) {
			t.Fatalf("old laptop eligibility %+v", old.Eligibility)
		}
		// Not covered, its free authorization would have been refused.
		if d := old.Divergence; d == nil || !strings.Contains(d.Reason, "authorize") || !d.At.Equal(sofiaTime(t, "2026-03-09 11:00")) || d.NotReached != 2 {
			t.Fatalf("old laptop divergence %+v", old.Divergence)
		}
		// The recent ones stay covered, a year less.
		recent := claims.get(t, h.onTime)
		if e := recent.Eligibility; len(e) != 1 || !e[0].Candidate.Covered || e[0].Candidate.Until != (domain.Date{Year: 2027, Month: time.January, Day: 9}) ||
			e[0].Recorded.Until != (domain.Date{Year: 2028, Month: time.January, Day: 9}) || recent.Divergence != nil {
			t.Fatalf("recent laptop %+v", recent)
		}
		want := whatif.Totals{Claims: 4, Differing: 4, EligibilityChanged: 4, NoLongerCovered: 1, CoverageEndChanged: 4, Diverged: 1}
		if r.Totals != want {
			t.Fatalf("totals %+v, want %+v", r.Totals, want)
		}
	})

	t.Run("a longer shipment window", func(t *testing.T) {
		r := h.replay(t, candidate(t, "shipment_window: 1 working_day", "shipment_window: 2 working_days"), time.Time{})
		late := byID(r).get(t, h.late)
		// The record closed it on Tuesday; the candidate would have on Wednesday.
		if len(late.Breaches) != 1 || late.Breaches[0].Change != "moved" ||
			!late.Breaches[0].Recorded.DueAt.Equal(sofiaTime(t, "2026-03-10 11:00")) ||
			!late.Breaches[0].Recorded.ActedAt.Equal(sofiaTime(t, "2026-03-10 11:01")) ||
			!late.Breaches[0].Candidate.DueAt.Equal(sofiaTime(t, "2026-03-11 11:00")) ||
			!late.Breaches[0].Candidate.ActedAt.Equal(sofiaTime(t, "2026-03-11 11:00")) {
			t.Fatalf("late breaches %+v", late.Breaches)
		}
		if d := late.Divergence; d == nil || !d.At.Equal(sofiaTime(t, "2026-03-11 11:00")) || d.NotReached != 0 {
			t.Fatalf("late divergence %+v", late.Divergence)
		}
		onTime := byID(r).get(t, h.onTime)
		if len(onTime.Breaches) != 0 || onTime.Divergence != nil || len(onTime.Clocks) != 1 ||
			onTime.Clocks[0].Clock != domain.ClockShipmentWindow || onTime.Clocks[0].Recorded.Status != domain.ClockMet ||
			!onTime.Clocks[0].Candidate.DueAt.Equal(sofiaTime(t, "2026-03-11 11:00")) {
			t.Fatalf("on time %+v", onTime)
		}
		if r.Totals.BreachesMoved != 1 || r.Totals.BreachesAdded != 0 || r.Totals.BreachesRemoved != 0 || r.Totals.EligibilityChanged != 0 {
			t.Fatalf("totals %+v", r.Totals)
		}
	})

	t.Run("a shipment window of two working hours", func(t *testing.T) {
		r := h.replay(t, candidate(t, "shipment_window: 1 working_day", "shipment_window: 2 working_hours"), time.Time{})
		onTime := byID(r).get(t, h.onTime)
		// Shipped on Tuesday, it would have been closed on Monday at 13:00:
		// its shipment, intake, diagnosis and repair would not have happened.
		if d := onTime.Divergence; d == nil || !d.At.Equal(sofiaTime(t, "2026-03-09 13:00")) || d.NotReached != 4 || !strings.Contains(d.Reason, "shipment_window") {
			t.Fatalf("on time divergence %+v", onTime.Divergence)
		}
		if b := onTime.Breaches; len(b) != 1 || b[0].Change != "added" || !b[0].Candidate.DueAt.Equal(sofiaTime(t, "2026-03-09 13:00")) {
			t.Fatalf("on time breaches %+v", b)
		}
		// The slow claim, authorized at 13:00 and shipped on Tuesday, too.
		if d := byID(r).get(t, h.slow).Divergence; d == nil || !d.At.Equal(sofiaTime(t, "2026-03-09 15:00")) {
			t.Fatalf("slow divergence %+v", d)
		}
	})

	t.Run("since keeps the claims registered from then on", func(t *testing.T) {
		r := h.replay(t, candidate(t, "laptop: {manufacturer_months: 24}", "laptop: {manufacturer_months: 12}"), sofiaTime(t, "2026-03-09 10:30"))
		if r.Totals.Claims != 1 || len(r.Claims) != 1 || r.Claims[0].ClaimID != h.old {
			t.Fatalf("since 10:30: totals %+v, claims %+v", r.Totals, r.Claims)
		}
	})

	t.Run("the table names each difference", func(t *testing.T) {
		r := h.replay(t, candidate(t, "shipment_window: 1 working_day", "shipment_window: 2 working_days"), time.Time{})
		var b strings.Builder
		if err := r.WriteText(&b, sofia); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"4 claims replayed, 4 would differ",
			"breach shipment_window (moved)",
			"due 2026-03-10 11:00 +02:00, acted on 2026-03-10 11:01 +02:00",
			"due 2026-03-11 11:00 +02:00, acted on 2026-03-11 11:00 +02:00",
			"breaches moved",
		} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("the table lacks %q:\n%s", want, b.String())
			}
		}
	})
}

// TestReplayEscalation: a repair completed on day 40 under the 45-day hard
// limit would, under a 30-day limit, have been escalated on day 30 and its
// completion refused: the claim had to be replaced or refunded.
func TestReplayEscalation(t *testing.T) {
	e := newLedger(t)
	e.at("2026-03-09 10:00")
	id := e.register("SN-REPAIR", domain.Date{Year: 2026, Month: time.January, Day: 10})
	e.do(id, authorize)
	e.at("2026-03-09 15:00")
	e.do(id, &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"})
	e.at("2026-03-10 10:00")
	e.do(id, &domain.ReceiveClaim{Condition: "ok", SealsIntact: new(true), ReceivedBy: "M"})
	e.do(id, &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "dead board"})
	e.do(id, &domain.StartRepair{Where: domain.RepairManufacturer})
	e.at("2026-03-18 10:00")
	if r := e.tick(); r.Acted != 1 { // the week's turnaround
		t.Fatalf("turnaround: %+v", r)
	}
	e.at("2026-04-19 10:00")
	e.do(id, &domain.CompleteRepair{WorkDone: "board replaced"})
	e.at("2026-04-20 10:00")

	h := &history{ledgerEnv: e}
	if r := h.replay(t, policy.Default(), time.Time{}); r.Totals.Differing != 0 {
		t.Fatalf("under the recorded policy: %+v", r.Claims)
	}
	r := h.replay(t, candidate(t, "repair_hard_limit: 45 days", "repair_hard_limit: 30 days"), time.Time{})
	c := byID(r).get(t, id)
	if d := c.Divergence; d == nil || !strings.Contains(d.Reason, "complete-repair would have been refused") ||
		!d.At.Equal(sofiaTime(t, "2026-04-19 10:00")) || d.NotReached != 1 {
		t.Fatalf("divergence %+v", c.Divergence)
	}
	if b := c.Breaches; len(b) != 1 || b[0].Clock != domain.ClockRepairHardLimit || b[0].Change != "added" ||
		!b[0].Candidate.DueAt.Equal(sofiaTime(t, "2026-04-09 10:00")) {
		t.Fatalf("breaches %+v", b)
	}
}
