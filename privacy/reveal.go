package privacy

import (
	"context"
	"errors"
	"sync"

	"github.com/rmaledger/rmaledger/eventstore"
)

// Reveal wraps the store the read models read, so that every event they
// fold has its personal fields opened (or domain.Erased once the customer
// was erased): the claim view, search and status lookup need the
// plaintext, and a rebuild after an erasure must find none. It is a store
// wrapper rather than a hook inside the projections so that their decode
// path (the largest cost of a rebuild, tuned there) stays as it is: an
// event without envelopes, which is all but registrations and deliveries,
// costs one bytes.Contains here.
//
// An envelope that does not open (ErrCorrupt: altered ciphertext) is left
// sealed and reported to onCorrupt (may be nil): the read model shows the
// envelope, never plaintext, and keeps serving, while audit verification
// reports the alteration. Any other failure (the key store not answering)
// is returned, so the projection retries instead of folding a guess.
//
// Writes pass through unchanged; the read models never write.
func Reveal(store eventstore.Store, c *Codec, onCorrupt func(eventstore.RecordedEvent, error)) eventstore.Store {
	return &revealingStore{Store: store, codec: c, onCorrupt: onCorrupt}
}

type revealingStore struct {
	eventstore.Store
	codec     *Codec
	onCorrupt func(eventstore.RecordedEvent, error)
}

// Unwrap returns the store underneath, for readers that need no personal
// data (positions, times: the projections' lag metrics) and should not pay
// for decrypting it.
func (s *revealingStore) Unwrap() eventstore.Store { return s.Store }

func (s *revealingStore) open(ctx context.Context, rec eventstore.RecordedEvent) (eventstore.RecordedEvent, error) {
	opened, err := s.codec.OpenRecord(ctx, rec)
	if errors.Is(err, ErrCorrupt) {
		if s.onCorrupt != nil {
			s.onCorrupt(rec, err)
		}
		return rec, nil
	}
	return opened, err
}

func (s *revealingStore) openAll(ctx context.Context, recs []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	for i := range recs {
		var err error
		if recs[i], err = s.open(ctx, recs[i]); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// ReadStream reads and opens.
func (s *revealingStore) ReadStream(ctx context.Context, stream string, d eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	recs, err := s.Store.ReadStream(ctx, stream, d, from, max)
	if err != nil {
		return nil, err
	}
	return s.openAll(ctx, recs)
}

// ReadAll reads and opens.
func (s *revealingStore) ReadAll(ctx context.Context, after eventstore.Position, max int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	recs, err := s.Store.ReadAll(ctx, after, max, f)
	if err != nil {
		return nil, err
	}
	return s.openAll(ctx, recs)
}

// SubscribeAll subscribes and opens each event on its way.
func (s *revealingStore) SubscribeAll(ctx context.Context, after eventstore.Position, f eventstore.Filter) (eventstore.Subscription, error) {
	inner, err := s.Store.SubscribeAll(ctx, after, f)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	// As deep a buffer as the store's own: a consumer sees how many events
	// wait (len of Events) and batches them, which an unbuffered channel
	// hid: the service's read models then applied one event per
	// transaction however far behind they were.
	sub := &revealingSubscription{inner: inner, cancel: cancel, out: make(chan eventstore.RecordedEvent, cap(inner.Events()))}
	sub.wg.Add(1)
	go func() {
		defer sub.wg.Done()
		defer close(sub.out)
		for rec := range inner.Events() {
			rec, err := s.open(ctx, rec)
			if err != nil {
				sub.mu.Lock()
				sub.err = err
				sub.mu.Unlock()
				inner.Close()
				return
			}
			select {
			case sub.out <- rec:
			case <-ctx.Done():
				return
			}
		}
	}()
	return sub, nil
}

type revealingSubscription struct {
	inner  eventstore.Subscription
	cancel context.CancelFunc
	out    chan eventstore.RecordedEvent
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error
}

func (s *revealingSubscription) Events() <-chan eventstore.RecordedEvent { return s.out }

func (s *revealingSubscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return s.inner.Err()
}

func (s *revealingSubscription) Close() error {
	s.cancel()
	err := s.inner.Close()
	s.wg.Wait()
	return err
}
