package accounts

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Limit bounds failed sign-ins for one key (an account name or a client
// address): Burst failures at once, then one more every Every. A negative
// Burst turns the limit off.
type Limit struct {
	Burst int
	Every time.Duration
}

// Default limits: an account takes 5 wrong passwords, then one every
// minute; an address (an office behind one NAT) 20, then one every 6
// seconds.
var (
	DefaultAccountLimit = Limit{Burst: 5, Every: time.Minute}
	DefaultAddressLimit = Limit{Burst: 20, Every: 6 * time.Second}
)

// failures keeps a token bucket of allowed failures per key in bounded
// memory: the least recently failing key is forgotten first, and a key
// whose bucket has refilled is forgotten at the next failure (a full bucket
// equals none, so forgetting grants nothing). It is the design of the API's
// key limiter, which is not exported from api.
type failures struct {
	limit Limit
	idle  time.Duration

	mu   sync.Mutex
	keys *simplelru.LRU[string, *failureBucket]
}

type failureBucket struct {
	*rate.Limiter
	seen time.Time
}

func newFailures(l Limit, size int) *failures {
	keys, _ := simplelru.NewLRU[string, *failureBucket](size, nil) // size > 0: cannot fail
	return &failures{limit: l, idle: time.Duration(l.Burst) * l.Every, keys: keys}
}

// blocked says how long key must wait before it may try again; 0 when it
// may now.
func (f *failures) blocked(key string, now time.Time) time.Duration {
	if f.limit.Burst < 0 {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.keys.Peek(key)
	if !ok {
		return 0
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(f.limit.Every))
}

// fail records a failure of key.
func (f *failures) fail(key string, now time.Time) {
	if f.limit.Burst < 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		_, b, ok := f.keys.GetOldest()
		if !ok || now.Sub(b.seen) <= f.idle {
			break
		}
		f.keys.RemoveOldest()
	}
	b, ok := f.keys.Get(key)
	if !ok {
		b = &failureBucket{Limiter: rate.NewLimiter(rate.Every(f.limit.Every), f.limit.Burst)}
		f.keys.Add(key, b)
	}
	b.seen = now
	b.AllowN(now, 1)
}
