package domain_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

// Fixtures shared by the tests: sample commands for every action and histories, built by
// Decide itself, that reach every status (and the variants some guards need).

var (
	t0      = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	whenAt  = t0.Add(1000 * time.Hour) // "now" of the command under test, after every fixture
	claimID = uuid.MustParse("0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e")
	policy  = domain.DefaultPolicy()
)

// eur is a test shorthand for an amount in the sample claim's currency.
func eur(amount string) domain.Money { return money(amount, "EUR") }

// money parses an amount or panics: test data is known to be valid.
func money(amount, currency string) domain.Money {
	m, err := domain.ParseMoney(amount, currency)
	if err != nil {
		panic(err)
	}
	return m
}

// date parses a day or panics.
func date(s string) domain.Date {
	d, err := domain.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// yes is a *bool for ReceiveClaim.SealsIntact.
func yes() *bool { b := true; return &b }

// registration is the sample claim: a laptop bought for 129.90 EUR, with a receipt.
func registration() *domain.RegisterClaim {
	return &domain.RegisterClaim{
		ClaimID:         claimID,
		Number:          "RMA-2026-000042",
		Customer:        domain.Customer{Name: "Ivan Petrov", Phone: "+359 (88) 123-4567", Email: "ivan@example.bg"},
		Product:         domain.Product{SKU: "NB-1540", Category: "laptop", Serial: "SN-123456"},
		PurchaseDate:    date("2025-11-20"),
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: "R-7781"},
		Price:           eur("129.90"),
		Defect:          "Does not power on.",
		Channel:         domain.ChannelWeb,
	}
}

// registrationWithoutProof is the sample claim before the customer produced a receipt.
func registrationWithoutProof() *domain.RegisterClaim {
	c := registration()
	c.ProofOfPurchase = nil
	return c
}

// sample returns a valid command for the action, one that succeeds from the fixtures the
// lifecycle table lists for it.
func sample(a domain.Action) domain.Command {
	switch a {
	case domain.ActionRegister:
		return registration()
	case domain.ActionRedirectToServiceCenter:
		return &domain.RedirectToServiceCenter{ServiceCenter: domain.ServiceCenter{Name: "Lenovo ASC Sofia", Country: "BG", Contact: "+35929000000"}}
	case domain.ActionRecordUnrepairabilityAct:
		return &domain.RecordUnrepairabilityAct{Kind: domain.ActUnrepairability, Reference: "ACT-55", IssuedOn: date("2026-02-20")}
	case domain.ActionAuthorize:
		return &domain.AuthorizeClaim{
			ServiceCenter:      domain.ServiceCenter{Name: "Service Sofia", Address: "1 Tsarigradsko shose, Sofia"},
			DocumentsRequested: []string{"claim form", "copy of receipt"},
		}
	case domain.ActionReject:
		return &domain.RejectClaim{ReasonCode: "warranty_expired", Reason: "Bought more than two years ago."}
	case domain.ActionReceiveDocuments:
		return &domain.ReceiveDocuments{Documents: []string{"claim form"}}
	case domain.ActionRecordCustomerShipment:
		return &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP123"}
	case domain.ActionReceive:
		return &domain.ReceiveClaim{Condition: "Scratches on the lid.", SealsIntact: yes(), ReceivedBy: "M. Ivanova"}
	case domain.ActionDiagnose:
		return &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "Failed voltage regulator."}
	case domain.ActionIssueEstimate:
		return &domain.IssueEstimate{DamageLevel: 2, Parts: eur("40"), Labour: eur("25.00"), Shipping: eur("10.00")}
	case domain.ActionAcceptEstimate:
		return &domain.AcceptEstimate{Reference: "signed form"}
	case domain.ActionDeclineEstimate:
		return &domain.DeclineEstimate{Reason: "Too expensive."}
	case domain.ActionRecordPayment:
		return &domain.RecordPayment{Amount: eur("75.00"), Reference: "PAY-1", Method: domain.PaymentCard}
	case domain.ActionStartRepair:
		return &domain.StartRepair{Where: domain.RepairOwn, Technician: "G. Georgiev"}
	case domain.ActionCompleteRepair:
		return &domain.CompleteRepair{WorkDone: "Replaced the regulator.", Parts: []string{"VR-33"}}
	case domain.ActionReplace:
		return &domain.ReplaceItem{NewSerial: "SN-999"}
	case domain.ActionApproveRefund:
		return &domain.ApproveRefund{Amount: eur("50.00"), Reason: "Hardware share of the price."}
	case domain.ActionRecordRefundPayment:
		return &domain.RecordRefundPayment{Amount: eur("50.00"), Reference: "REF-1"}
	case domain.ActionIssueCreditNote:
		return &domain.IssueCreditNote{Amount: eur("20.00"), Number: "CN-1"}
	case domain.ActionReturnUnrepaired:
		return &domain.ReturnUnrepaired{Reason: "Customer wants it back as it is."}
	case domain.ActionShipReturn:
		return &domain.ShipReturn{Carrier: "Speedy", TrackingNumber: "SP999"}
	case domain.ActionConfirmDelivery:
		return &domain.ConfirmDelivery{SignedBy: "Ivan Petrov"}
	case domain.ActionOpenDispute:
		return &domain.OpenDispute{Reason: "It still does not power on."}
	case domain.ActionResolveDispute:
		return &domain.ResolveDispute{Outcome: domain.DisputeUpheld, Decision: "Second review found it working."}
	case domain.ActionAddNote:
		return &domain.AddNote{Text: "Called the customer."}
	case domain.ActionAssign:
		return &domain.AssignClaim{Assignee: "Maria Ivanova"}
	case domain.ActionPutOnHold:
		return &domain.PutOnHold{ReasonCode: "unpaid_debt"}
	case domain.ActionReleaseHold:
		return &domain.ReleaseHold{}
	case domain.ActionWithdraw:
		return &domain.WithdrawClaim{Reason: "Found the charger was broken."}
	case domain.ActionClose:
		return &domain.CloseClaim{ReasonCode: "completed"}
	case domain.ActionClaimSupplierRecovery:
		return &domain.ClaimSupplierRecovery{Amount: eur("40.00"), Supplier: "Lenovo", Reference: "LEN-RMA-1"}
	case domain.ActionRecordSupplierRecovery:
		return &domain.RecordSupplierRecovery{Amount: eur("40.00"), Reference: "REM-1"}
	case domain.ActionReverseRefundApproval:
		return &domain.ReverseRefundApproval{Amount: eur("50.00"), Reason: "Approved on the wrong claim."}
	case domain.ActionReverseRefundPayment:
		return &domain.ReverseRefundPayment{Reference: "REF-1", Reason: "Returned by the bank."}
	case domain.ActionReversePayment:
		return &domain.ReversePayment{Reference: "PAY-1", Reason: "Card chargeback."}
	case domain.ActionCancelCreditNote:
		return &domain.CancelCreditNote{Number: "CN-1", Reason: "Issued in error."}
	case domain.ActionConfirmServiceReport:
		return &domain.ConfirmServiceReport{Comment: "Works again, thank you."}
	case domain.ActionResolveRemotely:
		return &domain.ResolveRemotely{Method: domain.RemoteBySession, WorkDone: "Reinstalled the power management driver.", Technician: "G. Georgiev"}
	}
	panic("no sample for " + a)
}

// paidRepair authorizes the sample claim as paid work.
func paidRepair() *domain.AuthorizeClaim {
	c := sample(domain.ActionAuthorize).(*domain.AuthorizeClaim)
	c.PaidRepair = true
	return c
}

// fixture is a named history: the parent's, then these commands.
type fixture struct {
	parent string
	steps  []domain.Command
}

// fixtures reach every status; each default fixture is named after its status.
var fixtures = map[string]fixture{
	"registered":                  {"", []domain.Command{registration()}},
	"registered/no-proof":         {"", []domain.Command{registrationWithoutProof()}},
	"redirected":                  {"registered", []domain.Command{sample(domain.ActionRedirectToServiceCenter)}},
	"authorized":                  {"registered", []domain.Command{sample(domain.ActionAuthorize)}},
	"rejected":                    {"registered", []domain.Command{sample(domain.ActionReject)}},
	"in_transit":                  {"authorized", []domain.Command{sample(domain.ActionRecordCustomerShipment)}},
	"received":                    {"in_transit", []domain.Command{sample(domain.ActionReceive)}},
	"diagnosed":                   {"received", []domain.Command{sample(domain.ActionDiagnose)}},
	"diagnosed/void":              {"received", []domain.Command{&domain.DiagnoseClaim{Outcome: domain.OutcomeWarrantyVoid, VoidReasonCode: "liquid_damage", Findings: "Corrosion on the board."}}},
	"diagnosed/no-fault":          {"received", []domain.Command{&domain.DiagnoseClaim{Outcome: domain.OutcomeNoFaultFound, Findings: "Works for 48 hours under load."}}},
	"estimate_issued":             {"diagnosed/void", []domain.Command{sample(domain.ActionIssueEstimate)}},
	"estimate_accepted":           {"estimate_issued", []domain.Command{sample(domain.ActionAcceptEstimate)}},
	"estimate_accepted/part-paid": {"estimate_accepted", []domain.Command{&domain.RecordPayment{Amount: eur("30.00"), Reference: "PAY-0", Method: domain.PaymentCash}}},
	"paid":                        {"estimate_accepted", []domain.Command{sample(domain.ActionRecordPayment)}},
	"in_repair":                   {"diagnosed", []domain.Command{sample(domain.ActionStartRepair)}},
	"resolved":                    {"in_repair", []domain.Command{sample(domain.ActionCompleteRepair)}},
	"resolved/refund-unpaid":      {"diagnosed", []domain.Command{sample(domain.ActionApproveRefund)}},
	"resolved/refund-paid":        {"resolved/refund-unpaid", []domain.Command{sample(domain.ActionRecordRefundPayment)}},
	"resolved/credited":           {"diagnosed", []domain.Command{sample(domain.ActionIssueCreditNote)}},
	"return_shipped":              {"resolved", []domain.Command{sample(domain.ActionShipReturn)}},
	"delivered":                   {"return_shipped", []domain.Command{sample(domain.ActionConfirmDelivery)}},
	"disputed":                    {"resolved", []domain.Command{sample(domain.ActionOpenDispute)}},
	"closed":                      {"delivered", []domain.Command{sample(domain.ActionClose)}},
	"on_hold":                     {"in_repair", []domain.Command{sample(domain.ActionPutOnHold)}},
	"resolved/recovery-claimed":   {"resolved", []domain.Command{sample(domain.ActionClaimSupplierRecovery)}},
	"resolved/remotely":           {"authorized", []domain.Command{sample(domain.ActionResolveRemotely)}},
	// Paid work quoted, accepted and paid before the goods travel.
	"authorized/paid-repair":         {"registered", []domain.Command{paidRepair()}},
	"estimate_issued/before-goods":   {"authorized/paid-repair", []domain.Command{sample(domain.ActionIssueEstimate)}},
	"estimate_accepted/before-goods": {"estimate_issued/before-goods", []domain.Command{sample(domain.ActionAcceptEstimate)}},
	"paid/before-goods":              {"estimate_accepted/before-goods", []domain.Command{sample(domain.ActionRecordPayment)}},
	"received/paid-before":           {"paid/before-goods", []domain.Command{sample(domain.ActionReceive)}},
	"diagnosed/paid-before":          {"received/paid-before", []domain.Command{&domain.DiagnoseClaim{Outcome: domain.OutcomeNoFaultFound, Findings: "Works for 48 hours under load."}}},
	// Replaced by a dearer model (149.90 EUR for the 129.90 EUR laptop); then appealed and repaired instead.
	"resolved/dearer-model": {"diagnosed", []domain.Command{&domain.ReplaceItem{NewSerial: "SN-2001", NewSKU: "NB-2000", Value: eur("149.90"), SettlePriceDifference: true}}},
	"resolved/repaired-instead": {"resolved/dearer-model", []domain.Command{
		sample(domain.ActionOpenDispute), &domain.ResolveDispute{Outcome: domain.DisputeOverturned, Decision: "Repair the claimed unit."},
		sample(domain.ActionStartRepair), sample(domain.ActionCompleteRepair),
	}},
}

// history returns the events of a fixture, produced by Decide one hour apart from t0.
func history(t testing.TB, name string) []domain.Event {
	t.Helper()
	f, ok := fixtures[name]
	if !ok {
		t.Fatalf("no fixture %q", name)
	}
	var events []domain.Event
	if f.parent != "" {
		events = history(t, f.parent)
	}
	for _, c := range f.steps {
		at := t0.Add(time.Duration(len(events)) * time.Hour)
		out, err := domain.Decide(domain.Fold(events), c, at, policy)
		if err != nil {
			t.Fatalf("fixture %s: %s: %v", name, c.Action(), err)
		}
		events = append(events, out...)
	}
	return events
}

// with returns a history extended by more events, without touching the original's array.
func with(events []domain.Event, more ...domain.Event) []domain.Event {
	return append(append([]domain.Event(nil), events...), more...)
}
