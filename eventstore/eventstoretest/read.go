package eventstoretest

import (
	"errors"
	"strconv"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
)

func testReadStream(t *testing.T, e *env) {
	s := e.stream("read")
	evs := newEvents(6, "t.v1")
	e.mustAppend(s, eventstore.NoStream, evs[:2]...)
	e.mustAppend(s, eventstore.Exact(1), evs[2:]...)
	// Another stream's events must not leak into this one's reads.
	e.mustAppend(e.stream("read-other"), eventstore.NoStream, newEvents(3, "t.v1")...)

	reversed := func(in []eventstore.EventData) []eventstore.EventData {
		out := make([]eventstore.EventData, len(in))
		for i := range in {
			out[len(in)-1-i] = in[i]
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		dir       eventstore.Direction
		from      uint64
		max       int
		want      []eventstore.EventData
		firstRev  uint64
		direction int
	}{
		{"forwards all", eventstore.Forwards, 0, 0, evs, 0, 1},
		{"forwards from 2", eventstore.Forwards, 2, 0, evs[2:], 2, 1},
		{"forwards from 3 max 2", eventstore.Forwards, 3, 2, evs[3:5], 3, 1},
		{"forwards max larger than stream", eventstore.Forwards, 4, 100, evs[4:], 4, 1},
		{"forwards past the end", eventstore.Forwards, 6, 0, nil, 0, 1},
		{"backwards from end", eventstore.Backwards, eventstore.End, 0, reversed(evs), 5, -1},
		{"backwards from end max 2", eventstore.Backwards, eventstore.End, 2, reversed(evs[4:]), 5, -1},
		{"backwards from 3 max 2", eventstore.Backwards, 3, 2, reversed(evs[2:4]), 3, -1},
		{"backwards from 0", eventstore.Backwards, 0, 0, evs[:1], 0, -1},
		{"backwards from past the end", eventstore.Backwards, 100, 0, reversed(evs), 5, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.mustReadStream(s, tc.dir, tc.from, tc.max)
			wantIDs(t, got, tc.want)
			wantRevisions(t, got, tc.firstRev, tc.direction)
			for _, ev := range got {
				if ev.Stream != s {
					t.Fatalf("event of stream %q in a read of %q", ev.Stream, s)
				}
			}
		})
	}
}

func testReadStreamNotFound(t *testing.T, e *env) {
	for _, dir := range []eventstore.Direction{eventstore.Forwards, eventstore.Backwards} {
		from := uint64(0)
		if dir == eventstore.Backwards {
			from = eventstore.End
		}
		evs, err := e.store.ReadStream(e.ctx, e.stream("missing"), dir, from, 0)
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("direction %d: ReadStream of a missing stream = %d events, %v; want ErrStreamNotFound", dir, len(evs), err)
		}
	}
}

func testReadAllOrderAndPositions(t *testing.T, e *env) {
	// Interleave three streams, one event per append, so the order of $all
	// is the order of the appends and each result names one event.
	var (
		want      []eventstore.EventData
		positions []eventstore.Position
		revs      = map[string]uint64{}
	)
	for i := range 9 {
		s := e.stream([]string{"a", "b", "c"}[i%3])
		ev := newEvent("t.v1")
		expected := eventstore.NoStream
		if r, ok := revs[s]; ok {
			expected = eventstore.Exact(r)
		}
		res := e.mustAppend(s, expected, ev)
		revs[s] = res.NextExpectedRevision
		want = append(want, ev)
		positions = append(positions, res.Position)
	}
	got := e.readAll(eventstore.Start, e.filter())
	wantIDs(t, got, want)
	wantIncreasing(t, got)
	for i, ev := range got {
		if ev.Position != positions[i] {
			t.Fatalf("event %d at position %s, its append said %s", i, ev.Position, positions[i])
		}
	}

	// After a position: exactly the events that follow it.
	wantIDs(t, e.readAll(positions[3], e.filter()), want[4:])
	wantIDs(t, e.readAll(positions[8], e.filter()), nil)
}

func testReadAllFilters(t *testing.T, e *env) {
	marker := e.mustAppend(e.stream("marker"), eventstore.NoStream, newEvent("marker.v1"))
	order := e.stream("order-1")
	ship := e.stream("ship-1")
	o1, o2 := newEvent("order.placed.v1"), newEvent("order.paid.v1")
	s1, s2 := newEvent("ship.sent.v1"), newEvent("order.shipped.v1")
	e.mustAppend(order, eventstore.NoStream, o1)
	e.mustAppend(ship, eventstore.NoStream, s1)
	e.mustAppend(order, eventstore.Exact(0), o2)
	e.mustAppend(ship, eventstore.Exact(0), s2)

	for _, tc := range []struct {
		name   string
		filter eventstore.Filter
		want   []eventstore.EventData
	}{
		{"one stream prefix", eventstore.Filter{StreamPrefixes: []string{e.stream("order-")}}, []eventstore.EventData{o1, o2}},
		{"two stream prefixes", eventstore.Filter{StreamPrefixes: []string{e.stream("order-"), e.stream("ship-")}}, []eventstore.EventData{o1, s1, o2, s2}},
		{"stream and type prefix", eventstore.Filter{
			StreamPrefixes: []string{e.prefix},
			TypePrefixes:   []string{"order."},
		}, []eventstore.EventData{o1, o2, s2}},
		{"stream and two type prefixes", eventstore.Filter{
			StreamPrefixes: []string{e.stream("ship-")},
			TypePrefixes:   []string{"ship.", "order.paid"},
		}, []eventstore.EventData{s1}},
		{"prefix is not a wildcard", eventstore.Filter{StreamPrefixes: []string{e.stream("order_")}}, nil},
		{"prefix is case-sensitive", eventstore.Filter{StreamPrefixes: []string{e.stream("ORDER-")}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.readAll(marker.Position, tc.filter)
			wantIDs(t, got, tc.want)
			wantIncreasing(t, got)
		})
	}
}

func testReadAllPaging(t *testing.T, e *env) {
	marker := e.mustAppend(e.stream("marker"), eventstore.NoStream, newEvent("marker.v1"))
	want := newEvents(7, "t.v1")
	e.mustAppend(e.stream("paged"), eventstore.NoStream, want...)
	// Pages of 3, 3 and 1, then nothing.
	after := marker.Position
	var got []eventstore.RecordedEvent
	for _, size := range []int{3, 3, 1, 0} {
		page, err := e.store.ReadAll(e.ctx, after, 3, e.filter())
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != size {
			t.Fatalf("page after %s: %d events, want %d", after, len(page), size)
		}
		if size > 0 {
			after = page[len(page)-1].Position
		}
		got = append(got, page...)
	}
	wantIDs(t, got, want)
	wantRevisions(t, got, 0, 1)

	// A filtered read fills its page from as far as it must read: fewer
	// events than asked means the end of $all (projections.Runner relies
	// on it), however many events the filter passes over.
	after = e.mustAppend(e.stream("marker-2"), eventstore.NoStream, newEvent("marker.v1")).Position
	kept := e.filter()
	kept.TypePrefixes = []string{"kept."}
	var wantKept []eventstore.EventData
	for i := range 4 {
		e.mustAppend(e.stream("noise"), eventstore.Any, newEvents(50, "noise.v1")...)
		ev := newEvent("kept.v1")
		e.mustAppend(e.stream("kept-"+strconv.Itoa(i)), eventstore.NoStream, ev)
		wantKept = append(wantKept, ev)
	}
	page, err := e.store.ReadAll(e.ctx, after, 3, kept)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, page, wantKept[:3])
	if page, err = e.store.ReadAll(e.ctx, page[len(page)-1].Position, 3, kept); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, page, wantKept[3:])
}

func testSystemEventsExcluded(t *testing.T, e *env) {
	marker := e.mustAppend(e.stream("marker"), eventstore.NoStream, newEvent("marker.v1"))
	user := newEvent("t.v1")
	e.mustAppend(e.stream("user"), eventstore.NoStream, user, newEvent("$system-type"))
	// A '$' stream whose name the filter below matches: excluded anyway.
	sys := "$" + e.stream("sys")
	e.mustAppend(sys, eventstore.NoStream, newEvent("t.v1"))
	if evs := e.mustReadStream(sys, eventstore.Forwards, 0, 0); len(evs) != 1 {
		t.Fatalf("a $ stream is readable directly: got %d events, want 1", len(evs))
	}
	filter := eventstore.Filter{StreamPrefixes: []string{e.prefix, "$" + e.prefix}}
	wantIDs(t, e.readAll(marker.Position, filter), []eventstore.EventData{user})
	filter.TypePrefixes = []string{"$", "t."}
	wantIDs(t, e.readAll(marker.Position, filter), []eventstore.EventData{user})
}
