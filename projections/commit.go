package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

// committer owns the database's writer connection for the projections'
// transactions and merges the ones that arrive together into one (group
// commit). The projections receive each event at about the same moment,
// so at a steady rate their one-event transactions would queue for the
// single writer one after the other, each paying its own BEGIN and COMMIT;
// merged, they pay once. Each projection's part runs in a SAVEPOINT: one
// that fails is rolled back alone, and every projection's rows still
// commit together with its checkpoint.
type committer struct {
	db       *sql.DB
	hook     func(took time.Duration, events int) // Config.transactHook
	noWrites bool                                 // Config.noWrites
	requests chan *commitRequest
	stopping chan struct{} // closed by close: take no more requests
	done     chan struct{} // closed when run has answered every request it took
}

// commitRequest is one projection's part of a transaction: its encoded rows
// (in its tableSet) and its new checkpoint.
type commitRequest struct {
	ctx    context.Context
	p      *projection
	g      *generation
	last   eventstore.Position
	events int

	err      error
	finished chan struct{}
}

func newCommitter(db *sql.DB, hook func(time.Duration, int), noWrites bool) *committer {
	c := &committer{db: db, hook: hook, noWrites: noWrites, requests: make(chan *commitRequest, 16), stopping: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// commit runs the request's part in the next transaction and returns its
// outcome once that transaction committed or rolled back.
//
// A commit that arrives while the committer closes fails with ErrClosed:
// the router's Close gives up on a slow handler after CloseTimeout, so a
// handler may still call commit after the runner began to close. (The
// requests channel is therefore never closed: a send on it must not race
// with its closing.)
func (c *committer) commit(r *commitRequest) error {
	r.finished = make(chan struct{})
	select {
	case c.requests <- r:
	case <-c.stopping:
		return ErrClosed
	}
	select {
	case <-r.finished:
		return r.err
	case <-c.done:
		select {
		case <-r.finished: // answered in run's final drain
			return r.err
		default: // queued after the final drain: never run
			return ErrClosed
		}
	}
}

// close stops the committer once the requests already taken are answered.
func (c *committer) close() {
	close(c.stopping)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	for {
		var r *commitRequest
		select {
		case r = <-c.requests:
		case <-c.stopping:
			// Answer what was queued before close; later sends see done.
			for {
				select {
				case r := <-c.requests:
					c.run1([]*commitRequest{r})
				default:
					return
				}
			}
		}
		batch := []*commitRequest{r}
	drain:
		for {
			select {
			case more := <-c.requests:
				batch = append(batch, more)
			default:
				break drain
			}
		}
		c.run1(batch)
	}
}

// run1 runs one merged transaction and answers its requests.
func (c *committer) run1(batch []*commitRequest) {
	start := time.Now()
	c.transact(batch)
	if c.hook != nil {
		events := 0
		for _, r := range batch {
			events += r.events
		}
		c.hook(time.Since(start), events)
	}
	for _, r := range batch {
		close(r.finished)
	}
}

// transact writes the parts in one transaction. A part whose context ended
// is not run; a part that fails is rolled back to its savepoint and the
// others go on.
func (c *committer) transact(batch []*commitRequest) {
	ctx := context.Background() // parts bring their own contexts
	if c.noWrites {
		for _, r := range batch {
			r.p.hook(beforeCommit, r.last, r.events)
		}
		return
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.err = fmt.Errorf("projections: %s: begin: %w", r.p.name, err)
		}
		return
	}
	savepoints := len(batch) > 1
	ok := 0
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		if savepoints {
			if _, r.err = tx.ExecContext(ctx, `SAVEPOINT part`); r.err != nil {
				continue
			}
		}
		r.err = r.p.write(r.ctx, tx, r.g, r.last, r.events)
		if savepoints {
			undo := ``
			if r.err != nil {
				undo = `ROLLBACK TO part; `
			}
			if _, err := tx.ExecContext(ctx, undo+`RELEASE part`); err != nil {
				r.err = errors.Join(r.err, err)
			}
		}
		if r.err == nil {
			ok++
		}
	}
	if ok == 0 {
		tx.Rollback()
		return
	}
	for _, r := range batch {
		if r.err == nil {
			r.p.hook(beforeCommit, r.last, r.events)
		}
	}
	if err := tx.Commit(); err != nil {
		for _, r := range batch {
			if r.err == nil {
				r.err = fmt.Errorf("projections: %s: commit: %w", r.p.name, err)
			}
		}
	}
}
