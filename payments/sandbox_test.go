package payments_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/payments"
)

// sandboxSite serves the sandbox's checkout pages over HTTP, confirming to a service over a
// real ledger.
func sandboxSite(t *testing.T, cfg payments.SandboxConfig) (*httptest.Server, *ledger.Service, *payments.Service) {
	t.Helper()
	mux := http.NewServeMux()
	site := httptest.NewServer(mux)
	t.Cleanup(site.Close)
	cfg.BaseURL = site.URL
	sandbox, err := payments.NewSandbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := newLedger(t)
	service, err := payments.New(payments.Config{Ledger: svc, Provider: sandbox})
	if err != nil {
		t.Fatal(err)
	}
	sandbox.ConfirmTo(service)
	mux.Handle(payments.SandboxCheckoutPath, sandbox.Handler())
	return site, svc, service
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func post(t *testing.T, u string) *http.Response {
	t.Helper()
	res, err := noRedirect.PostForm(u, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// TestSandboxFlow: a checkout page shows the amount due; paying records the payment through the
// signed webhook and returns the customer to the success URL; paying again records nothing
// more; cancelling returns to the cancel URL.
func TestSandboxFlow(t *testing.T) {
	ctx := context.Background()
	site, svc, service := sandboxSite(t, payments.SandboxConfig{})

	claim := claimAt(t, svc, "estimate_accepted")
	before := eventCount(t, svc, claim)
	redirect, err := service.StartPayment(ctx, claim, "https://portal.example/c/abc")
	if err != nil || !strings.HasPrefix(redirect, site.URL+payments.SandboxCheckoutPath) {
		t.Fatalf("StartPayment = %q, %v", redirect, err)
	}
	status, page := get(t, redirect+"?lang=bg")
	if status != http.StatusOK || !strings.Contains(page, "75.00 EUR") || !strings.Contains(page, `lang="bg"`) || !strings.Contains(page, "Плати") {
		t.Fatalf("checkout page %d:\n%s", status, page)
	}
	if eventCount(t, svc, claim) != before {
		t.Fatal("starting a payment wrote an event")
	}

	res := post(t, redirect+"/pay")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://portal.example/c/abc?payment=succeeded" {
		t.Fatalf("pay: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	state, _, _ := svc.Claim(ctx, claim)
	if state.Status != domain.StatusPaid || len(state.Payments) != 1 || state.Payments[0].Provider != "sandbox" || state.Payments[0].Amount != eur(t, "75.00") {
		t.Fatalf("after paying: status %s payments %+v", state.Status, state.Payments)
	}
	if res := post(t, redirect+"/pay"); res.StatusCode != http.StatusSeeOther || eventCount(t, svc, claim) != before+1 {
		t.Errorf("paying twice: %d, %d events, want one payment", res.StatusCode, eventCount(t, svc, claim))
	}

	// Cancelling another claim's checkout records nothing and returns to the cancel URL.
	other := claimAt(t, svc, "estimate_accepted")
	redirect, err = service.StartPayment(ctx, other, "https://portal.example/c/def")
	if err != nil {
		t.Fatal(err)
	}
	if res := post(t, redirect+"/cancel"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://portal.example/c/def?payment=cancelled" {
		t.Errorf("cancel: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if s, _, _ := svc.Claim(ctx, other); len(s.Payments) != 0 {
		t.Errorf("cancelling recorded %+v", s.Payments)
	}

	if status, _ := get(t, site.URL+payments.SandboxCheckoutPath+"cs_sandbox_unknown"); status != http.StatusNotFound {
		t.Errorf("unknown checkout: %d, want 404", status)
	}
	if res := post(t, site.URL+payments.SandboxCheckoutPath+"cs_sandbox_unknown/pay"); res.StatusCode != http.StatusNotFound {
		t.Errorf("paying an unknown checkout: %d, want 404", res.StatusCode)
	}
}

// TestSandboxRefusedPaymentShowsWhy: a payment the ledger refuses (the claim was paid by bank
// transfer meanwhile) is not recorded, and the page says why.
func TestSandboxRefusedPaymentShowsWhy(t *testing.T) {
	ctx := context.Background()
	_, svc, service := sandboxSite(t, payments.SandboxConfig{})

	claim := claimAt(t, svc, "estimate_accepted")
	redirect, err := service.StartPayment(ctx, claim, "https://portal.example/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Execute(ctx, claim, &domain.RecordPayment{Amount: eur(t, "75"), Reference: "BANK-1", Method: domain.PaymentBankTransfer}, staff); err != nil {
		t.Fatal(err)
	}
	res, err := noRedirect.PostForm(redirect+"/pay", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "estimate is paid") {
		t.Errorf("paying a paid claim: %d\n%s", res.StatusCode, body)
	}
	if s, _, _ := svc.Claim(ctx, claim); len(s.Payments) != 1 {
		t.Errorf("payments %+v, want only the bank transfer", s.Payments)
	}
}

// TestSandboxSignatureIsChecked: the sandbox's webhooks are verified like Stripe's, with its
// own secret and tolerance.
func TestSandboxSignatureIsChecked(t *testing.T) {
	sandbox, err := payments.NewSandbox(payments.SandboxConfig{BaseURL: "http://127.0.0.1:8080", Secret: "whsec_sandbox_test", Tolerance: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	body := stripeEvent(t, uuid.New(), nil)
	if _, err := sandbox.ParseWebhook(sign("whsec_sandbox_test", time.Now(), body), body); err != nil {
		t.Errorf("signed with the sandbox's secret: %v", err)
	}
	if _, err := sandbox.ParseWebhook(sign(webhookSecret, time.Now(), body), body); err == nil {
		t.Error("a webhook signed with another secret was accepted")
	}
	if _, err := sandbox.ParseWebhook(sign("whsec_sandbox_test", time.Now().Add(-2*time.Minute), body), body); err == nil {
		t.Error("a webhook older than the tolerance was accepted")
	}
}
