package statuspage

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v5"
)

// Paths of the home page and of what it links beside the status page.
const (
	HomePath = "/"
	// ClaimFormPath is the customer portal's online claim form
	// (portal.FormPath), which the pages link to.
	ClaimFormPath = "/portal/claim"
	OpenAPIPath   = "/openapi.yaml"
)

//go:embed assets/home.html
var homeHTML string

// homeTemplate is the home page; it shares the status page's languages and
// stylesheet.
var homeTemplate = template.Must(template.New("home").Parse(homeHTML))

// homeView is what the home page shows, in the visitor's language.
type homeView struct {
	loc        *locale
	Lang       string
	Stylesheet string
	Languages  []languageLink
	StatusHref string
	ClaimHref  string
	APIHref    string
}

// T lets the template translate its texts.
func (v *homeView) T(key string, args ...any) string { return v.loc.T(key, args...) }

// home answers GET /: where a person who opens the server's address finds
// the status check, the API's description and where the documentation is,
// in the language asked for (?lang=, else Accept-Language).
func (p *Page) home(c *echo.Context) error {
	loc := p.cat.Pick(c.Request().Header.Get("Accept-Language"), c.QueryParam("lang"))
	v := &homeView{
		loc: loc, Lang: loc.Code, Stylesheet: p.stylesheet,
		StatusHref: FormPath + "?lang=" + url.QueryEscape(loc.Code),
		ClaimHref:  ClaimFormPath + "?lang=" + url.QueryEscape(loc.Code),
		APIHref:    OpenAPIPath,
	}
	for _, l := range p.cat.All() {
		v.Languages = append(v.Languages, languageLink{
			Code: l.Code, Name: l.T("lang.self"), Href: HomePath + "?lang=" + url.QueryEscape(l.Code), Current: l == loc,
		})
	}
	var buf bytes.Buffer
	if err := homeTemplate.Execute(&buf, v); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("Content-Language", v.Lang)
	h.Add(echo.HeaderVary, "Accept-Language")
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}
