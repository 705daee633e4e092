package embedded

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
