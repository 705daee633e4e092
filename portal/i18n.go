package portal

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
// language, as the status page keeps them; a text with arguments uses
// fmt's explicit indexes (%[1]s) so that a translation may reorder them.
//
//go:embed messages/*.json
var messageFiles embed.FS

// supported are the portal's languages, the status page's five, in
// switcher order; English is what a visitor whose languages are all
// unsupported gets.
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

type catalogue struct {
	matcher language.Matcher
	locales []*locale
}

type locale struct {
	code     string // the lang attribute and ?lang= value, e.g. "zh-Hans"
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
			return nil, fmt.Errorf("portal: messages for %s: %w", code, err)
		}
		var messages map[string]string
		if err := json.Unmarshal(raw, &messages); err != nil {
			return nil, fmt.Errorf("portal: messages/%s.json: %w", code, err)
		}
		c.locales = append(c.locales, &locale{code: code, messages: messages, dates: s.dates()})
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// pick chooses the language: an explicit choice when it names a supported
// language, else the best match for Accept-Language, else English.
func (c *catalogue) pick(explicit, acceptLanguage string) *locale {
	if l, ok := c.exactly(explicit); ok {
		return l
	}
	tags, _, _ := language.ParseAcceptLanguage(acceptLanguage)
	_, i, _ := c.matcher.Match(tags...)
	return c.locales[i]
}

// exactly returns the supported language whose code is code (a choice
// made on the portal's own pages, which offer exactly these).
func (c *catalogue) exactly(code string) (*locale, bool) {
	for _, l := range c.locales {
		if strings.EqualFold(l.code, code) {
			return l, true
		}
	}
	return nil, false
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

func (l *locale) date(t time.Time) string { return l.dates.FmtDateLong(t) }

// money writes an amount with the language's separators, from the integer
// of minor units, never through a float.
func (l *locale) money(m domain.Money) string {
	exp, _ := domain.CurrencyExponent(m.Currency)
	amount := m.Amount
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	digits := fmt.Sprintf("%0*d", exp+1, amount)
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	var b strings.Builder
	b.WriteString(sign)
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
