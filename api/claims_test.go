package api

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// lifecycle is one claim from registration to closure through a warranty
// repair: the README's walk-through.
var lifecycle = []struct {
	action string
	body   any
	status string
}{
	{"authorize", map[string]any{"service_center": map[string]any{"name": "Sofia service center", "address": "1 Vitosha Blvd, Sofia", "country": "BG"}, "documents_requested": []string{"receipt copy"}}, "authorized"},
	{"receive-documents", map[string]any{"documents": []string{"receipt copy"}}, "authorized"},
	{"record-customer-shipment", map[string]any{"carrier": "Speedy", "tracking_number": "SP123"}, "in_transit"},
	{"receive", map[string]any{"condition": "scratched lid", "accessories": []string{"charger"}, "seals_intact": true, "received_by": "tech-1"}, "received"},
	{"diagnose", map[string]any{"outcome": "defect_confirmed", "findings": "dead power controller"}, "diagnosed"},
	{"start-repair", map[string]any{"where": "own"}, "in_repair"},
	{"add-note", map[string]any{"text": "parts ordered", "visibility": "customer"}, "in_repair"},
	{"complete-repair", map[string]any{"work_done": "replaced power controller", "parts": []string{"PWR-CTRL-7"}}, "resolved"},
	{"ship-return", map[string]any{"carrier": "Speedy", "tracking_number": "SP999"}, "return_shipped"},
	{"confirm-delivery", map[string]any{"signed_by": "Ivan Petrov"}, "delivered"},
	{"close", map[string]any{"reason_code": "completed", "reason": "repaired and delivered"}, "closed"},
}

func TestClaimLifecycleOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, registerBody())
	if res.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	claim := res.json(t)
	id := claim["id"].(string)
	if !regexp.MustCompile(`^RMA-\d{4}-\d{6}$`).MatchString(claim["number"].(string)) {
		t.Errorf("number %q is not like RMA-2026-000042", claim["number"])
	}
	if claim["status"] != "registered" || claim["version"] != 1.0 {
		t.Errorf("after register: status %v version %v", claim["status"], claim["version"])
	}
	if got := res.Header.Get("Location"); got != "/v1/claims/"+id {
		t.Errorf("Location = %q", got)
	}
	if res.Header.Get("ETag") != `"1"` {
		t.Errorf("ETag = %q, want \"1\"", res.Header.Get("ETag"))
	}
	lastPosition := claim["position"].(string)
	for i, step := range lifecycle {
		got := ts.act(id, step.action, step.body)
		if got["status"] != step.status {
			t.Fatalf("%s: status %v, want %s", step.action, got["status"], step.status)
		}
		if want := float64(i + 2); got["version"] != want {
			t.Fatalf("%s: version %v, want %v", step.action, got["version"], want)
		}
		if got["position"] == lastPosition || got["position"] == "" {
			t.Fatalf("%s: position %v did not advance from %v", step.action, got["position"], lastPosition)
		}
		lastPosition = got["position"].(string)
	}

	res = ts.do(http.MethodGet, "/v1/claims/"+id+"?min_position="+lastPosition, RoleAuditor, nil)
	if res.Code != http.StatusOK || res.json(t)["status"] != "closed" {
		t.Fatalf("get: %d %s", res.Code, res.Body)
	}
	if want := fmt.Sprintf(`"%d"`, len(lifecycle)+1); res.Header.Get("ETag") != want {
		t.Errorf("ETag = %s, want %s", res.Header.Get("ETag"), want)
	}

	res = ts.do(http.MethodGet, "/v1/claims/"+id+"/events", RoleAuditor, nil)
	if res.Code != http.StatusOK {
		t.Fatalf("events: %d %s", res.Code, res.Body)
	}
	events := res.json(t)["events"].([]any)
	if len(events) != len(lifecycle)+1 {
		t.Fatalf("%d events, want %d", len(events), len(lifecycle)+1)
	}
	first := events[0].(map[string]any)
	if first["type"] != "claim.registered.v1" || first["revision"] != 0.0 {
		t.Errorf("first event: %v", first)
	}
	meta := first["metadata"].(map[string]any)
	if !strings.HasPrefix(meta["actor"].(string), "agent-") || meta["role"] != "agent" || meta["correlation_id"] == "" || meta["policy_version"] == "" {
		t.Errorf("metadata: %v", meta)
	}
	if strings.Contains(string(res.Body), ts.keys[RoleAgent]) {
		t.Error("an API key appears in the event history")
	}
	for i, e := range events {
		if e.(map[string]any)["revision"] != float64(i) {
			t.Errorf("event %d has revision %v", i, e.(map[string]any)["revision"])
		}
	}
}

// TestRejectedRequests groups every refusal by status and checks each writes
// nothing and answers a problem document with a stable type.
func TestRejectedRequests(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	actionPath := "/v1/claims/" + id + "/actions/"
	missingPhone := registerBody()
	missingPhone["customer"] = map[string]any{"name": "No Phone"}
	badMoney := registerBody()
	badMoney["price"] = map[string]any{"amount": "1e3", "currency": "EUR"}
	floatMoney := registerBody()
	floatMoney["price"] = map[string]any{"amount": 12.5, "currency": "EUR"}
	unknownCurrency := registerBody()
	unknownCurrency["price"] = map[string]any{"amount": "10.00", "currency": "XXQ"}

	cases := []struct {
		name    string
		method  string
		path    string
		role    Role
		body    any
		headers []string
		status  int
		typ     string
	}{
		{"malformed JSON", "POST", "/v1/claims", RoleAgent, `{"customer": `, nil, 400, "malformed-json"},
		{"not an object", "POST", "/v1/claims", RoleAgent, `[1,2]`, nil, 400, "wrong-type"},
		{"unknown field", "POST", "/v1/claims", RoleAgent, `{"customer":{"name":"A","phone":"+359888123456"},"colour":"red"}`, nil, 400, "unknown-field"},
		{"wrong type", "POST", "/v1/claims", RoleAgent, `{"defect": 42}`, nil, 400, "wrong-type"},
		{"trailing data", "POST", "/v1/claims", RoleAgent, `{} {}`, nil, 400, "malformed-json"},
		{"empty registration", "POST", "/v1/claims", RoleAgent, ``, nil, 400, "malformed-json"},
		{"money as a float", "POST", "/v1/claims", RoleAgent, floatMoney, nil, 422, "validation"},
		{"bad If-Match", "POST", actionPath + "authorize", RoleAgent, `{}`, []string{"If-Match", "abc"}, 400, "invalid-if-match"},
		{"no key", "POST", "/v1/claims", "", registerBody(), nil, 401, "unauthorized"},
		{"wrong key", "GET", "/v1/claims/" + id, "", nil, []string{"Authorization", "Bearer not-a-key-at-all"}, 401, "unauthorized"},
		{"finance cannot register", "POST", "/v1/claims", RoleFinance, registerBody(), nil, 403, "forbidden"},
		{"auditor cannot act", "POST", actionPath + "reject", RoleAuditor, `{"reason_code":"x","reason":"y"}`, nil, 403, "forbidden"},
		{"no such claim", "GET", "/v1/claims/7b0c52a2-55d5-4c1e-9f0e-6a3a3bd5d8a1", RoleAgent, nil, nil, 404, "not-found"},
		{"not a claim id", "GET", "/v1/claims/42", RoleAgent, nil, nil, 404, "not-found"},
		{"action on missing claim", "POST", "/v1/claims/7b0c52a2-55d5-4c1e-9f0e-6a3a3bd5d8a1/actions/withdraw", RoleAgent, `{"reason":"x"}`, nil, 404, "not-found"},
		{"unknown action", "POST", actionPath + "teleport", RoleAgent, `{}`, nil, 404, "unknown-action"},
		{"illegal transition", "POST", actionPath + "complete-repair", RoleAgent, `{"work_done":"x"}`, nil, 409, "invalid-transition"},
		{"stale If-Match", "POST", actionPath + "add-note", RoleAgent, `{"text":"x","visibility":"internal"}`, []string{"If-Match", `"7"`}, 412, "stale-version"},
		{"oversize body", "POST", "/v1/claims", RoleAgent, `{"defect":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, "body-too-large"},
		{"wrong media type", "POST", "/v1/claims", RoleAgent, registerBody(), []string{"Content-Type", "text/plain"}, 415, "unsupported-media-type"},
		{"missing phone", "POST", "/v1/claims", RoleAgent, missingPhone, nil, 422, "validation"},
		{"exponent money", "POST", "/v1/claims", RoleAgent, badMoney, nil, 422, "validation"},
		{"unknown currency", "POST", "/v1/claims", RoleAgent, unknownCurrency, nil, 422, "validation"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.name), func(t *testing.T) {
			before := ts.eventCount()
			res := ts.do(tc.method, tc.path, tc.role, tc.body, tc.headers...)
			if res.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Code, tc.status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			p := res.json(t)
			if p["type"] != "urn:rmaledger:problem:"+tc.typ || p["status"] != float64(tc.status) || p["title"] == "" {
				t.Errorf("problem %v, want type %s", p, tc.typ)
			}
			if p["request_id"] == "" || p["request_id"] == nil {
				t.Errorf("problem has no request_id: %v", p)
			}
			if after := ts.eventCount(); after != before {
				t.Errorf("a refused request wrote %d events", after-before)
			}
		})
	}
}

func TestIllegalTransitionNamesStateAndAllowedActions(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/ship-return", RoleAgent, map[string]any{"carrier": "DHL", "tracking_number": "1"})
	if res.Code != http.StatusConflict {
		t.Fatalf("status %d: %s", res.Code, res.Body)
	}
	p := res.json(t)
	if p["current_status"] != "registered" {
		t.Errorf("current_status = %v", p["current_status"])
	}
	allowed := fmt.Sprint(p["allowed_actions"])
	for _, a := range []string{"authorize", "reject", "redirect-to-service-center"} {
		if !strings.Contains(allowed, a) {
			t.Errorf("allowed_actions %s lacks %s", allowed, a)
		}
	}
	if strings.Contains(allowed, "ship-return") {
		t.Errorf("allowed_actions %s lists the refused action", allowed)
	}
}

func TestIdempotencyKey(t *testing.T) {
	ts := newTestServer(t)
	first := ts.do(http.MethodPost, "/v1/claims", RoleAgent, registerBody(), "Idempotency-Key", "reg-1")
	if first.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	count := ts.eventCount()
	again := ts.do(http.MethodPost, "/v1/claims", RoleAgent, registerBody(), "Idempotency-Key", "reg-1")
	if again.Code != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v %s", again.Code, again.Header, again.Body)
	}
	if string(again.Body) != string(first.Body) {
		t.Errorf("retry answered differently:\n%s\n%s", first.Body, again.Body)
	}
	if ts.eventCount() != count {
		t.Error("retry wrote events")
	}
	other := registerBody()
	other["defect"] = "another defect"
	if res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, other, "Idempotency-Key", "reg-1"); res.Code != http.StatusUnprocessableEntity {
		t.Errorf("key reused for another body: %d %s", res.Code, res.Body)
	}

	id := first.json(t)["id"].(string)
	body := map[string]any{"text": "called the customer", "visibility": "internal"}
	a := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, body, "Idempotency-Key", "note-1")
	b := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, body, "Idempotency-Key", "note-1")
	if a.Code != 200 || b.Code != 200 || string(a.Body) != string(b.Body) {
		t.Fatalf("action retry: %d %d\n%s\n%s", a.Code, b.Code, a.Body, b.Body)
	}
	if v := ts.do(http.MethodGet, "/v1/claims/"+id, RoleAgent, nil, "Min-Position", b.json(t)["position"].(string)).json(t)["version"]; v != 2.0 {
		t.Errorf("version after a retried note = %v, want 2", v)
	}
}

// TestConcurrentIfMatch: two agents act on one claim version at once; one
// wins, the other is told its version is stale, and nothing is lost.
func TestConcurrentIfMatch(t *testing.T) {
	ts := newTestServer(t)
	for round := 0; round < 20; round++ {
		id := ts.register()
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := map[string]any{"text": fmt.Sprintf("note %d", i), "visibility": "internal"}
				codes[i] = ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, body, "If-Match", `"1"`).Code
			}()
		}
		wg.Wait()
		if !(codes[0] == 200 && codes[1] == 412 || codes[0] == 412 && codes[1] == 200) {
			t.Fatalf("round %d: codes %v, want one 200 and one 412", round, codes)
		}
		events := ts.do(http.MethodGet, "/v1/claims/"+id+"/events", RoleAgent, nil).json(t)["events"].([]any)
		if len(events) != 2 {
			t.Fatalf("round %d: %d events, want 2", round, len(events))
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := ts.do(http.MethodGet, path, "", nil); res.Code != http.StatusOK {
			t.Errorf("%s: %d", path, res.Code)
		}
	}
	res := ts.do(http.MethodGet, "/openapi.yaml", "", nil)
	if res.Code != http.StatusOK || !strings.Contains(string(res.Body), "openapi: 3") {
		t.Errorf("openapi: %d", res.Code)
	}
	ts.register()
	metrics := ts.do(http.MethodGet, "/metrics", "", nil)
	if !strings.Contains(string(metrics.Body), `rmaledger_http_requests_total{method="POST",route="/v1/claims",status="201"} 1`) {
		t.Errorf("metrics lack the registration:\n%s", metrics.Body)
	}
}
