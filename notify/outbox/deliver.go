package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/storage"
)

// The events of the delivery streams (eventlog.DeliveryStream), one per
// message and round, in which instances claim the message before sending
// it and record that they sent it.
const (
	// ClaimedType: an instance claims the delivery until lease_until.
	ClaimedType = "notify.delivery_claimed.v1"
	// SentType: the claiming instance's Sender accepted the message.
	SentType = "notify.delivery_sent.v1"
	// FailedType: the claiming instance gave the message up.
	FailedType = "notify.delivery_failed.v1"
)

// The data of the delivery events. They hold no content, no address and
// no error text: the log keeps them forever, and they must not keep
// personal data.
type claimedData struct {
	Instance   string    `json:"instance"`
	LeaseUntil time.Time `json:"lease_until"`
}

type doneData struct {
	Instance string    `json:"instance"`
	At       time.Time `json:"at"`
}

// queued is a message in the queue.
type queued struct {
	notify.Message
	round        int
	attempts     int
	firstAttempt time.Time
	queuedAt     time.Time
}

// runSenders delivers due messages until ctx ends: new messages wake it,
// a timer brings the next retry.
func (o *Outbox) runSenders(ctx context.Context) {
	var lastPurge time.Time
	for {
		next, _, err := o.dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			o.log.Error("outbox cannot read its queue", "err", err)
			next = o.now().Add(retryDelay)
		}
		if o.now().Sub(lastPurge) > time.Hour {
			if err := o.purge(ctx); err != nil && ctx.Err() == nil {
				o.log.Error("outbox cannot blank old content", "err", err)
			}
			lastPurge = o.now()
		}
		var (
			timer *time.Timer
			fire  <-chan time.Time
		)
		if !next.IsZero() {
			timer = time.NewTimer(max(next.Sub(o.now()), time.Millisecond))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// senderChannels lists the channels with a Sender, for SQL.
func (o *Outbox) senderChannels() string {
	var b strings.Builder
	b.WriteString("(''")
	for ch := range o.cfg.Senders {
		b.WriteString(",'" + strings.ReplaceAll(string(ch), "'", "''") + "'")
	}
	b.WriteString(")")
	return b.String()
}

const messageCols = `id, channel, recipient, kind, claim_id, customer_id, order_key, essential, pos_commit, pos_prepare,
	event_time, language, subject, text, html, body, round, attempts, first_attempt, queued_at`

// scanQueued scans a row of messageCols, after the columns of extra.
func scanQueued(rows *sql.Rows, extra ...any) (queued, error) {
	var (
		q                queued
		id, ch, claim    string
		pc, pp           int64
		eventTime, first int64
		queuedAt         int64
	)
	err := rows.Scan(append(extra, &id, &ch, &q.Recipient, &q.Kind, &claim, &q.CustomerID, &q.OrderKey, &q.Essential, &pc, &pp,
		&eventTime, &q.Language, &q.Subject, &q.Text, &q.HTML, &q.Body, &q.round, &q.attempts, &first, &queuedAt)...)
	if err != nil {
		return q, err
	}
	q.ID, _ = uuid.Parse(id)
	q.ClaimID, _ = uuid.Parse(claim)
	q.Channel = notify.Channel(ch)
	q.Position = eventstore.Position{Commit: uint64(pc), Prepare: uint64(pp)}
	q.EventTime, q.firstAttempt, q.queuedAt = fromNanos(eventTime), fromNanos(first), fromNanos(queuedAt)
	return q, nil
}

func (o *Outbox) queryQueued(ctx context.Context, query string, args ...any) ([]queued, error) {
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return nil, storage.Fault(err)
	}
	defer rows.Close()
	var out []queued
	for rows.Next() {
		q, err := scanQueued(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, storage.Fault(rows.Err())
}

// dispatch starts the deliveries that are due and not under way: of each
// OrderKey only the oldest pending message, on a BatchSender's channel all
// pending messages of a recipient whose oldest has waited the window. It
// picks no more than the free delivery slots, reading only the queue's
// keys, and a message's content only when it starts: the queue may hold
// thousands. It returns when the next message not yet due will be (zero:
// none).
func (o *Outbox) dispatch(ctx context.Context) (next time.Time, launched int, err error) {
	now := o.now()
	chans := o.senderChannels()
	o.mu.Lock()
	busy := len(o.inFlight)
	o.mu.Unlock()
	free := o.cfg.Concurrency - busy
	if free > 0 {
		// The messages under way are among the heads: ask for as many more.
		launched, err = o.startDue(ctx, now, chans, free, busy+free)
		if err != nil {
			return time.Time{}, launched, err
		}
	}
	if launched >= free {
		// Every slot is busy: a delivery that ends wakes the senders, and
		// the next round looks again.
		return time.Time{}, launched, nil
	}
	var at sql.NullInt64
	err = o.queryRow(ctx, nil, `SELECT MIN(next_attempt) FROM messages
		WHERE status = 'pending' AND next_attempt > ? AND channel IN `+chans, nanos(now)).Scan(&at)
	if err != nil {
		return time.Time{}, launched, storage.Fault(err)
	}
	return fromNanos(at.Int64), launched, nil
}

// startDue launches up to free deliveries among the first limit heads due.
func (o *Outbox) startDue(ctx context.Context, now time.Time, chans string, free, limit int) (launched int, err error) {
	type head struct {
		id        uuid.UUID
		ch        notify.Channel
		recipient string
	}
	rows, err := o.query(ctx, `SELECT id, channel, recipient FROM messages m INDEXED BY messages_queue
		WHERE status = 'pending' AND next_attempt <= ? AND channel IN `+chans+`
		AND (order_key = '' OR seq = (SELECT MIN(seq) FROM messages WHERE order_key = m.order_key AND status = 'pending'))
		ORDER BY seq LIMIT ?`, nanos(now), limit)
	if err != nil {
		return 0, storage.Fault(err)
	}
	var heads []head
	for rows.Next() {
		var h head
		var id, ch string
		if err := rows.Scan(&id, &ch, &h.recipient); err != nil {
			rows.Close()
			return 0, storage.Fault(err)
		}
		h.id, _ = uuid.Parse(id)
		h.ch = notify.Channel(ch)
		heads = append(heads, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, storage.Fault(err)
	}
	type recipient struct {
		ch notify.Channel
		to string
	}
	batched := map[recipient]bool{}
	for _, h := range heads {
		if launched >= free {
			break
		}
		var qs []queued
		if _, ok := o.cfg.Senders[h.ch].(notify.BatchSender); ok {
			r := recipient{h.ch, h.recipient}
			if batched[r] {
				continue
			}
			batched[r] = true
			qs, err = o.queryQueued(ctx, `SELECT `+messageCols+` FROM messages
				WHERE status = 'pending' AND channel = ? AND recipient = ? ORDER BY seq LIMIT 1000`, string(r.ch), r.to)
		} else if !o.under(h.id) {
			qs, err = o.queryQueued(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ? AND status = 'pending'`, h.id.String())
		}
		if err != nil {
			return launched, err
		}
		if batch := o.take(qs); len(batch) > 0 {
			o.launch(ctx, batch)
			launched++
		}
	}
	return launched, nil
}

// under reports whether a message's delivery is under way.
func (o *Outbox) under(id uuid.UUID) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.inFlight[id]
}

// take marks the messages not under way as under way and returns them.
func (o *Outbox) take(qs []queued) []queued {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []queued
	for _, q := range qs {
		if !o.inFlight[q.ID] {
			o.inFlight[q.ID] = true
			out = append(out, q)
		}
	}
	return out
}

func (o *Outbox) launch(ctx context.Context, batch []queued) {
	o.jobs.Add(1)
	go func() {
		defer o.jobs.Done()
		defer o.signal()
		defer func() {
			o.mu.Lock()
			for _, q := range batch {
				delete(o.inFlight, q.ID)
			}
			o.mu.Unlock()
		}()
		select {
		case o.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-o.sem }()
		if ctx.Err() == nil {
			o.deliver(ctx, batch)
		}
	}()
}

// deliverAll delivers everything due now and what that makes due, and
// waits for it: the senders' loop without its timer. It returns when the
// next message not yet due will be.
func (o *Outbox) deliverAll(ctx context.Context) (time.Time, error) {
	for {
		next, launched, err := o.dispatch(ctx)
		o.jobs.Wait()
		if err != nil || launched == 0 {
			return next, err
		}
	}
}

// claimed is a delivery this instance holds: its stream's last event.
type claimed struct {
	q    queued
	last eventstore.RecordedEvent
}

// deliver claims the messages in the store, hands those it holds to the
// channel's Sender and records the outcome.
func (o *Outbox) deliver(ctx context.Context, batch []queued) {
	var held []claimed
	for _, q := range batch {
		if o.cfg.Alone {
			// No other instance to race: no claim in the store.
			if o.stillPending(ctx, q.ID) {
				held = append(held, claimed{q: q})
			}
			continue
		}
		c, ok := o.claim(ctx, q)
		// An erasure since the message was read blanked it: it is not sent.
		if ok && o.stillPending(ctx, q.ID) {
			held = append(held, c)
		}
	}
	if len(held) == 0 {
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the leases run out, the messages stay pending
	}
	ch := held[0].q.Channel
	sender := o.cfg.Senders[ch]
	sendCtx, cancel := context.WithTimeout(ctx, o.cfg.Lease)
	defer cancel()
	now := o.now()
	for _, c := range held {
		from := c.q.EventTime
		if from.IsZero() {
			from = c.q.queuedAt
		}
		o.m.lag(ch, now.Sub(from))
	}
	var err error
	if bs, ok := sender.(notify.BatchSender); ok {
		ms := make([]notify.Message, len(held))
		for i, c := range held {
			ms[i] = c.q.Message
		}
		err = bs.SendBatch(sendCtx, ms)
	} else {
		err = sender.Send(sendCtx, held[0].q.Message)
	}
	if err != nil && ctx.Err() != nil {
		return // cut short by shutdown: not the receiver's fault; the lease runs out
	}
	// The outcome is recorded even when shutdown began meanwhile: a message
	// accepted and not recorded would go again.
	rec := context.WithoutCancel(ctx)
	for _, c := range held {
		if err == nil {
			o.sent(rec, c)
		} else {
			o.failed(rec, c, err)
		}
	}
}

// stillPending reports whether the message is still to be sent.
func (o *Outbox) stillPending(ctx context.Context, id uuid.UUID) bool {
	var status string
	err := o.queryRow(ctx, nil, `SELECT status FROM messages WHERE id = ?`, id.String()).Scan(&status)
	return err == nil && status == string(Pending)
}

// claim appends a claim to the message's delivery stream; ok is false
// when the message is not this instance's to send now (then its row says
// why: sent or failed elsewhere, or due again when another's lease ends).
func (o *Outbox) claim(ctx context.Context, q queued) (c claimed, ok bool) {
	stream := eventlog.DeliveryStream(q.ID, q.round)
	var prev *eventstore.RecordedEvent
	expected := eventstore.NoStream
	for range 5 {
		now := o.now()
		data, _ := json.Marshal(claimedData{Instance: o.cfg.Instance, LeaseUntil: now.Add(o.cfg.Lease)})
		rec, err := o.appendDelivery(ctx, stream, prev, expected, ClaimedType, data)
		if err == nil {
			return claimed{q: q, last: rec}, true
		}
		if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			o.retryLater(ctx, q, fmt.Errorf("claim the delivery: %w", err), false)
			return c, false
		}
		last, err := o.store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
		if err != nil || len(last) != 1 {
			o.retryLater(ctx, q, fmt.Errorf("read the delivery stream: %w", err), false)
			return c, false
		}
		switch last[0].Type {
		case SentType:
			o.markSent(ctx, q.ID, now)
			return c, false
		case FailedType:
			o.markFailed(ctx, q, now, errors.New("failed on another instance"))
			return c, false
		case ClaimedType:
			var cd claimedData
			_ = json.Unmarshal(last[0].Data, &cd)
			if cd.Instance != o.cfg.Instance && cd.LeaseUntil.After(now) {
				o.postpone(ctx, q.ID, cd.LeaseUntil)
				return c, false
			}
		}
		prev, expected = &last[0], eventstore.Exact(last[0].Revision)
	}
	o.retryLater(ctx, q, errors.New("the delivery stream kept changing"), false)
	return c, false
}

// appendDelivery appends one sealed event to a delivery stream and returns
// it as recorded.
func (o *Outbox) appendDelivery(ctx context.Context, stream string, prev *eventstore.RecordedEvent, expected eventstore.ExpectedRevision, typ string, data []byte) (eventstore.RecordedEvent, error) {
	meta, _ := json.Marshal(struct {
		Actor string `json:"actor"`
	}{"notify-outbox:" + o.cfg.Instance})
	events := []eventstore.EventData{{ID: uuid.New(), Type: typ, Data: data, Metadata: meta}}
	if err := audit.SealEvents(stream, prev, events); err != nil {
		return eventstore.RecordedEvent{}, err
	}
	res, err := o.store.Append(ctx, stream, expected, events...)
	if err != nil {
		return eventstore.RecordedEvent{}, err
	}
	e := events[0]
	return eventstore.RecordedEvent{ID: e.ID, Stream: stream, Type: typ, Revision: res.NextExpectedRevision,
		Position: res.Position, Data: e.Data, Metadata: e.Metadata}, nil
}

// sent records that the Sender accepted the message: in its delivery
// stream, so that no other instance sends it, and in the row.
func (o *Outbox) sent(ctx context.Context, c claimed) {
	now := o.now()
	data, _ := json.Marshal(doneData{Instance: o.cfg.Instance, At: now})
	// Alone, nothing was claimed in the store, and nothing is recorded there.
	if c.last.Stream != "" {
		if _, err := o.appendDelivery(ctx, c.last.Stream, &c.last, eventstore.Exact(c.last.Revision), SentType, data); err != nil {
			// Sent all the same; another instance may send it again once
			// the lease ends, with the same id.
			o.log.Warn("outbox cannot record a sent message in the log", "id", c.q.ID, "err", err)
		}
	}
	o.markSent(ctx, c.q.ID, now)
	o.m.sent(c.q.Channel)
}

// markSent records that a message was sent, and returns once that is
// committed. The marks of deliveries that end together are written in one
// transaction (group commit): a transaction per message cost the senders
// a fifth of their time, and they finish dozens at a time.
func (o *Outbox) markSent(ctx context.Context, id uuid.UUID, now time.Time) {
	o.marks.mu.Lock()
	b := o.marks.next
	if b == nil {
		b = &markBatch{done: make(chan struct{})}
		o.marks.next = b
	}
	b.ids, b.at = append(b.ids, id.String()), append(b.at, nanos(now))
	if o.marks.writing {
		o.marks.mu.Unlock()
		<-b.done
		return
	}
	o.marks.writing = true
	for {
		b := o.marks.next
		o.marks.next = nil
		if b == nil {
			o.marks.writing = false
			o.marks.mu.Unlock()
			return
		}
		o.marks.mu.Unlock()
		if err := o.writeMarks(ctx, b); err != nil {
			o.log.Error("outbox cannot mark messages sent", "ids", b.ids, "err", err)
		}
		close(b.done)
		o.marks.mu.Lock()
	}
}

// markBatch is the sent marks written in one transaction.
type markBatch struct {
	ids  []string
	at   []int64
	done chan struct{} // closed once written
}

const markSentSQL = `UPDATE messages SET status = CASE WHEN status = 'erased' THEN status ELSE 'sent' END,
	sent_at = ?, last_error = '' WHERE id = ?`

func (o *Outbox) writeMarks(ctx context.Context, b *markBatch) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i, id := range b.ids {
		if _, err := o.exec(ctx, tx, markSentSQL, b.at[i], id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// failed records a failed attempt: retried after a backoff, or failed for
// good when the error is permanent or the message has been tried for
// GiveUpAfter.
func (o *Outbox) failed(ctx context.Context, c claimed, sendErr error) {
	now := o.now()
	first := c.q.firstAttempt
	if first.IsZero() {
		first = now
	}
	if notify.IsPermanent(sendErr) || now.Sub(first) >= o.cfg.GiveUpAfter {
		data, _ := json.Marshal(doneData{Instance: o.cfg.Instance, At: now})
		if c.last.Stream != "" {
			if _, err := o.appendDelivery(ctx, c.last.Stream, &c.last, eventstore.Exact(c.last.Revision), FailedType, data); err != nil {
				o.log.Warn("outbox cannot record a failed message in the log", "id", c.q.ID, "err", err)
			}
		}
		o.markFailed(ctx, c.q, now, sendErr)
		return
	}
	o.retryLater(ctx, c.q, sendErr, true)
}

func (o *Outbox) markFailed(ctx context.Context, q queued, now time.Time, cause error) {
	_, err := o.exec(ctx, nil, `UPDATE messages SET status = 'failed', attempts = attempts + 1,
		first_attempt = CASE WHEN first_attempt = 0 THEN ?1 ELSE first_attempt END, last_error = ?2
		WHERE id = ?3 AND status = 'pending'`, nanos(now), cause.Error(), q.ID.String())
	if err == nil {
		_, err = o.exec(ctx, nil, `INSERT INTO attempts (message_id, round, at, error) VALUES (?, ?, ?, ?)`,
			q.ID.String(), q.round, nanos(now), cause.Error())
	}
	if err != nil {
		o.log.Error("outbox cannot mark a message failed", "id", q.ID, "err", err)
	}
	o.m.failed(q.Channel)
}

// retryLater records an attempt's error and when to try again. attempt is
// false for a failure before the Sender was reached (the store was
// unavailable): it does not count towards giving up.
func (o *Outbox) retryLater(ctx context.Context, q queued, cause error, attempt bool) {
	now := o.now()
	n := q.attempts
	if attempt {
		n++
	}
	next := now.Add(backoff(max(n, 1), o.cfg.RetryMin, o.cfg.RetryMax, rand.Int64N))
	first := nanos(now)
	if !attempt {
		first = 0
	}
	_, err := o.exec(ctx, nil, `UPDATE messages SET attempts = ?1, next_attempt = ?2, last_error = ?3,
		first_attempt = CASE WHEN first_attempt = 0 THEN ?4 ELSE first_attempt END
		WHERE id = ?5 AND status = 'pending'`, n, nanos(next), cause.Error(), first, q.ID.String())
	if err == nil {
		_, err = o.exec(ctx, nil, `INSERT INTO attempts (message_id, round, at, error) VALUES (?, ?, ?, ?)`,
			q.ID.String(), q.round, nanos(now), cause.Error())
	}
	if err != nil {
		o.log.Error("outbox cannot record a failed attempt", "id", q.ID, "err", err)
	}
}

// postpone makes the message due when another instance's lease ends.
func (o *Outbox) postpone(ctx context.Context, id uuid.UUID, until time.Time) {
	if _, err := o.exec(ctx, nil, `UPDATE messages SET next_attempt = ? WHERE id = ? AND status = 'pending'`,
		nanos(until), id.String()); err != nil {
		o.log.Error("outbox cannot postpone a message", "id", id, "err", err)
	}
}

// backoff is the wait before the attempt after the n-th failed one:
// exponential with full jitter, a random time in [0, min(ceiling,
// base·2ⁿ⁻¹)], so that many messages failing together do not retry
// together. randN(k) returns a random number in [0, k).
func backoff(n int, base, ceiling time.Duration, randN func(int64) int64) time.Duration {
	limit := ceiling
	if n-1 < 40 {
		if d := base << (n - 1); d > 0 && d < ceiling {
			limit = d
		}
	}
	return time.Duration(randN(int64(limit) + 1))
}
