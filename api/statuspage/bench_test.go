package statuspage_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStatusJSONOpenLoop sends GET /v1/status over loopback at a fixed
// arrival rate of 1,000 requests per second, open loop: request i is due at
// start + i ms whether or not earlier ones have answered, and its latency
// counts from that due time, so a stall shows in the percentiles instead of
// slowing the sender down (no coordinated omission). The service is the real
// one (embedded store, projections, API with its limiters, at limits this
// load does not reach); one in ten lookups has a wrong phone. The client
// shares the process and its cores, so its CPU is counted too; it keeps its
// connections and reads every body. The sender sleeps with a timerfd where
// there is one (see pacer). Target on the 2-core machine: p99 at or below
// 2 ms.
//
//	go test -run '^$' -bench StatusJSONOpenLoop -benchtime 10000x ./api/statuspage/
func BenchmarkStatusJSONOpenLoop(b *testing.B) {
	const rate = 1000
	s := newStack(b, nil)
	var claims []claim
	for i := range 100 {
		c := s.register(b, fmt.Sprintf("+359 888 %03d %03d", i/1000, i%1000))
		if i%10 == 0 {
			s.advance(b, c) // some claims with a full page: shipments, estimate, notes
		}
		claims = append(claims, c)
	}
	base := s.url(b)
	type target struct {
		url  string
		want int
	}
	var targets []target
	for i, c := range claims {
		typed := c.Phone
		if i%2 == 1 {
			typed = fmt.Sprintf("0888 %03d %03d", i/1000, i%1000) // national form: more candidates to hash
		}
		targets = append(targets, target{base + statusQuery(c.Number, typed), http.StatusOK})
		if i%10 == 0 {
			targets = append(targets, target{base + statusQuery(c.Number, "+359 777 000 000"), http.StatusNotFound})
		}
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
	}
	get := func(t target) error {
		res, err := client.Get(t.url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != t.want {
			return fmt.Errorf("%s: %d, want %d", t.url, res.StatusCode, t.want)
		}
		return err
	}
	// Warm up connections, caches and the limiters' maps.
	for _, t := range targets {
		if err := get(t); err != nil {
			b.Fatal(err)
		}
	}

	latencies := make([]time.Duration, b.N)
	late := make([]time.Duration, b.N) // the sender's own lateness, in the latencies too
	var failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	interval := time.Second / rate
	pace := newPacer(b)
	b.ResetTimer()
	cpu := processCPU()
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			if err := pace.sleep(wait); err != nil {
				b.Fatal(err)
			}
		}
		late[i] = time.Since(due)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := get(targets[i%len(targets)]); err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
			latencies[i] = time.Since(due)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu = processCPU() - cpu
	b.StopTimer()

	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed, e.g. %v", n, b.N, firstErr.Load())
	}
	slices.Sort(latencies)
	slices.Sort(late)
	pctOf := func(d []time.Duration, p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
	}
	pct := func(p float64) float64 { return pctOf(latencies, p) }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(0.999), "p99.9-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max-ms")
	// How late the sender itself sent, which the latencies include: a gauge
	// of how much the machine's other work delayed this process.
	b.ReportMetric(pctOf(late, 0.99), "send-late-p99-ms")
	// CPU per request, server and client together (one process): how much
	// of the two cores the target rate takes, whatever else runs.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
	if b.N >= 1000 && pct(0.99) > 2 {
		b.Logf("p99 %.2f ms is above the 2 ms target (the machine is shared: rerun before concluding)", pct(0.99))
	}
}

// BenchmarkStatusJSONSerial is one lookup at a time over loopback: its
// ns/op is the service time without queueing, what the open-loop
// percentiles add to.
func BenchmarkStatusJSONSerial(b *testing.B) {
	s := newStack(b, nil)
	c := s.register(b, "+359 888 123 456")
	s.advance(b, c)
	target := s.url(b) + statusQuery(c.Number, "0888 123 456")
	client := &http.Client{Timeout: 10 * time.Second}
	for b.Loop() {
		res, err := client.Get(target)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%d", res.StatusCode)
		}
	}
}

// BenchmarkStatusFailures compares the two failures the page must not tell
// apart, through the whole handler: their ns/op should agree within noise,
// since both read one row (or miss it) and hash every phone candidate.
func BenchmarkStatusFailures(b *testing.B) {
	s := newStack(b, nil)
	c := s.register(b, "+359 888 123 456")
	for _, tc := range []struct{ name, number, phone string }{
		{"unknown-number", "RMA-2026-999999", "0888 123 456"},
		{"wrong-phone", c.Number, "0888 123 457"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			target := statusQuery(tc.number, tc.phone)
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, target, nil)
				rec := httptest.NewRecorder()
				s.echo.ServeHTTP(rec, req)
				if rec.Code != http.StatusNotFound {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkStatusJSONHandler is one successful lookup through the whole
// echo stack (middleware, limiters, read model) without a network: its
// allocs/op is the server's share of the garbage the open-loop benchmark's
// tail pays for in GC.
func BenchmarkStatusJSONHandler(b *testing.B) {
	s := newStack(b, nil)
	c := s.register(b, "+359 888 123 456")
	s.advance(b, c)
	target := statusQuery(c.Number, "0888 123 456")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		rec := httptest.NewRecorder()
		s.echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
