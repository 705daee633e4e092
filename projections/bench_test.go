package projections

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
)

// BenchmarkProjectionLag appends realistic claim events, one per append as
// the ledger does, at a steady 2,000 events/s from many concurrent clients
// on many claims, and measures how long each takes to become visible in
// every read model (WaitFor with no names: claims and status). "lag" starts
// when Append returns (the moment the API could answer with the position),
// "e2e" when Append is called (so it includes the store's fsync). b.N is the
// number of events; run it with -benchtime=20000x for ten seconds of load:
//
//	go test -run='^$' -bench=ProjectionLag -benchtime=20000x ./projections/
func BenchmarkProjectionLag(b *testing.B) {
	const (
		rate    = 2000 // events per second
		clients = 64
	)
	dir := b.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	// A store that is not empty: 50,000 events already projected.
	fill(b, store, 0, 4000)
	r, err := New(store, Config{Dir: dir, Logger: quiet, MetricsInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	head := lastClaimPosition(b, store)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if err := r.WaitFor(ctx, head); err != nil {
		b.Fatal(err)
	}
	cancel()

	// Each client owns claims and appends their events in order; claims are
	// generated up front so that the load is the store and projections only.
	type stream struct {
		name   string
		events []eventstore.EventData
	}
	work := make([][]stream, clients)
	for n, c := 0, 0; n < b.N; c++ {
		id := uuid.New()
		h := history(10_000+c, id, t0.Add(time.Duration(c)*time.Second))
		work[c%clients] = append(work[c%clients], stream{name: ledger.StreamName(id), events: h})
		n += len(h)
	}
	slots := make(chan struct{})
	lag := make([]time.Duration, 0, b.N)
	e2e := make([]time.Duration, 0, b.N)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		fail error
	)
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range work[c] {
				for _, ev := range s.events {
					if _, ok := <-slots; !ok {
						return
					}
					called := time.Now()
					res, err := store.Append(context.Background(), s.name, eventstore.Any, ev)
					returned := time.Now()
					if err == nil {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						err = r.WaitFor(ctx, res.Position)
						cancel()
					}
					visible := time.Now()
					mu.Lock()
					if err != nil && fail == nil {
						fail = err
					}
					lag = append(lag, visible.Sub(returned))
					e2e = append(e2e, visible.Sub(called))
					mu.Unlock()
				}
			}
		}()
	}
	// The pacer releases event i at start + i/rate, whatever the clients'
	// progress: a steady arrival rate, not a closed loop that slows down
	// when the system does.
	for i := range b.N {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		slots <- struct{}{}
	}
	close(slots)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if fail != nil {
		b.Fatal(fail)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	slices.Sort(lag)
	slices.Sort(e2e)
	q := func(s []time.Duration, p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	b.ReportMetric(float64(len(lag))/elapsed.Seconds(), "events/s")
	b.ReportMetric(ms(q(lag, 0.50)), "lag-p50-ms")
	b.ReportMetric(ms(q(lag, 0.99)), "lag-p99-ms")
	b.ReportMetric(ms(lag[len(lag)-1]), "lag-max-ms")
	b.ReportMetric(ms(q(e2e, 0.50)), "e2e-p50-ms")
	b.ReportMetric(ms(q(e2e, 0.99)), "e2e-p99-ms")
	b.ReportMetric(0, "ns/op")
}

func lastClaimPosition(b *testing.B, store eventstore.Store) eventstore.Position {
	var last eventstore.Position
	for {
		recs, err := store.ReadAll(context.Background(), last, 4096, claimFilter)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) == 0 {
			return last
		}
		last = recs[len(recs)-1].Position
	}
}

// rebuildStore is the store of BenchmarkRebuild, filled once per process:
// generating 200,000 events takes longer than rebuilding them.
var rebuildStore struct {
	once   sync.Once
	dir    string
	events int
	err    error
}

// rebuildEvents is how many claim events BenchmarkRebuild rebuilds from.
const rebuildEvents = 200_000

// BenchmarkRebuild rebuilds each read model from position zero over
// 200,000 generated claim events (about 16,000 claims through their whole
// lifecycles) and reports events per second, per projection and for both:
//
//	go test -run='^$' -bench=Rebuild ./projections/
func BenchmarkRebuild(b *testing.B) {
	rebuildStore.once.Do(func() {
		rebuildStore.dir, rebuildStore.err = os.MkdirTemp("", "projections-bench-")
		if rebuildStore.err != nil {
			return
		}
		store, err := embedded.Open(rebuildStore.dir, embedded.Config{Logger: quiet})
		if err != nil {
			rebuildStore.err = err
			return
		}
		defer store.Close()
		for first := 0; rebuildStore.events < rebuildEvents; first += 1000 {
			rebuildStore.events += fill(b, store, first, 1000)
		}
	})
	if rebuildStore.err != nil {
		b.Fatal(rebuildStore.err)
	}
	store, err := embedded.Open(rebuildStore.dir, embedded.Config{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	r, err := New(store, Config{Dir: b.TempDir(), Logger: quiet, MetricsInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	took := make(map[string]time.Duration)
	b.ResetTimer()
	for range b.N {
		for _, name := range r.Names() {
			start := time.Now()
			if err := r.Rebuild(ctx, name); err != nil {
				b.Fatal(err)
			}
			took[name] += time.Since(start)
		}
	}
	b.StopTimer()
	events := float64(rebuildStore.events * b.N)
	var total time.Duration
	for _, name := range r.Names() {
		b.ReportMetric(events/took[name].Seconds(), name+"-events/s")
		total += took[name]
	}
	b.ReportMetric(events/total.Seconds(), "both-events/s")
	b.ReportMetric(float64(rebuildStore.events), "events")
}
