package statuspage

import (
	"time"

	"github.com/rmaledger/rmaledger/internal/ratelimit"
)

// KeyedLimiter is the status page's per-key token bucket, for other public
// pages that limit per client address or per contact: one design of bounded
// memory for all of them.
type KeyedLimiter = ratelimit.Keyed

// NewKeyedLimiter returns a limiter of l per key, remembering at most size
// keys; now is its clock. A limit that is neither Unlimited nor a bucket
// that refills is an error.
func NewKeyedLimiter(l Limit, size int, now func() time.Time) (*KeyedLimiter, error) {
	if err := validateLimit(l, "limit"); err != nil {
		return nil, err
	}
	return ratelimit.New(l, size, now)
}
