// Package follow keeps an in-memory fold of some of the log's events
// current: the accounts of the console, the webhook subscriptions. Every
// instance of the service serving one store answers from its own fold,
// and a change made on one reaches the others within a commit
// notification.
package follow

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

// page is how many events a catch-up reads at once.
const page = 256

// Fold folds the events Filter selects, in log order, with Apply. Its
// zero value is not usable: set every field before the first call.
type Fold struct {
	Store  eventstore.Store
	Filter eventstore.Filter
	// Mu guards the folded value: Apply runs with it held, and the
	// value's readers hold it too.
	Mu *sync.Mutex
	// Apply folds one event into the value.
	Apply func(*eventstore.RecordedEvent) error

	pos       eventstore.Position // of the last event folded; guarded by Mu
	following atomic.Bool         // Follow keeps the fold current
}

// Follow keeps the fold current until ctx ends: it reads the events once,
// then follows the new ones. When the store fails, Fresh falls back to
// reading at each question, and Follow tries again after retry.
func (f *Fold) Follow(ctx context.Context, retry time.Duration) {
	for {
		err := f.follow(ctx)
		f.following.Store(false)
		if ctx.Err() != nil || err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

func (f *Fold) follow(ctx context.Context) error {
	if err := f.CatchUp(ctx); err != nil {
		return err
	}
	f.Mu.Lock()
	from := f.pos
	f.Mu.Unlock()
	sub, err := f.Store.SubscribeAll(ctx, from, f.Filter)
	if err != nil {
		return err
	}
	defer sub.Close()
	f.following.Store(true)
	for rec := range sub.Events() {
		f.Mu.Lock()
		err := f.Apply(&rec)
		if rec.Position.Compare(f.pos) > 0 {
			f.pos = rec.Position
		}
		f.Mu.Unlock()
		if err != nil {
			return err
		}
	}
	return sub.Err()
}

// Following reports whether Follow keeps the fold current now.
func (f *Fold) Following() bool { return f.following.Load() }

// Fresh makes the fold current enough to answer: at once while Follow
// keeps it so, else by reading what was appended since (CatchUp).
func (f *Fold) Fresh(ctx context.Context) error {
	if f.following.Load() {
		return nil
	}
	return f.CatchUp(ctx)
}

// CatchUp folds the selected events appended since the last one folded.
func (f *Fold) CatchUp(ctx context.Context) error {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	for {
		recs, err := f.Store.ReadAll(ctx, f.pos, page, f.Filter)
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		for i := range recs {
			if err := f.Apply(&recs[i]); err != nil {
				return err
			}
			f.pos = recs[i].Position
		}
		if len(recs) < page {
			return nil
		}
	}
}
