package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// acceptedEstimate registers a claim and takes it to an accepted estimate of 75.00 BGN over
// HTTP; it returns the claim's id.
func acceptedEstimate(t *testing.T, s *served) string {
	t.Helper()
	id := s.register(t)["id"].(string)
	for _, step := range []struct{ action, body string }{
		{"authorize", `{"paid_repair":true,"service_center":{"name":"Service Sofia","address":"1 Tsarigradsko shose"}}`},
		{"issue-estimate", `{"damage_level":2,"parts":{"amount":"40.00","currency":"BGN"},"labour":{"amount":"25.00","currency":"BGN"},"shipping":{"amount":"10.00","currency":"BGN"}}`},
		{"accept-estimate", `{}`},
	} {
		if code, body := s.request(t, http.MethodPost, "/v1/claims/"+id+"/actions/"+step.action, agentKey, step.body); code != http.StatusOK {
			t.Fatalf("%s: %d %v", step.action, code, body)
		}
	}
	return id
}

// paidClaim reads the claim once the read model shows it paid (the webhook's answer carries
// no position to wait for), or as it stands after 10 s.
func paidClaim(t *testing.T, s *served, id string) map[string]any {
	t.Helper()
	var claim map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var code int
		if code, claim = s.request(t, http.MethodGet, "/v1/claims/"+id, agentKey, ""); code == http.StatusOK && claim["status"] == "paid" {
			break
		}
	}
	return claim
}

// signStripe is Stripe's documented scheme: t=<unix>,v1=hex(HMAC-SHA256(secret, "<t>.<body>")).
func signStripe(secret string, body []byte) string {
	now := time.Now().Unix()
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", now, body)
	return fmt.Sprintf("t=%d,v1=%s", now, hex.EncodeToString(mac.Sum(nil)))
}

// fakeStripe answers Checkout Session creation as Stripe does, and records the requests.
type fakeStripe struct {
	mu       sync.Mutex
	auth     []string
	requests []url.Values
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.requests = append(f.requests, form)
	f.mu.Unlock()
	if r.URL.Path != "/v1/checkout/sessions" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"id":"cs_test_cmd","object":"checkout.session","url":"https://checkout.stripe.com/c/pay/cs_test_cmd"}`)
}

// TestOnlinePaymentSettings: without payment settings online payment is not offered; the Stripe
// secret key and API base reach Stripe, the success and cancel URLs reach the checkout, and
// the webhook secret decides which webhooks are believed.
func TestOnlinePaymentSettings(t *testing.T) {
	plain := serveInProcess(t, "--data-dir", t.TempDir())
	id := acceptedEstimate(t, plain)
	code, body := plain.request(t, http.MethodPost, "/v1/claims/"+id+"/payment-requests", agentKey, `{"return_url":"https://shop.example/c"}`)
	if code != http.StatusConflict || body["type"] != "urn:rmaledger:problem:online-payment-not-offered" {
		t.Errorf("without payment settings: %d %v", code, body)
	}
	if code, body := plain.request(t, http.MethodPost, "/v1/payments/stripe/webhook", "", `{}`); code != http.StatusNotFound {
		t.Errorf("webhook without payment settings: %d %v", code, body)
	}
	plain.stop()

	stripe := &fakeStripe{}
	api := httptest.NewServer(stripe)
	t.Cleanup(api.Close)
	s := serveInProcess(t, "--data-dir", t.TempDir(),
		"--stripe-secret-key", "sk_test_cmd", "--stripe-webhook-secret", "whsec_cmd", "--stripe-api-base", api.URL,
		"--payment-success-url", "https://shop.example/paid", "--payment-cancel-url", "https://shop.example/back")
	id = acceptedEstimate(t, s)
	code, body = s.request(t, http.MethodPost, "/v1/claims/"+id+"/payment-requests", agentKey, "")
	if code != http.StatusCreated || body["url"] != "https://checkout.stripe.com/c/pay/cs_test_cmd" {
		t.Fatalf("payment request: %d %v\n%s", code, body, s.output)
	}
	stripe.mu.Lock()
	sent, auth := stripe.requests[0], stripe.auth[0]
	stripe.mu.Unlock()
	if auth != "Bearer sk_test_cmd" || sent.Get("success_url") != "https://shop.example/paid" || sent.Get("cancel_url") != "https://shop.example/back" ||
		sent.Get("line_items[0][price_data][unit_amount]") != "7500" || sent.Get("line_items[0][price_data][currency]") != "bgn" || sent.Get("client_reference_id") != id {
		t.Errorf("Stripe was asked with %q for %v", auth, sent)
	}

	event := []byte(fmt.Sprintf(`{"id":"evt_cmd","object":"event","type":"checkout.session.completed","api_version":"2025-08-27.basil",`+
		`"data":{"object":{"id":"cs_test_cmd","object":"checkout.session","payment_status":"paid","client_reference_id":%q,`+
		`"amount_total":7500,"currency":"bgn","payment_intent":"pi_cmd"}}}`, id))
	code, body = s.request(t, http.MethodPost, "/v1/payments/stripe/webhook", "", string(event), "Stripe-Signature", signStripe("whsec_other", event))
	if code != http.StatusBadRequest || body["type"] != "urn:rmaledger:problem:webhook-signature-invalid" {
		t.Errorf("webhook signed with another secret: %d %v", code, body)
	}
	code, body = s.request(t, http.MethodPost, "/v1/payments/stripe/webhook", "", string(event), "Stripe-Signature", signStripe("whsec_cmd", event))
	if code != http.StatusOK || body["result"] != "recorded" {
		t.Fatalf("webhook signed with the configured secret: %d %v\n%s", code, body, s.output)
	}
	if claim := paidClaim(t, s, id); claim["status"] != "paid" {
		t.Errorf("after the webhook: status %v", claim["status"])
	}
	if !strings.Contains(s.output.String(), "online payment offered") || strings.Contains(s.output.String(), "sk_test_cmd") || strings.Contains(s.output.String(), "whsec_cmd") {
		t.Errorf("the log should say payment is offered and never show the secrets:\n%s", s.output)
	}

	// Half a Stripe configuration is refused at start.
	if _, err := runInProcess(t, "serve", "--data-dir", t.TempDir(), "--stripe-secret-key", "sk_test_cmd"); err == nil || !strings.Contains(err.Error(), "stripe-webhook-secret") {
		t.Errorf("a secret key without a webhook secret: %v", err)
	}
}

// TestSandboxPaymentEndToEnd: with --dev and no Stripe settings, a payment link opens the
// sandbox's checkout page served by the service itself; paying records the payment through the
// signed webhook path, once, and finance sees it.
func TestSandboxPaymentEndToEnd(t *testing.T) {
	const financeKey = "finance-key-for-process-tests"
	t.Setenv("RMALEDGER_API_KEYS", testAgentKey+",finance:"+financeKey)
	s := serveInProcess(t, "--data-dir", t.TempDir(), "--dev")
	id := acceptedEstimate(t, s)
	code, body := s.request(t, http.MethodPost, "/v1/claims/"+id+"/payment-requests", agentKey, `{"return_url":"https://shop.example/c/1"}`)
	if code != http.StatusCreated {
		t.Fatalf("payment request: %d %v\n%s", code, body, s.output)
	}
	checkout := body["url"].(string)
	if !strings.HasPrefix(checkout, "http://"+s.addr+"/payments/sandbox/checkout/") {
		t.Fatalf("checkout URL %q, want the service's own sandbox page", checkout)
	}
	res, err := noKeepAlive.Get(checkout)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), "75.00 BGN") {
		t.Fatalf("checkout page: %d\n%s", res.StatusCode, page)
	}
	noFollow := &http.Client{Transport: noKeepAlive.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 2 {
		res, err := noFollow.PostForm(checkout+"/pay", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://shop.example/c/1?payment=succeeded" {
			t.Fatalf("pay: %d to %q\n%s", res.StatusCode, res.Header.Get("Location"), s.output)
		}
	}
	claim := paidClaim(t, s, id)
	payments, _ := claim["payments"].([]any)
	if claim["status"] != "paid" || len(payments) != 1 {
		t.Fatalf("after paying twice: status %v payments %v", claim["status"], claim["payments"])
	}

	payment := payments[0].(map[string]any)
	if p := payment; p["provider"] != "sandbox" || p["method"] != "online" {
		t.Errorf("payment %v, want an online payment by the sandbox", p)
	}

	// Finance sees the payment settle the paid repair charge, with no discrepancy.
	period := "?from=" + time.Now().AddDate(0, 0, -1).Format(time.DateOnly) + "&to=" + time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	var rows []any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, comp := s.request(t, http.MethodGet, "/v1/finance/compensations"+period, financeKey, "")
		if rows, _ = comp["items"].([]any); len(rows) == 2 {
			break
		}
	}
	got := map[string]string{}
	for _, r := range rows {
		row := r.(map[string]any)
		got[row["kind"].(string)] = fmt.Sprintf("%v %v %v %v", row["status"], row["amount"], row["currency"], row["reference"])
	}
	if got["payment_received"] != fmt.Sprintf("settled 75.00 BGN %v", payment["reference"]) || !strings.HasPrefix(got["paid_repair_charge"], "settled 75.00 BGN") {
		t.Errorf("compensations %v", got)
	}
	code, rec := s.request(t, http.MethodGet, "/v1/finance/reconciliation"+period, financeKey, "")
	if code != http.StatusOK || rec["discrepancy_count"] != float64(0) {
		t.Errorf("reconciliation: %d %v", code, rec)
	}
	for _, tot := range rec["totals"].([]any) {
		if tot := tot.(map[string]any); tot["outstanding"] != "0.00" {
			t.Errorf("reconciliation total %v, want nothing outstanding", tot)
		}
	}
}
