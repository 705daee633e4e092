package domain

import (
	"strings"
	"time"

	"github.com/google/uuid"
)

// Command asks for a change to a claim. The HTTP layer decodes a request body into the struct
// NewCommand returns; Validate checks the fields alone (form, presence, length) and returns
// ValidationErrors or nil. Whether the command is possible for the claim as it stands is
// Decide's job, which calls Validate itself, so a caller cannot forget it.
//
// Optional text fields may be omitted; single-line fields are trimmed of surrounding spaces
// when Decide records them.
type Command interface {
	Action() Action
	Validate() error
}

// NewCommand returns a pointer to a zero command for the action, for JSON decoding; false for
// an unknown action. ActionRegister gives *RegisterClaim.
func NewCommand(a Action) (Command, bool) {
	switch a {
	case ActionRegister:
		return &RegisterClaim{}, true
	case ActionRedirectToServiceCenter:
		return &RedirectToServiceCenter{}, true
	case ActionRecordUnrepairabilityAct:
		return &RecordUnrepairabilityAct{}, true
	case ActionAuthorize:
		return &AuthorizeClaim{}, true
	case ActionReject:
		return &RejectClaim{}, true
	case ActionReceiveDocuments:
		return &ReceiveDocuments{}, true
	case ActionRecordCustomerShipment:
		return &RecordCustomerShipment{}, true
	case ActionReceive:
		return &ReceiveClaim{}, true
	case ActionDiagnose:
		return &DiagnoseClaim{}, true
	case ActionIssueEstimate:
		return &IssueEstimate{}, true
	case ActionAcceptEstimate:
		return &AcceptEstimate{}, true
	case ActionDeclineEstimate:
		return &DeclineEstimate{}, true
	case ActionRecordPayment:
		return &RecordPayment{}, true
	case ActionStartRepair:
		return &StartRepair{}, true
	case ActionCompleteRepair:
		return &CompleteRepair{}, true
	case ActionReplace:
		return &ReplaceItem{}, true
	case ActionApproveRefund:
		return &ApproveRefund{}, true
	case ActionRecordRefundPayment:
		return &RecordRefundPayment{}, true
	case ActionIssueCreditNote:
		return &IssueCreditNote{}, true
	case ActionReturnUnrepaired:
		return &ReturnUnrepaired{}, true
	case ActionShipReturn:
		return &ShipReturn{}, true
	case ActionConfirmDelivery:
		return &ConfirmDelivery{}, true
	case ActionOpenDispute:
		return &OpenDispute{}, true
	case ActionResolveDispute:
		return &ResolveDispute{}, true
	case ActionAddNote:
		return &AddNote{}, true
	case ActionAssign:
		return &AssignClaim{}, true
	case ActionAttachFile:
		return &AttachFile{}, true
	case ActionPutOnHold:
		return &PutOnHold{}, true
	case ActionReleaseHold:
		return &ReleaseHold{}, true
	case ActionWithdraw:
		return &WithdrawClaim{}, true
	case ActionClose:
		return &CloseClaim{}, true
	case ActionClaimSupplierRecovery:
		return &ClaimSupplierRecovery{}, true
	case ActionRecordSupplierRecovery:
		return &RecordSupplierRecovery{}, true
	case ActionReverseRefundApproval:
		return &ReverseRefundApproval{}, true
	case ActionReverseRefundPayment:
		return &ReverseRefundPayment{}, true
	case ActionReversePayment:
		return &ReversePayment{}, true
	case ActionCancelCreditNote:
		return &CancelCreditNote{}, true
	case ActionRecordSLABreach:
		return &RecordSLABreach{}, true
	case ActionEscalateRepair:
		return &EscalateRepair{}, true
	case ActionResolveRemotely:
		return &ResolveRemotely{}, true
	case ActionConfirmServiceReport:
		return &ConfirmServiceReport{}, true
	}
	return nil, false
}

// RegisterClaim opens a claim. ClaimID and Number are assigned by the application (they are
// not part of the request body); everything else is what the customer tells us. Registration
// is accepted 24x7 and asks only for what identifies the customer, the unit and the problem;
// the proof of purchase may follow and is required only to authorize.
type RegisterClaim struct {
	ClaimID         uuid.UUID        `json:"-"`
	Number          string           `json:"-"`
	Customer        Customer         `json:"customer"`
	Product         Product          `json:"product"`
	PurchaseDate    Date             `json:"purchase_date"`
	ProofOfPurchase *ProofOfPurchase `json:"proof_of_purchase,omitempty"`
	Price           Money            `json:"price"`
	Defect          string           `json:"defect"`
	Channel         string           `json:"channel,omitempty"`
	// Coverages are extended warranties and post-warranty certificates bought for the item;
	// PriorRepairs its earlier repairs. Both feed eligibility.
	Coverages    []CoveragePurchase `json:"coverages,omitempty"`
	PriorRepairs []PriorRepair      `json:"prior_repairs,omitempty"`
	// ReportedAt is when the request really arrived, for one taken by phone or e-mail and entered
	// later: the SLA clocks start then and it is the claim date. Absent: the registration's time.
	// Decide bounds it: not in the future, at most the policy's MaxReportedAge before now.
	ReportedAt time.Time `json:"reported_at,omitzero"`
	// RepairsOnRecord are the unit's earlier repairs that the ledger holds, found by serial
	// number or IMEI. Like ClaimID they are not part of the request: the application looks them
	// up before Decide, which counts them in eligibility and records them on the event.
	RepairsOnRecord []RepairOnRecord `json:"-"`
	// Organisation is the partner organisation (a dealer or system integrator) that registers
	// the claim for its own customer; empty for the company's own claims. A partner's
	// registration is always its own organisation's: the application sets it from the caller.
	Organisation string `json:"organisation,omitempty"`
}

// Action returns ActionRegister.
func (RegisterClaim) Action() Action { return ActionRegister }

// Validate checks the body; ClaimID and Number are checked by Decide, since the application
// sets them after decoding.
func (c RegisterClaim) Validate() error {
	var v validation
	v.required("customer.name", c.Customer.Name)
	v.line("customer.name", c.Customer.Name, maxLine)
	v.phone("customer.phone", c.Customer.Phone)
	v.email("customer.email", c.Customer.Email)
	v.text("customer.address", c.Customer.Address, maxAddress, true)
	v.line("product.sku", c.Product.SKU, maxLine)
	v.required("product.category", c.Product.Category)
	v.code("product.category", c.Product.Category)
	if strings.TrimSpace(c.Product.Serial) == "" && strings.TrimSpace(c.Product.IMEI) == "" {
		v.fail("product.serial", "is required unless product.imei is given")
	}
	v.line("product.serial", c.Product.Serial, maxLine)
	v.imei("product.imei", c.Product.IMEI)
	v.long("product.description", c.Product.Description)
	v.code("product.component", c.Product.Component)
	v.oneOf("product.condition", c.Product.Condition, ConditionNew, ConditionUsed, ConditionRefurbished)
	v.date("purchase_date", c.PurchaseDate)
	validateCoverages(&v, c.Coverages, c.PriorRepairs)
	validateProof(&v, "proof_of_purchase", c.ProofOfPurchase)
	v.positive("price", c.Price)
	v.required("defect", c.Defect)
	v.long("defect", c.Defect)
	v.oneOf("channel", c.Channel, ChannelWeb, ChannelPhone, ChannelEmail, ChannelWalkIn, ChannelPartner)
	v.code("organisation", c.Organisation)
	return v.result()
}

// validateProof checks an optional proof of purchase: when given, both kind and reference.
func validateProof(v *validation, field string, p *ProofOfPurchase) {
	if p == nil {
		return
	}
	v.required(field+".kind", p.Kind)
	v.oneOf(field+".kind", p.Kind, ProofReceipt, ProofInvoice, ProofWarrantyCard)
	v.required(field+".reference", p.Reference)
	v.line(field+".reference", p.Reference, maxLine)
}

// validateCenter checks a service center's optional fields; callers require what they need.
func validateCenter(v *validation, field string, sc ServiceCenter) {
	v.line(field+".name", sc.Name, maxLine)
	v.country(field+".country", sc.Country)
	v.text(field+".address", sc.Address, maxAddress, true)
	v.line(field+".contact", sc.Contact, maxLine)
}

// RedirectToServiceCenter sends the customer to the manufacturer's authorized service center
// in their country, which has the first say: the claim comes back to us only if it refuses
// or issues an act of unrepairability. Name and country are required.
type RedirectToServiceCenter struct {
	ServiceCenter ServiceCenter `json:"service_center"`
	Notes         string        `json:"notes,omitempty"`
}

// Action returns ActionRedirectToServiceCenter.
func (RedirectToServiceCenter) Action() Action { return ActionRedirectToServiceCenter }

// Validate checks the fields.
func (c RedirectToServiceCenter) Validate() error {
	var v validation
	v.required("service_center.name", c.ServiceCenter.Name)
	v.required("service_center.country", c.ServiceCenter.Country)
	validateCenter(&v, "service_center", c.ServiceCenter)
	v.long("notes", c.Notes)
	return v.result()
}

// RecordUnrepairabilityAct records the service center's refusal or act of unrepairability,
// returning the claim to review. All of kind, reference and issued_on are required: the act is
// the document that entitles the customer to our service, so an auditor must be able to find it.
type RecordUnrepairabilityAct struct {
	Kind      string `json:"kind"`
	Reference string `json:"reference"`
	IssuedOn  Date   `json:"issued_on"`
	Notes     string `json:"notes,omitempty"`
}

// Action returns ActionRecordUnrepairabilityAct.
func (RecordUnrepairabilityAct) Action() Action { return ActionRecordUnrepairabilityAct }

// Validate checks the fields; that issued_on is not in the future is checked by Decide.
func (c RecordUnrepairabilityAct) Validate() error {
	var v validation
	v.required("kind", c.Kind)
	v.oneOf("kind", c.Kind, ActRefusal, ActUnrepairability)
	v.required("reference", c.Reference)
	v.line("reference", c.Reference, maxLine)
	v.date("issued_on", c.IssuedOn)
	v.long("notes", c.Notes)
	return v.result()
}

// AuthorizeClaim issues the RMA: the service center the customer ships to (name and address
// required) and the documents to send. ProofOfPurchase may be given here when the customer
// produced it after registering; without one here or on the claim, Decide refuses with
// ErrPurchaseNotConfirmed.
//
// A claim the recorded eligibility says is not covered is authorized only with paid_repair
// (ErrNotCovered otherwise). Coverages and prior repairs shown only now (a certificate found
// later) are recorded, and eligibility is decided again as of the claim date.
type AuthorizeClaim struct {
	ServiceCenter      ServiceCenter      `json:"service_center"`
	DocumentsRequested []string           `json:"documents_requested,omitempty"`
	ProofOfPurchase    *ProofOfPurchase   `json:"proof_of_purchase,omitempty"`
	Notes              string             `json:"notes,omitempty"`
	PaidRepair         bool               `json:"paid_repair,omitempty"`
	Coverages          []CoveragePurchase `json:"coverages,omitempty"`
	PriorRepairs       []PriorRepair      `json:"prior_repairs,omitempty"`
}

// Action returns ActionAuthorize.
func (AuthorizeClaim) Action() Action { return ActionAuthorize }

// Validate checks the fields.
func (c AuthorizeClaim) Validate() error {
	var v validation
	v.required("service_center.name", c.ServiceCenter.Name)
	v.required("service_center.address", c.ServiceCenter.Address)
	validateCenter(&v, "service_center", c.ServiceCenter)
	v.lines("documents_requested", c.DocumentsRequested, maxLine)
	validateProof(&v, "proof_of_purchase", c.ProofOfPurchase)
	v.long("notes", c.Notes)
	validateCoverages(&v, c.Coverages, c.PriorRepairs)
	return v.result()
}

// RejectClaim refuses a claim under review. ReasonCode is required (e.g. "no_proof_of_purchase",
// "warranty_expired"); Reason is free text for the customer.
type RejectClaim struct {
	ReasonCode string `json:"reason_code"`
	Reason     string `json:"reason,omitempty"`
}

// Action returns ActionReject.
func (RejectClaim) Action() Action { return ActionReject }

// Validate checks the fields.
func (c RejectClaim) Validate() error {
	var v validation
	v.required("reason_code", c.ReasonCode)
	v.code("reason_code", c.ReasonCode)
	v.long("reason", c.Reason)
	return v.result()
}

// ReceiveDocuments records documents the customer sent for checking; at least one.
type ReceiveDocuments struct {
	Documents []string `json:"documents"`
}

// Action returns ActionReceiveDocuments.
func (ReceiveDocuments) Action() Action { return ActionReceiveDocuments }

// Validate checks the fields.
func (c ReceiveDocuments) Validate() error {
	var v validation
	if len(c.Documents) == 0 {
		v.fail("documents", "is required")
	}
	v.lines("documents", c.Documents, maxLine)
	return v.result()
}

// RecordCustomerShipment records the customer's parcel; carrier and tracking number are both
// required, since tracking is the point of recording it.
type RecordCustomerShipment struct {
	Carrier        string `json:"carrier"`
	TrackingNumber string `json:"tracking_number"`
}

// Action returns ActionRecordCustomerShipment.
func (RecordCustomerShipment) Action() Action { return ActionRecordCustomerShipment }

// Validate checks the fields.
func (c RecordCustomerShipment) Validate() error {
	var v validation
	v.required("carrier", c.Carrier)
	v.line("carrier", c.Carrier, maxLine)
	v.required("tracking_number", c.TrackingNumber)
	v.line("tracking_number", c.TrackingNumber, maxLine)
	return v.result()
}

// ReceiveClaim is the intake protocol. Condition, seals_intact and received_by are required:
// seals_intact must be stated explicitly (a pointer, so that an omitted field is not read as
// "broken seals", which would void the warranty).
type ReceiveClaim struct {
	Condition     string   `json:"condition"`
	Accessories   []string `json:"accessories,omitempty"`
	SealsIntact   *bool    `json:"seals_intact"`
	Photos        []string `json:"photos,omitempty"`
	ServiceCenter string   `json:"service_center,omitempty"`
	ReceivedBy    string   `json:"received_by"`
}

// Action returns ActionReceive.
func (ReceiveClaim) Action() Action { return ActionReceive }

// Validate checks the fields.
func (c ReceiveClaim) Validate() error {
	var v validation
	v.required("condition", c.Condition)
	v.long("condition", c.Condition)
	v.lines("accessories", c.Accessories, maxLine)
	if c.SealsIntact == nil {
		v.fail("seals_intact", "is required")
	}
	v.lines("photos", c.Photos, maxAddress)
	v.line("service_center", c.ServiceCenter, maxLine)
	v.required("received_by", c.ReceivedBy)
	v.line("received_by", c.ReceivedBy, maxLine)
	return v.result()
}

// DiagnoseClaim records the technician's finding. Outcome and findings are required;
// void_reason_code (e.g. "liquid_damage", "broken_seal") is required exactly when the outcome
// is warranty_void, so a void warranty is always explained by a code.
//
// confirms_estimate says the finding confirms the estimate accepted before the goods arrived
// (quoted from the customer's description and paid in advance): the repair may then start
// without a new estimate. Without it, a revised estimate follows.
type DiagnoseClaim struct {
	Outcome          string `json:"outcome"`
	VoidReasonCode   string `json:"void_reason_code,omitempty"`
	Findings         string `json:"findings"`
	ConfirmsEstimate bool   `json:"confirms_estimate,omitempty"`
}

// Action returns ActionDiagnose.
func (DiagnoseClaim) Action() Action { return ActionDiagnose }

// Validate checks the fields.
func (c DiagnoseClaim) Validate() error {
	var v validation
	v.required("outcome", c.Outcome)
	v.oneOf("outcome", c.Outcome, OutcomeDefectConfirmed, OutcomeNoFaultFound, OutcomeWarrantyVoid, OutcomeOutOfWarranty)
	switch {
	case c.Outcome == OutcomeWarrantyVoid:
		v.required("void_reason_code", c.VoidReasonCode)
		v.code("void_reason_code", c.VoidReasonCode)
	case c.VoidReasonCode != "":
		v.fail("void_reason_code", "must be empty unless outcome is warranty_void")
	}
	v.required("findings", c.Findings)
	v.long("findings", c.Findings)
	return v.result()
}

// IssueEstimate quotes paid work: damage_level 1 to 3 (required) and the parts,
// labour and shipping amounts, each optional (absent means zero) but together greater than
// zero, all in the claim's currency. Decide computes the total.
type IssueEstimate struct {
	DamageLevel int    `json:"damage_level"`
	Parts       Money  `json:"parts,omitzero"`
	Labour      Money  `json:"labour,omitzero"`
	Shipping    Money  `json:"shipping,omitzero"`
	Description string `json:"description,omitempty"`
}

// Action returns ActionIssueEstimate.
func (IssueEstimate) Action() Action { return ActionIssueEstimate }

// Validate checks the fields.
func (c IssueEstimate) Validate() error {
	var v validation
	switch {
	case c.DamageLevel == 0:
		v.fail("damage_level", "is required")
	case c.DamageLevel < 1 || c.DamageLevel > 3:
		v.fail("damage_level", "must be 1, 2 or 3")
	}
	v.optionalAmount("parts", c.Parts)
	v.optionalAmount("labour", c.Labour)
	v.optionalAmount("shipping", c.Shipping)
	if c.Parts.Amount <= 0 && c.Labour.Amount <= 0 && c.Shipping.Amount <= 0 {
		v.fail("total", "parts, labour and shipping must add up to more than zero")
	}
	v.long("description", c.Description)
	return v.result()
}

// AcceptEstimate records the customer's acceptance; reference (e.g. a signed form or an order
// number) is optional.
type AcceptEstimate struct {
	Reference string `json:"reference,omitempty"`
}

// Action returns ActionAcceptEstimate.
func (AcceptEstimate) Action() Action { return ActionAcceptEstimate }

// Validate checks the fields.
func (c AcceptEstimate) Validate() error {
	var v validation
	v.line("reference", c.Reference, maxLine)
	return v.result()
}

// DeclineEstimate records the customer's refusal; the item goes back unrepaired.
type DeclineEstimate struct {
	Reason string `json:"reason,omitempty"`
}

// Action returns ActionDeclineEstimate.
func (DeclineEstimate) Action() Action { return ActionDeclineEstimate }

// Validate checks the fields.
func (c DeclineEstimate) Validate() error {
	var v validation
	v.long("reason", c.Reason)
	return v.result()
}

// RecordPayment records money received for the accepted estimate, or for the price difference
// of a dearer replacement model. Amount, reference and method are required: finance reconciles
// by reference. for ("estimate" or "price_difference") names what it pays; absent, the accepted
// estimate while anything is owed on it, else the price difference.
type RecordPayment struct {
	Amount    Money  `json:"amount"`
	Reference string `json:"reference"`
	Method    string `json:"method"`
	For       string `json:"for,omitempty"`
	// Provider and ProviderPaymentID are set by the service that verified an online payment
	// provider's signed confirmation, never from a request body: a person cannot claim that a
	// provider confirmed a payment. A provider's payment is recorded once per payment id.
	Provider          string `json:"-"`
	ProviderPaymentID string `json:"-"`
}

// Action returns ActionRecordPayment.
func (RecordPayment) Action() Action { return ActionRecordPayment }

// Validate checks the fields.
func (c RecordPayment) Validate() error {
	var v validation
	v.positive("amount", c.Amount)
	v.required("reference", c.Reference)
	v.line("reference", c.Reference, maxLine)
	v.required("method", c.Method)
	v.oneOf("method", c.Method, PaymentCash, PaymentCard, PaymentBankTransfer, PaymentOnline, PaymentOther)
	v.oneOf("for", c.For, PaymentForEstimate, PaymentForPriceDifference)
	if c.Provider != "" {
		v.line("provider", c.Provider, maxLine)
		v.required("provider_payment_id", c.ProviderPaymentID)
		v.line("provider_payment_id", c.ProviderPaymentID, maxLine)
		v.oneOf("method", c.Method, PaymentOnline)
	}
	return v.result()
}

// StartRepair records where the repair happens; where ("own" or "manufacturer") is required.
type StartRepair struct {
	Where      string `json:"where"`
	Technician string `json:"technician,omitempty"`
	Notes      string `json:"notes,omitempty"`
}

// Action returns ActionStartRepair.
func (StartRepair) Action() Action { return ActionStartRepair }

// Validate checks the fields.
func (c StartRepair) Validate() error {
	var v validation
	v.required("where", c.Where)
	v.oneOf("where", c.Where, RepairOwn, RepairManufacturer)
	v.line("technician", c.Technician, maxLine)
	v.long("notes", c.Notes)
	return v.result()
}

// CompleteRepair resolves the claim as repaired; work_done is required, as it goes on the
// hand-over protocol at release.
type CompleteRepair struct {
	WorkDone string   `json:"work_done"`
	Parts    []string `json:"parts,omitempty"`
}

// Action returns ActionCompleteRepair.
func (CompleteRepair) Action() Action { return ActionCompleteRepair }

// Validate checks the fields.
func (c CompleteRepair) Validate() error {
	var v validation
	v.required("work_done", c.WorkDone)
	v.long("work_done", c.WorkDone)
	v.lines("parts", c.Parts, maxLine)
	return v.result()
}

// ReplaceItem resolves the claim with a replacement unit; new_serial is required so that the
// new unit's warranty can be traced. new_sku names a different model when the item is
// replaced by another one rather than an equivalent.
//
// value (optional) is the replacement unit's value in the claim's currency, what finance books
// as the compensation; reference (optional) is its delivery note or invoice.
//
// settle_price_difference replaces the item by another model (new_sku, required then) and
// settles the difference between its value (required then) and the price paid: a cheaper model
// refunds the difference (within the refund cap), a dearer one is paid for before it ships.
type ReplaceItem struct {
	NewSerial             string `json:"new_serial"`
	NewSKU                string `json:"new_sku,omitempty"`
	Notes                 string `json:"notes,omitempty"`
	Value                 Money  `json:"value,omitzero"`
	Reference             string `json:"reference,omitempty"`
	SettlePriceDifference bool   `json:"settle_price_difference,omitempty"`
}

// Action returns ActionReplace.
func (ReplaceItem) Action() Action { return ActionReplace }

// Validate checks the fields.
func (c ReplaceItem) Validate() error {
	var v validation
	v.required("new_serial", c.NewSerial)
	v.line("new_serial", c.NewSerial, maxLine)
	v.line("new_sku", c.NewSKU, maxLine)
	v.long("notes", c.Notes)
	v.optionalAmount("value", c.Value)
	v.line("reference", c.Reference, maxLine)
	if c.SettlePriceDifference {
		v.required("new_sku", c.NewSKU)
		v.positive("value", c.Value)
	}
	return v.result()
}

// ApproveRefund resolves the claim with a refund; amount and reason are required (finance
// approves with a reason). Decide enforces the cap.
//
// reference (optional) names the approval document, e.g. a finance ticket.
type ApproveRefund struct {
	Amount    Money  `json:"amount"`
	Reason    string `json:"reason"`
	Reference string `json:"reference,omitempty"`
}

// Action returns ActionApproveRefund.
func (ApproveRefund) Action() Action { return ActionApproveRefund }

// Validate checks the fields.
func (c ApproveRefund) Validate() error {
	var v validation
	v.positive("amount", c.Amount)
	v.required("reason", c.Reason)
	v.long("reason", c.Reason)
	v.line("reference", c.Reference, maxLine)
	return v.result()
}

// RecordRefundPayment records a transfer of approved refund money; amount and reference are
// required.
type RecordRefundPayment struct {
	Amount    Money  `json:"amount"`
	Reference string `json:"reference"`
}

// Action returns ActionRecordRefundPayment.
func (RecordRefundPayment) Action() Action { return ActionRecordRefundPayment }

// Validate checks the fields.
func (c RecordRefundPayment) Validate() error {
	var v validation
	v.positive("amount", c.Amount)
	v.required("reference", c.Reference)
	v.line("reference", c.Reference, maxLine)
	return v.result()
}

// IssueCreditNote resolves the claim with a credit note; amount and number are required.
type IssueCreditNote struct {
	Amount Money  `json:"amount"`
	Number string `json:"number"`
	Reason string `json:"reason,omitempty"`
}

// Action returns ActionIssueCreditNote.
func (IssueCreditNote) Action() Action { return ActionIssueCreditNote }

// Validate checks the fields.
func (c IssueCreditNote) Validate() error {
	var v validation
	v.positive("amount", c.Amount)
	v.required("number", c.Number)
	v.line("number", c.Number, maxLine)
	v.long("reason", c.Reason)
	return v.result()
}

// ReturnUnrepaired resolves a diagnosed claim without work: no fault was found, the warranty
// is void and the customer wants no paid repair, or an accepted estimate was never paid. It is
// not in the original action list; without it such claims could never be resolved.
type ReturnUnrepaired struct {
	Reason string `json:"reason,omitempty"`
}

// Action returns ActionReturnUnrepaired.
func (ReturnUnrepaired) Action() Action { return ActionReturnUnrepaired }

// Validate checks the fields.
func (c ReturnUnrepaired) Validate() error {
	var v validation
	v.long("reason", c.Reason)
	return v.result()
}

// ShipReturn records the item leaving for the customer. Carrier is required; tracking_number is
// optional because a hand-over at the counter (carrier "in_person") has none.
type ShipReturn struct {
	Carrier        string `json:"carrier"`
	TrackingNumber string `json:"tracking_number,omitempty"`
}

// Action returns ActionShipReturn.
func (ShipReturn) Action() Action { return ActionShipReturn }

// Validate checks the fields.
func (c ShipReturn) Validate() error {
	var v validation
	v.required("carrier", c.Carrier)
	v.line("carrier", c.Carrier, maxLine)
	v.line("tracking_number", c.TrackingNumber, maxLine)
	return v.result()
}

// ConfirmDelivery records the hand-over; signed_by is required.
type ConfirmDelivery struct {
	SignedBy string `json:"signed_by"`
}

// Action returns ActionConfirmDelivery.
func (ConfirmDelivery) Action() Action { return ActionConfirmDelivery }

// Validate checks the fields.
func (c ConfirmDelivery) Validate() error {
	var v validation
	v.required("signed_by", c.SignedBy)
	v.line("signed_by", c.SignedBy, maxLine)
	return v.result()
}

// OpenDispute records the customer's written appeal, made only at release; reason is required,
// reference points to the written appeal.
type OpenDispute struct {
	Reason    string `json:"reason"`
	Reference string `json:"reference,omitempty"`
}

// Action returns ActionOpenDispute.
func (OpenDispute) Action() Action { return ActionOpenDispute }

// Validate checks the fields.
func (c OpenDispute) Validate() error {
	var v validation
	v.required("reason", c.Reason)
	v.long("reason", c.Reason)
	v.line("reference", c.Reference, maxLine)
	return v.result()
}

// ResolveDispute decides the open appeal: outcome "upheld" or "overturned", and the decision's
// reasoning, both required.
type ResolveDispute struct {
	Outcome  string `json:"outcome"`
	Decision string `json:"decision"`
}

// Action returns ActionResolveDispute.
func (ResolveDispute) Action() Action { return ActionResolveDispute }

// Validate checks the fields.
func (c ResolveDispute) Validate() error {
	var v validation
	v.required("outcome", c.Outcome)
	v.oneOf("outcome", c.Outcome, DisputeUpheld, DisputeOverturned)
	v.required("decision", c.Decision)
	v.long("decision", c.Decision)
	return v.result()
}

// AddNote attaches free text. Visibility defaults to "internal": a note reaches the public
// status page only when someone chose "customer".
type AddNote struct {
	Text       string `json:"text"`
	Visibility string `json:"visibility,omitempty"`
}

// Action returns ActionAddNote.
func (AddNote) Action() Action { return ActionAddNote }

// Validate checks the fields.
func (c AddNote) Validate() error {
	var v validation
	v.required("text", c.Text)
	v.long("text", c.Text)
	v.oneOf("visibility", c.Visibility, VisibilityInternal, VisibilityCustomer)
	return v.result()
}

// PutOnHold suspends the claim; reason_code (e.g. "unpaid_debt") is required.
type PutOnHold struct {
	ReasonCode string `json:"reason_code"`
	Reason     string `json:"reason,omitempty"`
}

// Action returns ActionPutOnHold.
func (PutOnHold) Action() Action { return ActionPutOnHold }

// Validate checks the fields.
func (c PutOnHold) Validate() error {
	var v validation
	v.required("reason_code", c.ReasonCode)
	v.code("reason_code", c.ReasonCode)
	v.long("reason", c.Reason)
	return v.result()
}

// ReleaseHold resumes the claim where it was put on hold.
type ReleaseHold struct {
	Notes string `json:"notes,omitempty"`
}

// Action returns ActionReleaseHold.
func (ReleaseHold) Action() Action { return ActionReleaseHold }

// Validate checks the fields.
func (c ReleaseHold) Validate() error {
	var v validation
	v.long("notes", c.Notes)
	return v.result()
}

// WithdrawClaim closes the claim at the customer's request, before the goods were shipped.
type WithdrawClaim struct {
	Reason string `json:"reason,omitempty"`
}

// Action returns ActionWithdraw.
func (WithdrawClaim) Action() Action { return ActionWithdraw }

// Validate checks the fields.
func (c WithdrawClaim) Validate() error {
	var v validation
	v.long("reason", c.Reason)
	return v.result()
}

// CloseClaim ends the lifecycle; reason_code is required (e.g. "completed"). An authorized
// claim closes only with "shipment_window_expired", and only once its shipment window expired.
//
// Clocks are the claim's SLA clocks, which that reason is judged by. They are not part of the
// request: the application folds them from the claim's history under its governing policy and
// hands them over with SetClocks (see ClockDependent).
type CloseClaim struct {
	ReasonCode string `json:"reason_code"`
	Reason     string `json:"reason,omitempty"`
	Clocks     Clocks `json:"-"`
}

// Action returns ActionClose.
func (CloseClaim) Action() Action { return ActionClose }

// Validate checks the fields.
func (c CloseClaim) Validate() error {
	var v validation
	v.required("reason_code", c.ReasonCode)
	v.code("reason_code", c.ReasonCode)
	v.long("reason", c.Reason)
	return v.result()
}

// ValidOrganisation reports whether name can name a partner organisation: a code (lower-case
// letters, digits, '_', '-' or '.'), so that one organisation is never spelt two ways.
func ValidOrganisation(name string) bool { return len(name) <= maxCode && isCode(name) }
