package console

import (
	"embed"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/i18n"
)

// messageFiles are the catalogues, one JSON object of key -> text per
// language, named by the language's code.
//
//go:embed messages/*.json
var messageFiles embed.FS

// locale is one of the console's languages, with how the console writes
// dates, amounts and stored codes.
type locale struct {
	*i18n.Locale
	name string // the language's own name, for the switcher
}

// catalogue is the console's languages.
type catalogue = i18n.Catalogue[*locale]

func loadCatalogue() (*catalogue, error) {
	return i18n.Load(messageFiles, "messages", func(l *i18n.Locale) *locale {
		return &locale{Locale: l, name: l.T("language.name")}
	})
}

// code names a stored code (a status, an outcome, a reason): its text
// when the catalogue has one, else the code itself with spaces.
func (l *locale) codeName(prefix, code string) string {
	if code == "" {
		return ""
	}
	if l.Has(prefix + code) {
		return l.T(prefix + code)
	}
	return strings.ReplaceAll(code, "_", " ")
}

// dateTime writes a day and a time of day in the language.
func (l *locale) dateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return l.T("format.datetime", l.Dates.FmtDateShort(t), l.TimeShort(t))
}

// date writes a day in the language.
func (l *locale) date(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return l.Dates.FmtDateMedium(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC))
}

// money writes an amount with its currency code, from the integer of minor
// units: never through a float.
func (l *locale) money(m domain.Money) string {
	if m.IsZero() {
		return ""
	}
	return m.Decimal() + " " + m.Currency
}
