// Package email is the ledger's messages to people: what the customer is
// told by e-mail and SMS at each step of their claim, the desk's alerts,
// and how they are sent (SMTP, or the log in development).
//
// Texts come from templates (text/template for the subject, the plain text
// and the SMS; html/template for the HTML part), embedded in the binary
// under templates/, one directory per kind of message, with the words of
// each language in the catalogues under messages/. A deployment may
// replace any template with a file of the same path under
// Config.TemplateDir; Check renders every template in every language at
// start and names the first that fails.
package email

import (
	"errors"
	"net/url"
	"strings"
)

// Config is what the composers need to know of the deployment.
type Config struct {
	// Company is the name the messages are sent on behalf of ("Acme Service").
	Company string
	// Signature closes every customer message ("Your Acme service team");
	// empty: the language's own closing with Company.
	Signature string
	// PublicURL is the origin customers reach the service at, such as
	// https://service.example.com: the status page and the portal's pages
	// are linked from it (required).
	PublicURL string
	// DefaultLanguage is the language of customers who chose none (en, ru,
	// bg, zh-Hans, el); empty: en.
	DefaultLanguage string
	// SMS also sends a short text message to the claim's phone at each step.
	SMS bool
	// TemplateDir, when set, holds templates replacing the embedded ones:
	// the same layout (layout.txt, layout.html, <kind>/subject.txt,
	// <kind>/text.txt, <kind>/body.html, <kind>/sms.txt); a file missing
	// there is taken from the embedded set.
	TemplateDir string
	// DeskAddress receives the desk's alerts about claims with no assignee,
	// or whose assignee has no address; empty: no desk alerts for them.
	DeskAddress string
	// DeskAddresses maps an assignee (the claim's Assignee) to the address
	// that receives the alerts about their claims.
	DeskAddresses map[string]string
	// DeskLanguage is the language of the desk's alerts; empty: en.
	DeskLanguage string
}

// validate checks the fields and fills the defaults.
func (c *Config) validate() error {
	if c.PublicURL == "" {
		return errors.New("email: PublicURL is required: the messages link to the status page and the portal")
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("email: PublicURL must be an origin such as https://service.example.com")
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.DefaultLanguage == "" {
		c.DefaultLanguage = "en"
	}
	if c.DeskLanguage == "" {
		c.DeskLanguage = "en"
	}
	return nil
}
