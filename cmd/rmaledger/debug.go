package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startDebug serves the Go profiler (net/http/pprof) on a listener of its
// own when --debug-addr is set, so that a benchmark (cmd/ledgerbench, see
// docs/performance.md) can profile the service while it is under load. It
// is never the API's listener: profiles reveal internals and cost CPU, so
// only the operator should reach them (bind it to loopback). The returned
// function stops it.
func startDebug(addr string, logger *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// Its own mux, not http.DefaultServeMux, which any imported package
	// may have registered handlers on.
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("debug listener stopped", "error", err)
		}
	}()
	logger.Warn("serving the Go profiler; keep this address private", "debug_addr", listener.Addr().String())
	return func() { srv.Close() }, nil
}
