package whatif

import (
	"context"
	"fmt"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Load reads every claim's history from the store, in the order the claims
// were registered. It only reads.
func Load(ctx context.Context, store eventstore.Store) ([]Claim, error) {
	var (
		claims []Claim
		index  = map[string]int{}
		after  = eventstore.Start
	)
	filter := eventstore.Filter{StreamPrefixes: []string{eventlog.Claims.Prefix()}}
	for {
		recs, err := store.ReadAll(ctx, after, 1000, filter)
		if err != nil {
			return nil, fmt.Errorf("whatif: reading the log: %w", err)
		}
		for _, r := range recs {
			i, ok := index[r.Stream]
			if !ok {
				id, err := eventlog.Claims.ID(r.Stream)
				if err != nil {
					continue // a stream of the prefix that names no claim (claim numbers' reservations)
				}
				i = len(claims)
				index[r.Stream] = i
				claims = append(claims, Claim{ID: id})
			}
			e, err := domain.DecodeEvent(r.Type, r.Data)
			if err != nil {
				return nil, fmt.Errorf("whatif: %s revision %d: %w", r.Stream, r.Revision, err)
			}
			meta, err := eventlog.DecodeMetadata(r.Metadata)
			if err != nil {
				return nil, fmt.Errorf("whatif: %s revision %d: %w", r.Stream, r.Revision, err)
			}
			claims[i].Entries = append(claims[i].Entries, Entry{Event: e, Metadata: meta})
		}
		if len(recs) < 1000 {
			return claims, nil
		}
		after = recs[len(recs)-1].Position
	}
}
