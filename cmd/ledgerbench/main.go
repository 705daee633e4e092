// Command ledgerbench measures the whole service against its targets, side
// by side with the limits of the machine measured in the same run, and
// writes a JSON report and a table (docs/performance.md explains both):
//
//	ledgerbench [--quick] [--out report.json] [--cpuprofile DIR] [--keep]
//	ledgerbench validate REPORT.json...      check reports against the schema
//	ledgerbench trivial-server ADDR          the HTTP baseline (started by a run)
//
// A run builds the service (or takes --service-bin), measures the disk's
// fdatasync rate and a trivial handler on the same HTTP stack, the
// embedded store's appends, then writes a log of --events events through
// the ledger package into a fresh data directory, replays it into every
// read model, verifies its hash chains, starts the service on it and loads
// it over HTTP: commands, status lookups, read-your-writes and the
// console's queue and claim pages. `make bench` runs the full size,
// `make bench-quick` (CI) the quick one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rmaledger/rmaledger/internal/smtptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ledgerbench:", err)
		os.Exit(1)
	}
}

// options are the run's flags.
type options struct {
	quick      bool
	out        string
	table      string
	dir        string
	keep       bool
	cpuprofile string
	serviceBin string
	events     int
	stage      time.Duration
	commands   time.Duration
	clients    int
	logLevel   string
}

// sizes of the two modes: full measures what the issue asks for; quick
// keeps the same shape in under two minutes for CI.
func (o *options) defaults() {
	if o.events == 0 {
		o.events = 1_000_000
		if o.quick {
			o.events = 20_000
		}
	}
	if o.stage == 0 {
		o.stage = 10 * time.Second
		if o.quick {
			o.stage = 2 * time.Second
		}
	}
	if o.commands == 0 {
		o.commands = 2 * o.stage
	}
}

// trivialEnv, set to an address, makes the process the trivial server.
const trivialEnv = "LEDGERBENCH_TRIVIAL_ADDR"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return validateCommand(args[1:], stdout)
		case "trivial-server":
			if len(args) != 2 {
				return errors.New("usage: ledgerbench trivial-server ADDR")
			}
			return serveTrivial(ctx, args[1], stdout)
		}
	}
	var o options
	fl := flag.NewFlagSet("ledgerbench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.BoolVar(&o.quick, "quick", false, "small sizes and short stages (under 2 minutes), the same report shape")
	fl.StringVar(&o.out, "out", "bench-report.json", "where to write the JSON report")
	fl.StringVar(&o.table, "table", "", "also write the table to this file (it is always printed)")
	fl.StringVar(&o.dir, "dir", "", "working directory for data (default: a new temporary directory)")
	fl.BoolVar(&o.keep, "keep", false, "keep the working directory (the generated data directory, the service's logs)")
	fl.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of every stage (the service's for HTTP stages) and its pprof -top into `DIR`")
	fl.StringVar(&o.serviceBin, "service-bin", "", "the rmaledger binary to measure (default: go build ./cmd/rmaledger)")
	fl.IntVar(&o.events, "events", 0, "events in the generated log (default 1,000,000; quick 20,000)")
	fl.DurationVar(&o.stage, "stage", 0, "length of each measuring stage (default 10s; quick 2s)")
	fl.DurationVar(&o.commands, "commands", 0, "length of the commands stage (default twice -stage)")
	fl.IntVar(&o.clients, "clients", 64, "concurrent clients of the closed-loop stages")
	fl.StringVar(&o.logLevel, "service-log-level", "info", "the service's --log-level (info logs every request, as deployed)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (commands: validate, trivial-server)", fl.Arg(0))
	}
	o.defaults()
	b, err := newBench(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer b.cleanup()
	report, err := b.run(ctx)
	if err != nil {
		return err
	}
	return b.write(report, stdout)
}

// bench is one run.
type bench struct {
	o        options
	log      io.Writer
	dir      string // the working directory
	tempDir  bool
	profiles []string // profiles written, for their -top
	// mail is the SMTP server the service sends its e-mail to.
	mail *smtptest.Server
}

func newBench(ctx context.Context, o options, log io.Writer) (*bench, error) {
	b := &bench{o: o, log: log, dir: o.dir}
	if b.dir == "" {
		dir, err := os.MkdirTemp("", "ledgerbench-")
		if err != nil {
			return nil, err
		}
		b.dir, b.tempDir = dir, true
	} else if err := os.MkdirAll(b.dir, 0o750); err != nil {
		return nil, err
	}
	if o.cpuprofile != "" {
		if err := os.MkdirAll(o.cpuprofile, 0o750); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *bench) cleanup() {
	if b.tempDir && !b.o.keep {
		os.RemoveAll(b.dir)
	}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// profile runs f under the CPU profiler when profiles are asked for.
func (b *bench) profile(name string, f func() error) error {
	if b.o.cpuprofile == "" {
		return f()
	}
	path := filepath.Join(b.o.cpuprofile, name+".cpu.pprof")
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if err := pprof.StartCPUProfile(file); err != nil {
		return err
	}
	err = f()
	pprof.StopCPUProfile()
	b.profiles = append(b.profiles, path)
	return err
}

// serviceProfile profiles the service for the next d, when profiles are
// asked for; wait collects it.
func (b *bench) serviceProfile(ctx context.Context, svc *child, name string, d time.Duration) (wait func()) {
	if b.o.cpuprofile == "" {
		return func() {}
	}
	path := filepath.Join(b.o.cpuprofile, name+".service.cpu.pprof")
	done := svc.cpuProfile(ctx, d, path)
	return func() {
		if err := <-done; err != nil {
			b.logf("profile %s: %v", name, err)
			return
		}
		b.profiles = append(b.profiles, path)
	}
}

func (b *bench) run(ctx context.Context) (*Report, error) {
	o := b.o
	started := time.Now()
	r := &Report{Schema: SchemaID, Mode: "full", StartedAt: started.UTC().Truncate(time.Second), Machine: machine(), Commit: commit(ctx)}
	if o.quick {
		r.Mode = "quick"
	}
	statusRates := []int{1000, 5000}
	appendWriters := []int{1, 64}
	const lagRate = 2000
	dataDir := filepath.Join(b.dir, "data")
	r.Sizes = Sizes{
		Events: o.events, Clients: o.clients, StageSeconds: o.stage.Seconds(), CommandsSeconds: o.commands.Seconds(),
		StatusRates: statusRates, LagRate: lagRate, AppendWriters: appendWriters, FsyncGroupWriters: 64,
		ProfilesDirectory: o.cpuprofile, ServiceLogLevel: o.logLevel, DataDirectory: dataDir, DataDirectoryKept: o.keep || !b.tempDir,
		GeneratorWorkers: 64,
	}

	bin := o.serviceBin
	if bin == "" {
		b.logf("building the service")
		var err error
		if bin, err = buildService(ctx, b.dir); err != nil {
			return nil, err
		}
	}

	// Baselines: the disk, the HTTP stack, an empty service.
	b.logf("baseline: fdatasync, 1 then %d writers, %s each", r.Sizes.FsyncGroupWriters, o.stage)
	var err error
	if err := b.profile("baseline-fdatasync", func() error {
		r.Baselines.Fsync, err = measureFsync(ctx, b.dir, o.stage, r.Sizes.FsyncGroupWriters)
		return err
	}); err != nil {
		return nil, err
	}
	b.logf("baseline: trivial HTTP handler, %d clients closed loop, then open loop at %v/s", o.clients, statusRates)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The environment variable, not only the argument, selects the server:
	// in the package's tests the executable is the test binary, whose
	// TestMain looks for it.
	trivial, err := startChild(ctx, "trivial server", self, []string{"trivial-server", addr}, []string{trivialEnv + "=" + addr}, addr, "", filepath.Join(b.dir, "trivial.log"), "/healthz", 30*time.Second)
	if err != nil {
		return nil, err
	}
	r.Baselines.HTTP = measureTrivial(ctx, trivial, o.clients, o.stage, o.stage, statusRates)
	if err := trivial.stop(); err != nil {
		return nil, err
	}
	// The service sends its customers' e-mail to the benchmark's own SMTP
	// server, through a real SMTP exchange.
	if b.mail, err = smtptest.Start(); err != nil {
		return nil, err
	}
	defer b.mail.Close()
	b.logf("baseline: the service on an empty data directory")
	keys := newAPIKeys()
	empty, err := b.startService(ctx, bin, filepath.Join(b.dir, "empty"), keys, "empty")
	if err != nil {
		return nil, err
	}
	r.Baselines.EmptyService, _ = empty.memory()
	if err := empty.stop(); err != nil {
		return nil, err
	}

	// The store alone.
	samples, err := sampleEvents()
	if err != nil {
		return nil, err
	}
	for _, w := range appendWriters {
		b.logf("store append: %d writer(s), %s", w, o.stage)
		dir := filepath.Join(b.dir, fmt.Sprintf("append-%d", w))
		var a StoreAppend
		if err := b.profile(fmt.Sprintf("store-append-%d", w), func() error {
			a, err = measureAppend(ctx, dir, w, o.stage, samples)
			return err
		}); err != nil {
			return nil, err
		}
		r.Stages.StoreAppend = append(r.Stages.StoreAppend, a)
		os.RemoveAll(dir)
	}

	// The big log, written through the ledger, then read three ways.
	b.logf("generating %d events through the ledger into %s", o.events, dataDir)
	var refs []claimRef
	if err := b.profile("generate", func() error {
		r.Stages.Generation, refs, err = generate(ctx, dataDir, o.events, r.Sizes.GeneratorWorkers, func(n int) { b.logf("  %d commands", n) })
		return err
	}); err != nil {
		return nil, err
	}
	r.Sizes.StatusLookupClaims = len(refs)
	b.logf("baseline: reading $all")
	if err := b.profile("read-all", func() error {
		r.Baselines.ReadAll, err = readAll(ctx, dataDir)
		return err
	}); err != nil {
		return nil, err
	}
	b.logf("replay: rebuilding every read model from %d claim events", r.Baselines.ReadAll.ClaimEvents)
	if err := b.profile("replay", func() error {
		r.Stages.Replay, err = replay(ctx, dataDir, r.Baselines.ReadAll.ClaimEvents)
		return err
	}); err != nil {
		return nil, err
	}
	b.logf("audit verify over %d events", r.Baselines.ReadAll.Events)
	if err := b.profile("audit-verify", func() error {
		r.Stages.Verify, err = verify(ctx, dataDir)
		return err
	}); err != nil {
		return nil, err
	}

	// The service holding the big log, over HTTP.
	b.logf("starting the service on the generated data directory")
	svc, err := b.startService(ctx, bin, dataDir, keys, "service")
	if err != nil {
		return nil, err
	}
	defer svc.stop() // on an error path; the normal path stops it first
	r.Stages.Memory.Events = r.Baselines.ReadAll.Events
	r.Stages.Memory.Ready, _ = svc.memory()

	b.logf("commands over HTTP: %d clients, %s", o.clients, o.commands)
	wait := b.serviceProfile(ctx, svc, "commands", o.commands)
	r.Stages.Commands, err = measureCommands(ctx, svc, keys, o.clients, o.commands)
	wait()
	if err != nil {
		return nil, err
	}
	b.logf("  the read models caught up %.1fs after the stage", r.Stages.Commands.CatchUpSeconds)
	for k, rate := range statusRates {
		b.logf("status lookup: %d/s open loop, %s", rate, o.stage)
		wait := b.serviceProfile(ctx, svc, fmt.Sprintf("status-%d", rate), o.stage)
		r.Stages.Status = append(r.Stages.Status, measureStatus(ctx, svc.base, refs, rate, openWorkers, o.stage, k))
		wait()
	}
	b.logf("projection lag: commands at %d/s, %s", lagRate, o.stage)
	backlog, err := waitForEmptyOutbox(ctx, svc, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	b.logf("  the outbox sent the commands stage's e-mail %.1fs after it", backlog.Seconds())
	wait = b.serviceProfile(ctx, svc, "projection-lag", o.stage)
	lagBefore, err := scrapeDeliveryLag(ctx, svc)
	if err != nil {
		return nil, err
	}
	mailBefore := len(b.mail.Received())
	r.Stages.Lag, err = measureLag(ctx, svc, keys, refs, o.clients, lagRate, o.stage)
	wait()
	if err != nil {
		return nil, err
	}
	if r.Stages.Lag.Delivery, err = b.delivery(ctx, svc, lagBefore, mailBefore, backlog); err != nil {
		return nil, err
	}
	b.logf("console: the queue page, then claim pages, %d/s open loop from %d sessions, %s each", consoleRate, consoleClients, o.stage)
	wait = b.serviceProfile(ctx, svc, "console", 2*o.stage)
	r.Stages.Console, err = measureConsole(ctx, svc.base, dataDir, refs, o.stage)
	wait()
	if err != nil {
		return nil, err
	}
	r.Stages.Memory.End, _ = svc.memory()
	if o.cpuprofile != "" {
		if err := svc.heapProfile(ctx, filepath.Join(o.cpuprofile, "service.heap.pprof")); err != nil {
			b.logf("heap profile: %v", err)
		}
	}
	if err := svc.stop(); err != nil {
		return nil, err
	}
	r.Stages.Memory.DiskMB = dirMB(dataDir)

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.Machine.LoadAvgEnd = loadAvg()
	r.DurationSeconds = round3(time.Since(started).Seconds())
	r.Figures = r.figures()
	r.Notes = b.notes(r)
	b.top()
	return r, nil
}

// startService starts the service on dataDir with the benchmark's keys,
// trusting the benchmark as its reverse proxy, with --dev for a console
// account the benchmark signs in as, and waits until it is ready (its read
// models caught up).
func (b *bench) startService(ctx context.Context, bin, dataDir string, keys apiKeys, name string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data-dir", dataDir, "--trusted-proxies", "127.0.0.1", "--log-level", b.o.logLevel, "--log-format", "json", "--dev"}
	debug := ""
	if b.o.cpuprofile != "" {
		if debug, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--debug-addr", debug)
	}
	env := []string{"RMALEDGER_API_KEYS=" + keys.spec(),
		"RMALEDGER_SMTP_HOST=127.0.0.1", "RMALEDGER_SMTP_PORT=" + b.mail.Port(), "RMALEDGER_SMTP_STARTTLS=none",
		"RMALEDGER_SMTP_FROM=service@rma.example"}
	return startChild(ctx, name, bin, args, env, addr, debug, filepath.Join(b.dir, name+".log"), "/readyz", 5*time.Minute)
}

// notes say what the numbers depend on.
func (b *bench) notes(r *Report) []string {
	var n []string
	n = append(n, fmt.Sprintf("The %d-event log was generated through the ledger package (ledger.Service Register/Execute: the API's own validation, decisions, metadata, hash chain and claim numbers) into a fresh data directory at %.0f commands/s, not over HTTP; the service was then started on it.",
		r.Baselines.ReadAll.Events, r.Stages.Generation.CommandsPerSec))
	n = append(n, fmt.Sprintf("The load generator shares the machine's %d cores with the service: during the commands stage it used %.1f CPU-seconds and the service %.1f.",
		r.Machine.Cores, r.Stages.Commands.LoadCPUSeconds, r.Stages.Commands.ServiceCPUSeconds))
	n = append(n, "Projection lag runs from a command's answer to the answer of GET /v1/claims/{id}?min_position=<its position> (the claims and timers read models); it includes that read's round trip, whose own figure (a read of an older claim that does not wait) is the baseline.")
	if d := r.Stages.Lag.Delivery; d != nil {
		n = append(n, fmt.Sprintf("Delivery lag runs from an event's commit to the hand-over of each message it caused to its sender (the service's histogram %s, interpolated within its buckets) over the projection lag stage, which starts once the outbox sent what the commands stage queued (%.1fs); the service sent its customers' e-mail through a real SMTP exchange to the benchmark's SMTP server, which received %d of the stage's %d messages.",
			deliveryLagMetric, d.BacklogSeconds, d.Received, d.Messages))
	}
	n = append(n, fmt.Sprintf("The console's queue page goes round every tab sorted by every column; its pages are timed from when each request was due (open loop, %d/s per page from %d sessions signed in as %s, which the service made with --dev) to the end of its answer on loopback: the server's time plus the loopback round trip, as the other HTTP stages; the baseline is the trivial handler at %d/s.",
		consoleRate, consoleClients, consoleAccount, r.Sizes.StatusRates[0]))
	n = append(n, "Ratios are figure / baseline: for a rate, the share of the machine's ceiling reached; for a latency or memory, the multiple of it.")
	if r.Machine.LoadAvgStart > 0.5 || r.Machine.LoadAvgEnd > float64(r.Machine.Cores)+0.5 {
		n = append(n, fmt.Sprintf("The machine was not idle: load average %.2f before the run (%.2f after, the run's own load included). Other work competed for the cores and the disk; the figures are lower bounds of what a quiet machine gives.",
			r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd))
	}
	if c := r.Stages.Commands.CatchUpSeconds; c > 1 {
		n = append(n, fmt.Sprintf("The read models fell behind the commands: they held every event of the commands stage only %.1f s after it ended (the next stage waited for them).", c))
	}
	if l := r.Stages.Lag; l.EventsPerSec < 0.9*float64(l.Rate) {
		n = append(n, fmt.Sprintf("The projection lag stage reached %.0f of the %d events/s asked for: the clients were all busy (waiting for commands or for reads that wait for the read models), so its lag is that of a saturated service.", l.EventsPerSec, l.Rate))
	}
	if b.o.cpuprofile != "" {
		n = append(n, "CPU profiles were taken during the stages (the service's through --debug-addr); sampling costs a few percent of CPU.")
	}
	lookups := 0
	for _, rate := range r.Sizes.StatusRates {
		lookups += int(float64(rate) * r.Sizes.StageSeconds)
	}
	if lookups > 10*r.Sizes.StatusLookupClaims {
		n = append(n, fmt.Sprintf("%d status lookups went to %d claims: more than the service's 10 lookups per claim number, so some were refused with 429; generate more events.", lookups, r.Sizes.StatusLookupClaims))
	}
	if r.Commit.Dirty {
		n = append(n, "The working tree had uncommitted changes: the figures are of the tree as it was, not of the commit alone.")
	}
	for _, s := range append([]LoadRun{r.Stages.Commands.LoadRun}, r.Stages.Status...) {
		if s.Errors > 0 {
			n = append(n, fmt.Sprintf("%d requests failed in a stage (first: %s).", s.Errors, s.FirstError))
		}
	}
	if r.Stages.Lag.Errors > 0 {
		n = append(n, fmt.Sprintf("%d requests failed in the projection lag stage (first: %s).", r.Stages.Lag.Errors, r.Stages.Lag.FirstError))
	}
	return n
}

// top writes `go tool pprof -top` of every profile next to it, for
// docs/performance.md to cite.
func (b *bench) top() {
	for _, p := range b.profiles {
		out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", p).CombinedOutput()
		if err != nil {
			b.logf("go tool pprof -top %s: %v", p, err)
			continue
		}
		os.WriteFile(strings.TrimSuffix(p, ".pprof")+".top.txt", out, 0o644)
	}
}

// write checks the report against its schema, then writes the JSON and
// prints the table.
func (b *bench) write(r *Report, stdout io.Writer) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := validateReport(data); err != nil {
		return fmt.Errorf("the report does not match its own schema: %w", err)
	}
	for _, f := range []string{b.o.out, b.o.table} {
		if f != "" {
			if err := os.MkdirAll(filepath.Dir(f), 0o750); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(b.o.out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	if b.o.table != "" {
		f, err := os.Create(b.o.table)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := r.writeTable(f); err != nil {
			return err
		}
	}
	b.logf("report written to %s", b.o.out)
	return r.writeTable(stdout)
}

// dirMB is the size of the files under dir, in MiB.
func dirMB(dir string) float64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return round3(float64(total) / (1 << 20))
}
