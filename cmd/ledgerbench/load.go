package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// The HTTP loads on the running service. Every request is one a real
// client sends: agents and technicians with their API keys driving claims
// through their lifecycles, customers checking a claim's status with its
// number and phone from many addresses (the service trusts the benchmark
// as its reverse proxy, so X-Forwarded-For names each customer).

// apiKeys are the keys the service is started with, by role.
type apiKeys map[string]string

func newAPIKeys() apiKeys {
	keys := apiKeys{}
	for _, role := range []string{"agent", "technician", "admin"} {
		b := make([]byte, 16)
		rand.Read(b)
		keys[role] = "ledgerbench-" + role + "-" + hex.EncodeToString(b)
	}
	return keys
}

// spec is the RMALEDGER_API_KEYS value.
func (k apiKeys) spec() string {
	var pairs []string
	for role, key := range k {
		pairs = append(pairs, role+":"+key)
	}
	return strings.Join(pairs, ",")
}

// header authenticates as the role that sends a step; the SLA process's
// closures, which the service itself sends in production, go as the agent.
func (k apiKeys) header(by string) http.Header {
	role := by
	if by == bySLA {
		role = byAgent
	}
	return http.Header{"Authorization": {"Bearer " + k[role]}}
}

// claimAnswer is the part of a claim answer the load needs.
type claimAnswer struct {
	ID       string `json:"id"`
	Number   string `json:"number"`
	Status   string `json:"status"`
	Position string `json:"position"`
}

// driver walks one client's claims through their lifecycles over HTTP:
// each call of next sends the next command (a registration when the last
// claim is closed).
type driver struct {
	svc    *child
	client *http.Client
	keys   apiKeys
	next   int // the next claim's index
	id     string
	i      int
	steps  []step
	closed int
	// lastAction is what the last command was, for the action counts.
	lastAction string
	// furthest is the answer with the furthest position this client got.
	furthest   claimAnswer
	furthestAt uint64
}

// note remembers the answer if its position is the furthest yet. The
// embedded store's positions are numbers; any other form is kept as last.
func (d *driver) note(ans claimAnswer) {
	p, err := strconv.ParseUint(ans.Position, 10, 64)
	if err != nil || p >= d.furthestAt {
		d.furthest, d.furthestAt = ans, p
	}
}

// command sends the next command and returns the claim's answer.
func (d *driver) command(ctx context.Context) (claimAnswer, error) {
	var (
		ans  claimAnswer
		err  error
		body []byte
	)
	h := http.Header{}
	if d.id == "" {
		d.i, d.next = d.next, d.next+1
		if body, err = json.Marshal(registration(d.i, time.Now())); err != nil {
			return ans, err
		}
		for k, v := range d.keys.header(byAgent) {
			h[k] = v
		}
		h.Set("Idempotency-Key", uuid.NewString())
		d.lastAction = "register"
		if err = callJSON(ctx, d.client, http.MethodPost, d.svc.base+"/v1/claims", h, body, &ans); err != nil {
			return ans, fmt.Errorf("register claim %d: %w", d.i, err)
		}
		d.id, d.steps = ans.ID, clientSteps(lifecycle(d.i))
		d.note(ans)
		return ans, nil
	}
	s := d.steps[0]
	if body, err = json.Marshal(s.cmd); err != nil {
		return ans, err
	}
	for k, v := range d.keys.header(s.by) {
		h[k] = v
	}
	h.Set("Idempotency-Key", uuid.NewString())
	d.lastAction = string(s.cmd.Action())
	if err = callJSON(ctx, d.client, http.MethodPost, d.svc.base+"/v1/claims/"+d.id+"/actions/"+d.lastAction, h, body, &ans); err != nil {
		if ctx.Err() != nil {
			return ans, err
		}
		// A failed step is not retried: the claim is abandoned, and the
		// error counted, so that one bad answer does not stop the client.
		d.id = ""
		return ans, fmt.Errorf("claim %d (%s) %s: %w", d.i, outcomeOf(d.i), d.lastAction, err)
	}
	if d.steps = d.steps[1:]; len(d.steps) == 0 {
		d.id = ""
		d.closed++
	}
	d.note(ans)
	return ans, nil
}

// clientSteps leaves out the SLA process's closures: the service's own
// process sends them once the shipment window expired, which no load run
// waits for.
func clientSteps(steps []step) []step {
	return slices.DeleteFunc(steps, func(s step) bool { return s.by == bySLA })
}

// furthest is the furthest answer of any of the drivers.
func furthest(drivers []*driver) claimAnswer {
	var best *driver
	for _, d := range drivers {
		if d.furthest.ID != "" && (best == nil || d.furthestAt >= best.furthestAt) {
			best = d
		}
	}
	if best == nil {
		return claimAnswer{}
	}
	return best.furthest
}

// settle waits until the read models hold every event a stage wrote: the
// next stage then measures itself, not the backlog of this one. It reads
// the furthest claim written with min_position, again while the service
// answers 503 (not visible yet), and returns how long that took: how far
// behind the projections had fallen.
func settle(ctx context.Context, svc *child, keys apiKeys, last claimAnswer) (time.Duration, error) {
	if last.ID == "" {
		return 0, nil
	}
	client := httpClient(1)
	start := time.Now()
	u := svc.base + "/v1/claims/" + last.ID + "?min_position=" + url.QueryEscape(last.Position)
	for {
		_, err := call(ctx, client, http.MethodGet, u, keys.header(byAgent), nil)
		var se *statusError
		switch {
		case err == nil:
			return time.Since(start), nil
		case errors.As(err, &se) && se.Status == http.StatusServiceUnavailable && time.Since(start) < 10*time.Minute:
			continue // waited its 2 seconds: ask again
		}
		return time.Since(start), fmt.Errorf("waiting for the read models to catch up: %w", err)
	}
}

// firstIndex keeps the claims the HTTP load registers apart from the
// generated ones (serial numbers, references): client w of stage k starts
// at firstIndex + k*stageStride + w*clientStride.
const (
	firstIndex   = 100_000_000
	stageStride  = 10_000_000
	clientStride = 100_000
)

// measureCommands drives claims through their lifecycles from clients
// closed-loop clients for d: durable commands per second.
func measureCommands(ctx context.Context, svc *child, keys apiKeys, clients int, d time.Duration) (Commands, error) {
	client := httpClient(clients)
	drivers := make([]*driver, clients)
	for w := range drivers {
		drivers[w] = &driver{svc: svc, client: client, keys: keys, next: firstIndex + w*clientStride}
	}
	var (
		mu      sync.Mutex
		actions = map[string]int{}
	)
	cpu := svc.cpuSeconds()
	run := closedLoop(ctx, clients, d, func(ctx context.Context, w int) error {
		_, err := drivers[w].command(ctx)
		if err == nil {
			mu.Lock()
			actions[drivers[w].lastAction]++
			mu.Unlock()
		}
		return err
	})
	out := Commands{LoadRun: run, ServiceCPUSeconds: round3(svc.cpuSeconds() - cpu), Actions: actions}
	for _, dr := range drivers {
		out.ClaimsClosed += dr.closed
	}
	caughtUp, err := settle(ctx, svc, keys, furthest(drivers))
	out.CatchUpSeconds = round3(caughtUp.Seconds())
	return out, err
}

// measureStatus looks claims up on GET /v1/status at a fixed rate, open
// loop, each request from its own customer: claim k, phone as registered,
// and a client address of its own for every ten lookups (the service's
// per-address limit allows 20 at once). Lookups go round the claims, so
// none is asked about more than the per-number limit allows.
func measureStatus(ctx context.Context, base string, refs []claimRef, rate, workers int, d time.Duration, stage int) LoadRun {
	client := httpClient(workers)
	offset := stage * 7919 // each rate starts on other claims
	return openLoop(ctx, rate, workers, d, func(ctx context.Context, i int) error {
		ref := refs[(offset+i)%len(refs)]
		q := url.Values{"number": {ref.Number}, "phone": {ref.Phone}}
		n := stage<<20 + i/10
		h := http.Header{"X-Forwarded-For": {fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff)}}
		_, err := call(ctx, client, http.MethodGet, base+"/v1/status?"+q.Encode(), h, nil)
		return err
	})
}

// measureTrivial loads the baseline server: closed loop like the commands,
// open loop at each status rate.
func measureTrivial(ctx context.Context, srv *child, clients int, closedFor, openFor time.Duration, rates []int) HTTPBaseline {
	client := httpClient(clients)
	ping := func(ctx context.Context, _ int) error {
		_, err := call(ctx, client, http.MethodGet, srv.base+"/v1/ping", nil, nil)
		return err
	}
	out := HTTPBaseline{ClosedLoop: closedLoop(ctx, clients, closedFor, ping)}
	for _, rate := range rates {
		out.OpenLoop = append(out.OpenLoop, openLoop(ctx, rate, openWorkers, openFor, ping))
	}
	out.Memory, _ = srv.memory()
	return out
}

// openWorkers is how many requests an open loop can have in flight: far
// more than a healthy server needs at 5,000/s (a few), so that a stall
// shows as latency rather than as requests never sent.
const openWorkers = 256

// lagSampleEvery: one command in lagSampleEvery is followed by a read,
// alternately one that waits for it and one that does not.
const lagSampleEvery = 4

// measureLag sends commands at rate per second (each writes one event) from
// clients drivers for d. After one command in four, the client reads the
// claim: every other time with min_position (the read waits until the read
// models hold the command's event: visible), otherwise an older claim
// without it (the same read's round trip, the baseline).
func measureLag(ctx context.Context, svc *child, keys apiKeys, refs []claimRef, clients, rate int, d time.Duration) (Lag, error) {
	client := httpClient(clients)
	drivers := make([]*driver, clients)
	for w := range drivers {
		drivers[w] = &driver{svc: svc, client: client, keys: keys, next: firstIndex + stageStride + w*clientStride}
	}
	var (
		visible, read latencies
		errs          errorLog
		commands      atomic.Int64
		wg            sync.WaitGroup
	)
	total := int(d.Seconds() * float64(rate))
	tokens := make(chan int, clients)
	for w := range clients {
		wg.Go(func() {
			dr := drivers[w]
			for i := range tokens {
				ans, err := dr.command(ctx)
				if err != nil {
					errs.add(err)
					continue
				}
				commands.Add(1)
				answered := time.Now()
				if i%lagSampleEvery != 0 {
					continue
				}
				h := keys.header(byAgent)
				if (i/lagSampleEvery)%2 == 0 {
					u := svc.base + "/v1/claims/" + ans.ID + "?min_position=" + url.QueryEscape(ans.Position)
					if _, err := call(ctx, client, http.MethodGet, u, h, nil); err != nil {
						errs.add(fmt.Errorf("read with min_position: %w", err))
						continue
					}
					visible.add(time.Since(answered))
				} else {
					t0 := time.Now()
					ref := refs[i%len(refs)]
					if _, err := call(ctx, client, http.MethodGet, svc.base+"/v1/claims/"+ref.ID.String(), h, nil); err != nil {
						errs.add(fmt.Errorf("read: %w", err))
						continue
					}
					read.add(time.Since(t0))
				}
			}
		})
	}
	// The pacer releases command i at start + i/rate whatever the clients'
	// progress; when every client is busy the release waits, and the rate
	// achieved (reported) falls below the rate asked for.
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		tokens <- i
	}
	close(tokens)
	wg.Wait()
	elapsed := time.Since(start)
	caughtUp, err := settle(ctx, svc, keys, furthest(drivers))
	return Lag{
		Rate: rate, Commands: int(commands.Load()), Errors: int(errs.n.Load()),
		EventsPerSec: round3(float64(commands.Load()) / elapsed.Seconds()), DurationSeconds: round3(elapsed.Seconds()),
		Visible: visible.summary(), Read: read.summary(), FirstError: errs.firstError(), CatchUpSeconds: round3(caughtUp.Seconds()),
	}, err
}
