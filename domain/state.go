package domain

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// State is a claim as its events made it: what GET /v1/claims/{id} returns. It is only ever
// built by folding events (Evolve, Fold), so every value in it can be traced to an event.
// Sub-records that may not exist yet are pointers and omitted from JSON while absent.
type State struct {
	ID      uuid.UUID `json:"id"`
	Number  string    `json:"number"`
	Status  Status    `json:"status"`
	Version int64     `json:"version"` // number of events folded; the expected revision for the next append

	Customer Customer `json:"customer"`
	// CustomerID is the pseudonymous customer id the claim was registered under (erasure is
	// asked for by it); PersonalDataErased is set once the customer's data was erased.
	CustomerID         string           `json:"customer_id,omitempty"`
	PersonalDataErased bool             `json:"personal_data_erased,omitempty"`
	Product            Product          `json:"product"`
	PurchaseDate       Date             `json:"purchase_date"`
	ProofOfPurchase    *ProofOfPurchase `json:"proof_of_purchase,omitempty"`
	Price              Money            `json:"price"` // its currency is the claim's: every amount on the claim uses it
	Defect             string           `json:"defect"`
	Channel            string           `json:"channel,omitempty"`
	// Organisation is the partner organisation the claim belongs to; empty: the company's.
	Organisation string    `json:"organisation,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
	// ReportedAt is when the request arrived, for one entered later than it arrived (see
	// RequestedAt); absent otherwise.
	ReportedAt time.Time `json:"reported_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at"`

	ServiceCenter    *ServiceCenterReferral `json:"service_center,omitempty"`
	Authorization    *Authorization         `json:"authorization,omitempty"`
	Rejection        *Rejection             `json:"rejection,omitempty"`
	CustomerShipment *Shipment              `json:"customer_shipment,omitempty"`
	Intake           *Intake                `json:"intake,omitempty"`
	Diagnosis        *Diagnosis             `json:"diagnosis,omitempty"`
	Estimate         *Estimate              `json:"estimate,omitempty"`
	Payments         []Payment              `json:"payments,omitempty"`
	PaidTotal        Money                  `json:"paid_total"` // sum of Payments not reversed, in the claim's currency
	Repair           *Repair                `json:"repair,omitempty"`
	Replacement      *Replacement           `json:"replacement,omitempty"`
	Refund           *Refund                `json:"refund,omitempty"`
	CreditNotes      []CreditNote           `json:"credit_notes,omitempty"`
	ReturnShipment   *Shipment              `json:"return_shipment,omitempty"`
	Delivery         *Delivery              `json:"delivery,omitempty"`
	Disputes         []Dispute              `json:"disputes,omitempty"`
	Notes            []Note                 `json:"notes,omitempty"`
	Resolution       *Resolution            `json:"resolution,omitempty"` // nil until resolved, and again after an overturned dispute
	Hold             *Hold                  `json:"hold,omitempty"`       // set only while on hold
	Closure          *Closure               `json:"closure,omitempty"`
	Withdrawn        bool                   `json:"withdrawn"`
	SupplierRecovery *SupplierRecovery      `json:"supplier_recovery,omitempty"` // money claimed back from the manufacturer
	// RemoteResolution is set once the claim was resolved without the goods (by phone, remote
	// session or e-mail); it stays on record after an overturned appeal.
	RemoteResolution *RemoteResolution `json:"remote_resolution,omitempty"`

	// Coverages and PriorRepairs are the warranty evidence given so far; Eligibility is the
	// latest recorded decision on coverage (registration, or authorization with new evidence).
	Coverages    []CoveragePurchase `json:"coverages,omitempty"`
	PriorRepairs []PriorRepair      `json:"prior_repairs,omitempty"`
	Eligibility  *Eligibility       `json:"eligibility,omitempty"`
	// RepairsOnRecord are the unit's earlier repairs the ledger held at registration.
	RepairsOnRecord []RepairOnRecord `json:"repairs_on_record,omitempty"`
	// SLABreaches are the breaches the timer process recorded; Escalation is set once the
	// repair hard limit passed.
	SLABreaches []SLABreach `json:"sla_breaches,omitempty"`
	Escalation  *Escalation `json:"escalation,omitempty"`
	// Assignee is the person who works on the claim now; empty when nobody does.
	Assignee string `json:"assignee,omitempty"`
	// Files are the files attached to the claim, in the order they were (files.go).
	Files []AttachedFile `json:"files,omitempty"`
}

// RequestedAt is when the customer's request arrived: ReportedAt for a request entered later,
// else RegisteredAt. The claim date is its day.
func (s State) RequestedAt() time.Time {
	if s.ReportedAt.IsZero() {
		return s.RegisteredAt
	}
	return s.ReportedAt
}

// Exists reports whether the state holds a claim, i.e. at least a registration was folded.
func (s State) Exists() bool { return s.Status != "" }

// Customer is who claims, as given at registration. Phone is stored normalised (E.164): with the
// claim number it is the key of the public status page.
type Customer struct {
	Name    string `json:"name"`
	Phone   string `json:"phone"`
	Email   string `json:"email,omitempty"`
	Address string `json:"address,omitempty"`
}

// Product is the item claimed. Category is a code that warranty policies are keyed by; Serial
// or IMEI identifies the unit (IMEI stored as 15 digits).
type Product struct {
	SKU         string `json:"sku,omitempty"`
	Category    string `json:"category"`
	Serial      string `json:"serial,omitempty"`
	IMEI        string `json:"imei,omitempty"`
	Description string `json:"description,omitempty"`
	// Component is the claimed part when it has its own warranty period or exclusion (a laptop's
	// "hdd", a phone's "battery"); Condition is new, used or refurbished (a component period
	// may apply to second-hand parts only).
	Component string `json:"component,omitempty"`
	Condition string `json:"condition,omitempty"`
}

// ProofOfPurchase is the document that confirms the purchase: Kind is receipt, invoice or
// warranty_card, Reference its number.
type ProofOfPurchase struct {
	Kind      string `json:"kind"`
	Reference string `json:"reference"`
}

// ServiceCenter is a service center: the manufacturer's authorized one a claim is redirected
// to, or the one the customer ships to. Country is ISO 3166-1 alpha-2.
type ServiceCenter struct {
	Name    string `json:"name"`
	Country string `json:"country,omitempty"`
	Address string `json:"address,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// ServiceCenterReferral records the latest redirection to a manufacturer's service center and
// the act it sent back (refusal or act of unrepairability), which returns the claim to review.
type ServiceCenterReferral struct {
	ServiceCenter
	Notes        string            `json:"notes,omitempty"`
	RedirectedAt time.Time         `json:"redirected_at,omitzero"`
	Act          *ServiceCenterAct `json:"act,omitempty"`
}

// ServiceCenterAct is the document with which a manufacturer's service center declined a claim.
type ServiceCenterAct struct {
	Kind       string    `json:"kind"`
	Reference  string    `json:"reference"`
	IssuedOn   Date      `json:"issued_on"`
	Notes      string    `json:"notes,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Authorization is the RMA decision: where to ship, which documents to send, which arrived.
type Authorization struct {
	ServiceCenter      ServiceCenter `json:"service_center"`
	DocumentsRequested []string      `json:"documents_requested,omitempty"`
	DocumentsReceived  []string      `json:"documents_received,omitempty"`
	Notes              string        `json:"notes,omitempty"`
	AuthorizedAt       time.Time     `json:"authorized_at"`
	// PaidRepair: the claim is not covered and proceeds as paid work only.
	PaidRepair bool `json:"paid_repair,omitempty"`
	// DocumentsFirst: the goods may travel only once the requested
	// documents are received.
	DocumentsFirst bool `json:"documents_first,omitempty"`
}

// Rejection is why a claim was not accepted for service.
type Rejection struct {
	ReasonCode string    `json:"reason_code"`
	Reason     string    `json:"reason,omitempty"`
	RejectedAt time.Time `json:"rejected_at"`
}

// Shipment is a parcel on its way, from the customer or back to the customer.
type Shipment struct {
	Carrier        string    `json:"carrier"`
	TrackingNumber string    `json:"tracking_number,omitempty"`
	ShippedAt      time.Time `json:"shipped_at"`
}

// Intake is the hand-over protocol signed when the item arrives: its condition,
// what came with it and whether the seals were intact, which later decides warranty voids.
type Intake struct {
	Condition     string    `json:"condition"`
	Accessories   []string  `json:"accessories,omitempty"`
	SealsIntact   bool      `json:"seals_intact"`
	Photos        []string  `json:"photos,omitempty"`
	ServiceCenter string    `json:"service_center,omitempty"`
	ReceivedBy    string    `json:"received_by"`
	ReceivedAt    time.Time `json:"received_at"`
}

// Diagnosis is the latest technical finding. VoidReasonCode is set only for warranty_void.
// ConfirmsEstimate is set when it confirmed the estimate accepted before the goods arrived.
type Diagnosis struct {
	Outcome          string    `json:"outcome"`
	VoidReasonCode   string    `json:"void_reason_code,omitempty"`
	Findings         string    `json:"findings"`
	ConfirmsEstimate bool      `json:"confirms_estimate,omitempty"`
	DiagnosedAt      time.Time `json:"diagnosed_at"`
}

// Estimate is the latest quote for paid work (a damage level 1 to 3, itemised as
// parts, labour and return shipping) and the customer's decision on it.
type Estimate struct {
	DamageLevel         int       `json:"damage_level"`
	Parts               Money     `json:"parts"`
	Labour              Money     `json:"labour"`
	Shipping            Money     `json:"shipping"`
	Total               Money     `json:"total"`
	Description         string    `json:"description,omitempty"`
	IssuedAt            time.Time `json:"issued_at"`
	Decision            string    `json:"decision,omitempty"` // accepted, declined, or empty while pending
	DecidedAt           time.Time `json:"decided_at,omitzero"`
	AcceptanceReference string    `json:"acceptance_reference,omitempty"`
	DeclineReason       string    `json:"decline_reason,omitempty"`
}

// Payment is money received from the customer for paid work.
type Payment struct {
	Amount    Money     `json:"amount"`
	Reference string    `json:"reference"`
	Method    string    `json:"method"`
	For       string    `json:"for,omitempty"` // price_difference, or empty for the estimate
	PaidAt    time.Time `json:"paid_at"`
	// Provider and ProviderPaymentID are set on a payment an online payment provider confirmed.
	Provider          string `json:"provider,omitempty"`
	ProviderPaymentID string `json:"provider_payment_id,omitempty"`
	// Reversed marks a payment taken back (PaymentReversed); it no longer counts in PaidTotal.
	Reversed       bool      `json:"reversed,omitempty"`
	ReversedAt     time.Time `json:"reversed_at,omitzero"`
	ReversalReason string    `json:"reversal_reason,omitempty"`
}

// Repair is the latest repair: where it was done, by whom and what was done.
type Repair struct {
	Where       string    `json:"where"`
	Technician  string    `json:"technician,omitempty"`
	Notes       string    `json:"notes,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	WorkDone    string    `json:"work_done,omitempty"`
	Parts       []string  `json:"parts,omitempty"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// Replacement is the unit given in place of the claimed one.
// For another model with the price difference settled, DifferenceRefund is owed to the customer
// (and counted in Refund) or DifferenceCharge by the customer, DifferencePaid of it so far.
type Replacement struct {
	NewSerial        string    `json:"new_serial"`
	NewSKU           string    `json:"new_sku,omitempty"`
	Notes            string    `json:"notes,omitempty"`
	Value            Money     `json:"value,omitzero"`
	Reference        string    `json:"reference,omitempty"`
	ReplacedAt       time.Time `json:"replaced_at"`
	DifferenceRefund Money     `json:"difference_refund,omitzero"`
	DifferenceCharge Money     `json:"difference_charge,omitzero"`
	DifferencePaid   Money     `json:"difference_paid,omitzero"`
}

// Refund is what was approved to be paid back and what was paid. Approved is cumulative over
// approvals, net of reversals (RefundApprovalReversed, and the unpaid part an overturned dispute
// cancels, see DisputeResolved); Paid is net of reversed payments.
type Refund struct {
	Approved   Money           `json:"approved"`
	Paid       Money           `json:"paid"`
	Reason     string          `json:"reason"`
	Reference  string          `json:"reference,omitempty"` // of the latest approval
	ApprovedAt time.Time       `json:"approved_at"`
	Payments   []RefundPayment `json:"payments,omitempty"`
}

// RefundPayment is one transfer of refunded money to the customer.
type RefundPayment struct {
	Amount    Money     `json:"amount"`
	Reference string    `json:"reference"`
	PaidAt    time.Time `json:"paid_at"`
	// Reversed marks a transfer that did not reach the customer (RefundPaymentReversed); it no
	// longer counts in Refund.Paid.
	Reversed       bool      `json:"reversed,omitempty"`
	ReversedAt     time.Time `json:"reversed_at,omitzero"`
	ReversalReason string    `json:"reversal_reason,omitempty"`
}

// CreditNote is compensation as a credit note instead of money.
type CreditNote struct {
	Number   string    `json:"number"`
	Amount   Money     `json:"amount"`
	Reason   string    `json:"reason,omitempty"`
	IssuedAt time.Time `json:"issued_at"`
	// Cancelled marks a cancelled note (CreditNoteCancelled); it no longer counts against the cap.
	Cancelled    bool      `json:"cancelled,omitempty"`
	CancelledAt  time.Time `json:"cancelled_at,omitzero"`
	CancelReason string    `json:"cancel_reason,omitempty"`
}

// Delivery is the confirmed hand-over of the returned item.
type Delivery struct {
	SignedBy    string    `json:"signed_by"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// Dispute is a customer's written appeal at release. OriginalResolution keeps the
// decision appealed against even after an overturn replaced it.
type Dispute struct {
	Reason             string    `json:"reason"`
	Reference          string    `json:"reference,omitempty"`
	OriginalResolution string    `json:"original_resolution"`
	OpenedAt           time.Time `json:"opened_at"`
	Outcome            string    `json:"outcome,omitempty"` // empty while open
	Decision           string    `json:"decision,omitempty"`
	RefundCancelled    Money     `json:"refund_cancelled,omitzero"`
	ResolvedAt         time.Time `json:"resolved_at,omitzero"`
}

// Note is free text on a claim. Only customer notes may reach the status page.
type Note struct {
	Text       string    `json:"text"`
	Visibility string    `json:"visibility"`
	AddedAt    time.Time `json:"added_at"`
}

// Resolution is how the claim was settled.
type Resolution struct {
	Kind       string    `json:"kind"`
	ResolvedAt time.Time `json:"resolved_at"`
	// ReportConfirmedAt is when the customer confirmed the service report (servicereport.go).
	ReportConfirmedAt time.Time `json:"report_confirmed_at,omitzero"`
}

// Hold is why a claim is suspended and the status it resumes in.
type Hold struct {
	ReasonCode     string    `json:"reason_code"`
	Reason         string    `json:"reason,omitempty"`
	PreviousStatus Status    `json:"previous_status"`
	Since          time.Time `json:"since"`
}

// Closure is why and when a claim was closed.
type Closure struct {
	ReasonCode string    `json:"reason_code"`
	Reason     string    `json:"reason,omitempty"`
	ClosedAt   time.Time `json:"closed_at"`
}

// Fold replays events from the beginning: the claim as of the last of them. Folding a prefix
// of a history gives the claim as it was at that moment.
func Fold(events []Event) State {
	var s State
	for _, e := range events {
		s = Evolve(s, e)
	}
	return s
}

// Evolve applies one event to a state. It is total (any event on any state, unknown events
// only count towards Version) and free of side effects: s is never modified in place. Every
// changed sub-record is copied and lists are appended to copies, so a state kept by a caller
// (an auditor's "as it was" view) stays as it was.
func Evolve(s State, e Event) State {
	s.Version++
	if t, ok := e.(timed); ok {
		s.UpdatedAt = t.occurredAt()
	}
	switch e := e.(type) {
	case ClaimRegistered:
		s.ID, s.Number, s.Status = e.ClaimID, e.Number, StatusRegistered
		s.Customer, s.Product, s.PurchaseDate = e.Customer, e.Product, e.PurchaseDate
		s.ProofOfPurchase, s.Price, s.Defect, s.Channel = e.ProofOfPurchase, e.Price, e.Defect, e.Channel
		s.RegisteredAt, s.ReportedAt = e.At, e.ReportedAt
		s.PaidTotal = Money{Currency: e.Price.Currency}
		s.Coverages, s.PriorRepairs, s.Eligibility = e.Coverages, e.PriorRepairs, e.Eligibility
		s.RepairsOnRecord = e.RepairsOnRecord
		s.CustomerID, s.Organisation = e.CustomerID, e.Organisation
	case ClaimRedirectedToServiceCenter:
		s.Status = StatusRedirected
		s.ServiceCenter = &ServiceCenterReferral{ServiceCenter: e.ServiceCenter, Notes: e.Notes, RedirectedAt: e.At}
	case ServiceCenterActRecorded:
		s.Status = StatusRegistered
		var r ServiceCenterReferral
		if s.ServiceCenter != nil {
			r = *s.ServiceCenter
		}
		r.Act = &ServiceCenterAct{Kind: e.Kind, Reference: e.Reference, IssuedOn: e.IssuedOn, Notes: e.Notes, RecordedAt: e.At}
		s.ServiceCenter = &r
	case ClaimAuthorized:
		s.Status = StatusAuthorized
		s.Authorization = &Authorization{
			ServiceCenter:      e.ServiceCenter,
			DocumentsRequested: e.DocumentsRequested,
			Notes:              e.Notes,
			AuthorizedAt:       e.At,
			PaidRepair:         e.PaidRepair,
			DocumentsFirst:     e.DocumentsFirst,
		}
		s.Coverages = append(slices.Clip(s.Coverages), e.Coverages...)
		s.PriorRepairs = append(slices.Clip(s.PriorRepairs), e.PriorRepairs...)
		if e.Eligibility != nil {
			s.Eligibility = e.Eligibility
		}
		if e.ProofOfPurchase != nil {
			s.ProofOfPurchase = e.ProofOfPurchase
		}
	case ClaimRejected:
		s.Status = StatusRejected
		s.Rejection = &Rejection{ReasonCode: e.ReasonCode, Reason: e.Reason, RejectedAt: e.At}
	case DocumentsReceived:
		var a Authorization
		if s.Authorization != nil {
			a = *s.Authorization
		}
		for _, d := range e.Documents {
			if !slices.Contains(a.DocumentsReceived, d) {
				a.DocumentsReceived = append(slices.Clip(a.DocumentsReceived), d)
			}
		}
		s.Authorization = &a
	case CustomerShipmentRecorded:
		s.Status = StatusInTransit
		s.CustomerShipment = &Shipment{Carrier: e.Carrier, TrackingNumber: e.TrackingNumber, ShippedAt: e.At}
	case ClaimReceived:
		s.Status = StatusReceived
		s.Intake = &Intake{
			Condition:     e.Condition,
			Accessories:   e.Accessories,
			SealsIntact:   e.SealsIntact,
			Photos:        e.Photos,
			ServiceCenter: e.ServiceCenter,
			ReceivedBy:    e.ReceivedBy,
			ReceivedAt:    e.At,
		}
	case ClaimDiagnosed:
		s.Status = s.afterDiagnosis(e)
		s.Diagnosis = &Diagnosis{Outcome: e.Outcome, VoidReasonCode: e.VoidReasonCode, Findings: e.Findings, ConfirmsEstimate: e.ConfirmsEstimate, DiagnosedAt: e.At}
	case EstimateIssued:
		s.Status = StatusEstimateIssued
		s.Estimate = &Estimate{
			DamageLevel: e.DamageLevel,
			Parts:       e.Parts,
			Labour:      e.Labour,
			Shipping:    e.Shipping,
			Total:       e.Total,
			Description: e.Description,
			IssuedAt:    e.At,
		}
	case EstimateAccepted:
		s.Status = StatusEstimateAccepted
		est := s.estimate()
		est.Decision, est.DecidedAt, est.AcceptanceReference = EstimateDecisionAccepted, e.At, e.Reference
		s.Estimate = est
		if s.PaidTotal.Amount >= est.Total.Amount {
			s.Status = StatusPaid // covered by payments on an earlier estimate
		}
	case EstimateDeclined:
		est := s.estimate()
		est.Decision, est.DecidedAt, est.DeclineReason = EstimateDecisionDeclined, e.At, e.Reason
		s.Estimate = est
		s = s.declined(e)
	case PaymentRecorded:
		s.Payments = append(slices.Clip(s.Payments), Payment{Amount: e.Amount, Reference: e.Reference, Method: e.Method, For: e.For, PaidAt: e.At, Provider: e.Provider, ProviderPaymentID: e.ProviderPaymentID})
		if e.For == PaymentForPriceDifference {
			s = s.evolveDifferencePayment(e.Amount.Amount)
			break
		}
		s.PaidTotal = Money{Amount: s.PaidTotal.Amount + e.Amount.Amount, Currency: e.Amount.Currency}
		if s.Status == StatusEstimateAccepted && s.Estimate != nil && s.PaidTotal.Amount >= s.Estimate.Total.Amount {
			s.Status = StatusPaid
		}
	case RepairStarted:
		s.Status = StatusInRepair
		s.Repair = &Repair{Where: e.Where, Technician: e.Technician, Notes: e.Notes, StartedAt: e.At}
	case RepairCompleted:
		var r Repair
		if s.Repair != nil {
			r = *s.Repair
		}
		r.WorkDone, r.Parts, r.CompletedAt = e.WorkDone, e.Parts, e.At
		s.Repair = &r
		s = s.resolve(ResolutionRepaired, e.At)
	case ItemReplaced:
		s = s.replaced(e)
	case RefundApproved:
		r := s.refund(e.Amount.Currency)
		r.Approved.Amount += e.Amount.Amount
		r.Reason, r.Reference, r.ApprovedAt = e.Reason, e.Reference, e.At
		s.Refund = r
		s = s.resolve(ResolutionRefunded, e.At)
	case RefundPaid:
		r := s.refund(e.Amount.Currency)
		r.Paid.Amount += e.Amount.Amount
		r.Payments = append(slices.Clip(r.Payments), RefundPayment{Amount: e.Amount, Reference: e.Reference, PaidAt: e.At})
		s.Refund = r
	case CreditNoteIssued:
		s.CreditNotes = append(slices.Clip(s.CreditNotes), CreditNote{Number: e.Number, Amount: e.Amount, Reason: e.Reason, IssuedAt: e.At})
		s = s.resolve(ResolutionCredited, e.At)
	case ClaimReturnedUnrepaired:
		s = s.resolve(e.Resolution, e.At)
	case ReturnShipped:
		s.Status = StatusReturnShipped
		s.ReturnShipment = &Shipment{Carrier: e.Carrier, TrackingNumber: e.TrackingNumber, ShippedAt: e.At}
	case DeliveryConfirmed:
		s.Status = StatusDelivered
		s.Delivery = &Delivery{SignedBy: e.SignedBy, DeliveredAt: e.At}
	case DisputeOpened:
		s.Status = StatusDisputed
		s.Disputes = append(slices.Clip(s.Disputes), Dispute{
			Reason:             e.Reason,
			Reference:          e.Reference,
			OriginalResolution: e.OriginalResolution,
			OpenedAt:           e.At,
		})
	case DisputeResolved:
		s = s.resolveDispute(e)
	case NoteAdded:
		s.Notes = append(slices.Clip(s.Notes), Note{Text: e.Text, Visibility: e.Visibility, AddedAt: e.At})
	case ClaimPutOnHold:
		s.Hold = &Hold{ReasonCode: e.ReasonCode, Reason: e.Reason, PreviousStatus: e.PreviousStatus, Since: e.At}
		s.Status = StatusOnHold
	case ClaimReleasedFromHold:
		if s.Hold != nil {
			s.Status = s.Hold.PreviousStatus
		}
		s.Hold = nil
	case ClaimWithdrawn:
		s.Status, s.Withdrawn = StatusClosed, true
		s.Closure = &Closure{ReasonCode: ReasonWithdrawn, Reason: e.Reason, ClosedAt: e.At}
	case ClaimClosed:
		s.Status = StatusClosed
		s.Closure = &Closure{ReasonCode: e.ReasonCode, Reason: e.Reason, ClosedAt: e.At}
	case SLABreached:
		s.SLABreaches = append(slices.Clip(s.SLABreaches), SLABreach{Clock: e.Clock, DueAt: e.DueAt, Overrun: e.Overrun, RecordedAt: e.At})
	case RepairEscalated:
		s.Escalation = &Escalation{DueAt: e.DueAt, Overrun: e.Overrun, Required: e.Required, EscalatedAt: e.At}
	case PersonalDataErased:
		s = s.erasePersonal()
	case ClaimResolvedRemotely:
		s = s.evolveRemote(e)
	case ClaimAssigned:
		s.Assignee = e.Assignee
	case ServiceReportConfirmed:
		s = s.confirmReport(e)
	case FileAttached:
		s = s.evolveFile(e)
	case SupplierRecoveryClaimed, SupplierRecoveryReceived, RefundApprovalReversed, RefundPaymentReversed, PaymentReversed, CreditNoteCancelled:
		s = s.evolveFinance(e)
	}
	return s
}

// resolve moves the claim to resolved with the given resolution.
func (s State) resolve(kind string, at time.Time) State {
	s.Status = StatusResolved
	s.Resolution = &Resolution{Kind: kind, ResolvedAt: at}
	return s
}

// resolveDispute closes the latest open dispute. Overturned: back to diagnosed for a new
// decision; the dispute keeps the original resolution, the unpaid refund is cancelled.
func (s State) resolveDispute(e DisputeResolved) State {
	disputes := slices.Clone(s.Disputes)
	if n := len(disputes); n > 0 {
		d := &disputes[n-1]
		d.Outcome, d.Decision, d.RefundCancelled, d.ResolvedAt = e.Outcome, e.Decision, e.RefundCancelled, e.At
	}
	s.Disputes = disputes
	if e.Outcome != DisputeOverturned {
		s.Status = StatusResolved
		return s
	}
	if s.resolvedRemotely() && s.RemoteResolution != nil {
		// Fixed without the goods, and it did not hold: back to where the goods may come in.
		s.Status, s.Resolution = s.RemoteResolution.PreviousStatus, nil
		return s
	}
	s.Status, s.Resolution = StatusDiagnosed, nil
	if !e.RefundCancelled.IsZero() && s.Refund != nil {
		r := *s.Refund
		r.Approved.Amount -= e.RefundCancelled.Amount
		s.Refund = &r
	}
	return s
}

// estimate returns a copy of the estimate to modify (a new one if, in an imported history,
// there was none).
func (s State) estimate() *Estimate {
	var e Estimate
	if s.Estimate != nil {
		e = *s.Estimate
	}
	return &e
}

// refund returns a copy of the refund record to modify, or a new one in the given currency.
func (s State) refund(currency string) *Refund {
	if s.Refund == nil {
		return &Refund{Approved: Money{Currency: currency}, Paid: Money{Currency: currency}}
	}
	r := *s.Refund
	return &r
}
