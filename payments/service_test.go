package payments_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/payments"
)

// recordingProvider records the checkouts asked of it; its webhooks are Stripe's.
type recordingProvider struct {
	*payments.Stripe
	mu        sync.Mutex
	checkouts []payments.CheckoutRequest
}

func (p *recordingProvider) CreateCheckout(_ context.Context, req payments.CheckoutRequest) (payments.Checkout, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checkouts = append(p.checkouts, req)
	return payments.Checkout{ID: "cs_1", URL: "https://checkout.example/cs_1"}, nil
}

func newService(t *testing.T, svc *ledger.Service, cfg payments.Config) (*payments.Service, *recordingProvider) {
	t.Helper()
	provider := &recordingProvider{Stripe: newStripe(t, "")}
	cfg.Ledger = svc
	if cfg.Provider == nil {
		cfg.Provider = provider
	}
	s, err := payments.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, provider
}

func TestStartPayment(t *testing.T) {
	ctx := context.Background()
	svc, _ := newLedger(t)
	s, provider := newService(t, svc, payments.Config{})

	accepted := claimAt(t, svc, "estimate_accepted")
	redirect, err := s.StartPayment(ctx, accepted, "https://portal.example/c/abc?lang=bg")
	if err != nil || redirect != "https://checkout.example/cs_1" {
		t.Fatalf("StartPayment = %q, %v", redirect, err)
	}
	got := provider.checkouts[0]
	if got.ClaimID != accepted || got.Amount != eur(t, "75.00") || got.ClaimNumber == "" {
		t.Errorf("checkout %+v, want 75.00 EUR for the claim", got)
	}
	success, _ := url.Parse(got.SuccessURL)
	cancel, _ := url.Parse(got.CancelURL)
	if success.Query().Get("payment") != "succeeded" || success.Query().Get("lang") != "bg" || cancel.Query().Get("payment") != "cancelled" || success.Host != "portal.example" {
		t.Errorf("return URLs %s and %s", got.SuccessURL, got.CancelURL)
	}

	// What is already paid is not asked again.
	if _, err := svc.Execute(ctx, accepted, &domain.RecordPayment{Amount: eur(t, "30"), Reference: "BANK-1", Method: domain.PaymentBankTransfer}, staff); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartPayment(ctx, accepted, "https://portal.example/c/abc"); err != nil || provider.checkouts[1].Amount != eur(t, "45.00") {
		t.Errorf("after a part payment: %v, checkout %+v, want 45.00 EUR", err, provider.checkouts[len(provider.checkouts)-1])
	}

	paid := claimAt(t, svc, "estimate_accepted")
	if _, err := svc.Execute(ctx, paid, &domain.RecordPayment{Amount: eur(t, "75"), Reference: "BANK-2", Method: domain.PaymentBankTransfer}, staff); err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name      string
		claim     uuid.UUID
		returnURL string
		err       error
	}{
		{"no estimate", claimAt(t, svc, "registered"), "https://portal.example/", payments.ErrNotPayable},
		{"estimate not accepted", claimAt(t, svc, "estimate_issued"), "https://portal.example/", payments.ErrNotPayable},
		{"estimate paid", paid, "https://portal.example/", payments.ErrNotPayable},
		{"unknown claim", uuid.New(), "https://portal.example/", ledger.ErrNotFound},
		{"relative return URL", accepted, "/portal", payments.ErrInvalidReturnURL},
		{"script return URL", accepted, "javascript:alert(1)", payments.ErrInvalidReturnURL},
		{"no return URL and none configured", accepted, "", payments.ErrInvalidReturnURL},
	}
	before := len(provider.checkouts)
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.StartPayment(ctx, tc.claim, tc.returnURL); !errors.Is(err, tc.err) {
				t.Errorf("error %v, want %v", err, tc.err)
			}
		})
	}
	if len(provider.checkouts) != before {
		t.Errorf("a refused payment created a checkout")
	}
}

// TestReturnURLSettings: the configured success and cancel URLs are used when a request names
// none, and no provider means online payment is not offered.
func TestReturnURLSettings(t *testing.T) {
	ctx := context.Background()
	svc, _ := newLedger(t)
	claim := claimAt(t, svc, "estimate_accepted")
	s, provider := newService(t, svc, payments.Config{SuccessURL: "https://shop.example/thanks", CancelURL: "https://shop.example/sorry"})
	if _, err := s.StartPayment(ctx, claim, ""); err != nil {
		t.Fatal(err)
	}
	if c := provider.checkouts[0]; c.SuccessURL != "https://shop.example/thanks" || c.CancelURL != "https://shop.example/sorry" {
		t.Errorf("checkout %+v, want the configured URLs", c)
	}
	if _, err := payments.New(payments.Config{Ledger: svc, SuccessURL: "ftp://x"}); err == nil {
		t.Error("a success URL that is not http(s) was accepted")
	}

	off, err := payments.New(payments.Config{Ledger: svc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.StartPayment(ctx, claim, "https://portal.example/"); !errors.Is(err, payments.ErrNotOffered) || off.Offered() {
		t.Errorf("without a provider: %v, offered %v; want ErrNotOffered", err, off.Offered())
	}
	body := stripeEvent(t, claim, nil)
	if _, err := off.HandleWebhook(ctx, "stripe", sign(webhookSecret, time.Now(), body), body); !errors.Is(err, payments.ErrUnknownProvider) {
		t.Errorf("webhook without a provider: %v, want ErrUnknownProvider", err)
	}
}

func TestWebhookRecordsThePaymentOnce(t *testing.T) {
	ctx := context.Background()
	svc, _ := newLedger(t)
	s, _ := newService(t, svc, payments.Config{})
	claim := claimAt(t, svc, "estimate_accepted")
	before := eventCount(t, svc, claim)
	body := stripeEvent(t, claim, nil)

	out, err := s.HandleWebhook(ctx, "stripe", sign(webhookSecret, time.Now(), body), body)
	if err != nil || out.Result != payments.ResultRecorded || out.PaymentID != "pi_3QbF3qLkdIwHu7ix0Wl2kYjs" {
		t.Fatalf("first delivery: %+v, %v", out, err)
	}
	state, _, _ := svc.Claim(ctx, claim)
	want := domain.Payment{Amount: eur(t, "75.00"), Reference: "pi_3QbF3qLkdIwHu7ix0Wl2kYjs", Method: domain.PaymentOnline, Provider: "stripe", ProviderPaymentID: "pi_3QbF3qLkdIwHu7ix0Wl2kYjs"}
	if len(state.Payments) != 1 || state.Status != domain.StatusPaid {
		t.Fatalf("status %s payments %+v", state.Status, state.Payments)
	}
	got := state.Payments[0]
	got.PaidAt = time.Time{}
	if got != want {
		t.Errorf("payment %+v, want %+v", got, want)
	}
	events, _ := svc.Events(ctx, claim)
	meta, _ := eventlog.DecodeMetadata(events[len(events)-1].Metadata)
	if meta.Actor != "payment-provider:stripe" || meta.CorrelationID != "evt_1QbF3sLkdIwHu7ixqXqTz7GV" {
		t.Errorf("metadata %+v, want the provider as actor and the event as correlation", meta)
	}

	// Stripe delivers again (a retry after a lost answer), signed anew: nothing more is written.
	out, err = s.HandleWebhook(ctx, "stripe", sign(webhookSecret, time.Now(), body), body)
	if err != nil || out.Result != payments.ResultAlreadyRecorded {
		t.Fatalf("second delivery: %+v, %v", out, err)
	}
	// So does the delayed-payment event of the same payment.
	async := stripeEvent(t, claim, map[string]any{"type": "checkout.session.async_payment_succeeded"})
	if out, err = s.HandleWebhook(ctx, "stripe", sign(webhookSecret, time.Now(), async), async); err != nil || out.Result != payments.ResultAlreadyRecorded {
		t.Fatalf("async delivery: %+v, %v", out, err)
	}
	if n := eventCount(t, svc, claim); n != before+1 {
		t.Errorf("%d events after three deliveries, want %d", n, before+1)
	}
}

// barrierLedger holds every delivery after it has read the claim until all have read it, so
// that each finds the payment unrecorded and they race to record it.
type barrierLedger struct {
	*ledger.Service
	read *sync.WaitGroup
}

func (l barrierLedger) Claim(ctx context.Context, id uuid.UUID) (domain.State, eventstore.Position, error) {
	s, pos, err := l.Service.Claim(ctx, id)
	l.read.Done()
	l.read.Wait()
	return s, pos, err
}

func TestWebhookConcurrentDeliveries(t *testing.T) {
	ctx := context.Background()
	svc, _ := newLedger(t)
	claim := claimAt(t, svc, "estimate_accepted")
	before := eventCount(t, svc, claim)
	body := stripeEvent(t, claim, nil)

	const deliveries = 8
	var read sync.WaitGroup
	read.Add(deliveries)
	s, err := payments.New(payments.Config{Ledger: barrierLedger{svc, &read}, Provider: newStripe(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan string, deliveries)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range deliveries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out, err := s.HandleWebhook(ctx, "stripe", sign(webhookSecret, time.Now(), body), body)
			if err != nil {
				results <- err.Error()
				return
			}
			results <- out.Result
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	count := map[string]int{}
	for r := range results {
		count[r]++
	}
	if count[payments.ResultRecorded] != 1 || count[payments.ResultAlreadyRecorded] != deliveries-1 {
		t.Errorf("results %v, want one recorded and %d already recorded", count, deliveries-1)
	}
	if n := eventCount(t, svc, claim); n != before+1 {
		t.Errorf("%d events after %d concurrent deliveries, want %d", n, deliveries, before+1)
	}
}

func TestWebhookRefusalsWriteNothing(t *testing.T) {
	ctx := context.Background()
	svc, _ := newLedger(t)
	s, _ := newService(t, svc, payments.Config{})
	claim := claimAt(t, svc, "estimate_accepted")
	issued := claimAt(t, svc, "estimate_issued")
	good := stripeEvent(t, claim, nil)
	now := time.Now()
	cases := []struct {
		name     string
		provider string
		header   http.Header
		body     []byte
		err      error
		ignored  bool
	}{
		{name: "forged signature", provider: "stripe", header: sign("whsec_guess", now, good), body: good, err: payments.ErrBadSignature},
		{name: "unsigned", provider: "stripe", header: http.Header{}, body: good, err: payments.ErrBadSignature},
		{name: "stale signature", provider: "stripe", header: sign(webhookSecret, now.Add(-time.Hour), good), body: good, err: payments.ErrStaleSignature},
		{name: "unknown provider", provider: "paypal", header: sign(webhookSecret, now, good), body: good, err: payments.ErrUnknownProvider},
		{name: "unknown claim", provider: "stripe", body: stripeEvent(t, uuid.New(), nil), err: payments.ErrUnknownClaim},
		{name: "amount below the estimate", provider: "stripe", body: stripeEvent(t, claim, map[string]any{"amount_total": 7499}), err: payments.ErrAmountMismatch},
		{name: "amount above the estimate", provider: "stripe", body: stripeEvent(t, claim, map[string]any{"amount_total": 7501}), err: payments.ErrAmountMismatch},
		{name: "another currency", provider: "stripe", body: stripeEvent(t, claim, map[string]any{"currency": "bgn"}), err: payments.ErrCurrencyMismatch},
		{name: "estimate not accepted", provider: "stripe", body: stripeEvent(t, issued, nil), err: payments.ErrNotPayable},
		{name: "malformed JSON", provider: "stripe", body: []byte(`{"type":`), err: payments.ErrMalformedEvent},
		{name: "unrelated event", provider: "stripe", body: stripeEvent(t, claim, map[string]any{"type": "invoice.paid"}), ignored: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header
			if header == nil {
				header = sign(webhookSecret, now, tc.body)
			}
			counts := []int{eventCount(t, svc, claim), eventCount(t, svc, issued)}
			out, err := s.HandleWebhook(ctx, tc.provider, header, tc.body)
			switch {
			case tc.ignored:
				if err != nil || out.Result != payments.ResultIgnored || out.Reason == "" {
					t.Errorf("got %+v, %v; want ignored with a reason", out, err)
				}
			case !errors.Is(err, tc.err):
				t.Errorf("got %+v, %v; want %v", out, err, tc.err)
			}
			if after := []int{eventCount(t, svc, claim), eventCount(t, svc, issued)}; after[0] != counts[0] || after[1] != counts[1] {
				t.Errorf("events %v became %v: a refused webhook wrote", counts, after)
			}
		})
	}
}
