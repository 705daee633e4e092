package projections

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/feed"
)

// Config tunes a Runner. The zero value of every field but Dir takes the
// default below; New fills them in before Validate, so a negative value is
// reported rather than silently replaced.
type Config struct {
	// Dir is the data directory; the read models live in Dir/readmodels.db,
	// beside (never inside) the event log.
	Dir string
	// Logger receives operational logs; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the projection metrics; nil registers none (tests
	// and CLI commands that only query).
	Registerer prometheus.Registerer
	// Policies is the warranty and SLA policy the timers read model computes
	// clocks with; nil means the embedded default (policy.Default). Every
	// Runner on one data directory must get the same policy: a different one
	// makes the timers model rebuild itself (see timersModel.schema).
	Policies *domain.PolicyBook
	// Feed, when set, is the live feed the read models share with the
	// process's other consumers (it must select the claim streams and
	// decode with Decode); nil gives them their own.
	Feed *feed.Feed

	// RetryMax is how many times the router's Retry middleware re-runs a
	// failing handler before the event is nacked and the projection stops.
	// Bounded so that a poison event is reported within seconds instead of
	// being retried forever in silence.
	RetryMax int
	// RetryInitial is the first retry's delay; later ones double up to
	// RetryMaxInterval.
	RetryInitial time.Duration
	// RetryMaxInterval caps the delay between retries.
	RetryMaxInterval time.Duration

	// BatchSize bounds a batch: how many events catch-up applies in one
	// transaction (rows and checkpoint together), how many that piled up
	// in a live subscription are applied at once, and how many dirty
	// claims a rebuild lets pile up before it writes the older half back.
	// Live delivery applies one event per transaction while the projection
	// keeps up, so that each becomes visible at once; a backlog is applied
	// in batches, which is what lets catch-up, bursts and rebuild keep up.
	BatchSize int
	// PageSize is how many events one store read returns during catch-up.
	PageSize int
	// Backlog is how many events must be waiting in a projection's live
	// subscription for them to be applied together, in one transaction,
	// rather than one event per transaction; see SubscriberConfig.Batch.
	// Two is low on purpose: at a steady 2,000 events/s one transaction
	// per event keeps the single SQLite writer about half busy, and
	// batching as soon as two events wait keeps the queue from growing.
	Backlog int
	// CacheSize bounds the folded claim states each projection keeps in
	// memory, so that a live event costs no read of its own row or stream.
	// It is the memory bound of the read side: a claim state is a few KiB
	// and every projection has its own cache, so the default (1,000: the
	// claims worked on within minutes in a busy service centre, not every
	// claim ever) keeps them to a few MiB each. The 10-minute soak grew the
	// heap to 575 MiB with 50,000; with 5,000 the service's live heap was
	// 138 MiB after the benchmark's million events (docs/performance.md).
	// The events folded into the cached states are bounded too, at 16 a
	// claim on average (cacheEventsPerClaim): long claims take more room.
	CacheSize int
	// RebuildCacheSize is CacheSize while a rebuild fills a generation: a
	// rebuild meets every claim under way at once in the log (a thousand
	// and more in a busy one), and a claim evicted before its last event is
	// folded again from its stream. The memory is given back when the
	// rebuild ends.
	RebuildCacheSize int
	// LagScanLimit bounds how many unprocessed events Status counts; beyond
	// it the lag is reported as "at least" that many (LagCapped).
	LagScanLimit int
	// MetricsInterval is how often the lag gauges are refreshed from the
	// store.
	MetricsInterval time.Duration
	// ResubscribeDelay is how long the subscriber waits before
	// resubscribing after the store's subscription broke.
	ResubscribeDelay time.Duration
	// CloseTimeout bounds how long Close waits for a handler in flight.
	CloseTimeout time.Duration
	// ReadConns bounds the read-only connection pool that serves queries.
	ReadConns int
	// BusyTimeout is how long a connection waits on a locked database; only
	// WAL checkpoints make writers and readers wait on each other here.
	BusyTimeout time.Duration
	// CheckpointInterval is how often the read models' WAL is copied into
	// the database file, in the background.
	CheckpointInterval time.Duration

	// commitHook, when set (by tests), runs inside each read-model
	// transaction just before COMMIT and again just after it, before the
	// event is acknowledged: the crash test kills the process at both.
	commitHook func(phase commitPhase, projection string, checkpoint positionCommit)
	// publishHook, when set (by the lag benchmark), is told each time a
	// projection's visible checkpoint advances, and when.
	publishHook func(projection string, pos eventstore.Position, at time.Time)
	// transactHook, when set (by the lag benchmark), is told of each merged
	// read-model transaction: how long it held the writer and how many
	// events it applied.
	transactHook func(took time.Duration, events int)
	// noWrites, when set (by the lag benchmark), makes the committer
	// publish each part's checkpoint without writing anything: the lag of
	// everything but the read models' storage, the floor any storage
	// engine starts from. Nothing it "commits" is stored.
	noWrites bool
	// walLimit is how large the read models' WAL may grow, in bytes,
	// before the writer checkpoints it itself (see database.open); tests
	// lower it.
	walLimit int
	// dropChunk is how many rows a transaction deletes when a replaced
	// generation is dropped (see projection.emptyTable); dropHook, when set
	// (by tests), runs after each such transaction.
	dropChunk int
	dropHook  func(projection string)
	// only, when set (by benchmarks), names the projections the Runner
	// runs; the others are left out.
	only []string
	// beforeSwitch, when set (by tests), runs in Rebuild between the bulk
	// catch-up and the switch, so a test can write events into that window.
	beforeSwitch func(projection string)
}

// commitPhase tells commitHook where it is called.
type commitPhase string

const (
	beforeCommit commitPhase = "before-commit"
	afterCommit  commitPhase = "after-commit"
)

// positionCommit is what commitHook is told: the new checkpoint's commit
// position and how many events the transaction applied.
type positionCommit struct {
	Commit uint64
	Events int
}

// Defaults for zero Config fields.
const (
	DefaultRetryMax           = 3
	DefaultRetryInitial       = 20 * time.Millisecond
	DefaultRetryMaxInterval   = time.Second
	DefaultBatchSize          = 4096
	DefaultPageSize           = 2048
	DefaultBacklog            = 2
	DefaultCacheSize          = 1_000
	DefaultRebuildCacheSize   = 8_192
	DefaultLagScanLimit       = 10_000
	DefaultMetricsInterval    = 5 * time.Second
	DefaultResubscribeDelay   = time.Second
	DefaultCloseTimeout       = 10 * time.Second
	DefaultReadConns          = 4
	DefaultBusyTimeout        = 5 * time.Second
	DefaultCheckpointInterval = 100 * time.Millisecond

	defaultWALLimit  = 64 << 20
	defaultDropChunk = 200
)

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setDuration := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setInt(&c.RetryMax, DefaultRetryMax)
	setDuration(&c.RetryInitial, DefaultRetryInitial)
	setDuration(&c.RetryMaxInterval, DefaultRetryMaxInterval)
	setInt(&c.BatchSize, DefaultBatchSize)
	setInt(&c.PageSize, DefaultPageSize)
	setInt(&c.Backlog, DefaultBacklog)
	setInt(&c.CacheSize, DefaultCacheSize)
	setInt(&c.RebuildCacheSize, max(DefaultRebuildCacheSize, c.CacheSize))
	setInt(&c.LagScanLimit, DefaultLagScanLimit)
	setDuration(&c.MetricsInterval, DefaultMetricsInterval)
	setDuration(&c.ResubscribeDelay, DefaultResubscribeDelay)
	setDuration(&c.CloseTimeout, DefaultCloseTimeout)
	setInt(&c.ReadConns, DefaultReadConns)
	setDuration(&c.BusyTimeout, DefaultBusyTimeout)
	setDuration(&c.CheckpointInterval, DefaultCheckpointInterval)
	setInt(&c.walLimit, defaultWALLimit)
	setInt(&c.dropChunk, defaultDropChunk)
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("projections: Dir is required"))
	}
	positive := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("projections: %s must be positive, got %d", name, v))
		}
	}
	positive("BatchSize", c.BatchSize)
	positive("PageSize", c.PageSize)
	positive("Backlog", c.Backlog)
	positive("CacheSize", c.CacheSize)
	positive("RebuildCacheSize", c.RebuildCacheSize)
	positive("LagScanLimit", c.LagScanLimit)
	positive("ReadConns", c.ReadConns)
	if c.RetryMax < 0 {
		errs = append(errs, fmt.Errorf("projections: RetryMax must not be negative, got %d", c.RetryMax))
	}
	atLeast := func(name string, v, min time.Duration) {
		if v < min {
			errs = append(errs, fmt.Errorf("projections: %s must be at least %s, got %s", name, min, v))
		}
	}
	atLeast("RetryInitial", c.RetryInitial, time.Millisecond)
	atLeast("RetryMaxInterval", c.RetryMaxInterval, c.RetryInitial)
	atLeast("MetricsInterval", c.MetricsInterval, 100*time.Millisecond)
	atLeast("ResubscribeDelay", c.ResubscribeDelay, time.Millisecond)
	atLeast("CloseTimeout", c.CloseTimeout, time.Millisecond)
	atLeast("BusyTimeout", c.BusyTimeout, time.Millisecond)
	atLeast("CheckpointInterval", c.CheckpointInterval, time.Millisecond)
	return errors.Join(errs...)
}
