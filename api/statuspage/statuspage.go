// Package statuspage is the public status check: a customer or a partner
// enters a claim number and the phone number given at registration and sees
// where the claim is, what happens next, and its history, in English,
// Russian, Bulgarian, Chinese or Greek.
//
//   - GET / is the server's home page: it leads to the status check and
//     names the API's description and the documentation;
//   - GET /status is the form (server-rendered, no JavaScript);
//   - POST /status answers with the result page. POST, not GET, keeps the
//     phone number out of URLs, and so out of browser history, proxy and
//     access logs and Referer headers. The result is rendered in the answer
//     to the POST itself, without a redirect: a redirect to a GET would have
//     to carry the number and phone in the URL again, or keep them in a
//     session this page would otherwise not need;
//   - GET /v1/status?number=&phone= is the same as JSON for partners'
//     portals; the server does not log this route's query string.
//
// Everything comes from the status read model (projections.StatusView),
// which holds only what the customer may see. An unknown number and a wrong
// phone get the same answer, byte for byte, after the same work; lookups are
// rate limited per client address and per claim number.
package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/ratelimit"
	"github.com/rmaledger/rmaledger/projections"
)

//go:embed assets/page.html assets/style.css
var assets embed.FS

// Paths the page serves.
const (
	FormPath       = "/status"
	StylesheetPath = "/status/style.css"
	JSONPath       = "/v1/status"
)

// contentSecurityPolicy allows the page nothing but its own stylesheet,
// images and form: no scripts at all, no framing, no foreign form targets.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxInput bounds the number and the phone: anything longer is no claim
// number or phone, and is refused before any work.
const maxInput = 64

// Lookup finds a claim's public status by number and phone, answering
// projections.ErrNotFound when they do not belong together;
// *projections.Runner is one. StatusLookupJSON answers the same view
// already encoded as JSON, byte for byte what encoding StatusLookup's
// answer gives: the JSON route sends it as it is, while the page, which
// renders the view, uses StatusLookup.
type Lookup interface {
	StatusLookup(ctx context.Context, number, phone string) (projections.StatusView, error)
	StatusLookupJSON(ctx context.Context, number, phone string) ([]byte, error)
}

// Config configures the status page. Zero fields take the defaults noted.
type Config struct {
	// Lookup answers the queries (required).
	Lookup Lookup
	// Location is the time zone dates and times are shown in (default UTC).
	Location *time.Location
	// PerClient limits lookups per client address, an IPv6 client counting
	// by its /64 (default 20 at once, then one every 3s). The address is
	// echo's RealIP: configure the server's IPExtractor to trust a proxy.
	PerClient Limit
	// PerNumber limits lookups per claim number, whoever asks, so that many
	// addresses together cannot guess a claim's phone quickly (default 10
	// at once, then one every 30s).
	PerNumber Limit
	// Tracked bounds how many client addresses and how many claim numbers
	// the limiters remember, each (default 65536).
	Tracked int
	// Logger receives lookup failures other than "not found" (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock of the limiters (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.PerClient == (Limit{}) {
		c.PerClient = Limit{Burst: 20, Every: 3 * time.Second}
	}
	if c.PerNumber == (Limit{}) {
		c.PerNumber = Limit{Burst: 10, Every: 30 * time.Second}
	}
	if c.Tracked == 0 {
		c.Tracked = 1 << 16
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration that cannot serve.
func (c Config) Validate() error {
	if c.Lookup == nil {
		return errors.New("statuspage: Lookup is required")
	}
	if c.Tracked < 1 {
		return errors.New("statuspage: Tracked must be positive")
	}
	return errors.Join(validateLimit(c.PerClient, "PerClient"), validateLimit(c.PerNumber, "PerNumber"))
}

// Page serves the status page and its JSON twin.
type Page struct {
	cfg        Config
	cat        *catalogue
	tmpl       *template.Template
	css        []byte
	stylesheet string // the stylesheet's URL, versioned by its content
	clients    *ratelimit.Keyed
	numbers    *ratelimit.Keyed
	secure     echo.MiddlewareFunc
}

// New returns the status page.
func New(cfg Config) (*Page, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cat, err := loadCatalogue()
	if err != nil {
		return nil, err
	}
	tmpl, err := template.ParseFS(assets, "assets/page.html")
	if err != nil {
		return nil, err
	}
	css, err := Stylesheet()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(css)
	p := &Page{
		cfg: cfg, cat: cat, tmpl: tmpl, css: css,
		stylesheet: StylesheetPath + "?v=" + hex.EncodeToString(sum[:6]),
		secure: middleware.SecureWithConfig(middleware.SecureConfig{
			ContentTypeNosniff:    "nosniff",
			XFrameOptions:         "DENY",
			ContentSecurityPolicy: contentSecurityPolicy,
			ReferrerPolicy:        "no-referrer",
		}),
	}
	if p.clients, err = ratelimit.New(cfg.PerClient, cfg.Tracked, cfg.Now); err != nil {
		return nil, err
	}
	if p.numbers, err = ratelimit.New(cfg.PerNumber, cfg.Tracked, cfg.Now); err != nil {
		return nil, err
	}
	return p, nil
}

// Register adds the page's routes to e.
func (p *Page) Register(e *echo.Echo) {
	e.GET(HomePath, p.home, p.secure)
	e.GET(FormPath, p.form, p.secure)
	e.POST(FormPath, p.submit, p.secure)
	e.GET(StylesheetPath, p.style, p.secure)
	e.GET(JSONPath, p.json, p.secure)
}

// Sensitive reports whether a route's query string may hold a phone number
// and must be left out of logs.
func Sensitive(route string) bool { return route == JSONPath }

// Error is a refused status request. The JSON route returns it for the
// server's error handler to write as a problem; the page shows Key's text.
type Error struct {
	Status int
	// Slug names the problem type (urn:rmaledger:problem:<slug>).
	Slug   string
	Title  string
	Detail string
	// Key is the message the page shows; RetryAfter how long to wait (429).
	Key        string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return "statuspage: " + e.Title + ": " + e.Detail }

// StatusCode lets echo's middleware see the status.
func (e *Error) StatusCode() int { return e.Status }

// errNotFound is the one answer to an unknown number and to a wrong phone.
var errNotFound = &Error{
	Status: http.StatusNotFound, Slug: "status-not-found", Key: "error.not_found",
	Title:  "No claim matches this number and phone",
	Detail: "check the claim number and the phone number given at registration",
}

func invalid(key, detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Slug: "invalid-parameter", Title: "Malformed request", Detail: detail, Key: key}
}

// check runs a lookup through the limits and the input checks (admit),
// then looks the claim up.
func (p *Page) check(c *echo.Context, rawNumber, rawPhone string) (projections.StatusView, *Error) {
	number, fail := p.admit(c, rawNumber, rawPhone)
	if fail != nil {
		return projections.StatusView{}, fail
	}
	view, err := p.cfg.Lookup.StatusLookup(c.Request().Context(), number, rawPhone)
	if err != nil {
		return projections.StatusView{}, p.failed(err)
	}
	return view, nil
}

// admit runs a lookup's input through the limits: the client's first, so
// that malformed requests cost their sender too, then the number's. It
// returns the claim number normalized.
func (p *Page) admit(c *echo.Context, rawNumber, rawPhone string) (string, *Error) {
	if ok, wait := p.clients.Allow(ratelimit.ClientKey(c.RealIP())); !ok {
		return "", p.limited(wait)
	}
	number, ok := normalizeNumber(rawNumber)
	switch {
	case strings.TrimSpace(rawNumber) == "":
		return "", invalid("error.number_missing", "number is required")
	case !ok:
		return "", invalid("error.number_invalid", "number must be a claim number such as RMA-2026-000123")
	case strings.TrimSpace(rawPhone) == "":
		return "", invalid("error.phone_missing", "phone is required")
	case len(domain.PhoneCandidates(rawPhone)) == 0:
		return "", invalid("error.phone_invalid", "phone must be a phone number, e.g. +359 888 123 456")
	}
	if ok, wait := p.numbers.Allow(number); !ok {
		return "", p.limited(wait)
	}
	return number, nil
}

// failed is the answer to a lookup that failed: not found, the one answer
// to an unknown number and to a wrong phone, or unavailable.
func (p *Page) failed(err error) *Error {
	if errors.Is(err, projections.ErrNotFound) {
		return errNotFound
	}
	p.cfg.Logger.Error("status lookup failed", "error", err)
	return &Error{
		Status: http.StatusServiceUnavailable, Slug: "unavailable", Key: "error.unavailable",
		Title: "The status service is unavailable; retry later", RetryAfter: 5 * time.Second,
	}
}

func (p *Page) limited(wait time.Duration) *Error {
	return &Error{
		Status: http.StatusTooManyRequests, Slug: "rate-limited", Key: "error.rate_limited",
		Title:      "Too many status lookups; retry after the Retry-After header",
		Detail:     fmt.Sprintf("retry in %d s", ratelimit.RetryAfterSeconds(wait)),
		RetryAfter: wait,
	}
}

// normalizeNumber forgives case, spaces and dash variants in a claim number
// ("rma 2026 000123" is RMA-2026-000123) and reports whether what remains
// can be one: letters, digits and single dashes.
func normalizeNumber(s string) (string, bool) {
	if len(s) > maxInput {
		return "", false
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToUpper(strings.TrimSpace(s)) {
		switch {
		case r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '_' || r == '/' || r == '.' || r == '\u00a0' ||
			r >= '\u2010' && r <= '\u2015' || r == '\u2212':
			dash = true
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// json answers GET /v1/status?number=&phone=.
func (p *Page) json(c *echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	query := c.QueryParams()
	for name, values := range query {
		if name != "number" && name != "phone" {
			return &Error{Status: http.StatusBadRequest, Slug: "unknown-parameter", Title: "Malformed request",
				Detail: fmt.Sprintf("unknown query parameter %q (number and phone are expected)", name)}
		}
		if len(values) > 1 {
			return &Error{Status: http.StatusBadRequest, Slug: "repeated-parameter", Title: "Malformed request",
				Detail: fmt.Sprintf("query parameter %q given %d times", name, len(values))}
		}
	}
	number, fail := p.admit(c, query.Get("number"), query.Get("phone"))
	var view []byte
	if fail == nil {
		var err error
		if view, err = p.cfg.Lookup.StatusLookupJSON(c.Request().Context(), number, query.Get("phone")); err != nil {
			fail = p.failed(err)
		}
	}
	if fail != nil {
		setRetryAfter(c, fail)
		return fail
	}
	// The read model's bytes, and the newline c.JSON's encoder would end
	// them with: the answer is what encoding the decoded view gave, without
	// the reflection both ways.
	if err := c.JSONBlob(http.StatusOK, view); err != nil {
		return err
	}
	_, err := c.Response().Write(newline)
	return err
}

var newline = []byte{'\n'}

func setRetryAfter(c *echo.Context, e *Error) {
	if e.RetryAfter > 0 {
		c.Response().Header().Set(echo.HeaderRetryAfter, fmt.Sprint(ratelimit.RetryAfterSeconds(e.RetryAfter)))
	}
}

// form answers GET /status: the empty form, in the language the visitor
// asked for, with the claim number filled in when a link carries it.
func (p *Page) form(c *echo.Context) error {
	loc := p.cat.Pick(c.Request().Header.Get("Accept-Language"), c.QueryParam("lang"))
	v := p.newView(loc)
	if n, ok := normalizeNumber(c.QueryParam("number")); ok {
		v.Number = n
	}
	return p.render(c, http.StatusOK, v)
}

// submit answers POST /status. Failures show the form again with a message
// and without what was typed: an unknown number and a wrong phone thus give
// the same page, byte for byte.
func (p *Page) submit(c *echo.Context) error {
	req := c.Request()
	if err := req.ParseForm(); err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		loc := p.cat.Pick(req.Header.Get("Accept-Language"))
		v := p.newView(loc)
		v.Message = loc.T("error.bad_request")
		return p.render(c, http.StatusBadRequest, v)
	}
	loc := p.cat.Pick(req.Header.Get("Accept-Language"), req.PostForm.Get("lang"))
	phone := req.PostForm.Get("phone")
	view, fail := p.check(c, req.PostForm.Get("number"), phone)
	v := p.newView(loc)
	if fail != nil {
		setRetryAfter(c, fail)
		if fail.Status == http.StatusTooManyRequests {
			v.Message = loc.T(fail.Key, loc.Dates.FmtTimeMedium(p.cfg.Now().Add(fail.RetryAfter).In(p.cfg.Location)))
		} else {
			v.Message = loc.T(fail.Key)
		}
		return p.render(c, fail.Status, v)
	}
	v.Result = p.result(loc, view, phone)
	return p.render(c, http.StatusOK, v)
}

// style serves the stylesheet. Its URL carries a hash of its content, so it
// may be cached for long: a new version has a new URL.
func (p *Page) style(c *echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=86400")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", p.css)
}

func (p *Page) render(c *echo.Context, status int, v *view) error {
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Content-Language", v.Lang)
	h.Add(echo.HeaderVary, "Accept-Language")
	var buf bytes.Buffer
	if err := p.tmpl.Execute(&buf, v); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// view is what the template shows. Every text is prepared here, in the
// visitor's language; the template only lays it out.
type view struct {
	loc        *locale
	Lang       string
	Stylesheet string
	Languages  []languageLink
	FormHref   string
	Zone       string
	Number     string // prefilled claim number (GET only)
	Message    string // why the last attempt failed
	Result     *result
}

// T lets the template translate its fixed texts.
func (v *view) T(key string, args ...any) string { return v.loc.T(key, args...) }

type languageLink struct {
	Code, Name, Href string
	Current          bool
}

func (p *Page) newView(loc *locale) *view {
	v := &view{
		loc: loc, Lang: loc.Code, Stylesheet: p.stylesheet,
		FormHref: FormPath + "?lang=" + url.QueryEscape(loc.Code),
		Zone:     zoneName(p.cfg.Location, p.cfg.Now()),
	}
	for _, l := range p.cat.All() {
		v.Languages = append(v.Languages, languageLink{
			Code: l.Code, Name: l.T("lang.self"), Href: FormPath + "?lang=" + url.QueryEscape(l.Code), Current: l == loc,
		})
	}
	return v
}

// zoneName names a time zone for people: its offset now, and its IANA name
// where it has one ("UTC+02:00 (Europe/Sofia)").
func zoneName(loc *time.Location, now time.Time) string {
	_, offset := now.In(loc).Zone()
	name := "UTC"
	if offset != 0 {
		sign := "+"
		if offset < 0 {
			sign, offset = "−", -offset
		}
		name = fmt.Sprintf("UTC%s%02d:%02d", sign, offset/3600, offset%3600/60)
	}
	if strings.Contains(loc.String(), "/") {
		name += " (" + loc.String() + ")"
	}
	return name
}

// Stylesheet returns the status page's stylesheet: the look the other public pages (the
// customer portal) build on.
func Stylesheet() ([]byte, error) { return assets.ReadFile("assets/style.css") }
