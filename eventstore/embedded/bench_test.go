package embedded

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

// BenchmarkAppend measures durable appends of one realistic event each, every
// writer on its own claim stream with an exact expected revision, as the
// write API does. Each commit is fsynced, so the figures depend on the
// disk's fsync latency; group commit is what lets 64 writers go faster than
// one. Reported: events/s, the p50/p99 latency of an Append call in ms (queue
// wait + batch + fsync), and events per commit (the batching achieved).
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			benchmarkAppend(b, writers)
		})
	}
}

func benchmarkAppend(b *testing.B, writers int) {
	s := openStore(b, b.TempDir(), Config{})
	ctx := context.Background()
	data := []byte(`{"claim_id":"0b6f1c9e-6c43-4f7e-9a57-3f1f2e0c9d11","sku":"RT-1000","serial":"SN-0042-7781",` +
		`"reason":"dead on arrival","refund":{"minor":129900,"currency":"EUR"}}`)
	meta := []byte(`{"correlation_id":"5d0c2b0e-1f0e-4d35-8b0a-7a4e0b8f9b21","causation_id":"9a3f5e7d-2c1b-4a60-b8e9-0d7c6f5e4a32",` +
		`"actor":"agent-17","role":"agent","policy_version":"2025-01"}`)

	var issued atomic.Int64
	latencies := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			stream := "claim-" + uuid.NewString()
			expected := eventstore.NoStream
			for issued.Add(1) <= int64(b.N) {
				ev := eventstore.EventData{ID: uuid.New(), Type: "claim.noted.v1", Data: data, Metadata: meta}
				t0 := time.Now()
				res, err := s.Append(ctx, stream, expected, ev)
				latencies[w] = append(latencies[w], time.Since(t0))
				if err != nil {
					b.Error(err)
					return
				}
				expected = eventstore.Exact(res.NextExpectedRevision)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	all := slices.Concat(latencies...)
	slices.Sort(all)
	quantile := func(q float64) float64 {
		return float64(all[int(q*float64(len(all)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(quantile(0.50), "p50-ms")
	b.ReportMetric(quantile(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/float64(max(s.commits.Load(), 1)), "events/commit")
}

// BenchmarkReadAll reads $all in pages, as a projection's catch-up or
// rebuild does (page=2048), and one event per read, as a live subscription
// does when each commit holds one append (page=1), from a store of 20,000
// claim events of realistic size. One op is one event read. Run it with
// -benchmem: allocations per event are what the read path costs the
// garbage collector of a rebuild.
func BenchmarkReadAll(b *testing.B) {
	const (
		streams = 2000
		events  = 20_000
	)
	s := openStore(b, b.TempDir(), Config{})
	ctx := context.Background()
	data := []byte(`{"carrier":"Speedy","tracking_number":"SP014155","at":"2026-03-02T12:57:55Z",` +
		`"notes":"Parcel handed over at the Sofia office; the label was attached to the box."}`)
	meta := []byte(`{"correlation_id":"5d0c2b0e-1f0e-4d35-8b0a-7a4e0b8f9b21","causation_id":"9a3f5e7d-2c1b-4a60-b8e9-0d7c6f5e4a32",` +
		`"actor":"agent-17","role":"agent","policy_version":"2025-01"}`)
	names := make([]string, streams)
	for i := range names {
		names[i] = "claim-" + uuid.NewString()
	}
	// Appended in batches of one event per stream, so that a stream's
	// events are spread through $all as in a real log.
	for i := 0; i < events; i += streams {
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Go(func() {
				ev := eventstore.EventData{ID: uuid.New(), Type: "claim.customer_shipment_recorded.v1", Data: data, Metadata: meta}
				if _, err := s.Append(ctx, name, eventstore.Any, ev); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	filter := eventstore.Filter{StreamPrefixes: []string{"claim-"}}
	for _, page := range []int{2048, 1} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			after := eventstore.Start
			for n := 0; n < b.N; {
				recs, err := s.ReadAll(ctx, after, min(page, b.N-n), filter)
				if err != nil {
					b.Fatal(err)
				}
				if len(recs) == 0 {
					after = eventstore.Start
					continue
				}
				n += len(recs)
				after = recs[len(recs)-1].Position
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time the process has used, every thread and the
// garbage collector included. On a machine shared with other work it is a
// steadier measure of cost than ns/op, which also counts the time spent
// waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
