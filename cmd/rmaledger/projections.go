package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rmaledger/rmaledger/projections"
)

// readModelNames are the read models `projections rebuild` takes, for the
// usage texts.
var readModelNames = strings.Join([]string{projections.Claims, projections.StatusPage,
	projections.Compensations, projections.Timers, projections.AuditTrail}, "|")

// projectionsCommand runs `rmaledger projections status|rebuild [name]`
// against the data directory while the service is stopped. (The embedded
// store admits one process; a running service rebuilds through
// POST /v1/admin/projections/{name}/rebuild instead.)
func projectionsCommand(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
	sub, name := cfg.Args.Num(0), cfg.Args.Num(1)
	if sub != "status" && sub != "rebuild" {
		return usagef("usage: rmaledger projections status | rebuild [%s]", readModelNames)
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("%w (is the service running? then use GET /v1/admin/projections or POST /v1/admin/projections/{name}/rebuild)", err)
	}
	defer store.Close()
	// The same policy as serve: the timers read model is computed with it.
	policies, err := loadPolicy(cfg.PolicyFile, time.Now())
	if err != nil {
		return err
	}
	codec, closeKeys, err := openPrivacy(cfg)
	if err != nil {
		return err
	}
	defer closeKeys()
	reads, err := projections.New(revealed(store, codec, logger), projections.Config{Dir: cfg.DataDir, Logger: logger, Policies: policies})
	if err != nil {
		return err
	}
	defer reads.Close()
	if sub == "rebuild" {
		names := reads.Names()
		if name != "" {
			names = []string{name}
		}
		for _, n := range names {
			started := time.Now()
			if err := reads.Rebuild(ctx, n); err != nil {
				return fmt.Errorf("rebuild %s: %w", n, err)
			}
			fmt.Fprintf(stdout, "rebuilt %s in %s\n", n, time.Since(started).Round(time.Millisecond))
		}
	}
	statuses, err := reads.Status(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "PROJECTION\tGENERATION\tCHECKPOINT\tHEAD\tLAG EVENTS\tLAG SECONDS")
	for _, st := range statuses {
		lag := fmt.Sprint(st.LagEvents)
		if st.LagCapped {
			lag = "≥" + lag
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%.1f\n", st.Name, st.Generation, st.Checkpoint, st.Head, lag, st.LagSeconds)
	}
	return w.Flush()
}
