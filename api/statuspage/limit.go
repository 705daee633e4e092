package statuspage

import (
	"fmt"

	"github.com/rmaledger/rmaledger/internal/ratelimit"
)

// Limit is a token bucket: Burst lookups at once, then one more every Every.
type Limit = ratelimit.Limit

// Unlimited turns a limiter off (benchmarks, or a deployment that limits at its proxy).
var Unlimited = ratelimit.Unlimited

// validateLimit reports a limit that cannot serve, naming its field.
func validateLimit(l Limit, name string) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("statuspage: %s: %w", name, err)
	}
	return nil
}

// ClientKey is what a per-client limit counts: the address, except that an
// IPv6 address counts by its /64 (see ratelimit.ClientKey).
func ClientKey(ip string) string { return ratelimit.ClientKey(ip) }
