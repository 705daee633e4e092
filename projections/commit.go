package projections

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/storage"
)

// committer owns the database's writer connection for the projections'
// transactions and merges the ones that arrive together into one (group
// commit). The projections receive each event at about the same moment,
// so at a steady rate their one-event transactions would queue for the
// single writer one after the other, each paying its own BEGIN and COMMIT;
// merged, they pay once. A part that fails is taken out and the others
// are written again (see transact); every projection's rows commit
// together with its checkpoint.
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

// transact writes the parts in one transaction, without savepoints. A
// part whose context ended is not run. A part that fails rolls the whole
// transaction back and keeps its error, and the other parts are written
// again without it: a failing write is rare (its projection retries, then
// stops), while a savepoint per part made SQLite copy every page a part
// touched to a statement journal before changing it: a tenth of the CPU of
// BenchmarkProjectionLag at 2,000 events/s. A part can be written again because
// flush only reads what encode prepared; what it notes in the cache is
// staged, and written over by the next attempt.
func (c *committer) transact(batch []*commitRequest) {
	if c.noWrites {
		for _, r := range batch {
			r.p.hook(beforeCommit, r.last, r.events)
		}
		return
	}
	for parts := batch; len(parts) > 0; {
		parts = c.attempt(parts)
	}
}

// attempt writes parts in one transaction and commits it. It returns the
// parts to write again: all of them but the one that failed, if one did.
func (c *committer) attempt(parts []*commitRequest) (again []*commitRequest) {
	ctx := context.Background() // parts bring their own contexts
	var run []*commitRequest
	for _, r := range parts {
		if r.err = r.ctx.Err(); r.err == nil {
			run = append(run, r)
		}
	}
	if len(run) == 0 {
		return nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range run {
			r.err = fmt.Errorf("projections: %s: begin: %w", r.p.name, storage.Fault(err))
		}
		return nil
	}
	for i, r := range run {
		if r.err = r.p.write(r.ctx, tx, r.g, r.last, r.events); r.err != nil {
			r.err = storage.Fault(r.err)
			tx.Rollback()
			return slices.Delete(run, i, i+1)
		}
	}
	for _, r := range run {
		r.p.hook(beforeCommit, r.last, r.events)
	}
	if err := tx.Commit(); err != nil {
		for _, r := range run {
			r.err = fmt.Errorf("projections: %s: commit: %w", r.p.name, storage.Fault(err))
		}
	}
	return nil
}
