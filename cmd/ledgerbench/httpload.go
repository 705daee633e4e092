package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Two ways of loading a server:
//
//   - closed loop: N clients, each sending its next request when the last
//     one is answered. It finds the throughput; its latencies are those of
//     a system kept exactly saturated by N clients.
//   - open loop: requests are due at a fixed rate whatever the server does,
//     and each one's latency runs from the moment it was due, not from the
//     moment a client got round to sending it. A server that stalls is
//     charged for every request that piled up behind the stall (no
//     coordinated omission), which is what a customer waiting on the status
//     page sees.

// httpClient keeps one connection per concurrent client alive, without
// compression: what a partner's portal or the desk's front end would do.
func httpClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// call sends one request and reads the whole answer; a status outside 2xx
// is an error that carries the body (a problem document, usually).
func call(ctx context.Context, c *http.Client, method, url string, header http.Header, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return out, &statusError{Status: res.StatusCode, Body: string(out)}
	}
	return out, nil
}

// statusError is an answer outside 2xx.
type statusError struct {
	Status int
	Body   string
}

func (e *statusError) Error() string {
	body := e.Body
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, body)
}

// callJSON is call that decodes a 2xx answer into out.
func callJSON(ctx context.Context, c *http.Client, method, url string, header http.Header, body []byte, out any) error {
	b, err := call(ctx, c, method, url, header, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// LoadRun is the outcome of loading a server.
type LoadRun struct {
	// Clients is the closed loop's concurrency; Rate the open loop's
	// target arrival rate (requests/s).
	Clients int `json:"clients,omitempty"`
	Rate    int `json:"rate,omitempty"`
	// Requests counts the answered requests, Errors those that failed;
	// PerSecond is Requests (errors excluded) over the run.
	Requests        int     `json:"requests"`
	Errors          int     `json:"errors"`
	PerSecond       float64 `json:"per_s"`
	DurationSeconds float64 `json:"duration_s"`
	// Latency of the successful requests (open loop: from the moment each
	// was due).
	Latency Latency `json:"latency"`
	// FirstError says what went wrong first, if anything did.
	FirstError string `json:"first_error,omitempty"`
	// LoadCPUSeconds is the CPU the load generator itself used: on two
	// cores shared with the server, it is capacity the server did not have.
	LoadCPUSeconds float64 `json:"load_cpu_s"`
}

// errorLog counts failures and keeps the first.
type errorLog struct {
	n     atomic.Int64
	mu    sync.Mutex
	first string
}

func (e *errorLog) add(err error) {
	if e.n.Add(1) == 1 {
		e.mu.Lock()
		e.first = err.Error()
		e.mu.Unlock()
	}
}

func (e *errorLog) firstError() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.first
}

// closedLoop runs op from each of clients goroutines until d has passed.
// op(worker) makes one request; its latency is timed around the call.
func closedLoop(ctx context.Context, clients int, d time.Duration, op func(ctx context.Context, worker int) error) LoadRun {
	var (
		lat  latencies
		errs errorLog
		wg   sync.WaitGroup
	)
	cpu := cpuClock()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				err := op(ctx, w)
				if ctx.Err() != nil {
					return // cut short by the end of the run: not a failure
				}
				if err != nil {
					errs.add(err)
					continue
				}
				lat.add(time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	sum := lat.summary()
	return LoadRun{
		Clients: clients, Requests: sum.Count, Errors: int(errs.n.Load()),
		PerSecond: round3(float64(sum.Count) / elapsed.Seconds()), DurationSeconds: round3(elapsed.Seconds()),
		Latency: sum, FirstError: errs.firstError(), LoadCPUSeconds: round3((cpuClock() - cpu).Seconds()),
	}
}

// openLoop makes rate requests per second for d, request i being due at
// start + i/rate, from a pool of workers; op(i) makes request i. A request
// is timed from when it was due to when it was answered, so time spent
// waiting for a free worker (the server being slow) counts.
func openLoop(ctx context.Context, rate, workers int, d time.Duration, op func(ctx context.Context, i int) error) LoadRun {
	type due struct {
		i  int
		at time.Time
	}
	total := int(d.Seconds() * float64(rate))
	queue := make(chan due, total)
	var (
		lat  latencies
		errs errorLog
		wg   sync.WaitGroup
	)
	cpu := cpuClock()
	for range workers {
		wg.Go(func() {
			for r := range queue {
				err := op(ctx, r.i)
				if err != nil {
					errs.add(err)
					continue
				}
				lat.add(time.Since(r.at))
			}
		})
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; i < total && ctx.Err() == nil; {
		now := time.Now()
		// Release everything due by now in one go: the scheduler's own
		// sleep overshoots by tens of microseconds, and a request released
		// late is still timed from when it was due.
		for ; i < total; i++ {
			at := start.Add(time.Duration(i) * interval)
			if at.After(now) {
				break
			}
			queue <- due{i, at}
		}
		if i < total {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		}
	}
	close(queue)
	wg.Wait()
	elapsed := time.Since(start)
	sum := lat.summary()
	return LoadRun{
		Rate: rate, Requests: sum.Count, Errors: int(errs.n.Load()),
		PerSecond: round3(float64(sum.Count) / elapsed.Seconds()), DurationSeconds: round3(elapsed.Seconds()),
		Latency: sum, FirstError: errs.firstError(), LoadCPUSeconds: round3((cpuClock() - cpu).Seconds()),
	}
}
