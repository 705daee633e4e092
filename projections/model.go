package projections

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	gojson "github.com/goccy/go-json"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/feed"
)

// model is a read model: its tables and how events change them. A
// projection runs one model; each generation of the model has its own
// tables, so a rebuild can fill fresh ones while the old ones serve.
type model interface {
	// name is the projection's name: the watermill topic and handler, the
	// metric label, the argument of Rebuild.
	name() string
	// schema identifies the table layout and the fold. A generation built
	// by another schema is not reused: the projection starts a new one from
	// position zero.
	schema() string
	// tables lists generation gen's tables, for dropping them.
	tables(gen int64) []string
	// create returns the DDL of generation gen's tables.
	create(gen int64) []string
	// indexes returns the DDL of generation gen's secondary indexes. A
	// rebuild creates them after filling the tables: building an index
	// from sorted data once is far cheaper than keeping it up to date
	// through every insert.
	indexes(gen int64) []string
	// open prepares generation gen's writer statements.
	open(ctx context.Context, db *database, store eventstore.Store, gen int64, cacheSize int) (tableSet, error)
}

// tableSet writes one generation of a model. Folding, encoding and
// writing are separate steps: live delivery does all three per event (or
// per burst) in one transaction, a rebuild folds many batches in memory and
// writes each claim about once. Only flush needs the database's single
// writer connection; folding and encoding (the CPU work: Evolve, JSON) are
// done before it is taken, so projections do that work in parallel and
// hold the writer only for their SQL. Calls are serialised by the
// generation's write lock.
type tableSet interface {
	// fold folds the events (in order, all after the checkpoint) into the
	// cached states and marks their claims dirty. An error names the
	// event.
	fold(ctx context.Context, items []item) error
	// encode prepares the rows of the n dirty claims folded least recently
	// (all when n <= 0) for flush.
	encode(n int) error
	// flush writes the encoded rows within tx.
	flush(ctx context.Context, tx *sql.Tx) error
	// dirty counts the claims folded but not yet flushed.
	dirty() int
	// settle makes what fold staged current in memory; clean then forgets
	// the dirty marks of what flush wrote, once its rows are committed.
	settle()
	clean()
	// discard forgets what was staged, encoded and dirty: the transaction
	// rolled back, and those values cannot be trusted any more.
	discard()
	// close releases prepared statements.
	close() error
}

// inPlaceFolder is implemented by a table set that can fold into its cached
// values in place. A rebuild turns it on while it fills a generation that
// nobody reads: any failure there abandons the whole generation, so no
// cached value has to survive a discarded fold, and updating each claim's
// state where it is, instead of copying it per event, spares the garbage
// collector most of what a rebuild allocates. Live delivery keeps values
// immutable, since there a failed transaction must leave the committed ones
// intact.
type inPlaceFolder interface {
	foldInPlace(on bool)
}

// cacheBounder is implemented by a table set that caches folded claims: a
// rebuild raises the bound while it fills a generation
// (Config.RebuildCacheSize) and sets it back to Config.CacheSize after.
type cacheBounder interface {
	boundCache(n int)
}

// item is a stored event on its way into a read model, decoded once for
// every model that needs it.
type item struct {
	rec   eventstore.RecordedEvent
	event domain.Event
	err   error // why it could not be decoded; reported when a model reaches it
}

// decodeItem decodes a stored event with goccy/go-json, a decoder compatible
// with encoding/json that is about two and a half times as fast on the
// events, with half the allocations (BenchmarkDecode std against fast: 3.3
// against 1.3 us and 10 against 5 allocations per event, 2 cores): decoding
// was the largest single cost of a rebuild.
// It is only a shortcut: an event it fails on is decoded again with
// encoding/json, whose answer (a value, or the error a failed projection
// reports) is the one that counts; and TestFastDecodeAgrees checks that the
// two decode every kind of stored event to the same value.
func decodeItem(rec eventstore.RecordedEvent) item {
	ev, err := domain.DecodeEventWith(gojson.Unmarshal, rec.Type, rec.Data)
	if err != nil {
		ev, err = domain.DecodeEvent(rec.Type, rec.Data)
	}
	return item{rec: rec, event: ev, err: err}
}

// Decode decodes a stored event once for every consumer of a feed.Feed
// (the read models, the notifications outbox): a claim event into its
// domain event, any other as it is stored.
func Decode(rec eventstore.RecordedEvent) feed.Item {
	if !claimFilter.Selects(rec.Stream, rec.Type) {
		return feed.Item{Record: rec}
	}
	it := decodeItem(rec)
	return feed.Item{Record: it.rec, Event: it.event, Err: it.err}
}

// encodeJSON encodes a stored value (a claim's state, its SLA clocks) with
// goccy/go-json, in about two thirds of the time of encoding/json
// (BenchmarkEncodeState std against fast: 15 against 10 us for a claim's
// state after its last event, 2 cores); a
// state is encoded once per claim per commit live, and once per claim in a
// rebuild. The bytes may differ from encoding/json's (goccy does not honour
// omitzero, so it writes some zero values encoding/json leaves out), but
// what they decode to, with encoding/json as every reader does, is the
// same value: TestFastEncodeAgrees checks it on every path of the fixtures.
func encodeJSON(v any) ([]byte, error) {
	return gojson.Marshal(v)
}

// decodeMetadata decodes a stored event's metadata as eventlog.DecodeMetadata
// does, with goccy/go-json first for the same reason as decodeItem: the
// audit trail, the timers and the compensations decode the metadata of
// every event they book, and goccy does it in about a quarter of the time
// (BenchmarkDecode metadata-std against metadata-fast: 2.7 against 0.7 us
// and 9 against 3 allocations per event, 2 cores). Metadata goccy fails on
// is decoded again by eventlog.DecodeMetadata, whose answer counts.
// TestFastDecodeAgrees compares the two.
func decodeMetadata(data []byte) (eventlog.Metadata, error) {
	var m eventlog.Metadata
	if len(data) == 0 || gojson.Unmarshal(data, &m) != nil {
		return eventlog.DecodeMetadata(data)
	}
	return m, nil
}

// EventError is a failure to project one event. The event's id is what an
// operator needs to find it in the log and the store.
type EventError struct {
	Projection string
	EventID    string
	Stream     string
	Revision   uint64
	Position   eventstore.Position
	Err        error
}

// Error names the projection and the event first: that is what an operator
// searches the log and the store for.
func (e *EventError) Error() string {
	return fmt.Sprintf("projections: %s: event %s (%s@%d, position %s): %v",
		e.Projection, e.EventID, e.Stream, e.Revision, e.Position, e.Err)
}

// Unwrap gives the cause (a decoding error, ErrGap, a database error) to
// errors.Is and errors.As.
func (e *EventError) Unwrap() error { return e.Err }

func eventError(projection string, rec eventstore.RecordedEvent, err error) error {
	return &EventError{
		Projection: projection, EventID: rec.ID.String(), Stream: rec.Stream,
		Revision: rec.Revision, Position: rec.Position, Err: err,
	}
}

// cache keeps, per claim stream, the value folded so far, so that a live
// event does not reread its claim. It is bounded twice: by the number of
// claims (max) and by the events folded into their values, which is what
// the values' size grows with (a note, a payment, a timeline step each;
// see cacheEventsPerClaim). What fold stages is invisible until
// settle; dirty says which claims' rows are behind their values. Values are
// pointers and never modified once stored: a fold makes a new one, so
// discarding a fold leaves the value it started from intact, and the maps
// copy a pointer instead of a whole State.
type cache[V any] struct {
	max int
	// inPlace lets a fold modify the values it finds instead of making new
	// ones (see inPlaceFolder); only a rebuild turns it on.
	inPlace   bool
	committed map[string]*V
	staged    map[string]*V
	dirty     map[string]uint64 // claim -> when last folded (fold calls so far)
	// touched says when each cached claim was last folded, dirty or not:
	// eviction drops the claims folded longest ago.
	touched  map[string]uint64
	folds    uint64
	flushing []string // what the last flush wrote
	evicting []string // settle's scratch
	// events is the events folded into the committed values, together;
	// weights holds each value's as it was counted.
	events  int
	weights map[string]int
}

// cacheEventsPerClaim is the average length of the claims a cache of max
// claims is sized for: it holds at most max*cacheEventsPerClaim folded
// events. A claim's whole life is about ten events, so a cache of such
// claims is bounded by their number; of claims of hundreds of notes it
// keeps fewer instead of growing with every note. A folded event costs at
// most 512 bytes of state (TestCachedEventSize), a claim's value 4 KiB
// besides: the default 1,000 claims hold at most 12 MiB per model.
const cacheEventsPerClaim = 16

func newCache[V any](max int) *cache[V] {
	return &cache[V]{max: max, committed: make(map[string]*V), staged: make(map[string]*V),
		dirty: make(map[string]uint64), touched: make(map[string]uint64), weights: make(map[string]int)}
}

// eventCounter is a cached value that knows how many of its claim's events
// it has folded.
type eventCounter interface{ eventsFolded() int }

// weight is the events folded into v (1 for a value that cannot tell).
func weight[V any](v *V) int {
	if c, ok := any(v).(eventCounter); ok {
		return max(c.eventsFolded(), 1)
	}
	return 1
}

// commit makes v the claim's committed value and counts its events.
func (c *cache[V]) commit(key string, v *V) {
	c.committed[key] = v
	w := weight(v)
	c.events += w - c.weights[key]
	c.weights[key] = w
}

// drop forgets the claim's committed value.
func (c *cache[V]) drop(key string) {
	delete(c.committed, key)
	delete(c.touched, key)
	c.events -= c.weights[key]
	delete(c.weights, key)
}

// over reports whether the committed values exceed a fraction (in tenths)
// of either bound.
func (c *cache[V]) over(tenths int) bool {
	return len(c.committed)*10 > c.max*tenths || c.events*10 > c.max*cacheEventsPerClaim*tenths
}

func (c *cache[V]) get(key string) (*V, bool) {
	if v, ok := c.staged[key]; ok {
		return v, true
	}
	v, ok := c.committed[key]
	return v, ok
}

// fold stages a newly folded value: its row must be written. In place
// there is nothing to stage: nothing folded is ever taken back.
func (c *cache[V]) fold(key string, v *V) {
	if c.inPlace {
		c.commit(key, v)
	} else {
		c.staged[key] = v
	}
	c.dirty[key] = c.folds
	c.touched[key] = c.folds
}

// folded counts a fold call: the clock of "least recently folded".
func (c *cache[V]) folded() { c.folds++ }

// put stages bookkeeping on a value (its row now exists, or an event
// changed nothing a row shows) without making it dirty.
func (c *cache[V]) put(key string, v *V) {
	if c.inPlace {
		c.commit(key, v)
	} else {
		c.staged[key] = v
	}
	c.touched[key] = c.folds
}

// toFlush picks the n dirty claims folded least recently (all when n <=
// 0): in a rebuild those are the likeliest to be finished, so that writing
// them back early does not mean writing them again.
func (c *cache[V]) toFlush(n int) []string {
	c.flushing = c.flushing[:0]
	for k := range c.dirty {
		c.flushing = append(c.flushing, k)
	}
	if n > 0 && n < len(c.flushing) {
		slices.SortFunc(c.flushing, func(a, b string) int { return cmp.Compare(c.dirty[a], c.dirty[b]) })
		c.flushing = c.flushing[:n]
	}
	return c.flushing
}

func (c *cache[V]) settle() {
	for k, v := range c.staged {
		c.commit(k, v)
	}
	clear(c.staged)
	if c.over(10) {
		c.evict()
	}
}

// evict drops the clean claims folded longest ago until a tenth of both
// bounds is free, so that it sorts once per many new claims, not per fold.
// Claims still under way are the ones folded lately: evicting at random
// instead made a rebuild read a twentieth of its claims' histories again
// from the store. Dirty values are the only copy of their claim's state and
// stay.
func (c *cache[V]) evict() {
	c.evicting = c.evicting[:0]
	for k := range c.committed {
		if _, dirty := c.dirty[k]; !dirty {
			c.evicting = append(c.evicting, k)
		}
	}
	slices.SortFunc(c.evicting, func(a, b string) int { return cmp.Compare(c.touched[a], c.touched[b]) })
	for _, k := range c.evicting {
		if !c.over(9) {
			break
		}
		c.drop(k)
	}
	c.evicting = c.evicting[:0]
}

func (c *cache[V]) clean() {
	for _, k := range c.flushing {
		delete(c.dirty, k)
	}
	c.flushing = c.flushing[:0]
}

func (c *cache[V]) discard() {
	for k := range c.staged {
		c.drop(k)
	}
	for k := range c.dirty {
		c.drop(k)
	}
	clear(c.staged)
	clear(c.dirty)
	c.flushing = c.flushing[:0]
}

// readStream returns the first n events of a claim's stream, decoded: the
// history a model folds when it has no cached or stored state to start from.
func readStream(ctx context.Context, store eventstore.Store, stream string, n uint64) ([]item, error) {
	if n == 0 {
		return nil, nil
	}
	recs, err := store.ReadStream(ctx, stream, eventstore.Forwards, 0, int(n))
	if err != nil {
		return nil, fmt.Errorf("projections: read %s: %w", stream, err)
	}
	if uint64(len(recs)) != n {
		return nil, fmt.Errorf("projections: read %s: want %d events before revision %d, got %d", stream, n, n, len(recs))
	}
	items := make([]item, len(recs))
	for i, rec := range recs {
		items[i] = decodeItem(rec)
		if items[i].err != nil {
			return nil, fmt.Errorf("projections: %s revision %d: %w", stream, rec.Revision, items[i].err)
		}
	}
	return items, nil
}
