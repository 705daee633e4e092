package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	heap       float64 // bytes in use, garbage included
	live       float64 // bytes in use right after a full collection
	rss        float64
	cpu        float64 // the service's CPU seconds so far
	// latencies are the window's acknowledged commands' latencies, sorted.
	latencies []time.Duration
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

// liveHeap makes the service collect its garbage and returns the bytes
// still allocated after it (runtime.MemStats.HeapAlloc), read from the
// profiler's text heap profile. Unlike the heap in use, it does not swing
// with where the collector happens to be in its cycle, so a trend in it is
// a trend in what the service keeps.
func liveHeap(t *testing.T, debugAddr string) float64 {
	t.Helper()
	res, err := http.Get("http://" + debugAddr + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewScanner(res.Body)
	lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "# HeapAlloc = "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("heap profile: HeapAlloc %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("heap profile without HeapAlloc (%v)", lines.Err())
	return 0
}

// saveHeapProfile writes the service's heap profile (after a collection)
// to path, for `go tool pprof -diff_base`.
func saveHeapProfile(t *testing.T, debugAddr, path string) {
	t.Helper()
	res, err := http.Get("http://" + debugAddr + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, res.Body); err != nil {
		t.Fatal(err)
	}
}

// soakActiveClaims is how many claims are being worked on at once in the
// soak: notes go to the latest registered, each new registration takes the
// place of the oldest. At 200 commands/s, a quarter of them registrations,
// a claim stays among them for 20 s and gets three notes, so that claims
// keep their length and the load keeps its shape. Notes spread over a fixed
// set of claims would make every claim longer without end (a claim's
// answer and read-model row carry all its notes), a load that grows.
const soakActiveClaims = 1000

// TestSoak runs the service at a steady command rate and samples latency,
// goroutines, heap and RSS per window; it fails if goroutines or memory
// keep growing, or latency with them. `make soak` runs it for 10 minutes
// (RMALEDGER_SOAK=10m); `make test` runs a few seconds of it, to keep the
// harness working. RMALEDGER_SOAK_PROFILES=dir saves a heap profile per
// window there (heap-SSSS.pb.gz, SSSS the seconds since the start), to
// compare with `go tool pprof -top -diff_base first.pb.gz last.pb.gz`.
func TestSoak(t *testing.T) {
	duration, window, rate := 6*time.Second, 2*time.Second, 100
	long := os.Getenv("RMALEDGER_SOAK") != ""
	if long {
		d, err := time.ParseDuration(os.Getenv("RMALEDGER_SOAK"))
		if err != nil {
			t.Fatalf("RMALEDGER_SOAK=%q: %v", os.Getenv("RMALEDGER_SOAK"), err)
		}
		duration, window, rate = d, 30*time.Second, 200
	}
	profiles := os.Getenv("RMALEDGER_SOAK_PROFILES")
	debugAddr := freeAddr(t)
	p := start(t, t.TempDir(), "RMALEDGER_DEBUG_ADDR="+debugAddr)
	interval := time.Second / time.Duration(rate)

	var (
		mu        sync.Mutex
		latencies []time.Duration
		claims    []string // the claims being worked on, soakActiveClaims at most
		replaced  int      // registrations that took an older claim's place
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
			c = command{key: fmt.Sprint("soak-", i), body: soakRegistration(i)}
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
			switch {
			case c.claim != "":
			case len(claims) < soakActiveClaims:
				claims = append(claims, o.claim)
			default:
				claims[replaced%soakActiveClaims] = o.claim
				replaced++
			}
		})
		if time.Now().After(nextWindow) {
			mu.Lock()
			lat := slices.Clone(latencies)
			latencies = latencies[:0]
			mu.Unlock()
			slices.Sort(lat)
			g := p.gauges(t, "go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total")
			s := soakSample{at: time.Since(begin).Round(time.Second), commands: len(lat), latencies: lat,
				goroutines: g["go_goroutines"], heap: g["go_memstats_heap_inuse_bytes"], rss: g["process_resident_memory_bytes"],
				cpu: g["process_cpu_seconds_total"], live: liveHeap(t, debugAddr)}
			if len(lat) > 0 {
				s.p50, s.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
			}
			samples = append(samples, s)
			if profiles != "" {
				saveHeapProfile(t, debugAddr, filepath.Join(profiles, fmt.Sprintf("heap-%04d.pb.gz", int(s.at.Seconds()))))
			}
			nextWindow = nextWindow.Add(window)
		}
	}
	wg.Wait()

	t.Log("\n" + soakTable(duration, rate, window, samples, shed))
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
	if long { // a few seconds show no trend
		for _, problem := range soakTrends(samples) {
			t.Error(problem)
		}
		// A fourteenth of what the service sustains is no reason to refuse
		// anything; shed commands would also leave their latency out.
		if sent := int(duration / interval); shed > sent/100 {
			t.Errorf("%d of %d commands shed with 503, want at most 1%%", shed, sent)
		}
	}
}

// soakRegistration is registration for a unit of its own, as a service
// centre's registrations are: a registration looks up the repairs the
// ledger holds of its unit, and tens of thousands of claims on one unit
// are not a steady load but one that grows.
func soakRegistration(i int) string {
	return fmt.Sprintf(`{"customer":{"name":"Maria Georgieva","phone":"+359 888 123 456"},
 "product":{"category":"laptop","serial":"SN-SOAK-%d"},"purchase_date":"%s",
 "proof_of_purchase":{"kind":"receipt","reference":"R-9"},
 "price":{"amount":"899.00","currency":"BGN"},"defect":"fan noise","channel":"web"}`, i, time.Now().AddDate(0, -2, 0).Format(time.DateOnly))
}

// soakTable is the soak's report: one row per window.
func soakTable(duration time.Duration, rate int, window time.Duration, samples []soakSample, shed int) string {
	var report strings.Builder
	// CPU per command is the service's own work: unlike latency, other
	// processes on the machine barely move it.
	fmt.Fprintf(&report, "soak: %s at %d commands/s, windows of %s\n%8s %9s %9s %9s %11s %9s %9s %9s %11s\n",
		duration, rate, window, "at", "commands", "p50", "p99", "goroutines", "heap MiB", "live MiB", "RSS MiB", "CPU ms/cmd")
	var cpu float64
	for _, s := range samples {
		perCommand := 0.0
		if s.commands > 0 {
			perCommand = (s.cpu - cpu) * 1000 / float64(s.commands)
		}
		cpu = s.cpu
		fmt.Fprintf(&report, "%8s %9d %9s %9s %11.0f %9.1f %9.1f %9.1f %11.2f\n", s.at, s.commands,
			s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond), s.goroutines, s.heap/(1<<20), s.live/(1<<20), s.rss/(1<<20), perCommand)
	}
	fmt.Fprintf(&report, "%d commands shed with 503 over the run\n", shed)
	if thirds := len(samples) / 3; thirds > 0 {
		first, lastThird := percentile(samples[:thirds], 99), percentile(samples[len(samples)-thirds:], 99)
		fmt.Fprintf(&report, "p99 of the first third %s, of the last third %s\n", first.Round(10*time.Microsecond), lastThird.Round(10*time.Microsecond))
	}
	return report.String()
}

// soakGrowthSlack is how much the live heap may differ between the start
// and the end of the soak's second half without counting as growth: the
// requests in flight when it is sampled, and caches that are still filling
// the last of their bounds.
const soakGrowthSlack = 8 << 20

// soakTrends returns what the samples of a long soak show growing: the live
// heap over the second half (the median of its last third of windows
// against that of its first third, so that one window does not decide), or
// the p99 latency of the last third of the run against the first third's.
func soakTrends(samples []soakSample) []string {
	var problems []string
	second := samples[len(samples)/2:]
	if n := len(second) / 3; n > 0 {
		from, to := median(second[:n]), median(second[len(second)-n:])
		if to > from+max(soakGrowthSlack, from/10) {
			problems = append(problems, fmt.Sprintf("the live heap kept growing over the second half: from %.1f MiB at %s to %.1f MiB at %s",
				from/(1<<20), second[0].at, to/(1<<20), second[len(second)-1].at))
		}
	}
	if n := len(samples) / 3; n > 0 {
		first, last := percentile(samples[:n], 99), percentile(samples[len(samples)-n:], 99)
		if last > 2*first {
			problems = append(problems, fmt.Sprintf("p99 latency of the last third %s is more than twice the first third's %s", last, first))
		}
	}
	return problems
}

// median is the median live heap of the samples.
func median(samples []soakSample) float64 {
	live := make([]float64, len(samples))
	for i, s := range samples {
		live[i] = s.live
	}
	slices.Sort(live)
	return live[len(live)/2]
}

// percentile is the q-th percentile of the latencies of all the samples.
func percentile(samples []soakSample, q int) time.Duration {
	var all []time.Duration
	for _, s := range samples {
		all = append(all, s.latencies...)
	}
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	return all[len(all)*q/100]
}

// The soak's verdict: a live heap that levels off and a steady latency
// pass; a heap still growing in the second half, or a p99 that doubles,
// fail it.
func TestSoakTrends(t *testing.T) {
	const MiB = 1 << 20
	run := func(live func(i int) float64, latency func(i int) time.Duration) []soakSample {
		samples := make([]soakSample, 20)
		for i := range samples {
			s := soakSample{at: time.Duration(i+1) * 30 * time.Second, live: live(i)}
			for range 100 {
				s.latencies = append(s.latencies, 2*time.Millisecond)
			}
			s.latencies[99] = latency(i) // the p99 of the window
			samples[i] = s
		}
		return samples
	}
	steady := func(int) time.Duration { return 5 * time.Millisecond }
	for _, c := range []struct {
		name    string
		live    func(i int) float64
		latency func(i int) time.Duration
		want    []string // what the problems mention
	}{
		{"level", func(i int) float64 { return 60 * MiB }, steady, nil},
		{"filling, then level", func(i int) float64 { return float64(min(i, 8)) * 10 * MiB }, steady, nil},
		{"level with noise", func(i int) float64 { return float64(60+(i%3)*3) * MiB }, steady, nil},
		// the 10-minute soak before the caches had byte bounds
		{"growing", func(i int) float64 { return float64(44+8*i) * MiB }, steady, []string{"live heap"}},
		{"slow growth", func(i int) float64 { return float64(60+2*i) * MiB }, steady, []string{"live heap"}},
		{"latency doubles", func(i int) float64 { return 60 * MiB },
			func(i int) time.Duration { return time.Duration(5+i) * time.Millisecond }, []string{"p99"}},
		{"latency within twice", func(i int) float64 { return 60 * MiB },
			func(i int) time.Duration { return time.Duration(5+i/4) * time.Millisecond }, nil},
	} {
		problems := soakTrends(run(c.live, c.latency))
		if len(problems) != len(c.want) {
			t.Errorf("%s: %q, want problems about %q", c.name, problems, c.want)
			continue
		}
		for i, p := range problems {
			if !strings.Contains(p, c.want[i]) {
				t.Errorf("%s: %q, want it about %s", c.name, p, c.want[i])
			}
		}
	}
}
