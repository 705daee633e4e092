package projections

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// A cache holds at most max claims and max*cacheEventsPerClaim folded
// events: long claims are evicted (the clean ones, folded longest ago)
// where short ones all fit; dirty values, the only copy of their claim's
// state, stay until written. Folding in place counts a value's growth.
func TestCacheEventBound(t *testing.T) {
	const claims = 10
	limit := claims * cacheEventsPerClaim
	check := func(t *testing.T, c *cache[claimEntry]) {
		t.Helper()
		sum := 0
		for k, v := range c.committed {
			if c.weights[k] != int(v.next) {
				t.Fatalf("%s counted at %d events, has %d", k, c.weights[k], v.next)
			}
			sum += int(v.next)
		}
		if sum != c.events {
			t.Fatalf("cache counts %d events, its values hold %d", c.events, sum)
		}
	}
	settle := func(c *cache[claimEntry], next uint64, keys ...string) {
		c.folded()
		for _, k := range keys {
			c.fold(k, &claimEntry{next: next})
		}
		c.settle()
	}
	keys := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprint(prefix, i))
		}
		return out
	}
	written := func(c *cache[claimEntry]) {
		c.toFlush(0)
		c.clean()
	}

	t.Run("short claims all fit", func(t *testing.T) {
		c := newCache[claimEntry](claims)
		settle(c, 12, keys("short-", claims)...)
		written(c)
		settle(c, 13, "short-0") // a settle after the write evicts if over
		if len(c.committed) != claims || c.events != 12*claims+1 {
			t.Errorf("%d claims, %d events: want all %d claims kept", len(c.committed), c.events, claims)
		}
		check(t, c)
	})

	t.Run("long claims are evicted by events", func(t *testing.T) {
		c := newCache[claimEntry](claims)
		long := keys("long-", claims)
		settle(c, 100, long...) // 1,000 events, all dirty: none may go
		if len(c.committed) != claims {
			t.Fatalf("%d dirty claims kept, want all %d", len(c.committed), claims)
		}
		written(c)
		settle(c, 101, long[claims-1]) // folded last, so kept
		if c.events > limit || len(c.committed) == 0 {
			t.Fatalf("%d claims of %d events after settling, want at most %d events", len(c.committed), c.events, limit)
		}
		if _, ok := c.get(long[claims-1]); !ok {
			t.Error("the claim folded last was evicted")
		}
		check(t, c)
	})

	t.Run("in place", func(t *testing.T) {
		c := newCache[claimEntry](claims)
		c.inPlace = true
		v := &claimEntry{next: 1}
		c.folded()
		c.fold("grows", v)
		for range 2 * limit {
			c.folded()
			v.next++
			c.fold("grows", v)
		}
		written(c)
		c.settle()
		if c.events > limit {
			t.Errorf("a claim grown in place to %d events is still cached (%d counted)", v.next, c.events)
		}
		check(t, c)
	})

	t.Run("discard", func(t *testing.T) {
		c := newCache[claimEntry](claims)
		settle(c, 5, keys("a-", 3)...)
		written(c)
		c.folded()
		c.fold("a-0", &claimEntry{next: 6})
		c.discard()
		if len(c.committed) != 2 || c.events != 10 {
			t.Errorf("after a discard: %d claims of %d events, want 2 of 10", len(c.committed), c.events)
		}
		check(t, c)
	})
}

// What a folded event costs in a cached claim state, measured on the
// fixture's claims (their whole lifecycles) and on claims of a hundred
// notes: the bytes per event that cacheEventsPerClaim's bound counts hold
// both.
func TestCachedEventSize(t *testing.T) {
	const budgetPerEvent = 512 // bytes, as cacheEventsPerClaim's bound counts them
	w := newWorld(t)
	ctx := context.Background()
	lifecycles := w.register(0, 100)
	var notes []claimInfo
	for i := range 10 {
		res, err := w.ledger.Register(ctx, registration(1000+i), req)
		if err != nil {
			t.Fatal(err)
		}
		for n := range 99 {
			note := &domain.AddNote{Text: fmt.Sprintf("called the customer about the courier, attempt %d", n), Visibility: domain.VisibilityInternal}
			if _, err := w.ledger.Execute(ctx, res.Claim.ID, note, req); err != nil {
				t.Fatal(err)
			}
		}
		notes = append(notes, claimInfo{id: res.Claim.ID})
	}
	for _, c := range []struct {
		name   string
		claims []claimInfo
	}{{"lifecycles", lifecycles}, {"a hundred notes", notes}} {
		t.Run(c.name, func(t *testing.T) {
			var items [][]item
			for _, claim := range c.claims {
				recs, err := w.store.ReadStream(ctx, eventlog.Claims.Stream(claim.id), eventstore.Forwards, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				var its []item
				for _, r := range recs {
					its = append(its, decodeItem(r))
				}
				items = append(items, its)
			}
			cache := newCache[claimEntry](len(c.claims))
			cache.folded()
			for i, its := range items {
				var e claimEntry
				for _, it := range its {
					e = claimEntry{state: domain.Evolve(e.state, it.event), next: it.rec.Revision + 1}
				}
				cache.fold(fmt.Sprint(i), &e)
			}
			cache.settle()
			items = nil
			events := cache.events
			// What the cache holds is what emptying it gives back.
			var full, empty runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&full)
			cache.toFlush(0)
			cache.clean()
			cache.max = 0
			cache.evict()
			runtime.GC()
			runtime.ReadMemStats(&empty)
			if len(cache.committed) != 0 {
				t.Fatalf("%d claims left after evicting all", len(cache.committed))
			}
			heap := int(full.HeapAlloc) - int(empty.HeapAlloc)
			perEvent := heap / events
			t.Logf("%d claims of %d events: %d bytes, %d an event", len(c.claims), events, heap, perEvent)
			if perEvent > budgetPerEvent {
				t.Errorf("a cached event costs %d bytes, the memory budget counts %d", perEvent, budgetPerEvent)
			}
		})
	}
}
