package console

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
)

// funcs are the templates' helpers that need no request.
var funcs = template.FuncMap{
	"pair": func(v *view, item any) pair { return pair{V: v, I: item} },
}

// pair hands a sub-template the page's view and one item.
type pair struct {
	V *view
	I any
}

// view is what every page template receives: the layout's needs and the
// page's own data.
type view struct {
	loc        *locale
	zone       *time.Location
	Lang       string
	Title      string
	Stylesheet string
	CSRF       string
	Person     *Person
	// Writer: the person's role may register claims and run actions.
	Writer    bool
	Languages []languageLink
	Data      any
	// webhooks: the webhooks screen is served.
	webhooks bool
}

// languageLink is one entry of the language switcher.
type languageLink struct {
	Code, Name, Href string
	Current          bool
}

// T is the text of a message key in the page's language.
func (v *view) T(key string, args ...any) string { return v.loc.T(key, args...) }

// When writes an instant in the policy's time zone, in the page's language.
func (v *view) When(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return v.loc.dateTime(t.In(v.zone))
}

// Day writes a calendar day.
func (v *view) Day(d domain.Date) string { return v.loc.date(d) }

// Money writes an amount.
func (v *view) Money(m domain.Money) string { return v.loc.money(m) }

// Code names a stored code under a catalogue prefix ("status.", "action.").
func (v *view) Code(prefix string, code any) string {
	switch c := code.(type) {
	case string:
		return v.loc.codeName(prefix, c)
	case domain.Status:
		return v.loc.codeName(prefix, string(c))
	case domain.Action:
		return v.loc.codeName(prefix, string(c))
	}
	return ""
}

// Value shows a stored value: its name when it is a code the catalogue
// knows ("internal", "defect_confirmed"), else the value as it is.
func (v *view) Value(value string) string {
	if v.loc.Has("option." + value) {
		return v.loc.T("option." + value)
	}
	return value
}

// Problem shows a field's problem in the page's language when the
// catalogue has it (the domain words its problems in English).
func (v *view) Problem(problem string) string {
	if v.loc.Has("problem." + problem) {
		return v.loc.T("problem." + problem)
	}
	return problem
}

// locale picks the request's language.
func (s *console) locale(c *echo.Context) *locale {
	chosen := ""
	if cookie, err := c.Cookie(languageCookie); err == nil {
		chosen = cookie.Value
	}
	return s.cat.Pick(c.Request().Header.Get("Accept-Language"), chosen, personOf(c).Language)
}

// render writes page name with data; title is a message key.
func (s *console) render(c *echo.Context, status int, name, title string, data any) error {
	loc := s.locale(c)
	v := &view{
		loc: loc, zone: s.cfg.Location, Lang: loc.Code, Title: loc.T(title), Stylesheet: s.stylesheet, Data: data,
		webhooks: s.cfg.Webhooks != nil,
	}
	if token, ok := c.Get("csrf").(string); ok {
		v.CSRF = token
	}
	if p := personOf(c); p.Name != "" {
		v.Person = &p
		v.Writer = mayWrite(p)
	}
	back := c.Request().URL.Path
	if c.Request().Method == http.MethodGet && c.Request().URL.RawQuery != "" {
		back += "?" + c.Request().URL.RawQuery
	}
	for _, l := range s.cat.All() {
		v.Languages = append(v.Languages, languageLink{
			Code: l.Code, Name: l.name, Current: l == loc,
			Href: LanguagePath + "?to=" + url.QueryEscape(l.Code) + "&back=" + url.QueryEscape(back),
		})
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// refusal is the data of a refused request's page.
type refusal struct{ Reason string }

// refuse answers a refused request with a page saying why; nothing was
// written.
func (s *console) refuse(c *echo.Context, status int, reason string) error {
	return s.render(c, status, "refused", "refused.title", refusal{Reason: reason})
}

// fail logs an internal error and shows a page that names nothing of it.
func (s *console) fail(c *echo.Context, err error) error {
	s.cfg.Logger.Error("console", "path", c.Request().URL.Path, "error", err)
	return s.refuse(c, http.StatusInternalServerError, "refused.internal")
}
