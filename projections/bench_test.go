package projections

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

// BenchmarkProjectionLag appends realistic claim events, one per append as
// the ledger does, at a steady 2,000 events/s from many concurrent clients
// on many claims, and measures how long each takes to become visible in
// every read model.
//
// "lag" runs from the moment Append returns (the moment the API could answer
// with the position) to the moment the last of the projections
// published a checkpoint at or past the event (its transaction committed,
// WaitFor released). "waitfor" is what a client calling WaitFor right after
// its append observes, sampled on one event in ten: it adds the time for
// that goroutine to be scheduled again, which on two cores shared with 64
// load-generating clients is most of the difference. "e2e" runs from the
// call to Append (so it includes the store's fsync) to publication.
//
// b.N is the number of events; run it with -benchtime=20000x for ten
// seconds of load. PROJECTIONS_LAG_RATE sets another rate;
// PROJECTIONS_LAG_MODELS=claims,status runs only the read models named;
// PROJECTIONS_LAG_SPLIT=claims,status;timers,audit_trail runs each group in
// a Runner of its own, with its own database file;
// PROJECTIONS_LAG_CPUPROFILE names a file for a CPU profile of the measured
// window alone; PROJECTIONS_LAG_NOWRITES=1 runs everything but the read
// models' writes (each checkpoint is published without a transaction), so
// the lag left is the floor any storage for them starts from.
// "writer-busy-%" is the share of the time the read models' writer
// connection was in a transaction (over 100 with several files); at a
// steady rate it is what decides how long an event waits for its turn.
// "transaction-p50-ms" and its p99 and max are how long those
// transactions took: a long one holds up every event behind it.
//
//	go test -run='^$' -bench=ProjectionLag -benchtime=20000x ./projections/
func BenchmarkProjectionLag(b *testing.B) {
	const clients = 64
	rate := 2000 // events per second
	if v, err := strconv.Atoi(os.Getenv("PROJECTIONS_LAG_RATE")); err == nil && v > 0 {
		rate = v // to see how lag grows with load
	}
	dir := b.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	// A store that is not empty: about 48,000 events already projected.
	fill(b, store, 0, 4000)

	// Each projection's publications, in order: when its visible
	// checkpoint reached which position.
	type publication struct {
		pos eventstore.Position
		at  time.Time
	}
	var (
		pubMu sync.Mutex
		pubs  = map[string][]publication{}
	)
	cfg := Config{Dir: dir, Logger: quiet, MetricsInterval: time.Hour}
	if v := os.Getenv("PROJECTIONS_LAG_MODELS"); v != "" {
		cfg.only = strings.Split(v, ",") // e.g. claims,status: the lag of some read models alone
	}
	cfg.noWrites = os.Getenv("PROJECTIONS_LAG_NOWRITES") == "1"
	cfg.publishHook = func(name string, pos eventstore.Position, at time.Time) {
		pubMu.Lock()
		pubs[name] = append(pubs[name], publication{pos, at})
		pubMu.Unlock()
	}
	// The read-model writers' transactions: how long they held the
	// writer connection, and what they carried.
	var writer struct {
		sync.Mutex
		busy   time.Duration
		events int
		took   []time.Duration // each transaction's
	}
	cfg.transactHook = func(took time.Duration, events int) {
		writer.Lock()
		writer.busy += took
		writer.took = append(writer.took, took)
		writer.events += events
		writer.Unlock()
	}
	// One Runner, or with PROJECTIONS_LAG_SPLIT=claims,status;timers,...
	// one per group of read models, each with its own database file (and
	// so its own writer): what splitting the read models into files
	// would give.
	groups := [][]string{cfg.only}
	if v := os.Getenv("PROJECTIONS_LAG_SPLIT"); v != "" {
		groups = nil
		for _, g := range strings.Split(v, ";") {
			groups = append(groups, strings.Split(g, ","))
		}
	}
	head := lastClaimPosition(b, store)
	var runners []*Runner
	for gi, g := range groups {
		c := cfg
		c.only = g
		c.Dir = filepath.Join(dir, "readmodels-"+strconv.Itoa(gi))
		r, err := New(store, c)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		runners = append(runners, r)
		if err := r.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := r.WaitFor(ctx, head); err != nil {
			b.Fatal(err)
		}
		cancel()
	}

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
		work[c%clients] = append(work[c%clients], stream{name: eventlog.Claims.Stream(id), events: h})
		n += len(h)
	}
	type appended struct {
		pos              eventstore.Position
		called, returned time.Time
	}
	slots := make(chan int)
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		fail     error
		done     = make([]appended, 0, b.N)
		observed []time.Duration
	)
	pubMu.Lock()
	clear(pubs)
	pubMu.Unlock()
	writer.Lock()
	writer.busy, writer.events, writer.took = 0, 0, nil
	writer.Unlock()
	b.ResetTimer()
	stopProfile := profileWindow(b)
	start := time.Now()
	cpu := cpuTime()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range work[c] {
				for j, ev := range s.events {
					i, ok := <-slots
					if !ok {
						return
					}
					// The exact revision, as the ledger appends: Any
					// would make the store look for a retry's events
					// at the stream's tail on every append.
					expected := eventstore.NoStream
					if j > 0 {
						expected = eventstore.Exact(uint64(j - 1))
					}
					called := time.Now()
					res, err := store.Append(context.Background(), s.name, expected, ev)
					returned := time.Now()
					if err == nil && i%10 == 0 {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						for _, r := range runners {
							if err == nil {
								err = r.WaitFor(ctx, res.Position)
							}
						}
						cancel()
						mu.Lock()
						observed = append(observed, time.Since(returned))
						mu.Unlock()
					}
					mu.Lock()
					if err != nil && fail == nil {
						fail = err
					}
					done = append(done, appended{res.Position, called, returned})
					mu.Unlock()
				}
			}
		}()
	}
	// The pacer releases event i at start + i/rate, whatever the clients'
	// progress: a steady arrival rate, not a closed loop that slows down
	// when the system does.
	for i := range b.N {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		slots <- i
	}
	close(slots)
	wg.Wait()
	elapsed := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	for _, r := range runners {
		if err == nil {
			err = r.WaitFor(ctx, lastClaimPosition(b, store))
		}
	}
	cancel()
	b.StopTimer()
	stopProfile()
	// The whole process: clients, the store's writer and the read models.
	cpuPerEvent := float64(cpuTime()-cpu) / float64(time.Microsecond) / float64(b.N)
	if fail != nil || err != nil {
		b.Fatal(fail, err)
	}

	// publishedAt is when projection name published pos.
	pubMu.Lock()
	defer pubMu.Unlock()
	publishedAt := func(name string, pos eventstore.Position) time.Time {
		ps := pubs[name]
		i, _ := slices.BinarySearchFunc(ps, pos, func(p publication, pos eventstore.Position) int { return p.pos.Compare(pos) })
		if i == len(ps) {
			b.Fatalf("%s never published position %s", name, pos)
		}
		return ps[i].at
	}
	names := slices.Sorted(maps.Keys(pubs))
	lag := make([]time.Duration, len(done))
	e2e := make([]time.Duration, len(done))
	// Each read model's own lag: what a query of that model alone, with
	// min_position, waits for.
	own := make(map[string][]time.Duration)
	for i, a := range done {
		var visible time.Time // when every projection had published it
		for _, name := range names {
			at := publishedAt(name, a.pos)
			own[name] = append(own[name], max(0, at.Sub(a.returned)))
			if at.After(visible) {
				visible = at
			}
		}
		lag[i] = max(0, visible.Sub(a.returned)) // visible before Append's caller ran again: no lag
		e2e[i] = visible.Sub(a.called)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	q := func(s []time.Duration, p float64) float64 {
		slices.Sort(s)
		return ms(s[min(len(s)-1, int(p*float64(len(s))))])
	}
	b.ReportMetric(float64(len(done))/elapsed.Seconds(), "events/s")
	b.ReportMetric(cpuPerEvent, "cpu-us/event")
	writer.Lock()
	b.ReportMetric(100*writer.busy.Seconds()/elapsed.Seconds(), "writer-busy-%")
	if len(writer.took) > 0 {
		b.ReportMetric(float64(writer.events)/float64(len(writer.took)), "events/transaction")
		b.ReportMetric(q(writer.took, 0.50), "transaction-p50-ms")
		b.ReportMetric(q(writer.took, 0.99), "transaction-p99-ms")
		b.ReportMetric(q(writer.took, 1), "transaction-max-ms")
	}
	writer.Unlock()
	b.ReportMetric(q(lag, 0.50), "lag-p50-ms")
	b.ReportMetric(q(lag, 0.99), "lag-p99-ms")
	b.ReportMetric(q(lag, 1), "lag-max-ms")
	for _, name := range names {
		b.ReportMetric(q(own[name], 0.99), name+"-lag-p99-ms")
	}
	b.ReportMetric(q(observed, 0.50), "waitfor-p50-ms")
	b.ReportMetric(q(observed, 0.99), "waitfor-p99-ms")
	b.ReportMetric(q(e2e, 0.50), "e2e-p50-ms")
	b.ReportMetric(q(e2e, 0.99), "e2e-p99-ms")
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

// cpuTime is the CPU time the process has used, every thread and the
// garbage collector included. The machine is shared: where events/s also
// counts the time spent waiting for a core, CPU time per event is the
// steadier measure of what a change saved.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countClaimEvents counts the claim events in the store.
func countClaimEvents(b *testing.B, store eventstore.Store) int {
	var (
		last eventstore.Position
		n    int
	)
	for {
		recs, err := store.ReadAll(context.Background(), last, 4096, claimFilter)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) == 0 {
			return n
		}
		n += len(recs)
		last = recs[len(recs)-1].Position
	}
}

// rebuildStore is the store of BenchmarkRebuild, filled once per process:
// generating 200,000 events takes longer than rebuilding them.
var rebuildStore struct {
	once   sync.Once
	dir    string // a temporary directory, removed by TestMain
	path   string // where the store is: dir, or PROJECTIONS_REBUILD_STORE
	events int
	err    error
}

// rebuildEvents is how many claim events BenchmarkRebuild rebuilds from.
const rebuildEvents = 200_000

// BenchmarkRebuild rebuilds the read models from position zero over
// 200,000 generated claim events (about 26,000 claims through their
// lifecycles, their events spread through the log as fill writes them) and
// reports events per second: each projection alone (Rebuild/claims,
// Rebuild/status...), claims and status in one pass over the store
// (Rebuild/claims+status) and every projection in one pass (Rebuild/all).
// A rebuild is timed from the call to its return: fresh tables,
// reading and folding every event, writing the rows, building the indexes,
// the switch and dropping the old tables.
//
//	go test -run='^$' -bench=Rebuild ./projections/
//
// PROJECTIONS_REBUILD_STORE names a directory to keep the generated store
// in and reuse across runs (generating it takes longer than the benchmark);
// profiles of a rerun then show the rebuild alone.
func BenchmarkRebuild(b *testing.B) {
	prepareRebuildStore(b)
	// Each projection alone, then claims and status in one pass over the
	// store, then every projection in one pass (what `rmaledger
	// projections rebuild` without a name does).
	runs := [][]string{}
	for _, name := range projectionNames(b) {
		runs = append(runs, []string{name})
	}
	runs = append(runs, []string{Claims, StatusPage}, nil)
	for _, names := range runs {
		label := strings.Join(names, "+")
		if names == nil {
			label = "all"
		}
		b.Run(label, func(b *testing.B) { benchmarkRebuild(b, names) })
	}
}

// prepareRebuildStore generates BenchmarkRebuild's store once per process
// (or finds it in PROJECTIONS_REBUILD_STORE) and fails b if it cannot.
func prepareRebuildStore(b *testing.B) {
	rebuildStore.once.Do(func() {
		rebuildStore.path = os.Getenv("PROJECTIONS_REBUILD_STORE")
		if rebuildStore.path == "" {
			rebuildStore.dir, rebuildStore.err = os.MkdirTemp("", "projections-bench-")
			if rebuildStore.err != nil {
				return
			}
			rebuildStore.path = rebuildStore.dir
		}
		store, err := embedded.Open(rebuildStore.path, embedded.Config{Logger: quiet})
		if err != nil {
			rebuildStore.err = err
			return
		}
		defer store.Close()
		rebuildStore.events = countClaimEvents(b, store)
		for first := rebuildStore.events; rebuildStore.events < rebuildEvents; first += 1000 {
			rebuildStore.events += fill(b, store, first, 1000)
		}
	})
	if rebuildStore.err != nil {
		b.Fatal(rebuildStore.err)
	}
}

// profileWindow starts a CPU profile of the measured window alone when
// PROJECTIONS_LAG_CPUPROFILE names a file; the returned function stops it.
// -cpuprofile would also take in the setup, whose catch-up of 48,000
// events through the same committer is half the process's CPU and looks
// just like the load.
func profileWindow(b *testing.B) (stop func()) {
	path := os.Getenv("PROJECTIONS_LAG_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// projectionNames lists the Runner's projections.
func projectionNames(b *testing.B) []string {
	store, err := embedded.Open(b.TempDir(), embedded.Config{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	r, err := New(store, Config{Dir: b.TempDir(), Logger: quiet, MetricsInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	return r.Names()
}

func benchmarkRebuild(b *testing.B, names []string) {
	store, err := embedded.Open(rebuildStore.path, embedded.Config{Logger: quiet})
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
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		if err := r.Rebuild(ctx, names...); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	events := float64(rebuildStore.events * b.N)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/events, "cpu-us/event")
	b.ReportMetric(float64(rebuildStore.events), "events")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkQuery measures what a query of the read models costs its caller,
// over 300 claims through their lifecycles: a claim search by status (a
// page of 20) and a page of 50 entries of the audit trail.
//
//	go test -run='^$' -bench=Query ./projections/
func BenchmarkQuery(b *testing.B) {
	w := newWorld(b)
	w.register(0, 300)
	r := startRunner(b, w.store, testConfig(b.TempDir()))
	waitFor(b, r, w.head())
	ctx := context.Background()
	b.Run("search", func(b *testing.B) {
		for b.Loop() {
			page, err := r.Search(ctx, SearchQuery{Statuses: []domain.Status{domain.StatusClosed}, Limit: 20})
			if err != nil || len(page.Items) != 20 {
				b.Fatalf("%d items, %v", len(page.Items), err)
			}
		}
	})
	b.Run("audit-trail", func(b *testing.B) {
		for b.Loop() {
			page, err := r.AuditTrailPage(ctx, TrailQuery{Limit: 50})
			if err != nil || len(page.Items) != 50 {
				b.Fatalf("%d entries, %v", len(page.Items), err)
			}
		}
	})
}
