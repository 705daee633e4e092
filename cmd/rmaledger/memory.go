package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The service's memory budget. Its resident set is meant to stay within
// 256 MiB (docs/performance.md, "Memory"); --memory-limit (default 192 MiB)
// is a soft limit on the Go runtime's memory: the collector works harder as
// the heap nears it instead of growing it. It is soft: live data beyond it
// is not refused, the collector just runs more often (the runtime bounds
// the CPU it gives to that). With GOGC=100 the collector lets the heap grow
// to twice what is live, so the live heap must stay under half the limit
// for the collector to run at its normal pace: every cache is bounded, and
// the bounds below add up to under 96 MiB.
//
// On the Go heap, each bounded where it is configured:
//
//	ledger's folded claims (ledger.CacheBytes)          24 MiB  estimated high
//	read models' folded claims, claims, status, timers
//	  and compensations (projections cacheEventsPerClaim,
//	  1,000 claims and 16,000 events each)            4 x 12 MiB
//	event store's tail of the latest events (tailSize)    6 MiB
//	event store's stream revisions (StreamCacheSize)      2 MiB
//	key store's keys (privacy.KeyCacheSize)               3.3 MiB
//	the service at rest (runtime, policy, routes)         7 MiB  measured
//	                                                     ~90 MiB
//
// Outside that sum, held only for a moment or under attack:
//   - the read models' catch-up: a page of events (2,048) per model while
//     they catch up, about 3 MiB each;
//   - request bodies: up to --max-body-bytes (1 MiB) for each of the
//     --max-in-flight (256) requests; commands are a kilobyte or two;
//   - the rate limiters of the status page (per client, per claim number)
//     and of failed API keys, 65,536 keys each at 270 bytes: 17 MiB each,
//     reached only when that many addresses or claim numbers are seen
//     within a bucket's refill (a minute, five for claim numbers).
//
// Outside the Go heap, so outside the soft limit but in the resident set:
// SQLite's page caches (modernc.org/sqlite allocates them with mmap, not
// on the Go heap), 2 MB per connection (SQLite's default cache_size)
// except the read models' writer: the event log's writer and 4 readers
// 10 MB, the read models' writer 16 MiB (64 MiB during a rebuild), its 4
// readers and checkpointer 10 MB, the key store 2 MB: 38 MB, 86 MB in a
// rebuild.
//
// `make soak` (cmd/rmaledger/soak_test.go) fails when the live heap keeps
// growing over its second half.

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
