package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/payments"
)

const testWebhookSecret = "whsec_api_test"

// paymentsServer is the test server with online payment through provider, made over the
// server's own ledger; it returns the ledger too.
func paymentsServer(t *testing.T, provider func(t *testing.T) payments.Provider) (*testServer, *ledger.Service) {
	t.Helper()
	var service *ledger.Service
	ts := newTestServer(t, func(w *testWiring) {
		w.config = func(c *Config) {
			service = c.Ledger
			p, err := payments.New(payments.Config{Ledger: c.Ledger, Provider: provider(t)})
			if err != nil {
				t.Fatal(err)
			}
			c.Payments = p
		}
	})
	return ts, service
}

func stripeProvider(t *testing.T) payments.Provider {
	p, err := payments.NewStripe(payments.StripeConfig{SecretKey: "sk_test_unused", WebhookSecret: testWebhookSecret})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sandboxProvider(t *testing.T) payments.Provider {
	p, err := payments.NewSandbox(payments.SandboxConfig{BaseURL: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// claimWithEstimate registers a paid-repair claim with an estimate of 75.00 EUR, accepted
// when accept is true, and returns its id.
func claimWithEstimate(t *testing.T, service *ledger.Service, accept bool) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	staff := ledger.Request{Actor: ledger.Actor{Name: "agent-test", Role: "agent"}}
	money := func(a string) domain.Money { m, _ := domain.ParseMoney(a, "EUR"); return m }
	purchased, _ := domain.ParseDate("2026-01-15")
	res, err := service.Register(ctx, &domain.RegisterClaim{
		Customer: domain.Customer{Name: "Ivan Petrov", Phone: "+359 88 123 4567"}, Product: domain.Product{Category: "laptop", Serial: "SN-1"},
		PurchaseDate: purchased, ProofOfPurchase: &domain.ProofOfPurchase{Kind: "receipt", Reference: "A-1"}, Price: money("499"), Defect: "no power",
	}, staff)
	if err != nil {
		t.Fatal(err)
	}
	steps := []domain.Command{
		&domain.AuthorizeClaim{PaidRepair: true, ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Address: "1 Tsarigradsko shose"}},
		&domain.IssueEstimate{DamageLevel: 2, Parts: money("40"), Labour: money("25"), Shipping: money("10")},
	}
	if accept {
		steps = append(steps, &domain.AcceptEstimate{})
	}
	for _, cmd := range steps {
		if _, err := service.Execute(ctx, res.Claim.ID, cmd, staff); err != nil {
			t.Fatal(err)
		}
	}
	return res.Claim.ID
}

// checkoutEvent is a Stripe checkout.session.completed event for the claim, as
// openapi.yaml's example shows it, with the session's fields replaced by set.
func checkoutEvent(t *testing.T, claim uuid.UUID, set map[string]any) []byte {
	t.Helper()
	session := map[string]any{
		"id": "cs_test_1", "object": "checkout.session", "mode": "payment", "status": "complete", "payment_status": "paid",
		"client_reference_id": claim.String(), "amount_total": 7500, "currency": "eur", "payment_intent": "pi_test_1",
	}
	event := map[string]any{"id": "evt_test_1", "object": "event", "type": "checkout.session.completed", "created": time.Now().Unix(),
		"api_version": "2025-08-27.basil", "data": map[string]any{"object": session}}
	for k, v := range set {
		if k == "type" {
			event[k] = v
		} else {
			session[k] = v
		}
	}
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stripeSignature is Stripe's documented scheme: t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<body>")).
func stripeSignature(secret string, at time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", at.Unix(), body)
	return fmt.Sprintf("t=%d,v1=%s", at.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

func (ts *testServer) webhook(provider string, body []byte, signature string) response {
	ts.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/payments/"+provider+"/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	rec := httptest.NewRecorder()
	ts.echo.ServeHTTP(rec, req)
	return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func TestPaymentRequests(t *testing.T) {
	ts, service := paymentsServer(t, sandboxProvider)
	accepted := claimWithEstimate(t, service, true)
	issued := claimWithEstimate(t, service, false)
	path := func(id uuid.UUID) string { return "/v1/claims/" + id.String() + "/payment-requests" }
	before := ts.eventCount()

	for _, role := range []Role{RoleAgent, RoleFinance} {
		res := ts.do(http.MethodPost, path(accepted), role, map[string]any{"return_url": "https://shop.example/c/1"})
		if res.Code != http.StatusCreated {
			t.Fatalf("as %s: %d %s", role, res.Code, res.Body)
		}
		if u, _ := res.json(t)["url"].(string); !strings.HasPrefix(u, "http://127.0.0.1:8080"+payments.SandboxCheckoutPath) {
			t.Errorf("as %s: url %q, want the sandbox's checkout page", role, u)
		}
	}
	problems := []struct {
		name   string
		path   string
		body   any
		status int
		slug   string
	}{
		{"estimate not accepted", path(issued), map[string]any{"return_url": "https://shop.example/"}, http.StatusConflict, "nothing-to-pay"},
		{"unknown claim", path(uuid.New()), map[string]any{"return_url": "https://shop.example/"}, http.StatusNotFound, "not-found"},
		{"return URL not absolute", path(accepted), map[string]any{"return_url": "/c/1"}, http.StatusUnprocessableEntity, "validation"},
		{"no return URL and no default", path(accepted), nil, http.StatusUnprocessableEntity, "validation"},
		{"unknown field", path(accepted), map[string]any{"amount": "1.00"}, http.StatusBadRequest, ""},
		{"malformed JSON", path(accepted), `{"return_url":`, http.StatusBadRequest, "malformed-json"},
		{"malformed claim id", "/v1/claims/nope/payment-requests", nil, http.StatusNotFound, "not-found"},
	}
	for _, p := range problems {
		t.Run(p.name, func(t *testing.T) {
			res := ts.do(http.MethodPost, p.path, RoleAgent, p.body)
			if res.Code != p.status || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s, want a %d problem", res.Code, res.Body, p.status)
			}
			if p.slug != "" && res.json(t)["type"] != "urn:rmaledger:problem:"+p.slug {
				t.Errorf("type %v, want %s", res.json(t)["type"], p.slug)
			}
		})
	}
	if after := ts.eventCount(); after != before {
		t.Errorf("payment requests wrote %d events", after-before)
	}

	// Without a provider, online payment is not offered.
	plain := newTestServer(t)
	res := plain.do(http.MethodPost, path(accepted), RoleAgent, map[string]any{"return_url": "https://shop.example/"})
	if res.Code != http.StatusConflict || res.json(t)["type"] != "urn:rmaledger:problem:online-payment-not-offered" {
		t.Errorf("without a provider: %d %s", res.Code, res.Body)
	}
	if res := plain.webhook("stripe", checkoutEvent(t, accepted, nil), "t=1,v1=00"); res.Code != http.StatusNotFound {
		t.Errorf("webhook without a provider: %d %s", res.Code, res.Body)
	}
}

func TestPaymentWebhook(t *testing.T) {
	ts, service := paymentsServer(t, stripeProvider)
	claim := claimWithEstimate(t, service, true)
	issued := claimWithEstimate(t, service, false)
	good := checkoutEvent(t, claim, nil)
	now := time.Now()
	problems := []struct {
		name      string
		provider  string
		body      []byte
		signature string
		status    int
		slug      string
	}{
		{"forged signature", "stripe", good, stripeSignature("whsec_guess", now, good), http.StatusBadRequest, "webhook-signature-invalid"},
		{"no signature", "stripe", good, "", http.StatusBadRequest, "webhook-signature-invalid"},
		{"stale signature", "stripe", good, stripeSignature(testWebhookSecret, now.Add(-10*time.Minute), good), http.StatusBadRequest, "webhook-signature-expired"},
		{"unknown provider", "paypal", good, stripeSignature(testWebhookSecret, now, good), http.StatusNotFound, "unknown-payment-provider"},
		{"unknown claim", "stripe", checkoutEvent(t, uuid.New(), nil), "", http.StatusUnprocessableEntity, "payment-unknown-claim"},
		{"amount not due", "stripe", checkoutEvent(t, claim, map[string]any{"amount_total": 5000}), "", http.StatusUnprocessableEntity, "payment-amount-mismatch"},
		{"currency not the estimate's", "stripe", checkoutEvent(t, claim, map[string]any{"currency": "usd"}), "", http.StatusUnprocessableEntity, "payment-currency-mismatch"},
		{"estimate not accepted", "stripe", checkoutEvent(t, issued, nil), "", http.StatusConflict, "nothing-to-pay"},
		{"no claim id", "stripe", checkoutEvent(t, claim, map[string]any{"client_reference_id": "RMA-1"}), "", http.StatusBadRequest, "webhook-event-malformed"},
	}
	before := ts.eventCount()
	for _, p := range problems {
		t.Run(p.name, func(t *testing.T) {
			sig := p.signature
			if sig == "" && p.name != "no signature" {
				sig = stripeSignature(testWebhookSecret, now, p.body)
			}
			res := ts.webhook(p.provider, p.body, sig)
			if res.Code != p.status || res.Header.Get("Content-Type") != "application/problem+json" || res.json(t)["type"] != "urn:rmaledger:problem:"+p.slug {
				t.Errorf("%d %s, want a %d %s problem", res.Code, res.Body, p.status, p.slug)
			}
		})
	}
	unrelated := checkoutEvent(t, claim, map[string]any{"type": "charge.refunded"})
	if res := ts.webhook("stripe", unrelated, stripeSignature(testWebhookSecret, now, unrelated)); res.Code != http.StatusOK || res.json(t)["result"] != "ignored" {
		t.Errorf("unrelated event: %d %s, want 200 ignored", res.Code, res.Body)
	}
	if after := ts.eventCount(); after != before {
		t.Fatalf("refused webhooks wrote %d events", after-before)
	}

	for i, want := range []string{"recorded", "already_recorded"} {
		res := ts.webhook("stripe", good, stripeSignature(testWebhookSecret, time.Now(), good))
		if res.Code != http.StatusOK || res.json(t)["result"] != want || res.json(t)["payment_id"] != "pi_test_1" {
			t.Errorf("delivery %d: %d %s, want 200 %s", i+1, res.Code, res.Body, want)
		}
	}
	if after := ts.eventCount(); after != before+1 {
		t.Errorf("two deliveries wrote %d events, want 1", after-before)
	}
	state, _, _ := service.Claim(context.Background(), claim)
	if state.Status != domain.StatusPaid || state.Payments[0].Provider != "stripe" {
		t.Errorf("status %s payments %+v", state.Status, state.Payments)
	}
}

// postPaymentExamples posts the document's payment examples to a service with the sandbox
// provider: the payment request for a claim with an accepted estimate, then the webhook's
// example event for that claim, signed as the provider signs it.
func postPaymentExamples(t *testing.T, examples map[string]requestExample, posted map[string]bool) {
	t.Helper()
	ts, service := paymentsServer(t, func(t *testing.T) payments.Provider {
		p, err := payments.NewSandbox(payments.SandboxConfig{BaseURL: "http://127.0.0.1:8080", Secret: testWebhookSecret})
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
	claim := claimWithEstimate(t, service, true)
	params := map[string]string{"id": claim.String()}

	key := "POST /v1/claims/{id}/payment-requests"
	ex, ok := examples[key]
	if !ok {
		t.Fatalf("the document has no example %s", key)
	}
	posted[key] = true
	if res := ts.postExample(ex, params, ex.value); res.Code != ex.success {
		t.Fatalf("%s: %d, documented %d\n%s", ex, res.Code, ex.success, res.Body)
	}

	key = "POST /v1/payments/{provider}/webhook"
	ex, ok = examples[key]
	if !ok {
		t.Fatalf("the document has no example %s", key)
	}
	posted[key] = true
	event := cloneExample(t, ex.value).(map[string]any)
	event["data"].(map[string]any)["object"].(map[string]any)["client_reference_id"] = claim.String()
	params = map[string]string{"provider": "sandbox"}
	req := ts.exampleRequest(ex, params, event)
	body := encodeExample(t, ex.mediaType, event)
	req.Header.Set("Stripe-Signature", stripeSignature(testWebhookSecret, time.Now(), body))
	if err := openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: ex.route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}); err != nil {
		t.Errorf("%s: the request does not match the document: %v", ex, err)
	}
	req = ts.exampleRequest(ex, params, event)
	req.Header.Set("Stripe-Signature", stripeSignature(testWebhookSecret, time.Now(), body))
	rec := httptest.NewRecorder()
	ts.echo.ServeHTTP(rec, req)
	if rec.Code != ex.success || !strings.Contains(rec.Body.String(), `"recorded"`) {
		t.Fatalf("%s: %d, documented %d\n%s", ex, rec.Code, ex.success, rec.Body)
	}
}

// TestStaffCannotClaimAProviderConfirmed: the provider fields of a payment are never read from
// a request body, so a person cannot record a payment as if a provider had confirmed it.
func TestStaffCannotClaimAProviderConfirmed(t *testing.T) {
	ts, service := paymentsServer(t, stripeProvider)
	claim := claimWithEstimate(t, service, true)
	before := ts.eventCount()
	for _, field := range []string{"provider", "provider_payment_id"} {
		res := ts.do(http.MethodPost, "/v1/claims/"+claim.String()+"/actions/record-payment", RoleAgent, map[string]any{
			"amount": map[string]any{"amount": "75.00", "currency": "EUR"}, "reference": "pi_forged", "method": "online", field: "stripe",
		})
		if res.Code != http.StatusBadRequest {
			t.Errorf("record-payment with %s: %d %s, want 400", field, res.Code, res.Body)
		}
	}
	if after := ts.eventCount(); after != before {
		t.Errorf("%d events written", after-before)
	}
}
