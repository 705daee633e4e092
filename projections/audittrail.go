package projections

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// AuditTrail serves AuditTrailPage: every action on every claim.
const AuditTrail = "audit_trail"

// Audit trail page limits.
const (
	DefaultTrailLimit = 100
	MaxTrailLimit     = 1000
)

// auditTrailModel is the "audit_trail" read model: an index over the
// claim events of the log, one row per event in $all order, holding only
// what AuditTrailPage filters and orders on (position, claim, the number a
// registration gives its claim, action, actor, role, decision time). What
// a page shows besides (the event's id, type, recording time, summary and
// reason) is read from the log for the rows of that page (readTrailEvents),
// so an event writes a few dozen bytes here rather than a second copy of
// itself. It is append-only: an event adds its row and changes no other,
// so unlike the claim models it keeps no per-claim state to fold, and the
// per-claim cache those use has nothing to hold. Rows wait in a list until
// they are flushed; "dirty" counts them.
//
// Personal data never enters the table: the summaries that quote it are
// written from the log when a page is read, through the store the read
// models read, which opens personal fields until the customer's keys are
// destroyed. An erasure destroys the keys before it records its events, so
// from then on the trail says "[erased]" wherever the claim view does,
// with nothing here to rewrite.
type auditTrailModel struct{}

const auditTrailSchema = "audit-trail-2"

func (auditTrailModel) name() string   { return AuditTrail }
func (auditTrailModel) schema() string { return auditTrailSchema }

func auditTrailTable(gen int64) string { return fmt.Sprintf("audit_trail_g%d", gen) }

func (auditTrailModel) tables(gen int64) []string { return []string{auditTrailTable(gen)} }

// create lays out the table. claim_id is the claim's UUID in its 16 bytes;
// occurred_at is Unix nanoseconds (UTC). number is set on a claim's
// registration row only (pages look it up, trailNumbers), since no other
// event carries it and a per-claim lookup while folding would cost a read
// per event.
func (auditTrailModel) create(gen int64) []string {
	return []string{`CREATE TABLE ` + auditTrailTable(gen) + ` (
		commit_pos  INTEGER NOT NULL,
		prepare_pos INTEGER NOT NULL,
		claim_id    BLOB    NOT NULL,
		revision    INTEGER NOT NULL,
		number      TEXT,
		action      TEXT    NOT NULL,
		actor       TEXT    NOT NULL,
		role        TEXT    NOT NULL,
		occurred_at INTEGER NOT NULL,
		PRIMARY KEY (commit_pos, prepare_pos)
	) STRICT, WITHOUT ROWID`}
}

// indexes serve each filter of AuditTrailPage; an index of a table
// without rowid ends with its primary key, so those on one value list its
// rows in position order.
func (auditTrailModel) indexes(gen int64) []string {
	t := auditTrailTable(gen)
	return []string{
		// number rides along so that a claim's number is read from this
		// index alone, not the table too.
		`CREATE INDEX IF NOT EXISTS ` + t + `_claim ON ` + t + ` (claim_id, revision, number)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_number ON ` + t + ` (number) WHERE number IS NOT NULL`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_actor ON ` + t + ` (actor)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_role ON ` + t + ` (role)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_action ON ` + t + ` (action)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_occurred ON ` + t + ` (occurred_at)`,
	}
}

// trailRow is one action, ready to insert.
type trailRow struct {
	commit, prepare     int64
	claimID             uuid.UUID
	revision            uint64
	number              string // on a registration only
	action, actor, role string
	occurredAt          int64
}

type trailTables struct {
	table    string
	staged   []trailRow // folded, not yet written
	flushing int        // how many of staged the next flush writes
	// inserts[i] inserts insertSizes[i] rows in one statement (writer): a
	// statement's own cost, binding aside, is paid per statement instead
	// of per row, and the trail writes a row per event.
	inserts []*sql.Stmt
	args    []any // flush's scratch
	// store is the log the rows index, opened as the read models read it.
	store eventstore.Store
	// span counts the rows from one position to another, up to a bound;
	// before finds the row before a position (readers: see trailSpan).
	span, before *sql.Stmt
	// numbers are the claims' numbers pages looked up (see trailNumbers).
	numbers trailNumbers
}

// insertSizes are the rows per INSERT statement, largest first: a flush
// writes its rows in as few statements of these sizes as it can.
var insertSizes = []int{64, 16, 4, 1}

// trailColumns is how many columns an insert sets per row.
const trailColumns = 9

func (auditTrailModel) open(ctx context.Context, db *database, store eventstore.Store, gen int64, _ int) (tableSet, error) {
	t := &trailTables{table: auditTrailTable(gen), store: store}
	row := "(" + strings.Repeat("?, ", trailColumns-1) + "?)"
	// OR FAIL, not the default ABORT: to undo a failed statement's
	// earlier rows, ABORT makes SQLite copy every page a multi-row insert
	// touches to a statement journal first. A failed insert fails its
	// whole transaction here anyway, which the committer rolls back.
	for _, n := range insertSizes {
		st, err := db.w.PrepareContext(ctx, `INSERT OR FAIL INTO `+t.table+` (commit_pos, prepare_pos, claim_id, revision,
		number, action, actor, role, occurred_at)
		VALUES `+strings.Repeat(row+", ", n-1)+row)
		if err != nil {
			t.close()
			return nil, err
		}
		t.inserts = append(t.inserts, st)
	}
	var err error
	if t.span, err = db.r.PrepareContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+t.table+`
		WHERE (commit_pos, prepare_pos) >= (?, ?) AND (commit_pos, prepare_pos) <= (?, ?) LIMIT ?)`); err != nil {
		t.close()
		return nil, err
	}
	if t.before, err = db.r.PrepareContext(ctx, `SELECT commit_pos, prepare_pos FROM `+t.table+`
		WHERE (commit_pos, prepare_pos) < (?, ?) ORDER BY commit_pos DESC, prepare_pos DESC LIMIT 1`); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *trailTables) fold(_ context.Context, items []item) error {
	for _, it := range items {
		if it.err != nil {
			return eventError(AuditTrail, it.rec, it.err)
		}
		meta, err := decodeMetadata(it.rec.Metadata)
		if err != nil {
			return eventError(AuditTrail, it.rec, err)
		}
		c, p, err := sqlPosition(it.rec.Position)
		if err != nil {
			return eventError(AuditTrail, it.rec, err)
		}
		claimID, err := eventlog.Claims.ID(it.rec.Stream)
		if err != nil {
			return eventError(AuditTrail, it.rec, fmt.Errorf("projections: audit trail: stream %q names no claim: %w", it.rec.Stream, err))
		}
		action := meta.Action
		if action == "" {
			action = audit.ActionOf(it.rec.Type) // events written before actions were recorded
		}
		occurred := meta.OccurredAt
		if occurred.IsZero() {
			occurred = it.rec.Created
		}
		row := trailRow{
			commit: c, prepare: p, claimID: claimID, revision: it.rec.Revision,
			action: action, actor: meta.Actor, role: meta.Role, occurredAt: occurred.UnixNano(),
		}
		if it.rec.Revision == 0 {
			if reg, ok := registrationNumber(it); ok {
				row.number = reg
			}
		}
		t.staged = append(t.staged, row)
	}
	return nil
}

// encode chooses the oldest n staged rows (all when n <= 0) for flush:
// they are already encoded.
func (t *trailTables) encode(n int) error {
	t.flushing = len(t.staged)
	if n > 0 && n < t.flushing {
		t.flushing = n
	}
	return nil
}

// flush inserts the rows in order.
func (t *trailTables) flush(ctx context.Context, tx *sql.Tx) error {
	return t.insert(ctx, tx, t.staged[:t.flushing])
}

// insert inserts rows with the fewest statements of insertSizes.
func (t *trailTables) insert(ctx context.Context, tx *sql.Tx, rows []trailRow) error {
	for len(rows) > 0 {
		i := 0
		for insertSizes[i] > len(rows) {
			i++
		}
		chunk := rows[:insertSizes[i]]
		t.args = t.args[:0]
		for k := range chunk {
			r := &chunk[k]
			var number any // NULL but on a registration
			if r.number != "" {
				number = r.number
			}
			t.args = append(t.args, r.commit, r.prepare, r.claimID[:], int64(r.revision), number,
				r.action, r.actor, r.role, r.occurredAt)
		}
		if _, err := tx.StmtContext(ctx, t.inserts[i]).ExecContext(ctx, t.args...); err != nil {
			first, last := chunk[0], chunk[len(chunk)-1]
			return fmt.Errorf("projections: audit trail: write %s@%d .. %s@%d: %w", first.claimID, first.revision, last.claimID, last.revision, err)
		}
		rows = rows[len(chunk):]
	}
	clear(t.args) // keep no strings of written rows alive
	return nil
}

func (t *trailTables) dirty() int { return len(t.staged) }
func (t *trailTables) settle()    {}

// clean forgets the rows flush wrote; the slice's array is reused once it
// empties, so a long rebuild does not keep every row it ever staged.
func (t *trailTables) clean() {
	t.staged = t.staged[t.flushing:]
	if len(t.staged) == 0 {
		t.staged = t.staged[:0:0]
	}
	t.flushing = 0
}

func (t *trailTables) discard() {
	t.staged, t.flushing = nil, 0
}

func (t *trailTables) close() error {
	var errs []error
	for _, s := range append(t.inserts, t.span, t.before) {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// narrowWindow is the most rows a time window may hold for a page to read
// them from the time index and sort them, rather than walk the trail (a
// variable for the tests, which take both ways).
var narrowWindow = 2 * MaxTrailLimit

// TrailQuery selects audit trail entries. Filters combine with AND; empty
// ones are ignored.
type TrailQuery struct {
	// Actor and Role match the key name and role that acted, exactly.
	Actor, Role string
	// Actions keeps entries of any of these actions (the command's action,
	// e.g. "authorize", or for events without one the event's name).
	Actions []string
	// ClaimID or Number select one claim.
	ClaimID uuid.UUID
	Number  string
	// From and To bound the decision time (inclusive, exclusive).
	From, To time.Time
	// Limit is the page size: DefaultTrailLimit when zero, at most MaxTrailLimit.
	Limit int
	// Cursor continues a previous page (TrailPage.NextCursor).
	Cursor string
}

// TrailEntry is one action on a claim.
type TrailEntry struct {
	Position   eventstore.Position `json:"-"`
	ClaimID    uuid.UUID           `json:"claim_id"`
	Number     string              `json:"number"`
	Revision   uint64              `json:"revision"`
	EventID    uuid.UUID           `json:"event_id"`
	EventType  string              `json:"event_type"`
	Action     string              `json:"action"`
	Actor      string              `json:"actor"`
	Role       string              `json:"role"`
	OccurredAt time.Time           `json:"occurred_at"`
	RecordedAt time.Time           `json:"recorded_at"`
	Summary    string              `json:"summary"`
	Reason     string              `json:"reason,omitempty"`
}

// TrailPage is one page of the audit trail, in $all order (oldest first).
type TrailPage struct {
	Items []TrailEntry `json:"items"`
	// NextCursor continues after the last item; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// AuditTrailPage reads a page of the audit trail: the rows that match
// from the index, then what they show from the log (readTrailEvents).
func (r *Runner) AuditTrailPage(ctx context.Context, q TrailQuery) (TrailPage, error) {
	limit := q.Limit
	switch {
	case limit < 0:
		return TrailPage{}, fmt.Errorf("%w: negative limit", ErrInvalidQuery)
	case limit == 0:
		limit = DefaultTrailLimit
	case limit > MaxTrailLimit:
		limit = MaxTrailLimit
	}
	p := r.byName[AuditTrail]
	g, release := p.acquire()
	defer release()
	tables := g.tables.(*trailTables)
	t := tables.table
	var (
		where []string
		args  []any
	)
	eq := func(column string, value any) {
		where = append(where, `t.`+column+` = ?`)
		args = append(args, value)
	}
	if q.Actor != "" {
		eq("actor", q.Actor)
	}
	if q.Role != "" {
		eq("role", q.Role)
	}
	if len(q.Actions) > 0 {
		marks := make([]string, len(q.Actions))
		for i, a := range q.Actions {
			marks[i] = "?"
			args = append(args, a)
		}
		where = append(where, `t.action IN (`+strings.Join(marks, ", ")+`)`)
	}
	if q.ClaimID != uuid.Nil {
		eq("claim_id", q.ClaimID[:])
	}
	if n := strings.ToUpper(strings.TrimSpace(q.Number)); n != "" {
		// The claim first, on its own: within the page's query SQLite
		// would rather walk the whole trail in order than look it up.
		var claim []byte
		err := r.db.r.QueryRowContext(ctx, `SELECT claim_id FROM `+t+` WHERE number = ? LIMIT 1`, n).Scan(&claim)
		if errors.Is(err, sql.ErrNoRows) {
			return TrailPage{}, nil
		}
		if err != nil {
			return TrailPage{}, fmt.Errorf("projections: audit trail: %w", err)
		}
		eq("claim_id", claim)
	}
	from := ` AS t`
	if !q.From.IsZero() || !q.To.IsZero() {
		// A window of few rows is read from the time index and sorted; a
		// wide one by walking the trail in order (the unary + keeps SQLite
		// off the index), which stops at the page's end.
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if !q.From.IsZero() {
			lo = q.From.UnixNano()
		}
		if !q.To.IsZero() {
			hi = q.To.UnixNano()
		}
		var n int
		if err := r.db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+t+`
			WHERE occurred_at >= ? AND occurred_at < ? LIMIT ?)`, lo, hi, narrowWindow+1).Scan(&n); err != nil {
			return TrailPage{}, fmt.Errorf("projections: audit trail: %w", err)
		}
		column := `+t.occurred_at`
		if n <= narrowWindow {
			from, column = ` AS t INDEXED BY `+t+`_occurred`, `t.occurred_at`
		}
		if !q.From.IsZero() {
			where = append(where, column+` >= ?`)
			args = append(args, lo)
		}
		if !q.To.IsZero() {
			where = append(where, column+` < ?`)
			args = append(args, hi)
		}
	}
	if q.Cursor != "" {
		after, err := decodeTrailCursor(q.Cursor)
		if err != nil {
			return TrailPage{}, err
		}
		c, pp, err := sqlPosition(after)
		if err != nil {
			return TrailPage{}, err
		}
		where = append(where, `(t.commit_pos, t.prepare_pos) > (?, ?)`)
		args = append(args, c, pp)
	}
	query := `SELECT t.commit_pos, t.prepare_pos, t.claim_id, t.revision, t.action, t.actor, t.role, t.occurred_at
		FROM ` + t + from
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY t.commit_pos, t.prepare_pos` + limitClause(limit+1)
	rows, err := r.db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return TrailPage{}, fmt.Errorf("projections: audit trail: %w", err)
	}
	defer rows.Close()
	var page TrailPage
	for rows.Next() {
		var (
			e          TrailEntry
			c, pp, rev int64
			claim      []byte
			occurred   int64
		)
		if err := rows.Scan(&c, &pp, &claim, &rev, &e.Action, &e.Actor, &e.Role, &occurred); err != nil {
			return TrailPage{}, fmt.Errorf("projections: audit trail: %w", err)
		}
		e.Position, e.Revision = positionOf(c, pp), uint64(rev)
		e.ClaimID, _ = uuid.FromBytes(claim)
		e.OccurredAt = time.Unix(0, occurred).UTC()
		page.Items = append(page.Items, e)
	}
	if err := rows.Err(); err != nil {
		return TrailPage{}, fmt.Errorf("projections: audit trail: %w", err)
	}
	rows.Close()
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = encodeTrailCursor(page.Items[limit-1].Position)
	}
	if err := tables.numbers.fill(ctx, r.db.r, t, page.Items); err != nil {
		return TrailPage{}, err
	}
	if err := readTrailEvents(ctx, tables, tables.store, page.Items); err != nil {
		return TrailPage{}, err
	}
	return page, nil
}

func encodeTrailCursor(p eventstore.Position) string {
	return base64.RawURLEncoding.EncodeToString([]byte(audit.FormatPosition(p)))
}

func decodeTrailCursor(s string) (eventstore.Position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		var p eventstore.Position
		if p, err = eventstore.ParsePosition(string(b)); err == nil {
			return p, nil
		}
	}
	return eventstore.Position{}, fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
}

// registrationNumber is the claim number a registration carries.
func registrationNumber(it item) (string, bool) {
	reg, ok := it.event.(domain.ClaimRegistered)
	return reg.Number, ok
}
