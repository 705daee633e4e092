package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
)

// Reading the big log three ways, each on the store as the service would
// open it: reading alone (the baseline: what the read path allows), every
// read model rebuilt from position zero, and the audit verification.

// ReadAll is the baseline of replay and verification: $all read page after
// page in one goroutine, decoding nothing.
type ReadAll struct {
	Events          int     `json:"events"`
	ClaimEvents     int     `json:"claim_events"`
	EventsPerSec    float64 `json:"events_per_s"`
	DurationSeconds float64 `json:"duration_s"`
	// Bytes is the events' data and metadata, MB the same in MiB.
	MB float64 `json:"mb"`
}

// Replay is every read model rebuilt from the log, in one pass, as
// `rmaledger projections rebuild` does with the service stopped.
type Replay struct {
	Projections     []string `json:"projections"`
	Events          int      `json:"events"`
	EventsPerSec    float64  `json:"events_per_s"`
	DurationSeconds float64  `json:"duration_s"`
	CPUSeconds      float64  `json:"cpu_s"`
}

// Verify is the audit verification of every hash chain over the log.
type Verify struct {
	OK              bool    `json:"ok"`
	Events          int     `json:"events"`
	Streams         int     `json:"streams"`
	EventsPerSec    float64 `json:"events_per_s"`
	DurationSeconds float64 `json:"duration_s"`
	CPUSeconds      float64 `json:"cpu_s"`
}

// readAll reads the whole log once.
func readAll(ctx context.Context, dir string) (ReadAll, error) {
	store, err := embedded.Open(dir, embedded.Config{Logger: quiet})
	if err != nil {
		return ReadAll{}, err
	}
	defer store.Close()
	var (
		out   ReadAll
		after eventstore.Position
		bytes int
	)
	start := time.Now()
	for {
		recs, err := store.ReadAll(ctx, after, 4096, eventstore.Filter{})
		if err != nil {
			return ReadAll{}, err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			bytes += len(r.Data) + len(r.Metadata)
			if eventlog.Claims.Holds(r.Stream) {
				out.ClaimEvents++
			}
		}
		out.Events += len(recs)
		after = recs[len(recs)-1].Position
	}
	elapsed := time.Since(start)
	out.DurationSeconds = round3(elapsed.Seconds())
	out.EventsPerSec = round3(float64(out.Events) / elapsed.Seconds())
	out.MB = round3(float64(bytes) / (1 << 20))
	return out, nil
}

// replay rebuilds every read model in dir from the log, in one pass (the
// read models' database, readmodels.db, is left in dir for the service).
// claimEvents is what the projections read: they follow claim streams only.
func replay(ctx context.Context, dir string, claimEvents int) (Replay, error) {
	store, err := embedded.Open(dir, embedded.Config{Logger: quiet})
	if err != nil {
		return Replay{}, err
	}
	defer store.Close()
	// The same configuration as the service's: the timers read model is
	// computed with the policy, and a different one would be rebuilt again
	// when the service starts.
	reads, err := projections.New(store, projections.Config{Dir: dir, Logger: quiet, Policies: policy.Default()})
	if err != nil {
		return Replay{}, err
	}
	defer reads.Close()
	cpu := cpuClock()
	start := time.Now()
	if err := reads.Rebuild(ctx); err != nil {
		return Replay{}, fmt.Errorf("rebuild: %w", err)
	}
	elapsed := time.Since(start)
	out := Replay{
		Projections: reads.Names(), Events: claimEvents,
		EventsPerSec: round3(float64(claimEvents) / elapsed.Seconds()), DurationSeconds: round3(elapsed.Seconds()),
		CPUSeconds: round3((cpuClock() - cpu).Seconds()),
	}
	if err := reads.Close(); err != nil {
		return Replay{}, err
	}
	return out, store.Close()
}

// verify runs the audit verification over the whole log, as `rmaledger
// audit verify` does.
func verify(ctx context.Context, dir string) (Verify, error) {
	store, err := embedded.Open(dir, embedded.Config{Logger: quiet})
	if err != nil {
		return Verify{}, err
	}
	defer store.Close()
	cpu := cpuClock()
	start := time.Now()
	r, err := audit.Verify(ctx, store, audit.VerifyOptions{DensePositions: true})
	if err != nil {
		return Verify{}, fmt.Errorf("audit verify: %w", err)
	}
	elapsed := time.Since(start)
	if !r.OK {
		return Verify{}, fmt.Errorf("audit verify found a break in a freshly written log: %v", r.Break)
	}
	return Verify{
		OK: r.OK, Events: r.Events, Streams: r.Streams,
		EventsPerSec: round3(float64(r.Events) / elapsed.Seconds()), DurationSeconds: round3(elapsed.Seconds()),
		CPUSeconds: round3((cpuClock() - cpu).Seconds()),
	}, store.Close()
}
