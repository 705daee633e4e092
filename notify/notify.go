// Package notify is what the delivery engine (notify/outbox) and the
// channels (notify/email, notify/webhooks) agree on: a message, who composes
// messages from the ledger's events, and who sends them.
//
// Messages are a projection of the event stream. The outbox turns each
// event into messages through its Composers, in order, and queues them in
// the same transaction as its checkpoint; its senders then hand each queued
// message to the Sender of its channel. A message's id is derived from the
// event, the channel and the recipient, so the message queued again after a
// crash is the same message, and a receiver can drop a repeat.
package notify

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Channel is how a message travels.
type Channel string

// The channels.
const (
	// Email is an e-mail to a customer: Recipient is the address.
	Email Channel = "email"
	// SMS is a text message to a customer: Recipient is the phone number (E.164).
	SMS Channel = "sms"
	// Desk is an alert to the desk: Recipient is an e-mail address. Alerts
	// due to one recipient are sent together, as one e-mail (BatchSender).
	Desk Channel = "desk"
	// Webhook is an HTTP POST to a subscriber: Recipient is the subscription's id.
	Webhook Channel = "webhook"
)

// namespace is the UUID namespace of message ids.
var namespace = uuid.MustParse("7b0f3c8e-4f55-4d1e-9a57-8a3d1f6c2e10")

// MessageID is the id of the message a source (an event, a link, an alert)
// causes on a channel to a recipient: the same three give the same id.
func MessageID(source string, ch Channel, recipient string) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(source+"\x00"+string(ch)+"\x00"+recipient))
}

// Message is one message to deliver.
type Message struct {
	// ID is MessageID of the message's source, channel and recipient.
	ID        uuid.UUID
	Channel   Channel
	Recipient string
	// Kind says what the message is about, e.g. "claim.authorized",
	// "portal.link", "desk.sla_breached", or the event type of a webhook.
	Kind string
	// ClaimID is the claim the message is about (zero for none).
	ClaimID uuid.UUID
	// CustomerID is the claim's pseudonymous customer id: erasing the
	// customer removes the recipient and the content of their messages.
	CustomerID string
	// OrderKey groups messages delivered strictly in queue order: the next
	// one is handed over only once the previous one was sent or failed for
	// good. Empty: no order with any other message.
	OrderKey string
	// Essential messages are sent even to a customer who stopped the others
	// (Claim.Quiet): the claim's number and link, what to send where, an
	// estimate to accept, the item shipped back, the answer to an appeal.
	Essential bool
	// Position and EventTime are those of the event that caused the
	// message (zero for a message queued directly, such as a link).
	Position  eventstore.Position
	EventTime time.Time
	// Language is the BCP 47 tag the message is written in.
	Language string
	// Subject, Text and HTML are an e-mail's (Text alone for an SMS).
	Subject string
	Text    string
	HTML    string
	// Body is a webhook's JSON payload.
	Body []byte
}

// Claim is what the outbox knows of a claim when it composes a message:
// the claim's contact details after the event being composed.
type Claim struct {
	ID           uuid.UUID
	Number       string
	Status       domain.Status
	Organisation string
	Assignee     string
	CustomerID   string
	Name         string
	Email        string
	Phone        string
	// Language is the customer's language (the portal's links record it);
	// empty: the deployment's default.
	Language string
	// Quiet is set when the customer stopped non-essential messages.
	Quiet bool
	// Erased is set once the customer's personal data was erased: Name,
	// Email and Phone are then empty.
	Erased bool
}

// Event is a claim's event on its way to the composers.
type Event struct {
	Record eventstore.RecordedEvent
	Event  domain.Event
	Claim  Claim
}

// Composer turns an event into the messages it causes on its channel. It
// is called for every claim event in log order; it must be deterministic
// in the event and the claim (a composer called again for the same event
// after a crash must give the same messages), and must not block on I/O.
type Composer interface {
	Compose(ctx context.Context, e Event) ([]Message, error)
}

// Sender hands messages of one channel to the world (an SMTP server, an
// SMS provider, a webhook receiver). A nil error means it was accepted; an
// error wrapped with Permanent means retrying cannot help.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// BatchSender sends several messages to one recipient as one (the desk's
// digest of alerts). The outbox uses it, when a channel's Sender has it,
// for every message of that channel due to the same recipient at once.
type BatchSender interface {
	SendBatch(ctx context.Context, ms []Message) error
}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks an error retrying cannot help (an address refused, a
// receiver's 4xx answer other than 408 and 429).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// A customer's choice of messages is a stream of events in the event store,
// one per claim, so that every instance of the service knows it: the
// portal appends, the outbox follows. Its name is
// eventlog.NotifyPreferences.Stream(claim id).
const (
	// PreferencesSetType is the type of its events; the data is
	// Preferences as JSON.
	PreferencesSetType = "notify.preferences_set.v1"
)

// Preferences is what a customer chose for the messages of one claim.
type Preferences struct {
	// Quiet stops the messages that are not Essential.
	Quiet bool `json:"quiet"`
}
