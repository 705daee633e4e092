package eventstoretest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

func testReopenKeepsAcknowledged(t *testing.T, e *env) {
	const writers, perWriter = 8, 4
	// Sequential and concurrent appends, all acknowledged before the reopen.
	type ack struct {
		stream string
		events []eventstore.EventData
		res    eventstore.AppendResult
	}
	var (
		mu   sync.Mutex
		acks []ack
	)
	seq := e.stream("seq")
	evs := newEvents(3, "t.v1")
	acks = append(acks, ack{seq, evs, e.mustAppend(seq, eventstore.NoStream, evs...)})
	errs := race(writers, func(w int) error {
		s := e.stream(fmt.Sprintf("conc-%d", w))
		for range perWriter {
			ev := newEvent("t.v1")
			res, err := e.store.Append(e.ctx, s, eventstore.Any, ev)
			if err != nil {
				return err
			}
			mu.Lock()
			acks = append(acks, ack{s, []eventstore.EventData{ev}, res})
			mu.Unlock()
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	before := e.readAll(eventstore.Start, e.filter())

	e.store = e.reopen(t)

	after := e.readAll(eventstore.Start, e.filter())
	if len(after) != len(before) {
		t.Fatalf("after reopen $all holds %d events of the test, before %d", len(after), len(before))
	}
	for i := range before {
		if !sameRecord(before[i], after[i]) {
			t.Fatalf("event %d changed across reopen: %+v, now %+v", i, before[i], after[i])
		}
	}
	byPosition := make(map[eventstore.Position]eventstore.RecordedEvent)
	for _, ev := range after {
		byPosition[ev.Position] = ev
	}
	for _, a := range acks {
		ev, ok := byPosition[a.res.Position]
		if !ok || ev.ID != a.events[len(a.events)-1].ID || ev.Stream != a.stream || ev.Revision != a.res.NextExpectedRevision {
			t.Fatalf("acknowledged append %+v to %s not found as its last event after reopen", a.res, a.stream)
		}
	}
	wantIDs(t, e.mustReadStream(seq, eventstore.Forwards, 0, 0), evs)

	// Idempotency and revisions carry over; new events follow the old ones.
	e.sameRetry(t, acks[0].res, e.mustAppend(seq, eventstore.NoStream, evs...))
	_, err := e.store.Append(e.ctx, seq, eventstore.NoStream, newEvent("t.v1"))
	wantWrongExpected(t, err, 2, true)
	res := e.mustAppend(seq, eventstore.Exact(2), newEvent("t.v1"))
	if res.NextExpectedRevision != 3 || res.Position.Compare(before[len(before)-1].Position) <= 0 {
		t.Fatalf("append after reopen: %+v, want revision 3 after position %s", res, before[len(before)-1].Position)
	}
}

func testClosedStore(t *testing.T, e *env) {
	s := e.stream("closed")
	e.mustAppend(s, eventstore.NoStream, newEvent("t.v1"))
	sub := e.subscribe(eventstore.Start, e.filter())
	receive(t, sub, 1)

	if err := e.store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// A subscription ends with its store.
	deadline := time.After(deliveryTimeout)
	for open := true; open; {
		select {
		case _, open = <-sub.Events():
		case <-deadline:
			t.Fatal("subscription still open after the store closed")
		}
	}

	wantClosed := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", op, err)
		}
	}
	_, err := e.store.Append(e.ctx, s, eventstore.Any, newEvent("t.v1"))
	wantClosed("Append", err)
	_, err = e.store.ReadStream(e.ctx, s, eventstore.Forwards, 0, 0)
	wantClosed("ReadStream", err)
	_, err = e.store.ReadAll(e.ctx, eventstore.Start, 10, e.filter())
	wantClosed("ReadAll", err)
	_, err = e.store.SubscribeAll(e.ctx, eventstore.Start, e.filter())
	wantClosed("SubscribeAll", err)
	_ = e.store.Close() // a second Close must not panic or hang
}
