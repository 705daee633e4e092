package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The service's peak resident set is meant to stay within 256 MiB while it
// holds a million events (issue 10). Most of it is not live heap: with
// GOGC=100 the collector lets the heap grow to twice what is live before
// it collects, and SQLite's page caches sit outside the heap
// (docs/performance.md, "Memory"). A soft limit on the Go runtime's memory
// makes the collector work harder as the heap nears it instead of growing
// it, leaving room below 256 MiB for SQLite and the stacks. It is soft:
// live data beyond it is not refused, the collector just runs more often
// (and the runtime bounds the CPU it gives to that).

// parseMemoryLimit reads a size the way GOMEMLIMIT is written: a number of
// bytes with an optional unit B, KiB, MiB, GiB or TiB; "off" or 0 for no
// limit (returned as -1).
func parseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return -1, nil
	}
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	var shift uint
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("memory-limit: want a size such as 192MiB, 1GiB or off")
	}
	if n<<shift < 16<<20 {
		return 0, fmt.Errorf("memory-limit: %d bytes is too little to serve; at least 16MiB, or off", n<<shift)
	}
	return n << shift, nil
}

// applyMemoryLimit sets the runtime's soft memory limit from --memory-limit,
// unless GOMEMLIMIT is set: the user's setting for the Go runtime wins,
// and the runtime has applied it already.
func applyMemoryLimit(setting string, logger *slog.Logger) error {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		logger.Info("memory limit from GOMEMLIMIT", "limit", env)
		return nil
	}
	limit, err := parseMemoryLimit(setting)
	if err != nil {
		return err
	}
	if limit < 0 {
		debug.SetMemoryLimit(1<<63 - 1) // the runtime's "no limit"
		logger.Info("no memory limit")
		return nil
	}
	debug.SetMemoryLimit(limit)
	logger.Info("memory limit", "limit", setting)
	return nil
}
