package projections

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"modernc.org/sqlite"

	"github.com/rmaledger/rmaledger/domain"
)

// The desk's queues: the tabs of the staff console's home, in the order the
// desk works through them. A queue is a filter over the open claims (every
// status but closed and rejected), answered by the claims model's indexes
// and, for the SLA queues, the timers model's.
const (
	QueueDecision    = "decision"     // registered: authorize, reject or redirect
	QueueDocuments   = "documents"    // authorized, documents asked for and not all received
	QueueArrival     = "arrival"      // authorized with its documents, or in transit: the goods are next
	QueueIntakeToday = "intake-today" // received since the day began
	QueueDiagnosis   = "diagnosis"    // received or diagnosed
	QueueCustomer    = "customer"     // waiting for the customer: an estimate to accept or pay
	QueueRepair      = "repair"       // paid or in repair
	QueueShip        = "ship"         // resolved, ready to ship back
	QueueDisputes    = "disputes"
	QueueHold        = "hold"
	QueueMine        = "mine"       // assigned to the person asking
	QueueUnassigned  = "unassigned" // assigned to nobody
	QueueDueSoon     = "due-soon"   // an SLA clock is due soon
	QueueBreached    = "breached"   // an SLA clock is past due
)

var queueNames = []string{
	QueueDecision, QueueDocuments, QueueArrival, QueueIntakeToday, QueueDiagnosis, QueueCustomer,
	QueueRepair, QueueShip, QueueDisputes, QueueHold, QueueMine, QueueUnassigned, QueueDueSoon, QueueBreached,
}

// QueueNames returns the queues in the desk's order. The slice is a copy.
func QueueNames() []string { return slices.Clone(queueNames) }

// QueueSorts are the columns a queue can be sorted by.
var queueSorts = map[string]string{
	"number":   `c.number`,
	"customer": `c.customer_name COLLATE ` + caseless,
	"product":  `c.product_sku || c.product_serial || c.product_imei`,
	"status":   `c.status`,
	"assignee": `c.assignee COLLATE ` + caseless,
	"age":      `-c.registered_at`, // youngest first
	"due":      `next_due = 0, next_due`,
}

// QueueSortColumns returns the names a QueueQuery can sort by.
func QueueSortColumns() []string {
	out := make([]string, 0, len(queueSorts))
	for k := range queueSorts {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// QueueQuery asks for every queue's count and one queue's claims.
type QueueQuery struct {
	// Queue is the queue whose claims are listed (one of QueueNames).
	Queue string
	// Claims, when set, lists these claims (a search's results) instead of
	// a queue's, in the same order and with the same clocks.
	Claims []uuid.UUID
	// Organisation, when set, keeps to that organisation's claims (a
	// partner's queues).
	Organisation string
	// Person is who asks: the "mine" queue holds the claims assigned to
	// this name.
	Person string
	// Today is the start of the desk's day (in the policy's time zone):
	// "intake today" holds what was received since.
	Today time.Time
	// At is the instant SLA clocks are judged at (zero: now).
	At time.Time
	// Clocks includes the SLA queues and each claim's clocks; without it
	// (a role that may not read SLA timers) the SLA queues are empty.
	Clocks bool
	// Sort is the column (QueueSortColumns; default "due": the most urgent
	// first, claims without a running clock last), Descending reverses it.
	// Ties keep the order of the last change, oldest first.
	Sort       string
	Descending bool
	// Limit is how many claims are listed: DefaultSearchLimit when zero, at
	// most MaxSearchLimit. Offset skips that many first (the next pages of
	// an export).
	Limit, Offset int
	// ListOnly leaves the counts out: an export's next pages.
	ListOnly bool
}

// QueueRow is a claim in a queue with its running SLA clocks summed up.
type QueueRow struct {
	ClaimSummary
	// NextDue is the earliest due time of its running clocks; zero without one.
	NextDue time.Time
	// DueSoon and Breached: a running clock is due soon, or past due.
	DueSoon, Breached bool
}

// QueuePage is every queue's count and the first claims of the one asked for.
type QueuePage struct {
	Counts map[string]int
	Rows   []QueueRow
}

// openStatuses are the statuses a claim is worked on in: all but the final ones.
var openStatuses = func() []string {
	var out []string
	for _, s := range domain.Statuses() {
		if s != domain.StatusClosed && s != domain.StatusRejected {
			out = append(out, "'"+string(s)+"'")
		}
	}
	return out
}()

// queueFilter is a queue's condition on a claims row c. Its parameters:
// ?1 the person asking, ?2 the start of the day, ?3 the instant clocks are
// judged at (both Unix nanoseconds), ?4 the organisation; timers is the
// timers table the SLA queues read.
func queueFilter(name, timers string) (string, bool) {
	isOpen := `c.status IN (` + strings.Join(openStatuses, ", ") + `)`
	running := `SELECT t.claim_id FROM ` + timers + ` AS t WHERE t.status = 'running' AND `
	switch name {
	case QueueDecision:
		return `c.status = 'registered'`, true
	case QueueDocuments:
		return `(c.status = 'authorized' AND c.documents_due > 0)`, true
	case QueueArrival:
		return `(c.status = 'authorized' AND c.documents_due = 0 OR c.status = 'in_transit')`, true
	case QueueIntakeToday:
		return `(c.status = 'received' AND c.received_at >= ?2)`, true
	case QueueDiagnosis:
		return `c.status IN ('received', 'diagnosed')`, true
	case QueueCustomer:
		return `c.status IN ('estimate_issued', 'estimate_accepted')`, true
	case QueueRepair:
		return `c.status IN ('paid', 'in_repair')`, true
	case QueueShip:
		return `c.status = 'resolved'`, true
	case QueueDisputes:
		return `c.status = 'disputed'`, true
	case QueueHold:
		return `c.status = 'on_hold'`, true
	case QueueMine:
		return `(c.assignee = ?1 AND ?1 != '' AND ` + isOpen + `)`, true
	case QueueUnassigned:
		return `(c.assignee = '' AND ` + isOpen + `)`, true
	case QueueDueSoon:
		return `c.id IN (` + running + `t.soon_at <= ?3 AND t.due_at > ?3)`, true
	case QueueBreached:
		return `c.id IN (` + running + `t.due_at <= ?3)`, true
	}
	return "", false
}

// slaQueue reports whether a queue is judged by SLA clocks.
func slaQueue(name string) bool { return name == QueueDueSoon || name == QueueBreached }

// Queue answers the desk's queues: every queue's count, and the first
// claims of q.Queue in the order asked for. Counting reads the claims
// model's desk index and the timers model's due indexes, never a claim's
// state, so that the desk's home costs about the same with a hundred open
// claims as with a hundred thousand; clocks are read for the listed
// claims only.
func (r *Runner) Queue(ctx context.Context, q QueueQuery) (QueuePage, error) {
	if _, ok := queueFilter(q.Queue, ""); !ok && q.Claims == nil {
		return QueuePage{}, fmt.Errorf("%w: queue %q is not one of %s", ErrInvalidQuery, q.Queue, strings.Join(queueNames, ", "))
	}
	sort := q.Sort
	if sort == "" {
		sort = "due"
	}
	order, ok := queueSorts[sort]
	if !ok {
		return QueuePage{}, fmt.Errorf("%w: sort %q is not one of %s", ErrInvalidQuery, q.Sort, strings.Join(QueueSortColumns(), ", "))
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return QueuePage{}, fmt.Errorf("%w: negative limit", ErrInvalidQuery)
	case limit == 0:
		limit = DefaultSearchLimit
	case limit > MaxSearchLimit:
		limit = MaxSearchLimit
	}
	if q.Offset < 0 {
		return QueuePage{}, fmt.Errorf("%w: negative offset", ErrInvalidQuery)
	}
	if q.At.IsZero() {
		q.At = time.Now()
	}
	tp, ok := r.byName[Timers]
	if !ok {
		return QueuePage{}, errNoTimers
	}
	cg, releaseClaims := r.claims.p.acquire()
	defer releaseClaims()
	tg, releaseTimers := tp.acquire()
	defer releaseTimers()
	claims, timers := cg.tables.(*claimTables).table, timersTable(tg.number)
	args := []any{strings.TrimSpace(q.Person), q.Today.UnixNano(), q.At.UnixNano(), q.Organisation}
	// A partner's queues hold its organisation's claims only.
	mine := ``
	if q.Organisation != "" {
		mine = ` AND c.organisation = ?4`
	}

	page := QueuePage{Counts: map[string]int{}}
	if !q.ListOnly {
		if err := r.countQueues(ctx, claims, timers, mine, q.Clocks, args, page.Counts); err != nil {
			return QueuePage{}, err
		}
	}
	filter, _ := queueFilter(q.Queue, timers)
	switch {
	case q.Claims != nil:
		if len(q.Claims) == 0 {
			return page, nil
		}
		marks := make([]string, len(q.Claims))
		for i, id := range q.Claims {
			marks[i] = "?" + strconv.Itoa(len(args)+1)
			args = append(args, id.String())
		}
		filter = `c.id IN (` + strings.Join(marks, ", ") + `)`
	case slaQueue(q.Queue) && !q.Clocks:
		return page, nil // clocks this role may not read
	}
	// The earliest due time is read per claim only for the sort by it, and
	// only for a role that may see clocks.
	nextDue := `0`
	if sort == "due" && q.Clocks {
		// "+t.status" keeps the planner on the claim's own clocks (the
		// primary key) rather than every running clock (the due index).
		nextDue = `COALESCE((SELECT MIN(t.due_at) FROM ` + timers + ` AS t WHERE t.claim_id = c.id AND +t.status = 'running'), 0)`
	}
	if q.Descending {
		order = descending(order)
	}
	query := `SELECT ` + prefixed("c.", summaryColumns) + `, ` + nextDue + ` AS next_due FROM ` + claims + ` AS c WHERE ` + filter + mine +
		` ORDER BY ` + order + `, c.updated_at, c.id` + limitClause(limit) + ` OFFSET ` + strconv.Itoa(q.Offset)
	rows, err := r.db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return QueuePage{}, fmt.Errorf("projections: queue %s: %w", q.Queue, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			row QueueRow
			due int64
		)
		if err := scanSummary(rows, &row.ClaimSummary, &due); err != nil {
			return QueuePage{}, fmt.Errorf("projections: queue %s: %w", q.Queue, err)
		}
		page.Rows = append(page.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return QueuePage{}, fmt.Errorf("projections: queue %s: %w", q.Queue, err)
	}
	if q.Clocks {
		if err := r.sumClocks(ctx, timers, page.Rows, q.At); err != nil {
			return QueuePage{}, err
		}
	}
	return page, nil
}

// descending reverses each term of an ORDER BY list.
func descending(order string) string {
	terms := strings.Split(order, ", ")
	for i, t := range terms {
		terms[i] = t + " DESC"
	}
	return strings.Join(terms, ", ")
}

// prefixed qualifies each column of a list with a table alias.
func prefixed(alias, columns string) string {
	fields := strings.Split(columns, ",")
	for i, f := range fields {
		fields[i] = alias + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

// countQueues counts every queue: the queues of the claims' own columns in
// one pass over the open claims' desk index, the SLA queues (with clocks)
// from the timers' due indexes.
func (r *Runner) countQueues(ctx context.Context, claims, timers, mine string, clocks bool, args []any, counts map[string]int) error {
	var (
		names []string
		sums  []string
	)
	for _, name := range queueNames {
		if slaQueue(name) {
			continue
		}
		filter, _ := queueFilter(name, timers)
		names = append(names, name)
		sums = append(sums, `COALESCE(SUM(`+filter+`), 0)`)
	}
	values := make([]any, len(names))
	n := make([]int, len(names))
	for i := range n {
		values[i] = &n[i]
	}
	query := `SELECT ` + strings.Join(sums, ", ") + ` FROM ` + claims + ` AS c WHERE c.status IN (` + strings.Join(openStatuses, ", ") + `)` + mine
	if err := r.db.r.QueryRowContext(ctx, query, args...).Scan(values...); err != nil {
		return fmt.Errorf("projections: count queues: %w", err)
	}
	for i, name := range names {
		counts[name] = n[i]
	}
	if !clocks {
		return nil
	}
	for _, name := range []string{QueueDueSoon, QueueBreached} {
		filter, _ := queueFilter(name, timers)
		var c int
		if err := r.db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+claims+` AS c WHERE `+filter+mine, args...).Scan(&c); err != nil {
			return fmt.Errorf("projections: count queue %s: %w", name, err)
		}
		counts[name] = c
	}
	return nil
}

// sumClocks sets each row's earliest due time and whether a clock is due
// soon or past due at at, from the running clocks of the listed claims.
func (r *Runner) sumClocks(ctx context.Context, timers string, rows []QueueRow, at time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	index := make(map[string]*QueueRow, len(rows))
	args := make([]any, len(rows))
	for i := range rows {
		id := rows[i].ID.String()
		index[id], args[i] = &rows[i], id
	}
	list, err := r.db.r.QueryContext(ctx, `SELECT claim_id, due_at, soon_at FROM `+timers+
		` WHERE +status = 'running' AND claim_id IN (?`+strings.Repeat(`, ?`, len(rows)-1)+`)`, args...)
	if err != nil {
		return fmt.Errorf("projections: queue clocks: %w", err)
	}
	defer list.Close()
	now := at.UnixNano()
	for list.Next() {
		var (
			id        string
			due, soon int64
		)
		if err := list.Scan(&id, &due, &soon); err != nil {
			return fmt.Errorf("projections: queue clocks: %w", err)
		}
		row := index[id]
		if row == nil {
			continue
		}
		if dueAt := time.Unix(0, due).UTC(); row.NextDue.IsZero() || dueAt.Before(row.NextDue) {
			row.NextDue = dueAt
		}
		row.Breached = row.Breached || due <= now
		row.DueSoon = row.DueSoon || soon <= now && now < due
	}
	return list.Err()
}

// caseless is the collation the queues sort names by: case-insensitive in
// every script, as people read a list of names.
const caseless = "caseless"

func init() {
	sqlite.MustRegisterCollationUtf8(caseless, compareCaseless)
}

// compareCaseless compares two strings letter by letter in lower case,
// without allocating: a sort compares each name many times.
func compareCaseless(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if la, lb := unicode.ToLower(ra), unicode.ToLower(rb); la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}
