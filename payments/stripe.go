package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/rmaledger/rmaledger/domain"
)

// StripeConfig configures Stripe Checkout.
type StripeConfig struct {
	// SecretKey is the account's secret API key (sk_live_... or sk_test_...; required).
	SecretKey string
	// WebhookSecret is the signing secret of the webhook endpoint (whsec_...; required).
	WebhookSecret string
	// APIBase replaces Stripe's API address, e.g. a stripe-mock server in tests; empty is Stripe.
	APIBase string
	// Tolerance is how old a webhook's signature may be (default webhook.DefaultTolerance, 5
	// minutes): an older delivery is treated as a replay.
	Tolerance time.Duration
	// HTTPClient makes the API requests (default: one with a 15s timeout, since a customer
	// waits for the checkout; stripe-go retries twice on a network failure).
	HTTPClient *http.Client
}

// Stripe takes payments through Stripe Checkout.
type Stripe struct {
	client        *stripe.Client
	webhookSecret string
	tolerance     time.Duration
}

// NewStripe returns the Stripe provider.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	if cfg.SecretKey == "" || cfg.WebhookSecret == "" {
		return nil, errors.New("payments: Stripe needs its secret key and its webhook signing secret")
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = webhook.DefaultTolerance
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	backend := &stripe.BackendConfig{
		HTTPClient:    cfg.HTTPClient,
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.APIBase != "" {
		backend.URL = stripe.String(cfg.APIBase)
	}
	backends := &stripe.Backends{
		API:         stripe.GetBackendWithConfig(stripe.APIBackend, backend),
		Connect:     stripe.GetBackendWithConfig(stripe.ConnectBackend, backend),
		Uploads:     stripe.GetBackendWithConfig(stripe.UploadsBackend, backend),
		MeterEvents: stripe.GetBackendWithConfig(stripe.MeterEventsBackend, backend),
	}
	return &Stripe{
		client:        stripe.NewClient(cfg.SecretKey, stripe.WithBackends(backends)),
		webhookSecret: cfg.WebhookSecret,
		tolerance:     cfg.Tolerance,
	}, nil
}

// Name returns "stripe".
func (*Stripe) Name() string { return "stripe" }

// CreateCheckout creates a Checkout Session in payment mode for the amount due. The claim's id
// travels as the session's client_reference_id and in the metadata of the session and of its
// payment, so that the webhook and Stripe's dashboard both name the claim.
func (s *Stripe) CreateCheckout(ctx context.Context, req CheckoutRequest) (Checkout, error) {
	amount, err := toStripeAmount(req.Amount)
	if err != nil {
		return Checkout{}, err
	}
	metadata := map[string]string{"claim_id": req.ClaimID.String(), "claim_number": req.ClaimNumber}
	session, err := s.client.V1CheckoutSessions.Create(ctx, &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(req.ClaimID.String()),
		Metadata:          metadata,
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: metadata},
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(stripeCurrency(req.Amount.Currency)),
				UnitAmount:  stripe.Int64(amount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String("Repair estimate, claim " + req.ClaimNumber)},
			},
		}},
		SuccessURL: stripe.String(req.SuccessURL),
		CancelURL:  stripe.String(req.CancelURL),
	})
	if err != nil {
		return Checkout{}, fmt.Errorf("%w: creating a Stripe Checkout Session: %w", ErrProviderFailed, err)
	}
	if session.URL == "" {
		return Checkout{}, fmt.Errorf("%w: Stripe answered a Checkout Session without a URL", ErrProviderFailed)
	}
	return Checkout{ID: session.ID, URL: session.URL}, nil
}

// ParseWebhook verifies the Stripe-Signature header with stripe-go's webhook package and reads
// a completed Checkout Session.
func (s *Stripe) ParseWebhook(header http.Header, body []byte) (Confirmation, error) {
	return parseStripeEvent(body, header.Get("Stripe-Signature"), s.webhookSecret, s.tolerance)
}

// parseStripeEvent verifies a webhook signed with Stripe's scheme and reads the payment a
// Checkout Session confirms: checkout.session.completed once its payment_status is paid, or
// checkout.session.async_payment_succeeded for a delayed method (SEPA Direct Debit, bank
// transfers). The sandbox sends the same events, so both providers share it.
func parseStripeEvent(body []byte, signature, secret string, tolerance time.Duration) (Confirmation, error) {
	// The event's API version is not required to be stripe-go's: the fields read here (id,
	// client_reference_id, amount_total, currency, payment_intent, payment_status) are the same
	// in every version, and refusing an older endpoint's events would lose payments.
	event, err := webhook.ConstructEventWithOptions(body, signature, secret, webhook.ConstructEventOptions{
		Tolerance: tolerance, IgnoreAPIVersionMismatch: true,
	})
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return Confirmation{}, fmt.Errorf("%w: signed more than %s ago", ErrStaleSignature, tolerance)
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return Confirmation{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	case err != nil:
		return Confirmation{}, fmt.Errorf("%w: %w", ErrMalformedEvent, err)
	}
	switch event.Type {
	case stripe.EventTypeCheckoutSessionCompleted, stripe.EventTypeCheckoutSessionAsyncPaymentSucceeded:
	default:
		return Confirmation{}, &IgnoredError{EventType: string(event.Type), Reason: "not a payment confirmation"}
	}
	if event.Data == nil {
		return Confirmation{}, fmt.Errorf("%w: %s event %s has no data", ErrMalformedEvent, event.Type, event.ID)
	}
	var session stripe.CheckoutSession
	if err := json.Unmarshal(event.Data.Raw, &session); err != nil {
		return Confirmation{}, fmt.Errorf("%w: %s event %s: %w", ErrMalformedEvent, event.Type, event.ID, err)
	}
	if session.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
		return Confirmation{}, &IgnoredError{EventType: string(event.Type), Reason: "payment status is " + string(session.PaymentStatus) + ", not paid"}
	}
	claimID, err := uuid.Parse(session.ClientReferenceID)
	if err != nil || claimID == uuid.Nil {
		return Confirmation{}, fmt.Errorf("%w: session %s: client_reference_id %q is not a claim id", ErrMalformedEvent, session.ID, session.ClientReferenceID)
	}
	amount, err := fromStripeAmount(session.AmountTotal, string(session.Currency))
	if err != nil {
		return Confirmation{}, fmt.Errorf("%w: session %s: %w", ErrMalformedEvent, session.ID, err)
	}
	// The payment's id is the PaymentIntent's, which Stripe's payouts and disputes name; a
	// session without one (never, in payment mode) is known by its own id.
	paymentID := session.ID
	if session.PaymentIntent != nil && session.PaymentIntent.ID != "" {
		paymentID = session.PaymentIntent.ID
	}
	if paymentID == "" {
		return Confirmation{}, fmt.Errorf("%w: %s event %s names no session or payment", ErrMalformedEvent, event.Type, event.ID)
	}
	return Confirmation{PaymentID: paymentID, ClaimID: claimID, Amount: amount, EventID: event.ID}, nil
}

// stripeUnitScale lists the currencies whose Stripe amounts are not in ISO 4217 minor units:
// Stripe counts ISK and UGX in hundredths although they have none.
var stripeUnitScale = map[string]int64{"ISK": 100, "UGX": 100}

// toStripeAmount converts a ledger amount into Stripe's integer amount.
func toStripeAmount(m domain.Money) (int64, error) {
	if m.Amount <= 0 {
		return 0, fmt.Errorf("payments: a checkout of %s", m)
	}
	if scale, ok := stripeUnitScale[m.Currency]; ok {
		return m.Amount * scale, nil
	}
	return m.Amount, nil
}

// fromStripeAmount converts a Stripe amount and lower-case currency into ledger money.
func fromStripeAmount(amount int64, currency string) (domain.Money, error) {
	code := normalizeCurrency(currency)
	if _, ok := domain.CurrencyExponent(code); !ok {
		return domain.Money{}, fmt.Errorf("unknown currency %q", currency)
	}
	if scale, ok := stripeUnitScale[code]; ok {
		if amount%scale != 0 {
			return domain.Money{}, fmt.Errorf("%d %s is not a whole amount", amount, currency)
		}
		amount /= scale
	}
	return domain.Money{Amount: amount, Currency: code}, nil
}

// stripeCurrency is Stripe's lower-case form of a currency code.
func stripeCurrency(code string) string { return strings.ToLower(code) }
