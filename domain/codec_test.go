package domain_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// everyEvent has one event of every type with every field set, so that a round trip would
// notice any field the codec drops.
func everyEvent() []domain.Event {
	sc := domain.ServiceCenter{Name: "ASC", Country: "BG", Address: "Sofia", Contact: "+35929000000"}
	proof := &domain.ProofOfPurchase{Kind: domain.ProofInvoice, Reference: "INV-1"}
	return []domain.Event{
		domain.ClaimRegistered{
			ClaimID: claimID, Number: "RMA-1",
			Customer:     domain.Customer{Name: "Ива", Phone: "+359881234567", Email: "a@b.bg", Address: "ул. 1"},
			Product:      domain.Product{SKU: "S", Category: "laptop", Serial: "SN", IMEI: "490154203237518", Description: "d", Component: "hdd", Condition: domain.ConditionUsed},
			PurchaseDate: date("2025-11-20"), ProofOfPurchase: proof, Price: eur("129.90"), Defect: "dead",
			Channel:      domain.ChannelWalkIn,
			Coverages:    []domain.CoveragePurchase{{Kind: domain.CoverageExtended, Reference: "EW-1", PurchasedOn: date("2025-11-20"), Months: 36}},
			PriorRepairs: []domain.PriorRepair{{Reference: "RMA-0", ReceivedOn: date("2025-12-01"), DeliveredOn: date("2025-12-09")}},
			Eligibility: &domain.Eligibility{Covered: true, Coverage: domain.CoverageExtended, Reference: "EW-1", Until: date("2028-11-19"),
				AsOf: date("2026-03-02"), PolicyVersion: "v1"},
			ReportedAt: t0.Add(-time.Hour),
			At:         t0,
		},
		domain.ClaimRedirectedToServiceCenter{ServiceCenter: sc, Notes: "n", At: t0},
		domain.ServiceCenterActRecorded{Kind: domain.ActRefusal, Reference: "A-1", IssuedOn: date("2026-01-02"), Notes: "n", At: t0},
		domain.ClaimAuthorized{ServiceCenter: sc, DocumentsRequested: []string{"form"}, ProofOfPurchase: proof, Notes: "n", PaidRepair: true,
			Coverages:    []domain.CoveragePurchase{{Kind: domain.CoveragePostWarranty, Reference: "PW-1", PurchasedOn: date("2025-11-20"), Months: 12}},
			PriorRepairs: []domain.PriorRepair{{Reference: "RMA-1", ReceivedOn: date("2025-12-01"), DeliveredOn: date("2025-12-09"), Paid: true}},
			Eligibility: &domain.Eligibility{Covered: false, Until: date("2026-11-19"), ReasonCode: domain.NotCoveredExpired, Reason: "r",
				ExtendedByDays: 8, AsOf: date("2026-03-02"), PolicyVersion: "v1"},
			At: t0},
		domain.ClaimRejected{ReasonCode: "tampered", Reason: "r", At: t0},
		domain.DocumentsReceived{Documents: []string{"form"}, At: t0},
		domain.CustomerShipmentRecorded{Carrier: "Econt", TrackingNumber: "E1", At: t0},
		domain.ClaimReceived{Condition: "ok", Accessories: []string{"charger"}, SealsIntact: true, Photos: []string{"p1"}, ServiceCenter: "Sofia", ReceivedBy: "M", At: t0},
		domain.ClaimDiagnosed{Outcome: domain.OutcomeWarrantyVoid, VoidReasonCode: "liquid_damage", Findings: "f", ConfirmsEstimate: true, At: t0},
		domain.EstimateIssued{DamageLevel: 3, Parts: eur("1"), Labour: eur("2"), Shipping: eur("3"), Total: eur("6"), Description: "d", At: t0},
		domain.EstimateAccepted{Reference: "r", At: t0},
		domain.EstimateDeclined{Reason: "r", At: t0},
		domain.PaymentRecorded{Amount: eur("6"), Reference: "P", Method: domain.PaymentBankTransfer, For: domain.PaymentForPriceDifference, At: t0},
		domain.RepairStarted{Where: domain.RepairManufacturer, Technician: "T", Notes: "n", At: t0},
		domain.RepairCompleted{WorkDone: "w", Parts: []string{"p"}, At: t0},
		domain.ItemReplaced{NewSerial: "N", NewSKU: "K", Notes: "n", Value: eur("99"), Reference: "DN-1",
			DifferenceRefund: eur("30"), DifferenceCharge: eur("1"), CapBasisPoints: 7000, At: t0},
		domain.RefundApproved{Amount: eur("5"), Reason: "r", CapBasisPoints: 7000, Reference: "FIN-1", At: t0},
		domain.RefundPaid{Amount: eur("5"), Reference: "R", At: t0},
		domain.CreditNoteIssued{Number: "CN", Amount: eur("4"), Reason: "r", CapBasisPoints: 7000, At: t0},
		domain.ClaimReturnedUnrepaired{Resolution: domain.ResolutionNoFaultFound, Reason: "r", At: t0},
		domain.ReturnShipped{Carrier: "Speedy", TrackingNumber: "S", At: t0},
		domain.DeliveryConfirmed{SignedBy: "I", At: t0},
		domain.DisputeOpened{Reason: "r", Reference: "letter", OriginalResolution: domain.ResolutionRepaired, At: t0},
		domain.DisputeResolved{Outcome: domain.DisputeOverturned, Decision: "d", RefundCancelled: eur("1"), At: t0},
		domain.NoteAdded{Text: "t", Visibility: domain.VisibilityCustomer, At: t0},
		domain.ClaimPutOnHold{ReasonCode: "unpaid_debt", Reason: "r", PreviousStatus: domain.StatusInRepair, At: t0},
		domain.ClaimReleasedFromHold{Notes: "n", At: t0},
		domain.ClaimWithdrawn{Reason: "r", At: t0},
		domain.ClaimClosed{ReasonCode: "completed", Reason: "r", At: t0},
		domain.SupplierRecoveryClaimed{Amount: eur("3"), Supplier: "Lenovo", Reference: "L-1", Reason: "r", At: t0},
		domain.SupplierRecoveryReceived{Amount: eur("3"), Reference: "W-1", At: t0},
		domain.RefundApprovalReversed{Amount: eur("1"), Reason: "r", At: t0},
		domain.RefundPaymentReversed{Reference: "R", Amount: eur("5"), Reason: "r", At: t0},
		domain.PaymentReversed{Reference: "P", Amount: eur("6"), Reason: "r", At: t0},
		domain.CreditNoteCancelled{Number: "CN", Amount: eur("4"), Reason: "r", At: t0},
		domain.SLABreached{Clock: domain.ClockDecision, DueAt: t0.Add(-time.Hour), Overrun: domain.Duration(90 * time.Minute), At: t0},
		domain.RepairEscalated{DueAt: t0.Add(-time.Hour), Overrun: domain.Duration(time.Hour), Required: []domain.Action{domain.ActionReplace, domain.ActionApproveRefund}, At: t0},
		domain.PersonalDataErased{CustomerID: "c0ffee", At: t0},
		domain.ClaimResolvedRemotely{Method: domain.RemoteBySession, WorkDone: "w", Technician: "T", Reference: "SR-1", PreviousStatus: domain.StatusAuthorized, At: t0},
		domain.ClaimAssigned{Assignee: "Maria Ivanova", PreviousAssignee: "Georgi Georgiev", Note: "n", At: t0},
		domain.ServiceReportConfirmed{Comment: "Works again.", At: t0},
		domain.FileAttached{FileID: claimID, SHA256: strings.Repeat("ab", 32), Size: 2048, ContentType: domain.ContentTypePDF, Name: "receipt.pdf", Step: domain.StepProofOfPurchase, Encrypted: true, At: t0},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	var seen []string
	for _, e := range everyEvent() {
		name, data, err := domain.EncodeEvent(e)
		if err != nil {
			t.Errorf("encode %T: %v", e, err)
			continue
		}
		seen = append(seen, name)
		back, err := domain.DecodeEvent(name, data)
		if err != nil {
			t.Errorf("decode %s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("%s round trip\n got %#v\nwant %#v\njson %s", name, back, e, data)
		}
	}
	if !slices.Equal(seen, domain.EventTypes()) {
		t.Errorf("round-tripped %v\nregistered %v", seen, domain.EventTypes())
	}
}

// TestEventTypeNames pins the stored names: changing one would orphan stored events.
func TestEventTypeNames(t *testing.T) {
	want := []string{
		"claim.registered.v1", "claim.redirected_to_service_center.v1", "claim.service_center_act_recorded.v1",
		"claim.authorized.v1", "claim.rejected.v1", "claim.documents_received.v1",
		"claim.customer_shipment_recorded.v1", "claim.received.v1", "claim.diagnosed.v1",
		"claim.estimate_issued.v1", "claim.estimate_accepted.v1", "claim.estimate_declined.v1",
		"claim.payment_recorded.v1", "claim.repair_started.v1", "claim.repair_completed.v1",
		"claim.item_replaced.v1", "claim.refund_approved.v1", "claim.refund_paid.v1",
		"claim.credit_note_issued.v1", "claim.returned_unrepaired.v1", "claim.return_shipped.v1",
		"claim.delivery_confirmed.v1", "claim.dispute_opened.v1", "claim.dispute_resolved.v1",
		"claim.note_added.v1", "claim.put_on_hold.v1", "claim.released_from_hold.v1",
		"claim.withdrawn.v1", "claim.closed.v1",
		"claim.supplier_recovery_claimed.v1", "claim.supplier_recovery_received.v1",
		"claim.refund_approval_reversed.v1", "claim.refund_payment_reversed.v1",
		"claim.payment_reversed.v1", "claim.credit_note_cancelled.v1",
		"claim.sla_breached.v1", "claim.repair_escalated.v1",
		"claim.personal_data_erased.v1",
		"claim.resolved_remotely.v1",
		"claim.assigned.v1",
		"claim.service_report_confirmed.v1",
		"claim.file_attached.v1",
	}
	if got := domain.EventTypes(); !slices.Equal(got, want) {
		t.Errorf("event types\n got %v\nwant %v", got, want)
	}
}

// TestCodecWireFormat pins one event's JSON: snake_case, money as decimal strings, dates as
// days, optional fields omitted.
func TestCodecWireFormat(t *testing.T) {
	_, data, err := domain.EncodeEvent(domain.PaymentRecorded{Amount: money("1500", "JPY"), Reference: "P-1", Method: domain.PaymentCash, At: t0})
	want := `{"amount":{"amount":"1500","currency":"JPY"},"reference":"P-1","method":"cash","at":"2026-03-02T09:00:00Z"}`
	if err != nil || string(data) != want {
		t.Errorf("json %s, %v\nwant %s", data, err, want)
	}
	_, data, _ = domain.EncodeEvent(domain.DisputeResolved{Outcome: domain.DisputeUpheld, Decision: "d", At: t0})
	if want := `{"outcome":"upheld","decision":"d","at":"2026-03-02T09:00:00Z"}`; string(data) != want {
		t.Errorf("json %s\nwant %s", data, want)
	}
}

// TestCodecEveryHistory round-trips every fixture history, as the store would replay it.
func TestCodecEveryHistory(t *testing.T) {
	for name := range fixtures {
		events := history(t, name)
		var back []domain.Event
		for _, e := range events {
			typ, data, err := domain.EncodeEvent(e)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			d, err := domain.DecodeEvent(typ, data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			back = append(back, d)
		}
		if !reflect.DeepEqual(domain.Fold(back), domain.Fold(events)) {
			t.Errorf("%s: state differs after a round trip through the codec", name)
		}
	}
}

// foreignEvent is an Event this package does not know.
type foreignEvent struct{}

func (foreignEvent) EventType() string { return "claim.foreign.v1" }

func TestCodecRejectsUnknownTypes(t *testing.T) {
	if _, err := domain.DecodeEvent("claim.teleported.v1", []byte(`{}`)); !errors.Is(err, domain.ErrUnknownEventType) {
		t.Errorf("decode unknown: %v", err)
	}
	if _, _, err := domain.EncodeEvent(foreignEvent{}); !errors.Is(err, domain.ErrUnknownEventType) {
		t.Errorf("encode foreign: %v", err)
	}
	if _, _, err := domain.EncodeEvent(nil); err == nil {
		t.Errorf("encode nil succeeded")
	}
	if _, err := domain.DecodeEvent("claim.payment_recorded.v1", []byte(`{"amount":{"amount":"1.001","currency":"EUR"}}`)); !errors.Is(err, domain.ErrInvalidMoney) {
		t.Errorf("decode corrupt money: %v", err)
	}
}

// TestStateJSON: every reachable state encodes (it is what GET /v1/claims/{id} returns) with
// money as decimal strings and absent sub-records left out.
func TestStateJSON(t *testing.T) {
	for name := range fixtures {
		if _, err := json.Marshal(domain.Fold(history(t, name))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := json.Marshal(domain.State{}); err != nil {
		t.Errorf("empty state: %v", err)
	}
	b, _ := json.Marshal(domain.Fold(history(t, "registered")))
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["status"] != "registered" || got["purchase_date"] != "2025-11-20" || got["version"] != 1.0 {
		t.Errorf("state json %s", b)
	}
	if price, _ := got["price"].(map[string]any); price["amount"] != "129.90" || price["currency"] != "EUR" {
		t.Errorf("price %v", got["price"])
	}
	for _, absent := range []string{"authorization", "resolution", "hold", "closure", "payments"} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s present in a fresh claim: %s", absent, b)
		}
	}
}
