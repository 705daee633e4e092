package embedded

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

// TestTailServesWhatTheDatabaseHolds appends more events than the tail
// keeps, with subscriptions following live and one starting late from
// position zero, under filters, and checks that every subscription
// delivers exactly what reading $all from the database gives: the tail
// (read from memory) and the database agree, across the tail's wrap-around,
// and a subscription behind the tail falls back to the database.
func TestTailServesWhatTheDatabaseHolds(t *testing.T) {
	s := openStore(t, t.TempDir(), Config{})
	ctx := context.Background()
	filters := []eventstore.Filter{
		{},
		{StreamPrefixes: []string{"claim-"}},
		{StreamPrefixes: []string{"claim-", "rma"}, TypePrefixes: []string{"claim.registered"}},
	}
	type following struct {
		filter eventstore.Filter
		sub    eventstore.Subscription
	}
	var live []following
	for _, f := range filters {
		sub, err := s.SubscribeAll(ctx, eventstore.Start, f)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		live = append(live, following{f, sub})
	}
	// Delivered events are collected as they come, so that no subscription
	// blocks the test (each buffers only so much).
	var mu sync.Mutex
	got := make([][]eventstore.RecordedEvent, len(live))
	for i, l := range live {
		go func() {
			for ev := range l.sub.Events() {
				mu.Lock()
				got[i] = append(got[i], ev)
				mu.Unlock()
			}
		}()
	}
	count := func(i int) int {
		mu.Lock()
		defer mu.Unlock()
		return len(got[i])
	}

	const total = tailSize + tailSize/2
	streams := []string{"claim-" + uuid.NewString(), "claim-" + uuid.NewString(), "rmanumbers-2026"}
	types := []string{"claim.registered.v1", "claim.note_added.v1", "number.reserved.v1"}
	next := map[string]uint64{}
	for n := 0; n < total; {
		stream := streams[n%len(streams)]
		batch := make([]eventstore.EventData, 1+n%7) // commits of several sizes
		for i := range batch {
			batch[i] = eventstore.EventData{ID: uuid.New(), Type: types[(n+i)%len(types)],
				Data: fmt.Appendf(nil, `{"n":%d}`, n+i), Metadata: []byte(`{"actor":"test"}`)}
		}
		expected := eventstore.NoStream
		if r, ok := next[stream]; ok {
			expected = eventstore.Exact(r - 1)
		}
		if _, err := s.Append(ctx, stream, expected, batch...); err != nil {
			t.Fatal(err)
		}
		next[stream] += uint64(len(batch))
		n += len(batch)
	}

	want := func(f eventstore.Filter) []eventstore.RecordedEvent {
		var all []eventstore.RecordedEvent
		after := eventstore.Start
		for {
			page, err := s.ReadAll(ctx, after, 1000, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				return all
			}
			all = append(all, page...)
			after = page[len(page)-1].Position
		}
	}
	// A late subscription starts where the tail no longer reaches.
	late, err := s.SubscribeAll(ctx, eventstore.Start, filters[1])
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	lateWant := want(filters[1])
	var lateGot []eventstore.RecordedEvent
	for len(lateGot) < len(lateWant) {
		select {
		case ev := <-late.Events():
			lateGot = append(lateGot, ev)
		case <-time.After(10 * time.Second):
			t.Fatalf("late subscription: %d of %d events", len(lateGot), len(lateWant))
		}
	}
	if !reflect.DeepEqual(lateGot, lateWant) {
		t.Error("the late subscription delivered other events than the database holds")
	}

	deadline := time.Now().Add(10 * time.Second)
	for i, l := range live {
		w := want(l.filter)
		for count(i) < len(w) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // the collector goroutine is filling got[i]
		}
		l.sub.Close() // waits for the subscription, whose channel then closes
		mu.Lock()
		delivered := got[i]
		mu.Unlock()
		if len(w) == 0 {
			t.Fatalf("filter %+v selects nothing: the test proves nothing", l.filter)
		}
		if !reflect.DeepEqual(delivered, w) {
			t.Errorf("filter %+v: the live subscription delivered %d events, the database holds %d, or they differ",
				l.filter, len(delivered), len(w))
		}
	}
}

// TestTailReadsOnlyWhatItKeeps checks the tail's own bounds: events before
// what it keeps, or not committed yet, send the reader to the database.
func TestTailReadsOnlyWhatItKeeps(t *testing.T) {
	tl := newTail()
	if _, ok := tl.read(0, 1, 10, eventstore.Filter{}); ok {
		t.Fatal("an empty tail answered")
	}
	var evs []eventstore.RecordedEvent
	for p := uint64(101); p <= 100+tailSize+10; p++ {
		evs = append(evs, eventstore.RecordedEvent{Stream: "claim-x", Type: "t", Position: eventstore.Position{Commit: p, Prepare: p}})
	}
	tl.add(evs)
	last := uint64(100 + tailSize + 10)
	if _, ok := tl.read(100, last, 10, eventstore.Filter{}); ok {
		t.Error("the tail answered for events it overwrote")
	}
	got, ok := tl.read(last-5, last, 10, eventstore.Filter{})
	if !ok || len(got) != 5 || got[0].Position.Commit != last-4 {
		t.Errorf("recent events: ok %v, %d events", ok, len(got))
	}
	if _, ok := tl.read(last-1, last+1, 10, eventstore.Filter{}); ok {
		t.Error("the tail answered for an event not added yet")
	}
	tl.reset()
	if _, ok := tl.read(last-1, last, 10, eventstore.Filter{}); ok {
		t.Error("the tail answered after a reset")
	}
}
