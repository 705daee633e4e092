package api

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/storage"
)

// fullStore fails every append, while full is set, the way a store of the
// service's own files fails on a full disk: with a storage fault, not an
// event store outage.
type fullStore struct {
	eventstore.Store
	full atomic.Bool
}

func (s *fullStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.full.Load() {
		err := &fs.PathError{Op: "write", Path: "/data/keys/pii-keys.db-wal", Err: syscall.ENOSPC}
		return eventstore.AppendResult{}, fmt.Errorf("ledger: privacy: create key: %w", storage.Fault(err))
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

// TestStorageFaultAnswers503: a storage fault of any store answers 503
// with Retry-After and the problem type of an outage, never 500, and the
// same request succeeds once the fault is gone.
func TestStorageFaultAnswers503(t *testing.T) {
	full := &fullStore{}
	ts := newTestServer(t, func(w *testWiring) {
		w.ledgerStore = func(s eventstore.Store) eventstore.Store { full.Store = s; return full }
	})
	id := ts.register()
	full.full.Store(true)
	note := map[string]any{"text": "called the customer", "visibility": "internal"}
	for name, res := range map[string]response{
		"register": ts.do(http.MethodPost, "/v1/claims", RoleAgent, registerBody()),
		"action":   ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, note),
	} {
		if res.Code != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
			res.Header.Get("Content-Type") != "application/problem+json" ||
			res.json(t)["type"] != "urn:rmaledger:problem:unavailable" {
			t.Errorf("%s on a full disk: %d %v %s, want 503 unavailable with Retry-After", name, res.Code, res.Header, res.Body)
		}
	}
	full.full.Store(false)
	if res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, note); res.Code != http.StatusOK {
		t.Errorf("action once space is back: %d %s", res.Code, res.Body)
	}
}
