package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/feed"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/storage"
)

// linkIssuedType is the stored name of a portal link's issue (portal/links).
const linkIssuedType = "portal.link_issued.v1"

// Streams selects the streams the outbox follows: the claims, the
// portal's private links (a claim's language) and the customers' choices
// of messages.
var Streams = eventstore.Filter{StreamPrefixes: []string{eventlog.Claims.Prefix(), eventlog.PortalLinks.Prefix(), eventlog.NotifyPreferences.Prefix()}}

// maxBatch bounds the events applied in one transaction.
const maxBatch = 256

// retryDelay is the pause before the projection tries again after a failure.
const retryDelay = time.Second

// runProjection brings the outbox up to date with the log, then follows
// it, until ctx ends. A failure (a composer's error, a full disk) stops it
// at the event at fault and it tries again from its checkpoint.
func (o *Outbox) runProjection(ctx context.Context) {
	for ctx.Err() == nil {
		err := o.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		o.setProjErr(err)
		o.log.Error("outbox projection stopped; trying again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryDelay):
		}
	}
}

func (o *Outbox) setProjErr(err error) {
	o.mu.Lock()
	o.projErr = err
	o.mu.Unlock()
}

// follow catches up, then applies the subscription's events as they come,
// several per transaction when they pile up.
func (o *Outbox) follow(ctx context.Context) error {
	if err := o.catchUp(ctx); err != nil {
		return err
	}
	o.mu.Lock()
	o.caughtUp, o.projErr = true, nil
	after := o.checkpoint
	o.mu.Unlock()
	tap, err := o.live.Join(after, Streams)
	if err != nil {
		return fmt.Errorf("outbox: follow the log: %w", err)
	}
	defer tap.Leave()
	for {
		batch, err := tap.Take(ctx, nil, o.batch)
		if err != nil {
			return fmt.Errorf("outbox: follow the log: %w", err)
		}
		if batch == nil {
			return nil // ctx ended
		}
		if err := o.apply(ctx, batch, true, true); err != nil {
			return err
		}
	}
}

// catchUp applies what the log holds after the checkpoint. A new outbox
// learns the claims from the whole log without composing anything, unless
// FromStart: notifications turned on do not mail the history. It composes
// from the end of the log as it found it, even when the learning was
// interrupted and resumed.
func (o *Outbox) catchUp(ctx context.Context) error {
	after, ok, composing, err := o.loadCheckpoint(ctx)
	if err != nil {
		return err
	}
	compose := composing || (!ok && o.cfg.FromStart)
	for {
		recs, err := o.store.ReadAll(ctx, after, o.batch, Streams)
		if err != nil {
			return fmt.Errorf("outbox: read the log: %w", err)
		}
		if len(recs) > 0 {
			events := make([]feed.Item, len(recs))
			for i, rec := range recs {
				events[i] = feed.Item{Record: rec}
			}
			if err := o.apply(ctx, events, compose, false); err != nil {
				return err
			}
			after = recs[len(recs)-1].Position
		}
		if len(recs) < o.batch {
			if !compose {
				// The end of the history: compose from here on.
				return o.apply(ctx, nil, false, true)
			}
			return nil
		}
	}
}

// apply folds events into the claims table and queues the messages they
// cause, with the checkpoint, in one transaction. The events are folded
// and composed first, outside it: the senders share the outbox's one
// database connection, and must not wait behind the composing.
func (o *Outbox) apply(ctx context.Context, events []feed.Item, compose, composeNext bool) error {
	now := o.now()
	b := &batch{staged: map[uuid.UUID]folded{}, prefs: map[uuid.UUID]*prefs{}}
	for _, it := range events {
		ev := it.Record
		if err := o.applyOne(ctx, b, it, compose); err != nil {
			// Evolve may have reused a cached state's memory: fold afresh.
			o.states.Purge()
			return fmt.Errorf("outbox: event %s of %s (%s): %w", ev.ID, ev.Stream, ev.Type, err)
		}
	}
	staged := b.staged
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		o.states.Purge()
		return fmt.Errorf("outbox: begin: %w", storage.Fault(err))
	}
	defer tx.Rollback()
	queued, err := b.write(ctx, tx, o, now)
	if err != nil {
		o.states.Purge()
		return fmt.Errorf("outbox: %w", err)
	}
	erasures := len(b.erasures)
	o.mu.Lock()
	pos := o.checkpoint
	o.mu.Unlock()
	if len(events) > 0 {
		pos = events[len(events)-1].Record.Position
	}
	if err := o.saveCheckpoint(ctx, tx, pos, compose || composeNext); err != nil {
		return fmt.Errorf("outbox: save checkpoint: %w", storage.Fault(err))
	}
	if err := tx.Commit(); err != nil {
		o.states.Purge()
		return fmt.Errorf("outbox: commit: %w", storage.Fault(err))
	}
	for id, f := range staged {
		o.states.Add(id, f)
	}
	for id, p := range b.prefs {
		o.prefs.Add(id, *p)
	}
	o.mu.Lock()
	o.checkpoint = pos
	o.mu.Unlock()
	o.m.queued(queued)
	if len(queued) > 0 {
		o.signal()
	}
	if erasures > 0 {
		// The erased data's old pages are still in the write-ahead log
		// until it is checkpointed and cut.
		if _, err := o.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			o.log.Warn("outbox cannot cut its write-ahead log after an erasure", "err", err)
		}
	}
	return nil
}

// folded is a claim's state folded through the event at revision.
type folded struct {
	state    domain.State
	revision uint64
}

// stateCacheSize bounds the claims' states kept between batches (a few KB
// each); a claim not among them is folded again from its stream.
const stateCacheSize = 1024

// batch is what a batch of events changes, written in one transaction.
type batch struct {
	staged    map[uuid.UUID]folded
	prefs     map[uuid.UUID]*prefs // the claims whose language or quiet changed
	messages  []notify.Message
	erasures  []string // customers, in log order
	prefOrder []uuid.UUID
}

// prefs is what the outbox keeps of a claim besides its state.
type prefs struct {
	language string
	quiet    bool
}

// preferences is the claim's language and quiet: as this batch changed
// them, else as stored.
func (o *Outbox) preferences(ctx context.Context, b *batch, id uuid.UUID, change bool) (*prefs, error) {
	if p, ok := b.prefs[id]; ok {
		return p, nil
	}
	cached, ok := o.prefs.Get(id)
	if !ok {
		language, quiet, err := o.loadPreferences(ctx, nil, id)
		if err != nil {
			return nil, err
		}
		cached = prefs{language: language, quiet: quiet}
		o.prefs.Add(id, cached)
	}
	p := &cached
	if change {
		b.prefs[id] = p
		b.prefOrder = append(b.prefOrder, id)
	}
	return p, nil
}

const upsertClaimSQL = `INSERT INTO claims (id, language, quiet) VALUES (?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET language = excluded.language, quiet = excluded.quiet`

// write stores the batch: the claims' preferences, the messages, then the
// erasures, which blank the messages of their customers queued before.
func (b *batch) write(ctx context.Context, tx *sql.Tx, o *Outbox, now time.Time) (map[notify.Channel]int, error) {
	for _, id := range b.prefOrder {
		p := b.prefs[id]
		if _, err := o.exec(ctx, tx, upsertClaimSQL, id.String(), p.language, p.quiet); err != nil {
			return nil, storage.Fault(err)
		}
	}
	queued := map[notify.Channel]int{}
	for _, m := range b.messages {
		n, err := o.insert(ctx, tx, m, now)
		if err != nil {
			return nil, err
		}
		queued[m.Channel] += n
	}
	for _, customer := range b.erasures {
		if err := eraseCustomer(ctx, tx, customer); err != nil {
			return nil, err
		}
	}
	return queued, nil
}

// applyOne folds one event into the batch. A claim event comes decoded
// when the feed decodes claim events; otherwise it is decoded here.
func (o *Outbox) applyOne(ctx context.Context, b *batch, it feed.Item, compose bool) error {
	ev := it.Record
	switch {
	case eventlog.PortalLinks.Holds(ev.Stream):
		id, err := eventlog.PortalLinks.ID(ev.Stream)
		if err != nil || ev.Type != linkIssuedType {
			return nil
		}
		var issued struct {
			Language string `json:"language"`
		}
		if err := json.Unmarshal(ev.Data, &issued); err != nil {
			return err
		}
		p, err := o.preferences(ctx, b, id, true)
		if err != nil {
			return err
		}
		p.language = issued.Language
		return nil
	case eventlog.NotifyPreferences.Holds(ev.Stream):
		id, err := eventlog.NotifyPreferences.ID(ev.Stream)
		if err != nil || ev.Type != notify.PreferencesSetType {
			return nil
		}
		var chosen notify.Preferences
		if err := json.Unmarshal(ev.Data, &chosen); err != nil {
			return err
		}
		p, err := o.preferences(ctx, b, id, true)
		if err != nil {
			return err
		}
		p.quiet = chosen.Quiet
		return nil
	case eventlog.Claims.Holds(ev.Stream):
	default:
		return nil
	}
	id, err := eventlog.Claims.ID(ev.Stream)
	if err != nil {
		return nil // not a claim's own stream
	}
	erased := ev.Type == (domain.PersonalDataErased{}).EventType()
	if !compose && !erased {
		return nil // learning the history: nothing is composed from it
	}
	e, err := it.Event, it.Err
	if e == nil && err == nil {
		e, err = domain.DecodeEvent(ev.Type, ev.Data)
	}
	if errors.Is(err, domain.ErrUnknownEventType) {
		o.log.Warn("outbox skips an event of an unknown type", "type", ev.Type, "stream", ev.Stream)
		return nil
	}
	if err != nil {
		return err
	}
	before, err := o.stateBefore(ctx, b.staged, id, ev)
	if err != nil {
		return err
	}
	state := domain.Evolve(before, e)
	b.staged[id] = folded{state: state, revision: ev.Revision}
	p, err := o.preferences(ctx, b, id, false)
	if err != nil {
		return err
	}
	claim := claimOf(id, state, p.language, p.quiet)
	if compose {
		ne := notify.Event{Record: ev, Event: e, Claim: claim}
		for _, c := range o.cfg.Composers {
			ms, err := c.Compose(ctx, ne)
			if err != nil {
				return fmt.Errorf("compose: %w", err)
			}
			for _, m := range ms {
				m.Position, m.EventTime = ev.Position, ev.Created
				if m.ClaimID == uuid.Nil {
					m.ClaimID = id
				}
				if m.CustomerID == "" && toCustomer(m.Channel) {
					m.CustomerID = claim.CustomerID
				}
				if claim.Quiet && !m.Essential && toCustomer(m.Channel) {
					continue
				}
				b.messages = append(b.messages, m)
			}
		}
	}
	if erasure, ok := e.(domain.PersonalDataErased); ok {
		customer := erasure.CustomerID
		if customer == "" {
			customer = claim.CustomerID
		}
		if customer != "" {
			b.erasures = append(b.erasures, customer)
		}
	}
	return nil
}

// stateBefore is the claim's state before ev: folded in this batch, or
// kept from an earlier one, else folded again from the claim's stream in
// the store (through the revision before ev's, whatever came after).
func (o *Outbox) stateBefore(ctx context.Context, staged map[uuid.UUID]folded, id uuid.UUID, ev eventstore.RecordedEvent) (domain.State, error) {
	if ev.Revision == 0 {
		return domain.State{}, nil
	}
	if f, ok := staged[id]; ok && f.revision+1 == ev.Revision {
		return f.state, nil
	}
	if f, ok := o.states.Get(id); ok && f.revision+1 == ev.Revision {
		return f.state, nil
	}
	records, err := o.store.ReadStream(ctx, ev.Stream, eventstore.Forwards, 0, int(ev.Revision))
	if err != nil {
		return domain.State{}, fmt.Errorf("read the claim's stream: %w", err)
	}
	var state domain.State
	for _, r := range records {
		if r.Revision >= ev.Revision {
			break
		}
		e, err := domain.DecodeEvent(r.Type, r.Data)
		if errors.Is(err, domain.ErrUnknownEventType) {
			continue
		}
		if err != nil {
			return domain.State{}, fmt.Errorf("%s revision %d: %w", r.Stream, r.Revision, err)
		}
		state = domain.Evolve(state, e)
	}
	return state, nil
}

// toCustomer reports whether the channel's messages go to the claim's
// customer (whose choice of Quiet they follow).
func toCustomer(ch notify.Channel) bool { return ch == notify.Email || ch == notify.SMS }

const preferencesSQL = `SELECT language, quiet FROM claims WHERE id = ?`

// loadPreferences reads what the outbox keeps of a claim besides its
// state: the customer's language and whether they asked for quiet.
func (o *Outbox) loadPreferences(ctx context.Context, tx *sql.Tx, id uuid.UUID) (language string, quiet bool, err error) {
	err = o.queryRow(ctx, tx, preferencesSQL, id.String()).Scan(&language, &quiet)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return language, quiet, storage.Fault(err)
}

// claimOf is what composers are told of the claim.
func claimOf(id uuid.UUID, s domain.State, language string, quiet bool) notify.Claim {
	contact := func(v string) string {
		if s.PersonalDataErased || v == domain.Erased {
			return ""
		}
		return v
	}
	return notify.Claim{
		ID: id, Number: s.Number, Status: s.Status, Organisation: s.Organisation, Assignee: s.Assignee,
		CustomerID: s.CustomerID, Name: contact(s.Customer.Name), Email: contact(s.Customer.Email),
		Phone: contact(s.Customer.Phone), Language: language, Quiet: quiet, Erased: s.PersonalDataErased,
	}
}

const insertMessageSQL = `INSERT OR IGNORE INTO messages
	(id, channel, recipient, kind, claim_id, customer_id, order_key, essential, pos_commit, pos_prepare,
	 event_time, language, subject, text, html, body, status, queued_at, next_attempt)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`

// insert queues m unless a message of its id is queued already; it
// returns 1 when it queued it.
func (o *Outbox) insert(ctx context.Context, tx *sql.Tx, m notify.Message, now time.Time) (int, error) {
	if m.ID == uuid.Nil || m.Channel == "" || m.Recipient == "" {
		return 0, fmt.Errorf("message %q to %q on %q: id, channel and recipient are required", m.ID, m.Recipient, m.Channel)
	}
	due := now
	if _, ok := o.cfg.Senders[m.Channel].(notify.BatchSender); ok {
		due = now.Add(o.cfg.BatchWindow)
	}
	claimID := ""
	if m.ClaimID != uuid.Nil {
		claimID = m.ClaimID.String()
	}
	pc, pp := sqlPos(m.Position)
	res, err := o.exec(ctx, tx, insertMessageSQL,
		m.ID.String(), string(m.Channel), m.Recipient, m.Kind, claimID, m.CustomerID, m.OrderKey, m.Essential, pc, pp,
		nanos(m.EventTime), m.Language, m.Subject, m.Text, m.HTML, m.Body, nanos(now), nanos(due))
	if err != nil {
		return 0, storage.Fault(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// eraseCustomer blanks what the outbox holds of the customer: the claims'
// contact details (the fold already replaced them with domain.Erased), the
// addresses and content of their messages and the error texts of their
// attempts. Messages not yet sent become "erased" and are never sent.
func eraseCustomer(ctx context.Context, tx *sql.Tx, customer string) error {
	if customer == "" {
		return nil
	}
	stmts := []string{
		`UPDATE attempts SET error = '` + domain.Erased + `' WHERE message_id IN (SELECT id FROM messages WHERE customer_id = ?1)`,
		`UPDATE messages SET status = 'erased', last_error = '' WHERE customer_id = ?1 AND status IN ('pending', 'failed')`,
		`UPDATE messages SET subject = '', text = '', html = '', body = NULL, blanked = 1,
			recipient = CASE WHEN channel IN ('email', 'sms') THEN '` + domain.Erased + `' ELSE recipient END
			WHERE customer_id = ?1`,
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s, customer); err != nil {
			return storage.Fault(err)
		}
	}
	return nil
}

// Enqueue queues messages that no claim event causes (a private link the
// portal issues, a desk alert): they are durable when it returns, and a
// message whose id is queued already is left as it is. Non-essential
// messages to the customer of a claim that asked for quiet are dropped.
func (o *Outbox) Enqueue(ctx context.Context, ms ...notify.Message) error {
	// The one connection, with its commits fsynced while it queues: no
	// event in the log can queue these messages again.
	conn, err := o.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("outbox: %w", storage.Fault(err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return fmt.Errorf("outbox: %w", storage.Fault(err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox: begin: %w", storage.Fault(err))
	}
	defer tx.Rollback()
	now := o.now()
	queued := map[notify.Channel]int{}
	for _, m := range ms {
		if m.ClaimID != uuid.Nil && !m.Essential && toCustomer(m.Channel) {
			_, quiet, err := o.loadPreferences(ctx, tx, m.ClaimID)
			if err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			if quiet {
				continue
			}
		}
		n, err := o.insert(ctx, tx, m, now)
		if err != nil {
			return fmt.Errorf("outbox: enqueue: %w", err)
		}
		queued[m.Channel] += n
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("outbox: commit: %w", storage.Fault(err))
	}
	o.m.queued(queued)
	o.signal()
	return nil
}
