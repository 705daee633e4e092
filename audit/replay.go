package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Errors of point-in-time replay, matched with errors.Is.
var (
	// ErrNotYetRegistered means the claim did not exist at the instant asked for.
	ErrNotYetRegistered = errors.New("audit: the claim was not registered yet at that time")
	// ErrNoSuchVersion means the claim never reached the version asked for.
	ErrNoSuchVersion = errors.New("audit: the claim has no such version")
)

// decodeMeta reads an event's metadata as the ledger wrote it; an event
// written without a decision time counts as decided when it was recorded.
func decodeMeta(rec *eventstore.RecordedEvent) (eventlog.Metadata, error) {
	m, err := eventlog.DecodeMetadata(rec.Metadata)
	if err != nil {
		return m, fmt.Errorf("audit: %s revision %d: %w", rec.Stream, rec.Revision, err)
	}
	if m.OccurredAt.IsZero() {
		m.OccurredAt = rec.Created
	}
	return m, nil
}

// Snapshot is a claim as it stood at a point of its history.
type Snapshot struct {
	State domain.State
	// Event is the last event folded: its revision, position and time.
	Revision   uint64
	Position   eventstore.Position
	EventID    uuid.UUID
	OccurredAt time.Time
}

// StateAtVersion folds the first version events of a claim's stream
// (version = the number of events folded, as domain.State.Version counts).
// It reads nothing but the events given: no read model is involved.
func StateAtVersion(records []eventstore.RecordedEvent, version int64) (Snapshot, error) {
	if version < 1 || version > int64(len(records)) {
		return Snapshot{}, fmt.Errorf("%w: version %d (the claim has %d events)", ErrNoSuchVersion, version, len(records))
	}
	return fold(records[:version])
}

// StateAsOf folds a claim's events up to and including the last one that
// had happened at asOf, by the decision time recorded in each event's
// metadata. The stream is read as a prefix: folding stops at the first
// event after asOf, so the result is always a state the claim really had.
func StateAsOf(records []eventstore.RecordedEvent, asOf time.Time) (Snapshot, error) {
	n := 0
	for i := range records {
		m, err := decodeMeta(&records[i])
		if err != nil {
			return Snapshot{}, err
		}
		if m.OccurredAt.After(asOf) {
			break
		}
		n++
	}
	if n == 0 {
		return Snapshot{}, fmt.Errorf("%w: %s", ErrNotYetRegistered, asOf.UTC().Format(time.RFC3339Nano))
	}
	return fold(records[:n])
}

func fold(records []eventstore.RecordedEvent) (Snapshot, error) {
	var s domain.State
	for i := range records {
		e, err := domain.DecodeEvent(records[i].Type, records[i].Data)
		if err != nil {
			return Snapshot{}, fmt.Errorf("audit: %s revision %d: %w", records[i].Stream, records[i].Revision, err)
		}
		s = domain.Evolve(s, e)
	}
	last := &records[len(records)-1]
	m, err := decodeMeta(last)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{State: s, Revision: last.Revision, Position: last.Position, EventID: last.ID, OccurredAt: m.OccurredAt}, nil
}

// HistoryEntry is one event of a claim's history as an auditor reads it:
// who did what, when and why, and what it changed.
type HistoryEntry struct {
	Revision   uint64              `json:"revision"`
	Position   eventstore.Position `json:"-"`
	EventID    uuid.UUID           `json:"event_id"`
	Type       string              `json:"type"`
	Action     string              `json:"action"`
	Summary    string              `json:"summary"`
	Reason     string              `json:"reason,omitempty"`
	Actor      string              `json:"actor"`
	Role       string              `json:"role"`
	OccurredAt time.Time           `json:"occurred_at"`
	RecordedAt time.Time           `json:"recorded_at"`
	// StatusBefore and StatusAfter show what the event changed.
	StatusBefore  domain.Status   `json:"status_before,omitempty"`
	StatusAfter   domain.Status   `json:"status_after"`
	Version       int64           `json:"version"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	PolicyVersion string          `json:"policy_version,omitempty"`
	Data          json.RawMessage `json:"data"`
	ContentHash   string          `json:"content_hash,omitempty"`
	PrevHash      string          `json:"prev_hash,omitempty"`
}

// History turns a claim's events into readable entries, folding as it goes
// to show each event's effect on the status.
func History(records []eventstore.RecordedEvent) ([]HistoryEntry, error) {
	out := make([]HistoryEntry, len(records))
	var s domain.State
	for i := range records {
		rec := &records[i]
		e, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			return nil, fmt.Errorf("audit: %s revision %d: %w", rec.Stream, rec.Revision, err)
		}
		m, err := decodeMeta(rec)
		if err != nil {
			return nil, err
		}
		before := s.Status
		s = domain.Evolve(s, e)
		summary, reason := Describe(e)
		action := m.Action
		if action == "" {
			action = ActionOf(rec.Type)
		}
		out[i] = HistoryEntry{
			Revision: rec.Revision, Position: rec.Position, EventID: rec.ID, Type: rec.Type, Action: action,
			Summary: summary, Reason: reason, Actor: m.Actor, Role: m.Role, OccurredAt: m.OccurredAt,
			RecordedAt: rec.Created, StatusBefore: before, StatusAfter: s.Status, Version: s.Version,
			CorrelationID: m.CorrelationID, PolicyVersion: m.PolicyVersion, Data: json.RawMessage(rec.Data),
			ContentHash: m.ContentHash, PrevHash: m.PrevHash,
		}
	}
	return out, nil
}

// ActionOf names what an event records when its metadata does not say
// which command produced it: the event type without its prefix and
// version ("claim.authorized.v1" -> "authorized").
func ActionOf(eventType string) string {
	name := strings.TrimPrefix(eventType, "claim.")
	if i := strings.LastIndex(name, ".v"); i > 0 {
		name = name[:i]
	}
	return name
}

// Describe says in one sentence what an event records, and why when the
// event gives a reason. Event types it does not know get a generic
// sentence, so that a new event never makes a history unreadable.
func Describe(e domain.Event) (summary, reason string) {
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, ": ")
	}
	switch e := e.(type) {
	case domain.ClaimRegistered:
		return fmt.Sprintf("Claim %s registered for %s (%s, serial %s): %s", e.Number, e.Customer.Name, e.Product.Category, e.Product.Serial, e.Defect), ""
	case domain.ClaimRedirectedToServiceCenter:
		return "Redirected to the manufacturer's service center " + e.ServiceCenter.Name, e.Notes
	case domain.ServiceCenterActRecorded:
		return fmt.Sprintf("Service center's %s recorded (%s)", strings.ReplaceAll(e.Kind, "_", " "), e.Reference), e.Notes
	case domain.ClaimAuthorized:
		return "Authorized; ship to " + e.ServiceCenter.Name, e.Notes
	case domain.ClaimRejected:
		return "Rejected", join(e.ReasonCode, e.Reason)
	case domain.DocumentsReceived:
		return "Documents received: " + strings.Join(e.Documents, ", "), ""
	case domain.CustomerShipmentRecorded:
		return fmt.Sprintf("Customer shipped the item with %s (%s)", e.Carrier, e.TrackingNumber), ""
	case domain.ClaimReceived:
		return fmt.Sprintf("Item received by %s; condition: %s; seals intact: %t", e.ReceivedBy, e.Condition, e.SealsIntact), ""
	case domain.ClaimDiagnosed:
		return "Diagnosed: " + strings.ReplaceAll(e.Outcome, "_", " "), join(e.VoidReasonCode, e.Findings)
	case domain.EstimateIssued:
		return fmt.Sprintf("Estimate issued: %s (damage level %d)", e.Total, e.DamageLevel), e.Description
	case domain.EstimateAccepted:
		return "Estimate accepted", e.Reference
	case domain.EstimateDeclined:
		return "Estimate declined", e.Reason
	case domain.PaymentRecorded:
		return fmt.Sprintf("Payment of %s received by %s (%s)", e.Amount, e.Method, e.Reference), ""
	case domain.RepairStarted:
		return "Repair started (" + e.Where + ")", e.Notes
	case domain.RepairCompleted:
		return "Repaired: " + e.WorkDone, ""
	case domain.ItemReplaced:
		return "Replaced by serial " + e.NewSerial, e.Notes
	case domain.RefundApproved:
		return fmt.Sprintf("Refund of %s approved", e.Amount), e.Reason
	case domain.RefundPaid:
		return fmt.Sprintf("Refund of %s paid (%s)", e.Amount, e.Reference), ""
	case domain.CreditNoteIssued:
		return fmt.Sprintf("Credit note %s of %s issued", e.Number, e.Amount), e.Reason
	case domain.ClaimReturnedUnrepaired:
		return "Returned unrepaired (" + strings.ReplaceAll(e.Resolution, "_", " ") + ")", e.Reason
	case domain.ReturnShipped:
		return fmt.Sprintf("Shipped back with %s (%s)", e.Carrier, e.TrackingNumber), ""
	case domain.DeliveryConfirmed:
		return "Delivered; signed by " + e.SignedBy, ""
	case domain.DisputeOpened:
		return "Appeal opened against " + strings.ReplaceAll(e.OriginalResolution, "_", " "), e.Reason
	case domain.DisputeResolved:
		return "Appeal " + e.Outcome, e.Decision
	case domain.NoteAdded:
		return fmt.Sprintf("Note (%s): %s", e.Visibility, e.Text), ""
	case domain.ClaimPutOnHold:
		return "Put on hold", join(e.ReasonCode, e.Reason)
	case domain.ClaimReleasedFromHold:
		return "Released from hold", e.Notes
	case domain.ClaimAssigned:
		if e.Assignee == "" {
			return "Unassigned from " + e.PreviousAssignee, e.Note
		}
		return "Assigned to " + e.Assignee, e.Note
	case domain.FileAttached:
		if e.Step != "" {
			return "File attached: " + e.Name + " (" + strings.ReplaceAll(e.Step, "_", " ") + ")", ""
		}
		return "File attached: " + e.Name, ""
	case domain.ClaimWithdrawn:
		return "Withdrawn by the customer", e.Reason
	case domain.ClaimClosed:
		return "Closed", join(e.ReasonCode, e.Reason)
	}
	return "Recorded " + strings.ReplaceAll(ActionOf(e.EventType()), "_", " "), ""
}
