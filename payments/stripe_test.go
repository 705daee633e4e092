package payments_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/payments"
)

func newStripe(t *testing.T, apiBase string) *payments.Stripe {
	t.Helper()
	p, err := payments.NewStripe(payments.StripeConfig{SecretKey: "sk_test_123", WebhookSecret: webhookSecret, APIBase: apiBase})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStripeWebhookSignature(t *testing.T) {
	claim := uuid.New()
	body := stripeEvent(t, claim, nil)
	now := time.Now()
	cases := []struct {
		name   string
		header http.Header
		body   []byte
		err    error
	}{
		{name: "signed now", header: sign(webhookSecret, now, body), body: body},
		{name: "signed within the tolerance", header: sign(webhookSecret, now.Add(-4*time.Minute), body), body: body},
		{name: "no signature", header: http.Header{}, body: body, err: payments.ErrBadSignature},
		{name: "malformed header", header: http.Header{"Stripe-Signature": {"v1=abc"}}, body: body, err: payments.ErrBadSignature},
		{name: "another secret", header: sign("whsec_forged", now, body), body: body, err: payments.ErrBadSignature},
		{name: "body changed after signing", header: sign(webhookSecret, now, body), body: bytes.Replace(body, []byte("7500"), []byte("7400"), 1), err: payments.ErrBadSignature},
		{name: "replayed after the tolerance", header: sign(webhookSecret, now.Add(-6*time.Minute), body), body: body, err: payments.ErrStaleSignature},
	}
	p := newStripe(t, "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.ParseWebhook(tc.header, tc.body)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			want := payments.Confirmation{PaymentID: "pi_3QbF3qLkdIwHu7ix0Wl2kYjs", ClaimID: claim, Amount: eur(t, "75.00"), EventID: "evt_1QbF3sLkdIwHu7ixqXqTz7GV"}
			if err != nil || got != want {
				t.Fatalf("got %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

func TestStripeWebhookEvents(t *testing.T) {
	claim := uuid.New()
	p := newStripe(t, "")
	cases := []struct {
		name    string
		set     map[string]any
		want    payments.Confirmation
		ignored bool
		err     error
	}{
		{name: "a delayed payment that succeeded", set: map[string]any{"type": "checkout.session.async_payment_succeeded"},
			want: payments.Confirmation{PaymentID: "pi_3QbF3qLkdIwHu7ix0Wl2kYjs", ClaimID: claim, Amount: eur(t, "75.00")}},
		{name: "a completed checkout still awaiting a delayed payment", set: map[string]any{"payment_status": "unpaid"}, ignored: true},
		{name: "an unrelated event type", set: map[string]any{"type": "customer.created"}, ignored: true},
		{name: "a failed delayed payment", set: map[string]any{"type": "checkout.session.async_payment_failed"}, ignored: true},
		{name: "no claim id", set: map[string]any{"client_reference_id": nil}, err: payments.ErrMalformedEvent},
		{name: "an unknown currency", set: map[string]any{"currency": "xyz"}, err: payments.ErrMalformedEvent},
		{name: "a session without a payment intent is known by its id", set: map[string]any{"payment_intent": nil},
			want: payments.Confirmation{PaymentID: "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY", ClaimID: claim, Amount: eur(t, "75.00")}},
		{name: "Stripe counts krónur in hundredths", set: map[string]any{"currency": "isk", "amount_total": 1250000},
			want: payments.Confirmation{PaymentID: "pi_3QbF3qLkdIwHu7ix0Wl2kYjs", ClaimID: claim, Amount: domain.Money{Amount: 12500, Currency: "ISK"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := stripeEvent(t, claim, tc.set)
			got, err := p.ParseWebhook(sign(webhookSecret, time.Now(), body), body)
			var ignored *payments.IgnoredError
			switch {
			case tc.ignored:
				if !errors.As(err, &ignored) {
					t.Fatalf("got %+v, %v; want it ignored", got, err)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
			default:
				got.EventID = ""
				if err != nil || got != tc.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
			}
		})
	}
}

// stripeMock starts Stripe's stripe-mock server (github.com/stripe/stripe-mock: Stripe's
// OpenAPI specification served with its fixtures, refusing requests the specification does
// not allow) and returns its address. .ci/run installs it; the test skips without it.
func stripeMock(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "stripe-mock")
		if _, err := os.Stat(bin); err != nil {
			t.Skip("stripe-mock is not installed (go install github.com/stripe/stripe-mock@v0.203.0; .ci/run does)")
		}
	}
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if a, ok := strings.CutPrefix(lines.Text(), "Listening for HTTP at address: "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("stripe-mock did not start listening within 30s")
	}
	return ""
}

// TestStripeCheckoutOnStripeMock creates a Checkout Session through stripe-go against
// stripe-mock, which refuses any parameter Stripe's API does not take, and checks through a
// recording proxy what the adapter asked Stripe for.
func TestStripeCheckoutOnStripeMock(t *testing.T) {
	target, err := url.Parse(stripeMock(t))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		sent []url.Values
	)
	proxy := httputil.NewSingleHostReverseProxy(target)
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		sent = append(sent, form)
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(recorder.Close)

	claim := uuid.New()
	checkout, err := newStripe(t, recorder.URL).CreateCheckout(context.Background(), payments.CheckoutRequest{
		ClaimID: claim, ClaimNumber: "RMA-2026-000007", Amount: eur(t, "75.00"),
		SuccessURL: "https://shop.example/paid", CancelURL: "https://shop.example/cancelled",
	})
	if err != nil {
		t.Fatalf("stripe-mock refused the Checkout Session: %v", err)
	}
	if !strings.HasPrefix(checkout.ID, "cs_") || !strings.HasPrefix(checkout.URL, "https://") {
		t.Errorf("checkout %+v, want a cs_ id and an https URL", checkout)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 1 {
		t.Fatalf("%d requests to Stripe, want 1", len(sent))
	}
	want := map[string]string{
		"mode":                "payment",
		"client_reference_id": claim.String(),
		"metadata[claim_id]":  claim.String(),
		"payment_intent_data[metadata][claim_id]": claim.String(),
		"line_items[0][quantity]":                 "1",
		"line_items[0][price_data][currency]":     "eur",
		"line_items[0][price_data][unit_amount]":  "7500",
		"success_url":                             "https://shop.example/paid",
		"cancel_url":                              "https://shop.example/cancelled",
	}
	for k, v := range want {
		if got := sent[0].Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestStripeUnreachable: when Stripe cannot be reached, the checkout fails as the provider's
// failure.
func TestStripeUnreachable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	p, err := payments.NewStripe(payments.StripeConfig{SecretKey: "sk_test_123", WebhookSecret: webhookSecret, APIBase: dead.URL,
		HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.CreateCheckout(context.Background(), payments.CheckoutRequest{ClaimID: uuid.New(), Amount: eur(t, "1"), SuccessURL: "https://a.example", CancelURL: "https://a.example"})
	if !errors.Is(err, payments.ErrProviderFailed) {
		t.Errorf("error %v, want ErrProviderFailed", err)
	}
}
