// Package feed reads the event store's live subscription once for every
// consumer in the process (the read models, the notifications outbox):
// each event is read, opened and decoded once, and handed to every
// consumer's Tap in $all order.
//
// A Tap never holds the others up: it queues what the Feed hands it, up to
// a bound; a Tap that falls further behind (a consumer catching up, or
// stopped on an event it cannot apply) drops its queue and reads the store
// itself from its own position until it is back with the Feed.
package feed

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Item is a stored event on its way to the consumers, decoded once for
// all of them.
type Item struct {
	Record eventstore.RecordedEvent
	// Event is the decoded claim event; nil for a stream whose events
	// Config.Decode does not decode.
	Event domain.Event
	// Err is why the event could not be decoded; the consumer reports it
	// when it reaches the event.
	Err error
}

// Config configures a Feed.
type Config struct {
	// Store is the store to follow (the one that opens personal data).
	Store eventstore.Store
	// Filter selects every event some consumer wants; each Tap narrows it.
	Filter eventstore.Filter
	// Decode turns a stored event into an Item, once per event.
	Decode func(eventstore.RecordedEvent) Item
	// Queue bounds the events a Tap holds before it reads the store
	// itself, PageSize events at a time.
	Queue, PageSize int
	// ResubscribeDelay is the pause before resubscribing after the store's
	// subscription broke.
	ResubscribeDelay time.Duration
	// Logger receives the Feed's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil || c.Decode == nil {
		errs = append(errs, errors.New("feed: Store and Decode are required"))
	}
	if c.Queue <= 0 || c.PageSize <= 0 || c.ResubscribeDelay <= 0 {
		errs = append(errs, errors.New("feed: Queue, PageSize and ResubscribeDelay must be positive"))
	}
	return errors.Join(errs...)
}

// Feed follows the store once for its Taps. It opens its subscription at
// the first Join, after that Tap's position.
type Feed struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	taps    map[*Tap]struct{}
	pos     eventstore.Position // the last event handed to the taps
	started bool
	err     error // why the Feed ended; nil while it runs
	life    context.Context
	stop    context.CancelFunc
	done    chan struct{}
}

// New returns a Feed; it reads nothing before the first Join.
func New(cfg Config) (*Feed, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	return &Feed{
		cfg: cfg, log: cfg.Logger, taps: map[*Tap]struct{}{}, life: life, stop: stop, done: make(chan struct{}),
	}, nil
}

// Join returns a Tap that delivers the events after after that filter
// selects (within the Feed's own Filter). The first Tap starts the Feed's
// subscription there; a later one behind the Feed reads the store until
// it reaches it.
func (f *Feed) Join(after eventstore.Position, filter eventstore.Filter) (*Tap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	t := &Tap{feed: f, filter: filter, last: after, wake: make(chan struct{}, 1)}
	if !f.started {
		f.started, f.pos = true, after
		go f.run(after)
	}
	t.backfill = after.Compare(f.pos) < 0
	f.taps[t] = struct{}{}
	return t, nil
}

// Close ends the Feed's subscription and waits for it; its Taps then
// answer eventstore.ErrClosed.
func (f *Feed) Close() {
	f.stop()
	f.mu.Lock()
	if !f.started {
		f.started = true // no subscription starts after close
		close(f.done)
	}
	if f.err == nil {
		f.err = eventstore.ErrClosed
	}
	f.mu.Unlock()
	<-f.done
}

// run follows the store from after until the Feed closes, resubscribing
// after the last event handed out when the subscription breaks.
func (f *Feed) run(after eventstore.Position) {
	defer close(f.done)
	for {
		sub, err := f.cfg.Store.SubscribeAll(f.life, after, f.cfg.Filter)
		if err == nil {
			after = f.pump(sub)
			sub.Close()
			err = sub.Err()
		}
		if f.life.Err() != nil || errors.Is(err, eventstore.ErrClosed) {
			f.end(err)
			return
		}
		f.log.Warn("event store subscription ended; resubscribing", "after", after.String(), "err", err)
		select {
		case <-time.After(f.cfg.ResubscribeDelay):
		case <-f.life.Done():
			f.end(nil)
			return
		}
	}
}

// pump hands the subscription's events to the taps until it ends, and
// returns the last one's position.
func (f *Feed) pump(sub eventstore.Subscription) eventstore.Position {
	f.mu.Lock()
	last := f.pos
	f.mu.Unlock()
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return last
			}
			f.publish(f.cfg.Decode(ev))
			last = ev.Position
		case <-f.life.Done():
			return last
		}
	}
}

func (f *Feed) publish(it Item) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pos = it.Record.Position
	for t := range f.taps {
		if t.filter.Selects(it.Record.Stream, it.Record.Type) {
			t.push(it, f.cfg.Queue)
		}
	}
}

// end closes every Tap with why the Feed ended.
func (f *Feed) end(err error) {
	if err == nil {
		err = eventstore.ErrClosed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil || errors.Is(f.err, eventstore.ErrClosed) {
		f.err = err
	}
	for t := range f.taps {
		t.end(err)
	}
}

func (f *Feed) leave(t *Tap) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.taps, t)
}

// Tap is one consumer's view of the Feed: the events after its position
// that its filter selects, in order, from the Feed's queue or, when it is
// behind, from the store. One goroutine takes from it.
type Tap struct {
	feed   *Feed
	filter eventstore.Filter

	// Owned by the consumer's goroutine.
	last     eventstore.Position // the last event taken
	backfill bool                // reading the store, not the queue
	page     []Item              // read from the store, not taken yet

	mu         sync.Mutex
	queue      []Item
	overflowed bool  // the queue was dropped since the last store read began
	err        error // the Feed ended
	wake       chan struct{}
}

func (t *Tap) push(it Item, bound int) {
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

func (t *Tap) end(err error) {
	t.mu.Lock()
	t.err = err
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Waiting is how many events are ready to be taken at once (a lower bound
// while the Tap reads the store).
func (t *Tap) Waiting() int {
	if t.backfill {
		return len(t.page)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}

// Take returns the next events, at most n, waiting for one when none is
// ready, until ctx ends or stop is closed (then it returns nil and no
// error). An error means the Feed ended or the store could not be read.
func (t *Tap) Take(ctx context.Context, stop <-chan struct{}, n int) ([]Item, error) {
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
			t.last = out[len(out)-1].Record.Position
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
		for skip < len(t.queue) && t.queue[skip].Record.Position.Compare(t.last) <= 0 {
			skip++
		}
		if len(t.queue) > skip {
			out := make([]Item, min(n, len(t.queue)-skip))
			copy(out, t.queue[skip:])
			rest := copy(t.queue, t.queue[skip+len(out):])
			clear(t.queue[rest:])
			t.queue = t.queue[:rest]
			t.mu.Unlock()
			t.last = out[len(out)-1].Record.Position
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

// readStore reads the next page after the Tap's position into t.page.
// done means the store has nothing more and nothing was dropped from the
// queue since the read began: the queue holds every later event.
func (t *Tap) readStore(ctx context.Context) (done bool, err error) {
	t.mu.Lock()
	t.overflowed = false
	t.mu.Unlock()
	recs, err := t.feed.cfg.Store.ReadAll(ctx, t.last, t.feed.cfg.PageSize, t.both())
	if err != nil {
		return false, err
	}
	if len(recs) > 0 {
		t.page = make([]Item, len(recs))
		for i, rec := range recs {
			t.page[i] = t.feed.cfg.Decode(rec)
		}
		return false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.overflowed, nil
}

// Leave unregisters the Tap; it delivers nothing more.
func (t *Tap) Leave() { t.feed.leave(t) }

// both is the Tap's filter within the Feed's: the events the Tap would
// have been handed.
func (t *Tap) both() eventstore.Filter {
	f := t.feed.cfg.Filter
	if len(t.filter.StreamPrefixes) > 0 {
		f.StreamPrefixes = t.filter.StreamPrefixes
	}
	if len(t.filter.TypePrefixes) > 0 {
		f.TypePrefixes = t.filter.TypePrefixes
	}
	return f
}
