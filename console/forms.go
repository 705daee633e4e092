package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/rmaledger/rmaledger/domain"
)

// Kinds of form field, each read from the form in its own way.
const (
	kindText     = "text"     // one line
	kindTextarea = "textarea" // several lines
	kindMoney    = "money"    // a decimal amount in the claim's currency
	kindCheck    = "check"    // a checkbox: true when ticked
	kindYesNo    = "yesno"    // a required yes or no
	kindList     = "list"     // one item a line
	kindInt      = "int"
	kindDate     = "date"   // YYYY-MM-DD
	kindChoice   = "choice" // one of Options
)

// field is one input of a form. Name is the command's JSON field, dotted
// for a nested one ("service_center.name"), so that the form decodes into
// the command exactly as an API request body does.
type field struct {
	Name     string
	Kind     string
	Required bool
	Options  []string
}

// reasons offered for the reason codes a person picks; the domain accepts
// any code, so these are the desk's usual ones.
var (
	rejectReasons = []string{domain.NotCoveredExpired, domain.NotCoveredCategory, "no_proof_of_purchase", "not_sold_by_us", "duplicate", "other"}
	holdReasons   = []string{"unpaid_debt", "awaiting_parts", "customer_unreachable", "awaiting_manufacturer", "other"}
	closeReasons  = []string{"completed", domain.ReasonShipmentWindowExpired, "other"}
)

// forms are the fields of every action a person runs from the console, in
// the order shown. An action missing here (the SLA process's own) has no
// form and is never offered.
var forms = map[domain.Action][]field{
	domain.ActionRedirectToServiceCenter: {
		{Name: "service_center.name", Kind: kindText, Required: true},
		{Name: "service_center.country", Kind: kindText, Required: true},
		{Name: "service_center.address", Kind: kindText},
		{Name: "service_center.contact", Kind: kindText},
		{Name: "notes", Kind: kindTextarea},
	},
	domain.ActionRecordUnrepairabilityAct: {
		{Name: "kind", Kind: kindChoice, Required: true, Options: []string{domain.ActRefusal, domain.ActUnrepairability}},
		{Name: "reference", Kind: kindText, Required: true},
		{Name: "issued_on", Kind: kindDate, Required: true},
		{Name: "notes", Kind: kindTextarea},
	},
	domain.ActionAuthorize: {
		{Name: "service_center.name", Kind: kindText, Required: true},
		{Name: "service_center.address", Kind: kindText, Required: true},
		{Name: "service_center.country", Kind: kindText},
		{Name: "service_center.contact", Kind: kindText},
		{Name: "documents_requested", Kind: kindList},
		{Name: "proof_of_purchase.kind", Kind: kindChoice, Options: []string{"", domain.ProofReceipt, domain.ProofInvoice, domain.ProofWarrantyCard}},
		{Name: "proof_of_purchase.reference", Kind: kindText},
		{Name: "paid_repair", Kind: kindCheck},
		{Name: "notes", Kind: kindTextarea},
	},
	domain.ActionReject: {
		{Name: "reason_code", Kind: kindChoice, Required: true, Options: rejectReasons},
		{Name: "reason", Kind: kindTextarea},
	},
	domain.ActionResolveRemotely: {
		{Name: "method", Kind: kindChoice, Required: true, Options: []string{domain.RemoteByPhone, domain.RemoteBySession, domain.RemoteByEmail}},
		{Name: "work_done", Kind: kindTextarea, Required: true},
		{Name: "technician", Kind: kindText},
		{Name: "reference", Kind: kindText},
	},
	domain.ActionReceiveDocuments: {
		{Name: "documents", Kind: kindList, Required: true},
	},
	domain.ActionRecordCustomerShipment: {
		{Name: "carrier", Kind: kindText, Required: true},
		{Name: "tracking_number", Kind: kindText, Required: true},
	},
	domain.ActionReceive: {
		{Name: "condition", Kind: kindTextarea, Required: true},
		{Name: "seals_intact", Kind: kindYesNo, Required: true},
		{Name: "accessories", Kind: kindList},
		{Name: "service_center", Kind: kindText},
		{Name: "received_by", Kind: kindText, Required: true},
	},
	domain.ActionDiagnose: {
		{Name: "outcome", Kind: kindChoice, Required: true, Options: []string{domain.OutcomeDefectConfirmed, domain.OutcomeNoFaultFound, domain.OutcomeWarrantyVoid, domain.OutcomeOutOfWarranty}},
		{Name: "void_reason_code", Kind: kindChoice, Options: nil}, // the policy's void reasons
		{Name: "findings", Kind: kindTextarea, Required: true},
		{Name: "confirms_estimate", Kind: kindCheck},
	},
	domain.ActionIssueEstimate: {
		{Name: "damage_level", Kind: kindChoice, Required: true, Options: []string{"1", "2", "3"}},
		{Name: "parts", Kind: kindMoney},
		{Name: "labour", Kind: kindMoney},
		{Name: "shipping", Kind: kindMoney},
		{Name: "description", Kind: kindTextarea},
	},
	domain.ActionAcceptEstimate:  {{Name: "reference", Kind: kindText}},
	domain.ActionDeclineEstimate: {{Name: "reason", Kind: kindTextarea}},
	domain.ActionRecordPayment: {
		{Name: "amount", Kind: kindMoney, Required: true},
		{Name: "reference", Kind: kindText, Required: true},
		{Name: "method", Kind: kindChoice, Required: true, Options: []string{domain.PaymentCash, domain.PaymentCard, domain.PaymentBankTransfer, domain.PaymentOnline, domain.PaymentOther}},
		{Name: "for", Kind: kindText},
	},
	domain.ActionStartRepair: {
		{Name: "where", Kind: kindChoice, Required: true, Options: []string{domain.RepairOwn, domain.RepairManufacturer}},
		{Name: "technician", Kind: kindText},
		{Name: "notes", Kind: kindTextarea},
	},
	domain.ActionCompleteRepair: {
		{Name: "work_done", Kind: kindTextarea, Required: true},
		{Name: "parts", Kind: kindList},
	},
	domain.ActionReplace: {
		{Name: "new_serial", Kind: kindText, Required: true},
		{Name: "new_sku", Kind: kindText},
		{Name: "value", Kind: kindMoney},
		{Name: "reference", Kind: kindText},
		{Name: "settle_price_difference", Kind: kindCheck},
		{Name: "notes", Kind: kindTextarea},
	},
	domain.ActionApproveRefund: {
		{Name: "amount", Kind: kindMoney, Required: true},
		{Name: "reason", Kind: kindTextarea, Required: true},
		{Name: "reference", Kind: kindText},
	},
	domain.ActionRecordRefundPayment: {
		{Name: "amount", Kind: kindMoney, Required: true},
		{Name: "reference", Kind: kindText, Required: true},
	},
	domain.ActionIssueCreditNote: {
		{Name: "amount", Kind: kindMoney, Required: true},
		{Name: "number", Kind: kindText, Required: true},
		{Name: "reason", Kind: kindTextarea},
	},
	domain.ActionReturnUnrepaired: {{Name: "reason", Kind: kindTextarea}},
	domain.ActionShipReturn: {
		{Name: "carrier", Kind: kindText, Required: true},
		{Name: "tracking_number", Kind: kindText},
	},
	domain.ActionConfirmDelivery: {{Name: "signed_by", Kind: kindText, Required: true}},
	domain.ActionConfirmServiceReport: {
		{Name: "comment", Kind: kindTextarea},
	},
	domain.ActionOpenDispute: {
		{Name: "reason", Kind: kindTextarea, Required: true},
		{Name: "reference", Kind: kindText},
	},
	domain.ActionResolveDispute: {
		{Name: "outcome", Kind: kindChoice, Required: true, Options: []string{domain.DisputeUpheld, domain.DisputeOverturned}},
		{Name: "decision", Kind: kindTextarea, Required: true},
	},
	domain.ActionAddNote: {
		{Name: "text", Kind: kindTextarea, Required: true},
		{Name: "visibility", Kind: kindChoice, Options: []string{domain.VisibilityInternal, domain.VisibilityCustomer}},
	},
	domain.ActionAssign: {
		{Name: "assignee", Kind: kindText},
		{Name: "note", Kind: kindTextarea},
	},
	domain.ActionPutOnHold: {
		{Name: "reason_code", Kind: kindChoice, Required: true, Options: holdReasons},
		{Name: "reason", Kind: kindTextarea},
	},
	domain.ActionReleaseHold: {{Name: "notes", Kind: kindTextarea}},
	domain.ActionWithdraw:    {{Name: "reason", Kind: kindTextarea}},
	domain.ActionClose: {
		{Name: "reason_code", Kind: kindChoice, Required: true, Options: closeReasons},
		{Name: "reason", Kind: kindTextarea},
	},
	domain.ActionClaimSupplierRecovery: {
		{Name: "amount", Kind: kindMoney, Required: true},
		{Name: "supplier", Kind: kindText, Required: true},
		{Name: "reference", Kind: kindText, Required: true},
		{Name: "reason", Kind: kindTextarea},
	},
	domain.ActionRecordSupplierRecovery: {
		{Name: "amount", Kind: kindMoney, Required: true},
		{Name: "reference", Kind: kindText, Required: true},
	},
	domain.ActionReverseRefundApproval: {
		{Name: "amount", Kind: kindMoney, Required: true},
		{Name: "reason", Kind: kindTextarea, Required: true},
	},
	domain.ActionReverseRefundPayment: {
		{Name: "reference", Kind: kindText, Required: true},
		{Name: "reason", Kind: kindTextarea, Required: true},
	},
	domain.ActionReversePayment: {
		{Name: "reference", Kind: kindText, Required: true},
		{Name: "reason", Kind: kindTextarea, Required: true},
	},
	domain.ActionCancelCreditNote: {
		{Name: "number", Kind: kindText, Required: true},
		{Name: "reason", Kind: kindTextarea, Required: true},
	},
}

// registerForm is the registration's fields, as RegisterClaim's JSON.
var registerFields = []field{
	{Name: "customer.name", Kind: kindText, Required: true},
	{Name: "customer.phone", Kind: kindText, Required: true},
	{Name: "customer.email", Kind: kindText},
	{Name: "customer.address", Kind: kindTextarea},
	{Name: "product.category", Kind: kindText, Required: true},
	{Name: "product.sku", Kind: kindText},
	{Name: "product.serial", Kind: kindText},
	{Name: "product.imei", Kind: kindText},
	{Name: "product.description", Kind: kindText},
	{Name: "purchase_date", Kind: kindDate, Required: true},
	{Name: "price", Kind: kindMoney, Required: true},
	{Name: "proof_of_purchase.kind", Kind: kindChoice, Options: []string{"", domain.ProofReceipt, domain.ProofInvoice, domain.ProofWarrantyCard}},
	{Name: "proof_of_purchase.reference", Kind: kindText},
	{Name: "defect", Kind: kindTextarea, Required: true},
	{Name: "channel", Kind: kindChoice, Options: []string{domain.ChannelPhone, domain.ChannelWalkIn, domain.ChannelEmail, domain.ChannelWeb, domain.ChannelPartner}},
}

// decodeForm turns the posted values of fields into cmd, through the
// command's JSON as an API body would be. Values the form cannot read (an
// amount that is not a decimal, a number that is not one) come back as
// field errors, next to their field, as the domain's own would.
func decodeForm(values url.Values, fields []field, currency string, cmd any) domain.ValidationErrors {
	body := map[string]any{}
	var problems domain.ValidationErrors
	for _, f := range fields {
		raw := strings.TrimSpace(values.Get(f.Name))
		var value any
		switch f.Kind {
		case kindCheck:
			if raw != "" {
				value = true
			}
		case kindYesNo:
			switch raw {
			case "yes":
				value = true
			case "no":
				value = false
			}
		case kindList:
			var items []string
			for _, line := range strings.Split(raw, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					items = append(items, line)
				}
			}
			if len(items) > 0 {
				value = items
			}
		case kindMoney:
			if raw != "" {
				m, err := domain.ParseMoney(raw, currency)
				if err != nil {
					problems = append(problems, domain.FieldError{Field: f.Name, Problem: "is not an amount such as 129.90"})
					continue
				}
				value = m
			}
		case kindInt:
			if raw != "" {
				n, err := strconv.Atoi(raw)
				if err != nil {
					problems = append(problems, domain.FieldError{Field: f.Name, Problem: "is not a whole number"})
					continue
				}
				value = n
			}
		default:
			if raw != "" {
				value = raw
			}
		}
		if f.Name == "damage_level" && raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil {
				problems = append(problems, domain.FieldError{Field: f.Name, Problem: "must be 1, 2 or 3"})
				continue
			}
			value = n
		}
		if value != nil {
			put(body, f.Name, value)
		}
	}
	if len(problems) > 0 {
		return problems
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return domain.ValidationErrors{{Field: "", Problem: err.Error()}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cmd); err != nil {
		return domain.ValidationErrors{{Field: fieldOf(err, fields), Problem: "is not valid: " + err.Error()}}
	}
	return nil
}

// put sets a dotted name in a nested map.
func put(m map[string]any, name string, value any) {
	head, rest, nested := strings.Cut(name, ".")
	if !nested {
		m[head] = value
		return
	}
	sub, ok := m[head].(map[string]any)
	if !ok {
		sub = map[string]any{}
		m[head] = sub
	}
	put(sub, rest, value)
}

// fieldOf finds the field a JSON decoding error names, or "".
func fieldOf(err error, fields []field) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return typeErr.Field
	}
	for _, f := range fields {
		if strings.Contains(err.Error(), f.Name) {
			return f.Name
		}
	}
	return ""
}
