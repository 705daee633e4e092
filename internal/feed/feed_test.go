package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

// countingStore counts the subscriptions opened on the store.
type countingStore struct {
	eventstore.Store
	subscriptions atomic.Int32
}

func (c *countingStore) SubscribeAll(ctx context.Context, after eventstore.Position, f eventstore.Filter) (eventstore.Subscription, error) {
	c.subscriptions.Add(1)
	return c.Store.SubscribeAll(ctx, after, f)
}

type world struct {
	t       *testing.T
	store   *embedded.Store
	decodes atomic.Int32
	n       int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &world{t: t, store: store}
}

// append appends n events, alternating between a claim stream and a link
// stream.
func (w *world) append(n int) {
	w.t.Helper()
	for range n {
		stream := fmt.Sprintf("claim-%d", w.n%3)
		if w.n%2 == 1 {
			stream = fmt.Sprintf("portal-link-%d", w.n%3)
		}
		w.n++
		ev := eventstore.EventData{ID: uuid.New(), Type: "test.happened.v1", Data: []byte(`{}`)}
		if _, err := w.store.Append(context.Background(), stream, eventstore.Any, ev); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) decode(rec eventstore.RecordedEvent) Item {
	w.decodes.Add(1)
	return Item{Record: rec}
}

// events lists the store's events that filter selects.
func (w *world) events(filter eventstore.Filter) []eventstore.RecordedEvent {
	w.t.Helper()
	recs, err := w.store.ReadAll(context.Background(), eventstore.Start, 10_000, filter)
	if err != nil {
		w.t.Fatal(err)
	}
	return recs
}

// takeAll takes n events from the tap, failing after five seconds.
func takeAll(t *testing.T, tp *Tap, n int) []Item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []Item
	for len(out) < n {
		items, err := tp.Take(ctx, nil, 3)
		if err != nil {
			t.Fatal(err)
		}
		if items == nil {
			t.Fatalf("took %d events in 5s, want %d", len(out), n)
		}
		out = append(out, items...)
	}
	return out
}

func sameEvents(t *testing.T, what string, got []Item, want []eventstore.RecordedEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Record.ID != want[i].ID {
			t.Fatalf("%s: event %d is %s, want %s", what, i, got[i].Record.ID, want[i].ID)
		}
	}
}

var (
	everything = eventstore.Filter{StreamPrefixes: []string{"claim-", "portal-link-"}}
	claims     = eventstore.Filter{StreamPrefixes: []string{"claim-"}}
)

// TestEveryTapGetsEveryEventFromOneSubscriptionAndOneDecode: taps share
// one store subscription and one decode of each event; each gets the
// events its filter selects; a tap that falls behind past its bound, and
// one that joins behind the feed, read the store and still get every
// event once, in order.
func TestEveryTapGetsEveryEventFromOneSubscriptionAndOneDecode(t *testing.T) {
	w := newWorld(t)
	w.append(6)
	store := &countingStore{Store: w.store}
	f, err := New(Config{Store: store, Filter: everything, Decode: w.decode, Queue: 8, PageSize: 4, ResubscribeDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	join := func(after eventstore.Position, filter eventstore.Filter) *Tap {
		t.Helper()
		tp, err := f.Join(after, filter)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	all, claimsOnly, slow := join(eventstore.Start, everything), join(eventstore.Start, claims), join(eventstore.Start, everything)
	sameEvents(t, "a tap", takeAll(t, all, 6), w.events(everything))
	sameEvents(t, "a tap of claims", takeAll(t, claimsOnly, 3), w.events(claims))
	if n := w.decodes.Load(); n != 6 {
		t.Errorf("6 events to three taps were decoded %d times, want 6", n)
	}

	w.append(30) // the slow tap takes nothing meanwhile: its queue overflows
	every := w.events(everything)
	sameEvents(t, "the live events", takeAll(t, all, 30), every[6:])
	slow.mu.Lock()
	queued := len(slow.queue)
	slow.mu.Unlock()
	if queued > 8 {
		t.Fatalf("the slow tap queued %d events, want at most its bound 8", queued)
	}
	sameEvents(t, "the tap that fell behind", takeAll(t, slow, len(every)), every)
	sameEvents(t, "the live claims", takeAll(t, claimsOnly, 15), w.events(claims)[3:])

	late := join(every[3].Position, claims)
	if !late.backfill {
		t.Fatal("a tap behind the feed must read the store first")
	}
	w.append(4)
	every = w.events(everything)
	var wantLate []eventstore.RecordedEvent
	for _, rec := range every[4:] {
		if claims.Selects(rec.Stream, rec.Type) {
			wantLate = append(wantLate, rec)
		}
	}
	sameEvents(t, "the late tap", takeAll(t, late, len(wantLate)), wantLate)
	sameEvents(t, "the slow tap, live again", takeAll(t, slow, 4), every[36:])
	sameEvents(t, "the first tap", takeAll(t, all, 4), every[36:])

	if n := store.subscriptions.Load(); n != 1 {
		t.Errorf("four taps opened %d store subscriptions, want 1", n)
	}
	f.Close()
	if _, err := all.Take(context.Background(), nil, 1); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Take after the feed closed: %v, want ErrClosed", err)
	}
	if _, err := f.Join(eventstore.Start, claims); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Join after the feed closed: %v, want ErrClosed", err)
	}
}

// TestCloseWithoutJoin: a feed closed before anything joined (the service
// stopped during its start) closes at once, however often it is closed.
func TestCloseWithoutJoin(t *testing.T) {
	w := newWorld(t)
	f, err := New(Config{Store: w.store, Filter: everything, Decode: w.decode, Queue: 8, PageSize: 4, ResubscribeDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		f.Close()
		f.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close of a feed nothing joined did not return")
	}
}
