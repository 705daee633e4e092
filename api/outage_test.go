package api

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
)

// outageStore is a store whose server can be taken down: while down, every
// call of the write side fails the way the KurrentDB backend fails during a
// lost connection (ErrUnavailable, at once).
type outageStore struct {
	eventstore.Store
	down atomic.Bool
}

func (s *outageStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.down.Load() {
		return eventstore.AppendResult{}, eventstore.ErrUnavailable
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

func (s *outageStore) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if s.down.Load() {
		return nil, eventstore.ErrUnavailable
	}
	return s.Store.ReadStream(ctx, stream, dir, from, max)
}

// TestStoreOutage: while the event store is unreachable, writes answer 503
// with a problem body and Retry-After and write nothing, and reads keep
// being served from the read models. When it is back, writes succeed again.
func TestStoreOutage(t *testing.T) {
	outage := &outageStore{}
	ts := newTestServer(t, func(w *testWiring) {
		w.ledgerStore = func(s eventstore.Store) eventstore.Store { outage.Store = s; return outage }
	})
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, registerBody())
	if res.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	created := res.json(t)
	id := created["id"].(string)
	position := created["position"].(string)
	before := ts.eventCount()

	outage.down.Store(true)
	for name, res := range map[string]response{
		"register": ts.do(http.MethodPost, "/v1/claims", RoleAgent, registerBody()),
		"action":   ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, map[string]any{"text": "called the customer", "visibility": "internal"}),
	} {
		if res.Code != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
			res.Header.Get("Content-Type") != "application/problem+json" ||
			res.json(t)["type"] != "urn:rmaledger:problem:unavailable" {
			t.Errorf("%s during the outage: %d %v %s, want 503 unavailable with Retry-After", name, res.Code, res.Header, res.Body)
		}
	}
	if n := ts.eventCount(); n != before {
		t.Errorf("%d events after the outage's writes, want %d", n, before)
	}
	read := ts.do(http.MethodGet, "/v1/claims/"+id+"?min_position="+position, RoleAgent, nil)
	if read.Code != http.StatusOK || read.json(t)["id"] != id {
		t.Errorf("read during the outage: %d %s, want 200 from the read model", read.Code, read.Body)
	}
	if search := ts.do(http.MethodGet, "/v1/claims?status=registered", RoleAgent, nil); search.Code != http.StatusOK {
		t.Errorf("search during the outage: %d %s", search.Code, search.Body)
	}

	outage.down.Store(false)
	if res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, map[string]any{"text": "called the customer", "visibility": "internal"}); res.Code != http.StatusOK {
		t.Errorf("action after the outage: %d %s", res.Code, res.Body)
	}
}
