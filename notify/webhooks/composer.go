package webhooks

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify"
)

// Payload is the JSON body of a webhook, in the Standard Webhooks shape.
type Payload struct {
	// Type is the claim event's type without its version
	// ("claim.authorized"): receivers match on it across versions of an
	// event; Data.EventType keeps the stored, versioned name.
	Type string `json:"type"`
	// Timestamp is when the event happened (not when it was sent), so the
	// same event always gives the same body.
	Timestamp time.Time   `json:"timestamp"`
	Data      PayloadData `json:"data"`
}

// PayloadData describes the claim after the event, and the event.
type PayloadData struct {
	ClaimID      uuid.UUID     `json:"claim_id"`
	Number       string        `json:"number"`
	Status       domain.Status `json:"status"`
	Organisation string        `json:"organisation,omitempty"`
	EventID      uuid.UUID     `json:"event_id"`
	EventType    string        `json:"event_type"`
	// Position is the event's place in the ledger's log ("123", or
	// "commit/prepare"): the from of a replay.
	Position   string    `json:"position"`
	OccurredAt time.Time `json:"occurred_at"`
	// Event is the event's own fields, without personal data: no
	// customer's name, phone, e-mail, address or pseudonymous id, no name
	// signed at delivery, no uploaded file's name.
	Event map[string]any `json:"event"`
}

// personalFields are the JSON fields of events that hold personal data
// (privacy.SealEvent encrypts them) or the customer's pseudonymous id;
// they are left out of every payload, whatever the event type.
var personalFields = map[string][]string{
	(domain.ClaimRegistered{}).EventType():    {"customer", "customer_id"},
	(domain.DeliveryConfirmed{}).EventType():  {"signed_by"},
	(domain.FileAttached{}).EventType():       {"name"},
	(domain.PersonalDataErased{}).EventType(): {"customer_id"},
}

// Composer turns claim events into webhook messages: one per subscription
// that was enabled at the event's position, wants its type and may see
// its claim (a subscription bound to an organisation sees only that
// organisation's claims). Internal notes are never sent.
type Composer struct {
	registry *Registry
}

// NewComposer returns the Composer of the registry's subscriptions.
func NewComposer(r *Registry) *Composer { return &Composer{registry: r} }

// Compose implements notify.Composer. The subscriptions are taken as they
// stood at the event's position, so composing an event again gives the
// same messages. While Follow runs it answers from memory; otherwise it
// first reads the subscription events appended since its last read.
func (c *Composer) Compose(ctx context.Context, e notify.Event) ([]notify.Message, error) {
	if note, ok := e.Event.(domain.NoteAdded); ok && note.Visibility != domain.VisibilityCustomer ||
		domain.IsInternalNote(e.Record.Type, e.Record.Data) {
		return nil, nil
	}
	eventType := e.Event.EventType()
	subs, err := c.registry.at(ctx, e.Record.Position, eventType, e.Claim.Organisation)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	body, err := payload(e)
	if err != nil {
		return nil, err
	}
	occurred := cmp.Or(domain.OccurredAt(e.Event), e.Record.Created).UTC()
	out := make([]notify.Message, 0, len(subs))
	for _, id := range subs {
		recipient := id.String()
		out = append(out, notify.Message{
			ID:         notify.MessageID(e.Record.ID.String(), notify.Webhook, recipient),
			Channel:    notify.Webhook,
			Recipient:  recipient,
			Kind:       unversioned(eventType),
			ClaimID:    e.Claim.ID,
			CustomerID: e.Claim.CustomerID,
			OrderKey:   recipient + "/" + e.Claim.ID.String(),
			Position:   e.Record.Position,
			EventTime:  occurred,
			Body:       body,
		})
	}
	return out, nil
}

// payload is the body of every message an event causes.
func payload(e notify.Event) ([]byte, error) {
	raw, err := json.Marshal(e.Event)
	if err != nil {
		return nil, fmt.Errorf("webhooks: encode %s: %w", e.Event.EventType(), err)
	}
	fields := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers pass through exactly, not as float64
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("webhooks: encode %s: %w", e.Event.EventType(), err)
	}
	for _, f := range personalFields[e.Event.EventType()] {
		delete(fields, f)
	}
	occurred := cmp.Or(domain.OccurredAt(e.Event), e.Record.Created).UTC()
	p := Payload{
		Type: unversioned(e.Event.EventType()), Timestamp: occurred,
		Data: PayloadData{
			ClaimID: e.Claim.ID, Number: e.Claim.Number, Status: e.Claim.Status, Organisation: e.Claim.Organisation,
			EventID: e.Record.ID, EventType: e.Event.EventType(), Position: e.Record.Position.String(),
			OccurredAt: occurred, Event: fields,
		},
	}
	return json.Marshal(p) // map keys are sorted: the same event gives the same bytes
}

// at returns, sorted, the subscriptions that at the position were enabled,
// want the event type and may see a claim of the organisation.
func (r *Registry) at(ctx context.Context, pos eventstore.Position, eventType, organisation string) ([]uuid.UUID, error) {
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []uuid.UUID
	for id, s := range r.subs {
		if s.Organisation != "" && s.Organisation != organisation {
			continue
		}
		i, found := slices.BinarySearchFunc(s.history, pos, func(v version, p eventstore.Position) int { return v.from.Compare(p) })
		if found {
			i++ // a version from an event at pos itself cannot happen: pos is a claim event's
		}
		if i == 0 {
			continue // created after the event
		}
		v := s.history[i-1]
		if v.enabled && !v.deleted && wants(v.eventTypes, eventType) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}
