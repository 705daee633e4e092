package audit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/rmaledger/rmaledger/eventstore"
)

// Verification is a pipeline: reading the log and hashing its events is
// most of the work and can run in parallel; the chains themselves are
// checked in $all order by one goroutine, which costs little per event (a
// map lookup and one SHA-256 of 80 bytes).
//
// With gapless integer positions (the embedded store), every worker reads
// a range of positions of its own and hashes it: page i holds the events in
// (start + i*P, start + (i+1)*P]. A read asks for P events after the
// range's start, so it returns every event of the range even when some
// positions are empty (a tampered log), and whatever it returns beyond the
// range is dropped; the log ends at the first read that returns nothing.
// Otherwise (KurrentDB's positions are byte offsets) one goroutine reads
// page after page and the workers only hash.

// hashedPage is a page of events with each event's hashes.
type hashedPage struct {
	index  int
	events []eventstore.RecordedEvent
	sums   []eventSum
	end    bool // no event after the page's start: the log ends before it
	err    error
}

// eventSum is what hashing found in one event.
type eventSum struct {
	content Hash
	link    Link
	sealed  bool
}

func hashPage(h *Hasher, events []eventstore.RecordedEvent) []eventSum {
	sums := make([]eventSum, len(events))
	for i := range events {
		sums[i].content, sums[i].link, sums[i].sealed = h.Event(&events[i])
	}
	return sums
}

// pipeline delivers the log after start as hashed pages, in order, to
// check, until check returns false, the log ends or an error occurs.
func pipeline(ctx context.Context, store eventstore.Store, start eventstore.Position, size int, dense bool, check func([]eventstore.RecordedEvent, []eventSum) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	// Slots bound the pages read but not yet checked: a worker takes a
	// slot before it takes a page number, so the page the checker waits
	// for always holds one, and memory stays at a few pages.
	slots := make(chan struct{}, 2*workers+1)
	out := make(chan hashedPage, cap(slots))
	var wg sync.WaitGroup
	if dense {
		var next atomic.Int64
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var h Hasher
				for {
					select {
					case slots <- struct{}{}:
					case <-ctx.Done():
						return
					}
					i := int(next.Add(1) - 1)
					from := start.Commit + uint64(i)*uint64(size)
					p := hashedPage{index: i}
					p.events, p.err = store.ReadAll(ctx, eventstore.Position{Commit: from, Prepare: from}, size, eventstore.Filter{})
					p.end = p.err == nil && len(p.events) == 0
					// Drop what lies beyond the range: the next page has it.
					n := len(p.events)
					for n > 0 && p.events[n-1].Position.Commit > from+uint64(size) {
						n--
					}
					p.events = p.events[:n]
					p.sums = hashPage(&h, p.events)
					out <- p
					if p.end || p.err != nil {
						return
					}
				}
			}()
		}
	} else {
		pages := make(chan hashedPage)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(pages)
			after := start
			for i := 0; ; i++ {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				p := hashedPage{index: i}
				p.events, p.err = store.ReadAll(ctx, after, size, eventstore.Filter{})
				p.end = p.err == nil && len(p.events) == 0
				if p.end || p.err != nil {
					out <- p
					return
				}
				after = p.events[len(p.events)-1].Position
				select {
				case pages <- p:
				case <-ctx.Done():
					return
				}
			}
		}()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var h Hasher
				for p := range pages {
					p.sums = hashPage(&h, p.events)
					out <- p
				}
			}()
		}
	}
	stop := func() {
		cancel()
		// Workers may be blocked sending: drain until they are gone.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for {
			select {
			case <-out:
			case <-done:
				return
			}
		}
	}
	defer stop()

	waiting := make(map[int]hashedPage)
	for next := 0; ; next++ {
		p, ok := waiting[next]
		for !ok {
			select {
			case q := <-out:
				waiting[q.index] = q
				p, ok = waiting[next]
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		delete(waiting, next)
		switch {
		case p.err != nil:
			if errors.Is(p.err, context.Canceled) && ctx.Err() != nil {
				return ctx.Err()
			}
			return p.err
		case p.end:
			return nil
		}
		if !check(p.events, p.sums) {
			return nil
		}
		<-slots
	}
}
