package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestDebugListenerServesTheProfiler(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	stop, err := startDebug(addr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Errorf("GET /debug/pprof/: %d %.200s", res.StatusCode, body)
	}
}

func TestNoDebugListenerByDefault(t *testing.T) {
	stop, err := startDebug("", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	cfg := config{Addr: "127.0.0.1:8080", DataDir: "x", DebugAddr: "no-port"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "debug-addr") {
		t.Errorf("Validate with debug-addr %q: %v, want a debug-addr error", cfg.DebugAddr, err)
	}
}
