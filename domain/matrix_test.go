package domain_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// step is one allowed action from a fixture and the status it leads to; cmd overrides the
// sample command when the fixture needs a particular one.
type step struct {
	action domain.Action
	to     domain.Status
	cmd    domain.Command
}

// lifecycle is the spec's transition table written out independently of the implementation:
// from each fixture, exactly these actions are allowed, and lead to these statuses.
var lifecycle = map[string][]step{
	"registered": {
		{action: domain.ActionRedirectToServiceCenter, to: domain.StatusRedirected},
		{action: domain.ActionAuthorize, to: domain.StatusAuthorized},
		{action: domain.ActionReject, to: domain.StatusRejected},
		{action: domain.ActionResolveRemotely, to: domain.StatusResolved},
		{action: domain.ActionAddNote, to: domain.StatusRegistered},
		{action: domain.ActionAssign, to: domain.StatusRegistered},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionWithdraw, to: domain.StatusClosed},
	},
	"redirected": {
		{action: domain.ActionRecordUnrepairabilityAct, to: domain.StatusRegistered},
		{action: domain.ActionReject, to: domain.StatusRejected},
		{action: domain.ActionAddNote, to: domain.StatusRedirected},
		{action: domain.ActionAssign, to: domain.StatusRedirected},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionWithdraw, to: domain.StatusClosed},
	},
	"authorized": {
		{action: domain.ActionResolveRemotely, to: domain.StatusResolved},
		{action: domain.ActionReceiveDocuments, to: domain.StatusAuthorized},
		{action: domain.ActionRecordCustomerShipment, to: domain.StatusInTransit},
		{action: domain.ActionReceive, to: domain.StatusReceived},
		{action: domain.ActionAddNote, to: domain.StatusAuthorized},
		{action: domain.ActionAssign, to: domain.StatusAuthorized},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionWithdraw, to: domain.StatusClosed},
		{action: domain.ActionClose, to: domain.StatusClosed, cmd: &domain.CloseClaim{ReasonCode: domain.ReasonShipmentWindowExpired, Clocks: expiredWindow}},
	},
	"rejected": {
		{action: domain.ActionAddNote, to: domain.StatusRejected},
		{action: domain.ActionAssign, to: domain.StatusRejected},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClose, to: domain.StatusClosed},
	},
	"in_transit": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusInTransit},
		{action: domain.ActionReceive, to: domain.StatusReceived},
		{action: domain.ActionAddNote, to: domain.StatusInTransit},
		{action: domain.ActionAssign, to: domain.StatusInTransit},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
	},
	"received": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusReceived},
		{action: domain.ActionDiagnose, to: domain.StatusDiagnosed},
		{action: domain.ActionAddNote, to: domain.StatusReceived},
		{action: domain.ActionAssign, to: domain.StatusReceived},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
	},
	"diagnosed": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusDiagnosed},
		{action: domain.ActionDiagnose, to: domain.StatusDiagnosed},
		{action: domain.ActionIssueEstimate, to: domain.StatusEstimateIssued},
		{action: domain.ActionStartRepair, to: domain.StatusInRepair},
		{action: domain.ActionReplace, to: domain.StatusResolved},
		{action: domain.ActionApproveRefund, to: domain.StatusResolved},
		{action: domain.ActionIssueCreditNote, to: domain.StatusResolved},
		{action: domain.ActionReturnUnrepaired, to: domain.StatusResolved},
		{action: domain.ActionAddNote, to: domain.StatusDiagnosed},
		{action: domain.ActionAssign, to: domain.StatusDiagnosed},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
	},
	"diagnosed/void": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusDiagnosed},
		{action: domain.ActionDiagnose, to: domain.StatusDiagnosed},
		{action: domain.ActionIssueEstimate, to: domain.StatusEstimateIssued},
		{action: domain.ActionReturnUnrepaired, to: domain.StatusResolved},
		{action: domain.ActionAddNote, to: domain.StatusDiagnosed},
		{action: domain.ActionAssign, to: domain.StatusDiagnosed},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
	},
	"estimate_issued": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusEstimateIssued},
		{action: domain.ActionAcceptEstimate, to: domain.StatusEstimateAccepted},
		{action: domain.ActionDeclineEstimate, to: domain.StatusResolved},
		{action: domain.ActionAddNote, to: domain.StatusEstimateIssued},
		{action: domain.ActionAssign, to: domain.StatusEstimateIssued},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
	},
	"estimate_accepted": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusEstimateAccepted},
		{action: domain.ActionRecordPayment, to: domain.StatusPaid},
		{action: domain.ActionReturnUnrepaired, to: domain.StatusResolved},
		{action: domain.ActionAddNote, to: domain.StatusEstimateAccepted},
		{action: domain.ActionAssign, to: domain.StatusEstimateAccepted},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
	},
	"estimate_accepted/part-paid": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusEstimateAccepted},
		{action: domain.ActionRecordPayment, to: domain.StatusEstimateAccepted, cmd: &domain.RecordPayment{Amount: eur("20.00"), Reference: "PAY-2", Method: domain.PaymentOnline}},
		{action: domain.ActionAddNote, to: domain.StatusEstimateAccepted},
		{action: domain.ActionAssign, to: domain.StatusEstimateAccepted},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionReversePayment, to: domain.StatusEstimateAccepted, cmd: &domain.ReversePayment{Reference: "PAY-0", Reason: "Chargeback."}},
	},
	"paid": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusPaid},
		{action: domain.ActionStartRepair, to: domain.StatusInRepair},
		{action: domain.ActionAddNote, to: domain.StatusPaid},
		{action: domain.ActionAssign, to: domain.StatusPaid},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionReversePayment, to: domain.StatusEstimateAccepted},
	},
	"in_repair": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusInRepair},
		{action: domain.ActionCompleteRepair, to: domain.StatusResolved},
		{action: domain.ActionReplace, to: domain.StatusResolved},
		{action: domain.ActionApproveRefund, to: domain.StatusResolved},
		{action: domain.ActionIssueCreditNote, to: domain.StatusResolved},
		{action: domain.ActionAddNote, to: domain.StatusInRepair},
		{action: domain.ActionAssign, to: domain.StatusInRepair},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusInRepair},
	},
	"resolved": {
		{action: domain.ActionShipReturn, to: domain.StatusReturnShipped},
		{action: domain.ActionConfirmServiceReport, to: domain.StatusResolved},
		{action: domain.ActionOpenDispute, to: domain.StatusDisputed},
		{action: domain.ActionAddNote, to: domain.StatusResolved},
		{action: domain.ActionAssign, to: domain.StatusResolved},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusResolved},
	},
	"resolved/refund-unpaid": {
		{action: domain.ActionRecordRefundPayment, to: domain.StatusResolved},
		{action: domain.ActionConfirmServiceReport, to: domain.StatusResolved},
		{action: domain.ActionOpenDispute, to: domain.StatusDisputed},
		{action: domain.ActionAddNote, to: domain.StatusResolved},
		{action: domain.ActionAssign, to: domain.StatusResolved},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionReverseRefundApproval, to: domain.StatusDiagnosed},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusResolved},
	},
	"resolved/refund-paid": {
		{action: domain.ActionConfirmServiceReport, to: domain.StatusResolved},
		{action: domain.ActionOpenDispute, to: domain.StatusDisputed},
		{action: domain.ActionAddNote, to: domain.StatusResolved},
		{action: domain.ActionAssign, to: domain.StatusResolved},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClose, to: domain.StatusClosed},
		{action: domain.ActionReverseRefundPayment, to: domain.StatusResolved},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusResolved},
	},
	"resolved/credited": {
		{action: domain.ActionConfirmServiceReport, to: domain.StatusResolved},
		{action: domain.ActionOpenDispute, to: domain.StatusDisputed},
		{action: domain.ActionAddNote, to: domain.StatusResolved},
		{action: domain.ActionAssign, to: domain.StatusResolved},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClose, to: domain.StatusClosed},
		{action: domain.ActionCancelCreditNote, to: domain.StatusDiagnosed},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusResolved},
	},
	"return_shipped": {
		{action: domain.ActionConfirmDelivery, to: domain.StatusDelivered},
		{action: domain.ActionAddNote, to: domain.StatusReturnShipped},
		{action: domain.ActionAssign, to: domain.StatusReturnShipped},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusReturnShipped},
	},
	"delivered": {
		{action: domain.ActionAddNote, to: domain.StatusDelivered},
		{action: domain.ActionAssign, to: domain.StatusDelivered},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClose, to: domain.StatusClosed},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusDelivered},
	},
	"disputed": {
		{action: domain.ActionResolveDispute, to: domain.StatusResolved},
		{action: domain.ActionAddNote, to: domain.StatusDisputed},
		{action: domain.ActionAssign, to: domain.StatusDisputed},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusDisputed},
	},
	"on_hold": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusOnHold},
		{action: domain.ActionAddNote, to: domain.StatusOnHold},
		{action: domain.ActionAssign, to: domain.StatusOnHold},
		{action: domain.ActionReleaseHold, to: domain.StatusInRepair},
	},
	"resolved/recovery-claimed": {
		{action: domain.ActionShipReturn, to: domain.StatusReturnShipped},
		{action: domain.ActionConfirmServiceReport, to: domain.StatusResolved},
		{action: domain.ActionOpenDispute, to: domain.StatusDisputed},
		{action: domain.ActionAddNote, to: domain.StatusResolved},
		{action: domain.ActionAssign, to: domain.StatusResolved},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusResolved, cmd: &domain.ClaimSupplierRecovery{Amount: eur("10"), Supplier: "Lenovo", Reference: "LEN-RMA-2"}},
		{action: domain.ActionRecordSupplierRecovery, to: domain.StatusResolved},
	},
	"authorized/paid-repair": {
		{action: domain.ActionResolveRemotely, to: domain.StatusResolved},
		{action: domain.ActionReceiveDocuments, to: domain.StatusAuthorized},
		{action: domain.ActionRecordCustomerShipment, to: domain.StatusInTransit},
		{action: domain.ActionReceive, to: domain.StatusReceived},
		{action: domain.ActionIssueEstimate, to: domain.StatusEstimateIssued},
		{action: domain.ActionAddNote, to: domain.StatusAuthorized},
		{action: domain.ActionAssign, to: domain.StatusAuthorized},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionWithdraw, to: domain.StatusClosed},
		{action: domain.ActionClose, to: domain.StatusClosed, cmd: &domain.CloseClaim{ReasonCode: domain.ReasonShipmentWindowExpired, Clocks: expiredWindow}},
	},
	"estimate_issued/before-goods": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusEstimateIssued},
		{action: domain.ActionAcceptEstimate, to: domain.StatusEstimateAccepted},
		{action: domain.ActionDeclineEstimate, to: domain.StatusClosed},
		{action: domain.ActionAddNote, to: domain.StatusEstimateIssued},
		{action: domain.ActionAssign, to: domain.StatusEstimateIssued},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
	},
	"estimate_accepted/before-goods": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusEstimateAccepted},
		{action: domain.ActionRecordPayment, to: domain.StatusPaid},
		{action: domain.ActionAddNote, to: domain.StatusEstimateAccepted},
		{action: domain.ActionAssign, to: domain.StatusEstimateAccepted},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionWithdraw, to: domain.StatusClosed},
	},
	"paid/before-goods": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusPaid},
		{action: domain.ActionRecordCustomerShipment, to: domain.StatusInTransit},
		{action: domain.ActionReceive, to: domain.StatusReceived},
		{action: domain.ActionAddNote, to: domain.StatusPaid},
		{action: domain.ActionAssign, to: domain.StatusPaid},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionReversePayment, to: domain.StatusEstimateAccepted},
	},
	// No fault found in goods whose estimate was paid before they travelled: the money goes back
	// before they do.
	"diagnosed/paid-before": {
		{action: domain.ActionReceiveDocuments, to: domain.StatusDiagnosed},
		{action: domain.ActionDiagnose, to: domain.StatusDiagnosed},
		{action: domain.ActionIssueEstimate, to: domain.StatusEstimateIssued},
		{action: domain.ActionAddNote, to: domain.StatusDiagnosed},
		{action: domain.ActionAssign, to: domain.StatusDiagnosed},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionReversePayment, to: domain.StatusDiagnosed},
	},
	// Replaced by a dearer model: the unit ships once the price difference is paid.
	"resolved/dearer-model": {
		{action: domain.ActionRecordPayment, to: domain.StatusResolved, cmd: &domain.RecordPayment{Amount: eur("20.00"), Reference: "PAY-D1", Method: domain.PaymentCard}},
		{action: domain.ActionConfirmServiceReport, to: domain.StatusResolved},
		{action: domain.ActionOpenDispute, to: domain.StatusDisputed},
		{action: domain.ActionAddNote, to: domain.StatusResolved},
		{action: domain.ActionAssign, to: domain.StatusResolved},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusResolved},
	},
	// Replaced by a dearer model, appealed, overturned and repaired instead: it ships without
	// the difference.
	"resolved/repaired-instead": {
		{action: domain.ActionShipReturn, to: domain.StatusReturnShipped},
		{action: domain.ActionConfirmServiceReport, to: domain.StatusResolved},
		{action: domain.ActionOpenDispute, to: domain.StatusDisputed},
		{action: domain.ActionAddNote, to: domain.StatusResolved},
		{action: domain.ActionAssign, to: domain.StatusResolved},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusResolved},
	},
	"resolved/remotely": {
		{action: domain.ActionConfirmServiceReport, to: domain.StatusResolved},
		{action: domain.ActionOpenDispute, to: domain.StatusDisputed},
		{action: domain.ActionAddNote, to: domain.StatusResolved},
		{action: domain.ActionAssign, to: domain.StatusResolved},
		{action: domain.ActionPutOnHold, to: domain.StatusOnHold},
		{action: domain.ActionClose, to: domain.StatusClosed},
	},
	"closed": {
		{action: domain.ActionAddNote, to: domain.StatusClosed},
		{action: domain.ActionClaimSupplierRecovery, to: domain.StatusClosed},
	},
}

// TestLifecycleAllowed: from every fixture, exactly the listed actions are allowed, and each
// succeeds with a valid command and leads to the listed status.
func TestLifecycleAllowed(t *testing.T) {
	for name, steps := range lifecycle {
		given := history(t, name)
		state := domain.Fold(given)

		var want []domain.Action
		for _, st := range steps {
			want = append(want, st.action)
		}
		slices.SortFunc(want, byLifecycle)
		if got := domain.AllowedActions(state); !slices.Equal(got, want) {
			t.Errorf("%s: AllowedActions = %v, want %v", name, got, want)
		}

		for _, st := range steps {
			cmd := st.cmd
			if cmd == nil {
				cmd = sample(st.action)
			}
			events, err := domain.Decide(state, cmd, whenAt, policy)
			if err != nil {
				t.Errorf("%s: %s: %v", name, st.action, err)
				continue
			}
			if got := domain.Fold(with(given, events...)).Status; got != st.to {
				t.Errorf("%s: %s leads to %s, want %s", name, st.action, got, st.to)
			}
		}
	}
}

// TestLifecycleDisallowed: every action, from every status it is not allowed in, fails with an
// InvalidTransitionError naming the status and the allowed actions, and produces no events.
func TestLifecycleDisallowed(t *testing.T) {
	allowedFrom := map[domain.Action]map[domain.Status]bool{}
	for name, steps := range lifecycle {
		status := domain.Fold(history(t, name)).Status
		for _, st := range steps {
			if allowedFrom[st.action] == nil {
				allowedFrom[st.action] = map[domain.Status]bool{}
			}
			allowedFrom[st.action][status] = true
		}
	}

	for _, action := range domain.Actions() {
		if len(allowedFrom[action]) == 0 {
			t.Errorf("%s is allowed from no fixture: the lifecycle table misses it", action)
		}
		checked := 0
		for _, status := range domain.Statuses() {
			if allowedFrom[action][status] {
				continue
			}
			checked++
			state := domain.Fold(history(t, string(status)))
			events, err := domain.Decide(state, sample(action), whenAt, policy)
			var ite *domain.InvalidTransitionError
			if !errors.As(err, &ite) {
				t.Errorf("%s from %s: error %v, want InvalidTransitionError", action, status, err)
				continue
			}
			if events != nil {
				t.Errorf("%s from %s: events %v with an error", action, status, events)
			}
			if ite.From != status || ite.Action != action {
				t.Errorf("%s from %s: error names %s from %s", action, status, ite.Action, ite.From)
			}
			if !slices.Equal(ite.Allowed, domain.AllowedActions(state)) || slices.Contains(ite.Allowed, action) {
				t.Errorf("%s from %s: allowed %v, AllowedActions %v", action, status, ite.Allowed, domain.AllowedActions(state))
			}
		}
		// add-note runs in every status; its "not allowed" case is the empty stream.
		if checked == 0 && action != domain.ActionAddNote {
			t.Errorf("%s: no status where it is disallowed was checked", action)
		}
	}
}

// TestNoClaim: on an empty stream no action runs and nothing is allowed; register is the
// only way in, and only once.
func TestNoClaim(t *testing.T) {
	if got := domain.AllowedActions(domain.State{}); len(got) != 0 || got == nil {
		t.Errorf("AllowedActions(empty) = %#v, want an empty non-nil list", got)
	}
	for _, action := range domain.Actions() {
		if _, err := domain.Decide(domain.State{}, sample(action), whenAt, policy); !errors.Is(err, domain.ErrNoClaim) {
			t.Errorf("%s on an empty stream: %v, want ErrNoClaim", action, err)
		}
	}
	if _, err := domain.Decide(domain.Fold(history(t, "registered")), registration(), whenAt, policy); !errors.Is(err, domain.ErrClaimExists) {
		t.Errorf("register twice: %v, want ErrClaimExists", err)
	}
}

// byLifecycle orders actions as Actions() does.
func byLifecycle(a, b domain.Action) int {
	all := domain.Actions()
	return slices.Index(all, a) - slices.Index(all, b)
}
