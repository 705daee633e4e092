package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/clock"
	"github.com/rmaledger/rmaledger/sla"
)

// passes counts the timer passes a clock move ran, and the instant each ran at.
type passes struct {
	mu    sync.Mutex
	clock TestClock
	at    []time.Time
}

func (p *passes) run(context.Context) (sla.Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at = append(p.at, p.clock.Now())
	return sla.Report{Due: 1, Acted: 1, Clocks: []sla.ClockOutcome{{Number: "RMA-2030-000001", Clock: "shipment_window", Action: "close", Outcome: "acted"}}}, nil
}

func sandboxServer(t *testing.T) (*testServer, *clock.Sandbox, *passes) {
	t.Helper()
	test, err := clock.OpenSandbox(t.TempDir(), time.Date(2030, 6, 3, 7, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	p := &passes{clock: test}
	ts := newTestServer(t, func(w *testWiring) {
		w.config = func(c *Config) { c.Sandbox = &SandboxConfig{Clock: test, RunTimers: p.run} }
	})
	return ts, test, p
}

func TestClockMovesForwardAndRunsTheTimers(t *testing.T) {
	ts, test, p := sandboxServer(t)

	res := ts.do(http.MethodGet, "/v1/admin/clock", RoleAdmin, nil)
	if res.Code != http.StatusOK || res.json(t)["now"] != "2030-06-03T07:00:00Z" {
		t.Fatalf("GET clock: %d %s", res.Code, res.Body)
	}
	res = ts.do(http.MethodPost, "/v1/admin/clock", RoleAdmin, map[string]any{"advance": "1d2h"})
	body := res.json(t)
	if res.Code != http.StatusOK || body["now"] != "2030-06-04T09:00:00Z" || body["previous"] != "2030-06-03T07:00:00Z" {
		t.Fatalf("advance: %d %s", res.Code, res.Body)
	}
	if !test.Now().Equal(time.Date(2030, 6, 4, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("the clock stands at %s", test.Now())
	}
	// The timer process ran at once, at the new instant, and the answer says what it did.
	if len(p.at) != 1 || !p.at[0].Equal(test.Now()) {
		t.Fatalf("timer passes at %v", p.at)
	}
	timers, _ := body["timers"].(map[string]any)
	if clocks, _ := timers["clocks"].([]any); timers["acted"] != 1.0 || len(clocks) != 1 {
		t.Fatalf("timers in the answer: %s", res.Body)
	}
	res = ts.do(http.MethodPost, "/v1/admin/clock", RoleAdmin, map[string]any{"to": "2030-06-05T10:00:00+03:00"})
	if res.Code != http.StatusOK || res.json(t)["now"] != "2030-06-05T07:00:00Z" || len(p.at) != 2 {
		t.Fatalf("to: %d %s", res.Code, res.Body)
	}
	// The API judges timers at the test clock's instant.
	res = ts.do(http.MethodGet, "/v1/sla/timers", RoleAgent, nil)
	if res.Code != http.StatusOK || res.json(t)["at"] != "2030-06-05T07:00:00Z" {
		t.Fatalf("timers judged at: %d %s", res.Code, res.Body)
	}
}

func TestClockRefusals(t *testing.T) {
	ts, test, p := sandboxServer(t)
	for _, tc := range []struct {
		name string
		body any
		code int
		typ  string
	}{
		{"nothing", map[string]any{}, http.StatusBadRequest, "invalid-clock-move"},
		{"both", map[string]any{"advance": "1h", "to": "2030-06-05T10:00:00Z"}, http.StatusBadRequest, "invalid-clock-move"},
		{"zero step", map[string]any{"advance": "0s"}, http.StatusBadRequest, "invalid-clock-move"},
		{"negative step", map[string]any{"advance": "-2h"}, http.StatusBadRequest, "invalid-clock-move"},
		{"not a step", map[string]any{"advance": "tomorrow"}, http.StatusBadRequest, "invalid-clock-move"},
		{"eleven years", map[string]any{"advance": "4100d"}, http.StatusBadRequest, "invalid-clock-move"},
		{"not an instant", map[string]any{"to": "2030-06-05"}, http.StatusBadRequest, "invalid-clock-move"},
		{"backwards", map[string]any{"to": "2030-06-02T10:00:00Z"}, http.StatusConflict, "clock-backwards"},
		{"unknown field", map[string]any{"by": "2h"}, http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ts.do(http.MethodPost, "/v1/admin/clock", RoleAdmin, tc.body)
			if res.Code != tc.code || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("%d %s %s", res.Code, res.Header.Get("Content-Type"), res.Body)
			}
			if typ, _ := res.json(t)["type"].(string); tc.typ != "" && !strings.HasSuffix(typ, ":"+tc.typ) {
				t.Fatalf("type %s, want %s", typ, tc.typ)
			}
		})
	}
	if !test.Now().Equal(time.Date(2030, 6, 3, 7, 0, 0, 0, time.UTC)) || len(p.at) != 0 {
		t.Fatalf("a refused move changed the clock (%s) or ran the timers (%d)", test.Now(), len(p.at))
	}
}

func TestClockOutsideASandbox(t *testing.T) {
	ts := newTestServer(t)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		res := ts.do(method, "/v1/admin/clock", RoleAdmin, map[string]any{"advance": "26h"})
		if typ, _ := res.json(t)["type"].(string); res.Code != http.StatusConflict || !strings.HasSuffix(typ, ":not-a-sandbox") {
			t.Fatalf("%s: %d %s", method, res.Code, res.Body)
		}
	}
	if n := ts.eventCount(); n != 0 {
		t.Fatalf("%d events written", n)
	}
}

func TestParseStep(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"26h": 26 * time.Hour, "90m": 90 * time.Minute, "45d": 45 * 24 * time.Hour, "1d2h": 26 * time.Hour, "1d30m": 24*time.Hour + 30*time.Minute,
	} {
		if got, err := parseStep(in); err != nil || got != want {
			t.Errorf("parseStep(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1d-2h", "-1h", "0d", "1.5d", "1w"} {
		if got, err := parseStep(in); err == nil {
			t.Errorf("parseStep(%q) = %s, want an error", in, got)
		}
	}
}

// postClockExamples posts the document's examples of POST /v1/admin/clock
// to a sandbox service, which alone answers them with the documented 200,
// and marks them posted.
func postClockExamples(t *testing.T, examples map[string]requestExample, posted map[string]bool) {
	t.Helper()
	ts, _, _ := sandboxServer(t)
	for _, name := range []string{"advance", "to"} {
		key := "POST /v1/admin/clock example " + name
		ex, ok := examples[key]
		if !ok {
			t.Fatalf("the document has no example %s", key)
		}
		posted[key] = true
		if res := ts.postExample(ex, nil, ex.value); res.Code != ex.success {
			t.Fatalf("%s: %d, documented %d\n%s", ex, res.Code, ex.success, res.Body)
		}
	}
}
