// Package console is the staff console: the desk's queues, a claim's page
// with its history and money, the forms of the actions the claim allows now,
// and the registration of a claim taken by phone or at the counter. It is
// served under /console, server-rendered with html/template, without
// JavaScript, in English, Russian, Bulgarian, Chinese and Greek.
//
// People sign in with a name and a password (Accounts); every
// state-changing form carries a CSRF token; every action goes through the
// same command path as the API (Commands: the ledger's Decide, version
// check and idempotency) and the API's table of who may do what
// (api.Allowed), with the signed-in person recorded as the actor.
package console

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

//go:embed assets/*.html assets/console.css
var assets embed.FS

// Paths the console serves.
const (
	Prefix         = "/console"
	SignInPath     = Prefix + "/sign-in"
	SignOutPath    = Prefix + "/sign-out"
	QueuesPath     = Prefix + "/queues"
	ExportPath     = Prefix + "/queues.csv"
	RegisterPath   = Prefix + "/register"
	LanguagePath   = Prefix + "/language"
	StylesheetPath = Prefix + "/console.css"
)

// contentSecurityPolicy allows the console nothing but its own stylesheet
// and forms: no scripts, no framing, no foreign form targets.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Cookie names. The session cookie holds only the token Accounts issued.
const (
	sessionCookie  = "rmaledger_console"
	languageCookie = "rmaledger_console_lang"
	csrfCookie     = "rmaledger_console_csrf"
	csrfField      = "csrf"
)

// errCrossSite marks a state-changing request from another site.
var errCrossSite = errors.New("console: a post from another site")

// Person is who is signed in.
type Person struct {
	ID       string
	Name     string
	Role     string
	Language string // a language tag the person chose, or ""
	// Organisation is the partner organisation of a partner, who sees its
	// claims only (see keepToOrganisation); empty for the company's staff.
	Organisation string
}

// Sign-in refusals Accounts answers, matched with errors.Is.
var (
	// ErrBadCredentials means the name or the password is wrong (which one
	// is not said).
	ErrBadCredentials = errors.New("console: unknown name or wrong password")
	// ErrTooManyAttempts means the client or the account has failed too
	// often and must wait.
	ErrTooManyAttempts = errors.New("console: too many sign-in attempts")
	// ErrNoSession means a token is unknown, expired or signed out.
	ErrNoSession = errors.New("console: no such session")
)

// Accounts signs people in and out and tells who holds a session token.
type Accounts interface {
	// SignIn checks a name and password from the client's address and
	// returns a new session token, or ErrBadCredentials or
	// ErrTooManyAttempts.
	SignIn(ctx context.Context, name, password, client string) (token string, err error)
	// Verify returns the person holding a live token, or ErrNoSession,
	// and the token to keep using: a renewed one restarts the session's
	// idle limit, or the same.
	Verify(ctx context.Context, token string) (p Person, renewed string, err error)
	// SignOut ends the session of token.
	SignOut(ctx context.Context, token string) error
}

// Reads answers the console's queries from the read models;
// *projections.Runner is one.
type Reads interface {
	Claim(ctx context.Context, id uuid.UUID) (projections.ClaimRecord, error)
	Search(ctx context.Context, q projections.SearchQuery) (projections.Page, error)
	Queue(ctx context.Context, q projections.QueueQuery) (projections.QueuePage, error)
	ClaimClocks(ctx context.Context, id uuid.UUID, at time.Time) ([]projections.Timer, error)
	WaitFor(ctx context.Context, pos eventstore.Position, names ...string) error
}

// Commands is the write side and a claim's history; *ledger.Service is one.
type Commands interface {
	Register(ctx context.Context, cmd *domain.RegisterClaim, req ledger.Request) (ledger.Result, error)
	Execute(ctx context.Context, id uuid.UUID, cmd domain.Command, req ledger.Request) (ledger.Result, error)
	Claim(ctx context.Context, id uuid.UUID) (domain.State, eventstore.Position, error)
	Events(ctx context.Context, id uuid.UUID) ([]eventstore.RecordedEvent, error)
}

// Config wires the console.
type Config struct {
	// Accounts signs people in (required).
	Accounts Accounts
	// Reads answers the queues and searches (required).
	Reads Reads
	// Commands runs actions and registrations and reads claims and their
	// histories (required).
	Commands Commands
	// Location is the policy's time zone: times are shown there and
	// "intake today" is its day (default UTC).
	Location *time.Location
	// Policy supplies the reason codes offered in forms (void reasons);
	// the zero Policy offers the built-in suggestions only.
	Policy domain.Policy
	// Admin serves the admin screen (people, API keys, read models,
	// policy versions); nil leaves it out.
	Admin Admin
	// Outbox serves the admin screen of the messages the service sends;
	// nil (or no Admin) leaves it out.
	Outbox Outbox
	// Directory lists the people a claim can be assigned to (the assign
	// form offers their names); nil: the form takes a name as typed.
	Directory Directory
	// HTTPS reports whether a request came over HTTPS (directly or through
	// a trusted proxy), which marks the console's cookies Secure (default:
	// the connection is TLS).
	HTTPS func(*http.Request) bool
	// Clock is the instant SLA clocks are judged at (default time.Now).
	Clock func() time.Time
	// Logger receives internal errors (default slog.Default()).
	Logger *slog.Logger
	// Audit serves the auditor's screens; nil leaves them out.
	Audit Audit
	// Finance serves the finance screen; nil leaves it out.
	Finance Finance
	// Files attaches and serves claims' files (files.go); nil leaves the
	// claim page without its files section.
	Files Files
	// Webhooks serves the admin's screen of webhook subscriptions
	// (webhooks.go; *webhooks.Registry is one); nil leaves it out.
	Webhooks api.Webhooks
	// WebhookDeliveries lists failed webhook deliveries and replays them
	// on that screen; nil leaves them out.
	WebhookDeliveries api.WebhookDeliveries
	// Documents prints claims' documents and checks printed ones
	// (documents.go); nil leaves them out.
	Documents Documents
}

// Validate reports a configuration that cannot serve.
func (c Config) Validate() error {
	switch {
	case c.Accounts == nil:
		return errors.New("console: Accounts is required")
	case c.Reads == nil:
		return errors.New("console: Reads is required")
	case c.Commands == nil:
		return errors.New("console: Commands is required")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HTTPS == nil {
		c.HTTPS = func(r *http.Request) bool { return r.TLS != nil }
	}
}

// console holds what the handlers need.
type console struct {
	cfg        Config
	cat        *catalogue
	pages      map[string]*template.Template
	css        []byte
	stylesheet string
}

// pageNames are the templates, each defining "content" inside layout.html.
var pageNames = []string{"signin", "queues", "claim", "register", "refused", "conflict"}

// Register mounts the console under /console on e.
func Register(e *echo.Echo, cfg Config) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Every page reads and writes through these, which keep a partner to
	// its organisation (organisation.go).
	cfg.Reads, cfg.Commands = scopedReads{cfg.Reads}, scopedCommands{cfg.Commands}
	cat, err := loadCatalogue()
	if err != nil {
		return err
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html")
	if err != nil {
		return err
	}
	s := &console{cfg: cfg, cat: cat, pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if s.pages[name], err = t.ParseFS(assets, "assets/"+name+".html"); err != nil {
			return err
		}
		if name == "claim" {
			if err := s.parseFiles(s.pages[name]); err != nil {
				return err
			}
			if err := s.parseDocuments(s.pages[name]); err != nil {
				return err
			}
		}
	}
	if s.css, err = assets.ReadFile("assets/console.css"); err != nil {
		return err
	}
	sum := sha256.Sum256(s.css)
	s.stylesheet = StylesheetPath + "?v=" + hex.EncodeToString(sum[:6])

	secure := middleware.SecureWithConfig(middleware.SecureConfig{
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ContentSecurityPolicy: contentSecurityPolicy,
		ReferrerPolicy:        "no-referrer",
	})
	// The CSRF cookie is Secure over HTTPS; echo fixes the attribute per
	// middleware, so there is one of each and the request picks.
	var csrfBy [2]echo.MiddlewareFunc
	for i, secure := range []bool{false, true} {
		csrfBy[i], err = middleware.CSRFConfig{
			TokenLookup:    "form:" + csrfField,
			CookieName:     csrfCookie,
			CookiePath:     Prefix,
			CookieHTTPOnly: true,
			CookieSecure:   secure,
			CookieSameSite: http.SameSiteStrictMode,
			// A post the browser says came from another site or a sibling
			// subdomain is refused, whatever it carries, with the page.
			AllowSecFetchSiteFunc: func(*echo.Context) (bool, error) { return false, errCrossSite },
			ErrorHandler: func(c *echo.Context, err error) error {
				return s.refuse(c, http.StatusForbidden, "refused.csrf")
			},
		}.ToMiddleware()
		if err != nil {
			return err
		}
	}
	csrf := func(next echo.HandlerFunc) echo.HandlerFunc {
		plain, secure := csrfBy[0](next), csrfBy[1](next)
		return func(c *echo.Context) error {
			check := plain
			if cfg.HTTPS(c.Request()) {
				check = secure
			}
			err := check(c)
			if errors.Is(err, errCrossSite) {
				return s.refuse(c, http.StatusForbidden, "refused.csrf")
			}
			return err
		}
	}
	g := e.Group(Prefix, secure, noStore, s.uploadTooLarge, csrf)
	g.GET("", func(c *echo.Context) error { return c.Redirect(http.StatusSeeOther, QueuesPath) })
	g.GET("/console.css", s.style)
	g.GET("/language", s.language)
	g.GET("/sign-in", s.signInForm)
	g.POST("/sign-in", s.signIn)
	g.POST("/sign-out", s.signOut)
	g.GET("/queues", s.queues, s.signedIn)
	g.POST("/queues", s.queues, s.signedIn)
	g.GET("/queues.csv", s.exportCSV, s.signedIn)
	g.POST("/queues.csv", s.exportCSV, s.signedIn)
	g.GET("/claims/:id", s.claim, s.signedIn)
	if err := s.mountOverview(g, base); err != nil {
		return err
	}
	if err := s.mountAdmin(g, base); err != nil {
		return err
	}
	if err := s.mountOutbox(g, base); err != nil {
		return err
	}
	if err := s.mountWebhooks(g, base); err != nil {
		return err
	}
	g.POST("/claims/:id/actions/:action", s.act, s.signedIn)
	s.mountFiles(g)
	g.GET("/register", s.registerForm, s.signedIn)
	g.POST("/register", s.register, s.signedIn)
	if err := s.mountAudit(g, base); err != nil {
		return err
	}
	if err := s.mountDocuments(g, base); err != nil {
		return err
	}
	return s.mountFinance(g, base)
}

// noStore keeps every console answer out of caches: they hold personal
// data (the stylesheet says otherwise for itself).
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}

func (s *console) style(c *echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", s.css)
}
