package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// SchemaID names the report's shape; report.schema.json describes it and
// `ledgerbench validate` checks a report against it.
const SchemaID = "rmaledger-bench/v1"

// Report is everything one run measured: the baselines, each stage in
// detail, and the headline figures with their targets and their ratios to
// the baselines measured in the same run.
type Report struct {
	Schema          string    `json:"schema"`
	Mode            string    `json:"mode"` // full or quick
	StartedAt       time.Time `json:"started_at"`
	DurationSeconds float64   `json:"duration_s"`
	Machine         Machine   `json:"machine"`
	Commit          Commit    `json:"commit"`
	Sizes           Sizes     `json:"sizes"`
	Baselines       Baselines `json:"baselines"`
	Stages          Stages    `json:"stages"`
	Figures         []Figure  `json:"figures"`
	// Notes say what the figures depend on that the numbers do not show.
	Notes []string `json:"notes"`
}

// Machine is where the run happened.
type Machine struct {
	Cores     int    `json:"cores"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Kernel    string `json:"kernel"`
	MemoryMB  int    `json:"memory_mb"`
	// LoadAvgStart and LoadAvgEnd are the 1-minute load averages before and
	// after the run: above zero before it, something else was running.
	LoadAvgStart float64 `json:"load_avg_start"`
	LoadAvgEnd   float64 `json:"load_avg_end"`
}

// Commit is the code measured.
type Commit struct {
	Revision string `json:"revision"`
	Describe string `json:"describe"`
	// Dirty is true when the working tree had uncommitted changes: the
	// figures are then of the tree, not of Revision alone.
	Dirty bool `json:"dirty"`
}

// Sizes are the run's parameters.
type Sizes struct {
	Events             int     `json:"events"`
	Clients            int     `json:"clients"`
	StageSeconds       float64 `json:"stage_s"`
	CommandsSeconds    float64 `json:"commands_s"`
	StatusRates        []int   `json:"status_rates"`
	LagRate            int     `json:"lag_rate"`
	AppendWriters      []int   `json:"append_writers"`
	FsyncGroupWriters  int     `json:"fsync_group_writers"`
	ProfilesDirectory  string  `json:"profiles_dir,omitempty"`
	ServiceLogLevel    string  `json:"service_log_level"`
	DataDirectory      string  `json:"data_dir"`
	DataDirectoryKept  bool    `json:"data_dir_kept"`
	GeneratorWorkers   int     `json:"generator_workers"`
	StatusLookupClaims int     `json:"status_lookup_claims"`
}

// Baselines are the limits of this machine, measured in the same run.
type Baselines struct {
	Fsync FsyncBaseline `json:"fdatasync"`
	// HTTP is the trivial handler on the service's HTTP stack, closed loop
	// with the commands' concurrency and open loop at the status rates.
	HTTP HTTPBaseline `json:"http"`
	// ReadAll is reading the big log without decoding it.
	ReadAll ReadAll `json:"read_all"`
	// EmptyService is the service's memory on an empty data directory.
	EmptyService Memory `json:"empty_service_memory"`
}

// HTTPBaseline is the trivial server under the benchmark's loads.
type HTTPBaseline struct {
	ClosedLoop LoadRun   `json:"closed_loop"`
	OpenLoop   []LoadRun `json:"open_loop"`
	Memory     Memory    `json:"memory"`
}

// Stages are the service's measurements in detail.
type Stages struct {
	Generation  Generation    `json:"generation"`
	StoreAppend []StoreAppend `json:"store_append"`
	Commands    Commands      `json:"commands"`
	Status      []LoadRun     `json:"status_lookup"`
	Lag         Lag           `json:"projection_lag"`
	Replay      Replay        `json:"replay"`
	Verify      Verify        `json:"audit_verify"`
	Memory      ServiceMemory `json:"memory"`
	Console     ConsoleStage  `json:"console"`
}

// Commands is the closed-loop command load over HTTP.
type Commands struct {
	LoadRun
	// ServiceCPUSeconds is the CPU the service used during the stage.
	ServiceCPUSeconds float64        `json:"service_cpu_s"`
	ClaimsClosed      int            `json:"claims_closed"`
	Actions           map[string]int `json:"actions"`
	// CatchUpSeconds is how long after the stage the read models took to
	// hold every event it wrote (the next stage waits for it).
	CatchUpSeconds float64 `json:"catch_up_s"`
}

// Lag is the projection lag stage: commands at a fixed rate, each followed
// (one in four) by a read that waits for it.
type Lag struct {
	Rate            int     `json:"rate"`
	Commands        int     `json:"commands"`
	Errors          int     `json:"errors"`
	EventsPerSec    float64 `json:"events_per_s"`
	DurationSeconds float64 `json:"duration_s"`
	// Visible runs from the command's answer to the answer of a read of
	// the claim with min_position set to the command's position.
	Visible Latency `json:"visible"`
	// Read is the same read of an older claim without min_position: the
	// round trip that Visible includes, the baseline.
	Read       Latency `json:"read"`
	FirstError string  `json:"first_error,omitempty"`
	// Delivery is the notifications outbox, running alongside the read
	// models, over the same stage.
	Delivery *Delivery `json:"delivery,omitempty"`
	// CatchUpSeconds: as for the commands.
	CatchUpSeconds float64 `json:"catch_up_s"`
}

// ServiceMemory is the service's memory holding the big log.
type ServiceMemory struct {
	// Events is how many events the store held when the service started.
	Events int `json:"events"`
	// Ready is right after it started and answered /readyz; End after
	// every HTTP stage, with PeakMB the high-water mark of its life.
	Ready Memory `json:"ready"`
	End   Memory `json:"end"`
	// DiskMB is the data directory's size: the log and the read models.
	DiskMB float64 `json:"disk_mb"`
}

// Figure is one headline number.
type Figure struct {
	ID    string  `json:"id"`
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Target, when the issue sets one, and whether Value meets it.
	Target *Target `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
	// Baseline is the same run's limit this figure is compared with, and
	// Ratio is Value / Baseline.Value: for a rate, the share of the
	// ceiling reached; for a latency or a size, the multiple of it.
	Baseline *BaselineRef `json:"baseline,omitempty"`
	Ratio    *float64     `json:"ratio,omitempty"`
}

// Target is a bound a figure must meet: Op is ">=" or "<=". With
// OfBaseline, Value bounds the figure's ratio to its baseline from the same
// run (0.3 means "at least 0.3x the trivial handler"), so that a slower or
// busier machine moves the bound with it.
type Target struct {
	Op         string  `json:"op"`
	Value      float64 `json:"value"`
	OfBaseline bool    `json:"of_baseline,omitempty"`
}

// BaselineRef names the baseline of a figure.
type BaselineRef struct {
	ID    string  `json:"id"`
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

func (t Target) met(v float64) bool {
	if t.Op == ">=" {
		return v >= t.Value
	}
	return v <= t.Value
}

// figure builds a Figure; target and baseline may be nil.
func figure(id, label string, value float64, unit string, target *Target, baseline *BaselineRef) Figure {
	f := Figure{ID: id, Label: label, Value: value, Unit: unit, Target: target, Baseline: baseline}
	if baseline != nil && baseline.Value > 0 {
		r := round3(value / baseline.Value)
		f.Ratio = &r
	}
	switch {
	case target == nil:
	case !target.OfBaseline:
		met := target.met(value)
		f.Met = &met
	default:
		met := f.Ratio != nil && target.met(*f.Ratio)
		f.Met = &met
	}
	return f
}

func atLeast(v float64) *Target { return &Target{Op: ">=", Value: v} }
func atMost(v float64) *Target  { return &Target{Op: "<=", Value: v} }

// atLeastX and atMostX bound a figure's ratio to its baseline.
func atLeastX(v float64) *Target { return &Target{Op: ">=", Value: v, OfBaseline: true} }
func atMostX(v float64) *Target  { return &Target{Op: "<=", Value: v, OfBaseline: true} }

func base(id, label string, value float64, unit string) *BaselineRef {
	return &BaselineRef{ID: id, Label: label, Value: value, Unit: unit}
}

// figures derives the headline numbers from the stages and baselines.
func (r *Report) figures() []Figure {
	b, s := r.Baselines, r.Stages
	var out []Figure
	add := func(f Figure) { out = append(out, f) }

	add(figure("baseline.fdatasync.single", "fdatasync, 1 writer (syncs/s)", b.Fsync.Single.SyncsPerSec, "syncs/s", nil, nil))
	add(figure("baseline.fdatasync.group", fmt.Sprintf("fdatasync group commit, %d writers", b.Fsync.Group.Writers), b.Fsync.Group.RecordsPerSec, "records/s", nil, nil))
	add(figure("baseline.http.closed", fmt.Sprintf("trivial HTTP handler, %d clients", b.HTTP.ClosedLoop.Clients), b.HTTP.ClosedLoop.PerSecond, "req/s", nil, nil))
	add(figure("baseline.read_all", "read $all, no decoding", b.ReadAll.EventsPerSec, "events/s", nil, nil))

	for _, a := range s.StoreAppend {
		ref := base("baseline.fdatasync.single", "fdatasync, 1 writer", b.Fsync.Single.SyncsPerSec, "syncs/s")
		if a.Writers > 1 {
			ref = base("baseline.fdatasync.group", "fdatasync group commit", b.Fsync.Group.RecordsPerSec, "records/s")
		}
		id := fmt.Sprintf("store_append.w%d", a.Writers)
		var target *Target
		if a.Writers > 1 {
			target = atLeastX(0.5)
		}
		add(figure(id+".rate", fmt.Sprintf("store append, %d writer(s)", a.Writers), a.EventsPerSec, "events/s", target, ref))
		lref := func(v float64) *BaselineRef {
			if a.Writers > 1 {
				return base("baseline.fdatasync.group.latency", "fdatasync group commit latency", v, "ms")
			}
			return base("baseline.fdatasync.single.latency", "fdatasync latency", v, "ms")
		}
		fs := b.Fsync.Single.Latency
		if a.Writers > 1 {
			fs = b.Fsync.Group.Latency
		}
		add(figure(id+".p50", fmt.Sprintf("store append, %d writer(s), p50", a.Writers), a.Latency.P50MS, "ms", nil, lref(fs.P50MS)))
		add(figure(id+".p99", fmt.Sprintf("store append, %d writer(s), p99", a.Writers), a.Latency.P99MS, "ms", nil, lref(fs.P99MS)))
	}

	httpRate := base("baseline.http.closed", "trivial HTTP handler", b.HTTP.ClosedLoop.PerSecond, "req/s")
	add(figure("commands.rate", fmt.Sprintf("commands over HTTP, %d clients", s.Commands.Clients), s.Commands.PerSecond, "commands/s", atLeastX(0.3), httpRate))
	add(figure("commands.p50", "commands over HTTP, p50", s.Commands.Latency.P50MS, "ms", nil,
		base("baseline.http.closed.p50", "trivial HTTP handler p50", b.HTTP.ClosedLoop.Latency.P50MS, "ms")))
	add(figure("commands.p99", "commands over HTTP, p99", s.Commands.Latency.P99MS, "ms", atMostX(3),
		base("baseline.http.closed.p99", "trivial HTTP handler p99", b.HTTP.ClosedLoop.Latency.P99MS, "ms")))

	for _, st := range s.Status {
		var trivial Latency
		for _, o := range b.HTTP.OpenLoop {
			if o.Rate == st.Rate {
				trivial = o.Latency
			}
		}
		target := atMostX(1)
		id := fmt.Sprintf("status.r%d", st.Rate)
		label := fmt.Sprintf("status lookup at %d/s", st.Rate)
		tref := func(q string, v float64) *BaselineRef {
			return base(fmt.Sprintf("baseline.http.open.r%d.%s", st.Rate, q), fmt.Sprintf("trivial HTTP handler at %d/s %s", st.Rate, q), v, "ms")
		}
		add(figure(id+".p50", label+", p50", st.Latency.P50MS, "ms", nil, tref("p50", trivial.P50MS)))
		add(figure(id+".p99", label+", p99", st.Latency.P99MS, "ms", target, tref("p99", trivial.P99MS)))
		add(figure(id+".p999", label+", p99.9", st.Latency.P999MS, "ms", nil, tref("p999", trivial.P999MS)))
	}

	add(figure("projection_lag.rate", "projection lag stage, events/s achieved", s.Lag.EventsPerSec, "events/s", nil,
		base("lag.rate", "the rate asked for", float64(s.Lag.Rate), "events/s")))
	add(figure("projection_lag.p50", fmt.Sprintf("projection lag at %d events/s, p50", s.Lag.Rate), s.Lag.Visible.P50MS, "ms", nil,
		base("lag.read.p50", "the same read without waiting, p50", s.Lag.Read.P50MS, "ms")))
	add(figure("projection_lag.p99", fmt.Sprintf("projection lag at %d events/s, p99", s.Lag.Rate), s.Lag.Visible.P99MS, "ms", atMost(10),
		base("lag.read.p99", "the same read without waiting, p99", s.Lag.Read.P99MS, "ms")))

	if d := s.Lag.Delivery; d != nil {
		add(figure("delivery_lag.p50", fmt.Sprintf("delivery lag (event to message handed to its sender) at %d events/s, p50", s.Lag.Rate), d.P50MS, "ms", nil, nil))
		add(figure("delivery_lag.p99", fmt.Sprintf("delivery lag (event to message handed to its sender) at %d events/s, p99", s.Lag.Rate), d.P99MS, "ms", atMost(50),
			base("projection_lag.p99", "projection lag in the same stage, p99", s.Lag.Visible.P99MS, "ms")))
	}

	var trivialLow Latency
	lowRate := 0
	if len(b.HTTP.OpenLoop) > 0 {
		trivialLow, lowRate = b.HTTP.OpenLoop[0].Latency, b.HTTP.OpenLoop[0].Rate
	}
	for _, p := range []struct {
		id, label string
		run       LoadRun
	}{{"console.queue", "console queue page", s.Console.Queue}, {"console.claim", "console claim page", s.Console.Claim}} {
		label := fmt.Sprintf("%s at %d/s", p.label, p.run.Rate)
		tref := func(q string, v float64) *BaselineRef {
			return base(fmt.Sprintf("baseline.http.open.r%d.%s", lowRate, q), fmt.Sprintf("trivial HTTP handler at %d/s %s", lowRate, q), v, "ms")
		}
		add(figure(p.id+".p50", label+", p50", p.run.Latency.P50MS, "ms", nil, tref("p50", trivialLow.P50MS)))
		add(figure(p.id+".p99", label+", p99", p.run.Latency.P99MS, "ms", atMost(50), tref("p99", trivialLow.P99MS)))
	}

	readRef := base("baseline.read_all", "read $all, no decoding", b.ReadAll.EventsPerSec, "events/s")
	add(figure("replay.rate", fmt.Sprintf("replay: rebuild every read model from %d events", s.Replay.Events), s.Replay.EventsPerSec, "events/s", atLeastX(0.5), readRef))
	add(figure("audit_verify.rate", fmt.Sprintf("audit verify over %d events", s.Verify.Events), s.Verify.EventsPerSec, "events/s", nil, readRef))
	add(figure("memory.peak", fmt.Sprintf("service peak RSS holding %d events", s.Memory.Events), s.Memory.End.PeakMB, "MiB", atMost(256),
		base("baseline.empty_service.peak", "service on an empty data directory, peak RSS", b.EmptyService.PeakMB, "MiB")))
	return out
}

// writeTable prints the figures as a table a person reads.
func (r *Report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "RMA Ledger benchmark (%s) at %s, %s\n", r.Mode, r.Commit.Describe, r.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "%d cores, %s, %s, load average %.2f before and %.2f after, %.0f s\n\n",
		r.Machine.Cores, r.Machine.CPUModel, r.Machine.GoVersion, r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd, r.DurationSeconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tvalue\tunit\ttarget\tmet\tbaseline\tratio\t")
	for _, f := range r.Figures {
		target, met, baseline, ratio := "", "", "", ""
		if f.Target != nil {
			target = f.Target.Op + " " + num(f.Target.Value)
			if f.Target.OfBaseline {
				target += "x"
			}
			met = "no"
			if *f.Met {
				met = "yes"
			}
		}
		if f.Baseline != nil {
			baseline = num(f.Baseline.Value) + " " + f.Baseline.Unit
		}
		if f.Ratio != nil {
			ratio = strconv.FormatFloat(*f.Ratio, 'f', 2, 64) + "x"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", f.Label, num(f.Value), f.Unit, target, met, baseline, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\n- %s", n)
	}
	_, err := fmt.Fprintln(w)
	return err
}

// num prints a figure with the precision it deserves.
func num(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// machine describes this computer.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, LoadAvgStart: loadAvg()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if m.CPUModel == "" {
		m.CPUModel = "unknown"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryMB = kb / 1024
		}
	}
	return m
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// commit asks git what is being measured.
func commit(ctx context.Context) Commit {
	git := func(args ...string) string {
		out, err := exec.CommandContext(ctx, "git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	c := Commit{Revision: git("rev-parse", "HEAD"), Describe: git("describe", "--always", "--dirty")}
	// Untracked files count: a new package changes what is built.
	c.Dirty = git("status", "--porcelain") != "" || strings.HasSuffix(c.Describe, "-dirty")
	if c.Revision == "" {
		c.Revision, c.Describe = "unknown", "unknown"
	}
	return c
}
