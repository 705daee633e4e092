package projections

import (
	"context"
	"runtime"
	"sync"

	"github.com/rmaledger/rmaledger/eventstore"
)

// feedPage is one page of the store, decoded by whichever decoder took it;
// ready is closed when items is filled in.
type feedPage struct {
	recs  []eventstore.RecordedEvent
	items []item
	ready chan struct{}
}

// readPages reads the claim events after a position, in pages, and delivers them
// decoded and in order until a read finds nothing more. Reading, decoding
// and applying are separate stages: one goroutine reads (the store reads a
// page at a time anyway), decoders decode pages in parallel, and the
// consumer folds and writes, so a catch-up or rebuild uses every core
// instead of doing each step in turn.
//
// Pages arrive on the returned channel, which is closed at the end; wait
// then reports a read error, if any.
func readPages(ctx context.Context, store eventstore.Store, after eventstore.Position, pageSize int) (<-chan []item, func() error) {
	decoders := max(1, runtime.GOMAXPROCS(0))
	ordered := make(chan *feedPage, decoders+2)
	work := make(chan *feedPage, decoders+2)
	out := make(chan []item, 1)
	var (
		readErr error
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() { // reader
		defer wg.Done()
		defer close(work)
		defer close(ordered)
		for {
			recs, err := store.ReadAll(ctx, after, pageSize, claimFilter)
			if err != nil {
				readErr = err
				return
			}
			if len(recs) == 0 {
				return
			}
			p := &feedPage{recs: recs, ready: make(chan struct{})}
			select {
			case work <- p:
			case <-ctx.Done():
				return
			}
			select {
			case ordered <- p:
			case <-ctx.Done():
				return
			}
			after = recs[len(recs)-1].Position
		}
	}()
	for range decoders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				p.items = make([]item, len(p.recs))
				for i, rec := range p.recs {
					p.items[i] = decodeItem(rec)
				}
				close(p.ready)
			}
		}()
	}
	wg.Add(1)
	go func() { // hands pages on in order
		defer wg.Done()
		defer close(out)
		for p := range ordered {
			select {
			case <-p.ready:
			case <-ctx.Done():
				return
			}
			select {
			case out <- p.items:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, func() error {
		wg.Wait()
		if readErr != nil {
			return readErr
		}
		return ctx.Err()
	}
}
