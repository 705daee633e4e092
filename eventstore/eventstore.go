// Package eventstore defines the event store the ledger writes to and reads
// from, with the semantics of KurrentDB: streams of immutable events, appends
// guarded by an expected revision, idempotent appends by event ID, reads of a
// stream and of the global $all log, and catch-up subscriptions to $all.
//
// The package knows bytes and streams, not claims. Every implementation
// (the embedded store, the KurrentDB store) must pass the contract suite in
// eventstore/eventstoretest.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Errors shared by every implementation, matched with errors.Is.
var (
	// ErrWrongExpectedRevision means the stream was not at the revision the
	// append expected; nothing was written. A *WrongExpectedRevisionError
	// carrying the details matches it.
	ErrWrongExpectedRevision = errors.New("eventstore: wrong expected revision")
	// ErrStreamNotFound means the stream has no events.
	ErrStreamNotFound = errors.New("eventstore: stream not found")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("eventstore: closed")
	// ErrUnavailable means the store cannot serve the request now (a failed
	// disk write, a lost connection); the request may be retried later.
	ErrUnavailable = errors.New("eventstore: unavailable")
	// ErrInvalidAppend means the append itself is malformed (no events, an
	// empty type, a nil event ID, an empty stream name, an oversize event).
	ErrInvalidAppend = errors.New("eventstore: invalid append")
)

// WrongExpectedRevisionError gives the details of a failed expectation.
type WrongExpectedRevisionError struct {
	Stream   string
	Expected ExpectedRevision
	// Actual is the stream's current revision; meaningless when ActualExists is false.
	Actual       uint64
	ActualExists bool
}

func (e *WrongExpectedRevisionError) Error() string {
	actual := "no stream"
	if e.ActualExists {
		actual = fmt.Sprintf("revision %d", e.Actual)
	}
	return fmt.Sprintf("eventstore: stream %q: expected %s, found %s", e.Stream, e.Expected, actual)
}

// Is makes errors.Is(err, ErrWrongExpectedRevision) true.
func (e *WrongExpectedRevisionError) Is(target error) bool { return target == ErrWrongExpectedRevision }

// expectation is the kind of an ExpectedRevision.
type expectation uint8

const (
	expectAny expectation = iota
	expectNoStream
	expectStreamExists
	expectExact
)

// ExpectedRevision is the condition an append places on the stream's
// current revision. The zero value is Any.
type ExpectedRevision struct {
	kind     expectation
	revision uint64
}

var (
	// Any appends whatever the stream's state.
	Any = ExpectedRevision{kind: expectAny}
	// NoStream appends only if the stream has no events.
	NoStream = ExpectedRevision{kind: expectNoStream}
	// StreamExists appends only if the stream has at least one event.
	StreamExists = ExpectedRevision{kind: expectStreamExists}
)

// Exact appends only if the stream's last event has this revision
// (revisions start at 0).
func Exact(revision uint64) ExpectedRevision {
	return ExpectedRevision{kind: expectExact, revision: revision}
}

// Revision returns the exact revision expected and whether the expectation
// is Exact.
func (e ExpectedRevision) Revision() (uint64, bool) {
	return e.revision, e.kind == expectExact
}

// IsAny, IsNoStream and IsStreamExists tell the kind of a non-exact expectation.
func (e ExpectedRevision) IsAny() bool { return e.kind == expectAny }

// IsNoStream reports whether the append requires the stream not to exist.
func (e ExpectedRevision) IsNoStream() bool { return e.kind == expectNoStream }

// IsStreamExists reports whether the append requires the stream to exist.
func (e ExpectedRevision) IsStreamExists() bool { return e.kind == expectStreamExists }

// Check reports whether a stream in the given state satisfies e; exists is
// false for a stream with no events, current is its last revision otherwise.
func (e ExpectedRevision) Check(current uint64, exists bool) bool {
	switch e.kind {
	case expectNoStream:
		return !exists
	case expectStreamExists:
		return exists
	case expectExact:
		return exists && current == e.revision
	default:
		return true
	}
}

func (e ExpectedRevision) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectStreamExists:
		return "stream exists"
	case expectExact:
		return fmt.Sprintf("revision %d", e.revision)
	default:
		return "any"
	}
}

// Position is a place in the global $all log. The embedded store uses one
// sequence number for both fields; KurrentDB has distinct commit and prepare
// positions. Positions order events totally: compare with Compare.
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Start is the position before the first event of $all.
var Start = Position{}

// Compare returns -1, 0 or +1 as p is before, at or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Commit < q.Commit:
		return -1
	case p.Commit > q.Commit:
		return 1
	case p.Prepare < q.Prepare:
		return -1
	case p.Prepare > q.Prepare:
		return 1
	}
	return 0
}

// String is the one text form of a position the service writes: "42" when
// commit and prepare are equal (always, in the embedded store), "42/40" when
// they differ (KurrentDB). ParsePosition reads it back.
func (p Position) String() string {
	if p.Commit == p.Prepare {
		return strconv.FormatUint(p.Commit, 10)
	}
	return strconv.FormatUint(p.Commit, 10) + "/" + strconv.FormatUint(p.Prepare, 10)
}

// ErrBadPosition means a text is not a position.
var ErrBadPosition = errors.New("eventstore: malformed position")

// ParsePosition reads every form a position has been written in: "42"
// (commit and prepare equal), "42/40" (commit and prepare), and "42/42",
// the form of the audit's documents (signed checkpoints, exports). Spaces
// around it are ignored. Anything else is refused with ErrBadPosition.
func ParsePosition(s string) (Position, error) {
	commit, prepare, two := strings.Cut(strings.TrimSpace(s), "/")
	c, err := strconv.ParseUint(commit, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("%w %q: want a number (\"42\") or <commit>/<prepare> (\"42/40\")", ErrBadPosition, s)
	}
	if !two {
		return Position{Commit: c, Prepare: c}, nil
	}
	p, err := strconv.ParseUint(prepare, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("%w %q: want a number (\"42\") or <commit>/<prepare> (\"42/40\")", ErrBadPosition, s)
	}
	return Position{Commit: c, Prepare: p}, nil
}

// EventData is an event to append.
type EventData struct {
	// ID identifies the event; appending an event whose ID the stream already
	// holds at that place is a no-op that succeeds (idempotent retry).
	ID       uuid.UUID
	Type     string
	Data     []byte // JSON
	Metadata []byte // JSON
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID       uuid.UUID
	Stream   string
	Type     string
	Revision uint64
	// Position is the event's place in $all. ReadStream may leave it zero:
	// KurrentDB does not send it on stream reads. ReadAll, SubscribeAll and
	// AppendResult always give it.
	Position Position
	Data     []byte
	Metadata []byte
	// Created is when the store recorded the event (store clock, UTC).
	Created time.Time
}

// AppendResult tells where the last appended event landed.
type AppendResult struct {
	// NextExpectedRevision is the revision of the stream's last event after
	// the append: pass Exact(NextExpectedRevision) to append after it.
	NextExpectedRevision uint64
	// Position is the $all position of the last appended event.
	Position Position
	// Duplicate is set when the events already stood in the stream at the
	// expected place and nothing was written (the original append's result
	// is given). Only a DuplicateReporter sets it; other stores answer a
	// repeated append exactly like the first.
	Duplicate bool
}

// DuplicateReporter is implemented by a store whose AppendResult.Duplicate
// can be relied on: when it is false, the append wrote its events. The
// embedded store is one; KurrentDB's answer to a repeated append does not
// say, so its backend is not.
type DuplicateReporter interface {
	ReportsDuplicates()
}

// Direction of a stream read.
type Direction uint8

const (
	// Forwards reads from the given revision towards the end.
	Forwards Direction = iota
	// Backwards reads from the given revision towards the start.
	Backwards
)

// End, given as the start revision of a backwards read, starts at the
// stream's last event.
const End = ^uint64(0)

// Filter selects events of $all. An empty filter selects every event that is
// not a system event (streams and types starting with '$' are never
// delivered). StreamPrefixes and TypePrefixes are alternatives within each
// list; an event must match both lists where both are given.
type Filter struct {
	StreamPrefixes []string
	TypePrefixes   []string
}

// Selects reports whether the filter selects an event of the stream and
// type: no system stream or type, and a match in each list of prefixes that
// is given. Stores that filter in memory use it; the embedded store's
// queries say the same in SQL.
func (f Filter) Selects(stream, typ string) bool {
	if strings.HasPrefix(stream, "$") || strings.HasPrefix(typ, "$") {
		return false
	}
	return matchesAny(stream, f.StreamPrefixes) && matchesAny(typ, f.TypePrefixes)
}

func matchesAny(s string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Subscription delivers events of $all, in order, after a position.
type Subscription interface {
	// Events delivers the events; it is closed when the subscription ends
	// (Close called, context cancelled, store closed or a fatal error).
	Events() <-chan RecordedEvent
	// Err tells why the subscription ended; nil after Close or a cancelled context.
	Err() error
	// Close ends the subscription and waits for its goroutines.
	Close() error
}

// Store is an event store.
type Store interface {
	// Append writes events to the end of a stream, atomically, if the stream
	// meets the expectation; it returns only after the events are durable.
	// Appending events that already stand in the stream at the expected place
	// (same IDs, same order) writes nothing and returns the original result.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)
	// ReadStream reads up to max events of a stream (max <= 0: all) starting
	// at revision from, in the given direction. A stream with no events gives
	// ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, direction Direction, from uint64, max int) ([]RecordedEvent, error)
	// ReadAll reads up to max events (max <= 0: a store-chosen page) of $all
	// strictly after position after, forwards, selected by filter. It
	// returns fewer than max only when it reached the end of $all.
	ReadAll(ctx context.Context, after Position, max int, filter Filter) ([]RecordedEvent, error)
	// SubscribeAll delivers every event of $all strictly after position after
	// selected by filter: first those already stored, then new ones as they
	// are appended, without gaps or duplicates.
	SubscribeAll(ctx context.Context, after Position, filter Filter) (Subscription, error)
	// Close releases the store; pending appends either complete or fail.
	Close() error
}
