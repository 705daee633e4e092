package accounts

import (
	"context"
	"errors"
	"testing"
)

// partnerRule is the API's rule in small: a partner belongs to an
// organisation, the staff to none.
func partnerRule(role, org string) error {
	if (role == "partner") != (org != "") {
		return errors.New("a partner, and only a partner, belongs to an organisation")
	}
	return nil
}

// TestOrganisation: a person added to an organisation keeps it, for this
// instance and one that reads the store afresh; the Config's rule refuses
// a pair it does not accept, writing nothing, also on a change of role.
func TestOrganisation(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	withRule := func(c *Config) { c.Roles, c.CheckOrganisation = append(roles, "partner"), partnerRule }
	d := instance(t, store, newClock(), withRule)
	acc, err := d.AddToOrganisation(ctx, admin, "dana.acme", "partner", "acme", password)
	if err != nil || acc.Organisation != "acme" {
		t.Fatalf("AddToOrganisation: %+v, %v", acc, err)
	}
	staff := mustAdd(t, d, "maria.petrova", "agent")
	if staff.Organisation != "" {
		t.Errorf("a staff account has organisation %q", staff.Organisation)
	}
	before := countEvents(t, store)
	for _, tc := range []struct{ name, role, org string }{
		{"no.org", "partner", ""},
		{"staff.with.org", "agent", "acme"},
	} {
		if _, err := d.AddToOrganisation(ctx, admin, tc.name, tc.role, tc.org, password); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddToOrganisation(%s, %q): %v, want ErrInvalid", tc.role, tc.org, err)
		}
	}
	if err := d.SetRole(ctx, admin, "dana.acme", "agent"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a partner made staff while still of acme: %v, want ErrInvalid", err)
	}
	if n := countEvents(t, store); n != before {
		t.Errorf("refusals wrote %d events", n-before)
	}
	fresh := instance(t, store, newClock(), withRule)
	got, err := fresh.Get(ctx, "dana.acme")
	if err != nil || got.Organisation != "acme" || got.Role != "partner" {
		t.Errorf("read afresh: %+v, %v", got, err)
	}
}
