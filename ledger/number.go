package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// numbersReservedType is the stored name of a block reservation.
const numbersReservedType = "rma.numbers.reserved.v1"

// numbersReserved records that numbers First..Last of a year belong to one
// running service. Reserving blocks keeps registration off a single hot
// stream; the price is that numbers left unused in a block when the service
// stops are never given out, and this event says which ones those can be.
type numbersReserved struct {
	Year  int    `json:"year"`
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// numberer hands out human-friendly, unique claim numbers such as
// RMA-2026-000042. Uniqueness across processes comes from the expected
// revision on the year's reservation stream.
type numberer struct {
	store eventstore.Store
	block uint64
	loc   *time.Location

	mu         sync.Mutex
	year       int
	next, last uint64 // next number to give; last reserved (next > last: none left)
}

func newNumberer(store eventstore.Store, block int, loc *time.Location) *numberer {
	if block < 1 {
		block = 1
	}
	return &numberer{store: store, block: uint64(block), loc: loc}
}

// Next returns the next claim number for the year of now.
func (n *numberer) Next(ctx context.Context, now time.Time) (string, error) {
	year := now.In(n.loc).Year()
	n.mu.Lock()
	defer n.mu.Unlock()
	if year != n.year || n.next > n.last {
		if err := n.reserve(ctx, year); err != nil {
			return "", err
		}
	}
	number := n.next
	n.next++
	return FormatNumber(year, number), nil
}

// FormatNumber renders a claim number.
func FormatNumber(year int, n uint64) string {
	return fmt.Sprintf("RMA-%d-%06d", year, n)
}

// reserve appends the next block for the year, retrying when another process
// reserved one first.
func (n *numberer) reserve(ctx context.Context, year int) error {
	stream := eventlog.NumberStream(year)
	for attempt := 0; attempt < 10; attempt++ {
		expected := eventstore.NoStream
		var lastReserved uint64
		events, err := n.store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
		switch {
		case errors.Is(err, eventstore.ErrStreamNotFound):
		case err != nil:
			return fmt.Errorf("ledger: read claim numbers: %w", err)
		default:
			var prev numbersReserved
			if err := json.Unmarshal(events[0].Data, &prev); err != nil {
				return fmt.Errorf("ledger: decode claim numbers: %w", err)
			}
			lastReserved = prev.Last
			expected = eventstore.Exact(events[0].Revision)
		}
		block := numbersReserved{Year: year, First: lastReserved + 1, Last: lastReserved + n.block}
		data, err := json.Marshal(block)
		if err != nil {
			return err
		}
		reservation := []eventstore.EventData{{ID: uuid.New(), Type: numbersReservedType, Data: data, Metadata: []byte(`{}`)}}
		if err := sealAfter(stream, events, reservation); err != nil {
			return err
		}
		_, err = n.store.Append(ctx, stream, expected, reservation...)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			continue
		}
		if err != nil {
			return fmt.Errorf("ledger: reserve claim numbers: %w", err)
		}
		n.year, n.next, n.last = year, block.First, block.Last
		return nil
	}
	return fmt.Errorf("ledger: reserve claim numbers: %w", ErrConflict)
}
