package ledger

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Every event the ledger writes is sealed and chained to its stream's
// previous event, claims and claim-number blocks alike, even when many
// commands race on one claim and the losers retry.
func TestEveryWrittenEventIsChained(t *testing.T) {
	store := openStore(t)
	// A command fails only when another one committed since its read: 8
	// racing commands need at most 8 attempts each.
	s, err := New(store, Config{NumberBlock: 2, MaxAttempts: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []uuid.UUID
	for range 3 { // three claims: two number blocks
		res, err := s.Register(ctx, registration(t), agent)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Claim.ID)
	}
	id := ids[0]
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			note := &domain.AddNote{Text: fmt.Sprintf("note %d", i), Visibility: domain.VisibilityInternal}
			if _, err := s.Execute(ctx, id, note, agent); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	r, err := audit.Verify(ctx, store, audit.VerifyOptions{DensePositions: true})
	if err != nil {
		t.Fatal(err)
	}
	// 3 registrations, 8 notes, 2 number blocks: all sealed and linked.
	if !r.OK || r.Events != 13 || r.Streams != 4 {
		t.Fatalf("%+v %v", r, r.Break)
	}
	recs, err := store.ReadStream(ctx, eventlog.Claims.Stream(id), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var h audit.Hasher
	prev := audit.Genesis
	for _, rec := range recs {
		m, err := eventlog.DecodeMetadata(rec.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		content, _, _ := h.Event(&rec)
		if m.ContentHash != content.String() || m.PrevHash != prev.String() || m.Action == "" {
			t.Fatalf("revision %d: metadata %+v, content %s, prev %s", rec.Revision, m, content, prev)
		}
		prev = content
	}
}
