package projections

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

// hub reads the store's live subscription once for every projection: each
// event is read, opened and decoded once, and handed to every tap in $all
// order. Each projection had its own subscription before, and so read,
// decrypted and decoded every event five times.
//
// A tap never holds the others up: it queues what the hub hands it, up to
// a bound; a tap that falls further behind (a projection catching up, or
// stopped on an event it cannot apply) drops its queue and reads the store
// itself from its own position until it is back at the hub's.
type hub struct {
	store  eventstore.Store
	filter eventstore.Filter
	log    *slog.Logger
	// bound is how many items a tap queues before it falls back to reading
	// the store; pageSize is that read's page.
	bound, pageSize int
	resubscribe     time.Duration

	mu      sync.Mutex
	taps    map[*tap]struct{}
	pos     eventstore.Position // the last event handed to the taps
	started bool
	err     error // why the hub ended; nil while it runs
	life    context.Context
	stop    context.CancelFunc
	done    chan struct{}
}

func newHub(store eventstore.Store, filter eventstore.Filter, bound, pageSize int, resubscribe time.Duration, log *slog.Logger) *hub {
	life, stop := context.WithCancel(context.Background())
	return &hub{
		store: store, filter: filter, log: log, bound: bound, pageSize: pageSize, resubscribe: resubscribe,
		taps: map[*tap]struct{}{}, life: life, stop: stop, done: make(chan struct{}),
	}
}

// join returns a tap that delivers the events after after. The first tap
// starts the hub's subscription there; a later one behind the hub reads
// the store until it reaches it.
func (h *hub) join(after eventstore.Position) (*tap, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return nil, h.err
	}
	t := &tap{hub: h, last: after, wake: make(chan struct{}, 1)}
	if !h.started {
		h.started, h.pos = true, after
		go h.run(after)
	}
	t.backfill = after.Compare(h.pos) < 0
	h.taps[t] = struct{}{}
	return t, nil
}

// close ends the hub's subscription and waits for it.
func (h *hub) close() {
	h.stop()
	h.mu.Lock()
	if !h.started {
		h.started = true // no subscription starts after close
		close(h.done)
	}
	if h.err == nil {
		h.err = eventstore.ErrClosed
	}
	h.mu.Unlock()
	<-h.done
}

// run follows the store from after until the hub closes, resubscribing
// after the last event handed out when the subscription breaks.
func (h *hub) run(after eventstore.Position) {
	defer close(h.done)
	for {
		sub, err := h.store.SubscribeAll(h.life, after, h.filter)
		if err == nil {
			after = h.pump(sub)
			sub.Close()
			err = sub.Err()
		}
		if h.life.Err() != nil || errors.Is(err, eventstore.ErrClosed) {
			h.end(err)
			return
		}
		h.log.Warn("event store subscription ended; resubscribing", "after", after.String(), "err", err)
		select {
		case <-time.After(h.resubscribe):
		case <-h.life.Done():
			h.end(nil)
			return
		}
	}
}

// pump hands the subscription's events to the taps until it ends, and
// returns the last one's position.
func (h *hub) pump(sub eventstore.Subscription) eventstore.Position {
	h.mu.Lock()
	last := h.pos
	h.mu.Unlock()
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return last
			}
			h.publish(decodeItem(ev))
			last = ev.Position
		case <-h.life.Done():
			return last
		}
	}
}

func (h *hub) publish(it item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = it.rec.Position
	for t := range h.taps {
		t.push(it, h.bound)
	}
}

// end closes every tap with why the hub ended.
func (h *hub) end(err error) {
	if err == nil {
		err = eventstore.ErrClosed
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil || errors.Is(h.err, eventstore.ErrClosed) {
		h.err = err
	}
	for t := range h.taps {
		t.end(err)
	}
}

func (h *hub) leave(t *tap) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.taps, t)
}

// tap is one consumer's view of the hub: the events after its position,
// in order, from the hub's queue or, when it is behind, from the store.
type tap struct {
	hub *hub

	// Owned by the consumer's goroutine.
	last     eventstore.Position // the last event taken
	backfill bool                // reading the store, not the queue
	page     []item              // read from the store, not taken yet

	mu         sync.Mutex
	queue      []item
	overflowed bool  // the queue was dropped since the last store read began
	err        error // the hub ended
	wake       chan struct{}
}

func (t *tap) push(it item, bound int) {
	t.mu.Lock()
	if len(t.queue) >= bound {
		clear(t.queue)
		t.queue, t.overflowed = t.queue[:0], true
	}
	t.queue = append(t.queue, it)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *tap) end(err error) {
	t.mu.Lock()
	t.err = err
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// waiting is how many events are ready to be taken at once (a lower bound
// while the tap reads the store).
func (t *tap) waiting() int {
	if t.backfill {
		return len(t.page)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}

// take returns the next events, at most n, waiting for one when none is
// ready, until ctx ends or stop is closed (then it returns nil and no
// error). An error means the hub ended or the store could not be read.
func (t *tap) take(ctx context.Context, stop <-chan struct{}, n int) ([]item, error) {
	for {
		if t.backfill {
			if len(t.page) == 0 {
				done, err := t.readStore(ctx)
				if err != nil {
					return nil, err
				}
				if done {
					t.backfill = false
					continue
				}
			}
			out := t.page[:min(n, len(t.page))]
			t.page = t.page[len(out):]
			t.last = out[len(out)-1].rec.Position
			return out, nil
		}
		t.mu.Lock()
		if t.overflowed {
			// Events were dropped: the store has them.
			clear(t.queue)
			t.queue, t.overflowed, t.backfill = t.queue[:0], false, true
			t.mu.Unlock()
			continue
		}
		skip := 0
		for skip < len(t.queue) && t.queue[skip].rec.Position.Compare(t.last) <= 0 {
			skip++
		}
		if len(t.queue) > skip {
			out := make([]item, min(n, len(t.queue)-skip))
			copy(out, t.queue[skip:])
			rest := copy(t.queue, t.queue[skip+len(out):])
			clear(t.queue[rest:])
			t.queue = t.queue[:rest]
			t.mu.Unlock()
			t.last = out[len(out)-1].rec.Position
			return out, nil
		}
		clear(t.queue)
		t.queue = t.queue[:0]
		err := t.err
		t.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-t.wake:
		case <-ctx.Done():
			return nil, nil
		case <-stop:
			return nil, nil
		}
	}
}

// readStore reads the next page after the tap's position into t.page.
// done means the store has nothing more and nothing was dropped from the
// queue since the read began: the queue holds every later event.
func (t *tap) readStore(ctx context.Context) (done bool, err error) {
	t.mu.Lock()
	t.overflowed = false
	t.mu.Unlock()
	recs, err := t.hub.store.ReadAll(ctx, t.last, t.hub.pageSize, t.hub.filter)
	if err != nil {
		return false, err
	}
	if len(recs) > 0 {
		t.page = make([]item, len(recs))
		for i, rec := range recs {
			t.page[i] = decodeItem(rec)
		}
		return false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.overflowed, nil
}

// leave unregisters the tap; it delivers nothing more.
func (t *tap) leave() { t.hub.leave(t) }
