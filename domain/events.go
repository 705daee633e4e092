package domain

import (
	"time"

	"github.com/google/uuid"
)

// Event is a fact about a claim, stored forever. EventType is its stable stored name,
// "claim.<name>.v<version>", written out in each type rather than derived by reflection, so
// that renaming a Go type can never orphan stored events. A change to an event's meaning or
// shape is a new version with an upcaster (codec.go), never an edit of the old one.
//
// Events are values (ClaimAuthorized, not *ClaimAuthorized): Decide and DecodeEvent return
// values, and Evolve matches values. Every event carries At, the time of the decision.
type Event interface {
	EventType() string
}

// ClaimRegistered opens a claim with everything the customer told us. ClaimID and Number are
// assigned by the application; the phone is normalised to E.164 and the IMEI to its digits.
type ClaimRegistered struct {
	ClaimID         uuid.UUID        `json:"claim_id"`
	Number          string           `json:"number"`
	Customer        Customer         `json:"customer"`
	Product         Product          `json:"product"`
	PurchaseDate    Date             `json:"purchase_date"`
	ProofOfPurchase *ProofOfPurchase `json:"proof_of_purchase,omitempty"`
	Price           Money            `json:"price"`
	Defect          string           `json:"defect"`
	Channel         string           `json:"channel,omitempty"`
	// CustomerID is the customer's pseudonymous id, set by the application (a keyed hash of
	// the phone, see package privacy) so that one customer's claims share a data key and can
	// be erased together. Absent from events stored before crypto-shredding.
	CustomerID string `json:"customer_id,omitempty"`
	// Coverages, PriorRepairs and Eligibility were added with warranty policies; events stored
	// before them decode with all three absent, which is what those events said.
	Coverages    []CoveragePurchase `json:"coverages,omitempty"`
	PriorRepairs []PriorRepair      `json:"prior_repairs,omitempty"`
	// RepairsOnRecord are the unit's earlier repairs found in the ledger by serial number or
	// IMEI, which eligibility counted besides PriorRepairs. Absent from events stored before the
	// ledger looked them up, which counted none.
	RepairsOnRecord []RepairOnRecord `json:"repairs_on_record,omitempty"`
	// ReportedAt is when the request arrived, when it was entered later (a request taken by phone
	// or e-mail): the SLA clocks start then and the claim date is its day. Zero in events of
	// requests entered as they arrived, and in every event stored before it existed: At.
	ReportedAt time.Time `json:"reported_at,omitzero"`
	// Eligibility is decided at registration, as of the claim date, and kept: a later policy
	// change never alters it. Nil when the policy has no warranty terms.
	Eligibility *Eligibility `json:"eligibility,omitempty"`
	// Organisation is the partner organisation the claim belongs to: only its people and keys,
	// and the company's staff, see it. Empty for the company's own claims, and in every event
	// stored before partners existed, whose claims were all the company's.
	Organisation string    `json:"organisation,omitempty"`
	At           time.Time `json:"at"`
}

// ClaimRedirectedToServiceCenter sends the customer to the manufacturer's authorized service
// center in the country, which has the first say.
type ClaimRedirectedToServiceCenter struct {
	ServiceCenter ServiceCenter `json:"service_center"`
	Notes         string        `json:"notes,omitempty"`
	At            time.Time     `json:"at"`
}

// ServiceCenterActRecorded records the service center's refusal or act of unrepairability;
// the claim returns to review and may now be authorized by us.
type ServiceCenterActRecorded struct {
	Kind      string    `json:"kind"`
	Reference string    `json:"reference"`
	IssuedOn  Date      `json:"issued_on"`
	Notes     string    `json:"notes,omitempty"`
	At        time.Time `json:"at"`
}

// ClaimAuthorized issues the RMA: where to ship and which documents to send. ProofOfPurchase
// is set when the agent confirmed the purchase with a document not given at registration.
type ClaimAuthorized struct {
	ServiceCenter      ServiceCenter    `json:"service_center"`
	DocumentsRequested []string         `json:"documents_requested,omitempty"`
	ProofOfPurchase    *ProofOfPurchase `json:"proof_of_purchase,omitempty"`
	Notes              string           `json:"notes,omitempty"`
	// PaidRepair authorizes a claim that is not covered as paid work (by a price list or an
	// estimate); the fields below it were added with warranty policies and are absent from
	// older events.
	PaidRepair bool `json:"paid_repair,omitempty"`
	// Coverages and PriorRepairs are evidence shown at authorization; Eligibility is decided
	// again, as of the claim date, only when there was some.
	Coverages    []CoveragePurchase `json:"coverages,omitempty"`
	PriorRepairs []PriorRepair      `json:"prior_repairs,omitempty"`
	Eligibility  *Eligibility       `json:"eligibility,omitempty"`
	// DocumentsFirst: the requested documents are checked before the goods
	// travel (Policy.DocumentsBeforeShipment at authorization). Absent from
	// events stored before it was recorded; those claims are held to it by
	// their policy when the goods come.
	DocumentsFirst bool      `json:"documents_first,omitempty"`
	At             time.Time `json:"at"`
}

// ClaimRejected refuses the claim before any goods move.
type ClaimRejected struct {
	ReasonCode string    `json:"reason_code"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
}

// DocumentsReceived records documents the customer sent for checking before the goods ship.
type DocumentsReceived struct {
	Documents []string  `json:"documents"`
	At        time.Time `json:"at"`
}

// CustomerShipmentRecorded records the customer's parcel to the service.
type CustomerShipmentRecorded struct {
	Carrier        string    `json:"carrier"`
	TrackingNumber string    `json:"tracking_number"`
	At             time.Time `json:"at"`
}

// ClaimReceived is the hand-over protocol at intake: date, item, condition, seals.
type ClaimReceived struct {
	Condition     string    `json:"condition"`
	Accessories   []string  `json:"accessories,omitempty"`
	SealsIntact   bool      `json:"seals_intact"`
	Photos        []string  `json:"photos,omitempty"`
	ServiceCenter string    `json:"service_center,omitempty"`
	ReceivedBy    string    `json:"received_by"`
	At            time.Time `json:"at"`
}

// ClaimDiagnosed records the technician's finding; a later one (second review) supersedes it
// in State while this one stays in the history.
//
// ConfirmsEstimate is set when the finding confirms the estimate accepted before the goods
// arrived: the claim is then ready for the paid repair (paid, or estimate_accepted while payments
// fall short) instead of diagnosed. Absent from diagnoses that confirm none, and from every
// diagnosis stored before it existed.
type ClaimDiagnosed struct {
	Outcome          string    `json:"outcome"`
	VoidReasonCode   string    `json:"void_reason_code,omitempty"`
	Findings         string    `json:"findings"`
	ConfirmsEstimate bool      `json:"confirms_estimate,omitempty"`
	At               time.Time `json:"at"`
}

// EstimateIssued quotes paid work. Total is computed by Decide and stored, so that finance
// reads the figure the customer saw.
type EstimateIssued struct {
	DamageLevel int       `json:"damage_level"`
	Parts       Money     `json:"parts"`
	Labour      Money     `json:"labour"`
	Shipping    Money     `json:"shipping"`
	Total       Money     `json:"total"`
	Description string    `json:"description,omitempty"`
	At          time.Time `json:"at"`
}

// EstimateAccepted records the customer's acceptance; payment is due next.
type EstimateAccepted struct {
	Reference string    `json:"reference,omitempty"`
	At        time.Time `json:"at"`
}

// EstimateDeclined records the customer's refusal; the item goes back unrepaired.
type EstimateDeclined struct {
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// PaymentRecorded records money received for the accepted estimate. The claim becomes paid
// when the payments cover the estimate total.
//
// For is price_difference for a payment of a dearer replacement model's price difference; it is
// absent from payments for the estimate, which every payment stored before it was.
//
// Provider and ProviderPaymentID name the online payment provider whose signed confirmation
// recorded the payment ("stripe", "sandbox") and the provider's id of the payment; both are
// absent from payments recorded by staff, as from every payment stored before online payment,
// so such events decode unchanged.
type PaymentRecorded struct {
	Amount            Money     `json:"amount"`
	Reference         string    `json:"reference"`
	Method            string    `json:"method"`
	For               string    `json:"for,omitempty"`
	Provider          string    `json:"provider,omitempty"`
	ProviderPaymentID string    `json:"provider_payment_id,omitempty"`
	At                time.Time `json:"at"`
}

// RepairStarted records where the repair happens: our center or the manufacturer's.
type RepairStarted struct {
	Where      string    `json:"where"`
	Technician string    `json:"technician,omitempty"`
	Notes      string    `json:"notes,omitempty"`
	At         time.Time `json:"at"`
}

// RepairCompleted resolves the claim as repaired; WorkDone goes on the release protocol.
type RepairCompleted struct {
	WorkDone string    `json:"work_done"`
	Parts    []string  `json:"parts,omitempty"`
	At       time.Time `json:"at"`
}

// ItemReplaced resolves the claim with a replacement unit.
//
// Value (the replacement unit's value, what finance books) and Reference (the delivery note or
// invoice of the unit) were added later as optional fields: events stored before them decode
// with both absent, which is what those events said, so no new version was needed.
//
// DifferenceRefund and DifferenceCharge settle a replacement by another model: the price paid
// less the cheaper model's value, owed to the customer as a refund checked against the refund
// cap (CapBasisPoints); or the dearer model's value less the price, owed by the customer. Both
// are absent from a replacement by an equivalent, and from every replacement stored before them.
type ItemReplaced struct {
	NewSerial        string    `json:"new_serial"`
	NewSKU           string    `json:"new_sku,omitempty"`
	Notes            string    `json:"notes,omitempty"`
	Value            Money     `json:"value,omitzero"`
	Reference        string    `json:"reference,omitempty"`
	DifferenceRefund Money     `json:"difference_refund,omitzero"`
	DifferenceCharge Money     `json:"difference_charge,omitzero"`
	CapBasisPoints   int64     `json:"cap_basis_points,omitempty"`
	At               time.Time `json:"at"`
}

// RefundApproved resolves the claim with a refund to be paid. CapBasisPoints is the cap the
// amount was checked against, kept so that the decision can be explained later even if the
// policy changed.
//
// Reference (the approval document, e.g. a finance ticket) is optional and was added later;
// older events decode without it.
type RefundApproved struct {
	Amount         Money     `json:"amount"`
	Reason         string    `json:"reason"`
	CapBasisPoints int64     `json:"cap_basis_points"`
	Reference      string    `json:"reference,omitempty"`
	At             time.Time `json:"at"`
}

// RefundPaid records a transfer of approved refund money to the customer.
type RefundPaid struct {
	Amount    Money     `json:"amount"`
	Reference string    `json:"reference"`
	At        time.Time `json:"at"`
}

// CreditNoteIssued resolves the claim with a credit note; it counts against the refund cap.
type CreditNoteIssued struct {
	Number         string    `json:"number"`
	Amount         Money     `json:"amount"`
	Reason         string    `json:"reason,omitempty"`
	CapBasisPoints int64     `json:"cap_basis_points"`
	At             time.Time `json:"at"`
}

// ClaimReturnedUnrepaired resolves a diagnosed claim without work: no fault found, or the
// customer does not want paid work. Resolution is no_fault_found or returned_unrepaired.
type ClaimReturnedUnrepaired struct {
	Resolution string    `json:"resolution"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
}

// ReturnShipped records the item leaving for the customer.
type ReturnShipped struct {
	Carrier        string    `json:"carrier"`
	TrackingNumber string    `json:"tracking_number,omitempty"`
	At             time.Time `json:"at"`
}

// DeliveryConfirmed records the hand-over to the customer.
type DeliveryConfirmed struct {
	SignedBy string    `json:"signed_by"`
	At       time.Time `json:"at"`
}

// DisputeOpened records a written appeal at release; the item is held for a second review.
// OriginalResolution is the decision appealed against.
type DisputeOpened struct {
	Reason             string    `json:"reason"`
	Reference          string    `json:"reference,omitempty"`
	OriginalResolution string    `json:"original_resolution"`
	At                 time.Time `json:"at"`
}

// DisputeResolved closes the open appeal. Upheld: the original decision stands. Overturned:
// the claim returns to diagnosed for a new decision, and the unpaid part of an approved refund,
// if any, is cancelled (RefundCancelled), so that finance never waits for money no longer owed.
type DisputeResolved struct {
	Outcome         string    `json:"outcome"`
	Decision        string    `json:"decision"`
	RefundCancelled Money     `json:"refund_cancelled,omitzero"`
	At              time.Time `json:"at"`
}

// NoteAdded attaches free text to the claim.
type NoteAdded struct {
	Text       string    `json:"text"`
	Visibility string    `json:"visibility"`
	At         time.Time `json:"at"`
}

// ClaimPutOnHold suspends the claim (e.g. while the customer has unpaid debts); PreviousStatus
// is where it resumes.
type ClaimPutOnHold struct {
	ReasonCode     string    `json:"reason_code"`
	Reason         string    `json:"reason,omitempty"`
	PreviousStatus Status    `json:"previous_status"`
	At             time.Time `json:"at"`
}

// ClaimReleasedFromHold resumes the claim in the status it was put on hold from.
type ClaimReleasedFromHold struct {
	Notes string    `json:"notes,omitempty"`
	At    time.Time `json:"at"`
}

// ClaimWithdrawn closes the claim at the customer's request before the goods were shipped.
type ClaimWithdrawn struct {
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// ClaimClosed ends the claim's lifecycle.
type ClaimClosed struct {
	ReasonCode string    `json:"reason_code"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
}

// The stored names below are written out, never derived: changing one orphans every stored
// event of that type.

// EventType returns "claim.registered.v1".
func (ClaimRegistered) EventType() string { return "claim.registered.v1" }

// EventType returns "claim.redirected_to_service_center.v1".
func (ClaimRedirectedToServiceCenter) EventType() string {
	return "claim.redirected_to_service_center.v1"
}

// EventType returns "claim.service_center_act_recorded.v1".
func (ServiceCenterActRecorded) EventType() string { return "claim.service_center_act_recorded.v1" }

// EventType returns "claim.authorized.v1".
func (ClaimAuthorized) EventType() string { return "claim.authorized.v1" }

// EventType returns "claim.rejected.v1".
func (ClaimRejected) EventType() string { return "claim.rejected.v1" }

// EventType returns "claim.documents_received.v1".
func (DocumentsReceived) EventType() string { return "claim.documents_received.v1" }

// EventType returns "claim.customer_shipment_recorded.v1".
func (CustomerShipmentRecorded) EventType() string { return "claim.customer_shipment_recorded.v1" }

// EventType returns "claim.received.v1".
func (ClaimReceived) EventType() string { return "claim.received.v1" }

// EventType returns "claim.diagnosed.v1".
func (ClaimDiagnosed) EventType() string { return "claim.diagnosed.v1" }

// EventType returns "claim.estimate_issued.v1".
func (EstimateIssued) EventType() string { return "claim.estimate_issued.v1" }

// EventType returns "claim.estimate_accepted.v1".
func (EstimateAccepted) EventType() string { return "claim.estimate_accepted.v1" }

// EventType returns "claim.estimate_declined.v1".
func (EstimateDeclined) EventType() string { return "claim.estimate_declined.v1" }

// EventType returns "claim.payment_recorded.v1".
func (PaymentRecorded) EventType() string { return "claim.payment_recorded.v1" }

// EventType returns "claim.repair_started.v1".
func (RepairStarted) EventType() string { return "claim.repair_started.v1" }

// EventType returns "claim.repair_completed.v1".
func (RepairCompleted) EventType() string { return "claim.repair_completed.v1" }

// EventType returns "claim.item_replaced.v1".
func (ItemReplaced) EventType() string { return "claim.item_replaced.v1" }

// EventType returns "claim.refund_approved.v1".
func (RefundApproved) EventType() string { return "claim.refund_approved.v1" }

// EventType returns "claim.refund_paid.v1".
func (RefundPaid) EventType() string { return "claim.refund_paid.v1" }

// EventType returns "claim.credit_note_issued.v1".
func (CreditNoteIssued) EventType() string { return "claim.credit_note_issued.v1" }

// EventType returns "claim.returned_unrepaired.v1".
func (ClaimReturnedUnrepaired) EventType() string { return "claim.returned_unrepaired.v1" }

// EventType returns "claim.return_shipped.v1".
func (ReturnShipped) EventType() string { return "claim.return_shipped.v1" }

// EventType returns "claim.delivery_confirmed.v1".
func (DeliveryConfirmed) EventType() string { return "claim.delivery_confirmed.v1" }

// EventType returns "claim.dispute_opened.v1".
func (DisputeOpened) EventType() string { return "claim.dispute_opened.v1" }

// EventType returns "claim.dispute_resolved.v1".
func (DisputeResolved) EventType() string { return "claim.dispute_resolved.v1" }

// EventType returns "claim.note_added.v1".
func (NoteAdded) EventType() string { return "claim.note_added.v1" }

// EventType returns "claim.put_on_hold.v1".
func (ClaimPutOnHold) EventType() string { return "claim.put_on_hold.v1" }

// EventType returns "claim.released_from_hold.v1".
func (ClaimReleasedFromHold) EventType() string { return "claim.released_from_hold.v1" }

// EventType returns "claim.withdrawn.v1".
func (ClaimWithdrawn) EventType() string { return "claim.withdrawn.v1" }

// EventType returns "claim.closed.v1".
func (ClaimClosed) EventType() string { return "claim.closed.v1" }

// timed is implemented by every event of this package; it lets Evolve stamp UpdatedAt without
// a case per event type.
type timed interface{ occurredAt() time.Time }

func (e ClaimRegistered) occurredAt() time.Time                { return e.At }
func (e ClaimRedirectedToServiceCenter) occurredAt() time.Time { return e.At }
func (e ServiceCenterActRecorded) occurredAt() time.Time       { return e.At }
func (e ClaimAuthorized) occurredAt() time.Time                { return e.At }
func (e ClaimRejected) occurredAt() time.Time                  { return e.At }
func (e DocumentsReceived) occurredAt() time.Time              { return e.At }
func (e CustomerShipmentRecorded) occurredAt() time.Time       { return e.At }
func (e ClaimReceived) occurredAt() time.Time                  { return e.At }
func (e ClaimDiagnosed) occurredAt() time.Time                 { return e.At }
func (e EstimateIssued) occurredAt() time.Time                 { return e.At }
func (e EstimateAccepted) occurredAt() time.Time               { return e.At }
func (e EstimateDeclined) occurredAt() time.Time               { return e.At }
func (e PaymentRecorded) occurredAt() time.Time                { return e.At }
func (e RepairStarted) occurredAt() time.Time                  { return e.At }
func (e RepairCompleted) occurredAt() time.Time                { return e.At }
func (e ItemReplaced) occurredAt() time.Time                   { return e.At }
func (e RefundApproved) occurredAt() time.Time                 { return e.At }
func (e RefundPaid) occurredAt() time.Time                     { return e.At }
func (e CreditNoteIssued) occurredAt() time.Time               { return e.At }
func (e ClaimReturnedUnrepaired) occurredAt() time.Time        { return e.At }
func (e ReturnShipped) occurredAt() time.Time                  { return e.At }
func (e DeliveryConfirmed) occurredAt() time.Time              { return e.At }
func (e DisputeOpened) occurredAt() time.Time                  { return e.At }
func (e DisputeResolved) occurredAt() time.Time                { return e.At }
func (e NoteAdded) occurredAt() time.Time                      { return e.At }
func (e ClaimPutOnHold) occurredAt() time.Time                 { return e.At }
func (e ClaimReleasedFromHold) occurredAt() time.Time          { return e.At }
func (e ClaimWithdrawn) occurredAt() time.Time                 { return e.At }
func (e ClaimClosed) occurredAt() time.Time                    { return e.At }

// SLABreached records that an SLA clock passed its due time: the timer process's note for
// reports and the desk. Overrun is how late it was when recorded.
type SLABreached struct {
	Clock   string    `json:"clock"`
	DueAt   time.Time `json:"due_at"`
	Overrun Duration  `json:"overrun"`
	At      time.Time `json:"at"`
}

// RepairEscalated records that the repair hard limit passed (e.g. 45 days): the claim must
// now be settled by one of the Required actions, replacement or refund.
type RepairEscalated struct {
	DueAt    time.Time `json:"due_at"`
	Overrun  Duration  `json:"overrun"`
	Required []Action  `json:"required"`
	At       time.Time `json:"at"`
}

// EventType returns "claim.sla_breached.v1".
func (SLABreached) EventType() string { return "claim.sla_breached.v1" }

// EventType returns "claim.repair_escalated.v1".
func (RepairEscalated) EventType() string { return "claim.repair_escalated.v1" }

func (e SLABreached) occurredAt() time.Time     { return e.At }
func (e RepairEscalated) occurredAt() time.Time { return e.At }

// RequestedAt is when the customer's request arrived: ReportedAt for a request entered later,
// else the registration's time.
func (e ClaimRegistered) RequestedAt() time.Time {
	if e.ReportedAt.IsZero() {
		return e.At
	}
	return e.ReportedAt
}
