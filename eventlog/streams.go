package eventlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Kind is a kind of stream named by a prefix and the id of what it records:
// Claims.Stream(id) is "claim-<id>". The constants are stored names.
type Kind string

// The kinds of stream the product writes, one per id.
const (
	// Claims: a claim's history ("claim-<claim id>"), written by the ledger.
	Claims Kind = "claim-"
	// PortalLinks: the customer portal's private links of a claim
	// ("portal-link-<claim id>").
	PortalLinks Kind = "portal-link-"
	// Documents: the papers issued for a claim ("documents-<claim id>").
	Documents Kind = "documents-"
	// NotifyPreferences: a customer's choices for a claim's messages
	// ("notify-preferences-<claim id>").
	NotifyPreferences Kind = "notify-preferences-"
	// WebhookSubscriptions: one webhook subscription
	// ("webhook-subscription-<subscription id>").
	WebhookSubscriptions Kind = "webhook-subscription-"
	// Accounts: one console account ("account-<account id>").
	Accounts Kind = "account-"
)

// Streams named otherwise.
const (
	// CheckpointStream holds the audit's signed checkpoints. It is left out
	// of the ledger-wide hash chain: a checkpoint signs the chain up to a
	// position, and its own event necessarily lands after that position.
	CheckpointStream = "audit-checkpoints"
	// ConsoleKeyStream holds the key that signs console sessions.
	ConsoleKeyStream = "console-keys"
	// NumberPrefix starts the streams of reserved claim numbers, one per
	// year ("rmanumbers-2026"); see NumberStream. It does not start with
	// Claims' prefix, so that claim filters skip them.
	NumberPrefix = "rmanumbers-"
	// DeliveryPrefix starts the streams in which the outbox's instances
	// claim and record a message's delivery, one per message and round
	// ("notify-delivery-<message id>", then "-<round>" for a replayed
	// message); see DeliveryStream.
	DeliveryPrefix = "notify-delivery-"
)

// ErrNotThisStream means a stream name is not of the kind asked about.
var ErrNotThisStream = errors.New("eventlog: not a stream of this kind")

// Prefix is the start of every stream name of the kind, for
// eventstore.Filter.StreamPrefixes.
func (k Kind) Prefix() string { return string(k) }

// Stream is the name of the stream of kind k about id.
func (k Kind) Stream(id uuid.UUID) string { return string(k) + id.String() }

// Holds reports whether stream is of kind k.
func (k Kind) Holds(stream string) bool { return strings.HasPrefix(stream, string(k)) }

// ID is the id a stream of kind k is about: the inverse of Stream. A name
// of another kind, or without a UUID after the prefix, is refused with
// ErrNotThisStream.
func (k Kind) ID(stream string) (uuid.UUID, error) {
	rest, ok := strings.CutPrefix(stream, string(k))
	if !ok {
		return uuid.Nil, fmt.Errorf("%w: %q does not start with %q", ErrNotThisStream, stream, string(k))
	}
	id, err := uuid.Parse(rest)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: %q: %q is not an id", ErrNotThisStream, stream, rest)
	}
	return id, nil
}

// NumberStream is the stream of the claim numbers reserved for a year.
func NumberStream(year int) string { return NumberPrefix + strconv.Itoa(year) }

// NumberYear is the year of a NumberStream: its inverse.
func NumberYear(stream string) (int, error) {
	rest, ok := strings.CutPrefix(stream, NumberPrefix)
	if !ok {
		return 0, fmt.Errorf("%w: %q does not start with %q", ErrNotThisStream, stream, NumberPrefix)
	}
	year, err := strconv.Atoi(rest)
	if err != nil || rest != strconv.Itoa(year) {
		return 0, fmt.Errorf("%w: %q: %q is not a year", ErrNotThisStream, stream, rest)
	}
	return year, nil
}

// DeliveryStream is the delivery stream of a message in a round: round 0
// (the first delivery) has no suffix, a replay's round n the suffix "-n".
func DeliveryStream(message uuid.UUID, round int) string {
	if round == 0 {
		return DeliveryPrefix + message.String()
	}
	return DeliveryPrefix + message.String() + "-" + strconv.Itoa(round)
}

// DeliveryOf is the message and round of a DeliveryStream: its inverse.
func DeliveryOf(stream string) (message uuid.UUID, round int, err error) {
	rest, ok := strings.CutPrefix(stream, DeliveryPrefix)
	if !ok {
		return uuid.Nil, 0, fmt.Errorf("%w: %q does not start with %q", ErrNotThisStream, stream, DeliveryPrefix)
	}
	bad := fmt.Errorf("%w: %q: want <message id> or <message id>-<round>", ErrNotThisStream, stream)
	const idLen = 36 // a UUID's canonical text
	if len(rest) < idLen {
		return uuid.Nil, 0, bad
	}
	if message, err = uuid.Parse(rest[:idLen]); err != nil {
		return uuid.Nil, 0, bad
	}
	if len(rest) == idLen {
		return message, 0, nil
	}
	suffix, ok := strings.CutPrefix(rest[idLen:], "-")
	if round, err = strconv.Atoi(suffix); !ok || err != nil || round < 1 || suffix != strconv.Itoa(round) {
		return uuid.Nil, 0, bad
	}
	return message, round, nil
}
