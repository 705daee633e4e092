package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
)

// financeCurrencies mixes minor-unit exponents: 2, 0 and 3 digits.
var financeCurrencies = []string{"EUR", "BGN", "JPY", "KWD", "USD"}

// financeClaim is claim i of the finance test: its currency, price and what
// happens to it after registration. Thirteen outcomes cover every kind of
// fact and correction; every fifth claim is cut short, so that money is
// left outstanding at every stage.
func financeClaim(i int) (*domain.RegisterClaim, []domain.Command) {
	cur := financeCurrencies[i%len(financeCurrencies)]
	exp, _ := domain.CurrencyExponent(cur)
	unit := int64(1)
	for range exp {
		unit *= 10
	}
	price := (int64(200+i%700)*unit + int64(i%97)) // varied, with odd minor units
	m := func(minor int64) domain.Money { return domain.Money{Amount: minor, Currency: cur} }
	capAmount := price * 7 / 10

	reg := registration(i)
	reg.Price = m(price)
	authorize := &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Address: "1 Tsarigradsko shose, Sofia"}}
	ship := &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: fmt.Sprintf("SP%06d", i)}
	receive := &domain.ReceiveClaim{Condition: "ok", SealsIntact: yes(), ReceivedBy: "desk"}
	defect := &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "Dead board."}
	outOfWarranty := &domain.DiagnoseClaim{Outcome: domain.OutcomeOutOfWarranty, Findings: "Bought too long ago."}
	estimate := &domain.IssueEstimate{DamageLevel: 2, Parts: m(price / 5), Labour: m(price / 10)}
	total := price/5 + price/10
	back := []domain.Command{&domain.ShipReturn{Carrier: "Speedy"}, &domain.ConfirmDelivery{SignedBy: "Customer"}, &domain.CloseClaim{ReasonCode: "completed"}}
	start := []domain.Command{authorize, ship, receive}
	repair := []domain.Command{&domain.StartRepair{Where: domain.RepairOwn}, &domain.CompleteRepair{WorkDone: "Fixed."}}
	ref := func(s string) string { return fmt.Sprintf("%s-%d", s, i) }

	var path []domain.Command
	add := func(cmds ...domain.Command) { path = append(path, cmds...) }
	add(start...)
	switch i % 13 {
	case 0: // free repair, then recovered from the supplier in part
		add(defect)
		add(repair...)
		add(back...)
		add(&domain.ClaimSupplierRecovery{Amount: m(price / 3), Supplier: "Lenovo", Reference: ref("LEN")},
			&domain.RecordSupplierRecovery{Amount: m(price / 6), Reference: ref("REM")})
	case 1: // paid repair, paid in two parts
		add(outOfWarranty, estimate, &domain.AcceptEstimate{},
			&domain.RecordPayment{Amount: m(total / 2), Reference: ref("P1"), Method: domain.PaymentCard},
			&domain.RecordPayment{Amount: m(total - total/2), Reference: ref("P2"), Method: domain.PaymentCash})
		add(repair...)
		add(back...)
	case 2: // paid repair, half paid
		add(outOfWarranty, estimate, &domain.AcceptEstimate{}, &domain.RecordPayment{Amount: m(total / 2), Reference: ref("P1"), Method: domain.PaymentCard})
	case 3: // refund paid, closed
		add(defect, &domain.ApproveRefund{Amount: m(capAmount / 2), Reason: "Hardware share."},
			&domain.RecordRefundPayment{Amount: m(capAmount / 2), Reference: ref("R1")}, &domain.CloseClaim{ReasonCode: "completed"})
	case 4: // refund partly paid
		add(defect, &domain.ApproveRefund{Amount: m(capAmount / 3), Reason: "Hardware share."},
			&domain.RecordRefundPayment{Amount: m(capAmount / 6), Reference: ref("R1")})
	case 5: // refund approved, corrected down, paid, closed
		add(defect, &domain.ApproveRefund{Amount: m(capAmount / 2), Reason: "Hardware share."},
			&domain.ReverseRefundApproval{Amount: m(capAmount / 8), Reason: "Approved too much."},
			&domain.RecordRefundPayment{Amount: m(capAmount/2 - capAmount/8), Reference: ref("R1")}, &domain.CloseClaim{ReasonCode: "completed"})
	case 6: // credit note; every other one cancelled and replaced by a refund
		add(defect, &domain.IssueCreditNote{Amount: m(capAmount / 4), Number: ref("CN")})
		if i%2 == 0 {
			add(&domain.CancelCreditNote{Number: ref("CN"), Reason: "Customer wants money."},
				&domain.ApproveRefund{Amount: m(capAmount / 3), Reason: "Instead of the credit note."})
		} else {
			add(&domain.CloseClaim{ReasonCode: "completed"})
		}
	case 7: // replacement with its value, recovery claimed
		add(defect, &domain.ReplaceItem{NewSerial: ref("SN"), Value: m(price * 9 / 10), Reference: ref("DN")},
			&domain.ClaimSupplierRecovery{Amount: m(price / 2), Supplier: "HP", Reference: ref("HP")})
		add(back...)
	case 8: // paid repair, charged back, paid again
		add(outOfWarranty, estimate, &domain.AcceptEstimate{}, &domain.RecordPayment{Amount: m(total), Reference: ref("P1"), Method: domain.PaymentCard})
		add(repair...)
		add(&domain.ReversePayment{Reference: ref("P1"), Reason: "Chargeback."},
			&domain.RecordPayment{Amount: m(total), Reference: ref("P2"), Method: domain.PaymentBankTransfer})
		add(back...)
	case 9: // refund transfer bounced, paid again
		add(defect, &domain.ApproveRefund{Amount: m(capAmount / 2), Reason: "Hardware share."},
			&domain.RecordRefundPayment{Amount: m(capAmount / 2), Reference: ref("R1")},
			&domain.ReverseRefundPayment{Reference: ref("R1"), Reason: "Returned by the bank."},
			&domain.RecordRefundPayment{Amount: m(capAmount / 2), Reference: ref("R2")}, &domain.CloseClaim{ReasonCode: "completed"})
	case 10: // rejected: no money at all
		path = []domain.Command{&domain.RejectClaim{ReasonCode: "warranty_expired"}, &domain.CloseClaim{ReasonCode: "completed"}}
	case 11: // estimate accepted, then abandoned unpaid
		add(outOfWarranty, estimate, &domain.AcceptEstimate{}, &domain.ReturnUnrepaired{Reason: "Changed their mind."})
		add(back...)
	case 12: // refund partly paid, overturned on appeal, replaced instead
		add(defect, &domain.ApproveRefund{Amount: m(capAmount / 2), Reason: "Hardware share."},
			&domain.RecordRefundPayment{Amount: m(capAmount / 8), Reference: ref("R1")},
			&domain.OpenDispute{Reason: "Wants a unit."},
			&domain.ResolveDispute{Outcome: domain.DisputeOverturned, Decision: "Replace."},
			&domain.ReplaceItem{NewSerial: ref("SN"), Value: m(price)})
		add(back...)
	}
	if i%5 == 4 {
		path = path[:len(path)*2/3]
	}
	return reg, path
}

// badHistory is a claim whose money history breaks a rule, appended
// straight to the store as another tool or an import would have written it,
// with the discrepancy the reconciliation must find.
type badHistory struct {
	name  string
	kind  string
	typ   string
	after func(price domain.Money, at func() time.Time) []domain.Event
	// culprit is the index in after's events of the event the discrepancy
	// must name.
	culprit int
}

func eurAmount(minor int64) domain.Money { return domain.Money{Amount: minor, Currency: "EUR"} }

var badHistories = []badHistory{
	{"refund paid, never approved", KindRefund, DiscrepancyPaymentWithoutApproval, func(_ domain.Money, at func() time.Time) []domain.Event {
		return []domain.Event{domain.RefundPaid{Amount: eurAmount(1000), Reference: "X1", At: at()}}
	}, 0},
	{"refund paid twice", KindRefund, DiscrepancyApprovalPaidTwice, func(_ domain.Money, at func() time.Time) []domain.Event {
		return []domain.Event{
			domain.RefundApproved{Amount: eurAmount(5000), Reason: "x", CapBasisPoints: 7000, At: at()},
			domain.RefundPaid{Amount: eurAmount(5000), Reference: "X1", At: at()},
			domain.RefundPaid{Amount: eurAmount(5000), Reference: "X2", At: at()},
		}
	}, 2},
	{"refund overpaid", KindRefund, DiscrepancyPaymentDiffers, func(_ domain.Money, at func() time.Time) []domain.Event {
		return []domain.Event{
			domain.RefundApproved{Amount: eurAmount(5000), Reason: "x", CapBasisPoints: 7000, At: at()},
			domain.RefundPaid{Amount: eurAmount(6000), Reference: "X1", At: at()},
		}
	}, 1},
	{"closed with the refund half paid", KindRefund, DiscrepancyClosedOutstanding, func(_ domain.Money, at func() time.Time) []domain.Event {
		return []domain.Event{
			domain.RefundApproved{Amount: eurAmount(5000), Reason: "x", CapBasisPoints: 7000, At: at()},
			domain.RefundPaid{Amount: eurAmount(2000), Reference: "X1", At: at()},
			domain.ClaimClosed{ReasonCode: "completed", At: at()},
		}
	}, 2},
	{"paid in dollars for a euro claim", KindPaidRepairCharge, DiscrepancyCurrencyMismatch, func(_ domain.Money, at func() time.Time) []domain.Event {
		return []domain.Event{
			domain.EstimateIssued{DamageLevel: 1, Parts: eurAmount(7500), Labour: eurAmount(0), Shipping: eurAmount(0), Total: eurAmount(7500), At: at()},
			domain.EstimateAccepted{At: at()},
			domain.PaymentRecorded{Amount: domain.Money{Amount: 7500, Currency: "USD"}, Reference: "X1", Method: domain.PaymentCard, At: at()},
		}
	}, 2},
	{"repair charge paid twice", KindPaidRepairCharge, DiscrepancyApprovalPaidTwice, func(_ domain.Money, at func() time.Time) []domain.Event {
		return []domain.Event{
			domain.EstimateIssued{DamageLevel: 1, Parts: eurAmount(7500), Labour: eurAmount(0), Shipping: eurAmount(0), Total: eurAmount(7500), At: at()},
			domain.EstimateAccepted{At: at()},
			domain.PaymentRecorded{Amount: eurAmount(7500), Reference: "X1", Method: domain.PaymentCard, At: at()},
			domain.PaymentRecorded{Amount: eurAmount(7500), Reference: "X2", Method: domain.PaymentCard, At: at()},
		}
	}, 3},
	{"supplier paid what was never claimed", KindSupplierRecovery, DiscrepancyPaymentWithoutApproval, func(_ domain.Money, at func() time.Time) []domain.Event {
		return []domain.Event{domain.SupplierRecoveryReceived{Amount: eurAmount(3000), Reference: "W1", At: at()}}
	}, 0},
}

// appendBad writes a bad history after a registration, one append per
// event, with metadata as an import tool would write it. It returns the
// claim id, its number and the event ids of the events after registration.
func appendBad(t *testing.T, store eventstore.Store, n int, b badHistory, at func() time.Time) (uuid.UUID, string, []uuid.UUID) {
	t.Helper()
	id := uuid.New()
	reg := registration(n)
	number := fmt.Sprintf("IMP-%06d", n)
	events := []domain.Event{domain.ClaimRegistered{
		ClaimID: id, Number: number, Customer: domain.Customer{Name: reg.Customer.Name, Phone: normalisedPhone(n)},
		Product: reg.Product, PurchaseDate: reg.PurchaseDate, Price: eurAmount(100000), Defect: "x", At: at(),
	}}
	events = append(events, b.after(eurAmount(100000), at)...)
	var ids []uuid.UUID
	for k, e := range events {
		typ, data, err := domain.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		meta, _ := json.Marshal(eventlog.Metadata{CorrelationID: "import-" + number, Actor: "legacy-import", Role: "admin", OccurredAt: domain.OccurredAt(e)})
		eid := uuid.New()
		if _, err := store.Append(context.Background(), eventlog.Claims.Stream(id), eventstore.Any, eventstore.EventData{ID: eid, Type: typ, Data: data, Metadata: meta}); err != nil {
			t.Fatal(err)
		}
		if k > 0 {
			ids = append(ids, eid)
		}
	}
	return id, number, ids
}

// booking is what one event does to a claim's books in the independent
// fold: a change of what is approved and of what is paid, for a kind.
type booking struct {
	kind             string
	approved, paid   domain.Money
	at               time.Time
	stream           string
	positiveApproval bool
}

// foldBooks maps every event straight onto bookings, without the read
// model's code: the definition of the books, written out a second time.
func foldBooks(t *testing.T, recs []eventstore.RecordedEvent) []booking {
	t.Helper()
	type claimBooks struct {
		estimate, charge domain.Money
	}
	claims := map[string]*claimBooks{}
	var out []booking
	for _, rec := range recs {
		e, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		var stamp struct {
			At time.Time `json:"at"`
		}
		if err := json.Unmarshal(rec.Data, &stamp); err != nil {
			t.Fatal(err)
		}
		c := claims[rec.Stream]
		if c == nil {
			c = &claimBooks{}
			claims[rec.Stream] = c
		}
		neg := func(m domain.Money) domain.Money { return domain.Money{Amount: -m.Amount, Currency: m.Currency} }
		zero := func(m domain.Money) domain.Money { return domain.Money{Currency: m.Currency} }
		book := func(kind string, approved, paid domain.Money) {
			out = append(out, booking{kind: kind, approved: approved, paid: paid, at: stamp.At, stream: rec.Stream, positiveApproval: approved.Amount > 0 && kind != KindCreditNote && kind != KindReplacement})
		}
		switch e := e.(type) {
		case domain.RefundApproved:
			book(KindRefund, e.Amount, zero(e.Amount))
		case domain.RefundApprovalReversed:
			book(KindRefund, neg(e.Amount), zero(e.Amount))
		case domain.DisputeResolved:
			if !e.RefundCancelled.IsZero() {
				book(KindRefund, neg(e.RefundCancelled), zero(e.RefundCancelled))
			}
		case domain.RefundPaid:
			book(KindRefund, zero(e.Amount), e.Amount)
		case domain.RefundPaymentReversed:
			book(KindRefund, zero(e.Amount), neg(e.Amount))
		case domain.CreditNoteIssued:
			book(KindCreditNote, e.Amount, e.Amount)
		case domain.CreditNoteCancelled:
			book(KindCreditNote, neg(e.Amount), neg(e.Amount))
		case domain.ItemReplaced:
			if !e.Value.IsZero() {
				book(KindReplacement, e.Value, e.Value)
			}
		case domain.EstimateIssued:
			c.estimate = e.Total
		case domain.EstimateAccepted:
			book(KindPaidRepairCharge, c.estimate, zero(c.estimate))
			if c.charge.Amount != 0 {
				book(KindPaidRepairCharge, neg(c.charge), zero(c.charge))
			}
			c.charge = c.estimate
		case domain.ClaimReturnedUnrepaired:
			if c.charge.Amount != 0 {
				book(KindPaidRepairCharge, neg(c.charge), zero(c.charge))
				c.charge = domain.Money{}
			}
		case domain.PaymentRecorded:
			book(KindPaidRepairCharge, zero(e.Amount), e.Amount)
		case domain.PaymentReversed:
			book(KindPaidRepairCharge, zero(e.Amount), neg(e.Amount))
		case domain.SupplierRecoveryClaimed:
			book(KindSupplierRecovery, e.Amount, zero(e.Amount))
		case domain.SupplierRecoveryReceived:
			book(KindSupplierRecovery, zero(e.Amount), e.Amount)
		}
	}
	return out
}

// expectedTotals adds bookings up for [from, to) as the reconciliation
// defines its totals, aging at asOf.
func expectedTotals(books []booking, from, to, asOf time.Time) map[[2]string]ReconciliationTotal {
	in := func(at time.Time) bool { return (from.IsZero() || !at.Before(from)) && (to.IsZero() || at.Before(to)) }
	before := func(at time.Time) bool { return to.IsZero() || at.Before(to) }
	if !to.IsZero() && to.Before(asOf) {
		asOf = to
	}
	out := map[[2]string]ReconciliationTotal{}
	get := func(k [2]string) ReconciliationTotal {
		tot, ok := out[k]
		if !ok {
			zero := domain.Money{Currency: k[0]}
			tot = ReconciliationTotal{Currency: k[0], Kind: k[1], Approved: zero, Paid: zero, Outstanding: zero, Aging: []domain.Money{zero, zero, zero, zero}}
		}
		return tot
	}
	type claimKey struct{ stream, currency, kind string }
	balance := map[claimKey]int64{}
	first := map[claimKey]time.Time{}
	seen := map[[2]string]bool{}
	for _, b := range books {
		cur := b.approved.Currency
		k := [2]string{cur, b.kind}
		if !before(b.at) {
			continue
		}
		seen[k] = true
		tot := get(k)
		if in(b.at) {
			tot.Approved.Amount += b.approved.Amount
			tot.Paid.Amount += b.paid.Amount
		}
		out[k] = tot
		ck := claimKey{b.stream, cur, b.kind}
		balance[ck] += b.approved.Amount - b.paid.Amount
		if b.positiveApproval {
			if f, ok := first[ck]; !ok || b.at.Before(f) {
				first[ck] = b.at
			}
		}
	}
	for ck, owed := range balance {
		if owed <= 0 {
			continue
		}
		k := [2]string{ck.currency, ck.kind}
		tot := get(k)
		tot.Outstanding.Amount += owed
		tot.OutstandingClaims++
		since := first[ck]
		if tot.OldestOutstanding.IsZero() || since.Before(tot.OldestOutstanding) {
			tot.OldestOutstanding = since
		}
		tot.Aging[agingBucket(asOf.Sub(since))].Amount += owed
		out[k] = tot
	}
	for k := range out {
		if !seen[k] {
			delete(out, k)
		}
	}
	return out
}

// TestReconciliationEqualsFold generates 1,300 claims through the ledger
// (thirteen outcomes in five currencies, some cut short) and a few bad
// histories appended straight to the store, and checks the reconciliation,
// for several periods, against a fold of every event written out
// independently in this test. It also checks that the discrepancies found
// are exactly the planted ones, and that a rebuild equals the live model.
func TestReconciliationEqualsFold(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 1,300 claims through the ledger")
	}
	w := newWorld(t)
	r := startRunner(t, w.store, testConfig(t.TempDir()))
	ctx := context.Background()

	// Ten minutes between decisions spread the claims over about three
	// months, so that outstanding amounts fall in every aging bracket.
	var clock atomic.Int64
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { return start.Add(time.Duration(clock.Add(1)) * 10 * time.Minute) }
	svc, err := ledger.New(w.store, ledger.Config{Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	const claims = 1300
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		fail atomic.Value
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= claims || fail.Load() != nil {
					return
				}
				reg, path := financeClaim(i)
				res, err := svc.Register(ctx, reg, req)
				if err != nil {
					fail.Store(fmt.Errorf("claim %d: register: %w", i, err))
					return
				}
				for k, c := range path {
					if _, err := svc.Execute(ctx, res.Claim.ID, c, req); err != nil {
						fail.Store(fmt.Errorf("claim %d (outcome %d) step %d %s: %w", i, i%13, k, c.Action(), err))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		t.Fatal(err)
	}

	type planted struct {
		b      badHistory
		id     uuid.UUID
		number string
		events []uuid.UUID
	}
	var bad []planted
	for k, b := range badHistories {
		id, number, events := appendBad(t, w.store, 5000+k, b, now)
		bad = append(bad, planted{b, id, number, events})
	}
	waitFor(t, r, w.head())

	recs := allClaimEvents(t, w.store)
	books := foldBooks(t, recs)
	var last time.Time
	for _, b := range books {
		if b.at.After(last) {
			last = b.at
		}
	}
	asOf := last.Add(40 * 24 * time.Hour)
	mid := start.Add(last.Sub(start) / 2)
	periods := []struct {
		name     string
		from, to time.Time
	}{
		{"all time", time.Time{}, time.Time{}},
		{"first half", time.Time{}, mid},
		{"second half", mid, time.Time{}},
		{"a month inside", start.Add(20 * 24 * time.Hour), start.Add(50 * 24 * time.Hour)},
	}
	kinds := map[string]bool{}
	buckets := map[int]bool{}
	for _, p := range periods {
		got, err := r.Reconciliation(ctx, ReconciliationQuery{From: p.from, To: p.to, AsOf: asOf})
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		want := expectedTotals(books, p.from, p.to, asOf)
		if len(got.Totals) != len(want) {
			t.Errorf("%s: %d totals, want %d", p.name, len(got.Totals), len(want))
		}
		for _, g := range got.Totals {
			w, ok := want[[2]string{g.Currency, g.Kind}]
			if !ok {
				t.Errorf("%s: unexpected total %+v", p.name, g)
				continue
			}
			if g.Approved != w.Approved || g.Paid != w.Paid || g.Outstanding != w.Outstanding || g.OutstandingClaims != w.OutstandingClaims ||
				!g.OldestOutstanding.Equal(w.OldestOutstanding) || !slices.Equal(g.Aging, w.Aging) {
				t.Errorf("%s: %s %s\n got %+v\nwant %+v", p.name, g.Currency, g.Kind, g, w)
			}
			kinds[g.Kind] = true
			for b, m := range g.Aging {
				if m.Amount > 0 {
					buckets[b] = true
				}
			}
		}
	}
	// The data must exercise what it claims to: every kind, every bracket.
	if len(kinds) != 5 || len(buckets) != len(AgingBuckets) {
		t.Errorf("kinds %v, aging brackets %v: the generated claims do not cover them all", kinds, buckets)
	}

	// Discrepancies: exactly the planted ones, each naming its claim and
	// the event at fault.
	all, err := r.Reconciliation(ctx, ReconciliationQuery{AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if all.DiscrepancyCount != len(bad) || len(all.Discrepancies) != len(bad) {
		for _, d := range all.Discrepancies {
			t.Logf("found %s %s %s: %s", d.Number, d.Type, d.Kind, d.Detail)
		}
		t.Fatalf("%d discrepancies, want the %d planted", all.DiscrepancyCount, len(bad))
	}
	for _, p := range bad {
		i := slices.IndexFunc(all.Discrepancies, func(d Discrepancy) bool { return d.ClaimID == p.id })
		if i < 0 {
			t.Errorf("%s: not found", p.b.name)
			continue
		}
		d := all.Discrepancies[i]
		if d.Type != p.b.typ || d.Kind != p.b.kind || d.Number != p.number || !slices.Contains(d.EventIDs, p.events[p.b.culprit]) {
			t.Errorf("%s: found %+v, want %s/%s naming event %s", p.b.name, d, p.b.typ, p.b.kind, p.events[p.b.culprit])
		}
	}

	// Every row of the listing is one of the facts the fold booked, with
	// the same amounts; the listing pages through all of them.
	var rows []Compensation
	q := CompensationQuery{Limit: 500}
	for {
		page, err := r.CompensationsPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, page.Items...)
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	sum := map[[2]string]int64{}
	for _, c := range rows {
		if c.Entry == EntryApproval {
			sum[[2]string{c.Amount.Currency, domain.CountedAs(c.Kind)}] += c.Amount.Amount
		}
	}
	for k, tot := range expectedTotals(books, time.Time{}, time.Time{}, asOf) {
		if sum[k] != tot.Approved.Amount {
			t.Errorf("listing: approvals of %v add up to %d, the fold to %d", k, sum[k], tot.Approved.Amount)
		}
	}
	if !sort.SliceIsSorted(rows, func(a, b int) bool { return rows[a].At.Before(rows[b].At) }) {
		t.Errorf("the listing is not in time order")
	}

	// Rebuild from zero equals live, also with a cache too small for the
	// claims (claims refolded from the store all the time).
	live := snapshot(t, r)[Compensations]
	if err := r.Rebuild(ctx, Compensations); err != nil {
		t.Fatal(err)
	}
	sameSnapshots(t, "rebuilt compensations vs live", map[string][]string{Compensations: snapshot(t, r)[Compensations]}, map[string][]string{Compensations: live})
	cfg := testConfig(t.TempDir())
	// 200 claims cached of 1,300: most events find their claim evicted. (A
	// cache of 3 refolds nearly every event's stream, in every model, which
	// under the race detector takes minutes; the small-fixture tests cover
	// that extreme.)
	cfg.CacheSize = 200
	small := startRunner(t, w.store, cfg)
	waitFor(t, small, w.head())
	sameSnapshots(t, "tiny cache vs live", map[string][]string{Compensations: snapshot(t, small)[Compensations]}, map[string][]string{Compensations: live})
}

// entryOf folds events, with metadata naming actor "finance-1", into a
// compensations entry, as the model does.
func entryOf(t *testing.T, events ...domain.Event) (compEntry, []string) {
	t.Helper()
	var (
		e   compEntry
		ids []string
	)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for k, ev := range events {
		meta, _ := json.Marshal(eventlog.Metadata{Actor: "finance-1", Role: "finance", OccurredAt: at})
		id := uuid.New()
		it := item{rec: eventstore.RecordedEvent{ID: id, Stream: "claim-x", Revision: uint64(k), Position: eventstore.Position{Commit: uint64(k + 1), Prepare: uint64(k + 1)}, Metadata: meta}, event: ev}
		var err error
		if e, _, err = e.advance(it); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.String())
	}
	return e, ids
}

// TestDeriveCorrections pins how payments settle approvals when
// corrections move money around: which rows end up outstanding, settled or
// reversed, and which histories are discrepancies.
func TestDeriveCorrections(t *testing.T) {
	reg := domain.ClaimRegistered{Number: "RMA-1", Price: eurAmount(100000)}
	estimate := func(total int64) domain.Event {
		return domain.EstimateIssued{DamageLevel: 1, Parts: eurAmount(total), Labour: eurAmount(0), Shipping: eurAmount(0), Total: eurAmount(total)}
	}
	type want struct {
		kind, status  string
		amount        int64
		settled       int64
		reversesIndex int // index in the events of the reversed fact's event, or -1
	}
	cases := []struct {
		name   string
		events []domain.Event
		rows   []want
		found  []string // discrepancy types
	}{
		{
			name: "a larger estimate accepted after an appeal takes up what was paid",
			events: []domain.Event{reg, estimate(7500), domain.EstimateAccepted{}, domain.PaymentRecorded{Amount: eurAmount(7500), Reference: "P1"},
				estimate(10000), domain.EstimateAccepted{}},
			rows: []want{
				{KindPaidRepairCharge, StatusReversed, 7500, 0, -1},
				{KindPaymentReceived, StatusSettled, 7500, 7500, -1},
				{KindPaidRepairCharge, StatusReversal, -7500, -7500, 2},
				{KindPaidRepairCharge, StatusOutstanding, 10000, 7500, -1},
			},
		},
		{
			name: "a smaller one leaves an overpayment",
			events: []domain.Event{reg, estimate(7500), domain.EstimateAccepted{}, domain.PaymentRecorded{Amount: eurAmount(7500), Reference: "P1"},
				estimate(3000), domain.EstimateAccepted{}},
			rows: []want{
				{KindPaidRepairCharge, StatusReversed, 7500, 0, -1},
				{KindPaymentReceived, StatusSettled, 7500, 7500, -1},
				{KindPaidRepairCharge, StatusReversal, -7500, -7500, 2},
				{KindPaidRepairCharge, StatusSettled, 3000, 3000, -1},
			},
			found: []string{DiscrepancyPaymentDiffers},
		},
		{
			name: "an approval reversed below what was paid on it",
			events: []domain.Event{reg, domain.RefundApproved{Amount: eurAmount(5000)}, domain.RefundPaid{Amount: eurAmount(2000), Reference: "R1"},
				domain.RefundApprovalReversed{Amount: eurAmount(4000)}},
			rows: []want{
				{KindRefund, StatusSettled, 5000, 1000, -1},
				{KindRefund, StatusSettled, 2000, 2000, -1},
				{KindRefund, StatusReversal, -4000, -4000, 1},
			},
			found: []string{DiscrepancyPaymentDiffers},
		},
		{
			name: "a bounced refund transfer paid again",
			events: []domain.Event{reg, domain.RefundApproved{Amount: eurAmount(5000)}, domain.RefundPaid{Amount: eurAmount(5000), Reference: "R1"},
				domain.RefundPaymentReversed{Reference: "R1", Amount: eurAmount(5000)}, domain.RefundPaid{Amount: eurAmount(5000), Reference: "R2"}},
			rows: []want{
				{KindRefund, StatusSettled, 5000, 5000, -1},
				{KindRefund, StatusReversed, 5000, 5000, -1},
				{KindRefund, StatusReversal, -5000, -5000, 2},
				{KindRefund, StatusSettled, 5000, 5000, -1},
			},
		},
		{
			name: "a bounced transfer not yet paid again, on a closed claim",
			events: []domain.Event{reg, domain.RefundApproved{Amount: eurAmount(5000)}, domain.RefundPaid{Amount: eurAmount(5000), Reference: "R1"},
				domain.ClaimClosed{ReasonCode: "completed"}, domain.RefundPaymentReversed{Reference: "R1", Amount: eurAmount(5000)}},
			rows: []want{
				{KindRefund, StatusOutstanding, 5000, 0, -1},
				{KindRefund, StatusReversed, 5000, 5000, -1},
				{KindRefund, StatusReversal, -5000, -5000, 2},
			},
			found: []string{DiscrepancyClosedOutstanding},
		},
		{
			name: "a cancelled credit note and the refund instead",
			events: []domain.Event{reg, domain.CreditNoteIssued{Number: "CN-1", Amount: eurAmount(2000)}, domain.CreditNoteCancelled{Number: "CN-1", Amount: eurAmount(2000)},
				domain.RefundApproved{Amount: eurAmount(2000)}},
			rows: []want{
				{KindCreditNote, StatusReversed, 2000, 0, -1},
				{KindCreditNote, StatusReversal, -2000, -2000, 1},
				{KindRefund, StatusOutstanding, 2000, 0, -1},
			},
		},
		{
			name: "an accepted estimate abandoned unpaid",
			events: []domain.Event{reg, estimate(7500), domain.EstimateAccepted{}, domain.ClaimReturnedUnrepaired{Resolution: domain.ResolutionReturnedUnrepaired},
				domain.ClaimClosed{ReasonCode: "completed"}},
			rows: []want{
				{KindPaidRepairCharge, StatusReversed, 7500, 0, -1},
				{KindPaidRepairCharge, StatusReversal, -7500, -7500, 2},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ids := entryOf(t, tc.events...)
			rows, found := e.derive()
			if len(rows) != len(tc.rows) {
				t.Fatalf("%d rows, want %d: %+v", len(rows), len(tc.rows), rows)
			}
			for i, w := range tc.rows {
				r := rows[i]
				reverses := ""
				if w.reversesIndex >= 0 {
					reverses = ids[w.reversesIndex]
				}
				if r.Kind != w.kind || r.Status != w.status || r.Amount.Amount != w.amount || r.Settled != w.settled || r.Reverses != reverses || r.actor != "finance-1" {
					t.Errorf("row %d: %s %s %d settled %d reverses %q by %q, want %+v", i, r.Kind, r.Status, r.Amount.Amount, r.Settled, r.Reverses, r.actor, w)
				}
				if (r.Status == StatusOutstanding) != r.ClosedAt.IsZero() {
					t.Errorf("row %d: status %s but closed at %v", i, r.Status, r.ClosedAt)
				}
			}
			var types []string
			for _, d := range found {
				types = append(types, d.Type)
			}
			if !slices.Equal(types, tc.found) {
				t.Errorf("discrepancies %v, want %v", found, tc.found)
			}
		})
	}
}

// TestTotalsNeverOverflow: a total beyond int64 minor units is an error,
// never a wrapped number.
func TestTotalsNeverOverflow(t *testing.T) {
	total := domain.Money{Amount: math.MaxInt64 - 1, Currency: "EUR"}
	if err := addTo(&total, 1); err != nil || total.Amount != math.MaxInt64 {
		t.Fatalf("up to the limit: %v %v", total, err)
	}
	if err := addTo(&total, 1); !errors.Is(err, ErrTotalOverflow) || total.Amount != math.MaxInt64 {
		t.Fatalf("past the limit: %v %v", total, err)
	}
	if err := reconcileError(errors.New("integer overflow")); !errors.Is(err, ErrTotalOverflow) {
		t.Fatalf("SQLite's overflow: %v", err)
	}
}
