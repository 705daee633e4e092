// Package i18n holds the message catalogues of the pages people read (the public status page,
// the customer portal, the staff console) in the five languages they are written in, and picks
// the language a person reads, and writes amounts the language's way. How each kind of page
// writes dates stays with it.
package i18n

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/go-playground/locales"
	"github.com/go-playground/locales/bg"
	"github.com/go-playground/locales/el"
	"github.com/go-playground/locales/en"
	"github.com/go-playground/locales/ru"
	"github.com/go-playground/locales/zh_Hans"
	"golang.org/x/text/language"
)

// languages are the pages' languages in the language switcher's order. English comes first: it
// is what a person whose languages are all unsupported gets.
var languages = []struct {
	tag   language.Tag
	dates func() locales.Translator
}{
	{language.English, en.New},
	{language.Russian, ru.New},
	{language.Bulgarian, bg.New},
	{language.SimplifiedChinese, zh_Hans.New},
	{language.Greek, el.New},
}

// Locale is one language: its messages and how it writes dates and numbers.
type Locale struct {
	// Tag is the language; Code its lang attribute and ?lang= value, e.g. "zh-Hans".
	Tag  language.Tag
	Code string
	// Dates writes dates, times and numbers the language's way.
	Dates    locales.Translator
	messages map[string]string
}

// T is the text of key, with args filled in (fmt's explicit indexes, %[1]s, let a translation
// reorder them). A missing key shows itself, which each page's catalogue test keeps from
// reaching anyone.
func (l *Locale) T(key string, args ...any) string {
	text, ok := l.messages[key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(text, args...)
	}
	return text
}

// TimeShort writes a time of day the language's short way. The 12-hour
// clocks of the locale data write the hour after midnight as 0 ("0:31
// am"): it is 12 on such a clock.
func (l *Locale) TimeShort(t time.Time) string {
	s := l.Dates.FmtTimeShort(t)
	if t.Hour() == 0 && strings.HasPrefix(s, "0:") && !strings.HasPrefix(l.Dates.FmtTimeShort(t.Add(13*time.Hour)), "13") {
		return "12" + s[1:]
	}
	return s
}

// Has reports whether the catalogue has key, for codes that may be new.
func (l *Locale) Has(key string) bool {
	_, ok := l.messages[key]
	return ok
}

// Keys lists the catalogue's keys, for the tests that compare the languages.
func (l *Locale) Keys() []string {
	out := make([]string, 0, len(l.messages))
	for k := range l.messages {
		out = append(out, k)
	}
	return out
}

// Catalogue is every language of one kind of page, each wrapped in that page's own type L (which
// adds how the page writes dates and amounts).
type Catalogue[L any] struct {
	matcher language.Matcher
	locales []L
	codes   []string
}

// Load reads dir/<code>.json from files for every language (a JSON object of key -> text) and
// wraps each in the page's own type.
func Load[L any](files fs.FS, dir string, wrap func(*Locale) L) (*Catalogue[L], error) {
	c := &Catalogue[L]{}
	tags := make([]language.Tag, len(languages))
	for i, s := range languages {
		tags[i] = s.tag
		code := s.tag.String()
		name := path.Join(dir, code+".json")
		raw, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("i18n: messages for %s: %w", code, err)
		}
		var messages map[string]string
		if err := json.Unmarshal(raw, &messages); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		c.locales = append(c.locales, wrap(&Locale{Tag: s.tag, Code: code, Dates: s.dates(), messages: messages}))
		c.codes = append(c.codes, code)
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// All returns every language, in switcher order.
func (c *Catalogue[L]) All() []L { return c.locales }

// Pick chooses the language: the first of chosen (a switcher's choice, a person's setting) that
// names a supported language, else the best match for the browser's Accept-Language, else
// English.
func (c *Catalogue[L]) Pick(acceptLanguage string, chosen ...string) L {
	for _, explicit := range chosen {
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

// Exactly returns the language whose code is code, in any case: a choice made on the pages
// themselves, which offer exactly these.
func (c *Catalogue[L]) Exactly(code string) (L, bool) {
	for i, have := range c.codes {
		if strings.EqualFold(have, code) {
			return c.locales[i], true
		}
	}
	var none L
	return none, false
}
