package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestParseMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"192MiB", 192 << 20, true},
		{"1GiB", 1 << 30, true},
		{"268435456", 256 << 20, true},
		{"65536KiB", 64 << 20, true},
		{"off", -1, true},
		{"0", -1, true},
		{"1MiB", 0, false}, // too little to serve
		{"192MB", 0, false},
		{"-5MiB", 0, false},
		{"lots", 0, false},
		{"99999999999TiB", 0, false},
	} {
		got, err := parseMemoryLimit(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

// serve sets the soft memory limit it is given, unless GOMEMLIMIT is set:
// then the runtime's own reading of it stands.
func TestMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Setenv("GOMEMLIMIT", "")
	if err := applyMemoryLimit("192MiB", logger); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 192<<20 {
		t.Fatalf("limit %d, want 192MiB", got)
	}

	debug.SetMemoryLimit(300 << 20) // as the runtime would read GOMEMLIMIT=300MiB
	t.Setenv("GOMEMLIMIT", "300MiB")
	if err := applyMemoryLimit("192MiB", logger); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Fatalf("limit %d with GOMEMLIMIT=300MiB, want it kept", got)
	}
}
