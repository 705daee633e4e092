// Package ratelimit keeps a token bucket per key (a client address, a claim
// number, a contact) in bounded memory, for every limit the service sets on
// its callers.
//
// It is golang.org/x/time/rate's buckets in hashicorp's LRU rather than
// echo's RateLimiterMemoryStore, whose map grows with every new address
// until a periodic sweep: an IPv6 sender has addresses enough to exhaust
// memory between two sweeps.
package ratelimit

import (
	"errors"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Limit is a token bucket: Burst tokens at once, then one more every Every.
type Limit struct {
	Burst int
	Every time.Duration
}

// Unlimited turns a limiter off (tests, benchmarks, or a deployment that
// limits at its proxy).
var Unlimited = Limit{Burst: -1}

// Off reports whether the limit is Unlimited (any negative Burst).
func (l Limit) Off() bool { return l.Burst < 0 }

// Validate reports a limit that is neither off nor a bucket of at least
// one token that refills.
func (l Limit) Validate() error {
	if !l.Off() && (l.Burst < 1 || l.Every <= 0) {
		return errors.New("Burst must be at least 1 and Every positive (or use Unlimited)")
	}
	return nil
}

// Keyed keeps a bucket of its Limit per key, in bounded memory: at most size
// keys, the least recently used forgotten first, and a key idle for longer
// than its bucket takes to refill forgotten at the next call that takes a
// token. Forgetting a full bucket loses nothing, so expiry never grants an
// extra token; only eviction under pressure from size other keys can, and
// each of those keys costs its sender a token too. An Unlimited Keyed
// remembers nothing and allows everything. It is safe for concurrent use.
type Keyed struct {
	limit Limit
	idle  time.Duration // a full refill: after this an idle bucket equals a new one
	now   func() time.Time

	mu   sync.Mutex
	keys *simplelru.LRU[string, *bucket] // nil when the limit is off
}

type bucket struct {
	*rate.Limiter
	seen time.Time
}

// New returns a limiter of l per key, remembering at most size keys; now is
// its clock. It does not validate l (see Limit.Validate).
func New(l Limit, size int, now func() time.Time) (*Keyed, error) {
	if l.Off() {
		return &Keyed{limit: l}, nil
	}
	keys, err := simplelru.NewLRU[string, *bucket](size, nil)
	if err != nil {
		return nil, err
	}
	return &Keyed{limit: l, idle: time.Duration(l.Burst) * l.Every, now: now, keys: keys}, nil
}

// Allow takes a token for key; when there is none it says how long until
// there will be, and takes nothing, so that waiting that long is enough to
// be let in.
func (k *Keyed) Allow(key string) (ok bool, retryAfter time.Duration) {
	if k.limit.Off() {
		return true, 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.bucket(key, now)
	r := b.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now) // a refused attempt takes no token, so waiting is enough to succeed
		return false, delay
	}
	return true, 0
}

// Spend takes a token for key if it has one, for something that happened
// already and is counted after the fact (a failed authentication), and
// reports whether the key has none left.
func (k *Keyed) Spend(key string) (exhausted bool) {
	if k.limit.Off() {
		return false
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.bucket(key, now)
	b.AllowN(now, 1)
	return b.TokensAt(now) < 1
}

// Wait says how long key must wait until it has a token; 0 when it has one
// now. It takes nothing and leaves the key's place in memory alone: asking
// is free, waiting is enough.
func (k *Keyed) Wait(key string) time.Duration {
	if k.limit.Off() {
		return 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.keys.Peek(key)
	if !ok {
		return 0
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(k.limit.Every))
}

// bucket is key's bucket, made full if the key is not remembered, after
// forgetting the keys idle for a full refill. k.mu is held.
func (k *Keyed) bucket(key string, now time.Time) *bucket {
	k.expire(now)
	b, found := k.keys.Get(key)
	if !found {
		b = &bucket{Limiter: rate.NewLimiter(rate.Every(k.limit.Every), k.limit.Burst)}
		k.keys.Add(key, b)
	}
	b.seen = now
	return b
}

// expire forgets keys idle for a full refill, oldest first; Get moves a key
// to the young end, so the oldest is always the longest idle.
func (k *Keyed) expire(now time.Time) {
	for {
		_, b, ok := k.keys.GetOldest()
		if !ok || now.Sub(b.seen) <= k.idle {
			return
		}
		k.keys.RemoveOldest()
	}
}

// Len is how many keys are remembered.
func (k *Keyed) Len() int {
	if k.limit.Off() {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys.Len()
}

// ClientKey is what a per-client limit counts: the address, except that an
// IPv6 address counts by its /64, which one subscriber usually holds whole
// and could otherwise walk through.
func ClientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	prefix, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return addr.String()
	}
	return prefix.String()
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least 1, for a
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
