package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/eventstore/kurrentdb"
	"github.com/rmaledger/rmaledger/internal/feed"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/notify/outbox"
	"github.com/rmaledger/rmaledger/portal"
	"github.com/rmaledger/rmaledger/portal/links"
	"github.com/rmaledger/rmaledger/projections"
)

// serve runs the HTTP API until ctx is cancelled, then shuts down in order:
// stop taking requests and drain them, stop the projections, close the store
// (deferred calls run in reverse). settings are its options as shown at
// start, secrets masked.
func serve(ctx context.Context, cfg config, settings string, logger *slog.Logger, stdout io.Writer) error {
	logger.Info("starting", "version", build, "config", "\n"+settings)
	if err := applyMemoryLimit(cfg.MemoryLimit, logger); err != nil {
		return err
	}
	// The clock first: nothing may write to a data directory whose kind
	// (sandbox or not) does not match the mode.
	clk, sandbox, err := openClock(cfg, logger)
	if err != nil {
		return err
	}
	keys, err := loadKeys(cfg, logger, stdout)
	if err != nil {
		return err
	}
	stopDebug, err := startDebug(cfg.DebugAddr, logger)
	if err != nil {
		return err
	}
	defer stopDebug()
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing the event store", "error", err)
		}
	}()
	// The people who sign in to the console; with --dev one of each role.
	people, err := openAccounts(ctx, store)
	if err != nil {
		return err
	}
	if err := devAccounts(ctx, cfg, people, stdout); err != nil {
		return err
	}
	// Every console request checks its session: from memory, kept current
	// by following the accounts' streams (stopped before the store closes).
	followCtx, stopFollowing := context.WithCancel(ctx)
	following := make(chan struct{})
	go func() { defer close(following); people.Follow(followCtx, time.Second) }()
	defer func() { stopFollowing(); <-following }()
	policies, err := loadPolicy(cfg.PolicyFile, time.Now())
	if err != nil {
		return err
	}
	logPolicy(logger, cfg.PolicyFile, policies)
	codec, closeKeys, err := openPrivacy(cfg)
	if err != nil {
		return err
	}
	defer closeKeys()
	auditCfg, stopAudit, err := startAudit(ctx, cfg, store, logger)
	if err != nil {
		return err
	}
	defer stopAudit() // before the store closes
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// One live feed of the log for the read models and the outbox: each
	// event is read, opened and decoded once for all of them. It closes
	// after them (defers run last first).
	opened := revealed(store, codec, logger)
	live, err := feed.New(feed.Config{
		Store: opened, Filter: outbox.Streams, Decode: projections.Decode,
		Queue: projections.DefaultBatchSize, PageSize: projections.DefaultPageSize,
		ResubscribeDelay: projections.DefaultResubscribeDelay, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer live.Close()
	reads, err := projections.New(opened, projections.Config{Dir: cfg.DataDir, Logger: logger, Registerer: registry, Policies: policies, Feed: live})
	if err != nil {
		return err
	}
	defer func() {
		if err := reads.Close(); err != nil {
			logger.Error("closing the projections", "error", err)
		}
	}()
	if err := reads.Start(ctx); err != nil {
		return err
	}
	// A registration finds the unit's earlier repairs in the claims read model.
	service, err := ledger.New(store, ledger.Config{Policies: policies, Privacy: codec, Repairs: reads, Clock: clk.Now})
	if err != nil {
		return err
	}
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	claimFiles, err := newFiles(cfg, blobs, service, codec)
	if err != nil {
		return err
	}
	auditCfg.Files = blobs
	// A claim's documents, in the language the customer chose on the portal.
	papers, err := newDocuments(cfg, store, service, policies)
	if err != nil {
		return err
	}
	if papers.Languages, err = links.New(links.Config{Store: store, Now: clk.Now}); err != nil {
		return err
	}
	process, stopTimers, err := startTimers(ctx, cfg, logger, registry, service, reads, clk)
	if err != nil {
		return err
	}
	defer stopTimers() // before the projections close: it reads them
	// Customers' e-mail, the desk's alerts and webhooks: an outbox fed by
	// the events (stopped before the projections and the store close).
	notes, stopNotifications, err := startNotifications(ctx, cfg, opened, live, service, reads, registry, logger)
	if err != nil {
		return err
	}
	defer stopNotifications()
	online, sandboxCheckout, err := onlinePayments(cfg, service, logger)
	if err != nil {
		return err
	}
	// Validate parsed both already, so neither can fail here.
	proxies, _ := api.ParseTrustedProxies(cfg.TrustedProxies)
	statusZone := statusLocation(cfg.StatusTimeZone, policies)
	customers, err := newPortal(cfg, store, service, reads, claimFiles, online, notes, papers, proxies, statusZone, clk.Now, logger)
	if err != nil {
		return err
	}
	handler, err := api.New(api.Config{
		Ledger:         service,
		Reads:          reads,
		Keys:           keys,
		Logger:         logger,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		MaxInFlight:    cfg.MaxInFlight,
		OverloadWait:   cfg.OverloadWait,
		TrustedProxies: proxies,
		StatusPage:     statuspage.Config{Location: statusZone},
		// Validate loaded it once already, so this cannot fail here.
		FinanceLocation: financeLocation(cfg.FinanceTimeZone),
		Audit:           auditCfg,
		Registerer:      registry,
		Gatherer:        registry,
		Clock:           clk.Now,
		Sandbox:         sandboxConfig(sandbox, process, reads),
		Ready:           readiness(cfg, reads, store),
		PortalLinks:     customers,
		OwnBodyLimit:    portalBody,
		Payments:        online,
		Files:           claimFiles,
		// Webhook subscriptions, their deliveries and replays.
		Webhooks:          notes.webhooks,
		WebhookDeliveries: notes,
		Documents:         papers,
	})
	if err != nil {
		return err
	}
	if err := customers.Register(handler); err != nil {
		return err
	}
	mountSandboxCheckout(handler, sandboxCheckout)
	if err := mountConsole(handler, people, service, reads, policies, statusZone, proxies, clk.Now, logger,
		keyFilePath(cfg), keys.List(), withFiles(claimFiles, blobs), withOutbox(notes), func(c *console.Config) { c.Documents = papers }); err != nil {
		return err
	}
	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10, // a key, a request id and an If-Match fit many times over
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(listener) }()
	logger.Info("serving", "addr", listener.Addr().String())
	if cfg.Dev {
		fmt.Fprintf(stdout, "Staff console: http://%s/console (sign in with a development account above)\n", listener.Addr())
		fmt.Fprintf(stdout, "Customer portal: http://%s%s\n", listener.Addr(), portal.FormPath)
		if cfg.SMTPHost == "" {
			fmt.Fprintln(stdout, "Messages to customers and the desk (private links among them) are logged, not sent: set --smtp-host to send them")
		}
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("draining requests: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// statusLocation is the time zone the status page shows times in: the
// configured one, else that of the policy in force at start, whose
// calendar the claims' clocks run in. Validate loaded the zone once
// already, so loading it cannot fail here.
func statusLocation(zone string, policies *domain.PolicyBook) *time.Location {
	if zone != "" {
		loc, _ := time.LoadLocation(zone)
		return loc
	}
	return policies.InForce(time.Now()).Calendar.Loc()
}

// openStore opens KurrentDB when a URL is configured, else the embedded store.
func openStore(ctx context.Context, cfg config, logger *slog.Logger) (eventstore.Store, error) {
	if cfg.EventStoreURL != "" {
		return kurrentdb.Open(ctx, cfg.EventStoreURL, kurrentdb.WithLogger(logger))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	return embedded.Open(cfg.DataDir, embedded.Config{Logger: logger})
}
