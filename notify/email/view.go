package email

import (
	"net/url"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/i18n"
)

// locale is one language of the messages, with how it writes amounts.
type locale struct{ *i18n.Locale }

func loadCatalogue() (*i18n.Catalogue[*locale], error) {
	return i18n.Load(embedded, "messages", func(l *i18n.Locale) *locale { return &locale{l} })
}

// money writes an amount the language's way; nothing for none.
func (l *locale) money(m domain.Money) string {
	if m.IsZero() {
		return ""
	}
	return l.Money(m)
}

// when writes an instant for the desk: the date the language's way and the
// time in UTC.
func (l *locale) when(t time.Time) string {
	t = t.UTC()
	return l.Dates.FmtDateMedium(t) + " " + t.Format("15:04") + " UTC"
}

// view is what a template is given. The templates call .T for the words of
// the message's language; every other field is a fact of the claim or the
// deployment, empty when the message has none.
type view struct {
	loc *locale
	// missing collects the keys .T was asked for that the catalogue lacks.
	missing *[]string
	// Lang is the message's language code (the HTML lang attribute).
	Lang string
	// Company, PublicURL and Sign are the deployment's name, origin and
	// closing line.
	Company, PublicURL, Sign string
	// Name is the customer's name, for the greeting; empty for the desk.
	Name string
	// Number is the claim's number.
	Number string
	// StatusURL is the status page, with the claim's number filled in;
	// ResendURL the portal's page that sends the private link again;
	// LinkURL the private link itself (link messages only); ConsoleURL the
	// claim in the staff console (desk alerts only).
	StatusURL, ResendURL, LinkURL, ConsoleURL string
	// ServiceCenter is where to send the item (authorized).
	ServiceCenter domain.ServiceCenter
	// Documents are the documents requested (authorized) or received.
	Documents []string
	// DocumentsFirst: the documents are checked before the item travels.
	DocumentsFirst bool
	// Amount is the money of the step, written the language's way: the
	// estimate's total, a payment, a refund.
	Amount string
	// Parts, Labour and Shipping make up an estimate's Amount.
	Parts, Labour, Shipping string
	// Carrier and Tracking are the return parcel's.
	Carrier, Tracking string
	// Reason is the reason given for a rejection, a closure, an appeal or
	// a withdrawal; ReasonCode the code of a rejection or closure.
	Reason, ReasonCode string
	// Outcome is an appeal's answer (upheld, overturned); Decision its words.
	Outcome, Decision string
	// WorkDone is the repair's work, as on the release protocol.
	WorkDone string
	// Clock, DueAt, Overrun and Assignee describe an SLA clock (desk).
	Clock, DueAt, Overrun, Assignee string
	// Method and Reference describe a payment (desk); Reference is also a
	// credit note's number.
	Method, Reference string
}

// T is the text of key in the message's language, with args filled in.
func (v view) T(key string, args ...any) string {
	if !v.loc.Has(key) && v.missing != nil {
		*v.missing = append(*v.missing, key)
	}
	return v.loc.T(key, args...)
}

// newView starts a view in language loc with the deployment's facts.
func newView(cfg Config, loc *locale, number string) view {
	sign := cfg.Signature
	if sign == "" {
		sign = loc.T("signature.team", cfg.Company)
	}
	return view{
		loc: loc, Lang: loc.Code, Company: cfg.Company, PublicURL: cfg.PublicURL, Sign: sign,
		Number:    number,
		StatusURL: statusURL(cfg.PublicURL, number, loc.Code),
		ResendURL: cfg.PublicURL + resendPath + "?lang=" + url.QueryEscape(loc.Code),
	}
}

// The pages of the service the messages link to (those of api/statuspage,
// portal and console).
const (
	statusPath  = "/status"
	resendPath  = "/portal/link"
	linkPrefix  = "/portal/c/"
	consolePath = "/console/claims/"
)

// statusURL is the status page with the claim's number filled in.
func statusURL(origin, number, lang string) string {
	q := url.Values{"number": {number}, "lang": {lang}}
	return origin + statusPath + "?" + q.Encode()
}

// LinkURL is a private link's address: the portal's claim page of the
// token, at the deployment's origin.
func LinkURL(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + linkPrefix + token
}
