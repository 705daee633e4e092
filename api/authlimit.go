package api

import (
	"strconv"
	"time"

	"github.com/rmaledger/rmaledger/internal/ratelimit"
)

// AuthLimit bounds failed authentications per client address: Burst
// failures at once, then one more every Every. Beyond it every request from
// the address gets 429 with Retry-After, whatever key it brings: checking
// keys for a blocked address would let it go on guessing, reading the
// answer as an oracle.
type AuthLimit struct {
	Burst int
	Every time.Duration
	// Tracked bounds how many addresses are remembered at once (default
	// 65536); the least recently failing is forgotten first.
	Tracked int
}

// NoAuthLimit turns the limit off (tests, or a deployment that limits at
// its proxy).
var NoAuthLimit = AuthLimit{Burst: -1}

// defaultAuthLimit is 10 failures a minute: a person mistyping a key
// never meets it, a guesser is slowed to a crawl (and keys of 256 random
// bits could not be guessed anyway: the limit mostly keeps the log of
// failures readable and the key comparisons cheap).
var defaultAuthLimit = AuthLimit{Burst: 10, Every: 6 * time.Second, Tracked: 1 << 16}

func (l AuthLimit) off() bool { return l.Burst < 0 }

// newAuthLimiter keeps a token bucket of allowed failures per client
// address, in bounded memory: at most Tracked addresses, and an address
// whose bucket has refilled forgotten at the next failure (a full bucket is
// the same as none, so forgetting grants nothing). Successful requests cost
// nothing and are not tracked: a failure is Spent, and a request is let in
// while Wait says 0.
func newAuthLimiter(l AuthLimit, now func() time.Time) (*ratelimit.Keyed, error) {
	if l.off() {
		return ratelimit.New(ratelimit.Unlimited, 0, now)
	}
	if l.Tracked == 0 {
		l.Tracked = defaultAuthLimit.Tracked
	}
	return ratelimit.New(ratelimit.Limit{Burst: l.Burst, Every: l.Every}, l.Tracked, now)
}

// retryAfter renders a wait for the Retry-After header: whole seconds,
// rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(ratelimit.RetryAfterSeconds(d))
}
