package domain

import "slices"

// Status is where a claim is in its lifecycle. The values are stable: they are stored in read
// models, shown on the status page and used as filters, so a rename is a migration.
type Status string

// The statuses of a claim, in lifecycle order. The empty Status is the state of a stream with
// no events: there is no claim yet.
const (
	StatusRegistered       Status = "registered"        // received 24x7, waiting for review
	StatusRedirected       Status = "redirected"        // sent to the manufacturer's authorized service center
	StatusAuthorized       Status = "authorized"        // purchase confirmed, RMA issued, shipment window running
	StatusRejected         Status = "rejected"          // not accepted for service
	StatusInTransit        Status = "in_transit"        // the customer has shipped the item
	StatusReceived         Status = "received"          // intake protocol signed
	StatusDiagnosed        Status = "diagnosed"         // defect confirmed, no fault, warranty void or out of warranty
	StatusEstimateIssued   Status = "estimate_issued"   // paid work quoted, waiting for the customer
	StatusEstimateAccepted Status = "estimate_accepted" // waiting for payment
	StatusPaid             Status = "paid"              // payments cover the accepted estimate
	StatusInRepair         Status = "in_repair"         // at our center or the manufacturer's
	StatusResolved         Status = "resolved"          // repaired, replaced, refunded, credited or returned unrepaired
	StatusReturnShipped    Status = "return_shipped"    // on its way back to the customer
	StatusDelivered        Status = "delivered"         // handed over
	StatusDisputed         Status = "disputed"          // customer appealed at release; the item is held
	StatusOnHold           Status = "on_hold"           // suspended, e.g. unpaid debt; resumes where it was
	StatusClosed           Status = "closed"            // final
)

// statuses lists every status in lifecycle order.
var statuses = []Status{
	StatusRegistered, StatusRedirected, StatusAuthorized, StatusRejected, StatusInTransit,
	StatusReceived, StatusDiagnosed, StatusEstimateIssued, StatusEstimateAccepted, StatusPaid,
	StatusInRepair, StatusResolved, StatusReturnShipped, StatusDelivered, StatusDisputed,
	StatusOnHold, StatusClosed,
}

// Statuses returns every status in lifecycle order, e.g. to validate a status filter or to
// lay out a dashboard. The slice is a copy.
func Statuses() []Status { return slices.Clone(statuses) }

// ParseStatus returns the status named s, and false if there is none.
func ParseStatus(s string) (Status, bool) {
	if i := slices.Index(statuses, Status(s)); i >= 0 {
		return statuses[i], true
	}
	return "", false
}

// Action names a command. The kebab-case values are part of the HTTP API
// (POST /v1/claims/{id}/{action}) and of InvalidTransitionError, so they are stable.
type Action string

// The actions, in lifecycle order. ActionRegister creates a claim; every other action runs on
// an existing one.
const (
	ActionRegister                 Action = "register"
	ActionRedirectToServiceCenter  Action = "redirect-to-service-center"
	ActionRecordUnrepairabilityAct Action = "record-unrepairability-act"
	ActionAuthorize                Action = "authorize"
	ActionReject                   Action = "reject"
	ActionReceiveDocuments         Action = "receive-documents"
	ActionRecordCustomerShipment   Action = "record-customer-shipment"
	ActionReceive                  Action = "receive"
	ActionDiagnose                 Action = "diagnose"
	ActionIssueEstimate            Action = "issue-estimate"
	ActionAcceptEstimate           Action = "accept-estimate"
	ActionDeclineEstimate          Action = "decline-estimate"
	ActionRecordPayment            Action = "record-payment"
	ActionStartRepair              Action = "start-repair"
	ActionCompleteRepair           Action = "complete-repair"
	ActionReplace                  Action = "replace"
	ActionApproveRefund            Action = "approve-refund"
	ActionRecordRefundPayment      Action = "record-refund-payment"
	ActionIssueCreditNote          Action = "issue-credit-note"
	ActionReturnUnrepaired         Action = "return-unrepaired"
	ActionShipReturn               Action = "ship-return"
	ActionConfirmDelivery          Action = "confirm-delivery"
	ActionOpenDispute              Action = "open-dispute"
	ActionResolveDispute           Action = "resolve-dispute"
	ActionAddNote                  Action = "add-note"
	ActionPutOnHold                Action = "put-on-hold"
	ActionReleaseHold              Action = "release-hold"
	ActionWithdraw                 Action = "withdraw"
	ActionClose                    Action = "close"

	// Finance: supplier recovery and corrections (finance.go).
	ActionClaimSupplierRecovery  Action = "claim-supplier-recovery"
	ActionRecordSupplierRecovery Action = "record-supplier-recovery"
	ActionReverseRefundApproval  Action = "reverse-refund-approval"
	ActionReverseRefundPayment   Action = "reverse-refund-payment"
	ActionReversePayment         Action = "reverse-payment"
	ActionCancelCreditNote       Action = "cancel-credit-note"
)

// actions lists the actions on an existing claim in lifecycle order; AllowedActions keeps
// this order so that clients can show buttons in a sensible sequence.
var actions = []Action{
	ActionRedirectToServiceCenter, ActionRecordUnrepairabilityAct, ActionAuthorize, ActionReject,
	ActionResolveRemotely, ActionReceiveDocuments, ActionRecordCustomerShipment, ActionReceive, ActionDiagnose,
	ActionIssueEstimate, ActionAcceptEstimate, ActionDeclineEstimate, ActionRecordPayment,
	ActionStartRepair, ActionCompleteRepair, ActionReplace, ActionApproveRefund,
	ActionRecordRefundPayment, ActionIssueCreditNote, ActionReturnUnrepaired, ActionShipReturn,
	ActionConfirmDelivery, ActionConfirmServiceReport, ActionOpenDispute, ActionResolveDispute, ActionAddNote,
	ActionAssign, ActionPutOnHold, ActionReleaseHold, ActionWithdraw, ActionClose,
	ActionClaimSupplierRecovery, ActionRecordSupplierRecovery, ActionReverseRefundApproval,
	ActionReverseRefundPayment, ActionReversePayment, ActionCancelCreditNote,
}

// Actions returns every action a client can run on an existing claim, in lifecycle order.
// ActionRegister is not among them: it creates the claim and has its own endpoint. The slice
// is a copy.
func Actions() []Action { return slices.Clone(actions) }

// ParseAction returns the action named s. Like Actions it knows only the actions on an
// existing claim, so "register" is not accepted: an action path segment can never register
// a claim a second time.
func ParseAction(s string) (Action, bool) {
	if i := slices.Index(actions, Action(s)); i >= 0 {
		return actions[i], true
	}
	return "", false
}
