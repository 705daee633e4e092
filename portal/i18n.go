package portal

import (
	"embed"
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

// money writes an amount the language's way.
func (l *locale) money(m domain.Money) string { return l.Money(m) }
