package domain_test

import (
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// TestRegisterForAnOrganisation: a partner's claim carries its organisation on the event and in
// the state; a malformed organisation is refused like any other field.
func TestRegisterForAnOrganisation(t *testing.T) {
	dealer := registration()
	dealer.Organisation = "acme-dealers"
	misspelt := registration()
	misspelt.Organisation = "Acme Dealers"

	run(t, []gwt{
		{
			name: "the organisation is recorded",
			when: dealer,
			check: func(t *testing.T, s domain.State) {
				if s.Organisation != "acme-dealers" {
					t.Errorf("state organisation %q, want acme-dealers", s.Organisation)
				}
			},
		},
		{
			name: "the company's own claim has none",
			when: registration(),
			check: func(t *testing.T, s domain.State) {
				if s.Organisation != "" {
					t.Errorf("state organisation %q, want none", s.Organisation)
				}
			},
		},
		{name: "a malformed organisation", when: misspelt, fields: []string{"organisation"}},
	})
}

// TestRegisteredBeforePartnersBelongsToTheCompany: an event stored before organisations
// existed decodes with none, which is what it meant.
func TestRegisteredBeforePartnersBelongsToTheCompany(t *testing.T) {
	e, err := domain.DecodeEvent(domain.ClaimRegistered{}.EventType(), []byte(`{"claim_id":"6f1c2b1e-8c3e-4c5b-9a57-2a8f0f5a4b11","number":"RMA-1","at":"2025-01-02T03:04:05Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := domain.Fold([]domain.Event{e}); s.Organisation != "" {
		t.Errorf("organisation %q, want none", s.Organisation)
	}
	_, data, err := domain.EncodeEvent(domain.ClaimRegistered{Organisation: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	back, err := domain.DecodeEvent(domain.ClaimRegistered{}.EventType(), data)
	if err != nil || back.(domain.ClaimRegistered).Organisation != "acme" {
		t.Errorf("round trip: %#v, %v", back, err)
	}
}

func TestValidOrganisation(t *testing.T) {
	for name, want := range map[string]bool{"acme": true, "acme-dealers.bg": true, "": false, "Acme": false, "-acme": false, "acme dealers": false} {
		if got := domain.ValidOrganisation(name); got != want {
			t.Errorf("ValidOrganisation(%q) = %v, want %v", name, got, want)
		}
	}
}
