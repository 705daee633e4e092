// Package api serves the ledger over HTTP with echo: JSON resources, errors
// as RFC 9457 problem details, API keys with roles, optimistic concurrency
// with If-Match and idempotent retries with Idempotency-Key.
package api

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

//go:embed openapi.yaml
var openAPIDocument []byte

// Config wires the API to the rest of the service.
type Config struct {
	// Ledger runs commands and reads claim histories.
	Ledger *ledger.Service
	// Reads answers queries from the read models.
	Reads *projections.Runner
	// ReadYourWritesTimeout bounds how long a read given min_position waits
	// for the read models before answering 503 (default 2s).
	ReadYourWritesTimeout time.Duration
	// Keys authenticates clients.
	Keys *Keys
	// AuthFailures limits failed authentications per client address
	// (default 10 at once, then one every 6s; NoAuthLimit turns it off).
	AuthFailures AuthLimit
	// Logger receives request logs and internal errors (default slog.Default()).
	Logger *slog.Logger
	// Ready reports whether the service can serve (e.g. the store answers);
	// nil means always ready.
	Ready func(context.Context) error
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// FinanceLocation is the time zone of finance periods: a date in
	// from/to is a day there (default UTC).
	FinanceLocation *time.Location
	// MaxInFlight bounds the /v1 requests served at once (default 256); a
	// request that finds no free slot within OverloadWait (default 100ms)
	// gets 503 with Retry-After.
	MaxInFlight  int
	OverloadWait time.Duration
	// StatusPage configures the public status page: time zone, rate limits
	// (see statuspage.Config). Its Lookup defaults to Reads, its Location to
	// the ledger's.
	StatusPage statuspage.Config
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed for the client's address (see ParseTrustedProxies); none by
	// default, so the address is the connection's.
	TrustedProxies []netip.Prefix
	// Audit wires verification, checkpoints and exports (see AuditConfig).
	Audit AuditConfig
	// Registerer receives the HTTP metrics; Gatherer serves /metrics
	// (default: a new registry of their own).
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Clock is the instant timers are judged and amounts aged at when a
	// request names none: the ledger's clock (default time.Now; in a
	// sandbox, its test clock).
	Clock func() time.Time
	// Sandbox, when set, serves the test clock routes (see clock.go); nil
	// outside a sandbox, where they answer 409 not-a-sandbox.
	Sandbox *SandboxConfig
	// PortalLinks lets staff revoke and reissue the customer portal's
	// private links (see portallinks.go); nil: those routes answer 404
	// portal-disabled.
	PortalLinks PortalLinks
	// OwnBodyLimit selects requests that bound their bodies themselves
	// (the customer portal's uploads), which MaxBodyBytes does not bound.
	OwnBodyLimit func(*http.Request) bool
	// Payments takes online payment of accepted estimates (see payments.go);
	// nil answers online-payment-not-offered.
	Payments Payments
	// Files attaches and serves claims' files (see files.go); nil answers
	// 501 files-unavailable on the files routes.
	Files ClaimFiles
	// Webhooks keeps the webhook subscriptions (see webhooks.go); nil: the
	// /v1/webhooks routes answer 404 webhooks-disabled.
	Webhooks Webhooks
	// WebhookDeliveries lists and replays webhook messages; nil: those two
	// routes answer 404 webhook-deliveries-unavailable.
	WebhookDeliveries WebhookDeliveries
	// Documents prints claims' documents (see documents.go); nil answers
	// 501 documents-unavailable.
	Documents ClaimDocuments
}

// Validate reports a configuration that cannot serve.
func (c Config) Validate() error {
	switch {
	case c.Ledger == nil:
		return errors.New("api: Ledger is required")
	case c.Reads == nil:
		return errors.New("api: Reads is required")
	case c.Keys == nil || c.Keys.Len() == 0:
		return errors.New("api: at least one API key is required")
	case c.MaxBodyBytes < 0:
		return errors.New("api: MaxBodyBytes must not be negative")
	case !c.AuthFailures.off() && (c.AuthFailures.Burst < 1 || c.AuthFailures.Every <= 0 || c.AuthFailures.Tracked < 0):
		return errors.New("api: AuthFailures needs Burst of at least 1 and a positive Every (or NoAuthLimit)")
	case c.MaxInFlight < 0 || c.OverloadWait < 0:
		return errors.New("api: MaxInFlight and OverloadWait must not be negative")
	case c.Sandbox != nil && (c.Sandbox.Clock == nil || c.Sandbox.RunTimers == nil):
		return errors.New("api: a Sandbox needs its Clock and RunTimers")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ReadYourWritesTimeout == 0 {
		c.ReadYourWritesTimeout = 2 * time.Second
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.FinanceLocation == nil {
		c.FinanceLocation = time.UTC
	}
	if c.AuthFailures == (AuthLimit{}) {
		c.AuthFailures = defaultAuthLimit
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.OverloadWait == 0 {
		c.OverloadWait = 100 * time.Millisecond
	}
	if c.Clock == nil {
		c.Clock = time.Now
		if c.Sandbox != nil && c.Sandbox.Clock != nil {
			c.Clock = c.Sandbox.Clock.Now
		}
	}
	if c.Registerer == nil || c.Gatherer == nil {
		reg := prometheus.NewRegistry()
		c.Registerer, c.Gatherer = reg, reg
	}
}

// server holds what the handlers need.
type server struct {
	cfg Config
	// uploads admits maxUploads file uploads at once (files.go).
	uploads chan struct{}
}

// New returns the HTTP handler of the service.
func New(cfg Config) (*echo.Echo, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, uploads: make(chan struct{}, maxUploads)}
	e := echo.NewWithConfig(echo.Config{
		Logger: cfg.Logger, HTTPErrorHandler: errorHandler(cfg.Logger), IPExtractor: ipExtractor(cfg.TrustedProxies),
		Router: newRouter(),
		// A path no route matches is 404 and a method a path does not
		// answer is 405 with Allow, with or without a key: the group's
		// catch-all routes would run authentication first and turn the
		// router's 405 into 404 (the API's routes are public in
		// /openapi.yaml anyway).
		NoGroupAutoRegister404Routes: true,
	})
	metrics, err := newHTTPMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	e.Use(
		requestID,
		metrics.middleware,
		middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
			LogMethod: true, LogURI: true, LogStatus: true, LogLatency: true, LogRequestID: true, HandleError: true,
			LogValuesFunc: func(c *echo.Context, v middleware.RequestLoggerValues) error {
				cfg.Logger.LogAttrs(c.Request().Context(), slog.LevelInfo, "request",
					slog.String("method", v.Method), slog.String("uri", loggedURI(c, v.URI)), slog.Int("status", v.Status),
					slog.Duration("latency", v.Latency), slog.String("request_id", v.RequestID),
					slog.String("actor", actorOf(c).Name))
				return nil
			},
		}),
		// The panic's stack goes to the error log with the request id (echo
		// v5 prints it nowhere itself: it wraps it into the error), which is
		// where an operator needs it; errorHandler never puts an internal
		// error's text in the body (TestInternalErrorsLeakNothing).
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: false}),
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
			LimitBytes: cfg.MaxBodyBytes,
			Skipper: func(c *echo.Context) bool {
				return s.isUpload(c) || cfg.OwnBodyLimit != nil && cfg.OwnBodyLimit(c.Request())
			},
		}),
		s.uploadLimit,
	)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.yaml", s.openAPI)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{})))
	if err := s.registerStatusPage(e); err != nil {
		return nil, err
	}

	shed, err := newShedder(cfg.MaxInFlight, cfg.OverloadWait, cfg.Registerer)
	if err != nil {
		return nil, err
	}
	failures, err := newAuthLimiter(cfg.AuthFailures, time.Now)
	if err != nil {
		return nil, err
	}
	v1 := e.Group("/v1", shed.middleware, authenticate(cfg.Keys, failures, cfg.Logger), auditorAccess(cfg.Logger),
		organisationGuard(cfg.Ledger))
	v1.POST("/claims", s.registerClaim, require(PermWriteClaims))
	v1.POST("/claims/:id/actions/:action", s.runAction, require(PermWriteClaims))
	v1.GET("/claims", s.searchClaims, require(PermReadClaims))
	v1.GET("/claims/:id", s.getClaim, require(PermReadClaims))
	v1.GET("/claims/:id/events", s.getEvents, require(PermReadClaims))
	s.registerFinance(v1)
	s.registerAudit(v1)
	s.registerSLA(v1)
	s.registerPrivacy(v1)
	s.registerClock(v1)
	s.registerPortalLinks(v1)
	s.registerPayments(e, v1, shed.middleware)
	s.registerFiles(v1)
	s.registerWebhooks(v1)
	s.registerDocuments(v1)
	v1.GET("/admin/projections", s.projectionStatus, require(PermOperate))
	v1.POST("/admin/projections/:name/rebuild", s.rebuildProjection, require(PermOperate))
	return e, nil
}

func (s *server) healthz(c *echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(c *echo.Context) error {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			c.Response().Header().Set("Retry-After", "1")
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *server) openAPI(c *echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openAPIDocument)
}

// httpMetrics counts requests per route and status, and times them.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rmaledger_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rmaledger_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *httpMetrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path() // the route pattern, so ids do not explode label cardinality
		if route == "" {
			route = "unmatched"
		}
		_, status := echo.ResolveResponseStatus(c.Response(), err)
		m.requests.WithLabelValues(c.Request().Method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(c.Request().Method, route).Observe(time.Since(start).Seconds())
		return err
	}
}
