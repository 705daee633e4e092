package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
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

// authLimiter keeps a token bucket of allowed failures per client address,
// in bounded memory: at most Tracked addresses, and an address whose bucket
// has refilled forgotten at the next failure (a full bucket is the same as
// none, so forgetting grants nothing). Successful requests cost nothing and
// are not tracked. It is the status page's design (x/time/rate buckets in
// hashicorp's LRU), for the same reason: echo's memory store grows with
// every address until its next sweep.
type authLimiter struct {
	limit AuthLimit
	idle  time.Duration // a full refill
	now   func() time.Time

	mu      sync.Mutex
	clients *simplelru.LRU[string, *failureBucket]
}

type failureBucket struct {
	*rate.Limiter
	seen time.Time
}

func newAuthLimiter(l AuthLimit, now func() time.Time) (*authLimiter, error) {
	if l.off() {
		return &authLimiter{limit: l}, nil
	}
	if l.Tracked == 0 {
		l.Tracked = defaultAuthLimit.Tracked
	}
	clients, err := simplelru.NewLRU[string, *failureBucket](l.Tracked, nil)
	if err != nil {
		return nil, err
	}
	return &authLimiter{limit: l, idle: time.Duration(l.Burst) * l.Every, now: now, clients: clients}, nil
}

// blocked says how long the client must wait before it may try again; 0
// when it may now.
func (l *authLimiter) blocked(client string) time.Duration {
	if l.limit.off() {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients.Peek(client)
	if !ok {
		return 0
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	// Asking takes nothing: waiting is enough to be let in again.
	return time.Duration((1 - tokens) * float64(l.limit.Every))
}

// fail records a failed authentication and reports whether it used up
// the client's allowance (so the block starts now).
func (l *authLimiter) fail(client string) (exhausted bool) {
	if l.limit.off() {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(now)
	b, ok := l.clients.Get(client)
	if !ok {
		b = &failureBucket{Limiter: rate.NewLimiter(rate.Every(l.limit.Every), l.limit.Burst)}
		l.clients.Add(client, b)
	}
	b.seen = now
	b.AllowN(now, 1)
	return b.TokensAt(now) < 1
}

// expire forgets clients whose bucket has refilled, oldest first; Get
// moves a client to the young end, so the oldest is the longest idle.
func (l *authLimiter) expire(now time.Time) {
	for {
		_, b, ok := l.clients.GetOldest()
		if !ok || now.Sub(b.seen) <= l.idle {
			return
		}
		l.clients.RemoveOldest()
	}
}

// len is how many clients are remembered (for tests).
func (l *authLimiter) len() int {
	if l.limit.off() {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.clients.Len()
}

// retryAfter renders a wait for the Retry-After header: whole seconds,
// rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
