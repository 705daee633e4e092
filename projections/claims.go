package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// ErrGap means an event does not follow the revision its read model row
// is at: events were lost on the way. The projection stops on it; a
// Rebuild repairs the model.
var ErrGap = errors.New("projections: read model is not at the previous revision")

// claimsModel is the "claims" read model: one row per claim with the
// summary and search columns and the full folded domain.State.
type claimsModel struct{}

// claimsSchema changes whenever the table layout or what goes into it
// changes; an active generation of another schema is rebuilt at startup.
const claimsSchema = "claims-4" // 2: eligibility, clocks, finance and erasure fields in State; 3: assignee; 4: organisation, received_at, documents_due and the desk index

func (claimsModel) name() string   { return Claims }
func (claimsModel) schema() string { return claimsSchema }

// claimLocal: a claim's row is a fold of its own events.
func (claimsModel) claimLocal() {}

func claimsTable(gen int64) string { return fmt.Sprintf("claims_g%d", gen) }

func (claimsModel) tables(gen int64) []string { return []string{claimsTable(gen)} }

// create lays out the table. Times are Unix nanoseconds (UTC), so that they
// order and compare as numbers. The email column compares case-insensitively,
// as people type addresses.
func (claimsModel) create(gen int64) []string {
	return []string{`CREATE TABLE ` + claimsTable(gen) + ` (
		id               TEXT    PRIMARY KEY,
		number           TEXT    NOT NULL,
		status           TEXT    NOT NULL,
		customer_name    TEXT    NOT NULL,
		customer_phone   TEXT    NOT NULL,
		customer_email   TEXT    NOT NULL COLLATE NOCASE,
		product_category TEXT    NOT NULL,
		product_sku      TEXT    NOT NULL,
		product_serial   TEXT    NOT NULL,
		product_imei     TEXT    NOT NULL,
		registered_at    INTEGER NOT NULL,
		updated_at       INTEGER NOT NULL,
		version          INTEGER NOT NULL,
		revision         INTEGER NOT NULL,
		commit_pos       INTEGER NOT NULL,
		prepare_pos      INTEGER NOT NULL,
		next_action      TEXT    NOT NULL,
		allowed_actions  TEXT    NOT NULL,
		assignee         TEXT    NOT NULL,
		received_at      INTEGER NOT NULL,
		documents_due    INTEGER NOT NULL,
		organisation     TEXT    NOT NULL,
		state            BLOB    NOT NULL
	) STRICT`}
}

// indexes gives each search filter an index; the ones that end in
// (updated_at, id) also serve the pagination order.
func (claimsModel) indexes(gen int64) []string {
	t := claimsTable(gen)
	return []string{
		`CREATE INDEX IF NOT EXISTS ` + t + `_number ON ` + t + ` (number)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_serial ON ` + t + ` (product_serial)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_imei ON ` + t + ` (product_imei)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_phone ON ` + t + ` (customer_phone)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_email ON ` + t + ` (customer_email)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_status ON ` + t + ` (status, updated_at, id)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_updated ON ` + t + ` (updated_at, id)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_assignee ON ` + t + ` (assignee, updated_at, id)`,
		// Every column a desk queue filters on (Runner.Queue), so that the
		// queues are counted from the index alone; status and assignee
		// first, so that "unassigned" reads the open claims only, not
		// every claim nobody holds.
		`CREATE INDEX IF NOT EXISTS ` + t + `_desk ON ` + t + ` (status, assignee, documents_due, received_at, organisation)`,
		`CREATE INDEX IF NOT EXISTS ` + t + `_organisation ON ` + t + ` (organisation, updated_at, id)`,
	}
}

// claimEntry is a claim folded up to (not including) revision next.
type claimEntry struct {
	state    domain.State
	next     uint64
	position eventstore.Position
	stored   bool // the generation has a row for it
}

// claimTables writes and reads one generation of the claims model.
type claimTables struct {
	table string
	cache *cache[claimEntry]
	rows  []claimRow // encoded, waiting for flush

	load   *sql.Stmt // reader: a claim's stored state
	insert *sql.Stmt // writer: a new claim
	update *sql.Stmt // writer: what events change
	get    *sql.Stmt // reader: Claim
	erase  *sql.Stmt // writer: the customer columns, after a personal-data erasure
}

// claimRow is a claim's row, encoded.
type claimRow struct {
	key      string
	entry    *claimEntry
	state    []byte
	allowed  string
	next     string
	commit   int64
	prepare  int64
	revision int64
}

func (claimsModel) open(ctx context.Context, db *database, store eventstore.Store, gen int64, cacheSize int) (tableSet, error) {
	t := &claimTables{table: claimsTable(gen), cache: newCache[claimEntry](cacheSize)}
	var err error
	prepare := func(db *sql.DB, query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.PrepareContext(ctx, query)
		return s
	}
	// Stored states are read through the reader pool: nothing else writes
	// this generation while its write lock is held, so a reader sees the
	// last committed row, and the writer connection stays free.
	t.load = prepare(db.r, `SELECT revision, state FROM `+t.table+` WHERE id = ?`)
	t.insert = prepare(db.w, `INSERT INTO `+t.table+` (id, number, status, customer_name, customer_phone,
		customer_email, product_category, product_sku, product_serial, product_imei, registered_at,
		updated_at, version, revision, commit_pos, prepare_pos, next_action, allowed_actions, assignee, received_at, documents_due, organisation, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	// Registration data never changes, so an update leaves those columns,
	// and the indexes on them, alone.
	t.update = prepare(db.w, `UPDATE `+t.table+` SET status = ?, updated_at = ?, version = ?, revision = ?,
		commit_pos = ?, prepare_pos = ?, next_action = ?, allowed_actions = ?, assignee = ?, received_at = ?, documents_due = ?, state = ? WHERE id = ?`)
	t.get = prepare(db.r, `SELECT state, commit_pos, prepare_pos, next_action FROM `+t.table+` WHERE id = ?`)
	// The one change to registration data: an erasure (package privacy)
	// blanks the customer columns, so that search by phone or email stops
	// finding the claim and the plaintext leaves the table at once.
	t.erase = prepare(db.w, `UPDATE `+t.table+` SET customer_name = ?, customer_phone = ?, customer_email = ?
		WHERE id = ? AND (customer_name, customer_phone, customer_email) IS NOT (?, ?, ?)`)
	if err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// fold folds each event onto its claim's state (cached, else its stored
// row) with domain.Evolve.
func (t *claimTables) fold(ctx context.Context, items []item) error {
	t.cache.folded()
	for _, it := range items {
		key := it.rec.Stream
		prev, ok := t.cache.get(key)
		if !ok || prev.next != it.rec.Revision {
			loaded, err := t.loadEntry(ctx, it.rec)
			if err != nil {
				return eventError(Claims, it.rec, err)
			}
			prev = &loaded
		}
		if it.err != nil {
			return eventError(Claims, it.rec, it.err)
		}
		if ok && t.cache.inPlace {
			prev.state = domain.Evolve(prev.state, it.event)
			prev.next, prev.position = it.rec.Revision+1, it.rec.Position
			t.cache.fold(key, prev)
			continue
		}
		t.cache.fold(key, &claimEntry{
			state:    domain.Evolve(prev.state, it.event),
			next:     it.rec.Revision + 1,
			position: it.rec.Position,
			stored:   prev.stored,
		})
	}
	return nil
}

func (t *claimTables) foldInPlace(on bool) { t.cache.inPlace = on }

// encode turns each chosen dirty claim into its row once, however many of
// its events were folded since it was last written.
func (t *claimTables) encode(n int) error {
	t.rows = t.rows[:0]
	for _, key := range t.cache.toFlush(n) {
		e, _ := t.cache.get(key)
		s := e.state
		if !s.Exists() {
			continue // events without a registration: nothing a query could show
		}
		state, err := encodeJSON(&e.state) // a pointer: boxing the State would copy it
		if err != nil {
			return fmt.Errorf("projections: claims: encode %s: %w", key, err)
		}
		allowed := domain.AllowedActions(s)
		allowedJSON, err := json.Marshal(allowed)
		if err != nil {
			return err
		}
		c, p, err := sqlPosition(e.position)
		if err != nil {
			return err
		}
		t.rows = append(t.rows, claimRow{
			key: key, entry: e, state: state, allowed: string(allowedJSON),
			next: string(nextAction(s.Status, allowed)), commit: c, prepare: p, revision: int64(e.next - 1),
		})
	}
	return nil
}

// flush writes the encoded rows: an INSERT for a claim new to this
// generation, an UPDATE of what events change otherwise.
func (t *claimTables) flush(ctx context.Context, tx *sql.Tx) error {
	insert, update := tx.StmtContext(ctx, t.insert), tx.StmtContext(ctx, t.update)
	for _, r := range t.rows {
		s := r.entry.state
		id := strings.TrimPrefix(r.key, eventlog.Claims.Prefix())
		var err error
		if r.entry.stored {
			_, err = update.ExecContext(ctx, string(s.Status), s.UpdatedAt.UnixNano(), s.Version, r.revision,
				r.commit, r.prepare, r.next, r.allowed, s.Assignee, receivedAt(s), len(s.DocumentsOutstanding()), r.state, id)
			if err == nil && s.PersonalDataErased {
				c := s.Customer
				_, err = tx.StmtContext(ctx, t.erase).ExecContext(ctx, c.Name, c.Phone, c.Email, id, c.Name, c.Phone, c.Email)
			}
		} else {
			_, err = insert.ExecContext(ctx, id, s.Number, string(s.Status),
				s.Customer.Name, s.Customer.Phone, s.Customer.Email,
				s.Product.Category, s.Product.SKU, s.Product.Serial, s.Product.IMEI,
				s.RegisteredAt.UnixNano(), s.UpdatedAt.UnixNano(), s.Version, r.revision, r.commit, r.prepare,
				r.next, r.allowed, s.Assignee, receivedAt(s), len(s.DocumentsOutstanding()), s.Organisation, r.state)
		}
		if err != nil {
			return fmt.Errorf("projections: claims: write %s: %w", r.key, err)
		}
		if !r.entry.stored {
			stored := *r.entry
			stored.stored = true
			t.cache.put(r.key, &stored)
		}
	}
	return nil
}

func (t *claimTables) boundCache(n int) { t.cache.max = n }

func (t *claimTables) dirty() int { return len(t.cache.dirty) }

// loadEntry finds the state a claim had before rec: nothing for its first
// event, else its stored row, which must be exactly one revision behind.
// Anything else means the read model missed events; it is reported (and the
// projection stops, naming the event) rather than patched over, because a
// silent repair would also hide the bug that lost them.
func (t *claimTables) loadEntry(ctx context.Context, rec eventstore.RecordedEvent) (claimEntry, error) {
	if rec.Revision == 0 {
		return claimEntry{}, nil
	}
	var (
		revision int64
		state    []byte
	)
	err := t.load.QueryRowContext(ctx, strings.TrimPrefix(rec.Stream, eventlog.Claims.Prefix())).Scan(&revision, &state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return claimEntry{}, fmt.Errorf("%w: no row for %s before revision %d", ErrGap, rec.Stream, rec.Revision)
	case err != nil:
		return claimEntry{}, err
	case uint64(revision)+1 != rec.Revision:
		return claimEntry{}, fmt.Errorf("%w: %s is at revision %d, the event is revision %d", ErrGap, rec.Stream, revision, rec.Revision)
	}
	var s domain.State
	if err := json.Unmarshal(state, &s); err != nil {
		return claimEntry{}, fmt.Errorf("decode stored state: %w", err)
	}
	return claimEntry{state: s, next: rec.Revision, stored: true}, nil
}

func (t *claimTables) settle() { t.cache.settle() }
func (t *claimTables) clean()  { t.cache.clean() }
func (t *claimTables) discard() {
	t.cache.discard()
	t.rows = t.rows[:0]
}

func (t *claimTables) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{t.load, t.insert, t.update, t.get, t.erase} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// receivedAt is when the goods came in (Unix nanoseconds), 0 before.
func receivedAt(s domain.State) int64 {
	if s.Intake == nil {
		return 0
	}
	return s.Intake.ReceivedAt.UnixNano()
}

// expectedNext ranks the actions that move a claim along its main path.
// AllowedActions lists every action possible now (notes, holds, disputes,
// withdrawal among them); the desk's "next action expected" is the first of
// those that is on this list, so that it respects the domain's guards (a
// paid claim ships back only once payment covers the estimate, say).
var expectedNext = []domain.Action{
	domain.ActionAuthorize,
	domain.ActionRecordUnrepairabilityAct,
	domain.ActionRecordCustomerShipment,
	domain.ActionReceive,
	domain.ActionDiagnose,
	domain.ActionStartRepair,
	domain.ActionIssueEstimate,
	domain.ActionAcceptEstimate,
	domain.ActionRecordPayment,
	domain.ActionCompleteRepair,
	domain.ActionRecordRefundPayment,
	domain.ActionShipReturn,
	domain.ActionConfirmDelivery,
	domain.ActionResolveDispute,
	domain.ActionReleaseHold,
	domain.ActionClose,
}

// nextAction is the action the claim waits for, or "" when none is (a
// closed claim).
func nextAction(status domain.Status, allowed []domain.Action) domain.Action {
	if status == domain.StatusClosed {
		return ""
	}
	for _, a := range expectedNext {
		if slices.Contains(allowed, a) {
			return a
		}
	}
	if len(allowed) > 0 {
		return allowed[0]
	}
	return ""
}
