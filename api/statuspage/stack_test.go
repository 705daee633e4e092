package statuspage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// stack is the whole service as cmd wires it: the embedded store, the
// projections, the ledger and the API with its status page, over HTTP
// clients use, in a temporary directory.
type stack struct {
	echo   *echo.Echo
	reads  *projections.Runner
	clock  *clock
	sofia  *time.Location
	logs   *syncBuffer
	agent  string
	tech   string
	server *httptest.Server // started by url()
}

// clock is a settable time for the ledger (event times) and the status
// page's limiters.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects the service's logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// generous are limits no test reaches unless it means to.
var generous = statuspage.Limit{Burst: 1 << 20, Every: time.Microsecond}

// newStack starts the service; change adjusts the API config (limits,
// proxies) before it starts.
func newStack(t testing.TB, change func(*api.Config)) *stack {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reads, err := projections.New(store, projections.Config{Dir: dir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := reads.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reads.Close() })
	sofia, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 3, 2, 13, 4, 0, 0, time.UTC)} // 15:04 in Sofia
	service, err := ledger.New(store, ledger.Config{Location: sofia, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	keys := &api.Keys{}
	s := &stack{reads: reads, clock: clk, sofia: sofia, logs: logs, agent: "status-test-agent-key", tech: "status-test-technician-key"}
	if err := keys.Add(api.RoleAgent, s.agent); err != nil {
		t.Fatal(err)
	}
	if err := keys.Add(api.RoleTechnician, s.tech); err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		Ledger: service, Reads: reads, Keys: keys, Logger: logger,
		StatusPage: statuspage.Config{PerClient: generous, PerNumber: generous, Now: clk.Now},
	}
	if change != nil {
		change(&cfg)
	}
	if s.echo, err = api.New(cfg); err != nil {
		t.Fatal(err)
	}
	return s
}

// url starts a real HTTP server on loopback, for browsers and benchmarks.
func (s *stack) url(t testing.TB) string {
	if s.server == nil {
		s.server = httptest.NewServer(s.echo)
		t.Cleanup(s.server.Close)
	}
	return s.server.URL
}

// claim is a registered claim as the tests know it.
type claim struct {
	ID, Number, Phone string
}

// call sends a JSON write as key and decodes the answer, failing unless 2xx.
func (s *stack) call(t testing.TB, key, path string, body any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	s.echo.ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(37 * time.Minute)
	return out
}

// wait makes the status read model catch up with a write's answer.
func (s *stack) wait(t testing.TB, answer map[string]any) {
	t.Helper()
	pos, err := eventstore.ParsePosition(answer["position"].(string))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.reads.WaitFor(ctx, pos, projections.StatusPage); err != nil {
		t.Fatal(err)
	}
}

// Secrets the public page must never show, planted in every claim.
const (
	customerName = "Maria Georgieva"
	customerMail = "maria@example.com"
	internalNote = "Customer sounded annoyed; check for drop damage"
	staffName    = "Ivan the intake clerk"
	customerNote = "Your laptop needs a new power controller."
	serial       = "SN-SECRET-0042"
)

// register creates a claim with the phone +359 888 123 4xx.
func (s *stack) register(t testing.TB, phone string) claim {
	t.Helper()
	res := s.call(t, s.agent, "/v1/claims", map[string]any{
		"customer":          map[string]any{"name": customerName, "phone": phone, "email": customerMail, "address": "12 Rakovski St, Sofia"},
		"product":           map[string]any{"sku": "NB-X1", "category": "laptop", "serial": serial},
		"purchase_date":     "2026-02-01",
		"proof_of_purchase": map[string]any{"kind": "receipt", "reference": "R-1001"},
		"price":             map[string]any{"amount": "1299.90", "currency": "BGN"},
		"defect":            "does not power on",
		"channel":           "web",
	})
	s.wait(t, res)
	return claim{ID: res["id"].(string), Number: res["number"].(string), Phone: phone}
}

// advance takes a claim to an issued estimate, with a customer shipment,
// a customer note and an internal note on the way.
func (s *stack) advance(t testing.TB, c claim) {
	t.Helper()
	act := func(key, action string, body any) map[string]any {
		return s.call(t, key, "/v1/claims/"+c.ID+"/actions/"+action, body)
	}
	act(s.agent, "authorize", map[string]any{
		"service_center":      map[string]any{"name": "Sofia service center", "address": "1 Vitosha Blvd, Sofia", "country": "BG"},
		"documents_requested": []string{"receipt copy"},
	})
	act(s.agent, "record-customer-shipment", map[string]any{"carrier": "Speedy", "tracking_number": "SP123456789"})
	act(s.tech, "receive", map[string]any{"condition": "scratched lid", "seals_intact": true, "received_by": staffName})
	act(s.tech, "add-note", map[string]any{"text": internalNote})
	act(s.tech, "diagnose", map[string]any{"outcome": "out_of_warranty", "findings": "dead power controller"})
	act(s.tech, "issue-estimate", map[string]any{
		"damage_level": 2,
		"parts":        map[string]any{"amount": "1180.00", "currency": "BGN"},
		"labour":       map[string]any{"amount": "60.00", "currency": "BGN"},
		"shipping":     map[string]any{"amount": "12.50", "currency": "BGN"},
		"description":  "Power controller replacement",
	})
	s.wait(t, act(s.tech, "add-note", map[string]any{"text": customerNote, "visibility": "customer"}))
}

// response is an answer with its body read.
type response struct {
	Code   int
	Header http.Header
	Body   string
}

// get sends a GET from a client address, with headers as name, value pairs.
func (s *stack) get(target, remote string, headers ...string) response {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	return s.serve(req, remote, headers...)
}

// post submits the HTML form.
func (s *stack) post(form url.Values, remote string, headers ...string) response {
	req := httptest.NewRequest(http.MethodPost, "/status", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.serve(req, remote, headers...)
}

func (s *stack) serve(req *http.Request, remote string, headers ...string) response {
	if remote != "" {
		req.RemoteAddr = remote
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	s.echo.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return response{Code: rec.Code, Header: rec.Header(), Body: string(body)}
}

// statusQuery is the JSON route's URL.
func statusQuery(number, phone string) string {
	return "/v1/status?" + url.Values{"number": {number}, "phone": {phone}}.Encode()
}
