package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/clock"
	"github.com/rmaledger/rmaledger/projections"
	"github.com/rmaledger/rmaledger/sla"
)

// openClock gives serve its clock. With --sandbox it is the data
// directory's test clock, the directory marked as a sandbox when new; a
// directory with data but no marker is refused. Without it, a sandbox data
// directory is refused: its events carry simulated time. It runs before
// anything else writes to the data directory.
func openClock(cfg config, logger *slog.Logger) (clock.Clock, *clock.Sandbox, error) {
	if !cfg.Sandbox {
		if err := clock.CheckProduction(cfg.DataDir); err != nil {
			return nil, nil, err
		}
		return clock.Real{}, nil, nil
	}
	sandbox, err := clock.OpenSandbox(cfg.DataDir, time.Now())
	if err != nil {
		return nil, nil, err
	}
	logger.Warn("sandbox: decisions, clocks and events use the test clock; move it with POST /v1/admin/clock or rmaledger clock advance",
		"data_dir", cfg.DataDir, "now", sandbox.Now())
	return sandbox, sandbox, nil
}

// sandboxConfig wires the test clock routes: after a move, the SLA timer
// process runs at once on a timers read model that has every event written
// so far, and the answer waits until the read models have what it wrote.
func sandboxConfig(sandbox *clock.Sandbox, process *sla.Process, reads *projections.Runner) *api.SandboxConfig {
	if sandbox == nil {
		return nil
	}
	return &api.SandboxConfig{Clock: sandbox, RunTimers: func(ctx context.Context) (sla.Report, error) {
		if err := catchUp(ctx, reads, projections.Timers); err != nil {
			return sla.Report{}, err
		}
		report, err := process.Tick(ctx)
		if err != nil {
			return report, err
		}
		// A clock skipped because the read model lagged behind a write is
		// due again once it caught up.
		if report.Skipped > 0 {
			if err := catchUp(ctx, reads, projections.Timers); err != nil {
				return report, err
			}
			again, err := process.Tick(ctx)
			if err != nil {
				return report, err
			}
			again.Clocks = append(report.Clocks, again.Clocks...)
			again.Acted += report.Acted
			again.Replayed += report.Replayed
			report = again
		}
		// Best effort: the clock moved and the events are written whether
		// or not every read model shows them yet.
		_ = catchUp(ctx, reads)
		return report, nil
	}}
}

// catchUp waits until the named read models (all when none is named) have
// applied every claim event written so far, a few seconds at most.
func catchUp(ctx context.Context, reads *projections.Runner, names ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		statuses, err := reads.Status(ctx)
		if err != nil {
			return err
		}
		behind := false
		for _, st := range statuses {
			if st.LagEvents == 0 || (len(names) > 0 && !containsName(names, st.Name)) {
				continue
			}
			behind = true
			if err := reads.WaitFor(ctx, st.Head, st.Name); err != nil {
				return err
			}
		}
		if !behind {
			return nil
		}
	}
}

func containsName(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// clockCommand runs `rmaledger clock show|advance STEP|set INSTANT`
// against a running sandbox service, through its API: the service moves
// its test clock and runs the SLA timer process at the new instant.
func clockCommand(ctx context.Context, cfg config, givenKey string, stdout io.Writer) error {
	const usage = "usage: rmaledger clock show | advance STEP (e.g. 26h, 45d) | set INSTANT (RFC 3339)  [--addr HOST:PORT] [--admin-key KEY]"
	var body any
	switch sub, arg := cfg.Args.Num(0), cfg.Args.Num(1); {
	case sub == "show" && arg == "":
	case sub == "advance" && arg != "":
		body = api.MoveClockRequest{Advance: arg}
	case sub == "set" && arg != "":
		body = api.MoveClockRequest{To: arg}
	default:
		return usagef("%s", usage)
	}
	key, err := adminKey(cfg, givenKey)
	if err != nil {
		return err
	}
	method, payload := http.MethodGet, []byte(nil)
	if body != nil {
		method = http.MethodPost
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+dialAddr(cfg.Addr)+"/v1/admin/clock", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: time.Minute}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("the service at %s: %w (is it running? point --addr at it)", cfg.Addr, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		var p api.Problem
		if json.Unmarshal(raw, &p) == nil && p.Title != "" {
			return fmt.Errorf("%s: %s (%d %s)", p.Title, p.Detail, res.StatusCode, p.Type)
		}
		return fmt.Errorf("the service answered %s", res.Status)
	}
	var answer api.ClockResponse
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("the service's answer: %w", err)
	}
	return writeClock(stdout, answer)
}

// writeClock prints the clock and what the timer process did at it.
func writeClock(w io.Writer, a api.ClockResponse) error {
	if a.Previous != nil {
		fmt.Fprintf(w, "test clock moved from %s to %s\n", a.Previous.Format(time.RFC3339), a.Now.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "test clock: %s\n", a.Now.Format(time.RFC3339))
	}
	if a.Timers == nil {
		return nil
	}
	fmt.Fprintf(w, "SLA timers: %d due, %d acted on, %d already acted on, %d skipped\n", a.Timers.Due, a.Timers.Acted, a.Timers.Replayed, a.Timers.Skipped)
	if len(a.Timers.Clocks) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLAIM\tCLOCK\tDUE\tACTION\tOUTCOME")
	for _, c := range a.Timers.Clocks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Number, c.Clock, c.DueAt.Format(time.RFC3339), c.Action, c.Outcome)
	}
	return tw.Flush()
}

// adminKey is the key given (--admin-key), else the admin key --dev generated in the data
// directory.
func adminKey(cfg config, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	raw, err := os.ReadFile(filepath.Join(cfg.DataDir, devKeysFile))
	if err == nil {
		for _, pair := range strings.Split(strings.TrimSpace(string(raw)), ",") {
			if role, key, _ := strings.Cut(pair, ":"); role == string(api.RoleAdmin) {
				return key, nil
			}
		}
	}
	return "", errors.New("no admin key: give --admin-key (RMALEDGER_ADMIN_KEY), or run the sandbox with --dev and point --data-dir at it")
}

// dialAddr is where a client reaches a service listening on addr: a
// wildcard host is this machine.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
