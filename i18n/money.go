package i18n

import (
	"fmt"
	"strings"

	"github.com/rmaledger/rmaledger/domain"
)

// Money writes an amount with the language's separators ("number.group",
// "number.decimal") and the catalogue's "format.money" around it, from the
// integer of minor units: never through a float, which could show a cent
// that is not there.
func (l *Locale) Money(m domain.Money) string {
	exp, _ := domain.CurrencyExponent(m.Currency)
	amount, sign := m.Amount, ""
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
