package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/storage"
)

// appendRequest is one Append waiting for the writer.
type appendRequest struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData
	done     chan appendResponse // buffered: the writer never waits on a caller
}

type appendResponse struct {
	res eventstore.AppendResult
	err error
}

// Append queues the append for the writer and waits for its commit (and its
// fsync). If ctx ends first, Append returns ctx.Err() and the outcome is
// unknown: the append may still commit. Retry with the same event IDs to
// learn it; the retry is idempotent. The caller must not modify the events'
// byte slices until Append returns.
//
// A retry is recognised where its expectation points: after the expected
// revision for Exact and NoStream; at the stream's tail for Any and
// StreamExists (KurrentDB also finds older events there through its event-ID
// cache; the embedded store keeps no index on IDs, so an Any retry after
// other appends is written again). A retry that matches only in part (the
// first events match, later ones differ or are missing) fails with
// ErrWrongExpectedRevision, as KurrentDB answers it.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := s.enter(); err != nil {
		return eventstore.AppendResult{}, err
	}
	defer s.inflight.Done()
	if err := s.validate(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	req := &appendRequest{ctx: ctx, stream: stream, expected: expected, events: events, done: make(chan appendResponse, 1)}
	select {
	case s.queue <- req:
	case <-s.closing:
		return eventstore.AppendResult{}, eventstore.ErrClosed
	case <-ctx.Done():
		return eventstore.AppendResult{}, ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.res, r.err
	case <-s.writerDone:
		// The writer answers before it exits; no answer means the request
		// was queued after the writer's final drain and was never run.
		select {
		case r := <-req.done:
			return r.res, r.err
		default:
			return eventstore.AppendResult{}, eventstore.ErrClosed
		}
	case <-ctx.Done():
		return eventstore.AppendResult{}, ctx.Err()
	}
}

func (s *Store) validate(stream string, events []eventstore.EventData) error {
	if stream == "" {
		return fmt.Errorf("%w: empty stream name", eventstore.ErrInvalidAppend)
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: no events", eventstore.ErrInvalidAppend)
	}
	for i, ev := range events {
		if ev.ID == uuid.Nil {
			return fmt.Errorf("%w: event %d: nil ID", eventstore.ErrInvalidAppend, i)
		}
		if ev.Type == "" {
			return fmt.Errorf("%w: event %d: empty type", eventstore.ErrInvalidAppend, i)
		}
		if size := len(ev.Type) + len(ev.Data) + len(ev.Metadata); size > s.cfg.MaxEventSize {
			return fmt.Errorf("%w: event %d: %d bytes exceeds the limit of %d", eventstore.ErrInvalidAppend, i, size, s.cfg.MaxEventSize)
		}
	}
	return nil
}

// streamState is what the writer knows of a stream's end.
type streamState struct {
	last   uint64 // revision of the last event; meaningless unless exists
	exists bool
}

// writer is the single goroutine that writes events.db. Being the only
// writer (the lock file sees to other processes) lets it keep the head
// position and a stream cache in memory without re-reading them per append.
type writer struct {
	s    *Store
	conn *sql.Conn

	insert *sql.Stmt
	last   *sql.Stmt
	ids    *sql.Stmt

	head  uint64                 // last committed position
	cache map[string]streamState // committed state, bounded by StreamCacheSize
	batch []*appendRequest
	// committing holds the events the current batch wrote, for the
	// store's tail once the batch is durable.
	committing []eventstore.RecordedEvent
	// stale is set when a batch failed in the database (disk full, a
	// failed write or fsync). Whether any of it reached the file is then
	// unknown, so head and cache are reread from the file before the next
	// batch instead of trusted.
	stale bool
}

func newWriter(s *Store) (*writer, error) {
	w := &writer{s: s, conn: s.wconn, cache: make(map[string]streamState)}
	ctx := context.Background()
	var err error
	prepare := func(query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = w.conn.PrepareContext(ctx, query)
		return st
	}
	w.insert = prepare(`INSERT INTO events (position, stream, revision, id, type, data, metadata, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	w.last = prepare(`SELECT revision FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1`)
	// A range, not "LIMIT ?": SQLite prepares a statement again whenever a
	// value its planner uses (a LIMIT's is one) is bound anew.
	w.ids = prepare(`SELECT id, position FROM events WHERE stream = ? AND revision BETWEEN ? AND ? ORDER BY revision`)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("embedded: prepare statements: %w", err)
	}
	var head int64
	if err := w.conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM events`).Scan(&head); err != nil {
		w.close()
		return nil, fmt.Errorf("embedded: read head position: %w", err)
	}
	w.head = uint64(head)
	return w, nil
}

func (w *writer) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.insert, w.last, w.ids} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// run takes batches until Close; then it commits whatever is still queued
// and exits, so an Append accepted before Close is answered.
func (w *writer) run() {
	defer close(w.s.writerDone)
	for {
		select {
		case req := <-w.s.queue:
			w.commit(w.collect(req))
		case <-w.s.closing:
			for {
				select {
				case req := <-w.s.queue:
					w.commit(w.collect(req))
				default:
					return
				}
			}
		}
	}
}

// collect gathers the first request and whatever else is already waiting,
// up to MaxBatchSize; it never waits for more, so a lone append is not
// delayed.
func (w *writer) collect(first *appendRequest) []*appendRequest {
	if w.s.beforeBatch != nil {
		w.s.beforeBatch()
	}
	w.batch = append(w.batch[:0], first)
	for len(w.batch) < w.s.cfg.MaxBatchSize {
		select {
		case req := <-w.s.queue:
			w.batch = append(w.batch, req)
		default:
			return w.batch
		}
	}
	return w.batch
}

// commit runs a batch in one transaction. Expectation failures and
// idempotent retries are decided before anything of that request is
// written, so they affect only their own request; a database error fails
// the whole batch, which rolls back, so nothing half-written is visible.
func (w *writer) commit(batch []*appendRequest) {
	ctx := context.Background()
	answers := make([]appendResponse, len(batch))
	defer func() {
		for i, req := range batch {
			req.done <- answers[i]
			batch[i] = nil // let the request be collected
		}
	}()
	failAll := func(err error) {
		w.s.cfg.Logger.Error("embedded: batch failed", "appends", len(batch), "err", err)
		for i := range answers {
			answers[i] = appendResponse{err: err}
		}
		w.stale = true
	}

	if w.stale {
		if err := w.resync(ctx); err != nil {
			failAll(err)
			return
		}
	}
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		failAll(unavailable("begin", err))
		return
	}
	created := time.Now().UTC().UnixNano()
	pos := w.head
	w.committing = w.committing[:0]
	written := make(map[string]streamState) // streams written in this batch
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			answers[i].err = err // the caller gave up; do not write behind its back
			continue
		}
		res, err := w.apply(ctx, req, &pos, created, written)
		if errors.Is(err, eventstore.ErrUnavailable) {
			w.rollback()
			failAll(err)
			return
		}
		answers[i] = appendResponse{res: res, err: err}
	}
	if pos == w.head { // nothing written: no commit, no fsync
		w.rollback()
		return
	}
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		w.rollback()
		failAll(unavailable("commit", err))
		return
	}
	w.head = pos
	for stream, st := range written {
		w.remember(stream, st)
	}
	w.s.commits.Add(1)
	w.s.tail.add(w.committing)
	clear(w.committing) // the tail has them; let the data be collected with it
	w.s.note.publish(pos)
}

// resync forgets what the writer believed about the file and reads the head
// again. If a failed commit did reach the file after all (an fsync that
// reported an error after writing), its events are now visible, so they are
// announced to subscribers like any commit.
func (w *writer) resync(ctx context.Context) error {
	var head int64
	if err := w.conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM events`).Scan(&head); err != nil {
		return unavailable("read head position", err)
	}
	clear(w.cache)
	w.s.tail.reset() // what the failed commit left in the file is not in it
	w.stale = false
	if uint64(head) != w.head {
		w.s.cfg.Logger.Warn("embedded: a failed commit reached the file", "head", w.head, "now", head)
		w.head = uint64(head)
		w.s.note.publish(w.head)
	}
	return nil
}

// rollback ends the transaction. SQLite may already have rolled back (after
// an I/O error), in which case ROLLBACK fails harmlessly.
func (w *writer) rollback() {
	if _, err := w.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		w.s.cfg.Logger.Debug("embedded: rollback", "err", err)
	}
}

// apply decides one request against the stream as it stands in the batch and
// writes its events.
func (w *writer) apply(ctx context.Context, req *appendRequest, pos *uint64, created int64, written map[string]streamState) (eventstore.AppendResult, error) {
	st, err := w.state(ctx, req.stream, written)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	n := uint64(len(req.events))
	if start, ok := retryStart(req.expected, st, n); ok {
		res, same, err := w.alreadyStored(ctx, req.stream, start, req.events)
		if err != nil || same {
			return res, err
		}
	}
	if !req.expected.Check(st.last, st.exists) {
		return eventstore.AppendResult{}, &eventstore.WrongExpectedRevisionError{
			Stream: req.stream, Expected: req.expected, Actual: st.last, ActualExists: st.exists,
		}
	}
	var next uint64
	if st.exists {
		next = st.last + 1
	}
	for i, ev := range req.events {
		*pos++
		if _, err := w.insert.ExecContext(ctx, int64(*pos), req.stream, int64(next+uint64(i)),
			ev.ID[:], ev.Type, ev.Data, ev.Metadata, created); err != nil {
			return eventstore.AppendResult{}, unavailable("insert", err)
		}
		w.committing = append(w.committing, eventstore.RecordedEvent{
			ID: ev.ID, Stream: req.stream, Type: ev.Type, Revision: next + uint64(i),
			Position: eventstore.Position{Commit: *pos, Prepare: *pos},
			// Copies: the caller's slices are its own once Append returns.
			Data: slices.Clone(ev.Data), Metadata: slices.Clone(ev.Metadata), Created: time.Unix(0, created).UTC(),
		})
	}
	last := next + n - 1
	written[req.stream] = streamState{last: last, exists: true}
	return eventstore.AppendResult{NextExpectedRevision: last, Position: eventstore.Position{Commit: *pos, Prepare: *pos}}, nil
}

// retryStart tells at which revision the events of a retried append would
// already stand, if the request could be a retry at all: right after the
// expected revision (Exact, NoStream), or at the stream's tail (Any,
// StreamExists: KurrentDB looks the IDs up; the tail is the case a client's
// retry actually meets, and needs no index on event IDs).
func retryStart(expected eventstore.ExpectedRevision, st streamState, n uint64) (uint64, bool) {
	if !st.exists {
		return 0, false
	}
	if r, ok := expected.Revision(); ok {
		return r + 1, r < st.last
	}
	if expected.IsNoStream() {
		return 0, true
	}
	if st.last+1 < n {
		return 0, false
	}
	return st.last + 1 - n, true
}

// alreadyStored reports whether the stream holds exactly these event IDs from
// revision start on, and if so the result the original append returned.
func (w *writer) alreadyStored(ctx context.Context, stream string, start uint64, events []eventstore.EventData) (eventstore.AppendResult, bool, error) {
	rows, err := w.ids.QueryContext(ctx, stream, int64(start), int64(start)+int64(len(events))-1)
	if err != nil {
		return eventstore.AppendResult{}, false, unavailable("read event ids", err)
	}
	defer rows.Close()
	var (
		i   int
		pos int64
	)
	for ; rows.Next(); i++ {
		var id []byte
		if err := rows.Scan(&id, &pos); err != nil {
			return eventstore.AppendResult{}, false, unavailable("read event ids", err)
		}
		if string(id) != string(events[i].ID[:]) {
			return eventstore.AppendResult{}, false, nil
		}
	}
	if err := rows.Err(); err != nil {
		return eventstore.AppendResult{}, false, unavailable("read event ids", err)
	}
	if i != len(events) {
		return eventstore.AppendResult{}, false, nil
	}
	return eventstore.AppendResult{
		NextExpectedRevision: start + uint64(len(events)) - 1,
		Position:             eventstore.Position{Commit: uint64(pos), Prepare: uint64(pos)},
		Duplicate:            true,
	}, true, nil
}

// state returns the stream's end as seen inside the current batch: what the
// batch wrote, else the committed state (cached, or read once).
func (w *writer) state(ctx context.Context, stream string, written map[string]streamState) (streamState, error) {
	if st, ok := written[stream]; ok {
		return st, nil
	}
	if st, ok := w.cache[stream]; ok {
		return st, nil
	}
	var st streamState
	var last int64
	switch err := w.last.QueryRowContext(ctx, stream).Scan(&last); {
	case err == nil:
		st = streamState{last: uint64(last), exists: true}
	case errors.Is(err, sql.ErrNoRows):
	default:
		return streamState{}, unavailable("read stream state", err)
	}
	// Not written in this batch, so this is committed state: safe to cache
	// even if the batch later rolls back.
	w.remember(stream, st)
	return st, nil
}

// remember records a committed stream state. The cache is dropped wholesale
// when full: simpler than an LRU, and a miss costs one indexed lookup.
func (w *writer) remember(stream string, st streamState) {
	if _, ok := w.cache[stream]; !ok && len(w.cache) >= w.s.cfg.StreamCacheSize {
		clear(w.cache)
	}
	w.cache[stream] = st
}

// unavailable wraps a database failure; a fault of the disk (a full one,
// an I/O error) matches storage.ErrUnavailable as well. The batch rolled
// back and nothing of it is visible; but if the failure was the commit's
// fsync, the kernel may still have written it, so a retry must reuse the
// event IDs to stay idempotent (as after any ErrUnavailable).
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: embedded: %s: %w", eventstore.ErrUnavailable, op, storage.Fault(err))
}
