package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
)

// StoreAppend is the embedded store's durable append rate with a number of
// concurrent writers, each appending one event at a time to claim streams
// with the exact expected revision, as the ledger does.
type StoreAppend struct {
	Writers         int     `json:"writers"`
	Events          int     `json:"events"`
	EventsPerSec    float64 `json:"events_per_s"`
	DurationSeconds float64 `json:"duration_s"`
	// Latency of an Append call: queueing, the batch's transaction, fsync.
	Latency Latency `json:"latency"`
}

// sampleEvents are stored events as the ledger writes them: one claim of
// each outcome, decided, encoded and sealed into its chain. The store
// benchmark appends copies of them (with fresh ids), so it moves realistic
// bytes: about 1 KB of data and metadata per event.
func sampleEvents() ([]eventstore.EventData, error) {
	now := time.Now()
	pol := policy.Default().InForce(now)
	var out []eventstore.EventData
	for i := range outcomeMix {
		id := uuid.New()
		reg := registration(i, now)
		reg.ClaimID, reg.Number = id, ledger.FormatNumber(now.Year(), uint64(i+1))
		steps := append([]step{{reg, byAgent}}, lifecycle(i)...)
		var (
			state  domain.State
			past   []domain.Event
			stream []eventstore.EventData
		)
		for k, s := range steps {
			at := now.Add(time.Duration(k) * time.Minute)
			if s.by == bySLA {
				at = at.Add(slaLate)
			}
			if c, ok := s.cmd.(domain.ClockDependent); ok {
				c.SetClocks(domain.FoldClocks(past, pol))
			}
			events, err := domain.Decide(state, s.cmd, at, pol)
			if err != nil {
				return nil, fmt.Errorf("sample claim %d step %d: %w", i, k, err)
			}
			meta, err := json.Marshal(eventlog.Metadata{
				CorrelationID: uuid.NewString(), CausationID: uuid.NewString(), Actor: "agent-bench", Role: "agent",
				Action: string(s.cmd.Action()), OccurredAt: at, PolicyVersion: pol.Version,
			})
			if err != nil {
				return nil, err
			}
			for _, e := range events {
				typ, data, err := domain.EncodeEvent(e)
				if err != nil {
					return nil, err
				}
				stream = append(stream, eventstore.EventData{ID: uuid.New(), Type: typ, Data: data, Metadata: meta})
				state = domain.Evolve(state, e)
				past = append(past, e)
			}
		}
		if err := audit.SealEvents(eventlog.Claims.Stream(id), nil, stream); err != nil {
			return nil, err
		}
		out = append(out, stream...)
	}
	return out, nil
}

// measureAppend appends from the given number of writers for d into a
// fresh store in dir. Each writer writes claim streams of ten events, one
// append per event.
func measureAppend(ctx context.Context, dir string, writers int, d time.Duration, samples []eventstore.EventData) (StoreAppend, error) {
	store, err := embedded.Open(dir, embedded.Config{Logger: quiet})
	if err != nil {
		return StoreAppend{}, err
	}
	defer store.Close()
	var (
		lat  latencies
		wg   sync.WaitGroup
		errs errorLog
	)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for n := w; ctx.Err() == nil; {
				stream := eventlog.Claims.Stream(uuid.New())
				expected := eventstore.NoStream
				for range 10 {
					ev := samples[n%len(samples)]
					n++
					ev.ID = uuid.New()
					t0 := time.Now()
					// Not ctx: an append cut short by the end of the run
					// would be counted as neither done nor failed.
					res, err := store.Append(context.Background(), stream, expected, ev)
					if err != nil {
						errs.add(err)
						return
					}
					lat.add(time.Since(t0))
					expected = eventstore.Exact(res.NextExpectedRevision)
					if ctx.Err() != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if errs.n.Load() > 0 {
		return StoreAppend{}, fmt.Errorf("store append: %s", errs.firstError())
	}
	sum := lat.summary()
	return StoreAppend{
		Writers: writers, Events: sum.Count, EventsPerSec: round3(float64(sum.Count) / elapsed.Seconds()),
		DurationSeconds: round3(elapsed.Seconds()), Latency: sum,
	}, store.Close()
}
