// Package eventstoretest is the contract every eventstore.Store passes.
//
// A backend's test calls Run with a function that opens a store. The tests
// assume a shared store whose $all holds events of other tests and other
// clients: each test writes only to streams under its own random prefix and
// reads $all through a filter on that prefix. Every test opens its own store
// (for a server backend: its own client) and runs in parallel with the others.
//
// SystemEventsExcluded and SubscribeFilter write to streams whose names start
// with '$' (to check that $all never delivers them): against KurrentDB the
// client needs a user allowed to, as on an insecure development server.
package eventstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

// OpenFunc returns a store and a function that closes it and opens a new
// store over the same data (a reopen). The suite closes the stores it is
// given when the test ends, so Close must tolerate being called again.
type OpenFunc func(t *testing.T) (store eventstore.Store, reopen func(t *testing.T) eventstore.Store)

// Run runs the contract suite against the stores open returns.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"AppendReadRoundTrip", testAppendReadRoundTrip},
		{"ExpectedRevision", testExpectedRevision},
		{"FailedMultiEventAppendWritesNothing", testFailedMultiEventAppendWritesNothing},
		{"IdempotentRetry", testIdempotentRetry},
		{"InvalidAppend", testInvalidAppend},
		{"ReadStream", testReadStream},
		{"ReadStreamNotFound", testReadStreamNotFound},
		{"ReadAllOrderAndPositions", testReadAllOrderAndPositions},
		{"ReadAllFilters", testReadAllFilters},
		{"ReadAllPaging", testReadAllPaging},
		{"SystemEventsExcluded", testSystemEventsExcluded},
		{"SubscribeCatchUpThenLive", testSubscribeCatchUpThenLive},
		{"SubscribeResumeFromMiddle", testSubscribeResumeFromMiddle},
		{"SubscribeFilter", testSubscribeFilter},
		{"SubscribeCloseAndCancel", testSubscribeCloseAndCancel},
		{"SubscribeDuringConcurrentAppends", testSubscribeDuringConcurrentAppends},
		{"ConcurrentExactOneStream", testConcurrentExactOneStream},
		{"ConcurrentNoStream", testConcurrentNoStream},
		{"ConcurrentOptimisticRetry", testConcurrentOptimisticRetry},
		{"ConcurrentAnyDistinctStreams", testConcurrentAnyDistinctStreams},
		{"ReopenKeepsAcknowledged", testReopenKeepsAcknowledged},
		{"ClosedStore", testClosedStore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, setup(t, open))
		})
	}
}

// timeout bounds each test, so a store that loses an event or a wake-up
// fails the test instead of hanging the run.
const timeout = 30 * time.Second

// env is one test's store and namespace.
type env struct {
	t      *testing.T
	ctx    context.Context
	store  eventstore.Store
	reopen func(*testing.T) eventstore.Store
	// prefix starts every stream this test writes; filtering $all on it
	// hides every other test's and client's events.
	prefix string
}

func setup(t *testing.T, open OpenFunc) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	store, reopen := open(t)
	e := &env{
		t:      t,
		ctx:    ctx,
		store:  store,
		reopen: reopen,
		prefix: "estest" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16] + "-",
	}
	t.Cleanup(func() { _ = e.store.Close() })
	return e
}

// stream names a stream of this test.
func (e *env) stream(name string) string { return e.prefix + name }

// filter selects this test's streams in $all.
func (e *env) filter() eventstore.Filter {
	return eventstore.Filter{StreamPrefixes: []string{e.prefix}}
}

// newEvent makes an event with a fresh ID and payloads that differ per event,
// so a mixed-up event cannot pass for the right one.
func newEvent(typ string) eventstore.EventData {
	id := uuid.New()
	return eventstore.EventData{
		ID:       id,
		Type:     typ,
		Data:     fmt.Appendf(nil, `{"id":%q,"note":"héllo"}`, id),
		Metadata: fmt.Appendf(nil, `{"correlation_id":%q,"actor":"tester"}`, uuid.New()),
	}
}

func newEvents(n int, typ string) []eventstore.EventData {
	evs := make([]eventstore.EventData, n)
	for i := range evs {
		evs[i] = newEvent(typ)
	}
	return evs
}

func (e *env) mustAppend(stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) eventstore.AppendResult {
	e.t.Helper()
	res, err := e.store.Append(e.ctx, stream, expected, events...)
	if err != nil {
		e.t.Fatalf("Append(%s, expected %s, %d events): %v", stream, expected, len(events), err)
	}
	return res
}

func (e *env) mustReadStream(stream string, dir eventstore.Direction, from uint64, max int) []eventstore.RecordedEvent {
	e.t.Helper()
	evs, err := e.store.ReadStream(e.ctx, stream, dir, from, max)
	if err != nil {
		e.t.Fatalf("ReadStream(%s, dir %d, from %d, max %d): %v", stream, dir, from, max, err)
	}
	return evs
}

// readAll reads every event after a position through the filter, in small
// pages so that paging is exercised too.
func (e *env) readAll(after eventstore.Position, filter eventstore.Filter) []eventstore.RecordedEvent {
	e.t.Helper()
	var all []eventstore.RecordedEvent
	for {
		page, err := e.store.ReadAll(e.ctx, after, 50, filter)
		if err != nil {
			e.t.Fatalf("ReadAll(after %s): %v", after, err)
		}
		if len(page) > 50 {
			e.t.Fatalf("ReadAll(max 50) returned %d events", len(page))
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Position
	}
}

// wantWrongExpected checks both ways of matching a failed expectation and
// the actual revision it reports.
func wantWrongExpected(t *testing.T, err error, actual uint64, exists bool) {
	t.Helper()
	if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("error = %v, want ErrWrongExpectedRevision", err)
	}
	var wer *eventstore.WrongExpectedRevisionError
	if !errors.As(err, &wer) {
		t.Fatalf("error %v is not a *WrongExpectedRevisionError", err)
	}
	if wer.ActualExists != exists || (exists && wer.Actual != actual) {
		t.Fatalf("WrongExpectedRevisionError actual = (%d, exists %v), want (%d, exists %v)",
			wer.Actual, wer.ActualExists, actual, exists)
	}
}

// wantIDs checks that events are exactly the wanted ones, in order.
func wantIDs(t *testing.T, got []eventstore.RecordedEvent, want []eventstore.EventData) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %v, want %d %v", len(got), recordedIDs(got), len(want), dataIDs(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("event %d: ID %s, want %s (got %v, want %v)", i, got[i].ID, want[i].ID, recordedIDs(got), dataIDs(want))
		}
	}
}

// wantRevisions checks stream events carry the given consecutive revisions.
func wantRevisions(t *testing.T, got []eventstore.RecordedEvent, first uint64, step int) {
	t.Helper()
	for i, ev := range got {
		want := uint64(int64(first) + int64(i*step))
		if ev.Revision != want {
			t.Fatalf("event %d: revision %d, want %d", i, ev.Revision, want)
		}
	}
}

// wantIncreasing checks $all order: strictly increasing positions.
func wantIncreasing(t *testing.T, evs []eventstore.RecordedEvent) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		if evs[i].Position.Compare(evs[i-1].Position) <= 0 {
			t.Fatalf("event %d at position %s does not follow event %d at %s", i, evs[i].Position, i-1, evs[i-1].Position)
		}
	}
}

// sameRecord compares every field of two recorded events; a zero position
// (a stream read on a backend that does not report positions) matches any.
func sameRecord(a, b eventstore.RecordedEvent) bool {
	return a.ID == b.ID && a.Stream == b.Stream && a.Type == b.Type && a.Revision == b.Revision &&
		(a.Position == b.Position || a.Position == eventstore.Start || b.Position == eventstore.Start) && bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Metadata, b.Metadata) &&
		a.Created.Equal(b.Created)
}

func recordedIDs(evs []eventstore.RecordedEvent) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID.String()[:8]
	}
	return ids
}

func dataIDs(evs []eventstore.EventData) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID.String()[:8]
	}
	return ids
}
