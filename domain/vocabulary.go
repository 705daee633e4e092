package domain

// The values of the enumerated string fields of commands, events and State. They are plain
// strings in the structs, so that JSON clients and read models see exactly these words; the
// constants exist so that Go code never misspells them. All of them are stored, so they are
// stable.

// Proof of purchase kinds: a receipt, an invoice or a warranty card.
const (
	ProofReceipt      = "receipt"
	ProofInvoice      = "invoice"
	ProofWarrantyCard = "warranty_card"
)

// Registration channels.
const (
	ChannelWeb     = "web"
	ChannelPhone   = "phone"
	ChannelEmail   = "email"
	ChannelWalkIn  = "walk_in"
	ChannelPartner = "partner"
)

// Kinds of act a manufacturer's service center issues when it sends a claim back to us: a
// refusal or an act of unrepairability.
const (
	ActRefusal         = "refusal"
	ActUnrepairability = "unrepairability_act"
)

// Diagnosis outcomes.
const (
	OutcomeDefectConfirmed = "defect_confirmed"
	OutcomeNoFaultFound    = "no_fault_found"
	OutcomeWarrantyVoid    = "warranty_void"
	OutcomeOutOfWarranty   = "out_of_warranty"
)

// Resolution kinds: how the claim was settled.
const (
	ResolutionRepaired           = "repaired"
	ResolutionReplaced           = "replaced"
	ResolutionRefunded           = "refunded"
	ResolutionCredited           = "credited"
	ResolutionReturnedUnrepaired = "returned_unrepaired"
	ResolutionNoFaultFound       = "no_fault_found"
)

// Where a repair is done.
const (
	RepairOwn          = "own"
	RepairManufacturer = "manufacturer"
)

// Payment methods.
const (
	PaymentCash         = "cash"
	PaymentCard         = "card"
	PaymentBankTransfer = "bank_transfer"
	PaymentOnline       = "online"
	PaymentOther        = "other"
)

// The customer's decision on an estimate (State.Estimate.Decision; empty while pending).
const (
	EstimateDecisionAccepted = "accepted"
	EstimateDecisionDeclined = "declined"
)

// Dispute outcomes: upheld keeps the original decision, overturned sends the claim back to a
// new decision.
const (
	DisputeUpheld     = "upheld"
	DisputeOverturned = "overturned"
)

// Note visibility: customer notes may be shown on the public status page, internal ones never.
const (
	VisibilityInternal = "internal"
	VisibilityCustomer = "customer"
)

// IsInternalNote reports whether a stored event (its type and data) is a note for the company
// only, which no one outside it (a partner, the customer) is shown: every note but one that
// reads as meant for the customer.
func IsInternalNote(eventType string, data []byte) bool {
	if eventType != (NoteAdded{}).EventType() {
		return false
	}
	e, err := DecodeEvent(eventType, data)
	n, ok := e.(NoteAdded)
	return err != nil || !ok || n.Visibility != VisibilityCustomer
}

// Reason codes with a meaning to the lifecycle.
const (
	// ReasonShipmentWindowExpired is the only reason an authorized claim may be closed: the
	// customer did not ship in time, and the claim then counts as resolved.
	ReasonShipmentWindowExpired = "shipment_window_expired"
	// ReasonWithdrawn is the closure reason code of a withdrawn claim.
	ReasonWithdrawn = "withdrawn"
)
