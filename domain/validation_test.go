package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

// bidiControls are Unicode's bidirectional formatting characters: LRE, RLE,
// PDF, LRO, RLO; LRI, RLI, FSI, PDI; LRM, RLM; ALM.
var bidiControls = []rune{
	'\u202a', '\u202b', '\u202c', '\u202d', '\u202e',
	'\u2066', '\u2067', '\u2068', '\u2069',
	'\u200e', '\u200f', '\u061c',
}

// validRegistration is a registration that passes Validate.
func validRegistration() domain.RegisterClaim {
	return domain.RegisterClaim{
		Customer:        domain.Customer{Name: "Maria Georgieva", Phone: "+359 888 123 456", Email: "maria@example.com"},
		Product:         domain.Product{SKU: "NB-X1", Category: "laptop", Serial: "SN-0042"},
		PurchaseDate:    domain.Date{Year: 2026, Month: 1, Day: 10},
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: "R-1001"},
		Price:           domain.Money{Amount: 129990, Currency: "EUR"},
		Defect:          "does not power on",
	}
}

// TestSingleLineRefusesBidiControls: a bidirectional control anywhere in a
// single-line field (a name, a serial, a reference, an e-mail) is refused
// with the field named; multi-line text keeps them, and a right-to-left
// name or a zero-width non-joiner, which some scripts need, passes.
func TestSingleLineRefusesBidiControls(t *testing.T) {
	if err := validRegistration().Validate(); err != nil {
		t.Fatalf("the base registration is invalid: %v", err)
	}
	type field struct {
		name string
		set  func(*domain.RegisterClaim, string)
	}
	singleLine := []field{
		{"customer.name", func(c *domain.RegisterClaim, s string) { c.Customer.Name = s }},
		{"customer.email", func(c *domain.RegisterClaim, s string) { c.Customer.Email = s }},
		{"product.sku", func(c *domain.RegisterClaim, s string) { c.Product.SKU = s }},
		{"product.serial", func(c *domain.RegisterClaim, s string) { c.Product.Serial = s }},
		{"proof_of_purchase.reference", func(c *domain.RegisterClaim, s string) { c.ProofOfPurchase.Reference = s }},
	}
	for _, f := range singleLine {
		for _, r := range bidiControls {
			for _, at := range []string{"start", "middle", "end"} {
				c := validRegistration()
				base := map[string]string{"customer.email": "maria@example.com"}[f.name]
				if base == "" {
					base = "Maria"
				}
				value := map[string]string{"start": string(r) + base, "middle": base[:2] + string(r) + base[2:], "end": base + string(r)}[at]
				f.set(&c, value)
				if got := invalidFields(c.Validate()); len(got) != 1 || got[0] != f.name {
					t.Errorf("%s with U+%04X at the %s: invalid fields %v, want [%s]", f.name, r, at, got, f.name)
				}
			}
		}
	}

	for _, tc := range []struct {
		name string
		c    domain.Command
	}{
		{"a list entry", &domain.ReceiveDocuments{Documents: []string{"receipt", "warranty\u202ecard"}}},
		{"a signature", &domain.ConfirmDelivery{SignedBy: "Ivan\u2066Petrov"}},
	} {
		if got := invalidFields(tc.c.Validate()); len(got) != 1 {
			t.Errorf("%s with a bidi control: invalid fields %v, want one", tc.name, got)
		}
	}

	for _, tc := range []struct {
		name string
		edit func(*domain.RegisterClaim)
	}{
		{"a Hebrew name", func(c *domain.RegisterClaim) { c.Customer.Name = "מרים כהן" }},
		{"an Arabic name", func(c *domain.RegisterClaim) { c.Customer.Name = "مريم حداد" }},
		{"a Persian name with a zero-width non-joiner", func(c *domain.RegisterClaim) { c.Customer.Name = "می\u200cخواهم" }},
		{"a defect with marks", func(c *domain.RegisterClaim) { c.Defect = "screen shows \u200fשגיאה\u200f 42" }},
	} {
		c := validRegistration()
		tc.edit(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// invalidFields lists the fields Validate refused.
func invalidFields(err error) []string {
	var ve domain.ValidationErrors
	if !errors.As(err, &ve) {
		if err != nil {
			return []string{fmt.Sprint(err)}
		}
		return nil
	}
	out := make([]string, len(ve))
	for i, f := range ve {
		out[i] = f.Field
	}
	return out
}

// TestDatesAreNotAfterTodayWhereTheShopIs: "today" for a purchase date, an act's date and the
// evidence of earlier coverage is the day in the policy's time zone, where the receipt was dated.
// At 00:30 in Sofia (22:30 UTC the day before) a receipt from that morning's day is accepted;
// one from the day after is refused, with the day and zone named.
func TestDatesAreNotAfterTodayWhereTheShopIs(t *testing.T) {
	sofia, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		t.Fatal(err)
	}
	p := domain.DefaultPolicy()
	p.Calendar.Location = sofia
	at := time.Date(2026, 3, 9, 22, 30, 0, 0, time.UTC) // 2026-03-10 00:30 in Sofia
	for _, tc := range []struct {
		name     string
		purchase domain.Date
		refused  bool
	}{
		{"bought today in Sofia, still yesterday in UTC", domain.Date{Year: 2026, Month: 3, Day: 10}, false},
		{"bought tomorrow in Sofia", domain.Date{Year: 2026, Month: 3, Day: 11}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validRegistration()
			c.ClaimID, c.Number, c.PurchaseDate = uuid.New(), "RMA-2026-000001", tc.purchase
			_, err := domain.Decide(domain.State{}, &c, at, p)
			var invalid domain.ValidationErrors
			if got := errors.As(err, &invalid); got != tc.refused {
				t.Fatalf("refused %v (%v), want %v", got, err, tc.refused)
			}
			if tc.refused && (invalid[0].Field != "purchase_date" || !strings.Contains(invalid[0].Problem, "2026-03-10 in Europe/Sofia")) {
				t.Errorf("problem %+v", invalid)
			}
		})
	}
}
