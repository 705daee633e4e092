package api

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/payments"
)

// Payments starts online payments of accepted estimates and takes the payment providers'
// webhooks (payments.Service).
type Payments interface {
	StartPayment(ctx context.Context, claimID uuid.UUID, returnURL string) (redirectURL string, err error)
	HandleWebhook(ctx context.Context, provider string, header http.Header, body []byte) (payments.Outcome, error)
}

// PaymentRequest is the body of POST /v1/claims/{id}/payment-requests: where the customer
// returns after paying or cancelling (empty: the configured success and cancel URLs).
type PaymentRequest struct {
	ReturnURL string `json:"return_url,omitempty"`
}

// PaymentRequestResponse is a payment link to send the customer.
type PaymentRequestResponse struct {
	ClaimID uuid.UUID `json:"claim_id"`
	URL     string    `json:"url"`
}

// registerPayments serves the payment link for staff and the providers' webhook, which is
// public: it is authenticated by the provider's signature alone, so it sits outside the
// API-key group (but behind the same overload shedding).
func (s *server) registerPayments(e *echo.Echo, v1 *echo.Group, shed echo.MiddlewareFunc) {
	v1.POST("/claims/:id/payment-requests", s.requestPayment, require(PermRequestPayment))
	e.POST("/v1/payments/:provider/webhook", s.paymentWebhook, shed)
}

func (s *server) requestPayment(c *echo.Context) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	var req PaymentRequest
	if err := decodeJSON(c, &req, true); err != nil {
		return err
	}
	if s.cfg.Payments == nil {
		return payments.ErrNotOffered
	}
	url, err := s.cfg.Payments.StartPayment(c.Request().Context(), id, req.ReturnURL)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, PaymentRequestResponse{ClaimID: id, URL: url})
}

func (s *server) paymentWebhook(c *echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		return badRequest("malformed-body", "could not read the whole body")
	}
	if s.cfg.Payments == nil {
		return payments.ErrUnknownProvider
	}
	out, err := s.cfg.Payments.HandleWebhook(c.Request().Context(), c.Param("provider"), c.Request().Header, body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// paymentProblem maps the refusals of online payment; problemFor calls it.
func paymentProblem(err error) *Problem {
	switch {
	case errors.Is(err, payments.ErrNotOffered):
		return newProblem(http.StatusConflict, "online-payment-not-offered", "Online payment is not offered", "no payment provider is configured; record the customer's bank transfer with the record-payment action")
	case errors.Is(err, payments.ErrNotPayable):
		return newProblem(http.StatusConflict, "nothing-to-pay", "The claim has no accepted estimate left to pay", err.Error())
	case errors.Is(err, payments.ErrInvalidReturnURL):
		p := newProblem(http.StatusUnprocessableEntity, "validation", "Invalid field values", err.Error())
		p.Errors = []domain.FieldError{{Field: "return_url", Problem: err.Error()}}
		return p
	case errors.Is(err, payments.ErrUnknownProvider):
		return newProblem(http.StatusNotFound, "unknown-payment-provider", "No such payment provider", err.Error())
	case errors.Is(err, payments.ErrBadSignature):
		return newProblem(http.StatusBadRequest, "webhook-signature-invalid", "The webhook's signature does not verify", err.Error())
	case errors.Is(err, payments.ErrStaleSignature):
		return newProblem(http.StatusBadRequest, "webhook-signature-expired", "The webhook's signature is too old", err.Error())
	case errors.Is(err, payments.ErrMalformedEvent):
		return newProblem(http.StatusBadRequest, "webhook-event-malformed", "The webhook's event cannot be read", err.Error())
	case errors.Is(err, payments.ErrUnknownClaim):
		return newProblem(http.StatusUnprocessableEntity, "payment-unknown-claim", "The payment names a claim the ledger does not hold", err.Error())
	case errors.Is(err, payments.ErrAmountMismatch):
		return newProblem(http.StatusUnprocessableEntity, "payment-amount-mismatch", "The amount paid is not the amount due", err.Error())
	case errors.Is(err, payments.ErrCurrencyMismatch):
		return newProblem(http.StatusUnprocessableEntity, "payment-currency-mismatch", "The payment's currency is not the estimate's", err.Error())
	case errors.Is(err, payments.ErrProviderFailed):
		// The provider's answer may name the account: the detail stays in the log.
		return newProblem(http.StatusBadGateway, "payment-provider-failed", "The payment provider did not create the checkout; retry later", "")
	}
	return nil
}
