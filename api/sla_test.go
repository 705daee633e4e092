package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
)

// slaClock is the test's "now" for the write side.
type slaClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *slaClock) get() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *slaClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// withPolicyLedger makes the write side decide under the embedded default
// policy (the one the read models use when none is given) at the test's clock.
func withPolicyLedger(t *testing.T, clock *slaClock) testOption {
	return func(w *testWiring) {
		var store eventstore.Store
		prevStore, prevConfig := w.ledgerStore, w.config
		w.ledgerStore = func(s eventstore.Store) eventstore.Store {
			store = prevStore(s)
			return store
		}
		w.config = func(c *Config) {
			if prevConfig != nil {
				prevConfig(c)
			}
			l, err := ledger.New(store, ledger.Config{Clock: clock.get, Policies: policy.Default()})
			if err != nil {
				t.Fatal(err)
			}
			c.Ledger = l
		}
	}
}

func sofiaTime(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func laptopBody(purchased string) map[string]any {
	b := registerBody()
	b["purchase_date"] = purchased
	return b
}

func TestSLATimersAPI(t *testing.T) {
	clock := &slaClock{}
	clock.set(sofiaTime(t, "2026-03-09 10:00")) // Monday, in working hours
	ts := newTestServer(t, withPolicyLedger(t, clock))
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, laptopBody("2026-01-10"))
	if res.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	claim := res.json(t)
	id, pos := claim["id"].(string), claim["position"].(string)
	if e, _ := claim["eligibility"].(map[string]any); e["covered"] != true || e["coverage"] != "manufacturer" || e["until"] != "2028-01-09" {
		t.Errorf("eligibility %v", claim["eligibility"])
	}

	timers := func(query string) map[string]any {
		t.Helper()
		res := ts.do(http.MethodGet, "/v1/sla/timers?"+query+"&min_position="+pos, RoleTechnician, nil)
		if res.Code != http.StatusOK {
			t.Fatalf("GET timers?%s: %d %s", query, res.Code, res.Body)
		}
		return res.json(t)
	}
	clocksIn := func(page map[string]any) []string {
		var out []string
		for _, it := range page["items"].([]any) {
			m := it.(map[string]any)
			out = append(out, m["clock"].(string)+":"+m["state"].(string))
		}
		return out
	}
	at := func(s string) string { return url.QueryEscape(sofiaTime(t, s).Format(time.RFC3339)) }

	// First response due at 12:00 (2 working hours), due soon from 11:36; the
	// decision due Wednesday 10:00.
	if got := clocksIn(timers("at=" + at("2026-03-09 10:30"))); !slices.Equal(got, []string{"first_response:running", "decision:running"}) {
		t.Errorf("at 10:30: %v", got)
	}
	if got := clocksIn(timers("state=due_soon&at=" + at("2026-03-09 11:40"))); !slices.Equal(got, []string{"first_response:due_soon"}) {
		t.Errorf("due soon at 11:40: %v", got)
	}
	page := timers("state=breached&clock=first_response,decision&at=" + at("2026-03-09 12:30"))
	items := page["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("breached at 12:30: %v", page)
	}
	b := items[0].(map[string]any)
	if b["claim_id"] != id || b["overrun"] != "30m0s" || b["due_at"] != "2026-03-09T12:00:00+02:00" || b["number"] == "" || b["policy_version"] != "seeds-1" {
		t.Errorf("breached timer %v", b)
	}
	if got := clocksIn(timers("clock=decision&state=running,due_soon&at=" + at("2026-03-11 09:00"))); !slices.Equal(got, []string{"decision:due_soon"}) {
		t.Errorf("decision on Wednesday 09:00: %v", got)
	}
	if got := timers("state=paused"); len(got["items"].([]any)) != 0 {
		t.Errorf("paused clocks: %v", got)
	}

	// The claim view shows the clocks as they are now (the real now: long after these).
	view := ts.do(http.MethodGet, "/v1/claims/"+id+"?min_position="+pos, RoleFinance, nil).json(t)
	clocks, _ := view["clocks"].([]any)
	if len(clocks) != 2 || clocks[0].(map[string]any)["clock"] != "first_response" || clocks[0].(map[string]any)["state"] != "breached" {
		t.Errorf("claim view clocks %v", view["clocks"])
	}

	t.Run("pages", func(t *testing.T) {
		first := timers("limit=1&at=" + at("2026-03-09 10:30"))
		cursor, _ := first["next_cursor"].(string)
		if len(first["items"].([]any)) != 1 || cursor == "" {
			t.Fatalf("first page %v", first)
		}
		second := timers("limit=1&cursor=" + url.QueryEscape(cursor) + "&at=" + at("2026-03-09 10:30"))
		if got := clocksIn(second); !slices.Equal(got, []string{"decision:running"}) || second["next_cursor"] != nil {
			t.Errorf("second page %v", second)
		}
	})

	t.Run("who may read", func(t *testing.T) {
		for role, want := range map[Role]int{RoleAgent: 200, RoleTechnician: 200, RoleAuditor: 200, RoleAdmin: 200, RoleFinance: 403, "": 401} {
			if got := ts.do(http.MethodGet, "/v1/sla/timers", role, nil).Code; got != want {
				t.Errorf("%q: %d, want %d", role, got, want)
			}
		}
		if !Allowed(RoleAuditor, PermReadSLA) || Allowed(RoleFinance, PermReadSLA) {
			t.Errorf("permission map")
		}
	})

	t.Run("400", func(t *testing.T) {
		for query, slug := range map[string]string{
			"colour=red":                      "unknown-parameter",
			"state=running&state=breached":    "repeated-parameter",
			"state=late":                      "invalid-parameter",
			"clock=lunch":                     "invalid-parameter",
			"at=yesterday":                    "invalid-parameter",
			"at=3000-01-01T00:00:00Z":         "invalid-parameter",
			"limit=0":                         "invalid-parameter",
			"limit=201":                       "invalid-parameter",
			"cursor=not-a-cursor":             "invalid-parameter",
			"min_position=seven":              "invalid-position",
			"clock=decision,shipment_window,": "",
		} {
			res := ts.do(http.MethodGet, "/v1/sla/timers?"+query, RoleAgent, nil)
			if slug == "" {
				if res.Code != http.StatusOK {
					t.Errorf("%s: %d %s", query, res.Code, res.Body)
				}
				continue
			}
			if res.Code != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") ||
				res.json(t)["type"] != "urn:rmaledger:problem:"+slug {
				t.Errorf("%s: %d %s, want 400 %s", query, res.Code, res.Body, slug)
			}
		}
	})
}

func TestEligibilityAPI(t *testing.T) {
	clock := &slaClock{}
	clock.set(sofiaTime(t, "2026-03-09 10:00"))
	ts := newTestServer(t, withPolicyLedger(t, clock))
	authorize := map[string]any{"service_center": map[string]any{"name": "Service Sofia", "address": "1 Vitosha Blvd"}}

	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, laptopBody("2023-01-10"))
	if res.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	claim := res.json(t)
	id := claim["id"].(string)
	if e, _ := claim["eligibility"].(map[string]any); e["covered"] != false || e["reason_code"] != "warranty_expired" || e["until"] != "2025-01-09" {
		t.Errorf("eligibility %v", claim["eligibility"])
	}
	before := ts.eventCount()
	res = ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/authorize", RoleAgent, authorize)
	if p := res.json(t); res.Code != http.StatusUnprocessableEntity || p["type"] != "urn:rmaledger:problem:not-covered" || !strings.Contains(p["detail"].(string), "warranty_expired") {
		t.Errorf("authorize an expired claim: %d %s", res.Code, res.Body)
	}
	if ts.eventCount() != before {
		t.Errorf("a refused authorization wrote an event")
	}
	authorize["paid_repair"] = true
	res = ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/authorize", RoleAgent, authorize)
	if a, _ := res.json(t)["authorization"].(map[string]any); res.Code != http.StatusOK || a["paid_repair"] != true {
		t.Errorf("authorize as paid repair: %d %s", res.Code, res.Body)
	}

	// A certificate shown at registration covers it; malformed evidence is 422 with its fields.
	body := laptopBody("2023-01-10")
	body["coverages"] = []map[string]any{{"kind": "extended", "reference": "EW-9", "purchased_on": "2023-01-10", "months": 48}}
	if e, _ := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body).json(t)["eligibility"].(map[string]any); e["covered"] != true || e["coverage"] != "extended" || e["reference"] != "EW-9" {
		t.Errorf("with an extended warranty: %v", e)
	}
	body["coverages"] = []map[string]any{{"kind": "lifetime", "reference": "X", "purchased_on": "2023-01-10"}}
	body["product"].(map[string]any)["condition"] = "second-hand"
	res = ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "coverages[0].kind") || !strings.Contains(string(res.Body), "product.condition") {
		t.Errorf("bad evidence: %d %s", res.Code, res.Body)
	}
	body["coverages"] = []map[string]any{{"kind": "extended", "reference": "X", "purchased_on": "2023-01-10", "months": "48"}}
	if res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body); res.Code != http.StatusBadRequest || res.json(t)["type"] != "urn:rmaledger:problem:wrong-type" {
		t.Errorf("months as a string: %d %s", res.Code, res.Body)
	}
	// The timer process's actions are not HTTP actions.
	if res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/escalate-repair", RoleAdmin, map[string]any{"due_at": "2026-03-01T00:00:00Z"}); res.Code != http.StatusNotFound {
		t.Errorf("escalate-repair over HTTP: %d %s", res.Code, res.Body)
	}
}
