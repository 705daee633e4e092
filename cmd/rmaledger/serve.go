package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ardanlabs/conf/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/eventstore/kurrentdb"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// serve runs the HTTP API until ctx is cancelled, then shuts down in order:
// stop taking requests and drain them, stop the projections, close the store
// (deferred calls run in reverse).
func serve(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
	if shown, err := conf.String(&cfg); err == nil {
		logger.Info("starting", "version", build, "config", "\n"+shown)
	}
	keys, err := loadKeys(cfg, stdout)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing the event store", "error", err)
		}
	}()
	service, err := ledger.New(store, ledger.Config{})
	if err != nil {
		return err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reads, err := projections.New(store, projections.Config{Dir: cfg.DataDir, Logger: logger, Registerer: registry})
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
	handler, err := api.New(api.Config{
		Ledger:       service,
		Reads:        reads,
		Keys:         keys,
		Logger:       logger,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Registerer:   registry,
		Gatherer:     registry,
		Ready: func(ctx context.Context) error {
			if err := reads.Ready(); err != nil {
				return err
			}
			if pinger, ok := store.(interface{ Ping(context.Context) error }); ok {
				return pinger.Ping(ctx) // KurrentDB: is the connection up
			}
			_, err := store.ReadAll(ctx, eventstore.Start, 1, eventstore.Filter{})
			return err
		},
	})
	if err != nil {
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
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(listener) }()
	logger.Info("serving", "addr", listener.Addr().String())

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

// devKeysFile holds the keys --dev generated, so they survive restarts.
const devKeysFile = "dev-api-keys"

// loadKeys reads the configured API keys; with none and --dev, it reuses or
// generates one key per role in the data directory and prints them.
func loadKeys(cfg config, stdout io.Writer) (*api.Keys, error) {
	spec := cfg.APIKeys
	if spec == "" {
		if !cfg.Dev {
			return nil, errors.New("no API keys configured: set RMALEDGER_API_KEYS=\"role:key,...\" or run with --dev for generated development keys")
		}
		var err error
		if spec, err = devKeys(cfg.DataDir); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "Development API keys (stored in %s):\n", filepath.Join(cfg.DataDir, devKeysFile))
		for _, pair := range strings.Split(spec, ",") {
			role, key, _ := strings.Cut(pair, ":")
			fmt.Fprintf(stdout, "  %-11s %s\n", role, key)
		}
	}
	return api.ParseKeys(spec)
}

func devKeys(dir string) (string, error) {
	path := filepath.Join(dir, devKeysFile)
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	var pairs []string
	for _, role := range api.Roles() {
		secret := make([]byte, 24)
		if _, err := rand.Read(secret); err != nil {
			return "", err
		}
		pairs = append(pairs, fmt.Sprintf("%s:%s-%s", role, role, base64.RawURLEncoding.EncodeToString(secret)))
	}
	spec := strings.Join(pairs, ",")
	if err := os.WriteFile(path, []byte(spec+"\n"), 0o600); err != nil {
		return "", err
	}
	return spec, nil
}
