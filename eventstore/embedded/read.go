package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/storage"
)

const (
	selectEvents = `SELECT position, stream, revision, id, type, data, metadata, created FROM events `
	// selectAll reads $all. The rowid (position) is the only sensible way
	// in, and NOT INDEXED says so: given the stream prefix as a bound range,
	// the planner may otherwise pick the (stream, revision) index, which
	// cannot know the range spans nearly every stream, and then scan it
	// whole and sort, thousands of times slower.
	selectAll = `SELECT position, stream, revision, id, type, data, metadata, created FROM events NOT INDEXED `
)

// The queries have no LIMIT: the rows come in order as they are stepped
// through, and reading stops at the limit. So each kind of read is one
// statement, prepared once (see statements); a bound LIMIT would also make
// SQLite prepare the statement again at every execution, as it plans with
// the limit's value.

// ReadStream reads a stream through the read-only pool. Reading from past
// either end of an existing stream gives no events and no error; only a
// stream without events gives ErrStreamNotFound.
func (s *Store) ReadStream(ctx context.Context, stream string, direction eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.inflight.Done()

	var q string
	switch direction {
	case eventstore.Forwards:
		q = selectEvents + `WHERE stream = ? AND revision >= ? ORDER BY revision`
	case eventstore.Backwards:
		q = selectEvents + `WHERE stream = ? AND revision <= ? ORDER BY revision DESC`
	default:
		return nil, fmt.Errorf("embedded: unknown direction %d", direction)
	}
	// Both statements are had before the transaction holds a connection:
	// preparing one may need a connection of its own.
	read, done, err := s.prepared(ctx, q)
	if err != nil {
		return nil, readError(ctx, err)
	}
	defer done()
	exists, done, err := s.prepared(ctx, `SELECT 1 FROM events WHERE stream = ? LIMIT 1`)
	if err != nil {
		return nil, readError(ctx, err)
	}
	defer done()
	// One read transaction, so "no events here" and "no such stream" are
	// decided on the same snapshot.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, readError(ctx, err)
	}
	defer tx.Rollback()
	events, err := s.events(ctx, tx.StmtContext(ctx, read), max, min(max, 64), stream, clamp(from))
	if err != nil || len(events) > 0 {
		return events, err
	}
	var one int
	switch err := tx.StmtContext(ctx, exists).QueryRowContext(ctx, stream).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: %q", eventstore.ErrStreamNotFound, stream)
	case err != nil:
		return nil, readError(ctx, err)
	}
	return events, nil
}

// ReadAll reads $all forwards strictly after the position's Commit field
// (the embedded store's positions have Commit == Prepare).
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, max int, filter eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.inflight.Done()
	if max <= 0 {
		max = s.cfg.PageSize
	}
	return s.readAll(ctx, after.Commit, math.MaxInt64, max, filter)
}

// readAll reads up to max events in (after, upTo] that pass the filter. The
// upper bound lets a subscription know it has seen everything up to a
// commit even when the filter selects nothing there.
func (s *Store) readAll(ctx context.Context, after, upTo uint64, max int, filter eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	var b strings.Builder
	b.WriteString(selectAll)
	// System streams and types start with '$' and are never delivered.
	// Prefixes are tested as ranges of the BINARY order ("starts with
	// claim-" is claim- <= x < claim.): SQLite compares them in place,
	// where substr() would cost a function call per row and column.
	b.WriteString(`WHERE position > ? AND position <= ? AND NOT (stream >= '$' AND stream < '%') AND NOT (type >= '$' AND type < '%')`)
	args := []any{clamp(after), clamp(upTo)}
	prefixes := func(column string, list []string) {
		if len(list) == 0 {
			return
		}
		b.WriteString(" AND (")
		for i, p := range list {
			if i > 0 {
				b.WriteString(" OR ")
			}
			if end, ok := prefixEnd(p); ok {
				fmt.Fprintf(&b, "(%s >= ? AND %s < ?)", column, column)
				args = append(args, p, end)
			} else {
				fmt.Fprintf(&b, "%s >= ?", column) // every string from p on starts with p
				args = append(args, p)
			}
		}
		b.WriteString(")")
	}
	prefixes("stream", filter.StreamPrefixes)
	prefixes("type", filter.TypePrefixes)
	b.WriteString(` ORDER BY position`)
	// Positions are dense (1, 2, 3...), so (after, upTo] holds at most
	// upTo-after events: a live subscription's page is sized for the
	// commit it follows, a catch-up page for max.
	size := max
	if upTo > after && upTo-after < uint64(max) {
		size = int(upTo - after)
	}
	st, done, err := s.prepared(ctx, b.String())
	if err != nil {
		return nil, readError(ctx, err)
	}
	defer done()
	return s.events(ctx, st, max, size, args...)
}

// prefixEnd returns the least string greater than every string that starts
// with p: p with its last byte incremented, after dropping trailing 0xFF
// bytes. There is none when p is empty or all 0xFF (ok false).
func prefixEnd(p string) (string, bool) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xFF {
			return p[:i] + string([]byte{p[i] + 1}), true
		}
	}
	return "", false
}

// statements caches the read pool's prepared statements by their SQL.
// Preparing is most of the cost of a small read (a live subscription reads
// each commit's events; the write side reads a claim's stream per
// command), and database/sql keeps a prepared statement ready on every
// connection of the pool it runs on. The store makes a handful of kinds of
// query (one per direction and filter shape), so the cache stays small; it
// is bounded all the same, and beyond the bound a statement is prepared for
// its one read.
type statements struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxStatements bounds the statement cache.
const maxStatements = 64

// prepared returns the read pool's statement for q and what to call when
// done with it. Preparing takes a connection of the pool for a moment: a
// caller must not hold one (an open transaction) while it calls this, or a
// pool that is all held so would never give it one.
func (s *Store) prepared(ctx context.Context, q string) (*sql.Stmt, func(), error) {
	c := &s.stmts
	c.mu.Lock()
	st, ok := c.m[q]
	c.mu.Unlock()
	if ok {
		return st, func() {}, nil
	}
	st, err := s.rdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if other, ok := c.m[q]; ok { // prepared meanwhile by another read
		st.Close()
		return other, func() {}, nil
	}
	if len(c.m) >= maxStatements {
		return st, func() { st.Close() }, nil
	}
	if c.m == nil {
		c.m = make(map[string]*sql.Stmt)
	}
	c.m[q] = st
	return st, func() {}, nil
}

// closeStatements closes the cached statements; no read may be under way.
func (s *Store) closeStatements() error {
	c := &s.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	clear(c.m)
	return errors.Join(errs...)
}

// events runs st, a selectEvents or selectAll statement, and returns its
// first limit rows (all when limit <= 0); size is how many to make room for.
//
// The columns are scanned without copies: integers into interface values
// (no conversion through reflection), TEXT into strings, BLOBs as
// sql.RawBytes. database/sql says RawBytes are the driver's memory and
// valid until the next row; modernc.org/sqlite hands every TEXT and BLOB
// over in a new Go slice or string of its own per row that it never touches
// again, so the events keep them as they are rather than copying each
// once more: with the statement cache, reading pages of events costs about a
// fifth less CPU time and half the bytes it did through copies, and a read
// of one event (a live subscription's) a fifth of the time (BenchmarkReadAll).
// A driver that reused
// its buffers would show at once: every test that reads more than one
// event would see the last row's bytes in the earlier events.
func (s *Store) events(ctx context.Context, st *sql.Stmt, limit, size int, args ...any) ([]eventstore.RecordedEvent, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, readError(ctx, err)
	}
	defer rows.Close()
	events := make([]eventstore.RecordedEvent, 0, max(size, 0))
	var (
		pos, revision, created any
		stream, typ            string
		id, data, metadata     sql.RawBytes
	)
	// The loop ends by Next returning false, or by a return: database/sql
	// holds the rows' lock from a RawBytes Scan until the next Next or
	// Close, and Err taking it again while a cancelled context's close
	// waits for it would never return.
	for rows.Next() {
		if err := rows.Scan(&pos, &stream, &revision, &id, &typ, &data, &metadata, &created); err != nil {
			return nil, readError(ctx, err)
		}
		p, ok0 := pos.(int64)
		r, ok1 := revision.(int64)
		c, ok2 := created.(int64)
		if !ok0 || !ok1 || !ok2 || len(id) != len(uuid.UUID{}) {
			return nil, fmt.Errorf("embedded: event at position %v: unexpected columns: %T %T %T, %d-byte id", pos, pos, revision, created, len(id))
		}
		ev := eventstore.RecordedEvent{
			ID:       uuid.UUID(id),
			Stream:   stream,
			Type:     typ,
			Revision: uint64(r),
			Position: eventstore.Position{Commit: uint64(p), Prepare: uint64(p)},
			Data:     []byte(data),
			Metadata: []byte(metadata),
			Created:  time.Unix(0, c).UTC(),
		}
		events = append(events, ev)
		if limit > 0 && len(events) == limit {
			return events, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, readError(ctx, err)
	}
	return events, nil
}

// readError tells a cancelled read from a failing database.
func readError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return fmt.Errorf("%w: embedded: read: %w", eventstore.ErrUnavailable, storage.Fault(err))
}

// clamp maps a uint64 revision or position onto SQLite's int64; nothing
// stored is that large, so the clamped bound selects the same rows.
func clamp(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
