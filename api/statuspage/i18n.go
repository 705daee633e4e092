package statuspage

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
	"golang.org/x/text/language/display"

	"github.com/rmaledger/rmaledger/domain"
)

// messageFiles are the catalogues, one JSON object of key -> text per
// language, named by the language's code. A text with arguments uses fmt's
// explicit indexes (%[1]s) so that a translation may reorder them.
//
//go:embed messages/*.json
var messageFiles embed.FS

// supported are the page's languages in switcher order, each with the CLDR
// data its dates are written with. English comes first: it is what a
// visitor whose languages are all unsupported gets.
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
	locales []*locale // in the order of supported
}

// locale is one language: its messages and how it writes dates, numbers
// and country names.
type locale struct {
	tag      language.Tag
	code     string // the lang attribute and ?lang= value, e.g. "zh-Hans"
	messages map[string]string
	dates    locales.Translator
	regions  display.Namer
}

func loadCatalogue() (*catalogue, error) {
	c := &catalogue{}
	tags := make([]language.Tag, len(supported))
	for i, s := range supported {
		tags[i] = s.tag
		code := s.tag.String()
		raw, err := messageFiles.ReadFile("messages/" + code + ".json")
		if err != nil {
			return nil, fmt.Errorf("statuspage: messages for %s: %w", code, err)
		}
		var messages map[string]string
		if err := json.Unmarshal(raw, &messages); err != nil {
			return nil, fmt.Errorf("statuspage: messages/%s.json: %w", code, err)
		}
		c.locales = append(c.locales, &locale{
			tag: s.tag, code: code, messages: messages, dates: s.dates(), regions: display.Regions(s.tag),
		})
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// pick chooses the language: an explicit choice (?lang= or the form's lang)
// when it names a supported language, else the best match for the
// browser's Accept-Language, else English.
func (c *catalogue) pick(explicit, acceptLanguage string) *locale {
	if explicit != "" {
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
// which TestCatalogueComplete keeps from ever reaching a customer.
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

// date writes a day the language's long way: "2 марта 2026 г.", "2026年3月2日".
func (l *locale) date(t time.Time) string { return l.dates.FmtDateLong(t) }

// dateTime writes a day and a time of day.
func (l *locale) dateTime(t time.Time) string {
	return l.T("format.datetime", l.dates.FmtDateLong(t), l.dates.FmtTimeShort(t))
}

// country names an ISO 3166-1 alpha-2 code in the language, or returns the
// code when it is not a known region.
func (l *locale) country(code string) string {
	if code == "" {
		return ""
	}
	region, err := language.ParseRegion(code)
	if err != nil {
		return code
	}
	if name := l.regions.Name(region); name != "" {
		return name
	}
	return code
}

// money writes an amount with the language's separators and the currency
// code, from the integer of minor units: never through a float, which could
// show a cent that is not there.
func (l *locale) money(m domain.Money) string {
	if m.IsZero() {
		return ""
	}
	exp, _ := domain.CurrencyExponent(m.Currency)
	digits := fmt.Sprintf("%0*d", exp+1, m.Amount)
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(l.T("number.group"))
		}
		b.WriteRune(r)
	}
	if exp > 0 {
		b.WriteString(l.T("number.decimal"))
		b.WriteString(frac)
	}
	return l.T("format.money", b.String(), m.Currency)
}
