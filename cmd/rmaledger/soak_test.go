package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// soakSample is one window of the soak run.
type soakSample struct {
	at         time.Duration
	commands   int
	p50, p99   time.Duration
	goroutines float64
	heap       float64 // bytes in use
	rss        float64
}

// gauges reads gauges from the service's /metrics.
func (p *process) gauges(t *testing.T, names ...string) map[string]float64 {
	t.Helper()
	res, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, name := range names {
		f, ok := families[name]
		if !ok || len(f.Metric) == 0 {
			t.Fatalf("/metrics lacks %s", name)
		}
		m := f.Metric[0]
		switch {
		case m.Gauge != nil:
			out[name] = m.Gauge.GetValue()
		case m.Counter != nil:
			out[name] = m.Counter.GetValue()
		}
	}
	return out
}

// TestSoak runs the service at a steady command rate and samples latency,
// goroutines, heap and RSS per window; it fails if goroutines or memory
// keep growing. `make soak` runs it for 10 minutes (RMALEDGER_SOAK=10m);
// `make test` runs a few seconds of it, to keep the harness working.
func TestSoak(t *testing.T) {
	duration, window, rate := 6*time.Second, 2*time.Second, 100
	if v := os.Getenv("RMALEDGER_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("RMALEDGER_SOAK=%q: %v", v, err)
		}
		duration, window, rate = d, 30*time.Second, 200
	}
	p := start(t, t.TempDir())
	interval := time.Second / time.Duration(rate)

	var (
		mu        sync.Mutex
		latencies []time.Duration
		claims    []string
		shed      int
		wg        sync.WaitGroup
	)
	var samples []soakSample
	begin := time.Now()
	nextWindow := begin.Add(window)
	for i := 0; ; i++ {
		scheduled := begin.Add(time.Duration(i) * interval)
		if scheduled.Sub(begin) >= duration {
			break
		}
		time.Sleep(time.Until(scheduled))
		mu.Lock()
		var c command
		// Register until there are enough claims that notes rarely race
		// on one claim; then three notes to a registration.
		if len(claims) >= 50 && i%4 != 0 {
			c = command{key: fmt.Sprint("soak-", i), claim: claims[i%len(claims)], action: "add-note", body: `{"text":"soak","visibility":"internal"}`}
		} else {
			c = command{key: fmt.Sprint("soak-", i), body: registration}
		}
		mu.Unlock()
		wg.Go(func() {
			o, err := p.command(context.Background(), c)
			took := time.Since(scheduled)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("soak command %s: %v", c.key, err)
				return
			}
			if !o.acked { // shed with 503 (or no answer): counted, not a failure
				shed++
				return
			}
			latencies = append(latencies, took)
			if c.claim == "" && len(claims) < 1000 {
				claims = append(claims, o.claim)
			}
		})
		if time.Now().After(nextWindow) {
			mu.Lock()
			lat := slices.Clone(latencies)
			latencies = latencies[:0]
			mu.Unlock()
			slices.Sort(lat)
			g := p.gauges(t, "go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes")
			s := soakSample{at: time.Since(begin).Round(time.Second), commands: len(lat),
				goroutines: g["go_goroutines"], heap: g["go_memstats_heap_inuse_bytes"], rss: g["process_resident_memory_bytes"]}
			if len(lat) > 0 {
				s.p50, s.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
			}
			samples = append(samples, s)
			nextWindow = nextWindow.Add(window)
		}
	}
	wg.Wait()

	var report strings.Builder
	fmt.Fprintf(&report, "soak: %s at %d commands/s, windows of %s\n%8s %9s %9s %9s %11s %9s %9s\n",
		duration, rate, window, "at", "commands", "p50", "p99", "goroutines", "heap MiB", "RSS MiB")
	for _, s := range samples {
		fmt.Fprintf(&report, "%8s %9d %9s %9s %11.0f %9.1f %9.1f\n", s.at, s.commands,
			s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond), s.goroutines, s.heap/(1<<20), s.rss/(1<<20))
	}
	fmt.Fprintf(&report, "%d commands shed with 503 over the run\n", shed)
	t.Log("\n" + report.String())
	if len(samples) < 2 {
		t.Fatalf("%d windows sampled, want at least 2", len(samples))
	}
	// The first window is warm-up (caches, connection pools); after it,
	// nothing may keep growing.
	base, last := samples[1], samples[len(samples)-1]
	if last.goroutines > 2*base.goroutines+50 {
		t.Errorf("goroutines grew from %.0f to %.0f", base.goroutines, last.goroutines)
	}
	if last.heap > 3*base.heap+64<<20 {
		t.Errorf("heap grew from %.0f MiB to %.0f MiB", base.heap/(1<<20), last.heap/(1<<20))
	}
}
