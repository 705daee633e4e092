package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

const selectEvents = `SELECT position, stream, revision, id, type, data, metadata, created FROM events `

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
		q = selectEvents + `WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`
	case eventstore.Backwards:
		q = selectEvents + `WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`
	default:
		return nil, fmt.Errorf("embedded: unknown direction %d", direction)
	}
	limit := -1 // SQLite: no limit
	if max > 0 {
		limit = max
	}
	// One read transaction, so "no events here" and "no such stream" are
	// decided on the same snapshot.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, readError(ctx, err)
	}
	defer tx.Rollback()
	events, err := query(ctx, tx, q, stream, clamp(from), limit)
	if err != nil || len(events) > 0 {
		return events, err
	}
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM events WHERE stream = ? LIMIT 1`, stream).Scan(&one); {
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
	b.WriteString(selectEvents)
	// System streams and types start with '$' and are never delivered.
	b.WriteString(`WHERE position > ? AND position <= ? AND substr(stream, 1, 1) <> '$' AND substr(type, 1, 1) <> '$'`)
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
			// substr, not LIKE: LIKE is case-insensitive and treats % and _
			// as wildcards; GLOB would need escaping.
			fmt.Fprintf(&b, "substr(%s, 1, length(?)) = ?", column)
			args = append(args, p, p)
		}
		b.WriteString(")")
	}
	prefixes("stream", filter.StreamPrefixes)
	prefixes("type", filter.TypePrefixes)
	b.WriteString(` ORDER BY position LIMIT ?`)
	args = append(args, max)
	return query(ctx, s.rdb, b.String(), args...)
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func query(ctx context.Context, db querier, q string, args ...any) ([]eventstore.RecordedEvent, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, readError(ctx, err)
	}
	defer rows.Close()
	var events []eventstore.RecordedEvent
	for rows.Next() {
		var (
			ev                     eventstore.RecordedEvent
			pos, revision, created int64
			id                     []byte
		)
		if err := rows.Scan(&pos, &ev.Stream, &revision, &id, &ev.Type, &ev.Data, &ev.Metadata, &created); err != nil {
			return nil, readError(ctx, err)
		}
		if len(id) != len(ev.ID) {
			return nil, fmt.Errorf("embedded: event at position %d has a %d-byte id", pos, len(id))
		}
		copy(ev.ID[:], id)
		ev.Revision = uint64(revision)
		ev.Position = eventstore.Position{Commit: uint64(pos), Prepare: uint64(pos)}
		ev.Created = time.Unix(0, created).UTC()
		events = append(events, ev)
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
	return fmt.Errorf("%w: embedded: read: %w", eventstore.ErrUnavailable, err)
}

// clamp maps a uint64 revision or position onto SQLite's int64; nothing
// stored is that large, so the clamped bound selects the same rows.
func clamp(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
