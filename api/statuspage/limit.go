package statuspage

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Limit is a token bucket: Burst lookups at once, then one more every Every.
type Limit struct {
	Burst int
	Every time.Duration
}

// Unlimited turns a limiter off (benchmarks, or a deployment that limits at its proxy).
var Unlimited = Limit{Burst: -1}

func (l Limit) off() bool { return l.Burst < 0 }

func (l Limit) validate(name string) error {
	if !l.off() && (l.Burst < 1 || l.Every <= 0) {
		return fmt.Errorf("statuspage: %s: Burst must be at least 1 and Every positive (or use Unlimited)", name)
	}
	return nil
}

// limiter keeps a token bucket per key (a client address or a claim number)
// in bounded memory: at most size keys, the least recently used forgotten
// first, and a key idle for longer than its bucket takes to refill forgotten
// at the next call. Forgetting a full bucket loses nothing, so expiry never
// grants an extra attempt; only eviction under pressure from size other keys
// can, and each of those keys costs its sender a token too.
//
// It is golang.org/x/time/rate's buckets in hashicorp's LRU rather than
// echo's RateLimiterMemoryStore, whose map grows with every new address
// until a periodic sweep: an IPv6 sender has addresses enough to exhaust
// memory between two sweeps.
type limiter struct {
	limit Limit
	idle  time.Duration // a full refill: after this an idle bucket equals a new one
	now   func() time.Time

	mu   sync.Mutex
	keys *simplelru.LRU[string, *bucket]
}

type bucket struct {
	*rate.Limiter
	seen time.Time
}

func newLimiter(l Limit, size int, now func() time.Time) (*limiter, error) {
	keys, err := simplelru.NewLRU[string, *bucket](size, nil)
	if err != nil {
		return nil, err
	}
	return &limiter{limit: l, idle: time.Duration(l.Burst) * l.Every, now: now, keys: keys}, nil
}

// allow takes a token for key; when there is none it says how long until
// there will be.
func (l *limiter) allow(key string) (ok bool, retryAfter time.Duration) {
	if l.limit.off() {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(now)
	b, found := l.keys.Get(key)
	if !found {
		b = &bucket{Limiter: rate.NewLimiter(rate.Every(l.limit.Every), l.limit.Burst)}
		l.keys.Add(key, b)
	}
	b.seen = now
	r := b.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now) // a refused attempt takes no token, so waiting is enough to succeed
		return false, delay
	}
	return true, 0
}

// expire forgets keys idle for a full refill, oldest first; Get moves a key
// to the young end, so the oldest is always the longest idle.
func (l *limiter) expire(now time.Time) {
	for {
		_, b, ok := l.keys.GetOldest()
		if !ok || now.Sub(b.seen) <= l.idle {
			return
		}
		l.keys.RemoveOldest()
	}
}

// len is how many keys are remembered (for tests).
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.Len()
}

// ClientKey is what a per-client limit counts: the address, except that an
// IPv6 address counts by its /64, which one subscriber usually holds whole
// and could otherwise walk through. The API's limit on failed
// authentications counts clients the same way.
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

// retryAfterSeconds rounds a wait up to whole seconds for Retry-After.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
