package api

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
)

// stallingStore holds every append until released, as a saturated disk
// would.
type stallingStore struct {
	eventstore.Store
	stalling atomic.Bool
	entered  chan struct{}
	release  chan struct{}
}

func (s *stallingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.stalling.Load() {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

// TestOverloadSheds: with MaxInFlight requests already running, one more
// waits OverloadWait and is then refused with 503, Retry-After and a problem
// body, and writes nothing; the requests that were admitted all complete.
func TestOverloadSheds(t *testing.T) {
	stall := &stallingStore{entered: make(chan struct{}, 16), release: make(chan struct{})}
	ts := newTestServer(t, func(w *testWiring) {
		w.ledgerStore = func(s eventstore.Store) eventstore.Store { stall.Store = s; return stall }
		w.config = func(c *Config) { c.MaxInFlight, c.OverloadWait = 2, 50*time.Millisecond }
	})
	id := ts.register()
	before := ts.eventCount()
	stall.stalling.Store(true)
	note := map[string]any{"text": "waiting for parts", "visibility": "internal"}
	var wg sync.WaitGroup
	admitted := make([]response, 2)
	for i := range admitted {
		wg.Go(func() { admitted[i] = ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, note) })
	}
	<-stall.entered // both admitted requests hold a slot, stalled in the store
	<-stall.entered
	started := time.Now()
	res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, note)
	if res.Code != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || res.json(t)["type"] != "urn:rmaledger:problem:overloaded" {
		t.Fatalf("request beyond MaxInFlight: %d %v %s, want 503 overloaded with Retry-After", res.Code, res.Header, res.Body)
	}
	if waited := time.Since(started); waited < 50*time.Millisecond {
		t.Errorf("refused after %v, before OverloadWait", waited)
	}
	close(stall.release)
	wg.Wait()
	for i, r := range admitted {
		if r.Code != http.StatusOK {
			t.Errorf("admitted request %d: %d %s", i, r.Code, r.Body)
		}
	}
	if n := ts.eventCount(); n != before+2 {
		t.Errorf("%d events after two admitted notes and one refused, want %d", n, before+2)
	}
	if res := ts.do(http.MethodGet, "/v1/claims", RoleAgent, nil); res.Code != http.StatusOK {
		t.Errorf("a request once the load has passed: %d %s", res.Code, res.Body)
	}
}
