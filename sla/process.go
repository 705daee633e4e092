// Package sla runs the SLA timer process: a process manager that reads the
// clocks that are due from the timers read model and acts on each, through
// ledger.Service.Execute like any other client:
//
//   - shipment window expired: the claim is closed with reason
//     shipment_window_expired (the customer did not hand in the goods in
//     time, so the claim counts as resolved);
//   - repair hard limit passed: domain.EscalateRepair, after which the claim
//     must be settled by replacement or refund;
//   - any other clock: domain.RecordSLABreach, with the clock and its due
//     time.
//
// Each action happens exactly once, however many processes run and however
// often they restart, with no coordination between them. The command for a
// due clock is a pure function of the claim and the clock (its name and due
// time), and is sent with an Idempotency-Key derived from them under one
// fixed actor: the ledger derives the event's id from the key, answers a
// repeat with the first result and writes nothing. It is sent with If-Match
// set to the claim version the read model saw, so a process working from a
// stale read model (the claim changed since, say the goods were shipped)
// is refused instead of acting on the past, and looks again at its next tick.
package sla

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// Actor is who the process acts as, in every instance: the idempotency of
// its commands is per actor, so all instances must share it.
var Actor = ledger.Actor{Name: "sla-timer", Role: "system"}

// Executor runs a command on a claim and reads its history: ledger.Service.
type Executor interface {
	Execute(ctx context.Context, id uuid.UUID, cmd domain.Command, req ledger.Request) (ledger.Result, error)
	Events(ctx context.Context, id uuid.UUID) ([]eventstore.RecordedEvent, error)
}

// DueSource lists running clocks due at or before now that no one acted on
// yet: projections.Runner.
type DueSource interface {
	DueTimers(ctx context.Context, now time.Time, limit int) ([]projections.Timer, error)
}

// Config configures a Process. The zero value of each optional field takes a
// default.
type Config struct {
	// Ledger executes the process's commands (required).
	Ledger Executor
	// Timers says which clocks are due (required).
	Timers DueSource
	// Clock is the process's notion of now (default time.Now); tests move
	// it. The ledger stamps events with its own clock, and refuses a breach
	// before its due time, so the two should agree.
	Clock func() time.Time
	// Interval is the time between two passes (default 15s). A clock is
	// acted on at most this long after it expires.
	Interval time.Duration
	// Batch bounds the clocks one pass handles (default 200); a pass that
	// fills it runs again at once.
	Batch int
	// Logger receives what the process does (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Instance names this process in the correlation id of what it writes
	// (default: a random id), so that of two instances acting on one clock
	// at the same instant, the one whose event the store kept knows it.
	Instance string
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Ledger == nil:
		return errors.New("sla: Ledger is required")
	case c.Timers == nil:
		return errors.New("sla: Timers is required")
	case c.Interval < 0 || c.Batch < 0:
		return errors.New("sla: Interval and Batch must not be negative")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Interval == 0 {
		c.Interval = 15 * time.Second
	}
	if c.Batch == 0 {
		c.Batch = 200
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Instance == "" {
		c.Instance = uuid.NewString()
	}
}

// Process is the SLA timer process.
type Process struct {
	cfg      Config
	breaches *prometheus.CounterVec
	failures prometheus.Counter
}

// New returns a process; Run starts it.
func New(cfg Config) (*Process, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	p := &Process{
		cfg: cfg,
		breaches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rmaledger_sla_breaches_total",
			Help: "SLA clocks acted on after their due time, by clock: breaches recorded, claims closed for an expired shipment window, repairs escalated. Counted by the process that wrote the event, so the sum over instances counts each breach once.",
		}, []string{"clock"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rmaledger_sla_timer_failures_total",
			Help: "Due clocks the SLA timer process could not act on (they are retried at its next pass).",
		}),
	}
	for _, name := range domain.ClockNames() {
		p.breaches.WithLabelValues(name) // series from the start, at 0
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{p.breaches, p.failures} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// Run passes over the due clocks every Interval until ctx ends. A failing
// pass is logged and the next one tries again: a clock stays due until it is
// acted on.
func (p *Process) Run(ctx context.Context) error {
	ticker := time.NewTicker(p.cfg.Interval)
	defer ticker.Stop()
	for {
		for {
			report, err := p.Tick(ctx)
			if err != nil && ctx.Err() == nil {
				p.cfg.Logger.Warn("sla timer pass failed", "error", err)
			}
			if report.Due < p.cfg.Batch || err != nil || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Report says what one pass did.
type Report struct {
	// Due is how many due clocks the pass found.
	Due int `json:"due"`
	// Acted counts the events this process wrote; Replayed the clocks
	// another instance (or an earlier run) had already acted on; Skipped
	// those the claim moved on from since the read model saw it.
	Acted    int `json:"acted"`
	Replayed int `json:"replayed"`
	Skipped  int `json:"skipped"`
	// Clocks says what happened to each due clock, in the order handled.
	Clocks []ClockOutcome `json:"clocks"`
}

// ClockOutcome is what a pass did with one due clock.
type ClockOutcome struct {
	ClaimID uuid.UUID     `json:"claim_id"`
	Number  string        `json:"number"`
	Clock   string        `json:"clock"`
	DueAt   time.Time     `json:"due_at"`
	Action  domain.Action `json:"action"`
	// Outcome is acted (this pass wrote the event), replayed (it was
	// written before), skipped (the claim moved on; looked at again next
	// pass) or failed (retried next pass).
	Outcome string `json:"outcome"`
}

// Tick acts once on every clock due now. Errors of single clocks are logged
// and counted, not returned: one claim's problem must not hold up the rest.
// The error is that of listing the due clocks.
func (p *Process) Tick(ctx context.Context) (Report, error) {
	now := p.cfg.Clock()
	due, err := p.cfg.Timers.DueTimers(ctx, now, p.cfg.Batch)
	if err != nil {
		return Report{}, fmt.Errorf("sla: due timers: %w", err)
	}
	report := Report{Due: len(due), Clocks: make([]ClockOutcome, 0, len(due))}
	// versions holds the claim versions this pass wrote: a claim with two
	// clocks due (the repair turnaround and the hard limit) changed only by
	// our own hand between the two, so the second may go at once.
	versions := map[uuid.UUID]int64{}
	for _, t := range due {
		if ctx.Err() != nil {
			return report, ctx.Err()
		}
		if v, ok := versions[t.ClaimID]; ok {
			t.ClaimVersion = v
		}
		outcome, version := p.act(ctx, t)
		cmd, _ := Command(t)
		report.Clocks = append(report.Clocks, ClockOutcome{
			ClaimID: t.ClaimID, Number: t.Number, Clock: t.Name, DueAt: t.DueAt, Action: cmd.Action(), Outcome: outcome.String(),
		})
		switch outcome {
		case acted:
			versions[t.ClaimID] = version
			report.Acted++
		case replayed:
			report.Replayed++
		case skipped:
			report.Skipped++
		}
	}
	return report, nil
}

type outcome int

const (
	acted outcome = iota
	replayed
	skipped
	failed
)

func (o outcome) String() string {
	return [...]string{"acted", "replayed", "skipped", "failed"}[o]
}

// Command returns what the process sends for a due clock, and the
// Idempotency-Key it sends it with. Both depend on the claim and the clock
// only, never on the time of the pass or the instance: that is what makes
// two processes write one event between them.
func Command(t projections.Timer) (domain.Command, string) {
	key := fmt.Sprintf("sla:%s:%s:%d", t.Name, t.ClaimID, t.DueAt.UnixNano())
	switch t.Name {
	case domain.ClockShipmentWindow:
		return &domain.CloseClaim{
			ReasonCode: domain.ReasonShipmentWindowExpired,
			Reason:     "The goods were not handed in by " + t.DueAt.Format("2006-01-02 15:04 -07:00") + "; the claim counts as resolved.",
		}, key
	case domain.ClockRepairHardLimit:
		return &domain.EscalateRepair{DueAt: t.DueAt}, key
	}
	return &domain.RecordSLABreach{Clock: t.Name, DueAt: t.DueAt}, key
}

// act sends the clock's command; on success it returns the claim's version
// after it.
func (p *Process) act(ctx context.Context, t projections.Timer) (outcome, int64) {
	cmd, key := Command(t)
	version := t.ClaimVersion
	correlation := key + "@" + p.cfg.Instance
	res, err := p.cfg.Ledger.Execute(ctx, t.ClaimID, cmd, ledger.Request{
		Actor:          Actor,
		CorrelationID:  correlation,
		IdempotencyKey: key,
		IfMatch:        &version,
	})
	log := p.cfg.Logger.With("claim", t.Number, "claim_id", t.ClaimID, "clock", t.Name, "due_at", t.DueAt)
	var transition *domain.InvalidTransitionError
	switch {
	case err == nil && res.Replayed:
		return replayed, 0
	case err == nil:
		if !p.wrote(ctx, t.ClaimID, res.Claim.Version, correlation) {
			return replayed, 0
		}
		p.breaches.WithLabelValues(t.Name).Inc()
		log.Info("sla clock acted on", "action", cmd.Action(), "overrun", p.cfg.Clock().Sub(t.DueAt).Round(time.Second))
		return acted, res.Claim.Version
	case errors.Is(err, ledger.ErrStaleVersion), errors.As(err, &transition):
		// The claim changed after the read model saw it: look again once the
		// model has caught up.
		log.Debug("sla clock skipped: the claim moved on", "reason", err)
		return skipped, 0
	case errors.Is(err, domain.ErrDuplicateReference):
		return replayed, 0 // recorded under another key (an operator, an older version of this process)
	}
	p.failures.Inc()
	log.Warn("sla clock not acted on", "action", cmd.Action(), "error", err)
	return failed, 0
}

// wrote reports whether the event at the claim's version is this
// instance's. Two instances acting on one clock at the same instant append
// the same event id at the same revision; the store keeps the first and
// answers the second as an idempotent retry, so both see success. The stored
// metadata tells which one the store kept, and only that one counts the
// breach. When the history cannot be read, the write is counted: the event
// exists, and a count off by one beats none.
func (p *Process) wrote(ctx context.Context, id uuid.UUID, version int64, correlation string) bool {
	records, err := p.cfg.Ledger.Events(ctx, id)
	if err != nil || version < 1 || int64(len(records)) < version {
		return true
	}
	meta, err := eventlog.DecodeMetadata(records[version-1].Metadata)
	return err != nil || meta.CorrelationID == correlation
}
