package projections

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
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

// takeAll takes n events from the tap, failing after five seconds.
func takeAll(t *testing.T, tp *tap, n int) []item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []item
	for len(out) < n {
		items, err := tp.take(ctx, nil, 3)
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

func sameEvents(t *testing.T, what string, got []item, want []eventstore.RecordedEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].rec.ID != want[i].ID || got[i].err != nil || got[i].event == nil {
			t.Fatalf("%s: event %d is %s (decoded %v, %v), want %s", what, i, got[i].rec.ID, got[i].event != nil, got[i].err, want[i].ID)
		}
	}
}

// TestHubDeliversEveryEventToEveryTapFromOneSubscription: taps share one
// store subscription; a tap that falls behind past its bound, and one that
// joins behind the hub, read the store and still get every event once, in
// order.
func TestHubDeliversEveryEventToEveryTapFromOneSubscription(t *testing.T) {
	w := newWorld(t)
	w.register(0, 2)
	store := &countingStore{Store: w.store}
	h := newHub(store, claimFilter, 8, 4, time.Millisecond, quiet)
	defer h.close()
	join := func(after eventstore.Position) *tap {
		t.Helper()
		tp, err := h.join(after)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	fast, other, slow := join(eventstore.Start), join(eventstore.Start), join(eventstore.Start)
	first := allClaimEvents(t, w.store)
	sameEvents(t, "a tap", takeAll(t, fast, len(first)), first)
	sameEvents(t, "another tap", takeAll(t, other, len(first)), first)

	w.register(2, 3) // the slow tap takes nothing meanwhile: its queue overflows
	all := allClaimEvents(t, w.store)
	sameEvents(t, "the live events", takeAll(t, fast, len(all)-len(first)), all[len(first):])
	slow.mu.Lock()
	queued := len(slow.queue)
	slow.mu.Unlock()
	if queued > 8 {
		t.Fatalf("the slow tap queued %d events, want at most its bound 8", queued)
	}
	sameEvents(t, "the tap that fell behind", takeAll(t, slow, len(all)), all)

	late := join(all[3].Position)
	if !late.backfill {
		t.Fatal("a tap behind the hub must read the store first")
	}
	before := len(all)
	w.register(5, 1)
	all = allClaimEvents(t, w.store)
	sameEvents(t, "the late tap", takeAll(t, late, len(all)-4), all[4:])
	sameEvents(t, "the slow tap, live again", takeAll(t, slow, len(all)-before), all[before:])
	sameEvents(t, "the fast tap", takeAll(t, fast, len(all)-before), all[before:])

	if n := store.subscriptions.Load(); n != 1 {
		t.Errorf("four taps opened %d store subscriptions, want 1", n)
	}
	h.close()
	if _, err := fast.take(context.Background(), nil, 1); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("take after the hub closed: %v, want ErrClosed", err)
	}
}
