package statuspage

import "time"

// KeyedLimiter is the status page's per-key token bucket (see limiter),
// for other public pages that limit per client address or per contact:
// one design of bounded memory for all of them.
type KeyedLimiter struct{ l *limiter }

// NewKeyedLimiter returns a limiter of l per key, remembering at most size
// keys; now is its clock.
func NewKeyedLimiter(l Limit, size int, now func() time.Time) (*KeyedLimiter, error) {
	if err := l.validate("limit"); err != nil {
		return nil, err
	}
	inner, err := newLimiter(l, size, now)
	if err != nil {
		return nil, err
	}
	return &KeyedLimiter{l: inner}, nil
}

// Allow takes a token for key; when there is none it says how long until
// there will be, and takes nothing.
func (k *KeyedLimiter) Allow(key string) (ok bool, retryAfter time.Duration) { return k.l.allow(key) }
