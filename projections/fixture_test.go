package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
)

// quiet keeps test output to failures.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func eur(amount string) domain.Money {
	m, err := domain.ParseMoney(amount, "EUR")
	if err != nil {
		panic(err)
	}
	return m
}

// imei returns a Luhn-valid IMEI built from n.
func imei(n int) string {
	body := fmt.Sprintf("35%012d", n)
	sum := 0
	for i, c := range body {
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return fmt.Sprintf("%s%d", body, (10-sum%10)%10)
}

// phone is claim i's customer phone as typed at the desk; formats vary so
// that normalisation is exercised. Every phone belongs to two claims (i and
// i+1 share a customer when i is even) so that searches by phone find more
// than one.
func phone(i int) string {
	n := i / 2
	switch i % 3 {
	case 0:
		return fmt.Sprintf("+359 88 %07d", n)
	case 1:
		return fmt.Sprintf("+359-88-%07d", n)
	default:
		return fmt.Sprintf("+359 (88) %07d", n)
	}
}

func normalisedPhone(i int) string {
	p, ok := domain.NormalizePhone(phone(i))
	if !ok {
		panic(phone(i))
	}
	return p
}

// registration is claim i's registration: laptops with serial numbers and
// phones with IMEIs.
func registration(i int) *domain.RegisterClaim {
	c := &domain.RegisterClaim{
		Customer: domain.Customer{
			Name:  fmt.Sprintf("Customer %d", i/2),
			Phone: phone(i),
			Email: fmt.Sprintf("Customer%d@Example.bg", i/2),
		},
		PurchaseDate:    domain.Date{Year: 2025, Month: time.November, Day: 20},
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: fmt.Sprintf("R-%d", i)},
		Price:           eur("129.90"),
		Defect:          "Does not power on.",
		Channel:         domain.ChannelWeb,
	}
	if i%2 == 0 {
		c.Product = domain.Product{SKU: "NB-1540", Category: "laptop", Serial: fmt.Sprintf("SN-%06d", i)}
	} else {
		c.Product = domain.Product{SKU: "PH-12", Category: "phone", IMEI: imei(i)}
	}
	return c
}

// Secrets that must never reach the status read model.
const (
	internalNote = "Customer owes 40 EUR from an earlier repair."
	staffName    = "G. Georgiev"
	intakeClerk  = "M. Ivanova"
	customerNote = "Your parcel label is attached to the email."
)

func yes() *bool { b := true; return &b }

// lifecycle is what happens to claim i after registration: one of several
// realistic paths through the lifecycle (repair, paid repair, refund,
// rejection, redirection, dispute, hold), cut short for some claims so that
// every status is present.
func lifecycle(i int) []domain.Command {
	authorize := &domain.AuthorizeClaim{
		ServiceCenter:      domain.ServiceCenter{Name: "Service Sofia", Country: "BG", Address: "1 Tsarigradsko shose, Sofia"},
		DocumentsRequested: []string{"claim form", "copy of receipt"},
	}
	// The customer sends the documents for checking first, then ships.
	docs := &domain.ReceiveDocuments{Documents: []string{"claim form", "copy of receipt"}}
	ship := &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: fmt.Sprintf("SP%06d", i)}
	receive := &domain.ReceiveClaim{Condition: "Scratches on the lid.", SealsIntact: yes(), ReceivedBy: intakeClerk}
	confirmed := &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "Failed voltage regulator."}
	back := []domain.Command{
		&domain.ShipReturn{Carrier: "Speedy", TrackingNumber: fmt.Sprintf("RT%06d", i)},
		&domain.ConfirmDelivery{SignedBy: "Customer"},
		&domain.CloseClaim{ReasonCode: "completed"},
	}
	var path []domain.Command
	switch i % 7 {
	case 0: // free repair
		path = append([]domain.Command{authorize,
			&domain.AddNote{Text: internalNote, Visibility: domain.VisibilityInternal},
			&domain.AssignClaim{Assignee: staffName},
			docs, ship, receive, confirmed,
			&domain.StartRepair{Where: domain.RepairOwn, Technician: staffName},
			&domain.CompleteRepair{WorkDone: "Replaced the regulator.", Parts: []string{"VR-33"}},
		}, back...)
	case 1: // paid repair out of warranty
		path = append([]domain.Command{authorize, docs, ship, receive,
			&domain.DiagnoseClaim{Outcome: domain.OutcomeOutOfWarranty, Findings: "Bought too long ago."},
			&domain.IssueEstimate{DamageLevel: 2, Parts: eur("40.00"), Labour: eur("25.00"), Shipping: eur("10.00")},
			&domain.AddNote{Text: customerNote, Visibility: domain.VisibilityCustomer},
			&domain.AcceptEstimate{Reference: "signed form"},
			&domain.RecordPayment{Amount: eur("75.00"), Reference: "PAY-1", Method: domain.PaymentCard},
			&domain.StartRepair{Where: domain.RepairOwn, Technician: staffName},
			&domain.CompleteRepair{WorkDone: "Replaced the board."},
		}, back...)
	case 2: // refund
		path = []domain.Command{authorize, docs, ship, receive, confirmed,
			&domain.ApproveRefund{Amount: eur("50.00"), Reason: "Hardware share of the price."},
			&domain.RecordRefundPayment{Amount: eur("50.00"), Reference: "REF-1"},
			&domain.CloseClaim{ReasonCode: "completed"},
		}
	case 3: // rejected
		path = []domain.Command{
			&domain.AddNote{Text: internalNote, Visibility: domain.VisibilityInternal},
			&domain.RejectClaim{ReasonCode: "warranty_expired", Reason: "Bought more than two years ago."},
			&domain.CloseClaim{ReasonCode: "completed"},
		}
	case 4: // redirected to the manufacturer, back, then withdrawn; or helped without the goods
		if i%2 == 0 {
			path = []domain.Command{authorize,
				&domain.ResolveRemotely{Method: domain.RemoteBySession, WorkDone: "Reinstalled the power driver.", Technician: staffName},
				&domain.CloseClaim{ReasonCode: "completed"},
			}
			break
		}
		path = []domain.Command{
			&domain.RedirectToServiceCenter{ServiceCenter: domain.ServiceCenter{Name: "Lenovo ASC Sofia", Country: "BG", Contact: "+35929000000"}},
			&domain.RecordUnrepairabilityAct{Kind: domain.ActUnrepairability, Reference: "ACT-55", IssuedOn: domain.Date{Year: 2026, Month: time.February, Day: 20}},
			authorize,
			&domain.WithdrawClaim{Reason: "Found the charger was broken."},
		}
	case 5: // replaced by a dearer model, dispute at release upheld, the price difference paid
		path = append([]domain.Command{authorize, docs, ship, receive, confirmed,
			&domain.ReplaceItem{NewSerial: fmt.Sprintf("SN-R%06d", i), NewSKU: "NB-2000", Value: eur("149.90"), SettlePriceDifference: true},
			&domain.OpenDispute{Reason: "The replacement is a different colour."},
			&domain.ResolveDispute{Outcome: domain.DisputeUpheld, Decision: "Same model and specification."},
			&domain.RecordPayment{Amount: eur("20.00"), Reference: "PAY-D1", Method: domain.PaymentCard},
		}, back...)
	default: // on hold for an unpaid debt, released; its owner hands it back while it waits
		path = append([]domain.Command{authorize, &domain.AssignClaim{Assignee: intakeClerk}, docs, ship, receive, confirmed,
			&domain.StartRepair{Where: domain.RepairManufacturer},
			&domain.PutOnHold{ReasonCode: "unpaid_debt", Reason: internalNote},
			&domain.AssignClaim{Note: "Back to the queue until the debt is paid."},
			&domain.ReleaseHold{},
			&domain.CompleteRepair{WorkDone: "Manufacturer replaced the panel."},
		}, back...)
	}
	// Every third claim is still under way.
	if i%3 == 2 {
		path = path[:len(path)/2]
	}
	return path
}

// world is an embedded store with a ledger writing real events into it.
type world struct {
	t      testing.TB
	dir    string
	store  *embedded.Store
	ledger *ledger.Service
	clock  atomic.Int64
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir()}
	w.open()
	return w
}

func (w *world) open() {
	w.t.Helper()
	store, err := embedded.Open(w.dir, embedded.Config{Logger: quiet})
	if err != nil {
		w.t.Fatal(err)
	}
	w.store = store
	svc, err := ledger.New(store, ledger.Config{Clock: w.now})
	if err != nil {
		w.t.Fatal(err)
	}
	w.ledger = svc
	w.t.Cleanup(func() { store.Close() })
}

// now advances a second per call, so that every event has its own time and
// the search order is exercised with distinct and equal keys alike.
func (w *world) now() time.Time {
	return t0.Add(time.Duration(w.clock.Add(1)) * time.Second)
}

// claimInfo is what the tests know about a claim they wrote.
type claimInfo struct {
	i        int
	id       uuid.UUID
	number   string
	position eventstore.Position
}

var req = ledger.Request{Actor: ledger.Actor{Name: "desk", Role: "agent"}}

// register writes claims first..first+n-1 through the ledger, each through
// its whole lifecycle, interleaving claims so that $all mixes streams.
func (w *world) register(first, n int) []claimInfo {
	w.t.Helper()
	ctx := context.Background()
	claims := make([]claimInfo, n)
	paths := make([][]domain.Command, n)
	for k := range n {
		i := first + k
		res, err := w.ledger.Register(ctx, registration(i), req)
		if err != nil {
			w.t.Fatalf("register %d: %v", i, err)
		}
		claims[k] = claimInfo{i: i, id: res.Claim.ID, number: res.Claim.Number, position: res.Position}
		paths[k] = lifecycle(i)
	}
	for step := 0; ; step++ {
		more := false
		for k := range claims {
			if step >= len(paths[k]) {
				continue
			}
			more = true
			res, err := w.ledger.Execute(ctx, claims[k].id, paths[k][step], req)
			if err != nil {
				w.t.Fatalf("claim %d step %d %s: %v", claims[k].i, step, paths[k][step].Action(), err)
			}
			claims[k].position = res.Position
		}
		if !more {
			return claims
		}
	}
}

// head is the position of the store's last claim event.
func (w *world) head() eventstore.Position {
	w.t.Helper()
	var last eventstore.Position
	for {
		recs, err := w.store.ReadAll(context.Background(), last, 4096, claimFilter)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(recs) == 0 {
			return last
		}
		last = recs[len(recs)-1].Position
	}
}

func testConfig(dir string) Config {
	return Config{Dir: dir, Logger: quiet, RetryInitial: time.Millisecond, RetryMaxInterval: 5 * time.Millisecond, MetricsInterval: time.Hour}
}

func newRunner(t testing.TB, store eventstore.Store, cfg Config) *Runner {
	t.Helper()
	r, err := New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func startRunner(t testing.TB, store eventstore.Store, cfg Config) *Runner {
	t.Helper()
	r := newRunner(t, store, cfg)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t testing.TB, r *Runner, pos eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, pos); err != nil {
		t.Fatal(err)
	}
}

// snapshot renders every row of every projection's active tables, in key
// order, column by column: two read models are equal when their snapshots
// are. Checkpoints are compared separately, since a rebuild may be ahead.
func snapshot(t testing.TB, r *Runner) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for _, p := range r.projections {
		g, release := p.acquire()
		for _, table := range p.model.tables(g.number) {
			rows, err := r.db.r.Query(`SELECT * FROM ` + table + ` ORDER BY 1`)
			if err != nil {
				release()
				t.Fatal(err)
			}
			out[p.name] = append(out[p.name], scanAll(t, rows)...)
		}
		release()
	}
	return out
}

func scanAll(t testing.TB, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%v|", cols[i], v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshots(t testing.TB, what string, got, want map[string][]string) {
	t.Helper()
	for name := range want {
		g, w := got[name], want[name]
		if len(w) == 0 {
			t.Fatalf("%s: %s: the reference read model is empty", what, name)
		}
		if len(g) != len(w) {
			t.Fatalf("%s: %s: %d rows, want %d", what, name, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s: %s: row %d differs:\n got %s\nwant %s", what, name, i, g[i], w[i])
			}
		}
	}
}

// checkpoints reads each projection's committed checkpoint from the
// database, not from memory.
func checkpoints(t testing.TB, r *Runner) map[string]eventstore.Position {
	t.Helper()
	out := make(map[string]eventstore.Position)
	for _, p := range r.projections {
		var c, pr int64
		err := r.db.r.QueryRow(`SELECT commit_pos, prepare_pos FROM generations WHERE projection = ? AND active`, p.name).Scan(&c, &pr)
		if err != nil {
			t.Fatal(err)
		}
		out[p.name] = positionOf(c, pr)
	}
	return out
}

// history builds claim i's events with domain.Decide directly, with the
// metadata the ledger writes: the fast way to fill a store with realistic
// claims (the ledger reads each stream back before every command).
func history(i int, id uuid.UUID, start time.Time) []eventstore.EventData {
	cmds := append([]domain.Command{registration(i)}, lifecycle(i)...)
	reg := cmds[0].(*domain.RegisterClaim)
	reg.ClaimID, reg.Number = id, ledger.FormatNumber(2026, uint64(i+1))
	var (
		state domain.State
		out   []eventstore.EventData
	)
	policy := domain.DefaultPolicy()
	for k, c := range cmds {
		at := start.Add(time.Duration(k) * time.Minute)
		events, err := domain.Decide(state, c, at, policy)
		if err != nil {
			panic(fmt.Sprintf("claim %d step %d %s: %v", i, k, c.Action(), err))
		}
		meta, _ := json.Marshal(eventlog.Metadata{
			CorrelationID: uuid.NewString(), Actor: "desk", Role: "agent",
			OccurredAt: at, PolicyVersion: policy.Version,
		})
		for _, e := range events {
			typ, data, err := domain.EncodeEvent(e)
			if err != nil {
				panic(err)
			}
			out = append(out, eventstore.EventData{ID: uuid.New(), Type: typ, Data: data, Metadata: meta})
			state = domain.Evolve(state, e)
		}
	}
	return out
}

// fill appends n generated claims (claims first..first+n-1), one event per
// append as the ledger writes them, with about a thousand claims open at
// once, so that each claim's events are spread through $all as in a real
// log rather than bunched together. It returns the number of events.
func fill(t testing.TB, store eventstore.Store, first, n int) int {
	t.Helper()
	const (
		workers = 64
		open    = 16 // claims each worker has under way at once
	)
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		fail  atomic.Value
	)
	type claim struct {
		stream string
		events []eventstore.EventData
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			next := first + w
			var active []*claim
			for {
				for len(active) < open && next < first+n {
					id := uuid.New()
					active = append(active, &claim{stream: eventlog.Claims.Stream(id), events: history(next, id, t0.Add(time.Duration(next)*time.Second))})
					next += workers
				}
				if len(active) == 0 {
					return
				}
				kept := active[:0]
				for _, c := range active {
					if _, err := store.Append(ctx, c.stream, eventstore.Any, c.events[0]); err != nil {
						fail.Store(err)
						return
					}
					total.Add(1)
					if c.events = c.events[1:]; len(c.events) > 0 {
						kept = append(kept, c)
					}
				}
				active = kept
			}
		}()
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		t.Fatal(err)
	}
	return int(total.Load())
}
