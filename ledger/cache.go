package ledger

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/privacy"
)

// The cache of folded claims. Reading and decoding a claim's whole stream
// before every command was a fifth of the service's CPU per command
// (docs/performance.md, "Commands over HTTP"); desk work touches a claim
// several times within minutes, so the service keeps the histories it has
// folded, bounded by an LRU, and extends them with what it appends.
//
// Why a cached history can be trusted: every append carries the exact
// expected revision of the history it was decided on. When anyone else
// (another Service on the store, another process on KurrentDB) appended to
// the claim since, the append fails and writes nothing; the entry is then
// dropped and the command runs again from a fresh read, as a concurrent
// writer is handled without the cache. Anything else a cached history
// settles without the store confirming it (a refused command: a stale
// If-Match, an illegal transition, a rule) is also settled again from a
// fresh read, so that a command succeeds or fails exactly as it would
// without the cache. Only a retried request's answer comes from the cache
// unconfirmed: the stored events that carry its key never change.
//
// One case passes the revision check: an append whose event IDs already
// stand at that place (a concurrent retry of the same request, whose IDs
// derive from its Idempotency-Key) succeeds without writing, and the events
// stored are the other writer's, with other metadata. Caching ours would
// chain the claim's next event onto an event that is not in the store, so
// after an append with a key the stored event is read back (one record, by
// revision) and compared (see remember).
//
// Privacy: a cached history holds the claim's personal data decrypted. An
// erasure destroys the customer's keys, after which opening those fields
// gives domain.Erased; EraseCustomer empties the whole cache right after
// destroying the keys (erasures are rare), and an epoch keeps a history
// opened before that moment from being cached after it. An erasure made
// through another Service or process is not seen here until the claim's
// next append fails, as SQLiteKeyStore's own key cache does not see it.

// claimCache is an LRU of folded histories by claim, bounded twice: by the
// number of claims (Config.CacheSize) and by the bytes their histories
// hold (CacheBytes). A count alone bounds nothing: a claim's history grows
// with every event, and a thousand claims of a few hundred notes each hold
// ten times what a thousand claims of a dozen events hold. A nil
// *claimCache is a disabled cache: every method does nothing.
type claimCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[uuid.UUID, cacheEntry]
	// bytes is the estimated size of the histories held (historySize),
	// never more than maxBytes once put returns.
	bytes, maxBytes int
	// epoch counts the invalidations: a history is cached only if no
	// invalidation happened since its events were opened.
	epoch uint64
}

// cacheEntry is a history with its estimated size.
type cacheEntry struct {
	history
	bytes int
}

// CacheBytes bounds the bytes the cache of folded claims holds, as
// historySize estimates them (the heap they hold measured two thirds to five
// sixths of that): 24 MiB of the service's memory budget
// (cmd/rmaledger/memory.go). A claim of a dozen events is estimated at
// 21 KB, so the default 1,000 claims fit; of claims of a hundred notes
// (150 KB each) it keeps 165.
const CacheBytes = 24 << 20

func newClaimCache(size int) *claimCache {
	return newClaimCacheBytes(size, CacheBytes)
}

func newClaimCacheBytes(size, maxBytes int) *claimCache {
	if size < 0 {
		return nil
	}
	c := &claimCache{maxBytes: maxBytes}
	lru, err := simplelru.NewLRU(size, func(_ uuid.UUID, v cacheEntry) { c.bytes -= v.bytes })
	if err != nil {
		panic(err) // size > 0: Config.Validate and setDefaults see to it
	}
	c.lru = lru
	return c
}

// What a cached history holds besides its events' stored bytes, as
// TestHistorySizeEstimate measures it: the folded domain.State, the
// history's slices and the LRU's entry (historyOverhead); per event, the
// eventstore.RecordedEvent with its stream and type strings and the
// decoded domain.Event (eventOverhead).
const (
	historyOverhead = 2 << 10
	eventOverhead   = 640
)

// historySize estimates the bytes h holds on the heap, high rather than
// low. An event's data is counted three times: as stored, decoded into
// its domain.Event, and folded into the state (a note's text is in all
// three); its metadata once.
func historySize(h history) int {
	n := historyOverhead
	for _, r := range h.records {
		n += eventOverhead + 3*len(r.Data) + len(r.Metadata)
	}
	return n
}

// stamp is the epoch a history opened from now on belongs to.
func (c *claimCache) stamp() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

func (c *claimCache) get(id uuid.UUID) (history, bool) {
	if c == nil {
		return history{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.lru.Get(id)
	return v.history, ok
}

// put caches h unless an invalidation happened since it was opened, or the
// cache holds a longer history of the claim already (a slow reader must
// not replace what a writer has just extended; a stale entry would only
// cost a failed append, but there is no reason to pay it). It evicts the
// claims used longest ago until the histories fit in maxBytes; a history
// larger than all of it is not cached (nor its older version kept).
func (c *claimCache) put(id uuid.UUID, h history) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.epoch != c.epoch {
		return
	}
	old, ok := c.lru.Peek(id)
	if ok && old.state.Version > h.state.Version {
		return
	}
	size := historySize(h)
	if size > c.maxBytes {
		c.lru.Remove(id)
		return
	}
	if ok {
		c.lru.Remove(id) // Add would replace it without telling its size
	}
	c.lru.Add(id, cacheEntry{history: h, bytes: size})
	c.bytes += size
	for c.bytes > c.maxBytes {
		c.lru.RemoveOldest()
	}
}

func (c *claimCache) forget(id uuid.UUID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(id)
}

// invalidate empties the cache and starts a new epoch.
func (c *claimCache) invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.lru.Purge()
}

// size returns how many histories the cache holds and their estimated
// bytes.
func (c *claimCache) size() (claims, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

// current returns the claim's history: the cached one when useCache and
// there is one (cached true), else a fresh read, which is cached.
func (s *Service) current(ctx context.Context, id uuid.UUID, useCache bool) (h history, cached bool, err error) {
	if useCache {
		if h, ok := s.cache.get(id); ok {
			return h, true, nil
		}
	}
	if h, err = s.load(ctx, id); err != nil {
		return history{}, false, err
	}
	s.cache.put(id, h)
	return h, false, nil
}

// errNotOurs means an append succeeded without writing: the events at its
// place are another writer's with the same IDs (a concurrent retry of the
// same request). The command is run again from a fresh read, which finds
// that request's events and answers with them.
var errNotOurs = errors.New("ledger: the events appended were already stored by another writer")

// remember caches h extended with the events just appended (data as
// stored, events as decided, in plaintext), or forgets the claim when it
// cannot tell what the store holds. It returns errNotOurs when the store
// holds another writer's events in their place.
func (s *Service) remember(ctx context.Context, id uuid.UUID, h history, data []eventstore.EventData, events []domain.Event, res eventstore.AppendResult, keyed bool) error {
	if s.cache == nil {
		return nil
	}
	_, tells := s.store.(eventstore.DuplicateReporter)
	if keyed && tells && res.Duplicate {
		// Another append of the same request's events was first.
		s.cache.forget(id)
		return errNotOurs
	}
	n := len(data)
	first := res.NextExpectedRevision + 1 - uint64(n)
	records := make([]eventstore.RecordedEvent, n)
	for i, d := range data {
		records[i] = eventstore.RecordedEvent{ID: d.ID, Stream: eventlog.Claims.Stream(id), Type: d.Type, Revision: first + uint64(i), Data: d.Data, Metadata: d.Metadata}
	}
	// Only the last event's position is known; the others' stay zero, as
	// KurrentDB's stream reads leave them. Only a request's last event's
	// position is ever answered (replay, Claim), and a request's events are
	// appended together.
	records[n-1].Position = res.Position
	if keyed && !tells {
		// Event IDs derived from the key: were these events written by us?
		// A store that cannot say must be asked what it holds.
		stored, err := s.store.ReadStream(ctx, eventlog.Claims.Stream(id), eventstore.Forwards, res.NextExpectedRevision, 1)
		if err != nil || len(stored) != 1 {
			s.cache.forget(id)
			return nil // written, as far as we know: the next command reads afresh
		}
		if stored[0].ID != data[n-1].ID || !bytes.Equal(stored[0].Metadata, data[n-1].Metadata) {
			s.cache.forget(id)
			return errNotOurs
		}
		records[n-1] = stored[0]
	}
	next, err := h.extend(records, events)
	if err != nil {
		s.cache.forget(id)
		return nil
	}
	s.cache.put(id, next)
	return nil
}

// extend returns h with records appended (events are their plaintext),
// copy on write: the slices of h may be held by other goroutines, so the
// full slice expressions make append copy rather than write past their
// length into a shared array.
func (h history) extend(records []eventstore.RecordedEvent, events []domain.Event) (history, error) {
	n := len(h.records)
	if n == 0 {
		first, err := eventlog.DecodeMetadata(records[0].Metadata)
		if err != nil {
			return history{}, err
		}
		h.first = first
	}
	h.records = append(h.records[:n:n], records...)
	h.events = append(h.events[:n:n], events...)
	for _, e := range events {
		if id, ok := privacy.CustomerIDOf(e); ok {
			h.customerID = id
		}
		h.state = domain.Evolve(h.state, e)
	}
	return h, nil
}
