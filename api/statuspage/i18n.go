package statuspage

import (
	"embed"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/i18n"
)

// messageFiles are the catalogues, one JSON object of key -> text per
// language, named by the language's code.
//
//go:embed messages/*.json
var messageFiles embed.FS

// locale is one of the status page's languages, with how the page writes
// dates, amounts and country names.
type locale struct {
	*i18n.Locale
	regions display.Namer
}

// catalogue is the status page's languages.
type catalogue = i18n.Catalogue[*locale]

func loadCatalogue() (*catalogue, error) {
	return i18n.Load(messageFiles, "messages", func(l *i18n.Locale) *locale {
		return &locale{Locale: l, regions: display.Regions(l.Tag)}
	})
}

// date writes a day the language's long way: "2 марта 2026 г.", "2026年3月2日".
func (l *locale) date(t time.Time) string { return l.Dates.FmtDateLong(t) }

// dateTime writes a day and a time of day.
func (l *locale) dateTime(t time.Time) string {
	return l.T("format.datetime", l.Dates.FmtDateLong(t), l.TimeShort(t))
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

// money writes an amount the language's way; nothing for none.
func (l *locale) money(m domain.Money) string {
	if m.IsZero() {
		return ""
	}
	return l.Money(m)
}
