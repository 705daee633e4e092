package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a run started by a test start the trivial server: the
// benchmark re-executes itself for it, which in a test is the test binary.
func TestMain(m *testing.M) {
	if addr := os.Getenv(trivialEnv); addr != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := serveTrivial(ctx, addr, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestQuantileIsNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 1000; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := summarize(s)
	want := Latency{Count: 1000, MeanMS: 500.5, P50MS: 500, P99MS: 990, P999MS: 999, MaxMS: 1000}
	if got != want {
		t.Errorf("summarize(1..1000 ms) = %+v, want %+v", got, want)
	}
	if got := summarize([]time.Duration{3 * time.Millisecond}); got.P50MS != 3 || got.P999MS != 3 {
		t.Errorf("one sample: %+v", got)
	}
}

// An open loop must charge a slow server for the requests that waited
// behind it: with one worker and a handler slower than the arrival
// interval, latency from the scheduled time grows request after request,
// where the handler alone always takes 20ms.
// The delivery lag's quantiles come from the difference of two snapshots
// of the service's histogram, interpolated within the bucket.
func TestDeliveryLagFromHistogramSnapshots(t *testing.T) {
	inf := math.Inf(1)
	before := lagBuckets{bounds: []float64{0.01, 0.05, 0.1, inf}, counts: []uint64{5, 5, 5, 5}, total: 5}
	// Since before: 90 in (0, 10 ms], 9 in (10, 50 ms], 1 in (50, 100 ms].
	after := lagBuckets{bounds: []float64{0.05, 0.01, inf, 0.1}, counts: []uint64{104, 95, 105, 105}, total: 105}
	d := after.since(before)
	if d.total != 100 {
		t.Fatalf("total %d, want 100", d.total)
	}
	for _, c := range []struct{ q, value, bucket float64 }{
		{0.5, 0.5 / 0.9 * 0.01, 0.01},
		{0.9, 0.01, 0.01},
		{0.99, 0.05, 0.05},
		{0.995, 0.075, 0.1},
	} {
		v, b := d.quantile(c.q)
		if math.Abs(v-c.value) > 1e-9 || b != c.bucket {
			t.Errorf("q%.3f = %.6f in bucket %.3f, want %.6f in %.3f", c.q, v, b, c.value, c.bucket)
		}
	}
	if v, _ := (lagBuckets{}).quantile(0.99); v != 0 {
		t.Errorf("nothing observed gives %f", v)
	}
}

// TestRatioTargets: a target of the baseline's multiple is met by the ratio,
// not by the value, and never without a baseline.
func TestRatioTargets(t *testing.T) {
	ref := base("baseline.x", "the machine's limit", 1000, "req/s")
	for _, c := range []struct {
		value  float64
		target *Target
		ref    *BaselineRef
		met    bool
	}{
		{310, atLeastX(0.3), ref, true},
		{290, atLeastX(0.3), ref, false},
		{2900, atMostX(3), ref, true},
		{3100, atMostX(3), ref, false},
		{5000, atLeastX(0.3), nil, false},
		{290, atLeast(200), ref, true},
	} {
		f := figure("x", "x", c.value, "req/s", c.target, c.ref)
		if f.Met == nil || *f.Met != c.met {
			t.Errorf("%v against %+v of %v: met %v, want %v", c.value, *c.target, c.ref, f.Met, c.met)
		}
	}
}

func TestOpenLoopCountsQueueingFromTheScheduledTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	c := httpClient(1)
	run := openLoop(context.Background(), 100, 1, 500*time.Millisecond, func(ctx context.Context, i int) error {
		_, err := call(ctx, c, http.MethodGet, srv.URL, nil, nil)
		return err
	})
	if run.Requests != 50 || run.Errors != 0 {
		t.Fatalf("requests %d errors %d, want 50 and 0", run.Requests, run.Errors)
	}
	// Request 49 is due at 490ms and answered after 50 x 20ms = 1s at the
	// earliest: about 500ms late.
	if run.Latency.MaxMS < 400 {
		t.Errorf("max latency %.1f ms: queueing behind a slow server was not counted", run.Latency.MaxMS)
	}
	closed := closedLoop(context.Background(), 1, 300*time.Millisecond, func(ctx context.Context, _ int) error {
		_, err := call(ctx, c, http.MethodGet, srv.URL, nil, nil)
		return err
	})
	if closed.Latency.MaxMS > 200 {
		t.Errorf("closed loop max latency %.1f ms, want about 20", closed.Latency.MaxMS)
	}
}

func TestClosedLoopCountsErrorsApart(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, `{"type":"urn:rmaledger:problem:boom"}`, http.StatusConflict)
		}
	}))
	defer srv.Close()
	c := httpClient(2)
	run := closedLoop(context.Background(), 2, 200*time.Millisecond, func(ctx context.Context, _ int) error {
		_, err := call(ctx, c, http.MethodGet, srv.URL, nil, nil)
		return err
	})
	if run.Requests == 0 || run.Errors == 0 || !strings.Contains(run.FirstError, "409") {
		t.Errorf("requests %d errors %d first %q: want both counted and the 409 kept", run.Requests, run.Errors, run.FirstError)
	}
}

func TestFsyncBaseline(t *testing.T) {
	b, err := measureFsync(context.Background(), t.TempDir(), 200*time.Millisecond, 16)
	if err != nil {
		t.Fatal(err)
	}
	if b.Single.RecordsPerSync != 1 || b.Single.SyncsPerSec <= 0 {
		t.Errorf("single writer: %+v, want one record per sync", b.Single)
	}
	if b.Group.RecordsPerSync < 1 || b.Group.RecordsPerSec <= 0 || b.Group.Latency.Count == 0 {
		t.Errorf("group: %+v", b.Group)
	}
}

// The in-process stages on a small log: the counts must agree with each
// other (every event verified, every claim event replayed), and the hash
// chains of a log written through the ledger must verify.
func TestGenerateReplayVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	gen, refs, err := generate(ctx, dir, 400, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gen.Commands < 400 || len(refs) != gen.Claims {
		t.Fatalf("generation %+v with %d claims", gen, len(refs))
	}
	read, err := readAll(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// One event per command, plus the claim-number reservations (one per
	// 20 claims and writer) outside claim streams.
	if read.ClaimEvents != gen.Commands || read.Events <= read.ClaimEvents {
		t.Errorf("read %d events, %d in claim streams; %d commands ran", read.Events, read.ClaimEvents, gen.Commands)
	}
	rep, err := replay(ctx, dir, read.ClaimEvents)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Projections) < 2 || rep.EventsPerSec <= 0 {
		t.Errorf("replay %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(dir, "readmodels.db")); err != nil {
		t.Errorf("the replay left no read models for the service: %v", err)
	}
	v, err := verify(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.Events != read.Events {
		t.Errorf("verify %+v, want every one of %d events checked", v, read.Events)
	}
}

func TestStoreAppend(t *testing.T) {
	samples, err := sampleEvents()
	if err != nil {
		t.Fatal(err)
	}
	a, err := measureAppend(context.Background(), t.TempDir(), 4, 200*time.Millisecond, samples)
	if err != nil {
		t.Fatal(err)
	}
	if a.Events == 0 || a.Latency.Count != a.Events {
		t.Errorf("append %+v", a)
	}
}

// The report of a real quick run (testdata) is well-formed, and the schema
// catches what a broken run would produce.
func TestSchema(t *testing.T) {
	good, err := os.ReadFile("testdata/quick-report.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := validateReport(good); err != nil {
		t.Fatalf("a real report does not validate: %v", err)
	}
	mutations := map[string]func(r map[string]any){
		"a figure missing": func(r map[string]any) {
			figs := r["figures"].([]any)
			var kept []any
			for _, f := range figs {
				if f.(map[string]any)["id"] != "replay.rate" {
					kept = append(kept, f)
				}
			}
			r["figures"] = kept
		},
		"a stage missing":           func(r map[string]any) { delete(r["stages"].(map[string]any), "projection_lag") },
		"the console stage missing": func(r map[string]any) { delete(r["stages"].(map[string]any), "console") },
		"a console page figure missing": func(r map[string]any) {
			var kept []any
			for _, f := range r["figures"].([]any) {
				if f.(map[string]any)["id"] != "console.claim.p99" {
					kept = append(kept, f)
				}
			}
			r["figures"] = kept
		},
		"a rate as a string": func(r map[string]any) {
			r["stages"].(map[string]any)["replay"].(map[string]any)["events_per_s"] = "fast"
		},
		"nothing measured": func(r map[string]any) {
			r["baselines"].(map[string]any)["read_all"].(map[string]any)["events_per_s"] = 0
		},
		"a target without met": func(r map[string]any) {
			delete(r["figures"].([]any)[0].(map[string]any), "met")
			r["figures"].([]any)[0].(map[string]any)["target"] = map[string]any{"op": "<=", "value": 1}
		},
		"an unknown field": func(r map[string]any) { r["speed"] = "ludicrous" },
		"no machine":       func(r map[string]any) { delete(r, "machine") },
		"an outcome missing": func(r map[string]any) {
			delete(r["stages"].(map[string]any)["generation"].(map[string]any)["outcomes"].(map[string]any), "auto_closed")
		},
		"the wrong schema name": func(r map[string]any) { r["schema"] = "rmaledger-bench/v0" },
	}
	for name, mutate := range mutations {
		var r map[string]any
		if err := json.Unmarshal(good, &r); err != nil {
			t.Fatal(err)
		}
		mutate(r)
		bad, _ := json.Marshal(r)
		if err := validateReport(bad); err == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
	if err := validateReport([]byte(`{"schema":`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

// The whole command, at a tiny size, against the real service: the report
// it writes validates, and every stage measured something.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the service (about a minute); skipped with -short")
	}
	if raceEnabled {
		t.Skip("under the race detector this takes minutes; `make bench-quick` (CI runs it) covers the same end to end without it")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	args := []string{"--quick", "--events", "3000", "--stage", "300ms", "--commands", "500ms", "--clients", "8", "--dir", filepath.Join(dir, "work"), "--out", out}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateReport(data); err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Stages.Commands.Errors != 0 || r.Stages.Lag.Errors != 0 {
		t.Errorf("commands failed: %s %s", r.Stages.Commands.FirstError, r.Stages.Lag.FirstError)
	}
	for _, s := range r.Stages.Status {
		if s.Errors != 0 {
			t.Errorf("status lookups at %d/s failed: %s", s.Rate, s.FirstError)
		}
	}
	for _, p := range []LoadRun{r.Stages.Console.Queue, r.Stages.Console.Claim} {
		if p.Errors != 0 || p.Requests == 0 {
			t.Errorf("console pages: %d answered, %d failed: %s", p.Requests, p.Errors, p.FirstError)
		}
	}
	// The stage's commands move claims through customer-visible steps:
	// the outbox sends their e-mail to the benchmark's SMTP server.
	if d := r.Stages.Lag.Delivery; d == nil || d.Messages == 0 || d.Received < d.Messages || d.P99MS <= 0 {
		t.Errorf("no delivery measured: %+v", d)
	}
	if !strings.Contains(stdout.String(), "commands over HTTP") || !strings.Contains(stdout.String(), "console claim page") {
		t.Errorf("no table printed:\n%s", stdout.String())
	}
	var validated bytes.Buffer
	if err := run(context.Background(), []string{"validate", out}, &validated, &validated); err != nil {
		t.Errorf("validate: %v", err)
	}
}
