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
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
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
const claimsSchema = "claims-1"

func (claimsModel) name() string   { return Claims }
func (claimsModel) schema() string { return claimsSchema }

func claimsTable(gen int64) string { return fmt.Sprintf("claims_g%d", gen) }

func (claimsModel) tables(gen int64) []string { return []string{claimsTable(gen)} }

// create lays out the table. Times are Unix nanoseconds (UTC), so that they
// order and compare as numbers. The email column compares case-insensitively,
// as people type addresses. Each search filter has an index; the ones that
// end in (updated_at, id) also serve the pagination order.
func (claimsModel) create(gen int64) []string {
	t := claimsTable(gen)
	return []string{
		`CREATE TABLE ` + t + ` (
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
			state            BLOB    NOT NULL
		) STRICT`,
		`CREATE INDEX ` + t + `_number ON ` + t + ` (number)`,
		`CREATE INDEX ` + t + `_serial ON ` + t + ` (product_serial)`,
		`CREATE INDEX ` + t + `_imei ON ` + t + ` (product_imei)`,
		`CREATE INDEX ` + t + `_phone ON ` + t + ` (customer_phone)`,
		`CREATE INDEX ` + t + `_email ON ` + t + ` (customer_email)`,
		`CREATE INDEX ` + t + `_status ON ` + t + ` (status, updated_at, id)`,
		`CREATE INDEX ` + t + `_updated ON ` + t + ` (updated_at, id)`,
	}
}

// claimEntry is a claim folded up to (not including) revision next.
type claimEntry struct {
	state    domain.State
	next     uint64
	position eventstore.Position
}

// claimTables writes and reads one generation of the claims model.
type claimTables struct {
	table string
	cache *cache[claimEntry]

	load   *sql.Stmt // writer: a claim's stored state
	upsert *sql.Stmt // writer
	get    *sql.Stmt // reader: Claim

	touched []string
	seen    map[string]bool
}

func (claimsModel) open(ctx context.Context, db *database, store eventstore.Store, gen int64, cacheSize int) (tableSet, error) {
	t := &claimTables{table: claimsTable(gen), cache: newCache[claimEntry](cacheSize), seen: make(map[string]bool)}
	var err error
	prepare := func(db *sql.DB, query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.PrepareContext(ctx, query)
		return s
	}
	t.load = prepare(db.w, `SELECT revision, state FROM `+t.table+` WHERE id = ?`)
	t.upsert = prepare(db.w, `INSERT INTO `+t.table+` (id, number, status, customer_name, customer_phone,
		customer_email, product_category, product_sku, product_serial, product_imei, registered_at,
		updated_at, version, revision, commit_pos, prepare_pos, next_action, allowed_actions, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET number = excluded.number, status = excluded.status,
		customer_name = excluded.customer_name, customer_phone = excluded.customer_phone,
		customer_email = excluded.customer_email, product_category = excluded.product_category,
		product_sku = excluded.product_sku, product_serial = excluded.product_serial,
		product_imei = excluded.product_imei, registered_at = excluded.registered_at,
		updated_at = excluded.updated_at, version = excluded.version, revision = excluded.revision,
		commit_pos = excluded.commit_pos, prepare_pos = excluded.prepare_pos,
		next_action = excluded.next_action, allowed_actions = excluded.allowed_actions,
		state = excluded.state`)
	t.get = prepare(db.r, `SELECT state, commit_pos, prepare_pos, next_action FROM `+t.table+` WHERE id = ?`)
	if err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// apply folds each event onto its claim's state (cached, else its stored
// row) with domain.Evolve, and writes each touched claim's
// row once per batch: a rebuild writes a claim once per batch, not once per
// event.
func (t *claimTables) apply(ctx context.Context, tx *sql.Tx, items []item) error {
	t.touched = t.touched[:0]
	clear(t.seen)
	for _, it := range items {
		key := it.rec.Stream
		cur, ok := t.cache.get(key)
		if !ok || cur.next != it.rec.Revision {
			var err error
			if cur, err = t.loadEntry(ctx, tx, it.rec); err != nil {
				return eventError(Claims, it.rec, err)
			}
		}
		if it.err != nil {
			return eventError(Claims, it.rec, it.err)
		}
		cur.state = domain.Evolve(cur.state, it.event)
		cur.next = it.rec.Revision + 1
		cur.position = it.rec.Position
		t.cache.stage(key, cur)
		if !t.seen[key] {
			t.seen[key] = true
			t.touched = append(t.touched, key)
		}
	}
	upsert := tx.StmtContext(ctx, t.upsert)
	for _, key := range t.touched {
		cur, _ := t.cache.get(key)
		if err := t.write(ctx, upsert, key, cur); err != nil {
			return err
		}
	}
	return nil
}

func (t *claimTables) write(ctx context.Context, upsert *sql.Stmt, stream string, e claimEntry) error {
	s := e.state
	if !s.Exists() {
		return nil // events without a registration: nothing a query could show
	}
	state, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("projections: claims: encode %s: %w", stream, err)
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
	_, err = upsert.ExecContext(ctx,
		strings.TrimPrefix(stream, ledger.ClaimStreamPrefix), s.Number, string(s.Status),
		s.Customer.Name, s.Customer.Phone, s.Customer.Email,
		s.Product.Category, s.Product.SKU, s.Product.Serial, s.Product.IMEI,
		s.RegisteredAt.UnixNano(), s.UpdatedAt.UnixNano(), s.Version, int64(e.next-1), c, p,
		string(nextAction(s.Status, allowed)), string(allowedJSON), state)
	if err != nil {
		return fmt.Errorf("projections: claims: write %s: %w", stream, err)
	}
	return nil
}

// loadEntry finds the state a claim had before rec: nothing for its first
// event, else its stored row, which must be exactly one revision behind.
// Anything else means the read model missed events; it is reported (and the
// projection stops, naming the event) rather than patched over, because a
// silent repair would also hide the bug that lost them.
func (t *claimTables) loadEntry(ctx context.Context, tx *sql.Tx, rec eventstore.RecordedEvent) (claimEntry, error) {
	if rec.Revision == 0 {
		return claimEntry{}, nil
	}
	var (
		revision int64
		state    []byte
	)
	err := tx.StmtContext(ctx, t.load).QueryRowContext(ctx, strings.TrimPrefix(rec.Stream, ledger.ClaimStreamPrefix)).Scan(&revision, &state)
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
	return claimEntry{state: s, next: rec.Revision}, nil
}

func (t *claimTables) commit()  { t.cache.commit() }
func (t *claimTables) discard() { t.cache.discard() }

func (t *claimTables) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{t.load, t.upsert, t.get} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
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
