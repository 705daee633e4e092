package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/storage"
)

// Status is where a message stands.
type Status string

// The statuses of a message.
const (
	// Pending: waiting for its (next) attempt.
	Pending Status = "pending"
	// Sent: the channel's Sender accepted it (here or on another instance).
	Sent Status = "sent"
	// Failed: given up (a permanent error, or retried for GiveUpAfter).
	Failed Status = "failed"
	// Erased: the customer's personal data was erased before it was sent;
	// it never will be.
	Erased Status = "erased"
)

// Entry is a queued message with its delivery state. Content of sent
// messages older than KeepContent, and of erased customers, is blank.
type Entry struct {
	// Seq orders the queue; List's After takes it.
	Seq     int64
	Message notify.Message
	Status  Status
	// Round counts the message's replays (0: first delivery).
	Round    int
	Attempts int
	// QueuedAt, FirstAttempt, NextAttempt and SentAt are zero when they
	// did not happen.
	QueuedAt     time.Time
	FirstAttempt time.Time
	NextAttempt  time.Time
	SentAt       time.Time
	// LastError is the last attempt's error (Attempts lists them all).
	LastError string
}

// Filter selects messages for List; zero fields select all.
type Filter struct {
	Channel   notify.Channel
	Recipient string
	Status    Status
	ClaimID   uuid.UUID
	// Limit bounds the answer (default and maximum 500).
	Limit int
	// After lists only messages after this Seq (paging).
	After int64
	// Newest lists the most recent first (After is then ignored).
	Newest bool
}

// List returns the queue's messages in queue order (or newest first).
func (o *Outbox) List(ctx context.Context, f Filter) ([]Entry, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	order := "seq"
	if f.Newest {
		order, f.After = "seq DESC", 0
	}
	add("seq > ?", f.After)
	if f.Channel != "" {
		add("channel = ?", string(f.Channel))
	}
	if f.Recipient != "" {
		add("recipient = ?", f.Recipient)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.ClaimID != uuid.Nil {
		add("claim_id = ?", f.ClaimID.String())
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	rows, err := o.db.QueryContext(ctx, `SELECT seq, status, next_attempt, sent_at, last_error, `+messageCols+`
		FROM messages WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, storage.Fault(err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			e          Entry
			status     string
			next, sent int64
		)
		q, err := scanQueued(rows, &e.Seq, &status, &next, &sent, &e.LastError)
		if err != nil {
			return nil, err
		}
		e.Message, e.Status, e.Round, e.Attempts = q.Message, Status(status), q.round, q.attempts
		e.QueuedAt, e.FirstAttempt, e.NextAttempt, e.SentAt = q.queuedAt, q.firstAttempt, fromNanos(next), fromNanos(sent)
		if e.Status != Pending {
			e.NextAttempt = time.Time{}
		}
		out = append(out, e)
	}
	return out, storage.Fault(rows.Err())
}

// Attempt is one failed attempt to deliver a message.
type Attempt struct {
	Round int
	At    time.Time
	Error string
}

// Attempts lists the failed attempts of a message, oldest first.
func (o *Outbox) Attempts(ctx context.Context, id uuid.UUID) ([]Attempt, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT round, at, error FROM attempts WHERE message_id = ? ORDER BY rowid`, id.String())
	if err != nil {
		return nil, storage.Fault(err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var (
			a  Attempt
			at int64
		)
		if err := rows.Scan(&a.Round, &at, &a.Error); err != nil {
			return nil, err
		}
		a.At = fromNanos(at)
		out = append(out, a)
	}
	return out, storage.Fault(rows.Err())
}

// Stats counts the queue's messages.
type Stats struct {
	// Counts is the number of messages per channel and status.
	Counts map[notify.Channel]map[Status]int
	// OldestPending is when the oldest pending message was queued (zero: none).
	OldestPending time.Time
}

// Stats counts the messages per channel and status.
func (o *Outbox) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Counts: map[notify.Channel]map[Status]int{}}
	rows, err := o.db.QueryContext(ctx, `SELECT channel, status, COUNT(*) FROM messages GROUP BY channel, status`)
	if err != nil {
		return s, storage.Fault(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ch, st string
			n      int
		)
		if err := rows.Scan(&ch, &st, &n); err != nil {
			return s, err
		}
		if s.Counts[notify.Channel(ch)] == nil {
			s.Counts[notify.Channel(ch)] = map[Status]int{}
		}
		s.Counts[notify.Channel(ch)][Status(st)] = n
	}
	if err := rows.Err(); err != nil {
		return s, storage.Fault(err)
	}
	rows.Close()
	var oldest sql.NullInt64
	if err := o.db.QueryRowContext(ctx, `SELECT MIN(queued_at) FROM messages WHERE status = 'pending'`).Scan(&oldest); err != nil {
		return s, storage.Fault(err)
	}
	s.OldestPending = fromNanos(oldest.Int64)
	return s, nil
}

// Replay puts the messages of a channel to a recipient caused at or after
// position from (sent or failed; messages queued directly count as at the
// start of the log) back in the queue as a new round: the same ids, a new
// delivery stream. Messages whose content was blanked stay as they are. It
// returns how many it put back.
func (o *Outbox) Replay(ctx context.Context, ch notify.Channel, recipient string, from eventstore.Position) (int, error) {
	if ch == "" || recipient == "" {
		return 0, errors.New("outbox: replay needs a channel and a recipient")
	}
	c, p := sqlPos(from)
	res, err := o.db.ExecContext(ctx, `UPDATE messages SET status = 'pending', round = round + 1, attempts = 0,
		first_attempt = 0, next_attempt = ?, sent_at = 0, last_error = ''
		WHERE channel = ? AND recipient = ? AND status IN ('sent', 'failed') AND blanked = 0
		AND (pos_commit > ? OR (pos_commit = ? AND pos_prepare >= ?))`,
		nanos(o.now()), string(ch), recipient, c, c, p)
	if err != nil {
		return 0, fmt.Errorf("outbox: replay: %w", storage.Fault(err))
	}
	n, _ := res.RowsAffected()
	o.signal()
	return int(n), nil
}

// ErrNotFailed means Retry was asked for a message that is not failed.
var ErrNotFailed = errors.New("outbox: no failed message of this id")

// Retry puts one failed message back in the queue as a new round.
func (o *Outbox) Retry(ctx context.Context, id uuid.UUID) error {
	res, err := o.db.ExecContext(ctx, `UPDATE messages SET status = 'pending', round = round + 1, attempts = 0,
		first_attempt = 0, next_attempt = ?, last_error = '' WHERE id = ? AND status = 'failed' AND blanked = 0`,
		nanos(o.now()), id.String())
	if err != nil {
		return fmt.Errorf("outbox: retry: %w", storage.Fault(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFailed
	}
	o.signal()
	return nil
}

// purge blanks the content of messages sent more than KeepContent ago.
func (o *Outbox) purge(ctx context.Context) error {
	_, err := o.db.ExecContext(ctx, `UPDATE messages SET subject = '', text = '', html = '', body = NULL, blanked = 1
		WHERE status = 'sent' AND blanked = 0 AND sent_at < ?`, nanos(o.now().Add(-o.cfg.KeepContent)))
	return storage.Fault(err)
}
