package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/privacy"
	"github.com/rmaledger/rmaledger/projections"
	"github.com/rmaledger/rmaledger/storage"
)

// Problem is an RFC 9457 problem details body. Type is a stable URN per kind
// of problem, so clients can branch on it without parsing text.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`

	// CurrentStatus and AllowedActions accompany an illegal transition.
	CurrentStatus  domain.Status   `json:"current_status,omitempty"`
	AllowedActions []domain.Action `json:"allowed_actions,omitempty"`
	// CurrentVersion accompanies a stale If-Match.
	CurrentVersion *int64 `json:"current_version,omitempty"`
	// Errors lists invalid fields.
	Errors []domain.FieldError `json:"errors,omitempty"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// StatusCode lets echo and middleware see the status of a problem.
func (p *Problem) StatusCode() int { return p.Status }

// problemType builds the stable type URI of a problem kind.
func problemType(slug string) string { return "urn:rmaledger:problem:" + slug }

// newProblem makes a problem of a kind with a detail message.
func newProblem(status int, slug, title, detail string) *Problem {
	return &Problem{Type: problemType(slug), Title: title, Status: status, Detail: detail}
}

// problemFor maps every error the handlers can return onto a problem: the
// one place where errors become HTTP answers.
func problemFor(err error) *Problem {
	var (
		p          *Problem
		transition *domain.InvalidTransitionError
		invalid    domain.ValidationErrors
		stale      *ledger.StaleVersionError
		maxBytes   *http.MaxBytesError
	)
	if p := readProblem(err); p != nil {
		return p
	}
	if p := statusProblem(err); p != nil {
		return p
	}
	if p := policyProblem(err); p != nil {
		return p
	}
	if p := paymentProblem(err); p != nil {
		return p
	}
	if p := filesProblem(err); p != nil {
		return p
	}
	if p := webhookProblem(err); p != nil {
		return p
	}
	if p := documentProblem(err); p != nil {
		return p
	}
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &transition):
		p = newProblem(http.StatusConflict, "invalid-transition", "Action not allowed in the claim's current state", transition.Error())
		p.CurrentStatus, p.AllowedActions = transition.From, transition.Allowed
		if p.AllowedActions == nil {
			p.AllowedActions = []domain.Action{}
		}
		return p
	case errors.As(err, &invalid):
		p = newProblem(http.StatusUnprocessableEntity, "validation", "Invalid field values", invalid.Error())
		p.Errors = invalid
		return p
	case domain.IsRuleError(err):
		return newProblem(http.StatusUnprocessableEntity, "rule-violation", "The request breaks a claim rule", err.Error())
	case errors.As(err, &stale):
		p = newProblem(http.StatusPreconditionFailed, "stale-version", "The claim has changed since the version in If-Match", stale.Error())
		p.CurrentVersion = &stale.Current
		return p
	case errors.Is(err, ledger.ErrNotFound):
		return newProblem(http.StatusNotFound, "not-found", "No such claim", "")
	case errors.Is(err, ledger.ErrCustomerNotFound):
		return newProblem(http.StatusNotFound, "customer-not-found", "No such customer", "no claim and no data key belong to this customer id")
	case errors.Is(err, ledger.ErrErasureUnavailable):
		return newProblem(http.StatusNotImplemented, "erasure-unavailable", "Personal data is not encrypted in this deployment", err.Error())
	case errors.Is(err, ledger.ErrIdempotencyKeyReused):
		return newProblem(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency-Key already used for a different request", "use a new key for a new request")
	case errors.Is(err, ledger.ErrConflict):
		return newProblem(http.StatusConflict, "concurrent-update", "The claim kept changing; retry the request", err.Error())
	case errors.As(err, &maxBytes), errors.Is(err, echo.ErrStatusRequestEntityTooLarge):
		return newProblem(http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large", "")
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, eventstore.ErrClosed):
		return newProblem(http.StatusServiceUnavailable, "unavailable", "The event store is unavailable; retry later", "")
	case errors.Is(storage.Fault(err), storage.ErrUnavailable): // a read's fault too, unmarked by its store
		return newProblem(http.StatusServiceUnavailable, "unavailable", "The service's storage is full or failing; retry later", "")
	case errors.Is(err, privacy.ErrCorrupt):
		// A real failure of the deployment, not of the request: the operator restores the key
		// store, or audit verify names the altered event.
		return newProblem(http.StatusInternalServerError, "personal-data-unreadable", "The claim's personal data does not open",
			"the key store does not hold this customer's key (restore it with rmaledger restore-keys), or an event was altered (run rmaledger audit verify)")
	case errors.Is(err, context.DeadlineExceeded):
		return newProblem(http.StatusServiceUnavailable, "timeout", "The request took too long; retry later", "")
	case errors.Is(err, projections.ErrTotalOverflow):
		return newProblem(http.StatusUnprocessableEntity, "total-out-of-range", "A total does not fit in 64-bit minor units; ask for a shorter period", err.Error())
	}
	if p := echoProblem(err); p != nil {
		return p
	}
	return newProblem(http.StatusInternalServerError, "internal", "Internal error", "")
}

// echoProblem maps the errors echo and its middleware produce: the router's
// 404 and 405, and every error that carries its own status (echo.HTTPError,
// echo's status errors such as ErrUnsupportedMediaType, binding errors).
// Whatever carries a 4xx or 5xx status answers it; nil means none does.
func echoProblem(err error) *Problem {
	switch {
	case errors.Is(err, echo.ErrNotFound):
		return newProblem(http.StatusNotFound, "no-such-route", "No such resource", "no route matches this path; the API is described at /openapi.yaml")
	case errors.Is(err, echo.ErrMethodNotAllowed):
		return newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", "the Allow header lists the methods this path answers")
	}
	status := echo.StatusCode(err)
	if status < 400 || status > 599 || status == http.StatusInternalServerError {
		return nil
	}
	p := newProblem(status, slugForStatus(status), http.StatusText(status), "")
	if status >= 500 {
		return p // the error's text is the server's business
	}
	var (
		binding *echo.BindingError
		httpErr *echo.HTTPError
	)
	switch {
	case errors.As(err, &binding):
		p.Detail = fmt.Sprintf("parameter %q: %s", binding.Field, binding.Message)
	case errors.As(err, &httpErr) && httpErr.Message != http.StatusText(status):
		p.Detail = httpErr.Message
	}
	return p
}

func slugForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not-found"
	case http.StatusMethodNotAllowed:
		return "method-not-allowed"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusUnsupportedMediaType:
		return "unsupported-media-type"
	case http.StatusRequestEntityTooLarge:
		return "body-too-large"
	case http.StatusBadRequest:
		return "bad-request"
	case http.StatusRequestTimeout:
		return "request-timeout"
	case http.StatusTooManyRequests:
		return "too-many-requests"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "http-" + strconv.Itoa(status)
}

// errorHandler writes every error as application/problem+json. Internal
// errors are logged with the request ID and never shown to the client.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(c *echo.Context, err error) {
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
			return
		}
		p := problemFor(err)
		p.Instance = c.Request().URL.Path
		p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
		if p.Status >= 500 {
			logger.Error("request failed", "error", err, "status", p.Status, "path", loggedURI(c, p.Instance), "request_id", p.RequestID)
		}
		if p.Status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", "1")
		}
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		if c.Request().Method == http.MethodHead { // GET's headers, no body
			c.Response().WriteHeader(p.Status)
			return
		}
		c.Response().WriteHeader(p.Status)
		if werr := jsonEncode(c.Response(), p); werr != nil {
			logger.Debug("write problem", "error", werr)
		}
	}
}

// badRequest is a 400 problem for a malformed request.
func badRequest(slug, format string, args ...any) *Problem {
	return newProblem(http.StatusBadRequest, slug, "Malformed request", fmt.Sprintf(format, args...))
}

// statusProblem maps the public status page's refusals (statuspage.Error:
// status-not-found, rate-limited, invalid-parameter...); problemFor calls it.
func statusProblem(err error) *Problem {
	var se *statuspage.Error
	if !errors.As(err, &se) {
		return nil
	}
	return newProblem(se.Status, se.Slug, se.Title, se.Detail)
}
