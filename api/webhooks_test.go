package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify/webhooks"
)

// fakeDeliveries stands in for the outbox: what the routes asked of it.
type fakeDeliveries struct {
	listed   []string
	replayed []string
}

func (f *fakeDeliveries) WebhookDeliveries(_ context.Context, id uuid.UUID, status string, limit int) ([]WebhookDelivery, error) {
	f.listed = append(f.listed, id.String()+" "+status)
	return []WebhookDelivery{{ID: uuid.New(), Kind: "claim.authorized", Status: "failed", Attempts: 7, LastError: "the receiver answered 500", Queued: time.Now()}}, nil
}

func (f *fakeDeliveries) ReplayWebhook(_ context.Context, id uuid.UUID, from eventstore.Position) (int, error) {
	f.replayed = append(f.replayed, id.String()+" from "+from.String())
	return 3, nil
}

// withWebhooks wires a real registry over the test server's store.
func withWebhooks(deliveries WebhookDeliveries) testOption {
	return func(w *testWiring) {
		var store eventstore.Store
		prevStore, prevConfig := w.ledgerStore, w.config
		w.ledgerStore = func(s eventstore.Store) eventstore.Store {
			store = s
			return prevStore(s)
		}
		w.config = func(c *Config) {
			if prevConfig != nil {
				prevConfig(c)
			}
			r, err := webhooks.New(webhooks.Config{Store: store})
			if err != nil {
				panic(err)
			}
			c.Webhooks, c.WebhookDeliveries = r, deliveries
		}
	}
}

func TestWebhookRoutesForAdmins(t *testing.T) {
	deliveries := &fakeDeliveries{}
	ts := newTestServer(t, withWebhooks(deliveries))

	r := ts.do(http.MethodPost, "/v1/webhooks", RoleAdmin, map[string]any{
		"url": "https://erp.partner.example/hooks", "event_types": []string{"claim.authorized", "claim.repair_*"}, "organisation": "acme",
	})
	if r.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Code, r.Body)
	}
	created := r.json(t)
	id, secret := created["id"].(string), created["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || r.Header.Get("Location") != "/v1/webhooks/"+id || created["enabled"] != true {
		t.Fatalf("create answered %s (Location %q)", r.Body, r.Header.Get("Location"))
	}

	r = ts.do(http.MethodGet, "/v1/webhooks", RoleAdmin, nil)
	if r.Code != http.StatusOK || strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), "whsec_") {
		t.Fatalf("list: %d %s (must never show the secret)", r.Code, r.Body)
	}
	if items := r.json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["organisation"] != "acme" {
		t.Fatalf("list: %s", r.Body)
	}
	r = ts.do(http.MethodGet, "/v1/webhooks/"+id, RoleAdmin, nil)
	if r.Code != http.StatusOK || strings.Contains(string(r.Body), "whsec_") || r.json(t)["url"] != "https://erp.partner.example/hooks" {
		t.Fatalf("get: %d %s", r.Code, r.Body)
	}

	r = ts.do(http.MethodPatch, "/v1/webhooks/"+id, RoleAdmin, map[string]any{"enabled": false, "disabled_reason": "migration", "event_types": []string{"claim.closed"}})
	if got := r.json(t); r.Code != http.StatusOK || got["enabled"] != false || got["disabled_reason"] != "migration" || got["event_types"].([]any)[0] != "claim.closed" {
		t.Fatalf("patch: %d %s", r.Code, r.Body)
	}
	r = ts.do(http.MethodPatch, "/v1/webhooks/"+id, RoleAdmin, map[string]any{"enabled": true})
	if r.Code != http.StatusOK || r.json(t)["enabled"] != true {
		t.Fatalf("enable: %d %s", r.Code, r.Body)
	}

	r = ts.do(http.MethodPost, "/v1/webhooks/"+id+"/rotate-secret", RoleAdmin, map[string]any{"overlap_seconds": 3600})
	rotated := r.json(t)
	if r.Code != http.StatusOK || !strings.HasPrefix(rotated["secret"].(string), "whsec_") || rotated["secret"] == secret {
		t.Fatalf("rotate: %d %s", r.Code, r.Body)
	}
	until, _ := time.Parse(time.RFC3339Nano, rotated["previous_secret_valid_until"].(string))
	if d := time.Until(until); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("previous secret valid for %v, asked an hour", d)
	}

	r = ts.do(http.MethodGet, "/v1/webhooks/"+id+"/deliveries?status=failed", RoleAdmin, nil)
	if r.Code != http.StatusOK || len(r.json(t)["items"].([]any)) != 1 || len(deliveries.listed) != 1 || deliveries.listed[0] != id+" failed" {
		t.Fatalf("deliveries: %d %s; outbox asked %v", r.Code, r.Body, deliveries.listed)
	}
	r = ts.do(http.MethodPost, "/v1/webhooks/"+id+"/replay", RoleAdmin, map[string]any{"from": "1042"})
	if r.Code != http.StatusAccepted || r.json(t)["queued"] != float64(3) || len(deliveries.replayed) != 1 || deliveries.replayed[0] != id+" from 1042" {
		t.Fatalf("replay: %d %s; outbox asked %v", r.Code, r.Body, deliveries.replayed)
	}
	r = ts.do(http.MethodPost, "/v1/webhooks/"+id+"/replay", RoleAdmin, map[string]any{"from": 7})
	if r.Code != http.StatusAccepted || deliveries.replayed[1] != id+" from 7" {
		t.Fatalf("replay from a number: %d %s", r.Code, r.Body)
	}

	if r = ts.do(http.MethodDelete, "/v1/webhooks/"+id, RoleAdmin, nil); r.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	r = ts.do(http.MethodGet, "/v1/webhooks/"+id, RoleAdmin, nil)
	if r.Code != http.StatusNotFound || !strings.Contains(string(r.Body), "webhook-not-found") {
		t.Fatalf("get after delete: %d %s", r.Code, r.Body)
	}
}

// TestWebhookRoutesForAdminsAndAuditors: only admins change subscriptions;
// auditors read them and their deliveries; every other role is refused and
// nothing is written.
func TestWebhookRoutesForAdminsAndAuditors(t *testing.T) {
	ts := newTestServer(t, withWebhooks(&fakeDeliveries{}))
	id := ts.do(http.MethodPost, "/v1/webhooks", RoleAdmin, map[string]any{"url": "https://a.example/"}).json(t)["id"].(string)
	for _, role := range []Role{RoleAgent, RoleTechnician, RoleFinance, RoleAuditor} {
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/v1/webhooks", map[string]any{"url": "https://b.example/"}},
			{http.MethodGet, "/v1/webhooks", nil},
			{http.MethodGet, "/v1/webhooks/" + id, nil},
			{http.MethodPatch, "/v1/webhooks/" + id, map[string]any{"enabled": false}},
			{http.MethodPost, "/v1/webhooks/" + id + "/rotate-secret", nil},
			{http.MethodDelete, "/v1/webhooks/" + id, nil},
			{http.MethodGet, "/v1/webhooks/" + id + "/deliveries", nil},
			{http.MethodPost, "/v1/webhooks/" + id + "/replay", map[string]any{"from": "1"}},
		} {
			before := ts.eventCount()
			r := ts.do(req.method, req.path, role, req.body)
			if role == RoleAuditor && req.method == http.MethodGet {
				// Auditors see where claims' facts went, never a secret.
				if r.Code != http.StatusOK || strings.Contains(string(r.Body), "whsec_") {
					t.Errorf("%s %s as an auditor: %d %s", req.method, req.path, r.Code, r.Body)
				}
				continue
			}
			if r.Code != http.StatusForbidden || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s as %s: %d %s", req.method, req.path, role, r.Code, r.Body)
			}
			if ts.eventCount() != before {
				t.Errorf("%s %s as %s wrote events", req.method, req.path, role)
			}
		}
	}
}

func TestWebhookBadInputIsRefusedAndWritesNothing(t *testing.T) {
	ts := newTestServer(t, withWebhooks(&fakeDeliveries{}))
	id := ts.do(http.MethodPost, "/v1/webhooks", RoleAdmin, map[string]any{"url": "https://a.example/"}).json(t)["id"].(string)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"http URL", http.MethodPost, "/v1/webhooks", map[string]any{"url": "http://a.example/"}, 422, "url"},
		{"URL with password", http.MethodPost, "/v1/webhooks", map[string]any{"url": "https://u:p@a.example/"}, 422, "url"},
		{"not a URL", http.MethodPost, "/v1/webhooks", map[string]any{"url": "a.example"}, 422, "url"},
		{"unknown event type", http.MethodPost, "/v1/webhooks", map[string]any{"url": "https://a.example/", "event_types": []string{"claim.teleported"}}, 422, "event_types"},
		{"bad organisation", http.MethodPost, "/v1/webhooks", map[string]any{"url": "https://a.example/", "organisation": "Not Valid"}, 422, "organisation"},
		{"unknown field", http.MethodPost, "/v1/webhooks", map[string]any{"url": "https://a.example/", "secret": "mine"}, 400, ""},
		{"patch unknown type", http.MethodPatch, "/v1/webhooks/" + id, map[string]any{"event_types": []string{"nope"}, "enabled": false}, 422, "event_types"},
		{"patch nothing", http.MethodPatch, "/v1/webhooks/" + id, map[string]any{}, 422, "event_types"},
		{"reason without disabling", http.MethodPatch, "/v1/webhooks/" + id, map[string]any{"disabled_reason": "x"}, 422, "disabled_reason"},
		{"overlap too long", http.MethodPost, "/v1/webhooks/" + id + "/rotate-secret", map[string]any{"overlap_seconds": 99999999}, 422, "overlap_seconds"},
		{"replay from nowhere", http.MethodPost, "/v1/webhooks/" + id + "/replay", map[string]any{"from": "yesterday"}, 422, "from"},
		{"deliveries of a bad status", http.MethodGet, "/v1/webhooks/" + id + "/deliveries?status=lost", nil, 422, "status"},
		{"unknown subscription", http.MethodPatch, "/v1/webhooks/" + uuid.NewString(), map[string]any{"enabled": false}, 404, ""},
		{"not an id", http.MethodGet, "/v1/webhooks/abc", nil, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.eventCount()
			r := ts.do(tc.method, tc.path, RoleAdmin, tc.body)
			if r.Code != tc.status || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s %s, want %d problem+json", r.Code, r.Header.Get("Content-Type"), r.Body, tc.status)
			}
			if tc.field != "" && !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
				t.Fatalf("the problem does not name %s: %s", tc.field, r.Body)
			}
			if after := ts.eventCount(); after != before {
				t.Fatalf("%d events written", after-before)
			}
		})
	}
}

func TestWebhookRoutesWithoutWebhooks(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(http.MethodGet, "/v1/webhooks", RoleAdmin, nil)
	if r.Code != http.StatusNotFound || !strings.Contains(string(r.Body), "webhooks-disabled") {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	ts = newTestServer(t, withWebhooks(nil))
	id := ts.do(http.MethodPost, "/v1/webhooks", RoleAdmin, map[string]any{"url": "https://a.example/"}).json(t)["id"].(string)
	r = ts.do(http.MethodPost, "/v1/webhooks/"+id+"/replay", RoleAdmin, map[string]any{"from": "1"})
	if r.Code != http.StatusNotFound || !strings.Contains(string(r.Body), "webhook-deliveries-unavailable") {
		t.Fatalf("replay without an outbox: %d %s", r.Code, r.Body)
	}
}

// postWebhookExamples posts the webhook routes' examples to a service
// with webhooks.
func postWebhookExamples(t *testing.T, examples map[string]requestExample, posted map[string]bool) {
	t.Helper()
	ts := newTestServer(t, withWebhooks(&fakeDeliveries{}))
	send := func(key string, params map[string]string) map[string]any {
		t.Helper()
		ex, ok := examples[key]
		if !ok {
			t.Fatalf("the document has no example %s", key)
		}
		posted[key] = true
		res := ts.postExample(ex, params, ex.value)
		if res.Code != ex.success {
			t.Fatalf("%s: %d, documented %d\n%s", ex, res.Code, ex.success, res.Body)
		}
		return res.json(t)
	}
	id := send("POST /v1/webhooks", nil)["id"].(string)
	params := map[string]string{"id": id}
	send("PATCH /v1/webhooks/{id}", params)
	send("POST /v1/webhooks/{id}/rotate-secret", params)
	send("POST /v1/webhooks/{id}/replay", params)
}
