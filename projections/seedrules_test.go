package projections

import (
	"context"
	"slices"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
)

// TestRepairsOf: the claims model finds a unit's repairs by serial number or IMEI, and a
// registration through a ledger wired to it counts them.
func TestRepairsOf(t *testing.T) {
	w := newWorld(t)
	claims := w.register(0, 7) // 0: free repair of SN-000000; 1: paid repair of imei(1); 2: refund
	r := startRunner(t, w.store, testConfig(t.TempDir()))
	waitFor(t, r, w.head())
	ctx := context.Background()

	dashed := imei(1)[:2] + "-" + imei(1)[2:8] + "-" + imei(1)[8:]
	cases := []struct {
		name  string
		unit  domain.Product
		claim int // index into claims, or -1 for none
		paid  bool
	}{
		{"a free repair, by serial", domain.Product{Category: "laptop", Serial: "SN-000000"}, 0, false},
		{"a paid repair, by the IMEI as typed", domain.Product{Category: "phone", IMEI: dashed}, 1, true},
		{"a refund is no repair", domain.Product{Category: "laptop", Serial: "SN-000002"}, -1, false},
		{"another model with the serial", domain.Product{SKU: "NB-9", Category: "laptop", Serial: "SN-000000"}, -1, false},
		{"no serial and no IMEI", domain.Product{Category: "laptop"}, -1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.RepairsOf(ctx, tc.unit)
			switch {
			case err != nil:
				t.Fatal(err)
			case tc.claim < 0 && len(got) != 0:
				t.Errorf("found %+v", got)
			case tc.claim >= 0 && (len(got) != 1 || got[0].ClaimID != claims[tc.claim].id || got[0].Number != claims[tc.claim].number || got[0].Paid != tc.paid):
				t.Errorf("found %+v, want claim %s", got, claims[tc.claim].number)
			}
		})
	}

	l, err := ledger.New(w.store, ledger.Config{Clock: w.now, Repairs: r})
	if err != nil {
		t.Fatal(err)
	}
	again := registration(0)
	res, err := l.Register(ctx, again, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Claim.RepairsOnRecord; len(got) != 1 || got[0].ClaimID != claims[0].id {
		t.Errorf("the new claim on SN-000000 records %+v", got)
	}
}

// TestStatusShowsOutstandingDocuments: the public view lists the documents still awaited until
// the claim is resolved, and asks for them first when the policy checks them before the goods.
func TestStatusShowsOutstandingDocuments(t *testing.T) {
	for _, first := range []bool{true, false} {
		book, err := domain.NewPolicyBook(domain.Policy{Version: "docs", RefundCapBasisPoints: 7000, DocumentsBeforeShipment: first})
		if err != nil {
			t.Fatal(err)
		}
		w := policyWorld(t, book)
		r := startRunner(t, w.store, timersConfig(t.TempDir(), book))
		ctx := context.Background()
		reg, err := w.ledger.Register(ctx, registration(0), req)
		if err != nil {
			t.Fatal(err)
		}
		id, number := reg.Claim.ID, reg.Claim.Number
		view := func(c domain.Command) StatusView {
			t.Helper()
			res, err := w.ledger.Execute(ctx, id, c, req)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, r, res.Position)
			v, err := r.StatusLookup(ctx, number, phone(0))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		lifecycle := lifecycle(0)
		v := view(lifecycle[0]) // authorized, with a claim form and a copy of the receipt requested
		wantNext := "ship_item"
		if first {
			wantNext = nextStepSendDocuments
		}
		if v.NextStep != wantNext || !slices.Equal(v.DocumentsOutstanding, []string{"claim form", "copy of receipt"}) {
			t.Errorf("documents first %v: authorized: next %s, outstanding %q", first, v.NextStep, v.DocumentsOutstanding)
		}
		v = view(&domain.ReceiveDocuments{Documents: []string{"claim form"}})
		if v.NextStep != wantNext || !slices.Equal(v.DocumentsOutstanding, []string{"copy of receipt"}) {
			t.Errorf("documents first %v: one received: next %s, outstanding %q", first, v.NextStep, v.DocumentsOutstanding)
		}
		if first {
			view(&domain.ReceiveDocuments{Documents: []string{"copy of receipt"}})
			continue
		}
		// The goods came first: the copy of the receipt is still awaited after intake, and
		// received with them.
		view(&domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"})
		v = view(&domain.ReceiveClaim{Condition: "ok", SealsIntact: yes(), ReceivedBy: intakeClerk})
		if v.NextStep != "awaiting_diagnosis" || !slices.Equal(v.DocumentsOutstanding, []string{"copy of receipt"}) {
			t.Errorf("after intake: next %s, outstanding %q", v.NextStep, v.DocumentsOutstanding)
		}
		if v = view(&domain.ReceiveDocuments{Documents: []string{"copy of receipt"}}); len(v.DocumentsOutstanding) != 0 {
			t.Errorf("after the last document: outstanding %q", v.DocumentsOutstanding)
		}
	}
	if !slices.Contains(NextStepCodes(), nextStepSendDocuments) {
		t.Errorf("NextStepCodes lacks %s, so the page would not be made to translate it", nextStepSendDocuments)
	}
}

// TestNextStepOfGoodsPaidInAdvance: the goods of an estimate paid before they travel wait for the
// requested documents as goods straight from authorization do, under a policy that checks them
// first; then they are sent.
func TestNextStepOfGoodsPaidInAdvance(t *testing.T) {
	docsFirst := domain.Policy{Version: "docs", RefundCapBasisPoints: 7000, DocumentsBeforeShipment: true}
	paid := domain.Fold([]domain.Event{
		domain.ClaimRegistered{Number: "RMA-1", Price: eur("129.90"), At: t0},
		domain.ClaimAuthorized{PaidRepair: true, DocumentsRequested: []string{"claim form"}, At: t0},
		domain.EstimateIssued{DamageLevel: 1, Labour: eur("75.00"), Total: eur("75.00"), At: t0},
		domain.EstimateAccepted{At: t0},
		domain.PaymentRecorded{Amount: eur("75.00"), Reference: "P", Method: domain.PaymentCard, At: t0},
	})
	if got := nextStep(paid, docsFirst); got != nextStepSendDocuments {
		t.Errorf("paid in advance, documents outstanding: next %s, want %s", got, nextStepSendDocuments)
	}
	received := domain.Evolve(paid, domain.DocumentsReceived{Documents: []string{"claim form"}, At: t0})
	if got := nextStep(received, docsFirst); got != "ship_item" {
		t.Errorf("paid in advance, documents in: next %s, want ship_item", got)
	}
}

// BenchmarkRepairsOf is the lookup each registration makes: one unit's claims by serial number,
// among many claims.
func BenchmarkRepairsOf(b *testing.B) {
	w := newWorld(b)
	w.register(0, 700)
	r := startRunner(b, w.store, testConfig(b.TempDir()))
	waitFor(b, r, w.head())
	unit := domain.Product{Category: "laptop", Serial: "SN-000336"}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if got, err := r.RepairsOf(ctx, unit); err != nil || len(got) != 1 {
			b.Fatalf("%v %v", got, err)
		}
	}
}
