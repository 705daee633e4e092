package projections

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// readTrailEvents fills in, from the log, what the entries show besides
// their index row: the event's id, type, recording time, summary and
// reason. entries are in position order, as a page lists them.
//
// The store has no read by position, so a page is read one of two ways.
// When its entries are (nearly) every claim event between the first and
// the last (a page without filters, the CSV export), one read of $all from
// the trail's row before the first gives them all. When a filter spreads
// them through the log, each claim's stream is read at the entries'
// revisions instead, a run of consecutive revisions in one read. Either
// way an entry is matched to its event by position or revision, never by
// counting, and an entry the first way missed is read the second.
func readTrailEvents(ctx context.Context, t *trailTables, store eventstore.Store, entries []TrailEntry) error {
	if len(entries) == 0 {
		return nil
	}
	done := make([]bool, len(entries))
	dense, after, span, err := t.trailSpan(ctx, entries)
	if err != nil {
		return err
	}
	if dense {
		recs, err := store.ReadAll(ctx, after, span, claimFilter)
		if err != nil {
			return fmt.Errorf("projections: audit trail: read the log after %s: %w", after, err)
		}
		i := 0
		for _, rec := range recs {
			for i < len(entries) && entries[i].Position.Compare(rec.Position) < 0 {
				i++
			}
			if i == len(entries) {
				break
			}
			if entries[i].Position == rec.Position {
				if err := describeTrailEntry(&entries[i], rec); err != nil {
					return err
				}
				done[i] = true
			}
		}
	}
	return readTrailStreams(ctx, store, entries, done)
}

// denseSpan is how many claim events a page of n entries may span and still
// be read from $all in one read: beyond it, reading the claims' streams at
// the entries reads less.
func denseSpan(n int) int { return 4*n + 64 }

// trailSpan tells whether the entries are dense enough to read from $all
// (denseSpan), and if so the position to read after and how many events
// to read: every row of the trail from the first entry to the last.
func (t *trailTables) trailSpan(ctx context.Context, entries []TrailEntry) (dense bool, after eventstore.Position, span int, err error) {
	fc, fp, err := sqlPosition(entries[0].Position)
	if err != nil {
		return false, after, 0, err
	}
	lc, lp, err := sqlPosition(entries[len(entries)-1].Position)
	if err != nil {
		return false, after, 0, err
	}
	capped := denseSpan(len(entries))
	err = t.span.QueryRowContext(ctx, fc, fp, lc, lp, capped+1).Scan(&span)
	if err != nil {
		return false, after, 0, fmt.Errorf("projections: audit trail: %w", err)
	}
	if span > capped {
		return false, after, 0, nil
	}
	var c, p int64
	err = t.before.QueryRowContext(ctx, fc, fp).Scan(&c, &p)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return true, eventstore.Start, span, nil
	case err != nil:
		return false, after, 0, fmt.Errorf("projections: audit trail: %w", err)
	}
	return true, positionOf(c, p), span, nil
}

// streamReaders bounds the stream reads of one page running at once: a
// remote store answers each after a round trip, and a filtered page of 100
// can span 100 claims.
const streamReaders = 4

// readTrailStreams reads the entries not done from their claims' streams,
// a run of consecutive revisions of a claim in one read.
func readTrailStreams(ctx context.Context, store eventstore.Store, entries []TrailEntry, done []bool) error {
	// Each claim's entries not done, in revision order (position order
	// within a stream is revision order), cut into runs.
	var (
		claims []uuid.UUID
		of     = map[uuid.UUID][]int{}
	)
	for i := range entries {
		if done[i] {
			continue
		}
		id := entries[i].ClaimID
		if _, ok := of[id]; !ok {
			claims = append(claims, id)
		}
		of[id] = append(of[id], i)
	}
	var runs [][]int
	for _, id := range claims {
		todo := of[id]
		for len(todo) > 0 {
			n := 1
			for n < len(todo) && entries[todo[n]].Revision == entries[todo[0]].Revision+uint64(n) {
				n++
			}
			runs, todo = append(runs, todo[:n]), todo[n:]
		}
	}
	if len(runs) == 1 {
		return readTrailRun(ctx, store, entries, runs[0])
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		slots = make(chan struct{}, streamReaders)
	)
	for _, run := range runs {
		slots <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := readTrailRun(ctx, store, entries, run); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// readTrailRun reads the entries of one claim at consecutive revisions.
func readTrailRun(ctx context.Context, store eventstore.Store, entries []TrailEntry, run []int) error {
	first := entries[run[0]]
	stream := eventlog.Claims.Stream(first.ClaimID)
	recs, err := store.ReadStream(ctx, stream, eventstore.Forwards, first.Revision, len(run))
	if err != nil {
		return fmt.Errorf("projections: audit trail: read %s@%d: %w", stream, first.Revision, err)
	}
	for k, i := range run {
		e := &entries[i]
		if k >= len(recs) || recs[k].Revision != e.Revision {
			return fmt.Errorf("projections: audit trail: %s@%d is not in the log", stream, e.Revision)
		}
		if err := describeTrailEntry(e, recs[k]); err != nil {
			return err
		}
	}
	return nil
}

// describeTrailEntry sets what e shows from its event: the summary and
// reason as audit.Describe words them, for the event as the read models'
// store opens it.
func describeTrailEntry(e *TrailEntry, rec eventstore.RecordedEvent) error {
	it := decodeItem(rec)
	if it.err != nil {
		return fmt.Errorf("projections: audit trail: %s@%d: %w", rec.Stream, rec.Revision, it.err)
	}
	e.EventID, e.EventType = rec.ID, rec.Type
	e.RecordedAt = time.Unix(0, rec.Created.UnixNano()).UTC()
	e.Summary, e.Reason = audit.Describe(it.event)
	return nil
}

// maxTrailNumbers bounds trailNumbers: about the claims under way at once
// in a busy log, so that reading the trail in order finds most of them.
const maxTrailNumbers = 4096

// trailNumbers keeps the numbers of the claims recent pages showed. A
// claim's number is set by its registration and never changes, and every
// row of a claim comes after its registration, so a number read once is
// right for as long as the generation lives; a lookup of each row's claim
// in the index would instead cost a random read per row, the largest part
// of a page. When full it starts again empty.
type trailNumbers struct {
	mu  sync.Mutex
	m   map[uuid.UUID]string
	max int // maxTrailNumbers when 0
}

// fill sets the Number of every entry, looking up at once, in table, the
// claims it does not know.
func (n *trailNumbers) fill(ctx context.Context, db *sql.DB, table string, entries []TrailEntry) error {
	var (
		missing []any
		unknown []int // entries whose claim is missing
		seen    = map[uuid.UUID]bool{}
	)
	n.mu.Lock()
	for i := range entries {
		id := entries[i].ClaimID
		if number, ok := n.m[id]; ok {
			entries[i].Number = number
			continue
		}
		unknown = append(unknown, i)
		if !seen[id] {
			seen[id] = true
			missing = append(missing, id[:])
		}
	}
	n.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	found := make(map[uuid.UUID]string, len(missing))
	rows, err := db.QueryContext(ctx, `SELECT claim_id, number FROM `+table+`
		WHERE revision = 0 AND claim_id IN (?`+strings.Repeat(", ?", len(missing)-1)+`)`, missing...)
	if err != nil {
		return fmt.Errorf("projections: audit trail: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			claim  []byte
			number sql.NullString
		)
		if err := rows.Scan(&claim, &number); err != nil {
			return fmt.Errorf("projections: audit trail: %w", err)
		}
		id, _ := uuid.FromBytes(claim)
		found[id] = number.String
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("projections: audit trail: %w", err)
	}
	for _, i := range unknown {
		entries[i].Number = found[entries[i].ClaimID] // "" for a claim with no registration
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if limit := cmp.Or(n.max, maxTrailNumbers); n.m == nil || len(n.m)+len(missing) > limit {
		n.m = make(map[uuid.UUID]string, limit)
	}
	for id := range seen {
		n.m[id] = found[id]
	}
	return nil
}
