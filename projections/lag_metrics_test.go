package projections

import (
	"context"

	"sync/atomic"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
)

// wrapped stands for privacy.Reveal: a store whose reads cost (decrypt)
// and that unwraps to the raw one. The lag must never read through it.
type wrapped struct {
	eventstore.Store
	reads atomic.Int64
}

func (w *wrapped) ReadAll(ctx context.Context, after eventstore.Position, max int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	w.reads.Add(1)
	return w.Store.ReadAll(ctx, after, max, f)
}

func (w *wrapped) Unwrap() eventstore.Store { return w.Store }

// rawCounting counts the events the raw store hands out.
type rawCounting struct {
	eventstore.Store
	events atomic.Int64
}

func (c *rawCounting) ReadAll(ctx context.Context, after eventstore.Position, max int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	recs, err := c.Store.ReadAll(ctx, after, max, f)
	c.events.Add(int64(len(recs)))
	return recs, err
}

// The lag gauges the metrics loop keeps agree with Status, are capped at
// the scan limit, fall to zero once the projections caught up, read only
// what was appended since the last refresh, and never read through the
// wrapper that decrypts.
func TestLagMetrics(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.register(0, 5)
	raw := &rawCounting{Store: w.store}
	top := &wrapped{Store: raw}
	cfg := testConfig(t.TempDir())
	r := newRunner(t, top, cfg)
	events := len(allClaimEvents(t, w.store))

	var win lagWindow
	if err := r.refreshLag(ctx, &win); err != nil {
		t.Fatal(err)
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		lag, secs := counter(t, r.met.lagEvents.WithLabelValues(s.Name)), counter(t, r.met.lagSeconds.WithLabelValues(s.Name))
		if lag != float64(events) || s.LagEvents != events || secs <= 0 {
			t.Fatalf("%s before start: gauge %v events (%v s), Status %d, want %d", s.Name, lag, secs, s.LagEvents, events)
		}
	}
	if n := top.reads.Load(); n != 0 {
		t.Fatalf("%d reads through the decrypting wrapper", n)
	}
	read := raw.events.Load()
	if err := r.refreshLag(ctx, &win); err != nil {
		t.Fatal(err)
	}
	if again := raw.events.Load() - read; again != 0 {
		t.Fatalf("a refresh with nothing new read %d events again", again)
	}
	w.register(5, 1)
	read = raw.events.Load()
	if err := r.refreshLag(ctx, &win); err != nil {
		t.Fatal(err)
	}
	added := len(allClaimEvents(t, w.store)) - events
	if got := raw.events.Load() - read; got != int64(added) {
		t.Fatalf("a refresh after %d new events read %d", added, got)
	}
	if lag := counter(t, r.met.lagEvents.WithLabelValues(Claims)); lag != float64(events+added) {
		t.Fatalf("lag %v after new events, want %d", lag, events+added)
	}

	capped := cfg
	capped.Dir, capped.LagScanLimit = t.TempDir(), 7
	small := newRunner(t, w.store, capped)
	var win2 lagWindow
	if err := small.refreshLag(ctx, &win2); err != nil {
		t.Fatal(err)
	}
	if lag := counter(t, small.met.lagEvents.WithLabelValues(Claims)); lag != 7 {
		t.Fatalf("lag %v with a scan limit of 7", lag)
	}

	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, w.head())
	if err := r.refreshLag(ctx, &win); err != nil {
		t.Fatal(err)
	}
	for _, name := range r.Names() {
		if lag, secs := counter(t, r.met.lagEvents.WithLabelValues(name)), counter(t, r.met.lagSeconds.WithLabelValues(name)); lag != 0 || secs != 0 {
			t.Fatalf("%s caught up: lag %v events, %v s", name, lag, secs)
		}
	}
	if len(win.events) != 0 {
		t.Fatalf("the window keeps %d applied events", len(win.events))
	}
}
