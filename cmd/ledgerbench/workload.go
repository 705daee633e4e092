package main

import (
	"fmt"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// The workload: claims through whole lifecycles, with the mix of outcomes
// the seeds describe. Claim i's path is a pure function of i, so the
// generated log, the HTTP load and the tests all see the same mix.

// Outcomes the workload drives claims to, one per path.
const (
	outcomeRepaired   = "repaired"    // free repair in warranty
	outcomePaidRepair = "paid_repair" // out of warranty: estimate, paid online, repaired
	outcomeReplaced   = "replaced"    // replacement unit
	outcomeRefunded   = "refunded"    // refund of the hardware share
	outcomeRejected   = "rejected"    // no warranty
	outcomeDisputed   = "disputed"    // appeal at release, upheld
	outcomeAutoClosed = "auto_closed" // goods never handed in, the SLA process closes it
	outcomeRedirected = "redirected"  // manufacturer's service center first, its act of unrepairability, then repaired
	outcomeOnHold     = "on_hold"     // suspended for an unpaid debt, released, repaired
)

// outcomeMix is the share of claims per outcome, in tenths: claim i takes
// outcomeMix[i%len(outcomeMix)]. Repairs dominate, as in any service desk.
var outcomeMix = []string{
	outcomeRepaired, outcomeRepaired, outcomePaidRepair, outcomeReplaced, outcomeRefunded,
	outcomeRejected, outcomeDisputed, outcomeAutoClosed, outcomeRedirected, outcomeOnHold,
}

// outcomeOf is the outcome claim i is driven to.
func outcomeOf(i int) string { return outcomeMix[i%len(outcomeMix)] }

// phoneOf is claim i's customer phone, as typed at the desk (formats vary);
// the status lookups send it back in the same form.
func phoneOf(i int) string {
	switch i % 3 {
	case 0:
		return fmt.Sprintf("+359 88 %07d", i%10_000_000)
	case 1:
		return fmt.Sprintf("+359-87-%07d", i%10_000_000)
	default:
		return fmt.Sprintf("+359 (89) %07d", i%10_000_000)
	}
}

func money(amount string) domain.Money {
	m, err := domain.ParseMoney(amount, "BGN")
	if err != nil {
		panic(err) // the workload's own constants
	}
	return m
}

// registration is claim i's registration: laptops with serial numbers,
// phones with IMEIs, bought about three months before today so that the
// seed warranty covers them.
func registration(i int, today time.Time) *domain.RegisterClaim {
	bought := domain.DateOf(today.AddDate(0, -3, -(i % 60)))
	c := &domain.RegisterClaim{
		Customer: domain.Customer{
			Name:  fmt.Sprintf("Customer %d", i),
			Phone: phoneOf(i),
			Email: fmt.Sprintf("customer%d@example.bg", i),
		},
		PurchaseDate:    bought,
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: fmt.Sprintf("R-%d", i)},
		Price:           money("1299.90"),
		Defect:          "Does not power on after a night on the charger.",
		Channel:         domain.ChannelWeb,
	}
	if i%2 == 0 {
		c.Product = domain.Product{SKU: "NB-1540", Category: "laptop", Serial: fmt.Sprintf("SN-%08d", i)}
	} else {
		c.Product = domain.Product{SKU: "PH-12", Category: "phone", IMEI: imei(i)}
	}
	return c
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

// step is one command of a lifecycle and who sends it.
type step struct {
	cmd domain.Command
	// by is the role that sends it: agents run the desk, technicians the
	// bench, and the SLA process closes expired shipment windows.
	by string
}

// Who sends a step.
const (
	byAgent      = "agent"
	byTechnician = "technician"
	bySLA        = "sla"
)

// slaLate is how long after the authorization a workload that decides the
// SLA process's closure itself decides it: the closure is accepted only
// once the shipment window (1 working day) expired, and eight days outlast
// the longest run of holidays and weekend in the default calendar. The
// HTTP load leaves the closure to the service, as production does.
const slaLate = 8 * 24 * time.Hour

// lifecycle is what happens to claim i after its registration, to the end:
// every claim in the mix is driven to closure.
func lifecycle(i int) []step {
	yes := true
	authorize := step{&domain.AuthorizeClaim{
		ServiceCenter:      domain.ServiceCenter{Name: "Service Sofia", Country: "BG", Address: "1 Tsarigradsko shose, Sofia"},
		DocumentsRequested: []string{"claim form", "copy of receipt"},
	}, byAgent}
	// The default policy checks the documents before the goods ship.
	docs := step{&domain.ReceiveDocuments{Documents: []string{"claim form", "copy of receipt"}}, byAgent}
	ship := step{&domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: fmt.Sprintf("SP%08d", i)}, byAgent}
	receive := step{&domain.ReceiveClaim{Condition: "Scratches on the lid.", Accessories: []string{"charger"}, SealsIntact: &yes, ReceivedBy: "M. Ivanova"}, byTechnician}
	confirmed := step{&domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "Failed voltage regulator."}, byTechnician}
	startRepair := step{&domain.StartRepair{Where: domain.RepairOwn, Technician: "G. Georgiev"}, byTechnician}
	completeRepair := step{&domain.CompleteRepair{WorkDone: "Replaced the regulator.", Parts: []string{"VR-33"}}, byTechnician}
	back := []step{
		{&domain.ShipReturn{Carrier: "Speedy", TrackingNumber: fmt.Sprintf("RT%08d", i)}, byAgent},
		{&domain.ConfirmDelivery{SignedBy: "Customer"}, byAgent},
		{&domain.CloseClaim{ReasonCode: "completed", Reason: "Resolved and delivered."}, byAgent},
	}
	var path []step
	switch outcomeOf(i) {
	case outcomeRepaired:
		path = []step{authorize, docs, ship, receive, confirmed, startRepair, completeRepair}
	case outcomePaidRepair:
		path = []step{authorize, docs, ship, receive,
			{&domain.DiagnoseClaim{Outcome: domain.OutcomeOutOfWarranty, Findings: "Liquid traces under the keyboard; not covered."}, byTechnician},
			{&domain.IssueEstimate{DamageLevel: 2, Parts: money("40.00"), Labour: money("25.00"), Shipping: money("10.00")}, byTechnician},
			{&domain.AcceptEstimate{Reference: "signed form"}, byAgent},
			{&domain.RecordPayment{Amount: money("75.00"), Reference: fmt.Sprintf("PAY-%d", i), Method: domain.PaymentOnline}, byAgent},
			startRepair,
			{&domain.CompleteRepair{WorkDone: "Replaced the keyboard and cleaned the board."}, byTechnician},
		}
	case outcomeReplaced:
		path = []step{authorize, docs, ship, receive, confirmed,
			{&domain.ReplaceItem{NewSerial: fmt.Sprintf("SN-R%08d", i)}, byTechnician},
		}
	case outcomeRefunded:
		return []step{authorize, docs, ship, receive, confirmed,
			{&domain.ApproveRefund{Amount: money("500.00"), Reason: "Hardware share of the price."}, byAgent},
			{&domain.RecordRefundPayment{Amount: money("500.00"), Reference: fmt.Sprintf("REF-%d", i)}, byAgent},
			{&domain.CloseClaim{ReasonCode: "completed", Reason: "Refunded."}, byAgent},
		}
	case outcomeRejected:
		return []step{
			{&domain.AddNote{Text: "Seal on the back cover is broken.", Visibility: domain.VisibilityInternal}, byAgent},
			{&domain.RejectClaim{ReasonCode: "warranty_void", Reason: "The seal was broken."}, byAgent},
			{&domain.CloseClaim{ReasonCode: "completed", Reason: "Rejected."}, byAgent},
		}
	case outcomeDisputed:
		path = []step{authorize, docs, ship, receive, confirmed,
			{&domain.ReplaceItem{NewSerial: fmt.Sprintf("SN-R%08d", i)}, byTechnician},
			{&domain.OpenDispute{Reason: "The replacement is a different colour."}, byAgent},
			{&domain.ResolveDispute{Outcome: domain.DisputeUpheld, Decision: "Same model and specification."}, byAgent},
		}
	case outcomeAutoClosed:
		// The documents came, the goods never did.
		return []step{authorize, docs,
			{&domain.CloseClaim{ReasonCode: domain.ReasonShipmentWindowExpired, Reason: "The goods were not handed in within the shipment window; the claim counts as resolved."}, bySLA},
		}
	case outcomeRedirected:
		path = []step{
			{&domain.RedirectToServiceCenter{ServiceCenter: domain.ServiceCenter{Name: "Lenovo ASC Sofia", Country: "BG", Contact: "+35929000000"}}, byAgent},
			{&domain.RecordUnrepairabilityAct{Kind: domain.ActUnrepairability, Reference: fmt.Sprintf("ACT-%d", i), IssuedOn: domain.Date{Year: 2026, Month: time.January, Day: 20}}, byAgent},
			authorize, docs, ship, receive, confirmed, startRepair, completeRepair,
		}
	case outcomeOnHold:
		path = []step{authorize, docs, ship, receive, confirmed,
			{&domain.PutOnHold{ReasonCode: "unpaid_debt", Reason: "Customer owes 40 BGN from an earlier repair."}, byAgent},
			{&domain.ReleaseHold{Notes: "Debt paid."}, byAgent},
			startRepair, completeRepair,
		}
	}
	return append(path, back...)
}
