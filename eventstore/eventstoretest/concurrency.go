package eventstoretest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

// race runs fn in n goroutines released together, and returns their errors.
func race(n int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneWinner checks that exactly one of the racing appends succeeded and
// every other lost with the wrong-expected-revision error naming actual.
func wantOneWinner(t *testing.T, errs []error, actual uint64) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("appends %d and %d both succeeded", winner, i)
			}
			winner = i
		case errors.Is(err, eventstore.ErrWrongExpectedRevision):
			wantWrongExpected(t, err, actual, true)
		default:
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no append succeeded")
	}
	return winner
}

func testConcurrentExactOneStream(t *testing.T, e *env) {
	const writers, rounds = 8, 15
	s := e.stream("contended")
	first := newEvent("t.v1")
	e.mustAppend(s, eventstore.NoStream, first)
	want := []eventstore.EventData{first}
	for rev := range uint64(rounds) {
		evs := newEvents(writers, "t.v1")
		errs := race(writers, func(i int) error {
			res, err := e.store.Append(e.ctx, s, eventstore.Exact(rev), evs[i])
			if err == nil && res.NextExpectedRevision != rev+1 {
				return fmt.Errorf("winner got next revision %d, want %d", res.NextExpectedRevision, rev+1)
			}
			return err
		})
		want = append(want, evs[wantOneWinner(t, errs, rev+1)])
	}
	got := e.mustReadStream(s, eventstore.Forwards, 0, 0)
	wantIDs(t, got, want)
	wantRevisions(t, got, 0, 1)
}

func testConcurrentNoStream(t *testing.T, e *env) {
	const writers = 8
	s := e.stream("created-once")
	evs := newEvents(writers, "t.v1")
	errs := race(writers, func(i int) error {
		_, err := e.store.Append(e.ctx, s, eventstore.NoStream, evs[i])
		return err
	})
	winner := wantOneWinner(t, errs, 0)
	wantIDs(t, e.mustReadStream(s, eventstore.Forwards, 0, 0), evs[winner:winner+1])
}

// testConcurrentOptimisticRetry is the write side's loop: read the revision,
// append with Exact, on conflict read again. Every event lands exactly once,
// revisions stay contiguous and each writer's events keep their order.
func testConcurrentOptimisticRetry(t *testing.T, e *env) {
	const writers, perWriter = 8, 5
	s := e.stream("optimistic")
	mine := make([][]eventstore.EventData, writers)
	errs := race(writers, func(w int) error {
		for range perWriter {
			ev := newEvent(fmt.Sprintf("writer%d.v1", w))
			for attempt := 0; ; attempt++ {
				if attempt > 1000 {
					return errors.New("no progress after 1000 attempts")
				}
				expected := eventstore.NoStream
				last, err := e.store.ReadStream(e.ctx, s, eventstore.Backwards, eventstore.End, 1)
				switch {
				case errors.Is(err, eventstore.ErrStreamNotFound):
				case err != nil:
					return err
				case len(last) != 1:
					return fmt.Errorf("backwards read of 1 gave %d events", len(last))
				default:
					expected = eventstore.Exact(last[0].Revision)
				}
				_, err = e.store.Append(e.ctx, s, expected, ev)
				if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
					continue
				}
				if err != nil {
					return err
				}
				mine[w] = append(mine[w], ev)
				break
			}
		}
		return nil
	})
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	got := e.mustReadStream(s, eventstore.Forwards, 0, 0)
	if len(got) != writers*perWriter {
		t.Fatalf("stream holds %d events, want %d", len(got), writers*perWriter)
	}
	wantRevisions(t, got, 0, 1)
	next := make([]int, writers) // per writer: index of its next expected event
	seen := make(map[uuid.UUID]bool)
	for _, ev := range got {
		if seen[ev.ID] {
			t.Fatalf("event %s stored twice", ev.ID)
		}
		seen[ev.ID] = true
		var w int
		if _, err := fmt.Sscanf(ev.Type, "writer%d.v1", &w); err != nil {
			t.Fatalf("unexpected type %q", ev.Type)
		}
		if mine[w][next[w]].ID != ev.ID {
			t.Fatalf("writer %d's events out of order at revision %d", w, ev.Revision)
		}
		next[w]++
	}
}

func testConcurrentAnyDistinctStreams(t *testing.T, e *env) {
	const writers, perWriter, batch = 32, 5, 2
	results := make([][]eventstore.AppendResult, writers)
	sent := make([][]eventstore.EventData, writers)
	errs := race(writers, func(w int) error {
		s := e.stream(fmt.Sprintf("any-%d", w))
		for range perWriter {
			evs := newEvents(batch, "t.v1")
			res, err := e.store.Append(e.ctx, s, eventstore.Any, evs...)
			if err != nil {
				return err
			}
			results[w] = append(results[w], res)
			sent[w] = append(sent[w], evs...)
		}
		return nil
	})
	positions := make(map[eventstore.Position]bool)
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
		for i, res := range results[w] {
			if want := uint64((i+1)*batch - 1); res.NextExpectedRevision != want {
				t.Fatalf("writer %d append %d: next revision %d, want %d", w, i, res.NextExpectedRevision, want)
			}
			if positions[res.Position] {
				t.Fatalf("position %s returned twice", res.Position)
			}
			positions[res.Position] = true
		}
		got := e.mustReadStream(e.stream(fmt.Sprintf("any-%d", w)), eventstore.Forwards, 0, 0)
		wantIDs(t, got, sent[w])
		wantRevisions(t, got, 0, 1)
	}
	all := e.readAll(eventstore.Start, e.filter())
	if len(all) != writers*perWriter*batch {
		t.Fatalf("$all holds %d events of the test, want %d", len(all), writers*perWriter*batch)
	}
	wantIncreasing(t, all)
}
