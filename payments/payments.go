// Package payments takes online payment of an accepted repair estimate through a payment
// provider: it creates the provider's hosted checkout for the amount due, and records the
// payment in the ledger when the provider's signed webhook confirms it, once per provider
// payment id. A replayed, forged, stale or mismatched confirmation writes nothing.
//
// Providers are Stripe Checkout (stripe.go) and a sandbox that serves its own checkout page
// (sandbox.go) for development and the browser tests. Without a provider, online payment is
// not offered and staff record bank transfers as before.
package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
)

// CheckoutRequest is what a provider needs to create a hosted checkout: the amount due on a
// claim and where to send the customer afterwards.
type CheckoutRequest struct {
	ClaimID     uuid.UUID
	ClaimNumber string
	Amount      domain.Money
	SuccessURL  string
	CancelURL   string
}

// Checkout is a hosted checkout the customer is sent to.
type Checkout struct {
	// ID is the provider's id of the checkout.
	ID string
	// URL is the provider's page where the customer pays.
	URL string
}

// Confirmation is a verified webhook's message: the provider's payment PaymentID of Amount
// for the claim ClaimID succeeded.
type Confirmation struct {
	PaymentID string
	ClaimID   uuid.UUID
	Amount    domain.Money
	// EventID is the provider's id of the webhook event, kept as the correlation id.
	EventID string
}

// Provider is an online payment provider.
type Provider interface {
	// Name is the provider's name in webhook URLs and on recorded payments ("stripe").
	Name() string
	// CreateCheckout creates a hosted checkout for the request's amount.
	CreateCheckout(ctx context.Context, req CheckoutRequest) (Checkout, error)
	// ParseWebhook verifies a webhook's signature and reads the payment it confirms. It returns
	// an error wrapping ErrBadSignature or ErrStaleSignature for a webhook it cannot trust,
	// ErrMalformedEvent for a trusted one it cannot read, and an *IgnoredError for an event
	// that confirms no payment (the provider expects a 2xx for those).
	ParseWebhook(header http.Header, body []byte) (Confirmation, error)
}

// Errors of online payment, matched with errors.Is; the API maps each onto a problem.
var (
	// ErrNotOffered means no payment provider is configured: payments are recorded by staff.
	ErrNotOffered = errors.New("online payment is not offered")
	// ErrNotPayable means the claim has no accepted estimate with anything left to pay.
	ErrNotPayable = errors.New("nothing to pay online")
	// ErrInvalidReturnURL means the return URL is not an absolute http or https URL.
	ErrInvalidReturnURL = errors.New("invalid return URL")
	// ErrUnknownProvider means a webhook names a provider that is not configured.
	ErrUnknownProvider = errors.New("unknown payment provider")
	// ErrBadSignature means a webhook's signature is missing, malformed or wrong.
	ErrBadSignature = errors.New("webhook signature does not verify")
	// ErrStaleSignature means a webhook's signature is older than the tolerance: a replay.
	ErrStaleSignature = errors.New("webhook signature timestamp outside the tolerance")
	// ErrMalformedEvent means a signed webhook does not carry what a payment needs.
	ErrMalformedEvent = errors.New("webhook event malformed")
	// ErrUnknownClaim means a webhook confirms a payment for a claim the ledger does not hold.
	ErrUnknownClaim = errors.New("webhook names an unknown claim")
	// ErrAmountMismatch means the amount paid is not the amount due on the estimate.
	ErrAmountMismatch = errors.New("amount paid does not match the amount due")
	// ErrCurrencyMismatch means the payment's currency is not the estimate's.
	ErrCurrencyMismatch = errors.New("currency paid does not match the estimate's")
	// ErrProviderFailed means the provider did not create the checkout.
	ErrProviderFailed = errors.New("payment provider failed")
)

// IgnoredError is a verified webhook event that confirms no payment (another event type, or a
// checkout whose payment is still pending). Nothing is recorded and the provider is answered
// with a 2xx so that it does not retry.
type IgnoredError struct {
	EventType string
	Reason    string
}

// Error names the event type and why it was ignored.
func (e *IgnoredError) Error() string { return "ignored " + e.EventType + ": " + e.Reason }

// Ledger is the write side the service reads claims from and records payments through
// (ledger.Service).
type Ledger interface {
	Claim(ctx context.Context, id uuid.UUID) (domain.State, eventstore.Position, error)
	Execute(ctx context.Context, id uuid.UUID, cmd domain.Command, req ledger.Request) (ledger.Result, error)
}

// Config configures a Service.
type Config struct {
	// Ledger reads claims and records payments (required).
	Ledger Ledger
	// Provider takes the payments; nil means online payment is not offered.
	Provider Provider
	// SuccessURL and CancelURL are where the customer returns after paying or cancelling when
	// a request names no return URL.
	SuccessURL string
	CancelURL  string
}

// Service starts online payments and records the payments providers confirm.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Ledger == nil {
		return nil, errors.New("payments: Ledger is required")
	}
	for name, u := range map[string]string{"success URL": cfg.SuccessURL, "cancel URL": cfg.CancelURL} {
		if u != "" {
			if err := checkReturnURL(u); err != nil {
				return nil, fmt.Errorf("payments: %s: %w", name, err)
			}
		}
	}
	return &Service{cfg: cfg}, nil
}

// Offered reports whether online payment is offered (a provider is configured).
func (s *Service) Offered() bool { return s.cfg.Provider != nil }

// ProviderName is the configured provider's name, or "" when online payment is not offered.
func (s *Service) ProviderName() string {
	if s.cfg.Provider == nil {
		return ""
	}
	return s.cfg.Provider.Name()
}

// StartPayment creates a hosted checkout for what is due on the claim's accepted estimate and
// returns the URL to send the customer to. The customer comes back to returnURL (with
// payment=succeeded or payment=cancelled added to its query); an empty returnURL uses the
// configured success and cancel URLs. It refuses with ErrNotPayable unless an estimate is
// accepted and not paid, and writes nothing: the payment is recorded when the provider
// confirms it.
func (s *Service) StartPayment(ctx context.Context, claimID uuid.UUID, returnURL string) (redirectURL string, err error) {
	if s.cfg.Provider == nil {
		return "", ErrNotOffered
	}
	success, cancel, err := s.returnURLs(returnURL)
	if err != nil {
		return "", err
	}
	state, _, err := s.cfg.Ledger.Claim(ctx, claimID)
	if err != nil {
		return "", err
	}
	due, err := amountDue(state)
	if err != nil {
		return "", err
	}
	checkout, err := s.cfg.Provider.CreateCheckout(ctx, CheckoutRequest{
		ClaimID: claimID, ClaimNumber: state.Number, Amount: due, SuccessURL: success, CancelURL: cancel,
	})
	if err != nil {
		return "", err
	}
	return checkout.URL, nil
}

// amountDue is what is owed on the claim's accepted estimate, or ErrNotPayable saying why
// nothing is.
func amountDue(state domain.State) (domain.Money, error) {
	switch {
	case state.Estimate == nil:
		return domain.Money{}, fmt.Errorf("%w: the claim has no estimate", ErrNotPayable)
	case state.Estimate.Decision != domain.EstimateDecisionAccepted:
		return domain.Money{}, fmt.Errorf("%w: the estimate is not accepted", ErrNotPayable)
	case state.EstimateOutstanding().Amount <= 0:
		return domain.Money{}, fmt.Errorf("%w: the estimate is paid", ErrNotPayable)
	case !slices.Contains(domain.AllowedActions(state), domain.ActionRecordPayment):
		return domain.Money{}, fmt.Errorf("%w: the claim is %s and takes no payment", ErrNotPayable, state.Status)
	}
	return state.EstimateOutstanding(), nil
}

// returnURLs are the success and cancel URLs of a checkout.
func (s *Service) returnURLs(returnURL string) (success, cancel string, err error) {
	if returnURL == "" {
		if s.cfg.SuccessURL == "" || s.cfg.CancelURL == "" {
			return "", "", fmt.Errorf("%w: a return URL is required (no default success and cancel URLs are configured)", ErrInvalidReturnURL)
		}
		return s.cfg.SuccessURL, s.cfg.CancelURL, nil
	}
	if err := checkReturnURL(returnURL); err != nil {
		return "", "", err
	}
	return withQuery(returnURL, "payment", "succeeded"), withQuery(returnURL, "payment", "cancelled"), nil
}

// checkReturnURL accepts an absolute http or https URL of at most 2,000 characters.
func checkReturnURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > 2000:
		return fmt.Errorf("%w: longer than 2000 characters", ErrInvalidReturnURL)
	case err != nil:
		return fmt.Errorf("%w: %q does not parse", ErrInvalidReturnURL, raw)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%w: %q is not an absolute http or https URL", ErrInvalidReturnURL, raw)
	}
	return nil
}

// withQuery adds one query parameter to a URL checkReturnURL accepted.
func withQuery(raw, key, value string) string {
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Outcome is what a webhook did.
type Outcome struct {
	// Result is "recorded", "already_recorded" or "ignored".
	Result    string    `json:"result"`
	ClaimID   uuid.UUID `json:"claim_id,omitzero"`
	PaymentID string    `json:"payment_id,omitempty"`
	// Reason says why an event was ignored.
	Reason string `json:"reason,omitempty"`
}

// The results of a webhook.
const (
	ResultRecorded        = "recorded"
	ResultAlreadyRecorded = "already_recorded"
	ResultIgnored         = "ignored"
)

// actorPrefix names the actor on payments a provider confirmed: "payment-provider:stripe".
const actorPrefix = "payment-provider:"

// HandleWebhook verifies a provider's webhook and records the payment it confirms, once per
// provider payment id: the same confirmation delivered again, even concurrently, answers
// already_recorded and writes nothing. A confirmation for an unknown claim, or whose amount or
// currency is not what is due on the accepted estimate, is refused and writes nothing.
func (s *Service) HandleWebhook(ctx context.Context, provider string, header http.Header, body []byte) (Outcome, error) {
	if s.cfg.Provider == nil || s.cfg.Provider.Name() != provider {
		return Outcome{}, fmt.Errorf("%w: %q", ErrUnknownProvider, provider)
	}
	c, err := s.cfg.Provider.ParseWebhook(header, body)
	var ignored *IgnoredError
	if errors.As(err, &ignored) {
		return Outcome{Result: ResultIgnored, Reason: ignored.Error()}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{ClaimID: c.ClaimID, PaymentID: c.PaymentID}
	state, _, err := s.cfg.Ledger.Claim(ctx, c.ClaimID)
	if errors.Is(err, ledger.ErrNotFound) {
		return Outcome{}, fmt.Errorf("%w: %s", ErrUnknownClaim, c.ClaimID)
	}
	if err != nil {
		return Outcome{}, err
	}
	if slices.ContainsFunc(state.Payments, func(p domain.Payment) bool {
		return p.Provider == provider && p.ProviderPaymentID == c.PaymentID
	}) {
		out.Result = ResultAlreadyRecorded
		return out, nil
	}
	if err := matchesDue(state, c.Amount); err != nil {
		return Outcome{}, err
	}
	res, err := s.cfg.Ledger.Execute(ctx, c.ClaimID, &domain.RecordPayment{
		Amount: c.Amount, Reference: c.PaymentID, Method: domain.PaymentOnline, For: domain.PaymentForEstimate,
		Provider: provider, ProviderPaymentID: c.PaymentID,
	}, ledger.Request{
		Actor: ledger.Actor{Name: actorPrefix + provider, Role: "system"},
		// The key makes a concurrent second delivery answer the first one's result.
		IdempotencyKey: "payment:" + provider + ":" + c.PaymentID,
		CorrelationID:  c.EventID,
	})
	if err != nil {
		return Outcome{}, err
	}
	out.Result = ResultRecorded
	if res.Replayed {
		out.Result = ResultAlreadyRecorded
	}
	return out, nil
}

// matchesDue refuses a payment that is not exactly what is due on the accepted estimate: a
// checkout is created for that amount, so any other figure is a checkout of another claim or
// estimate, or a tampered one, for finance to look into.
func matchesDue(state domain.State, paid domain.Money) error {
	due, err := amountDue(state)
	if err != nil {
		return err
	}
	if paid.Currency != due.Currency {
		return fmt.Errorf("%w: paid in %s, the estimate is in %s", ErrCurrencyMismatch, paid.Currency, due.Currency)
	}
	if paid.Amount != due.Amount {
		return fmt.Errorf("%w: %s paid, %s due", ErrAmountMismatch, paid, due)
	}
	return nil
}

// normalizeCurrency turns a provider's lower-case code ("eur") into the ledger's ("EUR").
func normalizeCurrency(code string) string { return strings.ToUpper(code) }
