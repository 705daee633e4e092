package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rmaledger/rmaledger/clock"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/whatif"
)

// whatifOptions are the options of policy whatif.
type whatifOptions struct {
	Policy string // the candidate policy file
	Since  string // only claims registered since this day or instant
	JSON   bool   // the report as JSON
}

// policyCommand runs `rmaledger policy whatif --policy NEW.yaml [--since
// DATE] [--json]`: the recorded claims replayed under a candidate policy,
// with the service stopped (the embedded store admits one process). It
// reads the event log and writes nothing.
func policyCommand(ctx context.Context, cfg config, w whatifOptions, logger *slog.Logger, stdout io.Writer) error {
	if cfg.Args.Num(0) != "whatif" || cfg.Args.Num(1) != "" {
		return usagef("usage: rmaledger policy whatif --policy NEW.yaml [--since YYYY-MM-DD] [--json]  (with the service stopped)")
	}
	if w.Policy == "" {
		return usagef("policy whatif: --policy names the candidate policy file to replay the claims under")
	}
	candidate, err := policy.Load(w.Policy)
	if err != nil {
		return err
	}
	recorded, err := loadPolicy(cfg.PolicyFile, time.Now())
	if err != nil {
		return err
	}
	now, err := whatIfNow(cfg.DataDir)
	if err != nil {
		return err
	}
	loc := recorded.InForce(now).Calendar.Loc()
	since, err := parseSince(w.Since, loc)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("%w (is the service running? stop it first: the what-if reads the whole log)", err)
	}
	defer store.Close()
	claims, err := whatif.Load(ctx, store)
	if err != nil {
		return err
	}
	report, err := whatif.Replay(claims, whatif.Options{Recorded: recorded, Candidate: candidate, Since: since, Now: now})
	if err != nil {
		return err
	}
	if w.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return report.WriteText(stdout, loc)
}

// whatIfNow is the instant running clocks are judged at: the test clock's
// in a sandbox data directory, else the real time.
func whatIfNow(dir string) (time.Time, error) {
	sandbox, err := clock.IsSandbox(dir)
	if err != nil || !sandbox {
		return time.Now(), err
	}
	return clock.SandboxTime(dir)
}

// parseSince reads --since: a day (its start in loc) or an RFC 3339 instant.
func parseSince(raw string, loc *time.Location) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	if d, err := domain.ParseDate(raw); err == nil {
		return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc), nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a day (2026-03-01) or an RFC 3339 instant", raw)
	}
	return t, nil
}
