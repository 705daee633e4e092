package ledger

import (
	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventstore"
)

// The hash chain (see docs/audit.md): every event the ledger writes carries
// in its metadata its content hash and the content hash of its stream's
// previous event, so that altering, removing or reordering events breaks
// the chain. The ledger can seal at append time because it knows the
// stream before every append (read to fold and decide, or its cached copy,
// see cache.go) and appends with the exact expected revision: the previous
// event it links to is the one the new events will follow, or the append
// fails and is retried from a fresh read. The previous event's hash is recomputed from its content rather
// than copied from its metadata, so a tampered predecessor is not vouched
// for by its successor.

// seal chains events about to be appended to a claim's stream onto the
// history's last event (the genesis hash for a new claim).
func (h history) seal(stream string, events []eventstore.EventData) error {
	var prev *eventstore.RecordedEvent
	if n := len(h.records); n > 0 {
		prev = &h.records[n-1]
	}
	return audit.SealEvents(stream, prev, events)
}

// sealAfter chains events for a stream whose last event is last (nil when
// the stream is new): the claim-number reservations use it, so that every
// stream the ledger writes is chained alike.
func sealAfter(stream string, last []eventstore.RecordedEvent, events []eventstore.EventData) error {
	var prev *eventstore.RecordedEvent
	if len(last) > 0 {
		prev = &last[0]
	}
	return audit.SealEvents(stream, prev, events)
}

// Store is the event store the service writes to: what an audit verifies
// and replays.
func (s *Service) Store() eventstore.Store { return s.store }
