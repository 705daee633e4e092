package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// testServer is the API over a real embedded store in a temporary directory.
type testServer struct {
	t     *testing.T
	echo  *echo.Echo
	store eventstore.Store
	keys  map[Role]string
}

// testOption changes how newTestServer wires the service.
type testOption func(*testWiring)

// testWiring is what options may change: the store the write side uses.
type testWiring struct {
	ledgerStore func(eventstore.Store) eventstore.Store
	config      func(*Config)
	policies    *domain.PolicyBook // nil: the ledger's and projections' default
}

func newTestServer(t *testing.T, opts ...testOption) *testServer {
	t.Helper()
	wiring := testWiring{ledgerStore: func(s eventstore.Store) eventstore.Store { return s }}
	for _, o := range opts {
		o(&wiring)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reads, err := projections.New(store, projections.Config{Dir: dir, Logger: logger, Policies: wiring.policies})
	if err != nil {
		t.Fatal(err)
	}
	if err := reads.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reads.Close() })
	service, err := ledger.New(wiring.ledgerStore(store), ledger.Config{Policies: wiring.policies})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, store: store, keys: map[Role]string{}}
	keys := &Keys{}
	for _, role := range Roles() {
		secret := "test-key-for-" + string(role)
		ts.keys[role] = secret
		if err := keys.Add(role, secret); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Ledger: service, Reads: reads, Keys: keys, Logger: logger, MaxBodyBytes: 64 << 10, ReadYourWritesTimeout: 300 * time.Millisecond}
	if wiring.config != nil {
		wiring.config(&cfg)
	}
	ts.echo, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// response is a recorded answer with its JSON body decoded loosely.
type response struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// do sends a request as role (empty: no Authorization) with the given body
// (a string is sent as is, anything else is JSON-encoded) and headers.
func (ts *testServer) do(method, path string, role Role, body any, headers ...string) response {
	ts.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		r = bytes.NewReader(enc)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+ts.keys[role])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	ts.echo.ServeHTTP(rec, req)
	return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// eventCount counts every event in the store.
func (ts *testServer) eventCount() int {
	ts.t.Helper()
	n := 0
	after := eventstore.Start
	for {
		events, err := ts.store.ReadAll(context.Background(), after, 1000, eventstore.Filter{})
		if err != nil {
			ts.t.Fatal(err)
		}
		if len(events) == 0 {
			return n
		}
		n += len(events)
		after = events[len(events)-1].Position
	}
}

// registerBody is a valid registration.
func registerBody() map[string]any {
	return map[string]any{
		"customer":          map[string]any{"name": "Ivan Petrov", "phone": "+7 916 123-45-67", "email": "ivan@example.com"},
		"product":           map[string]any{"sku": "NB-X1", "category": "laptop", "serial": "SN123456"},
		"purchase_date":     time.Now().AddDate(0, -2, 0).Format(time.DateOnly), // within warranty whenever the tests run
		"proof_of_purchase": map[string]any{"kind": "receipt", "reference": "R-1001"},
		"price":             map[string]any{"amount": "1299.90", "currency": "EUR"},
		"defect":            "does not power on",
		"channel":           "web",
	}
}

// register creates a claim and returns its id.
func (ts *testServer) register() string {
	ts.t.Helper()
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, registerBody())
	if res.Code != http.StatusCreated {
		ts.t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	return res.json(ts.t)["id"].(string)
}

// act runs an action as an agent and fails the test unless it answers 200.
func (ts *testServer) act(id, action string, body any) map[string]any {
	ts.t.Helper()
	res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/"+action, RoleTechnician, body)
	if res.Code != http.StatusOK {
		ts.t.Fatalf("%s: %d %s", action, res.Code, res.Body)
	}
	return res.json(ts.t)
}
