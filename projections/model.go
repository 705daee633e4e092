package projections

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
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
	// create returns the DDL of generation gen's tables and indexes.
	create(gen int64) []string
	// open prepares generation gen's writer statements.
	open(ctx context.Context, db *database, store eventstore.Store, gen int64, cacheSize int) (tableSet, error)
}

// tableSet writes one generation of a model. Calls are serialised by the
// generation's write lock.
type tableSet interface {
	// apply folds the events, in order and all after the checkpoint, into
	// the rows within tx. An error names the event that caused it.
	apply(ctx context.Context, tx *sql.Tx, items []item) error
	// commit makes what apply staged in memory (cached states) current: the
	// transaction committed.
	commit()
	// discard forgets what apply staged: the transaction rolled back.
	discard()
	// close releases prepared statements.
	close() error
}

// item is a stored event on its way into a read model, decoded once for
// every model that needs it.
type item struct {
	rec   eventstore.RecordedEvent
	event domain.Event
	err   error // why it could not be decoded; reported when a model reaches it
}

func decodeItem(rec eventstore.RecordedEvent) item {
	ev, err := domain.DecodeEvent(rec.Type, rec.Data)
	return item{rec: rec, event: ev, err: err}
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

func (e *EventError) Error() string {
	return fmt.Sprintf("projections: %s: event %s (%s@%d, position %s): %v",
		e.Projection, e.EventID, e.Stream, e.Revision, e.Position, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

func eventError(projection string, rec eventstore.RecordedEvent, err error) error {
	return &EventError{
		Projection: projection, EventID: rec.ID.String(), Stream: rec.Stream,
		Revision: rec.Revision, Position: rec.Position, Err: err,
	}
}

// cache keeps, per claim stream, the value folded so far, so that a live
// event does not reread its claim. Values apply stages are invisible until
// commit; discard also evicts the keys it touched, because a fold may share
// memory (slices, pointers) with the value it started from, and a rolled
// back fold must not leave a half-changed value behind.
type cache[V any] struct {
	max       int
	committed map[string]V
	staged    map[string]V
}

func newCache[V any](max int) *cache[V] {
	return &cache[V]{max: max, committed: make(map[string]V), staged: make(map[string]V)}
}

func (c *cache[V]) get(key string) (V, bool) {
	if v, ok := c.staged[key]; ok {
		return v, true
	}
	v, ok := c.committed[key]
	return v, ok
}

func (c *cache[V]) stage(key string, v V) { c.staged[key] = v }

func (c *cache[V]) commit() {
	for k, v := range c.staged {
		c.committed[k] = v
	}
	clear(c.staged)
	// Map iteration order is random, so this evicts at random: cheap, and
	// good enough when the working set (open claims) fits.
	for k := range c.committed {
		if len(c.committed) <= c.max {
			break
		}
		delete(c.committed, k)
	}
}

func (c *cache[V]) discard() {
	for k := range c.staged {
		delete(c.committed, k)
	}
	clear(c.staged)
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
