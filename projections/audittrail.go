package projections

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
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

// auditTrailModel is the "audit_trail" read model: one row per claim event,
// in $all order, with who did what, when and why. It is append-only: an
// event adds its row and changes no other, so unlike the claim models it
// keeps no per-claim state to fold, and the per-claim cache those use has
// nothing to hold. Rows wait in a list until they are flushed; "dirty"
// counts them.
type auditTrailModel struct{}

const auditTrailSchema = "audit-trail-1"

func (auditTrailModel) name() string   { return AuditTrail }
func (auditTrailModel) schema() string { return auditTrailSchema }

func auditTrailTable(gen int64) string { return fmt.Sprintf("audit_trail_g%d", gen) }

func (auditTrailModel) tables(gen int64) []string { return []string{auditTrailTable(gen)} }

// create lays out the table. Times are Unix nanoseconds (UTC); number is
// set on a claim's registration row only (queries join it back), since no
// other event carries it and a per-claim lookup while folding would cost a
// read per event.
func (auditTrailModel) create(gen int64) []string {
	return []string{`CREATE TABLE ` + auditTrailTable(gen) + ` (
		commit_pos  INTEGER NOT NULL,
		prepare_pos INTEGER NOT NULL,
		claim_id    TEXT    NOT NULL,
		revision    INTEGER NOT NULL,
		number      TEXT    NOT NULL,
		event_id    TEXT    NOT NULL,
		event_type  TEXT    NOT NULL,
		action      TEXT    NOT NULL,
		actor       TEXT    NOT NULL,
		role        TEXT    NOT NULL,
		occurred_at INTEGER NOT NULL,
		recorded_at INTEGER NOT NULL,
		summary     TEXT    NOT NULL,
		reason      TEXT    NOT NULL,
		PRIMARY KEY (commit_pos, prepare_pos)
	) STRICT, WITHOUT ROWID`}
}

// indexes serve each filter in position order.
func (auditTrailModel) indexes(gen int64) []string {
	t := auditTrailTable(gen)
	return []string{
		`CREATE INDEX IF NOT EXISTS ` + t + `_claim ON ` + t + ` (claim_id, revision)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_actor ON ` + t + ` (actor, commit_pos, prepare_pos)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_role ON ` + t + ` (role, commit_pos, prepare_pos)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_action ON ` + t + ` (action, commit_pos, prepare_pos)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_occurred ON ` + t + ` (occurred_at)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_number ON ` + t + ` (number) WHERE number <> ''`,
	}
}

// trailRow is one action, ready to insert.
type trailRow struct {
	commit, prepare                             int64
	claimID, number, eventID, eventType, action string
	revision                                    uint64
	actor, role, summary, reason                string
	occurredAt, recordedAt                      int64
	// rewrites, on a personal-data erasure, are the claim's earlier rows
	// whose summaries named the person, written again without (see
	// erasureRewrites).
	rewrites []trailRewrite
}

// trailRewrite replaces one earlier row's summary and reason.
type trailRewrite struct {
	revision        uint64
	summary, reason string
}

type trailTables struct {
	table    string
	staged   []trailRow // folded, not yet written
	flushing int        // how many of staged the next flush writes
	// inserts[i] inserts insertSizes[i] rows in one statement (writer): a
	// statement's own cost, binding aside, is paid per statement instead
	// of per row, and the trail writes a row per event.
	inserts []*sql.Stmt
	args    []any     // flush's scratch
	rewrite *sql.Stmt // writer: a summary and reason, on erasure
	store   eventstore.Store
}

// insertSizes are the rows per INSERT statement, largest first: a flush
// writes its rows in as few statements of these sizes as it can.
var insertSizes = []int{64, 16, 4, 1}

// trailColumns is how many columns an insert sets per row.
const trailColumns = 14

func (auditTrailModel) open(ctx context.Context, db *database, store eventstore.Store, gen int64, _ int) (tableSet, error) {
	t := &trailTables{table: auditTrailTable(gen), store: store}
	row := "(" + strings.Repeat("?, ", trailColumns-1) + "?)"
	// OR FAIL, not the default ABORT: to undo a failed statement's
	// earlier rows, ABORT makes SQLite copy every page a multi-row insert
	// touches to a statement journal first. A failed insert fails its
	// whole transaction here anyway, which the committer rolls back.
	for _, n := range insertSizes {
		st, err := db.w.PrepareContext(ctx, `INSERT OR FAIL INTO `+t.table+` (commit_pos, prepare_pos, claim_id, revision,
		number, event_id, event_type, action, actor, role, occurred_at, recorded_at, summary, reason)
		VALUES `+strings.Repeat(row+", ", n-1)+row)
		if err != nil {
			t.close()
			return nil, err
		}
		t.inserts = append(t.inserts, st)
	}
	var err error
	if t.rewrite, err = db.w.PrepareContext(ctx, `UPDATE `+t.table+` SET summary = ?, reason = ? WHERE claim_id = ? AND revision = ?`); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *trailTables) fold(ctx context.Context, items []item) error {
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
		action := meta.Action
		if action == "" {
			action = audit.ActionOf(it.rec.Type) // events written before actions were recorded
		}
		occurred := meta.OccurredAt
		if occurred.IsZero() {
			occurred = it.rec.Created
		}
		summary, reason := audit.Describe(it.event)
		row := trailRow{
			commit: c, prepare: p, claimID: strings.TrimPrefix(it.rec.Stream, eventlog.Claims.Prefix()),
			revision: it.rec.Revision, eventID: it.rec.ID.String(), eventType: it.rec.Type, action: action,
			actor: meta.Actor, role: meta.Role, occurredAt: occurred.UnixNano(), recordedAt: it.rec.Created.UnixNano(),
			summary: summary, reason: reason,
		}
		if it.rec.Revision == 0 {
			if reg, ok := registrationNumber(it); ok {
				row.number = reg
			}
		}
		if _, ok := it.event.(domain.PersonalDataErased); ok {
			if row.rewrites, err = t.erasureRewrites(ctx, it.rec); err != nil {
				return eventError(AuditTrail, it.rec, err)
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

// flush inserts the rows in order, an erasure's rewrites right after its
// own row.
func (t *trailTables) flush(ctx context.Context, tx *sql.Tx) error {
	rows := t.staged[:t.flushing]
	for len(rows) > 0 {
		n := 1
		for n < len(rows) && len(rows[n-1].rewrites) == 0 {
			n++
		}
		if err := t.insert(ctx, tx, rows[:n]); err != nil {
			return err
		}
		last := rows[n-1]
		for _, w := range last.rewrites {
			if _, err := tx.StmtContext(ctx, t.rewrite).ExecContext(ctx, w.summary, w.reason, last.claimID, int64(w.revision)); err != nil {
				return fmt.Errorf("projections: audit trail: erase %s@%d: %w", last.claimID, w.revision, err)
			}
		}
		rows = rows[n:]
	}
	return nil
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
		for _, r := range chunk {
			t.args = append(t.args, r.commit, r.prepare, r.claimID, int64(r.revision), r.number, r.eventID,
				r.eventType, r.action, r.actor, r.role, r.occurredAt, r.recordedAt, r.summary, r.reason)
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

// erasureRewrites describes again, without the person, every earlier event
// of the claim that carries personal data. The trail is otherwise
// append-only, but its summaries quote the customer's name and the name
// signed at delivery, and an erasure must reach them without a rebuild.
// Erasures are rare, so reading the claim's stream here costs little.
func (t *trailTables) erasureRewrites(ctx context.Context, rec eventstore.RecordedEvent) ([]trailRewrite, error) {
	if rec.Revision == 0 {
		return nil, nil
	}
	recs, err := t.store.ReadStream(ctx, rec.Stream, eventstore.Forwards, 0, int(rec.Revision))
	if err != nil {
		return nil, fmt.Errorf("projections: read %s: %w", rec.Stream, err)
	}
	var out []trailRewrite
	for _, r := range recs {
		it := decodeItem(r)
		if it.err != nil {
			return nil, it.err
		}
		// Every event of a type with personal fields is rewritten, even
		// one that already opens as erased: its row was written while
		// the key still opened it.
		switch it.event.(type) {
		case domain.ClaimRegistered, domain.DeliveryConfirmed:
		default:
			continue
		}
		summary, reason := audit.Describe(domain.ErasePersonal(it.event))
		out = append(out, trailRewrite{revision: r.Revision, summary: summary, reason: reason})
	}
	return out, nil
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
	for _, s := range append(t.inserts, t.rewrite) {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

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

// AuditTrailPage reads a page of the audit trail.
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
	t := g.tables.(*trailTables).table
	var (
		where []string
		args  []any
	)
	eq := func(column, value string) {
		if value != "" {
			where = append(where, `t.`+column+` = ?`)
			args = append(args, value)
		}
	}
	eq("actor", q.Actor)
	eq("role", q.Role)
	if len(q.Actions) > 0 {
		marks := make([]string, len(q.Actions))
		for i, a := range q.Actions {
			marks[i] = "?"
			args = append(args, a)
		}
		where = append(where, `t.action IN (`+strings.Join(marks, ", ")+`)`)
	}
	if q.ClaimID != uuid.Nil {
		eq("claim_id", q.ClaimID.String())
	}
	if n := strings.ToUpper(strings.TrimSpace(q.Number)); n != "" {
		where = append(where, `t.claim_id = (SELECT claim_id FROM `+t+` WHERE number = ? LIMIT 1)`)
		args = append(args, n)
	}
	if !q.From.IsZero() {
		where = append(where, `t.occurred_at >= ?`)
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		where = append(where, `t.occurred_at < ?`)
		args = append(args, q.To.UnixNano())
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
	query := `SELECT t.commit_pos, t.prepare_pos, t.claim_id, COALESCE(r.number, ''), t.revision, t.event_id,
		t.event_type, t.action, t.actor, t.role, t.occurred_at, t.recorded_at, t.summary, t.reason
		FROM ` + t + ` AS t LEFT JOIN ` + t + ` AS r ON r.claim_id = t.claim_id AND r.revision = 0`
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
			e                      TrailEntry
			c, pp, rev             int64
			claim, event           string
			occurred, recordedTime int64
		)
		if err := rows.Scan(&c, &pp, &claim, &e.Number, &rev, &event, &e.EventType, &e.Action, &e.Actor, &e.Role,
			&occurred, &recordedTime, &e.Summary, &e.Reason); err != nil {
			return TrailPage{}, fmt.Errorf("projections: audit trail: %w", err)
		}
		e.Position, e.Revision = positionOf(c, pp), uint64(rev)
		e.ClaimID, _ = uuid.Parse(claim)
		e.EventID, _ = uuid.Parse(event)
		e.OccurredAt, e.RecordedAt = time.Unix(0, occurred).UTC(), time.Unix(0, recordedTime).UTC()
		page.Items = append(page.Items, e)
	}
	if err := rows.Err(); err != nil {
		return TrailPage{}, fmt.Errorf("projections: audit trail: %w", err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = encodeTrailCursor(page.Items[limit-1].Position)
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
