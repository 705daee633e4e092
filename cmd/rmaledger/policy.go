package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/clock"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
	"github.com/rmaledger/rmaledger/sla"
)

// loadPolicy reads the warranty and SLA policy: the configured file, or the
// embedded default drawn from the seeds. A file that does not load is an
// error naming each problem's line and field, and so is a file none of whose
// versions is in force yet: the service would have no terms to decide new
// claims by.
func loadPolicy(file string, now time.Time) (*domain.PolicyBook, error) {
	book, name := (*domain.PolicyBook)(nil), policy.DefaultName
	if file == "" {
		book = policy.Default()
	} else {
		var err error
		if book, err = policy.Load(file); err != nil {
			return nil, err
		}
		name = file
	}
	if !book.Started(now) {
		first := book.Versions()[0]
		return nil, fmt.Errorf("policy file %s: no version is in force yet: the oldest, %s, takes effect on %s (give the oldest no effective_from to put it in force since ever)",
			name, first.Version, first.EffectiveFrom)
	}
	return book, nil
}

// logPolicy says which policy versions the service decides with.
func logPolicy(logger *slog.Logger, file string, book *domain.PolicyBook) {
	if file == "" {
		file = policy.DefaultName
	}
	current := book.InForce(time.Now())
	logger.Info("policy loaded", "file", file, "versions", len(book.Versions()), "in_force", current.Version,
		"time_zone", current.Calendar.Loc().String(), "fingerprint", book.Fingerprint())
}

// startTimers runs the SLA timer process on clk until the returned function
// is called (or ctx ends); that function waits for it to stop.
func startTimers(ctx context.Context, cfg config, logger *slog.Logger, reg prometheus.Registerer, service *ledger.Service, reads *projections.Runner, clk clock.Clock) (*sla.Process, func(), error) {
	process, err := sla.New(sla.Config{
		Ledger: service, Timers: reads, Interval: cfg.SLAInterval, Clock: clk.Now,
		Logger: logger.With("component", "sla"), Registerer: reg,
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := process.Run(ctx); err != nil {
			logger.Error("sla timer process stopped", "error", err)
		}
	}()
	return process, func() { cancel(); <-done }, nil
}
