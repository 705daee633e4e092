package eventstoretest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

// deliveryTimeout bounds the wait for one expected event.
const deliveryTimeout = 10 * time.Second

func (e *env) subscribe(after eventstore.Position, filter eventstore.Filter) eventstore.Subscription {
	e.t.Helper()
	sub, err := e.store.SubscribeAll(e.ctx, after, filter)
	if err != nil {
		e.t.Fatalf("SubscribeAll(after %s): %v", after, err)
	}
	e.t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// receive takes n events from the subscription.
func receive(t *testing.T, sub eventstore.Subscription, n int) []eventstore.RecordedEvent {
	t.Helper()
	var got []eventstore.RecordedEvent
	deadline := time.After(deliveryTimeout)
	for len(got) < n {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(got), n, sub.Err())
			}
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("received %d of %d events within %s", len(got), n, deliveryTimeout)
		}
	}
	return got
}

// wantOnlyThen appends a sentinel event (of a type the subscription's filter
// selects) and checks it is the next event delivered: nothing (a duplicate,
// a stray event) slipped in before it. It returns the sentinel as recorded.
func (e *env) wantOnlyThen(sub eventstore.Subscription, stream string, expected eventstore.ExpectedRevision, typ string) eventstore.RecordedEvent {
	e.t.Helper()
	sentinel := newEvent(typ)
	e.mustAppend(stream, expected, sentinel)
	got := receive(e.t, sub, 1)
	wantIDs(e.t, got, []eventstore.EventData{sentinel})
	return got[0]
}

func testSubscribeCatchUpThenLive(t *testing.T, e *env) {
	s := e.stream("sub")
	stored := newEvents(3, "t.v1")
	e.mustAppend(s, eventstore.NoStream, stored...)

	sub := e.subscribe(eventstore.Start, e.filter())
	caught := receive(t, sub, 3)
	wantIDs(t, caught, stored)

	live := newEvents(2, "t.v1")
	res := e.mustAppend(s, eventstore.Exact(2), live[0])
	e.mustAppend(e.stream("sub-2"), eventstore.NoStream, live[1])
	got := receive(t, sub, 2)
	wantIDs(t, got, live)
	if got[0].Position != res.Position || got[0].Revision != 3 || got[0].Stream != s {
		t.Fatalf("live event: position %s revision %d stream %q; append said %s, 3, %q",
			got[0].Position, got[0].Revision, got[0].Stream, res.Position, s)
	}
	wantIncreasing(t, append(caught, got...))
	e.wantOnlyThen(sub, s, eventstore.Exact(3), "sentinel.v1")
}

func testSubscribeResumeFromMiddle(t *testing.T, e *env) {
	var (
		want      []eventstore.EventData
		positions []eventstore.Position
	)
	for i := range 6 {
		ev := newEvent("t.v1")
		res := e.mustAppend(e.stream(fmt.Sprintf("resume-%d", i%2)), eventstore.Any, ev)
		want = append(want, ev)
		positions = append(positions, res.Position)
	}
	// A consumer that checkpointed the third event resumes after it.
	sub := e.subscribe(positions[2], e.filter())
	got := receive(t, sub, 3)
	wantIDs(t, got, want[3:])
	last := e.wantOnlyThen(sub, e.stream("resume-0"), eventstore.Any, "sentinel.v1")

	// From the last position: nothing old, only what comes next.
	tail := e.subscribe(last.Position, e.filter())
	e.wantOnlyThen(tail, e.stream("resume-1"), eventstore.Any, "sentinel.v1")
}

func testSubscribeFilter(t *testing.T, e *env) {
	marker := e.mustAppend(e.stream("marker"), eventstore.NoStream, newEvent("marker.v1"))
	sub := e.subscribe(marker.Position, eventstore.Filter{
		StreamPrefixes: []string{e.stream("claim-"), "$" + e.prefix},
		TypePrefixes:   []string{"claim.", "$"},
	})
	c1, c2 := newEvent("claim.opened.v1"), newEvent("claim.closed.v1")
	e.mustAppend(e.stream("claim-1"), eventstore.NoStream, c1, newEvent("note.added.v1"), newEvent("$claim.internal"))
	e.mustAppend(e.stream("other-1"), eventstore.NoStream, newEvent("claim.opened.v1"))
	e.mustAppend("$"+e.stream("claim-1"), eventstore.NoStream, newEvent("claim.opened.v1"))
	e.mustAppend(e.stream("claim-1"), eventstore.Exact(2), c2)
	wantIDs(t, receive(t, sub, 2), []eventstore.EventData{c1, c2})
	e.wantOnlyThen(sub, e.stream("claim-1"), eventstore.Exact(3), "claim.sentinel.v1")
}

func testSubscribeCloseAndCancel(t *testing.T, e *env) {
	e.mustAppend(e.stream("s"), eventstore.NoStream, newEvents(2, "t.v1")...)
	ended := func(t *testing.T, sub eventstore.Subscription) {
		t.Helper()
		deadline := time.After(deliveryTimeout)
		for {
			select {
			case _, ok := <-sub.Events():
				if !ok {
					if err := sub.Err(); err != nil {
						t.Fatalf("Err() = %v after the subscription was ended by its owner, want nil", err)
					}
					return
				}
			case <-deadline:
				t.Fatal("Events() not closed after the subscription ended")
			}
		}
	}
	t.Run("Close", func(t *testing.T) {
		sub, err := e.store.SubscribeAll(e.ctx, eventstore.Start, e.filter())
		if err != nil {
			t.Fatal(err)
		}
		receive(t, sub, 1)
		if err := sub.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		ended(t, sub)
		if err := sub.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(e.ctx)
		sub, err := e.store.SubscribeAll(ctx, eventstore.Start, e.filter())
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		receive(t, sub, 2) // caught up, now waiting for live events
		cancel()
		ended(t, sub)
	})
}

func testSubscribeDuringConcurrentAppends(t *testing.T, e *env) {
	const writers, perWriter = 8, 10
	sub := e.subscribe(eventstore.Start, e.filter())
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			s := e.stream(fmt.Sprintf("w%d", w))
			for range perWriter {
				if _, err := e.store.Append(e.ctx, s, eventstore.Any, newEvent("t.v1")); err != nil {
					errs <- err
				}
			}
		})
	}
	got := receive(t, sub, writers*perWriter)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	wantIncreasing(t, got)
	// The subscription saw exactly what $all holds, in the same order.
	all := e.readAll(eventstore.Start, e.filter())
	if len(all) != len(got) {
		t.Fatalf("subscription delivered %d events, $all holds %d", len(got), len(all))
	}
	for i := range all {
		if !sameRecord(all[i], got[i]) {
			t.Fatalf("event %d: subscription %+v, ReadAll %+v", i, got[i], all[i])
		}
	}
	e.wantOnlyThen(sub, e.stream("w0"), eventstore.Any, "sentinel.v1")
}
