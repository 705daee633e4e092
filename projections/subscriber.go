package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/feed"
)

// Metadata keys of the messages the Subscriber delivers. The event's own
// metadata (eventlog.Metadata: actor, correlation id...) travels as its JSON
// under MetaEventMetadata, unparsed: the projections do not need it, and
// parsing it for every message cost more than the rest of the message.
const (
	MetaStream        = "stream"
	MetaRevision      = "revision"
	MetaPosition      = "position" // as eventstore.Position.String writes it
	MetaType          = "type"
	MetaEventID       = "event_id"
	MetaCreated       = "created" // RFC 3339 with nanoseconds, UTC
	MetaEventMetadata = "event_metadata"
)

// SubscriberConfig configures a Subscriber.
type SubscriberConfig struct {
	// Filter selects the events of $all to deliver.
	Filter eventstore.Filter
	// StartAfter tells where a topic's delivery starts: it is asked at every
	// (re)subscription, so that delivery always resumes right after what the
	// consumer committed, never after what it was merely sent. It may bring
	// the consumer up to date by other means first (the Runner applies a
	// backlog in batched transactions there) and return the new checkpoint.
	StartAfter func(ctx context.Context, topic string) (eventstore.Position, error)
	// OnNack is told about an event the consumer gave up on. Delivery of the
	// topic then stops, because skipping the event would make the read model
	// silently wrong, until the returned channel is closed; delivery then
	// resumes after the topic's StartAfter. A nil channel stops it until
	// Close.
	OnNack func(topic string, ev eventstore.RecordedEvent) <-chan struct{}
	// ResubscribeDelay is the pause before resubscribing after the store's
	// subscription broke (it is not retried in a tight loop).
	ResubscribeDelay time.Duration
	// Batch, when set, applies several events at once (in one
	// transaction), and Backlog says when to use it: once the consumer has
	// had one event of a subscription round, whenever at least Backlog more
	// are already waiting, they are taken together and given to Batch
	// instead of being delivered one by one. One transaction per event
	// keeps latency lowest while the consumer keeps up; when it does not,
	// batching is what lets it catch up. If Batch fails, the same events
	// are delivered one at a time as messages, so the router's Retry and a
	// nack deal with the event at fault; events Batch did commit are
	// ignored by the consumer at its checkpoint.
	Batch   func(ctx context.Context, topic string, events []item) error
	Backlog int
	// MaxBatch bounds the events given to Batch at once.
	MaxBatch int
	// Feed is the live feed shared with the process's other consumers;
	// nil makes the Subscriber its own over Filter, whose topics queue at
	// most Queue events before reading the store themselves, PageSize
	// events at a time.
	Feed            *feed.Feed
	Queue, PageSize int
	// Logger receives the subscriber's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports a configuration that cannot work.
func (c SubscriberConfig) Validate() error {
	var errs []error
	if c.StartAfter == nil {
		errs = append(errs, errors.New("projections: SubscriberConfig.StartAfter is required"))
	}
	if c.OnNack == nil {
		errs = append(errs, errors.New("projections: SubscriberConfig.OnNack is required"))
	}
	if c.ResubscribeDelay <= 0 {
		errs = append(errs, errors.New("projections: SubscriberConfig.ResubscribeDelay must be positive"))
	}
	if c.Batch != nil && (c.Backlog <= 0 || c.MaxBatch <= 0) {
		errs = append(errs, errors.New("projections: SubscriberConfig.Backlog and MaxBatch must be positive with Batch"))
	}
	if c.Feed == nil && (c.Queue <= 0 || c.PageSize <= 0) {
		errs = append(errs, errors.New("projections: SubscriberConfig.Queue and PageSize must be positive"))
	}
	return errors.Join(errs...)
}

// Subscriber is a watermill message.Subscriber over the store's $all
// subscription. A topic is a consumer's name (a projection); each Subscribe
// delivers the events after StartAfter(topic). The topics share one store
// subscription, and each event is decoded once for all of them (a
// feed.Feed, which other consumers in the process may share);
// the message carries the decoded event in its context for the handler
// (itemOf).
//
// Delivery is strictly ordered and one at a time: the next event is sent
// only after the previous message was acked. This is what lets a handler
// keep a single checkpoint and still never skip an event; it also means the
// router's per-message goroutines never run two events of a topic at once.
// The store pushes new events (no polling), so an append reaches the handler
// within a commit notification.
type Subscriber struct {
	feed *feed.Feed
	own  bool // the Subscriber made the feed, and closes it
	cfg  SubscriberConfig
	log  *slog.Logger

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber reading store.
func NewSubscriber(store eventstore.Store, cfg SubscriberConfig) (*Subscriber, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Subscriber{feed: cfg.Feed, cfg: cfg, log: cfg.Logger, closing: make(chan struct{})}
	if s.feed == nil {
		f, err := feed.New(feed.Config{
			Store: store, Filter: cfg.Filter, Decode: Decode, Queue: cfg.Queue, PageSize: cfg.PageSize,
			ResubscribeDelay: cfg.ResubscribeDelay, Logger: cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		s.feed, s.own = f, true
	}
	return s, nil
}

// Subscribe starts delivering the topic's events. The channel is closed when
// ctx ends, when Close is called or when the store closes.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	select {
	case <-s.closing:
		return nil, errors.New("projections: subscriber closed")
	default:
	}
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		s.run(ctx, topic, out)
	}()
	return out, nil
}

// Close ends every subscription and waits for their goroutines. The router
// calls it once per handler, so it is idempotent.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.wg.Wait()
	if s.own {
		s.feed.Close()
	}
	return nil
}

// run (re)subscribes until the subscriber ends. Each round starts after the
// consumer's checkpoint, so whatever ended the previous round (a broken
// store subscription, a nack followed by a resume) nothing is skipped.
func (s *Subscriber) run(ctx context.Context, topic string, out chan<- *message.Message) {
	log := s.log.With("projection", topic)
	for {
		after, err := s.cfg.StartAfter(ctx, topic)
		if err != nil {
			if s.stopped(ctx) {
				return
			}
			log.Error("cannot find where to resume delivery", "err", err)
			if !s.sleep(ctx, s.cfg.ResubscribeDelay) {
				return
			}
			continue
		}
		t, err := s.feed.Join(after, s.cfg.Filter)
		if err != nil {
			return // the feed ended: the subscriber or the store closed
		}
		resume, nacked, err := s.pump(ctx, topic, t, out)
		t.Leave()
		switch {
		case s.stopped(ctx):
			return
		case nacked:
			select { // a nil resume blocks here until the end
			case <-resume:
				log.Info("delivery resumes after a failure")
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			}
		case errors.Is(err, eventstore.ErrClosed):
			return
		default:
			log.Warn("cannot read the event store; resubscribing", "err", err)
			if !s.sleep(ctx, s.cfg.ResubscribeDelay) {
				return
			}
		}
	}
}

// pump delivers the tap's events, one at a time or, when they pile up, in
// batches. It returns when the tap or the subscriber ends (err says why the
// tap did), or after a nack: then nacked is true and resume is OnNack's
// answer.
func (s *Subscriber) pump(ctx context.Context, topic string, t *feed.Tap, out chan<- *message.Message) (resume <-chan struct{}, nacked bool, err error) {
	var retry []item // a failed batch, to deliver one by one
	for delivered := 0; ; delivered++ {
		var it item
		if len(retry) > 0 {
			it, retry = retry[0], retry[1:]
		} else {
			// The first event of a round always goes alone: if it is the
			// one a batch failed on, only a delivery of its own retries
			// and reports it.
			n := 1
			if delivered > 0 && s.cfg.Batch != nil && t.Waiting() > s.cfg.Backlog {
				n = s.cfg.MaxBatch
			}
			taken, err := t.Take(ctx, s.closing, n)
			if err != nil || taken == nil {
				return nil, false, err
			}
			items := make([]item, len(taken))
			for i, f := range taken {
				items[i] = item{rec: f.Record, event: f.Event, err: f.Err}
			}
			it = items[0]
			if len(items) > 1 {
				if err := s.cfg.Batch(ctx, topic, items); err == nil {
					continue
				}
				if s.stopped(ctx) {
					return nil, false, nil
				}
				retry = items[1:]
			}
		}
		msg := newMessage(it.rec)
		msg.SetContext(context.WithValue(ctx, itemKey{}, it))
		select {
		case out <- msg:
		case <-ctx.Done():
			return nil, false, nil
		case <-s.closing:
			return nil, false, nil
		}
		select {
		case <-msg.Acked():
		case <-msg.Nacked():
			if s.stopped(ctx) {
				// The router nacks what it could not finish while shutting
				// down; that is not the event's fault.
				return nil, false, nil
			}
			return s.cfg.OnNack(topic, it.rec), true, nil
		case <-ctx.Done():
			return nil, false, nil
		case <-s.closing:
			return nil, false, nil
		}
	}
}

// itemKey keys the decoded event in a message's context.
type itemKey struct{}

// itemOf returns the decoded event a Subscriber's message carries; a
// message from elsewhere is decoded from its payload and metadata.
func itemOf(msg *message.Message) (item, error) {
	if it, ok := msg.Context().Value(itemKey{}).(item); ok {
		return it, nil
	}
	rec, err := EventFromMessage(msg)
	if err != nil {
		return item{}, err
	}
	return decodeItem(rec), nil
}

func (s *Subscriber) stopped(ctx context.Context) bool {
	select {
	case <-s.closing:
		return true
	default:
		return ctx.Err() != nil
	}
}

// sleep waits d; false means the subscriber ended meanwhile.
func (s *Subscriber) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

// newMessage turns a stored event into a message: the UUID is the event's
// id (so that deduplicating middleware and logs speak of the same thing), the
// payload its data.
func newMessage(ev eventstore.RecordedEvent) *message.Message {
	msg := message.NewMessage(ev.ID.String(), ev.Data)
	if len(ev.Metadata) > 0 {
		msg.Metadata.Set(MetaEventMetadata, string(ev.Metadata))
	}
	msg.Metadata.Set(MetaStream, ev.Stream)
	msg.Metadata.Set(MetaRevision, strconv.FormatUint(ev.Revision, 10))
	msg.Metadata.Set(MetaPosition, ev.Position.String())
	msg.Metadata.Set(MetaType, ev.Type)
	msg.Metadata.Set(MetaEventID, ev.ID.String())
	msg.Metadata.Set(MetaCreated, ev.Created.UTC().Format(time.RFC3339Nano))
	return msg
}

// EventFromMessage rebuilds the stored event a Subscriber message carries.
// Handlers work from the message alone, as watermill intends, so that
// anything between the subscriber and the handler (middleware, a future
// broker) is free to carry it.
func EventFromMessage(msg *message.Message) (eventstore.RecordedEvent, error) {
	md := msg.Metadata
	id, err := uuid.Parse(md.Get(MetaEventID))
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("projections: message %s: event id: %w", msg.UUID, err)
	}
	revision, err := strconv.ParseUint(md.Get(MetaRevision), 10, 64)
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("projections: message %s: revision: %w", msg.UUID, err)
	}
	pos, err := eventstore.ParsePosition(md.Get(MetaPosition))
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("projections: message %s: %w", msg.UUID, err)
	}
	created, err := time.Parse(time.RFC3339Nano, md.Get(MetaCreated))
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("projections: message %s: created: %w", msg.UUID, err)
	}
	ev := eventstore.RecordedEvent{
		ID:       id,
		Stream:   md.Get(MetaStream),
		Type:     md.Get(MetaType),
		Revision: revision,
		Position: pos,
		Data:     msg.Payload,
		Created:  created,
	}
	if m := md.Get(MetaEventMetadata); m != "" {
		ev.Metadata = []byte(m)
	}
	return ev, nil
}
