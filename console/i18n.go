package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-playground/locales"
	"github.com/go-playground/locales/bg"
	"github.com/go-playground/locales/el"
	"github.com/go-playground/locales/en"
	"github.com/go-playground/locales/ru"
	"github.com/go-playground/locales/zh_Hans"
	"golang.org/x/text/language"

	"github.com/rmaledger/rmaledger/domain"
)

// messageFiles are the catalogues, one JSON object of key -> text per
// language, named by the language's code. A text with arguments uses fmt's
// explicit indexes (%[1]s) so that a translation may reorder them.
//
//go:embed messages/*.json
var messageFiles embed.FS

// supported are the console's languages in switcher order. English comes
// first: it is what a person whose languages are all unsupported gets.
var supported = []struct {
	tag   language.Tag
	dates func() locales.Translator
}{
	{language.English, en.New},
	{language.Russian, ru.New},
	{language.Bulgarian, bg.New},
	{language.SimplifiedChinese, zh_Hans.New},
	{language.Greek, el.New},
}

// catalogue holds every language's messages and picks one per request.
type catalogue struct {
	matcher language.Matcher
	locales []*locale
}

// locale is one language: its messages and how it writes dates.
type locale struct {
	code     string // the lang attribute, e.g. "zh-Hans"
	name     string // the language's own name, for the switcher
	messages map[string]string
	dates    locales.Translator
}

func loadCatalogue() (*catalogue, error) {
	c := &catalogue{}
	tags := make([]language.Tag, len(supported))
	for i, s := range supported {
		tags[i] = s.tag
		code := s.tag.String()
		raw, err := messageFiles.ReadFile("messages/" + code + ".json")
		if err != nil {
			return nil, fmt.Errorf("console: messages for %s: %w", code, err)
		}
		var messages map[string]string
		if err := json.Unmarshal(raw, &messages); err != nil {
			return nil, fmt.Errorf("console: messages/%s.json: %w", code, err)
		}
		c.locales = append(c.locales, &locale{code: code, name: messages["language.name"], messages: messages, dates: s.dates()})
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// pick chooses the language: the switcher's choice (a cookie), else the
// person's own, else the best match for the browser's Accept-Language,
// else English.
func (c *catalogue) pick(chosen, personal, acceptLanguage string) *locale {
	for _, explicit := range []string{chosen, personal} {
		if explicit == "" {
			continue
		}
		if tag, err := language.Parse(explicit); err == nil {
			if _, i, conf := c.matcher.Match(tag); conf != language.No {
				return c.locales[i]
			}
		}
	}
	tags, _, _ := language.ParseAcceptLanguage(acceptLanguage)
	_, i, _ := c.matcher.Match(tags...)
	return c.locales[i]
}

// T is the text of key, with args filled in. A missing key shows itself,
// which TestCatalogueComplete keeps from reaching anyone.
func (l *locale) T(key string, args ...any) string {
	text, ok := l.messages[key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(text, args...)
	}
	return text
}

// has reports whether the catalogue has key, for codes that may be new.
func (l *locale) has(key string) bool {
	_, ok := l.messages[key]
	return ok
}

// code names a stored code (a status, an outcome, a reason): its text
// when the catalogue has one, else the code itself with spaces.
func (l *locale) codeName(prefix, code string) string {
	if code == "" {
		return ""
	}
	if l.has(prefix + code) {
		return l.T(prefix + code)
	}
	return strings.ReplaceAll(code, "_", " ")
}

// dateTime writes a day and a time of day in the language.
func (l *locale) dateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return l.T("format.datetime", l.dates.FmtDateShort(t), l.dates.FmtTimeShort(t))
}

// date writes a day in the language.
func (l *locale) date(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return l.dates.FmtDateMedium(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC))
}

// money writes an amount with its currency code, from the integer of minor
// units: never through a float.
func (l *locale) money(m domain.Money) string {
	if m.IsZero() {
		return ""
	}
	return m.Decimal() + " " + m.Currency
}
