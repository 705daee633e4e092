package eventstoretest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

// clockSlack allows for a server clock a little off the test's.
const clockSlack = time.Minute

func testAppendReadRoundTrip(t *testing.T, e *env) {
	stream := e.stream("claim-" + uuid.NewString())
	want := newEvents(3, "claim.opened.v1")
	before := time.Now()
	res := e.mustAppend(stream, eventstore.NoStream, want...)
	after := time.Now()
	if res.NextExpectedRevision != 2 {
		t.Fatalf("NextExpectedRevision = %d, want 2", res.NextExpectedRevision)
	}

	got := e.mustReadStream(stream, eventstore.Forwards, 0, 0)
	wantIDs(t, got, want)
	for i, ev := range got {
		if ev.Stream != stream || ev.Type != want[i].Type || ev.Revision != uint64(i) {
			t.Errorf("event %d: stream %q type %q revision %d, want %q %q %d", i, ev.Stream, ev.Type, ev.Revision, stream, want[i].Type, i)
		}
		if !bytes.Equal(ev.Data, want[i].Data) || !bytes.Equal(ev.Metadata, want[i].Metadata) {
			t.Errorf("event %d: data %q metadata %q, want %q %q", i, ev.Data, ev.Metadata, want[i].Data, want[i].Metadata)
		}
		if ev.Created.Location() != time.UTC {
			t.Errorf("event %d: Created %v is not in UTC", i, ev.Created)
		}
		if ev.Created.Before(before.Add(-clockSlack)) || ev.Created.After(after.Add(clockSlack)) {
			t.Errorf("event %d: Created %v, want about %v", i, ev.Created, before)
		}
	}
	// A stream read may leave positions zero (KurrentDB sends none); when
	// it gives them, they are the $all positions.
	if got[0].Position != eventstore.Start {
		wantIncreasing(t, got)
		if last := got[len(got)-1]; last.Position != res.Position {
			t.Fatalf("last event at %s, AppendResult.Position %s", last.Position, res.Position)
		}
	}

	// Every read path returns the same records.
	all := e.readAll(eventstore.Start, eventstore.Filter{StreamPrefixes: []string{stream}})
	if len(all) != len(got) {
		t.Fatalf("ReadAll gave %d events, ReadStream %d", len(all), len(got))
	}
	wantIncreasing(t, all)
	if last := all[len(all)-1]; last.Position != res.Position {
		t.Fatalf("last event at %s in $all, AppendResult.Position %s", last.Position, res.Position)
	}
	for i := range all {
		if !sameRecord(all[i], got[i]) {
			t.Fatalf("event %d: ReadAll %+v, ReadStream %+v", i, all[i], got[i])
		}
	}
	back := e.mustReadStream(stream, eventstore.Backwards, eventstore.End, 0)
	for i := range back {
		if !sameRecord(back[i], got[len(got)-1-i]) {
			t.Fatalf("backwards event %d: %+v, want %+v", i, back[i], got[len(got)-1-i])
		}
	}
}

func testExpectedRevision(t *testing.T, e *env) {
	// unchanged checks that a failed append left the stream as it was.
	unchanged := func(t *testing.T, stream string, wantLen int) {
		t.Helper()
		evs, err := e.store.ReadStream(e.ctx, stream, eventstore.Forwards, 0, 0)
		if wantLen == 0 {
			if !errors.Is(err, eventstore.ErrStreamNotFound) {
				t.Fatalf("after a failed append to a new stream: ReadStream = %d events, %v; want ErrStreamNotFound", len(evs), err)
			}
			return
		}
		if err != nil || len(evs) != wantLen {
			t.Fatalf("after a failed append: %d events, %v; want %d", len(evs), err, wantLen)
		}
	}
	// existing makes a stream with two events (revisions 0 and 1).
	existing := func(name string) string {
		s := e.stream(name)
		e.mustAppend(s, eventstore.NoStream, newEvents(2, "t.v1")...)
		return s
	}

	t.Run("Any", func(t *testing.T) {
		s := e.stream("any")
		if r := e.mustAppend(s, eventstore.Any, newEvent("t.v1")); r.NextExpectedRevision != 0 {
			t.Fatalf("Any on a new stream: next %d, want 0", r.NextExpectedRevision)
		}
		if r := e.mustAppend(s, eventstore.Any, newEvent("t.v1")); r.NextExpectedRevision != 1 {
			t.Fatalf("Any on an existing stream: next %d, want 1", r.NextExpectedRevision)
		}
	})
	t.Run("NoStream", func(t *testing.T) {
		if r := e.mustAppend(e.stream("nostream-new"), eventstore.NoStream, newEvent("t.v1")); r.NextExpectedRevision != 0 {
			t.Fatalf("NoStream on a new stream: next %d, want 0", r.NextExpectedRevision)
		}
		s := existing("nostream-existing")
		_, err := e.store.Append(e.ctx, s, eventstore.NoStream, newEvent("t.v1"))
		wantWrongExpected(t, err, 1, true)
		unchanged(t, s, 2)
	})
	t.Run("StreamExists", func(t *testing.T) {
		s := existing("exists-existing")
		if r := e.mustAppend(s, eventstore.StreamExists, newEvent("t.v1")); r.NextExpectedRevision != 2 {
			t.Fatalf("StreamExists on an existing stream: next %d, want 2", r.NextExpectedRevision)
		}
		missing := e.stream("exists-missing")
		_, err := e.store.Append(e.ctx, missing, eventstore.StreamExists, newEvent("t.v1"))
		wantWrongExpected(t, err, 0, false)
		unchanged(t, missing, 0)
	})
	t.Run("Exact", func(t *testing.T) {
		s := existing("exact")
		if r := e.mustAppend(s, eventstore.Exact(1), newEvent("t.v1")); r.NextExpectedRevision != 2 {
			t.Fatalf("Exact(1) at revision 1: next %d, want 2", r.NextExpectedRevision)
		}
		for _, rev := range []uint64{0, 1, 3, 100} {
			_, err := e.store.Append(e.ctx, s, eventstore.Exact(rev), newEvent("t.v1"))
			wantWrongExpected(t, err, 2, true)
		}
		unchanged(t, s, 3)
		missing := e.stream("exact-missing")
		_, err := e.store.Append(e.ctx, missing, eventstore.Exact(0), newEvent("t.v1"))
		wantWrongExpected(t, err, 0, false)
		unchanged(t, missing, 0)
	})
}

func testFailedMultiEventAppendWritesNothing(t *testing.T, e *env) {
	s := e.stream("multi")
	first := e.mustAppend(s, eventstore.NoStream, newEvent("t.v1"))
	_, err := e.store.Append(e.ctx, s, eventstore.Exact(5), newEvents(4, "t.v1")...)
	wantWrongExpected(t, err, 0, true)
	if evs := e.mustReadStream(s, eventstore.Forwards, 0, 0); len(evs) != 1 {
		t.Fatalf("stream has %d events after a failed 4-event append, want 1", len(evs))
	}
	if all := e.readAll(eventstore.Start, e.filter()); len(all) != 1 || all[0].Position != first.Position {
		t.Fatalf("$all holds %d events of the test, want only the first append's", len(all))
	}
}

func testIdempotentRetry(t *testing.T, e *env) {
	// count checks the stream holds exactly n events (no duplicates).
	count := func(t *testing.T, stream string, n int) {
		t.Helper()
		if evs := e.mustReadStream(stream, eventstore.Forwards, 0, 0); len(evs) != n {
			t.Fatalf("stream holds %d events, want %d", len(evs), n)
		}
	}
	for _, tc := range []struct {
		name     string
		expected eventstore.ExpectedRevision
	}{
		{"NoStream", eventstore.NoStream},
		{"Any", eventstore.Any},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := e.stream("retry-" + tc.name)
			evs := newEvents(2, "t.v1")
			first := e.mustAppend(s, tc.expected, evs...)
			again := e.mustAppend(s, tc.expected, evs...)
			e.sameRetry(t, first, again)
			count(t, s, 2)
		})
	}
	t.Run("Exact", func(t *testing.T) {
		s := e.stream("retry-exact")
		e.mustAppend(s, eventstore.NoStream, newEvent("t.v1"))
		evs := newEvents(3, "t.v1")
		first := e.mustAppend(s, eventstore.Exact(0), evs...)
		again := e.mustAppend(s, eventstore.Exact(0), evs...)
		e.sameRetry(t, first, again)
		count(t, s, 4)
	})
	t.Run("AfterLaterAppends", func(t *testing.T) {
		// A client whose answer was lost retries after others appended:
		// the expectation still points at the original place.
		s := e.stream("retry-later")
		evs := newEvents(2, "t.v1")
		first := e.mustAppend(s, eventstore.NoStream, evs...)
		e.mustAppend(s, eventstore.Exact(1), newEvents(2, "t.v1")...)
		again := e.mustAppend(s, eventstore.NoStream, evs...)
		e.sameRetry(t, first, again)
		count(t, s, 4)
	})
	t.Run("PartialOverlap", func(t *testing.T) {
		// KurrentDB answers a retry that matches only in part with a wrong
		// expected revision; so must every store.
		s := e.stream("retry-partial")
		evs := newEvents(2, "t.v1")
		e.mustAppend(s, eventstore.NoStream, evs...)
		for name, retry := range map[string][]eventstore.EventData{
			"second differs": {evs[0], newEvent("t.v1")},
			"one more":       {evs[0], evs[1], newEvent("t.v1")},
		} {
			_, err := e.store.Append(e.ctx, s, eventstore.NoStream, retry...)
			if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
				t.Fatalf("%s: error %v, want ErrWrongExpectedRevision", name, err)
			}
		}
		count(t, s, 2)
	})
	// No duplicates reached $all either.
	seen := make(map[uuid.UUID]bool)
	for _, ev := range e.readAll(eventstore.Start, e.filter()) {
		if seen[ev.ID] {
			t.Fatalf("event %s appears twice in $all", ev.ID)
		}
		seen[ev.ID] = true
	}
}

func testInvalidAppend(t *testing.T, e *env) {
	valid := newEvent("t.v1")
	for _, tc := range []struct {
		name   string
		stream string
		events []eventstore.EventData
	}{
		{"no events", e.stream("none"), nil},
		{"empty type", e.stream("type"), []eventstore.EventData{{ID: uuid.New(), Data: []byte(`{}`)}}},
		{"nil id", e.stream("id"), []eventstore.EventData{{Type: "t.v1", Data: []byte(`{}`)}}},
		{"one bad among good", e.stream("mixed"), []eventstore.EventData{valid, {ID: uuid.New()}}},
		{"empty stream name", "", []eventstore.EventData{newEvent("t.v1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.store.Append(e.ctx, tc.stream, eventstore.Any, tc.events...)
			if !errors.Is(err, eventstore.ErrInvalidAppend) {
				t.Fatalf("error %v, want ErrInvalidAppend", err)
			}
			if tc.stream == "" {
				return
			}
			if _, err := e.store.ReadStream(e.ctx, tc.stream, eventstore.Forwards, 0, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
				t.Fatalf("after an invalid append, ReadStream: %v, want ErrStreamNotFound", err)
			}
		})
	}
}

// sameRetry checks that a retry got the original append's result; a store
// that reports duplicates must say that the retry wrote nothing, and that
// the original did.
func (e *env) sameRetry(t *testing.T, first, again eventstore.AppendResult) {
	t.Helper()
	if _, tells := e.store.(eventstore.DuplicateReporter); tells && (first.Duplicate || !again.Duplicate) {
		t.Fatalf("Duplicate: the original %v, the retry %v; want false, true", first.Duplicate, again.Duplicate)
	}
	first.Duplicate, again.Duplicate = false, false
	if again != first {
		t.Fatalf("retry returned %+v, the original %+v", again, first)
	}
}
