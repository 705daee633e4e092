package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rmaledger/rmaledger/api/statuspage"
)

// unmatched are requests no route answers: a path nothing serves is 404,
// a method a served path does not answer is 405 with the methods it does.
var unmatched = []struct {
	method, path string
	status       int
	allow        string // for 405
}{
	{"GET", "/favicon.ico", 404, ""},
	{"GET", "/robots.txt", 404, ""},
	{"GET", "/status/", 404, ""},
	{"GET", "/status/assets/../../go.mod", 404, ""},
	{"GET", "/status/..%2f..%2fgo.mod", 404, ""},
	{"GET", "/%2e%2e/%2e%2e/etc/passwd", 404, ""},
	{"GET", "//etc/passwd", 404, ""},
	{"GET", "/index.html", 404, ""},
	{"GET", "/.env", 404, ""},
	{"GET", "/.git/config", 404, ""},
	{"GET", "/wp-login.php", 404, ""},
	{"GET", "/HEALTHZ", 404, ""},
	{"GET", "/healthz/", 404, ""},
	{"GET", "/openapi.json", 404, ""},
	{"GET", "/status/style.css/x", 404, ""},
	{"GET", "/v1", 404, ""},
	{"GET", "/v1/", 404, ""},
	{"GET", "/v2/claims", 404, ""},
	{"GET", "/v1/nope", 404, ""},
	{"GET", "/v1/status/x", 404, ""},
	{"GET", "/v1/claims/" + someClaim + "/nope", 404, ""},
	{"GET", "/v1/claims/" + someClaim + "/actions", 404, ""},
	{"GET", "/v1/finance", 404, ""},
	{"GET", "/v1/finance/nope", 404, ""},
	{"GET", "/v1/audit", 404, ""},
	{"GET", "/v1/sla", 404, ""},
	{"GET", "/v1/admin", 404, ""},
	{"GET", "/v1/customers/" + someClaim, 404, ""},
	{"HEAD", "/favicon.ico", 404, ""},
	{"HEAD", "/v1/nope", 404, ""},
	{"OPTIONS", "/v1/nope", 404, ""},
	{"DELETE", "/v1/nope", 404, ""},
	{"POST", "/v1/nope", 404, ""},

	{"POST", "/", 405, "OPTIONS, GET, HEAD"},
	{"PUT", "/", 405, "OPTIONS, GET, HEAD"},
	{"DELETE", "/", 405, "OPTIONS, GET, HEAD"},
	{"POST", "/healthz", 405, "OPTIONS, GET, HEAD"},
	{"PUT", "/healthz", 405, "OPTIONS, GET, HEAD"},
	{"DELETE", "/healthz", 405, "OPTIONS, GET, HEAD"},
	{"TRACE", "/healthz", 405, "OPTIONS, GET, HEAD"},
	{"PROPFIND", "/healthz", 405, "OPTIONS, GET, HEAD"},
	{"PATCH", "/readyz", 405, "OPTIONS, GET, HEAD"},
	{"PUT", "/metrics", 405, "OPTIONS, GET, HEAD"},
	{"POST", "/openapi.yaml", 405, "OPTIONS, GET, HEAD"},
	{"PUT", "/status", 405, "OPTIONS, GET, HEAD, POST"},
	{"DELETE", "/status", 405, "OPTIONS, GET, HEAD, POST"},
	{"POST", "/status/style.css", 405, "OPTIONS, GET, HEAD"},
	{"POST", "/v1/status", 405, "OPTIONS, GET, HEAD"},
	{"DELETE", "/v1/claims", 405, "OPTIONS, GET, HEAD, POST"},
	{"PUT", "/v1/claims", 405, "OPTIONS, GET, HEAD, POST"},
	{"PATCH", "/v1/claims", 405, "OPTIONS, GET, HEAD, POST"},
	{"PUT", "/v1/claims/" + someClaim, 405, "OPTIONS, GET, HEAD"},
	{"DELETE", "/v1/claims/" + someClaim, 405, "OPTIONS, GET, HEAD"},
	{"POST", "/v1/claims/" + someClaim, 405, "OPTIONS, GET, HEAD"},
	{"POST", "/v1/claims/" + someClaim + "/events", 405, "OPTIONS, GET, HEAD"},
	{"GET", "/v1/claims/" + someClaim + "/actions/add-note", 405, "OPTIONS, POST"},
	{"HEAD", "/v1/claims/" + someClaim + "/actions/add-note", 405, "OPTIONS, POST"},
	{"DELETE", "/v1/finance/compensations", 405, "OPTIONS, GET, HEAD"},
	{"POST", "/v1/finance/reconciliation", 405, "OPTIONS, GET, HEAD"},
	{"POST", "/v1/audit/verify", 405, "OPTIONS, GET, HEAD"},
	{"DELETE", "/v1/audit/checkpoints", 405, "OPTIONS, POST"},
	{"GET", "/v1/admin/projections/claims/rebuild", 405, "OPTIONS, POST"},
	{"PUT", "/v1/sla/timers", 405, "OPTIONS, GET, HEAD"},
	{"GET", "/v1/customers/" + someClaim + "/erase", 405, "OPTIONS, POST"},
}

const someClaim = "0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e"

// TestUnmatchedRequests walks requests no route answers, without a key and
// with a valid one: each is a precise 404 or 405 (with Allow) problem, never
// a 5xx.
func TestUnmatchedRequests(t *testing.T) {
	if len(unmatched) < 50 {
		t.Fatalf("only %d cases", len(unmatched))
	}
	ts := newTestServer(t)
	for _, role := range []Role{"", RoleAdmin} {
		for _, tc := range unmatched {
			name := fmt.Sprintf("%s %s as %q", tc.method, tc.path, role)
			res := ts.do(tc.method, tc.path, role, nil)
			if res.Code != tc.status {
				t.Errorf("%s: %d, want %d\n%s", name, res.Code, tc.status, res.Body)
				continue
			}
			if got := res.Header.Get("Allow"); got != tc.allow {
				t.Errorf("%s: Allow %q, want %q", name, got, tc.allow)
			}
			if tc.method == http.MethodHead {
				if len(res.Body) != 0 {
					t.Errorf("%s: HEAD answered a body", name)
				}
				continue
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s: Content-Type %q", name, ct)
				continue
			}
			slug := map[int]string{404: "no-such-route", 405: "method-not-allowed"}[tc.status]
			if got := res.json(t)["type"]; got != "urn:rmaledger:problem:"+slug {
				t.Errorf("%s: type %v, want %s", name, got, slug)
			}
		}
	}
}

// TestOptionsAnswersAllow: OPTIONS on a served path says what it answers.
func TestOptionsAnswersAllow(t *testing.T) {
	ts := newTestServer(t)
	for path, allow := range map[string]string{
		"/":                                   "OPTIONS, GET, HEAD",
		"/healthz":                            "OPTIONS, GET, HEAD",
		"/v1/claims":                          "OPTIONS, GET, HEAD, POST",
		"/v1/claims/" + someClaim + "/events": "OPTIONS, GET, HEAD",
	} {
		res := ts.do(http.MethodOptions, path, "", nil)
		if res.Code != http.StatusNoContent || res.Header.Get("Allow") != allow {
			t.Errorf("OPTIONS %s: %d Allow %q, want 204 Allow %q", path, res.Code, res.Header.Get("Allow"), allow)
		}
	}
}

// TestHeadAnswersWhereGetDoes: every GET route answers HEAD with GET's
// status and headers and no body, as whoever asks.
func TestHeadAnswersWhereGetDoes(t *testing.T) {
	ts := newTestServer(t, func(w *testWiring) {
		w.config = func(c *Config) {
			c.StatusPage.PerClient, c.StatusPage.PerNumber = statuspage.Unlimited, statuspage.Unlimited
			c.AuthFailures = NoAuthLimit
		}
	})
	params := matrixParams(ts.register())
	paramRE := regexp.MustCompile(`:([a-z_]+)`)
	routes := 0
	for _, r := range ts.echo.Router().Routes() {
		if r.Method != http.MethodGet {
			continue
		}
		routes++
		path := paramRE.ReplaceAllStringFunc(r.Path, func(p string) string { return params[p[1:]] })
		for _, role := range []Role{"", RoleAdmin, RoleAuditor} {
			get := ts.do(http.MethodGet, path, role, nil)
			head := ts.do(http.MethodHead, path, role, nil)
			if head.Code != get.Code || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") || len(head.Body) != 0 {
				t.Errorf("HEAD %s as %q: %d %q with %d bytes; GET: %d %q", path, role,
					head.Code, head.Header.Get("Content-Type"), len(head.Body), get.Code, get.Header.Get("Content-Type"))
			}
		}
	}
	if routes < 15 {
		t.Fatalf("only %d GET routes walked", routes)
	}
	if res := ts.do(http.MethodHead, "/healthz", "", nil); res.Code != http.StatusOK {
		t.Errorf("HEAD /healthz: %d, want 200", res.Code)
	}
}

// TestEchoErrorsAnswerTheirOwnStatus: every error echo and its middleware
// can return reaches the client with its own status as a problem; errors
// that carry no status (a handler's programming error) are 500 and say
// nothing more.
func TestEchoErrorsAnswerTheirOwnStatus(t *testing.T) {
	wrapped := errors.New("inner detail that must not leak")
	for _, tc := range []struct {
		name   string
		err    error
		status int
		slug   string
	}{
		{"ErrBadRequest", echo.ErrBadRequest, 400, "bad-request"},
		{"ErrUnauthorized", echo.ErrUnauthorized, 401, "unauthorized"},
		{"ErrForbidden", echo.ErrForbidden, 403, "forbidden"},
		{"ErrNotFound", echo.ErrNotFound, 404, "no-such-route"},
		{"ErrMethodNotAllowed", echo.ErrMethodNotAllowed, 405, "method-not-allowed"},
		{"ErrRequestTimeout", echo.ErrRequestTimeout, 408, "request-timeout"},
		{"ErrStatusRequestEntityTooLarge", echo.ErrStatusRequestEntityTooLarge, 413, "body-too-large"},
		{"ErrUnsupportedMediaType", echo.ErrUnsupportedMediaType, 415, "unsupported-media-type"},
		{"ErrTooManyRequests", echo.ErrTooManyRequests, 429, "too-many-requests"},
		{"ErrInternalServerError", echo.ErrInternalServerError, 500, "internal"},
		{"ErrBadGateway", echo.ErrBadGateway, 502, "http-502"},
		{"ErrServiceUnavailable", echo.ErrServiceUnavailable, 503, "unavailable"},
		{"wrapped status error", fmt.Errorf("reading: %w", echo.ErrUnsupportedMediaType), 415, "unsupported-media-type"},
		{"ErrNotFound.Wrap", echo.ErrNotFound.Wrap(wrapped), 404, "not-found"},
		{"ErrBadRequest.Wrap", echo.ErrBadRequest.Wrap(wrapped), 400, "bad-request"},
		{"JSONP callback", echo.ErrBadRequest.Wrap(echo.ErrInvalidJSONPCallback), 400, "bad-request"},
		{"NewHTTPError", echo.NewHTTPError(http.StatusConflict, "busy"), 409, "http-409"},
		{"NewHTTPError 5xx", echo.NewHTTPError(http.StatusGatewayTimeout, "upstream"), 504, "http-504"},
		{"NewHTTPError without a status", echo.NewHTTPError(0, "none"), 500, "internal"},
		{"binding error", echo.NewBindingError("n", []string{"x"}, "failed to bind field value to int", wrapped), 400, "bad-request"},
		{"key auth missing", middleware.ErrKeyMissing, 401, "unauthorized"},
		{"key auth invalid", middleware.ErrInvalidKey, 401, "unauthorized"},
		{"rate limiter", middleware.ErrRateLimitExceeded, 429, "too-many-requests"},
		{"rate limiter extractor", middleware.ErrExtractorError, 403, "forbidden"},
		{"CSRF", middleware.ErrCSRFInvalid, 403, "forbidden"},
		{"ErrValidatorNotRegistered", echo.ErrValidatorNotRegistered, 500, "internal"},
		{"ErrRendererNotRegistered", echo.ErrRendererNotRegistered, 500, "internal"},
		{"ErrInvalidRedirectCode", echo.ErrInvalidRedirectCode, 500, "internal"},
		{"ErrCookieNotFound", echo.ErrCookieNotFound, 500, "internal"},
		{"route error", &echo.AddRouteError{Method: "GET", Path: "/x", Err: wrapped}, 500, "internal"},
		{"panic", &middleware.PanicStackError{Err: wrapped}, 500, "internal"},
	} {
		res := serveError(t, func(*echo.Context) error { return tc.err })
		if res.Code != tc.status || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %q, want %d problem", tc.name, res.Code, res.Header.Get("Content-Type"), tc.status)
			continue
		}
		body := res.json(t)
		if body["type"] != "urn:rmaledger:problem:"+tc.slug || body["status"] != float64(tc.status) {
			t.Errorf("%s: %s", tc.name, res.Body)
		}
		if strings.Contains(string(res.Body), "inner detail") {
			t.Errorf("%s: the wrapped error leaked: %s", tc.name, res.Body)
		}
	}

	// Errors echo produces itself, as a handler meets them.
	for _, tc := range []struct {
		name    string
		handler echo.HandlerFunc
		query   string
		status  int
		detail  string
	}{
		{"query binding", func(c *echo.Context) error {
			var q struct {
				N int `query:"n"`
			}
			return c.Bind(&q)
		}, "?n=x", 400, "bad-request"},
		{"value binder", func(c *echo.Context) error {
			var n int
			return echo.QueryParamsBinder(c).Int("n", &n).BindError()
		}, "?n=x", 400, `parameter \"n\": failed to bind field value to int`},
		{"JSONP", func(c *echo.Context) error { return c.JSONP(http.StatusOK, "alert(1)//", nil) }, "", 400, ""},
		{"redirect code", func(c *echo.Context) error { return c.Redirect(http.StatusOK, "/x") }, "", 500, ""},
		{"render", func(c *echo.Context) error { return c.Render(http.StatusOK, "page", nil) }, "", 500, ""},
		{"cookie", func(c *echo.Context) error { _, err := c.Cookie("session"); return err }, "", 500, ""},
	} {
		res := serveError(t, tc.handler, tc.query)
		if res.Code != tc.status || res.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(string(res.Body), tc.detail) {
			t.Errorf("%s: %d %q %s, want %d with %q", tc.name, res.Code, res.Header.Get("Content-Type"), res.Body, tc.status, tc.detail)
		}
	}
}

// serveError answers one request with handler through the API's error
// handler.
func serveError(t *testing.T, handler echo.HandlerFunc, query ...string) response {
	t.Helper()
	e := echo.NewWithConfig(echo.Config{HTTPErrorHandler: errorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	e.GET("/", handler)
	req := httptest.NewRequest(http.MethodGet, "/"+strings.Join(query, ""), nil)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}
