package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
)

// registerFor records a claim of the organisation ("" the company's) on
// the unit, as the API would for the organisation's key.
func (s *stack) registerFor(t testing.TB, org, serial, customer string) domain.State {
	t.Helper()
	purchase, _ := domain.ParseDate("2026-02-01")
	price, _ := domain.ParseMoney("1299.90", "BGN")
	res, err := s.ledger.Register(context.Background(), &domain.RegisterClaim{
		Customer:        domain.Customer{Name: customer, Phone: "+359888123456"},
		Product:         domain.Product{Category: "laptop", Serial: serial},
		PurchaseDate:    purchase,
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: "receipt", Reference: "R-1"},
		Price:           price, Defect: "does not power on", Organisation: org,
	}, ledger.Request{Actor: ledger.Actor{Name: "key-of-" + org, Role: "partner", Org: org}})
	if err != nil {
		t.Fatal(err)
	}
	s.settle(t, res)
	return res.Claim
}

// TestPartnerSeesItsOrganisationOnly: a partner signed in to the console
// finds only its organisation's claims in the queues, the search, the
// export and on a claim's page (other claims on the same unit included);
// another organisation's claim page and its action forms answer 404 and
// change nothing; the staff's actions and pages are refused; its
// registrations are its organisation's.
func TestPartnerSeesItsOrganisationOnly(t *testing.T) {
	s := newStack(t)
	s.accounts.people["Pat Partner"] = account{password: "pw-partner", person: console.Person{ID: uuid.NewString(), Name: "Pat Partner", Role: "partner", Organisation: "acme"}}
	// Three claims on one unit: acme's, globex's and the company's.
	own := s.registerFor(t, "acme", "SN-SHARED", "Customer of acme")
	other := s.registerFor(t, "globex", "SN-SHARED", "Customer of globex")
	company := s.registerFor(t, "", "SN-SHARED", "Customer of the company")
	c := s.client(t)
	token := c.signIn("Pat Partner", "pw-partner")

	shows := func(what string, p page) {
		t.Helper()
		if !strings.Contains(p.Body, own.Number) {
			t.Errorf("%s: %d, does not show the partner's own claim %s", what, p.Code, own.Number)
		}
		for _, foreign := range []domain.State{other, company} {
			if strings.Contains(p.Body, foreign.Number) || strings.Contains(p.Body, foreign.Customer.Name) {
				t.Errorf("%s shows %s (%s)", what, foreign.Number, foreign.Customer.Name)
			}
		}
	}
	for _, tab := range []string{"", "?tab=decision", "?tab=all"} {
		shows("queues"+tab, c.get(console.QueuesPath+tab))
	}
	shows("the export", c.get(console.ExportPath))
	shows("a search by the shared serial", c.post(console.QueuesPath, url.Values{"csrf": {token}, "q": {"SN-SHARED"}}))
	shows("a search by the shared serial, exported", c.post(console.ExportPath, url.Values{"csrf": {token}, "q": {"SN-SHARED"}}))
	if p := c.post(console.QueuesPath, url.Values{"csrf": {token}, "q": {other.Number}}); strings.Contains(p.Body, other.Customer.Name) {
		t.Errorf("a search by another organisation's claim number finds it")
	}
	ownPage := c.get(console.Prefix + "/claims/" + own.ID.String())
	shows("its claim's page", ownPage)
	// The company's internal notes on a partner's claim stay the company's.
	noted := s.registerFor(t, "acme", "SN-NOTED", "Customer of acme")
	s.execute(t, noted.ID, &domain.AddNote{Text: "Suspect the seal was reglued.", Visibility: domain.VisibilityInternal})
	s.execute(t, noted.ID, &domain.AddNote{Text: "Your parcel label is attached.", Visibility: domain.VisibilityCustomer})
	if p := c.get(console.Prefix + "/claims/" + noted.ID.String()); strings.Contains(p.Body, "reglued") || !strings.Contains(p.Body, "parcel label") {
		t.Errorf("the partner's claim page (%d) shows the company's internal note, or hides the customer's", p.Code)
	}

	for _, foreign := range []domain.State{other, company} {
		if p := c.get(console.Prefix + "/claims/" + foreign.ID.String()); p.Code != http.StatusNotFound || strings.Contains(p.Body, foreign.Customer.Name) {
			t.Errorf("another organisation's claim page: %d, want 404 naming nothing", p.Code)
		}
		forged := url.Values{"csrf": {token}, "version": {"1"}, "key": {uuid.NewString()}, "text": {"written across organisations"}}
		if p := c.post(actionPath(foreign.ID, "add-note"), forged); p.Code != http.StatusNotFound {
			t.Errorf("a note on another organisation's claim: %d, want 404", p.Code)
		}
		if v := s.version(t, foreign.ID); v != foreign.Version {
			t.Errorf("another organisation's claim moved to version %d", v)
		}
	}
	if p := c.get(console.Prefix + "/claims/" + uuid.NewString()); p.Code != http.StatusNotFound {
		t.Errorf("a claim that does not exist: %d, want 404", p.Code)
	}

	// Only the dealer's actions are offered, and only they are taken.
	if !strings.Contains(ownPage.Body, `id="action-add-note"`) || strings.Contains(ownPage.Body, `id="action-authorize"`) || strings.Contains(ownPage.Body, `id="action-reject"`) {
		t.Errorf("the partner's claim page offers the wrong actions")
	}
	authorize := url.Values{"csrf": {token}, "version": {"1"}, "key": {uuid.NewString()}}
	if p := c.post(actionPath(own.ID, "authorize"), authorize); p.Code != http.StatusForbidden || s.version(t, own.ID) != own.Version {
		t.Errorf("a partner authorizing its own claim: %d, version %d", p.Code, s.version(t, own.ID))
	}
	note := formOf(t, ownPage.Body, "add-note")
	note.Set("text", "the customer called")
	if p := c.post(actionPath(own.ID, "add-note"), note); p.Code != http.StatusSeeOther || s.version(t, own.ID) != own.Version+1 {
		t.Errorf("a note on its own claim: %d %s", p.Code, p.Body)
	}

	// The staff's screens are not the partner's.
	if p := c.get(console.Prefix + "/overview"); p.Code != http.StatusForbidden {
		t.Errorf("the overview: %d, want 403", p.Code)
	}
	if strings.Contains(c.get(console.QueuesPath).Body, `href="/console/overview"`) {
		t.Error("the queues link the overview")
	}

	// A registration from the console is the partner's organisation's.
	hidden := formValues(c.get(console.RegisterPath).Body)
	form := url.Values{
		"csrf": {hidden.Get("csrf")}, "key": {hidden.Get("key")}, "currency": {"BGN"},
		"customer.name": {"Petar Ivanov"}, "customer.phone": {"+359 888 765 432"}, "product.category": {"laptop"},
		"product.serial": {"SN-NEW"}, "purchase_date": {"2026-02-01"}, "price": {"999.00"}, "defect": {"cracked screen"},
		"channel": {"phone"},
	}
	// The warning of open claims on the unit names the partner's own only.
	shared := url.Values{}
	for k, v := range form {
		shared[k] = v
	}
	shared.Set("product.serial", "SN-SHARED")
	shows("the registration's warning of open claims on the unit", c.post(console.RegisterPath, shared))
	p := c.post(console.RegisterPath, form)
	if p.Code != http.StatusSeeOther {
		t.Fatalf("register: %d %s", p.Code, p.Body)
	}
	where, _, _ := strings.Cut(p.Location, "?")
	st, _, err := s.ledger.Claim(t.Context(), uuid.MustParse(strings.TrimPrefix(where, console.Prefix+"/claims/")))
	if err != nil || st.Organisation != "acme" {
		t.Errorf("the console's registration: organisation %q, %v; want acme", st.Organisation, err)
	}

	// The staff still see every organisation's claims, and whose each is.
	staff, _ := s.agent(t)
	for _, st := range []domain.State{own, other, company} {
		p := staff.get(console.Prefix + "/claims/" + st.ID.String())
		if p.Code != http.StatusOK {
			t.Errorf("an agent on %s's claim: %d", st.Organisation, p.Code)
		}
		if says := strings.Contains(p.Body, "<dd>"+st.Organisation+"</dd>"); says != (st.Organisation != "") {
			t.Errorf("the claim page of %q's claim names its organisation: %v", st.Organisation, says)
		}
	}
}
