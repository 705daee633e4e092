package main

import (
	"strings"
	"testing"
	"time"
)

// validConfig is the defaults conf would fill in.
func validConfig() config {
	return config{Addr: "127.0.0.1:8080", DataDir: "./data", LogLevel: "info", LogFormat: "text", MaxBodyBytes: 1 << 20, MaxInFlight: 256, OverloadWait: 100 * time.Millisecond,
		ShutdownTimeout: 20 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		MemoryLimit: "192MiB"}
}

// TestEventStoreURLValidation: the connection strings the README and
// docs/kurrentdb.md give are accepted at start, and a bad one is refused
// then, with its password masked, instead of being retried forever.
func TestEventStoreURLValidation(t *testing.T) {
	for _, url := range []string{
		"kurrentdb://localhost:2113?tls=false",
		"kurrentdb://user:pass@node1:2113,node2:2113,node3:2113?tls=true&nodePreference=leader",
		"kurrentdb+discover://rmaledger:secret@cluster.example:2113?nodePreference=leader",
		"esdb://localhost:2113?tls=false",
	} {
		cfg := validConfig()
		cfg.EventStoreURL = url
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", url, err)
		}
	}
	for _, url := range []string{
		"postgres://user:hunter2@localhost/db",
		"kurrentdb://user:hunter2@localhost:2113?nodePreference=sideways",
	} {
		cfg := validConfig()
		cfg.EventStoreURL = url
		err := cfg.Validate()
		if err == nil {
			t.Errorf("%s accepted", url)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}
