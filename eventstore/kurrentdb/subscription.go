package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kdb "github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/rmaledger/rmaledger/eventstore"
)

// cursor is the position of the last event taken from $all, and the filter
// that keeps an event from being taken twice. After a resubscription the
// server may send again what it sent before the drop (and a read from a
// position includes the event at it); $all is totally ordered, so anything
// at or before the cursor has been seen.
type cursor struct {
	pos eventstore.Position
	set bool // false until the first event when starting from Start
}

func newCursor(after eventstore.Position) *cursor {
	return &cursor{pos: after, set: after != eventstore.Start}
}

// from is where to read or subscribe from to continue after the cursor.
func (c *cursor) from() kdb.AllPosition { return allFrom(c.pos) }

// advance moves the cursor to p and reports true if p lies after it; an
// event at or before the cursor is a duplicate and leaves it unchanged.
func (c *cursor) advance(p eventstore.Position) bool {
	if c.set && p.Compare(c.pos) <= 0 {
		return false
	}
	c.pos, c.set = p, true
	return true
}

// backoff doubles d, between lo and hi.
func backoff(d, lo, hi time.Duration) time.Duration {
	return min(max(2*d, lo), hi)
}

// subscription delivers $all through one goroutine (run) that owns the
// client subscription and reopens it when it drops.
type subscription struct {
	store  *Store
	filter eventstore.Filter
	events chan eventstore.RecordedEvent
	ctx    context.Context // ends with the caller's context, Close or the store
	cancel context.CancelFunc
	parent context.Context // the caller's, to tell its cancellation from the store's
	done   chan struct{}

	mu     sync.Mutex
	err    error
	closed bool // Close was called
}

// SubscribeAll opens a catch-up subscription to $all after the position,
// with the filter applied by the server where it can (see serverFilter) and
// completed here. The first subscription is opened before SubscribeAll
// returns, so an unreachable server is reported at once. Afterwards a drop
// is repaired: the subscription is reopened, with exponential backoff
// between attempts, from the last event taken, and events at or before it
// are dropped, so the consumer sees no gap and no duplicate. Checkpoint and
// caught-up messages are not events and are ignored.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (eventstore.Subscription, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	subCtx, cancel := context.WithCancel(ctx)
	stopWithStore := context.AfterFunc(s.ctx, cancel)
	sub := &subscription{
		store:  s,
		filter: filter,
		events: make(chan eventstore.RecordedEvent, s.cfg.SubscriptionBuffer),
		ctx:    subCtx,
		cancel: func() { stopWithStore(); cancel() },
		parent: ctx,
		done:   make(chan struct{}),
	}
	cur := newCursor(after)
	ksub, err := sub.open(cur)
	if err != nil {
		sub.cancel()
		if s.ctx.Err() != nil {
			return nil, eventstore.ErrClosed
		}
		return nil, err
	}
	// Register under the lock Close takes, so no subscription starts after
	// Close has begun waiting for them.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ksub.Close()
		sub.cancel()
		return nil, eventstore.ErrClosed
	}
	s.subs.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.subs.Done()
		sub.run(ksub, cur)
	}()
	return sub, nil
}

// open subscribes to $all after the cursor. The attempt is bounded by
// Config.ConnectTimeout although the subscription itself lives on sub.ctx:
// the client may wait for a node without end, and then the attempt is
// abandoned and whatever it yields later is closed.
func (sub *subscription) open(cur *cursor) (*kdb.Subscription, error) {
	opts := kdb.SubscribeToAllOptions{From: cur.from(), Filter: serverFilter(sub.filter)}
	type result struct {
		ksub *kdb.Subscription
		err  error
	}
	results := make(chan result, 1)
	timeout, cancel := context.WithTimeout(sub.ctx, sub.store.cfg.ConnectTimeout)
	defer cancel()
	err := sub.store.call(timeout, func(c *kdb.Client) error {
		ksub, err := c.SubscribeToAll(sub.ctx, opts)
		results <- result{ksub, err}
		return err
	})
	switch {
	case err == nil:
		return (<-results).ksub, nil
	case errors.Is(err, eventstore.ErrClosed), errors.Is(err, eventstore.ErrUnavailable):
		return nil, err // refused by acquire: the call never started, nothing to reap
	}
	go func() { // the call may still succeed after we gave up on it
		if r := <-results; r.ksub != nil {
			r.ksub.Close()
		}
	}()
	if errors.Is(err, context.DeadlineExceeded) && sub.ctx.Err() == nil {
		return nil, fmt.Errorf("%w: kurrentdb: no subscription to $all within %s",
			eventstore.ErrUnavailable, sub.store.cfg.ConnectTimeout)
	}
	return nil, sub.store.mapError(sub.ctx, err, opSubscribe)
}

// run delivers from ksub and reopens the subscription after a drop, until
// the context ends or an error that retrying cannot cure.
func (sub *subscription) run(ksub *kdb.Subscription, cur *cursor) {
	cfg := sub.store.cfg
	wait := cfg.RetryMinBackoff
	var err error
	for {
		if ksub != nil {
			started := time.Now()
			var progressed bool
			progressed, err = sub.pump(ksub, cur)
			ksub.Close()
			// A subscription that delivered, or lived long, was a good
			// connection: start the backoff over. One that drops at once
			// keeps backing off, so a flapping server is not hammered.
			if progressed || time.Since(started) >= cfg.RetryMaxBackoff {
				wait = cfg.RetryMinBackoff
			}
		}
		if sub.ctx.Err() != nil || (err != nil && !errors.Is(err, eventstore.ErrUnavailable)) {
			break
		}
		cfg.Logger.Warn("kurrentdb: subscription to $all interrupted; resubscribing",
			"after", cur.pos.String(), "backoff", wait, "err", err)
		if !sleep(sub.ctx, wait) {
			break
		}
		wait = backoff(wait, cfg.RetryMinBackoff, cfg.RetryMaxBackoff)
		ksub, err = sub.open(cur)
	}
	sub.finish(err)
}

// pump delivers events until the subscription drops or the context ends. It
// reports whether any event arrived, which proves the connection was good,
// and why the subscription dropped.
func (sub *subscription) pump(ksub *kdb.Subscription, cur *cursor) (progressed bool, err error) {
	for {
		msg := ksub.Recv()
		switch {
		case msg.SubscriptionDropped != nil:
			return progressed, sub.store.mapError(sub.ctx, msg.SubscriptionDropped.Error, opSubscribe)
		case msg.EventAppeared != nil:
			progressed = true
			rec := msg.EventAppeared.OriginalEvent()
			if rec == nil || !cur.advance(eventPosition(rec.Position)) {
				continue
			}
			if !sub.filter.Selects(rec.StreamID, rec.EventType) {
				continue
			}
			select {
			case sub.events <- recordedEvent(rec):
			case <-sub.ctx.Done():
				return progressed, sub.ctx.Err()
			}
		}
		// CheckPointReached, CaughtUp and FellBehind carry no event.
	}
}

// finish records why the subscription ended and closes Events. Err is nil
// when the consumer ended it (Close or its context) and ErrClosed when the
// store did.
func (sub *subscription) finish(err error) {
	sub.mu.Lock()
	switch {
	case sub.closed || sub.parent.Err() != nil:
		err = nil
	case sub.store.ctx.Err() != nil:
		err = eventstore.ErrClosed
	case sub.ctx.Err() != nil:
		err = nil
	}
	sub.err = err
	sub.mu.Unlock()
	if err != nil && !errors.Is(err, eventstore.ErrClosed) {
		sub.store.cfg.Logger.Error("kurrentdb: subscription to $all failed", "err", err)
	}
	sub.cancel()
	close(sub.events)
	close(sub.done)
}

// Events delivers the events in $all order.
func (sub *subscription) Events() <-chan eventstore.RecordedEvent { return sub.events }

// Err tells why the subscription ended; nil while it runs.
func (sub *subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// Close ends the subscription and waits for its goroutine.
func (sub *subscription) Close() error {
	sub.mu.Lock()
	sub.closed = true
	sub.mu.Unlock()
	sub.cancel()
	<-sub.done
	return nil
}

// sleep waits d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
