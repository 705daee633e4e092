package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/payments"
)

// checkPaymentSettings refuses half a Stripe configuration, which would silently offer no
// online payment, and return URLs that are not absolute http(s) URLs.
func checkPaymentSettings(c config) error {
	var errs []error
	if (c.StripeSecretKey == "") != (c.StripeWebhookSecret == "") {
		errs = append(errs, errors.New("stripe-secret-key and stripe-webhook-secret go together: set both to offer online payment, or neither"))
	}
	for name, raw := range map[string]string{"stripe-api-base": c.StripeAPIBase, "payment-success-url": c.PaymentSuccessURL, "payment-cancel-url": c.PaymentCancelURL} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an absolute http or https URL", name, raw))
		}
	}
	return errors.Join(errs...)
}

// onlinePayments is the payments service: through Stripe Checkout when both Stripe secrets are
// set; else, in --dev or --sandbox, through the sandbox, whose checkout pages it returns to be
// mounted; else a service that offers no online payment (staff record bank transfers).
func onlinePayments(cfg config, service *ledger.Service, logger *slog.Logger) (*payments.Service, *payments.Sandbox, error) {
	pcfg := payments.Config{Ledger: service, SuccessURL: cfg.PaymentSuccessURL, CancelURL: cfg.PaymentCancelURL}
	var sandbox *payments.Sandbox
	switch {
	case cfg.StripeSecretKey != "":
		stripe, err := payments.NewStripe(payments.StripeConfig{SecretKey: cfg.StripeSecretKey, WebhookSecret: cfg.StripeWebhookSecret, APIBase: cfg.StripeAPIBase})
		if err != nil {
			return nil, nil, err
		}
		pcfg.Provider = stripe
	case cfg.Dev || cfg.Sandbox:
		base := publicBase(cfg.Addr)
		var err error
		sandbox, err = payments.NewSandbox(payments.SandboxConfig{BaseURL: base, Stylesheet: statuspage.StylesheetPath})
		if err != nil {
			return nil, nil, err
		}
		pcfg.Provider = sandbox
		if pcfg.SuccessURL == "" {
			pcfg.SuccessURL = base + "/status"
		}
		if pcfg.CancelURL == "" {
			pcfg.CancelURL = base + "/status"
		}
	}
	svc, err := payments.New(pcfg)
	if err != nil {
		return nil, nil, err
	}
	if sandbox != nil {
		sandbox.ConfirmTo(svc)
	}
	if svc.Offered() {
		logger.Info("online payment offered", "provider", svc.ProviderName())
	} else {
		logger.Info("online payment not offered: set stripe-secret-key and stripe-webhook-secret to offer it")
	}
	return svc, sandbox, nil
}

// mountSandboxCheckout serves the sandbox's checkout pages on the API's echo.
func mountSandboxCheckout(e *echo.Echo, sandbox *payments.Sandbox) {
	if sandbox == nil {
		return
	}
	h := echo.WrapHandler(sandbox.Handler())
	e.GET(payments.SandboxCheckoutPath+":id", h)
	e.POST(payments.SandboxCheckoutPath+":id/pay", h)
	e.POST(payments.SandboxCheckoutPath+":id/cancel", h)
}

// publicBase is the address a browser on this machine reaches the service at, from the
// listening address (a wildcard host is reached as localhost).
func publicBase(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
