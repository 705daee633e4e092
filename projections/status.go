package projections

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// StatusView is everything the public status page may show about a claim,
// and everything the status read model stores: the claim's number, where it
// stands and what happens next, the customer-visible steps with their
// dates, customer notes, where to ship, tracking numbers, and the customer's
// own estimate. Internal notes, staff names, payments, refunds and the
// customer's personal data are never written here, so no query of this
// model can leak them. Even the phone is kept only as a hash with the
// number.
type StatusView struct {
	Number   string        `json:"number"`
	Status   domain.Status `json:"status"`
	NextStep string        `json:"next_step"`
	// NextStepDue is when the next step is due, where an SLA clock says so.
	// Nothing sets it yet: it is the place for the SLA timers' deadline, and
	// the page shows "by <date>" whenever it is present.
	NextStepDue  *time.Time   `json:"next_step_due,omitempty"`
	RegisteredAt time.Time    `json:"registered_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
	Timeline     []StatusStep `json:"timeline"`
	Notes        []StatusNote `json:"notes,omitempty"`
	// ShipTo and DocumentsRequested are the authorization's instructions.
	ShipTo             *domain.ServiceCenter `json:"ship_to,omitempty"`
	DocumentsRequested []string              `json:"documents_requested,omitempty"`
	// DocumentsOutstanding are the requested documents not yet received,
	// while the claim is open and not resolved (they are received until
	// then).
	DocumentsOutstanding []string `json:"documents_outstanding,omitempty"`
	// ManufacturerServiceCenter is where a redirected claim must go first.
	ManufacturerServiceCenter *domain.ServiceCenter `json:"manufacturer_service_center,omitempty"`
	CustomerShipment          *StatusShipment       `json:"customer_shipment,omitempty"`
	ReturnShipment            *StatusShipment       `json:"return_shipment,omitempty"`
	Estimate                  *StatusEstimate       `json:"estimate,omitempty"`
	Resolution                string                `json:"resolution,omitempty"`
}

// StatusStep is one customer-visible step: a stable code the page
// translates, the status it led to and when.
type StatusStep struct {
	Step   string        `json:"step"`
	Status domain.Status `json:"status"`
	At     time.Time     `json:"at"`
}

// StatusNote is a note written for the customer.
type StatusNote struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// StatusShipment is a parcel's carrier and tracking number.
type StatusShipment struct {
	Carrier        string    `json:"carrier"`
	TrackingNumber string    `json:"tracking_number,omitempty"`
	ShippedAt      time.Time `json:"shipped_at"`
}

// StatusEstimate is the quote the customer is asked to accept: the only
// money the page shows.
type StatusEstimate struct {
	DamageLevel int          `json:"damage_level"`
	Parts       domain.Money `json:"parts"`
	Labour      domain.Money `json:"labour"`
	Shipping    domain.Money `json:"shipping"`
	Total       domain.Money `json:"total"`
	Description string       `json:"description,omitempty"`
	IssuedAt    time.Time    `json:"issued_at"`
	Decision    string       `json:"decision,omitempty"`
}

// statusSteps lists the events the customer sees as steps, by stored name,
// with the step's code. It is an allow-list: an event type added later
// stays off the public page until someone decides it belongs there. Notes
// are not steps (customer notes are listed apart).
var statusSteps = map[string]string{
	domain.ClaimRegistered{}.EventType():                "registered",
	domain.ClaimRedirectedToServiceCenter{}.EventType(): "redirected_to_service_center",
	domain.ServiceCenterActRecorded{}.EventType():       "service_center_act_recorded",
	domain.ClaimAuthorized{}.EventType():                "authorized",
	domain.ClaimRejected{}.EventType():                  "rejected",
	domain.DocumentsReceived{}.EventType():              "documents_received",
	domain.CustomerShipmentRecorded{}.EventType():       "shipped_by_customer",
	domain.ClaimReceived{}.EventType():                  "received",
	domain.ClaimDiagnosed{}.EventType():                 "diagnosed",
	domain.EstimateIssued{}.EventType():                 "estimate_issued",
	domain.EstimateAccepted{}.EventType():               "estimate_accepted",
	domain.EstimateDeclined{}.EventType():               "estimate_declined",
	domain.PaymentRecorded{}.EventType():                "payment_received",
	domain.RepairStarted{}.EventType():                  "repair_started",
	domain.RepairCompleted{}.EventType():                "repaired",
	domain.ItemReplaced{}.EventType():                   "replaced",
	domain.RefundApproved{}.EventType():                 "refund_approved",
	domain.RefundPaid{}.EventType():                     "refund_paid",
	domain.CreditNoteIssued{}.EventType():               "credit_note_issued",
	domain.ClaimReturnedUnrepaired{}.EventType():        "returned_unrepaired",
	domain.ClaimResolvedRemotely{}.EventType():          "resolved_remotely",
	domain.ReturnShipped{}.EventType():                  "return_shipped",
	domain.DeliveryConfirmed{}.EventType():              "delivered",
	domain.DisputeOpened{}.EventType():                  "appeal_opened",
	domain.DisputeResolved{}.EventType():                "appeal_resolved",
	domain.ClaimPutOnHold{}.EventType():                 "on_hold",
	domain.ClaimReleasedFromHold{}.EventType():          "hold_released",
	domain.ClaimWithdrawn{}.EventType():                 "withdrawn",
	domain.ClaimClosed{}.EventType():                    "closed",
}

// nextSteps says, per status, what the customer should expect or do next,
// as a code the page translates.
var nextSteps = map[domain.Status]string{
	domain.StatusRegistered:       "awaiting_review",
	domain.StatusRedirected:       "contact_manufacturer_service_center",
	domain.StatusAuthorized:       "ship_item",
	domain.StatusRejected:         "none",
	domain.StatusInTransit:        "awaiting_arrival",
	domain.StatusReceived:         "awaiting_diagnosis",
	domain.StatusDiagnosed:        "awaiting_decision",
	domain.StatusEstimateIssued:   "accept_or_decline_estimate",
	domain.StatusEstimateAccepted: "pay_estimate",
	domain.StatusPaid:             "awaiting_repair",
	domain.StatusInRepair:         "awaiting_repair_completion",
	domain.StatusResolved:         "awaiting_return",
	domain.StatusReturnShipped:    "receive_parcel",
	domain.StatusDelivered:        "none",
	domain.StatusDisputed:         "awaiting_second_review",
	domain.StatusOnHold:           "contact_service",
	domain.StatusClosed:           "none",
}

// statusModel is the "status" read model behind the public status page.
type statusModel struct {
	// book is the deployment's policy, for the SLA clocks behind "expected
	// by"; nil means the embedded default.
	book *domain.PolicyBook
}

const statusSchema = "status-3" // 2: phone candidates, next_step_due; 3: documents outstanding, send_documents, decision cycles

func (statusModel) name() string   { return StatusPage }
func (statusModel) schema() string { return statusSchema }

// claimLocal: a claim's view is a fold of its own events.
func (statusModel) claimLocal() {}

func statusTable(gen int64) string { return fmt.Sprintf("claim_status_g%d", gen) }

func (statusModel) tables(gen int64) []string { return []string{statusTable(gen)} }

func (statusModel) indexes(int64) []string { return nil }

func (statusModel) create(gen int64) []string {
	return []string{`CREATE TABLE ` + statusTable(gen) + ` (
		number     TEXT PRIMARY KEY,
		phone_hash BLOB NOT NULL,
		status     TEXT NOT NULL,
		view       BLOB NOT NULL
	) STRICT`}
}

// statusEntry is a claim folded up to (not including) revision next, with
// the customer-visible steps so far. The state is the working copy the
// view is derived from; it lives only in memory, never in this model's
// table.
type statusEntry struct {
	state    domain.State
	timeline []StatusStep
	next     uint64
	// book, policy and clocks give "expected by": the claim's SLA clocks
	// under the policy version that governs it, as the timers model keeps them.
	book   *domain.PolicyBook
	policy domain.Policy
	clocks domain.Clocks
}

func (e statusEntry) advance(it item) statusEntry {
	e.apply(it, true)
	return e
}

// apply folds the event into e. A timeline that other entries may share is
// copied before it grows (shared), so that they keep theirs.
func (e *statusEntry) apply(it item, shared bool) {
	e.state = domain.Evolve(e.state, it.event)
	if it.rec.Revision == 0 {
		meta, _ := eventlog.DecodeMetadata(it.rec.Metadata) // unreadable: the version in force then
		e.policy = e.book.Governing(meta.PolicyVersion, e.state.RegisteredAt, e.state.RegisteredAt)
		e.clocks = nil
	}
	e.clocks = domain.EvolveClocks(e.clocks, e.state, it.event, e.policy)
	if step, ok := statusSteps[it.event.EventType()]; ok {
		timeline := e.timeline
		if shared {
			timeline = slices.Clip(timeline)
		}
		e.timeline = append(timeline, StatusStep{Step: step, Status: e.state.Status, At: e.state.UpdatedAt})
	}
	e.next = it.rec.Revision + 1
}

type statusTables struct {
	table string
	store eventstore.Store
	book  *domain.PolicyBook
	cache *cache[statusEntry]
	rows  []statusRow // encoded, waiting for flush

	upsert *sql.Stmt // writer
	get    *sql.Stmt // reader
}

// statusRow is a claim's public view, encoded.
type statusRow struct {
	number, status string
	phoneHash      []byte
	view           []byte
}

func (m statusModel) open(ctx context.Context, db *database, store eventstore.Store, gen int64, cacheSize int) (tableSet, error) {
	t := &statusTables{table: statusTable(gen), store: store, book: timersModel{book: m.book}.policies(), cache: newCache[statusEntry](cacheSize)}
	var err error
	if t.upsert, err = db.w.PrepareContext(ctx, `INSERT INTO `+t.table+` (number, phone_hash, status, view)
		VALUES (?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET phone_hash = excluded.phone_hash,
		status = excluded.status, view = excluded.view`); err != nil {
		return nil, err
	}
	if t.get, err = db.r.PrepareContext(ctx, `SELECT phone_hash, view FROM `+t.table+` WHERE number = ?`); err != nil {
		t.upsert.Close()
		return nil, err
	}
	return t, nil
}

// fold folds the events like the claims model does. Since this model
// stores no state, a claim missing from the cache (after a restart, or
// evicted) is folded again from its stream in the store: the timeline is a
// function of the stream, so the result is the same.
func (t *statusTables) fold(ctx context.Context, items []item) error {
	t.cache.folded()
	for _, it := range items {
		key := it.rec.Stream
		prev, ok := t.cache.get(key)
		if !ok || prev.next != it.rec.Revision {
			history, err := readStream(ctx, t.store, key, it.rec.Revision)
			if err != nil {
				return eventError(StatusPage, it.rec, err)
			}
			e := statusEntry{book: t.book}
			for _, h := range history {
				e = e.advance(h)
			}
			prev = &e
		}
		if it.err != nil {
			return eventError(StatusPage, it.rec, it.err)
		}
		if ok && t.cache.inPlace {
			prev.apply(it, false)
			t.cache.fold(key, prev)
			continue
		}
		next := prev.advance(it)
		t.cache.fold(key, &next)
	}
	return nil
}

func (t *statusTables) foldInPlace(on bool) { t.cache.inPlace = on }

// encode turns each chosen dirty claim into its public view.
func (t *statusTables) encode(n int) error {
	t.rows = t.rows[:0]
	for _, key := range t.cache.toFlush(n) {
		cur, _ := t.cache.get(key)
		s := cur.state
		if !s.Exists() {
			continue
		}
		v := statusView(cur)
		view, err := json.Marshal(&v) // a pointer: boxing the view would copy it
		if err != nil {
			return fmt.Errorf("projections: status: encode %s: %w", key, err)
		}
		hash := phoneHash(s.Number, s.Customer.Phone)
		t.rows = append(t.rows, statusRow{number: s.Number, status: string(s.Status), phoneHash: hash[:], view: view})
	}
	return nil
}

// flush writes the encoded views.
func (t *statusTables) flush(ctx context.Context, tx *sql.Tx) error {
	upsert := tx.StmtContext(ctx, t.upsert)
	for _, r := range t.rows {
		if _, err := upsert.ExecContext(ctx, r.number, r.phoneHash, r.status, r.view); err != nil {
			return fmt.Errorf("projections: status: write %s: %w", r.number, err)
		}
	}
	return nil
}

func (t *statusTables) boundCache(n int) { t.cache.max = n }

func (t *statusTables) dirty() int { return len(t.cache.dirty) }

// statusView copies the public parts of a claim, field by field: a new
// field in domain.State reaches the page only if it is added here.
func statusView(e *statusEntry) StatusView {
	s := e.state
	v := StatusView{
		Number:       s.Number,
		Status:       s.Status,
		NextStep:     nextStep(s, e.policy),
		RegisteredAt: s.RegisteredAt,
		UpdatedAt:    s.UpdatedAt,
		Timeline:     e.timeline,
		NextStepDue:  nextStepDue(e.clocks),
	}
	if v.Timeline == nil {
		// "[]", not null: the JSON route sends the stored view as it is.
		// (A claim that exists has its registration step, so this is a
		// guard, not a case.)
		v.Timeline = []StatusStep{}
	}
	for _, n := range s.Notes {
		if n.Visibility == domain.VisibilityCustomer {
			v.Notes = append(v.Notes, StatusNote{Text: n.Text, At: n.AddedAt})
		}
	}
	if a := s.Authorization; a != nil {
		sc := a.ServiceCenter
		v.ShipTo = &sc
		v.DocumentsRequested = a.DocumentsRequested
		if s.Resolution == nil && s.Status != domain.StatusClosed && s.Status != domain.StatusRejected {
			v.DocumentsOutstanding = s.DocumentsOutstanding()
		}
	}
	if r := s.ServiceCenter; r != nil {
		sc := r.ServiceCenter
		v.ManufacturerServiceCenter = &sc
	}
	if sh := s.CustomerShipment; sh != nil {
		v.CustomerShipment = &StatusShipment{Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber, ShippedAt: sh.ShippedAt}
	}
	if sh := s.ReturnShipment; sh != nil {
		v.ReturnShipment = &StatusShipment{Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber, ShippedAt: sh.ShippedAt}
	}
	if est := s.Estimate; est != nil {
		v.Estimate = &StatusEstimate{
			DamageLevel: est.DamageLevel, Parts: est.Parts, Labour: est.Labour, Shipping: est.Shipping,
			Total: est.Total, Description: est.Description, IssuedAt: est.IssuedAt, Decision: est.Decision,
		}
	}
	if r := s.Resolution; r != nil {
		v.Resolution = r.Kind
	}
	return v
}

// phoneHash binds the phone to the claim number, so that the table holds no
// phone numbers and a lookup must know both. It returns an array, not a
// slice, so that a lookup hashing every candidate allocates nothing.
func phoneHash(number, phone string) [sha256.Size]byte {
	return sha256.Sum256([]byte(number + "\x00" + phone))
}

func (t *statusTables) settle() { t.cache.settle() }
func (t *statusTables) clean()  { t.cache.clean() }
func (t *statusTables) discard() {
	t.cache.discard()
	t.rows = t.rows[:0]
}

func (t *statusTables) close() error {
	return errors.Join(t.upsert.Close(), t.get.Close())
}

// statusQueries answers the status page.
type statusQueries struct{ p *projection }

// StatusLookupJSON is StatusLookup's answer as this model stores it: the
// StatusView encoded as JSON, ready to send. The partners' JSON route
// writes these bytes as they are, which spares it decoding the view only
// to encode it again (reflection that cost more than the query). The
// failures are StatusLookup's.
func (r *Runner) StatusLookupJSON(ctx context.Context, number, phone string) ([]byte, error) {
	return r.status.find(ctx, number, phone)
}

// lookup finds a claim by number and phone and decodes its view.
func (q *statusQueries) lookup(ctx context.Context, number, phone string) (StatusView, error) {
	view, err := q.find(ctx, number, phone)
	if err != nil {
		return StatusView{}, err
	}
	var v StatusView
	if err := json.Unmarshal(view, &v); err != nil {
		return StatusView{}, fmt.Errorf("projections: status lookup: decode: %w", err)
	}
	return v, nil
}

// find finds a claim by number and phone and returns its stored view. A
// wrong phone, an unknown number and a phone that does not parse all answer
// ErrNotFound, so the page cannot be used to learn which numbers exist. The
// phone may be typed in any of the forms domain.PhoneCandidates forgives;
// every candidate is hashed and compared in constant time, and an unknown
// number is compared against a hash no phone has, so that both failures
// cost the same work.
func (q *statusQueries) find(ctx context.Context, number, phone string) ([]byte, error) {
	number = strings.ToUpper(strings.TrimSpace(number))
	candidates := domain.PhoneCandidates(phone)
	if number == "" || len(candidates) == 0 {
		return nil, ErrNotFound
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g, release := q.p.acquire()
	defer release()
	t := g.tables.(*statusTables)
	var (
		hash []byte
		view []byte
	)
	// The query runs without ctx's cancellation (see uninterruptible): a
	// read by primary key takes microseconds, while a cancellable context
	// costs two goroutines per query (database/sql's and the driver's, each
	// waiting to interrupt it), which at a thousand lookups a second cost
	// more than the reads.
	err := t.get.QueryRowContext(uninterruptible(ctx), number).Scan(&hash, &view)
	found := err == nil
	switch {
	case errors.Is(err, sql.ErrNoRows):
		hash = noPhoneHash[:]
	case err != nil:
		return nil, fmt.Errorf("projections: status lookup: %w", err)
	}
	match := 0
	for _, c := range candidates {
		sum := phoneHash(number, c)
		match |= subtle.ConstantTimeCompare(hash, sum[:])
	}
	if !found || match != 1 {
		return nil, ErrNotFound
	}
	return view, nil
}

// noPhoneHash stands in for the stored hash of an unknown number: all zeros,
// which no SHA-256 of a number and phone is.
var noPhoneHash [sha256.Size]byte

// StepCodes lists the codes StatusStep.Step takes, so that the status page can
// prove it translates every one.
func StepCodes() []string {
	codes := slices.Collect(maps.Values(statusSteps))
	slices.Sort(codes)
	return slices.Compact(codes)
}

// nextStepSendDocuments asks an authorized customer for the requested
// documents before the goods, under a policy that checks them first.
const nextStepSendDocuments = "send_documents"

// nextStep is what the customer should expect or do next.
func nextStep(s domain.State, p domain.Policy) string {
	goodsAwaited := s.Status == domain.StatusAuthorized || (s.Status == domain.StatusPaid && s.Intake == nil)
	switch {
	case goodsAwaited && p.DocumentsBeforeShipment && len(s.DocumentsOutstanding()) > 0:
		return nextStepSendDocuments
	case s.Status == domain.StatusPaid && s.Intake == nil:
		return nextSteps[domain.StatusAuthorized] // an estimate paid before the goods travel: send them
	case s.Status == domain.StatusResolved && s.Resolution != nil && s.Resolution.Kind == domain.ResolutionResolvedRemotely:
		return nextSteps[domain.StatusDelivered] // fixed without the goods: nothing comes back
	}
	return nextSteps[s.Status]
}

// NextStepCodes lists the codes StatusView.NextStep takes, for the same reason.
func NextStepCodes() []string {
	codes := append(slices.Collect(maps.Values(nextSteps)), nextStepSendDocuments)
	slices.Sort(codes)
	return slices.Compact(codes)
}

// nextStepDue is when the customer may expect the next step: the earliest
// due time of the claim's running SLA clocks. The 45-day hard limit is the
// service's own escalation line, not a promise to the customer, so it is
// left out; a paused clock (waiting on the customer) promises nothing.
func nextStepDue(clocks domain.Clocks) *time.Time {
	var due *time.Time
	for _, c := range clocks {
		if c.Status != domain.ClockRunning || c.Name == domain.ClockRepairHardLimit || c.DueAt.IsZero() {
			continue
		}
		if due == nil || c.DueAt.Before(*due) {
			at := c.DueAt
			due = &at
		}
	}
	return due
}
