// Package portal is customer self-service: public pages where a customer
// files a warranty claim online and then follows and acts on it through a
// private link, in English, Russian, Bulgarian, Chinese or Greek,
// server-rendered and working without JavaScript.
//
//   - GET/POST /portal/claim is the claim form. A valid claim is registered
//     through the ledger (channel web, actor the customer, role customer);
//     the answer shows the claim number and the private link, which is
//     also handed to the Sender. A refused form comes back with each
//     field's error and nothing is written.
//   - GET /portal/c/{token} is the customer's claim page: status, what to
//     do next, and the actions the claim allows now (accept or decline an
//     estimate, pay it, confirm or dispute the service report, appeal,
//     write a message, add a file, withdraw), each posted to
//     /portal/c/{token}/actions/{action} and recorded with the customer as
//     actor. The token is a capability (portal/links): it opens its claim
//     and no other, expires and can be revoked. POST
//     /portal/c/{token}/messages records which messages the customer wants:
//     all of them, or only those that need them to act (Preferences).
//   - GET/POST /portal/link asks for the link again: claim number and the
//     registered e-mail or phone. The answer is the same whether or not
//     they match, so the form tells nobody which claims exist.
//
// Every form carries a CSRF token (echo's double-submit cookie, as the
// console does); posts are rate limited per client address and per
// contact, with the status page's limiter; the claim form has a honeypot
// field and refuses a second open claim on the same unit without saying
// anything about it.
package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/portal/links"
	"github.com/rmaledger/rmaledger/projections"
)

//go:embed assets/*.html assets/style.css
var assets embed.FS

// Paths the portal serves.
const (
	Prefix         = "/portal"
	FormPath       = Prefix + "/claim"
	ResendPath     = Prefix + "/link"
	LinkPrefix     = Prefix + "/c/"
	StylesheetPath = Prefix + "/style.css"
)

// RoleCustomer is the role recorded in the metadata of the events a
// customer causes through the portal; CustomerActor is the actor's name.
const (
	RoleCustomer  = "customer"
	CustomerActor = "customer"
)

// Steps name what a customer's file is, for Attachments.
const (
	StepProofOfPurchase = domain.StepProofOfPurchase
	StepDefectPhoto     = domain.StepDefectPhotos
	StepCustomerFile    = domain.StepOther
)

// contentSecurityPolicy allows the pages their own stylesheet and forms
// and nothing else: no scripts, no framing. Forms may also lead to an
// https page, because the Pay button's answer redirects to the payment
// provider and browsers hold a form's redirect to form-action.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'"

// Ledger registers claims and runs the customer's commands; *ledger.Service is one.
type Ledger interface {
	Register(ctx context.Context, cmd *domain.RegisterClaim, req ledger.Request) (ledger.Result, error)
	Execute(ctx context.Context, id uuid.UUID, cmd domain.Command, req ledger.Request) (ledger.Result, error)
	Claim(ctx context.Context, id uuid.UUID) (domain.State, eventstore.Position, error)
}

// Finder searches the claims read model: open claims on a unit, and a
// claim by its number; *projections.Runner is one.
type Finder interface {
	Search(ctx context.Context, q projections.SearchQuery) (projections.Page, error)
}

// Links issues and resolves private links; *links.Keeper is one.
type Links interface {
	Issue(ctx context.Context, claimID uuid.UUID, language string, by links.Actor) (links.Link, error)
	Resolve(ctx context.Context, token string) (links.Link, error)
	Language(ctx context.Context, claimID uuid.UUID) (string, error)
	Revoke(ctx context.Context, claimID uuid.UUID, by links.Actor) error
}

// Attachments checks and stores a customer's file with the claim. A
// refused file's error has RefusalCode (see Refusal).
type Attachments interface {
	// CheckCustomerFile refuses a file AttachCustomerFile would refuse
	// whatever the claim (its type, its size), storing nothing.
	CheckCustomerFile(ctx context.Context, body io.Reader) error
	AttachCustomerFile(ctx context.Context, claimID uuid.UUID, name string, body io.Reader, step string) error
}

// Refusal is an Attachments error that refuses a file, with one of the
// codes "file.type", "file.too-large", "file.claim-full", "file.heic".
type Refusal interface {
	error
	RefusalCode() string
}

// Payments starts an online payment of the claim's accepted estimate and
// returns where to send the customer; the provider brings them back to
// returnURL.
type Payments interface {
	StartPayment(ctx context.Context, claimID uuid.UUID, returnURL string) (redirectURL string, err error)
}

// LinkMessage is a private link to send to the customer of a claim. It
// carries no contact details: the sender finds them with the claim.
type LinkMessage struct {
	ClaimID  uuid.UUID
	Number   string
	Language string
	// URL is the link; Token its capability, for a sender that builds the
	// URL from the service's public origin itself.
	URL       string
	Token     string
	ExpiresAt time.Time
}

// Sender delivers private links to customers (the notifications outbox).
type Sender interface {
	SendLink(ctx context.Context, m LinkMessage) error
}

// Preferences keeps the customer's choice of messages for a claim;
// *preferences.Keeper is one.
type Preferences interface {
	Get(ctx context.Context, claimID uuid.UUID) (notify.Preferences, error)
	Set(ctx context.Context, claimID uuid.UUID, p notify.Preferences, actor, role string) error
}

// BankAccount is where a customer pays by transfer when there are no
// online payments.
type BankAccount struct {
	Beneficiary string
	IBAN        string
	BIC         string
}

// Config configures the portal. Zero fields take the defaults noted.
type Config struct {
	// Ledger, Finder and Links are required.
	Ledger Ledger
	Finder Finder
	Links  Links
	// Sender receives every link issued (required).
	Sender Sender
	// Attachments stores uploaded files; nil: the forms have no file fields.
	Attachments Attachments
	// Preferences keeps which messages the customer wants; nil: the claim
	// page offers no choice.
	Preferences Preferences
	// Documents issues the claim's documents the customer downloads from the
	// claim page; nil: the page offers none.
	Documents Documents
	// Payments takes online payments; nil: the claim page shows Bank.
	Payments Payments
	Bank     BankAccount
	// PublicURL is the portal's origin in the links it sends
	// ("https://service.example.com"); empty: the request's own.
	PublicURL string
	// Categories are the product categories offered, as policy codes
	// (default laptop, phone, tablet, monitor, tv, appliance, other).
	Categories []string
	// Currencies a price may be given in (default EUR, BGN, USD, GBP, RUB, CNY).
	Currencies []string
	// PerClient limits posts and link openings per client address (default
	// 20 at once, then one every 3s); PerContact limits claims and link
	// requests per e-mail, phone and claim number (default 5 at once, then
	// one every 10 minutes). Tracked bounds the keys each remembers (default 65536).
	PerClient, PerContact statuspage.Limit
	Tracked               int
	// ResendTime is the least time a "send me my link again" answer takes,
	// so that a match (which issues and sends a link) and a miss take
	// alike (default 500ms).
	ResendTime time.Duration
	// MaxUploadBytes bounds a form post with its files (default 40 MiB);
	// each file's own limits are Attachments'.
	MaxUploadBytes int64
	// HTTPS reports whether a request came over TLS, directly or through a
	// trusted proxy: the CSRF cookie is Secure then (default: r.TLS != nil).
	HTTPS func(*http.Request) bool
	// Location is the time zone of dates (default UTC).
	Location *time.Location
	// Now is the clock (default time.Now); Logger receives failures.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if len(c.Categories) == 0 {
		c.Categories = []string{"laptop", "phone", "tablet", "monitor", "tv", "appliance", "other"}
	}
	if len(c.Currencies) == 0 {
		c.Currencies = []string{"EUR", "BGN", "USD", "GBP", "RUB", "CNY"}
	}
	if c.PerClient == (statuspage.Limit{}) {
		c.PerClient = statuspage.Limit{Burst: 20, Every: 3 * time.Second}
	}
	if c.PerContact == (statuspage.Limit{}) {
		c.PerContact = statuspage.Limit{Burst: 5, Every: 10 * time.Minute}
	}
	if c.Tracked == 0 {
		c.Tracked = 1 << 16
	}
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = 40 << 20
	}
	if c.ResendTime == 0 {
		c.ResendTime = 500 * time.Millisecond
	}
	if c.HTTPS == nil {
		c.HTTPS = func(r *http.Request) bool { return r.TLS != nil }
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration that cannot serve.
func (c Config) Validate() error {
	switch {
	case c.Ledger == nil || c.Finder == nil || c.Links == nil:
		return errors.New("portal: Ledger, Finder and Links are required")
	case c.Sender == nil:
		return errors.New("portal: Sender is required (the notifications outbox)")
	case c.MaxUploadBytes < 0:
		return errors.New("portal: MaxUploadBytes must not be negative")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return errors.New("portal: PublicURL must be an origin such as https://service.example.com")
		}
	}
	return nil
}

// Portal serves the customer pages.
type Portal struct {
	cfg        Config
	cat        *catalogue
	tmpl       *template.Template
	css        []byte
	stylesheet string
	clients    *statuspage.KeyedLimiter
	contacts   *statuspage.KeyedLimiter
}

// New returns the portal.
func New(cfg Config) (*Portal, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cat, err := loadCatalogue()
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("layout.html").Funcs(funcs).
		ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, err
	}
	// The status page's look, then the portal's forms.
	css, err := statuspage.Stylesheet()
	if err != nil {
		return nil, err
	}
	own, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return nil, err
	}
	css = append(append(css, '\n'), own...)
	sum := sha256.Sum256(css)
	p := &Portal{cfg: cfg, cat: cat, tmpl: tmpl, css: css, stylesheet: StylesheetPath + "?v=" + hex.EncodeToString(sum[:6])}
	if p.clients, err = statuspage.NewKeyedLimiter(cfg.PerClient, cfg.Tracked, cfg.Now); err != nil {
		return nil, err
	}
	if p.contacts, err = statuspage.NewKeyedLimiter(cfg.PerContact, cfg.Tracked, cfg.Now); err != nil {
		return nil, err
	}
	return p, nil
}

// csrfField is the form field that carries the CSRF token.
const csrfField = "csrf"

// Register mounts the portal on e.
func (p *Portal) Register(e *echo.Echo) error {
	secure := middleware.SecureWithConfig(middleware.SecureConfig{
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ContentSecurityPolicy: contentSecurityPolicy,
		ReferrerPolicy:        "no-referrer",
	})
	// The CSRF cookie is Secure over HTTPS; echo fixes the attribute per
	// middleware, so there is one of each and the request picks.
	var csrfBy [2]echo.MiddlewareFunc
	for i, tls := range []bool{false, true} {
		var err error
		csrfBy[i], err = middleware.CSRFConfig{
			TokenLookup:    "form:" + csrfField,
			CookieName:     "rmaledger_portal_csrf",
			CookiePath:     Prefix,
			CookieHTTPOnly: true,
			CookieSecure:   tls,
			CookieSameSite: http.SameSiteStrictMode,
			// A post the browser says came from another site is refused.
			AllowSecFetchSiteFunc: func(*echo.Context) (bool, error) { return false, errCrossSite },
			ErrorHandler:          func(c *echo.Context, err error) error { return errCSRF },
		}.ToMiddleware()
		if err != nil {
			return err
		}
	}
	csrf := func(next echo.HandlerFunc) echo.HandlerFunc {
		plain, tls := csrfBy[0](next), csrfBy[1](next)
		return func(c *echo.Context) error {
			check := plain
			if p.cfg.HTTPS(c.Request()) {
				check = tls
			}
			err := check(c)
			if errors.Is(err, errCrossSite) || errors.Is(err, errCSRF) {
				return p.refused(c, http.StatusForbidden, "refused.csrf")
			}
			return err
		}
	}
	g := e.Group(Prefix, secure, noStore, p.bounded, csrf)
	g.GET("", func(c *echo.Context) error { return c.Redirect(http.StatusSeeOther, FormPath) })
	g.GET("/style.css", p.style)
	g.GET("/claim", p.claimForm)
	g.POST("/claim", p.fileClaim)
	g.GET("/link", p.resendForm)
	g.POST("/link", p.resend)
	g.GET("/c/:token", p.claimPage)
	g.POST("/c/:token/actions/:action", p.act)
	g.POST("/c/:token/messages", p.choose)
	if p.cfg.Documents != nil {
		g.GET("/c/:token/documents/:kind", p.document)
	}
	return nil
}

var (
	errCrossSite = errors.New("portal: cross-site post")
	errCSRF      = errors.New("portal: CSRF token missing or wrong")
)

// noStore keeps every answer out of caches: they hold a claim's details.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}

// bounded reads a post's form, files included, within MaxUploadBytes
// before anything else looks at it (the CSRF check reads the form): a
// larger post gets the page again with the refusal, not a broken
// connection.
func (p *Portal) bounded(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodPost {
			return next(c)
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, p.cfg.MaxUploadBytes)
		var err error
		if ct := r.Header.Get(echo.HeaderContentType); len(ct) >= 19 && ct[:19] == "multipart/form-data" {
			err = r.ParseMultipartForm(8 << 20)
		} else {
			err = r.ParseForm()
		}
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return p.refused(c, http.StatusRequestEntityTooLarge, "refused.too_large")
		case err != nil:
			return p.refused(c, http.StatusBadRequest, "refused.bad_request")
		}
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
		return next(c)
	}
}

func (p *Portal) style(c *echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=86400")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", p.css)
}

// page is what every template gets: the language, the switcher and the
// page's own data.
type page struct {
	loc        *locale
	Lang       string
	Stylesheet string
	Title      string
	Name       string // which page: form, filed, claim, resend, sent, refused
	Languages  []languageLink
	CSRF       string
	Data       any
}

// T translates a fixed text of the templates.
func (v *page) T(key string, args ...any) string { return v.loc.T(key, args...) }

type languageLink struct {
	Code, Name, Href string
	Current          bool
}

// render writes a page. here is the page's own path, which the language
// links lead to with ?lang=.
func (p *Portal) render(c *echo.Context, status int, loc *locale, name, title, here string, data any) error {
	v := &page{loc: loc, Lang: loc.Code, Stylesheet: p.stylesheet, Title: loc.T(title), Name: name, Data: data}
	if token, ok := c.Get("csrf").(string); ok {
		v.CSRF = token
	}
	for _, l := range p.cat.All() {
		v.Languages = append(v.Languages, languageLink{
			Code: l.Code, Name: l.T("lang.self"), Href: here + "?lang=" + url.QueryEscape(l.Code), Current: l == loc,
		})
	}
	h := c.Response().Header()
	h.Set("Content-Language", loc.Code)
	h.Add(echo.HeaderVary, "Accept-Language")
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// refused answers a post the portal cannot take at all (CSRF, malformed,
// too large) with a page saying so.
func (p *Portal) refused(c *echo.Context, status int, key string) error {
	loc := p.cat.Pick(c.Request().Header.Get("Accept-Language"), c.QueryParam("lang"))
	return p.render(c, status, loc, "refused", "refused.title", FormPath, loc.T(key))
}

// unavailable answers a failure of the ledger or the store: logged
// without the request's path, which may hold a token.
func (p *Portal) unavailable(c *echo.Context, loc *locale, err error) error {
	p.cfg.Logger.ErrorContext(c.Request().Context(), "portal: request failed", "error", err,
		"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	c.Response().Header().Set("Retry-After", "5")
	return p.render(c, http.StatusServiceUnavailable, loc, "refused", "refused.title", FormPath, loc.T("refused.unavailable"))
}

// limited takes a token from each key's bucket; it reports the longest
// wait when one of them has none.
func (p *Portal) limited(c *echo.Context, contacts ...string) (time.Duration, bool) {
	if ok, wait := p.clients.Allow(statuspage.ClientKey(c.RealIP())); !ok {
		return wait, true
	}
	for _, k := range contacts {
		if k == "" {
			continue
		}
		if ok, wait := p.contacts.Allow(k); !ok {
			return wait, true
		}
	}
	return 0, false
}

// origin is the scheme and host the portal's links start with.
func (p *Portal) origin(c *echo.Context) string {
	if p.cfg.PublicURL != "" {
		u, _ := url.Parse(p.cfg.PublicURL)
		return u.Scheme + "://" + u.Host
	}
	scheme := "http"
	if p.cfg.HTTPS(c.Request()) {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}

// linkURL is the private link of a token.
func (p *Portal) linkURL(c *echo.Context, token string) string {
	return p.origin(c) + LinkPrefix + token
}

// customer is the actor of every event a customer causes.
func customer(key string) ledger.Request {
	return ledger.Request{Actor: ledger.Actor{Name: CustomerActor, Role: RoleCustomer}, IdempotencyKey: key}
}

// issueLink makes a private link for the claim and hands it to the Sender.
func (p *Portal) issueLink(c *echo.Context, claimID uuid.UUID, number, lang string) (links.Link, string, error) {
	ctx := c.Request().Context()
	link, err := p.cfg.Links.Issue(ctx, claimID, lang, links.Actor{Name: CustomerActor, Role: RoleCustomer})
	if err != nil {
		return links.Link{}, "", err
	}
	u := p.linkURL(c, link.Token)
	if err := p.cfg.Sender.SendLink(ctx, LinkMessage{ClaimID: claimID, Number: number, Language: lang, URL: u, Token: link.Token, ExpiresAt: link.ExpiresAt}); err != nil {
		p.cfg.Logger.ErrorContext(ctx, "portal: handing the link to the sender failed", "claim", number, "error", err)
	}
	return link, u, nil
}
