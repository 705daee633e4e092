package projections

import (
	"slices"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// TestDerivePriceDifferencesAndPrepaidWork: a replacement by another model books its price
// difference beside the replacement, as a refund (cheaper) or a price_difference owed by the
// customer (dearer); corrections find the difference, not the replacement; an estimate accepted
// before the goods travelled and then withdrawn is owed no more.
func TestDerivePriceDifferencesAndPrepaidWork(t *testing.T) {
	reg := domain.ClaimRegistered{Number: "RMA-1", Price: eurAmount(100000)}
	cheaper := domain.ItemReplaced{NewSerial: "SN-2", NewSKU: "M-2", Value: eurAmount(80000), DifferenceRefund: eurAmount(20000), CapBasisPoints: 7000}
	dearer := domain.ItemReplaced{NewSerial: "SN-3", NewSKU: "M-3", Value: eurAmount(120000), DifferenceCharge: eurAmount(20000)}
	forDifference := domain.PaymentRecorded{Amount: eurAmount(20000), Reference: "PD1", For: domain.PaymentForPriceDifference}
	type want struct {
		kind, status string
		line         int
		amount       int64
		settled      int64
		reverses     int // index in the events of the reversed fact's event, or -1
	}
	cases := []struct {
		name   string
		events []domain.Event
		rows   []want
		found  []string
		check  func(t *testing.T, rows []compRow, ids []string)
	}{
		{
			name:   "a cheaper model's difference refunded",
			events: []domain.Event{reg, cheaper, domain.RefundPaid{Amount: eurAmount(20000), Reference: "R1"}, domain.ClaimClosed{ReasonCode: "completed"}},
			rows: []want{
				{KindReplacement, StatusSettled, 0, 80000, 80000, -1},
				{KindRefund, StatusSettled, 1, 20000, 20000, -1},
				{KindRefund, StatusSettled, 0, 20000, 20000, -1},
			},
		},
		{
			name:   "a cheaper model's difference unpaid at closure",
			events: []domain.Event{reg, cheaper, domain.ClaimClosed{ReasonCode: "completed"}},
			rows: []want{
				{KindReplacement, StatusSettled, 0, 80000, 80000, -1},
				{KindRefund, StatusOutstanding, 1, 20000, 0, -1},
			},
			found: []string{DiscrepancyClosedOutstanding},
		},
		{
			name: "a difference refund cancelled on appeal: the refund row is reversed, not the replacement",
			events: []domain.Event{reg, cheaper, domain.DisputeOpened{Reason: "r"},
				domain.DisputeResolved{Outcome: domain.DisputeOverturned, RefundCancelled: eurAmount(20000)}},
			rows: []want{
				{KindReplacement, StatusSettled, 0, 80000, 80000, -1},
				{KindRefund, StatusReversed, 1, 20000, 0, -1},
				{KindRefund, StatusReversal, 0, -20000, -20000, 1},
			},
			check: func(t *testing.T, rows []compRow, ids []string) {
				if len(rows[0].ReversedBy) != 0 || !slices.Equal(rows[1].ReversedBy, []string{ids[3]}) {
					t.Errorf("reversed by: replacement %v, refund %v; want only the refund, by %s", rows[0].ReversedBy, rows[1].ReversedBy, ids[3])
				}
			},
		},
		{
			name:   "a dearer model's difference paid",
			events: []domain.Event{reg, dearer, forDifference},
			rows: []want{
				{KindReplacement, StatusSettled, 0, 120000, 120000, -1},
				{KindPriceDifference, StatusSettled, 1, 20000, 20000, -1},
				{KindPriceDifference, StatusSettled, 0, 20000, 20000, -1},
			},
		},
		{
			name: "a dearer model's difference charged back, on a closed claim",
			events: []domain.Event{reg, dearer, forDifference, domain.PaymentReversed{Reference: "PD1", Amount: eurAmount(20000)},
				domain.ClaimClosed{ReasonCode: "completed"}},
			rows: []want{
				{KindReplacement, StatusSettled, 0, 120000, 120000, -1},
				{KindPriceDifference, StatusOutstanding, 1, 20000, 0, -1},
				{KindPriceDifference, StatusReversed, 0, 20000, 20000, -1},
				{KindPriceDifference, StatusReversal, 0, -20000, -20000, 2},
			},
			found: []string{DiscrepancyClosedOutstanding},
		},
		{
			name: "a dearer model's difference unpaid when the appeal is overturned: owed no more",
			events: []domain.Event{reg, dearer, domain.DisputeOpened{Reason: "r"}, domain.DisputeResolved{Outcome: domain.DisputeOverturned},
				domain.RepairCompleted{WorkDone: "Repaired instead."}, domain.ClaimClosed{ReasonCode: "completed"}},
			rows: []want{
				{KindReplacement, StatusSettled, 0, 120000, 120000, -1},
				{KindPriceDifference, StatusReversed, 1, 20000, 0, -1},
				{KindPriceDifference, StatusReversal, 1, -20000, -20000, 1},
			},
		},
		{
			name: "an estimate accepted before the goods travelled, withdrawn unpaid",
			events: []domain.Event{reg, domain.EstimateIssued{DamageLevel: 1, Total: eurAmount(7500)}, domain.EstimateAccepted{},
				domain.ClaimWithdrawn{Reason: "Changed their mind."}},
			rows: []want{
				{KindPaidRepairCharge, StatusReversed, 0, 7500, 0, -1},
				{KindPaidRepairCharge, StatusReversal, 0, -7500, -7500, 2},
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
				if w.reverses >= 0 {
					reverses = ids[w.reverses]
				}
				if r.Kind != w.kind || r.Status != w.status || r.Line != w.line || r.Amount.Amount != w.amount || r.Settled != w.settled || r.Reverses != reverses {
					t.Errorf("row %d: %s %s line %d %d settled %d reverses %q, want %+v", i, r.Kind, r.Status, r.Line, r.Amount.Amount, r.Settled, r.Reverses, w)
				}
			}
			var types []string
			for _, d := range found {
				types = append(types, d.Type)
			}
			if !slices.Equal(types, tc.found) {
				t.Errorf("discrepancies %+v, want %v", found, tc.found)
			}
			if tc.check != nil {
				tc.check(t, rows, ids)
			}
		})
	}
}
