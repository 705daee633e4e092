package portal

import (
	"embed"
	"fmt"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/i18n"
)

// messageFiles are the catalogues, one JSON object of key -> text per
// language, as the status page keeps them.
//
//go:embed messages/*.json
var messageFiles embed.FS

// locale is one of the portal's languages, with how the portal writes
// dates and amounts.
type locale struct{ *i18n.Locale }

// catalogue is the portal's languages.
type catalogue = i18n.Catalogue[*locale]

func loadCatalogue() (*catalogue, error) {
	return i18n.Load(messageFiles, "messages", func(l *i18n.Locale) *locale { return &locale{l} })
}

func (l *locale) date(t time.Time) string { return l.Dates.FmtDateLong(t) }

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
