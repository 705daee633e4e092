package embedded

import (
	"context"
	"slices"
	"sync"

	"github.com/rmaledger/rmaledger/eventstore"
)

// notifier tells subscriptions that the head moved. publish closes the
// current channel and replaces it: a broadcast that never blocks the writer,
// however many subscribers there are or however slow they are.
type notifier struct {
	mu   sync.Mutex
	head uint64
	ch   chan struct{}
}

func newNotifier(head uint64) *notifier {
	return &notifier{head: head, ch: make(chan struct{})}
}

func (n *notifier) publish(head uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.head = head
	close(n.ch)
	n.ch = make(chan struct{})
}

// wait returns the committed head and a channel closed at the next commit.
// Taking both under one lock means no commit can slip between them.
func (n *notifier) wait() (uint64, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.head, n.ch
}

func (n *notifier) current() uint64 {
	head, _ := n.wait()
	return head
}

// subscription follows $all in its own goroutine. It holds at most one page
// plus the channel buffer, whatever the subscriber's pace.
type subscription struct {
	events   chan eventstore.RecordedEvent
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	mu  sync.Mutex
	err error
}

// SubscribeAll delivers the events of $all after the position's Commit
// field: it reads stored events in pages up to the committed head, then
// sleeps until the writer announces the next commit.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position, filter eventstore.Filter) (eventstore.Subscription, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	sub := &subscription{
		events: make(chan eventstore.RecordedEvent, s.cfg.SubscriptionBuffer),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	// The caller may reuse its slices; the subscription outlives this call.
	filter = eventstore.Filter{
		StreamPrefixes: slices.Clone(filter.StreamPrefixes),
		TypePrefixes:   slices.Clone(filter.TypePrefixes),
	}
	go func() {
		defer s.inflight.Done()
		defer close(sub.done)
		defer close(sub.events)
		sub.setErr(s.follow(ctx, sub, after.Commit, filter))
	}()
	return sub, nil
}

// follow delivers events until the subscription ends; it returns why (nil
// for Close or a cancelled context).
func (s *Store) follow(ctx context.Context, sub *subscription, pos uint64, filter eventstore.Filter) error {
	for {
		head, changed := s.note.wait()
		for pos < head {
			page, ok := s.tail.read(pos, head, s.cfg.PageSize, filter)
			var err error
			if !ok {
				page, err = s.readAll(ctx, pos, head, s.cfg.PageSize, filter)
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			for _, ev := range page {
				select {
				case sub.events <- ev:
				case <-ctx.Done():
					return nil
				case <-sub.stop:
					return nil
				case <-s.closing:
					return eventstore.ErrClosed
				}
			}
			if len(page) < s.cfg.PageSize {
				pos = head // the filter selected nothing more up to head
			} else {
				pos = page[len(page)-1].Position.Commit
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		case <-sub.stop:
			return nil
		case <-s.closing:
			return eventstore.ErrClosed
		}
	}
}

// Events delivers the events in $all order; it is closed when the
// subscription ends.
func (sub *subscription) Events() <-chan eventstore.RecordedEvent { return sub.events }

// Err tells why the subscription ended: nil while it runs, after Close and
// after a cancelled context; ErrClosed when the store closed.
func (sub *subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

func (sub *subscription) setErr(err error) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.err = err
}

// Close ends the subscription and waits for its goroutine.
func (sub *subscription) Close() error {
	sub.stopOnce.Do(func() { close(sub.stop) })
	<-sub.done
	return nil
}
