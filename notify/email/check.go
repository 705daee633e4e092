package email

import (
	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

// sampleView is a claim with every fact a template may show, for Check.
func sampleView(cfg Config, loc *locale) view {
	v := newView(cfg, loc, "RMA-2026-000123")
	v.Name = "Maria Example"
	v.LinkURL = LinkURL(cfg.PublicURL, "sample-token")
	v.ConsoleURL = cfg.PublicURL + consolePath + uuid.Nil.String()
	v.ServiceCenter = domain.ServiceCenter{Name: "Service centre", Country: "BG", Address: "1 Example Street, Sofia", Contact: "+359 2 000 000"}
	v.Documents = []string{"receipt", "warranty card"}
	v.DocumentsFirst = true
	total := domain.Money{Amount: 12990, Currency: "EUR"}
	v.Amount, v.Parts, v.Labour, v.Shipping = loc.money(total), loc.money(total), loc.money(total), loc.money(total)
	v.Carrier, v.Tracking = "DHL", "JD0123456789"
	v.Reason, v.ReasonCode = "sample reason", "sample_code"
	v.Outcome, v.Decision = domain.DisputeUpheld, "sample decision"
	v.WorkDone = "sample work"
	v.Clock, v.DueAt, v.Overrun, v.Assignee = "repair", "2026-01-02 10:00 UTC", "1h0m0s", "agent"
	v.Method, v.Reference = "card", "REF-1"
	return v
}

// check renders every kind in every language with the sample claim.
func check(cfg Config, t *templates) error {
	for _, loc := range t.cat.All() {
		for _, kind := range t.kinds {
			if _, err := t.render(kind, sampleView(cfg, loc)); err != nil {
				return err
			}
		}
	}
	return nil
}
