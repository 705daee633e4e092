package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/sla"
)

// quiet drops the logs of the components the benchmark runs in-process.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Generating the big log: a million events through HTTP would take most of
// the run, so they are written through the ledger package directly (the
// same Register and Execute the API calls: the same validation, decisions,
// metadata, hash chain and claim numbers) into a fresh data directory, on
// which the service is then started. Many claims are under way at once, so
// that each claim's events are spread through $all as in a real log.

// claimRef is what a customer knows of a claim: enough for a status lookup.
type claimRef struct {
	ID     uuid.UUID
	Number string
	Phone  string
}

// Generation reports the writing of the big log.
type Generation struct {
	Claims          int            `json:"claims"`
	Commands        int            `json:"commands"`
	DurationSeconds float64        `json:"duration_s"`
	CommandsPerSec  float64        `json:"commands_per_s"`
	Workers         int            `json:"workers"`
	Outcomes        map[string]int `json:"outcomes"`
}

// generate writes claims through their whole lifecycles into the store in
// dir until at least events commands have run (a command writes one event;
// claim-number reservations add one event per 20 claims). Claims started
// are always finished. It returns every claim written.
func generate(ctx context.Context, dir string, events, workers int, progress func(done int)) (Generation, []claimRef, error) {
	store, err := embedded.Open(dir, embedded.Config{Logger: quiet})
	if err != nil {
		return Generation{}, nil, err
	}
	defer store.Close()
	svc, err := ledger.New(store, ledger.Config{Policies: policy.Default()})
	if err != nil {
		return Generation{}, nil, err
	}
	// The SLA process's closures are decided slaLate ahead, once the
	// shipment window they close has expired.
	late, err := ledger.New(store, ledger.Config{Policies: policy.Default(), Clock: func() time.Time { return time.Now().Add(slaLate) }})
	if err != nil {
		return Generation{}, nil, err
	}
	const open = 16 // claims each worker has under way at once
	var (
		next     atomic.Int64 // the next claim's index
		commands atomic.Int64
		mu       sync.Mutex
		claims   []claimRef
		outcomes = map[string]int{}
		wg       sync.WaitGroup
		errs     errorLog
		failed   atomic.Bool
	)
	requests := map[string]ledger.Request{
		byAgent:      {Actor: ledger.Actor{Name: "agent-bench", Role: "agent"}},
		byTechnician: {Actor: ledger.Actor{Name: "technician-bench", Role: "technician"}},
	}
	type active struct {
		i     int
		id    uuid.UUID
		steps []step
	}
	start := time.Now()
	today := time.Now()
	for range workers {
		wg.Go(func() {
			var mine []*active
			for !failed.Load() && ctx.Err() == nil {
				for len(mine) < open && commands.Load() < int64(events) {
					i := int(next.Add(1) - 1)
					res, err := svc.Register(ctx, registration(i, today), requests[byAgent])
					if err != nil {
						errs.add(fmt.Errorf("claim %d: register: %w", i, err))
						failed.Store(true)
						return
					}
					commands.Add(1)
					mine = append(mine, &active{i: i, id: res.Claim.ID, steps: lifecycle(i)})
					mu.Lock()
					claims = append(claims, claimRef{ID: res.Claim.ID, Number: res.Claim.Number, Phone: phoneOf(i)})
					outcomes[outcomeOf(i)]++
					mu.Unlock()
				}
				if len(mine) == 0 {
					return
				}
				kept := mine[:0]
				for _, c := range mine {
					s := c.steps[0]
					req, by := requests[s.by], svc
					if s.by == bySLA {
						// What the SLA process sends when the shipment window
						// ends: its own actor and a key derived from the clock.
						req, by = ledger.Request{Actor: sla.Actor, IdempotencyKey: fmt.Sprintf("sla:shipment_window:%s", c.id)}, late
					}
					if _, err := by.Execute(ctx, c.id, s.cmd, req); err != nil {
						errs.add(fmt.Errorf("claim %d (%s): %s: %w", c.i, outcomeOf(c.i), s.cmd.Action(), err))
						failed.Store(true)
						return
					}
					if n := commands.Add(1); progress != nil && n%50_000 == 0 {
						progress(int(n))
					}
					if c.steps = c.steps[1:]; len(c.steps) > 0 {
						kept = append(kept, c)
					}
				}
				mine = kept
			}
		})
	}
	wg.Wait()
	if errs.n.Load() > 0 {
		return Generation{}, nil, fmt.Errorf("generating the log: %s", errs.firstError())
	}
	if err := ctx.Err(); err != nil {
		return Generation{}, nil, err
	}
	elapsed := time.Since(start)
	return Generation{
		Claims: len(claims), Commands: int(commands.Load()), DurationSeconds: round3(elapsed.Seconds()),
		CommandsPerSec: round3(float64(commands.Load()) / elapsed.Seconds()), Workers: workers, Outcomes: outcomes,
	}, claims, store.Close()
}
