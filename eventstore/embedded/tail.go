package embedded

import (
	"sync"

	"github.com/rmaledger/rmaledger/eventstore"
)

// tailSize is how many of the latest committed events tail keeps: two
// seconds of a store taking 2,000 events a second, so that a live
// subscription that falls a little behind is still served from memory (one
// further behind reads pages from the database, and batches them). About
// 6 MiB of events of a kilobyte and a half.
const tailSize = 4096

// tail keeps the events of the latest commits in memory, by position, for
// live subscriptions. Each subscription used to read every commit it was
// told of back from the database, so with one subscription per read model
// one append cost as many queries as there are read models; the events are
// at hand in the writer that has just made them durable. A subscription
// that is behind the events kept reads the database as before.
//
// Positions are dense (the writer numbers them 1, 2, 3...), so the event at
// position p is at p % tailSize when it is kept at all.
type tail struct {
	mu     sync.RWMutex
	events []eventstore.RecordedEvent
	// from is the least position such that every event from it to the
	// committed head is kept; 0 when nothing is kept.
	from uint64
}

func newTail() *tail {
	return &tail{events: make([]eventstore.RecordedEvent, tailSize)}
}

// add keeps a commit's events, which follow the head in order: called by
// the writer after the commit is durable and before it is announced.
func (t *tail) add(events []eventstore.RecordedEvent) {
	if len(events) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ev := range events {
		p := ev.Position.Commit
		t.events[p%tailSize] = ev
		if t.from == 0 {
			t.from = p
		}
	}
	last := events[len(events)-1].Position.Commit
	if last >= t.from+tailSize {
		t.from = last - tailSize + 1
	}
}

// reset forgets everything kept: the writer lost track of what the file
// holds (see writer.resync).
func (t *tail) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.events)
	t.from = 0
}

// read gives up to max events in (after, upTo] that pass the filter, as
// Store.readAll does; ok is false when some of them are no longer (or not
// yet) kept, and the database must be read instead. The events' slices are
// copied: every subscription gets its own, as from a query.
func (t *tail) read(after, upTo uint64, max int, filter eventstore.Filter) (events []eventstore.RecordedEvent, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.from == 0 || after+1 < t.from {
		return nil, false
	}
	for p := after + 1; p <= upTo && len(events) < max; p++ {
		ev := t.events[p%tailSize]
		if ev.Position.Commit != p {
			return nil, false // not committed yet, or overwritten meanwhile
		}
		if !filter.Selects(ev.Stream, ev.Type) { // readAll's WHERE clause
			continue
		}
		ev.Data = append([]byte(nil), ev.Data...)
		ev.Metadata = append([]byte(nil), ev.Metadata...)
		events = append(events, ev)
	}
	return events, true
}
