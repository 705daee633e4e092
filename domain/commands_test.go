package domain_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

func TestNewCommandAndParseAction(t *testing.T) {
	for _, a := range append([]domain.Action{domain.ActionRegister}, domain.Actions()...) {
		c, ok := domain.NewCommand(a)
		if !ok || c == nil || c.Action() != a {
			t.Errorf("NewCommand(%s) = %#v, %v", a, c, ok)
		}
		// A zero command decodes from "{}" and, being a pointer, fills in place.
		if err := json.Unmarshal([]byte(`{}`), c); err != nil {
			t.Errorf("%s: decode {}: %v", a, err)
		}
		if got, ok := domain.ParseAction(string(a)); ok != (a != domain.ActionRegister) || (ok && got != a) {
			t.Errorf("ParseAction(%s) = %s, %v", a, got, ok)
		}
	}
	if _, ok := domain.NewCommand("teleport"); ok {
		t.Errorf("NewCommand accepted an unknown action")
	}
	if _, ok := domain.ParseAction("Authorize"); ok {
		t.Errorf("ParseAction is case-sensitive: the names are stable identifiers")
	}
	if s, ok := domain.ParseStatus("in_transit"); !ok || s != domain.StatusInTransit {
		t.Errorf("ParseStatus(in_transit) = %s, %v", s, ok)
	}
	if len(domain.Statuses()) != 17 {
		t.Errorf("%d statuses", len(domain.Statuses()))
	}
}

func TestDecodeRegistrationBody(t *testing.T) {
	body := `{
		"claim_id": "00000000-0000-0000-0000-000000000001",
		"customer": {"name": "Мария", "phone": "+30 210 123 4567"},
		"product": {"category": "gpu", "serial": "GPU-1"},
		"purchase_date": "2025-12-01",
		"price": {"amount": "349.00", "currency": "EUR"},
		"defect": "Fan rattles."
	}`
	c, _ := domain.NewCommand(domain.ActionRegister)
	if err := json.Unmarshal([]byte(body), c); err != nil {
		t.Fatal(err)
	}
	reg := c.(*domain.RegisterClaim)
	if reg.ClaimID != uuid.Nil {
		t.Errorf("claim_id came from the body: the application assigns it")
	}
	if err := reg.Validate(); err != nil {
		t.Errorf("valid body: %v", err)
	}
	reg.ClaimID, reg.Number = claimID, "RMA-7"
	events, err := domain.Decide(domain.State{}, reg, whenAt, policy)
	if err != nil || events[0].(domain.ClaimRegistered).Customer.Phone != "+302101234567" {
		t.Errorf("events %v, %v", events, err)
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+359 88 123 4567":   "+359881234567",
		"+7 (495) 123-45-67": "+74951234567",
		"+86.10.1234.5678":   "+861012345678",
		" +30 2101234567 ":   "+302101234567",
	} {
		if got, ok := domain.NormalizePhone(in); !ok || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"0888123456", "+0888123456", "+123456", "+1234567890123456", "+359 88 123 4567 ext 2", "++359881234567", "+359+881234567", ""} {
		if got, ok := domain.NormalizePhone(bad); ok {
			t.Errorf("NormalizePhone(%q) = %q, accepted", bad, got)
		}
	}
}

func TestNormalizeIMEI(t *testing.T) {
	if got, ok := domain.NormalizeIMEI("49 015420 323751 8"); !ok || got != "490154203237518" {
		t.Errorf("valid IMEI: %q, %v", got, ok)
	}
	for _, bad := range []string{"490154203237517", "49015420323751", "4901542032375180", "49015420323751X"} {
		if _, ok := domain.NormalizeIMEI(bad); ok {
			t.Errorf("NormalizeIMEI(%q) accepted", bad)
		}
	}
}

func TestValidationDetails(t *testing.T) {
	fields := func(err error) []string {
		var ve domain.ValidationErrors
		if !errors.As(err, &ve) {
			return nil
		}
		var out []string
		for _, f := range ve {
			out = append(out, f.Field)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		c    domain.Command
		want []string
	}{
		{"limits count characters, not bytes", &domain.AddNote{Text: strings.Repeat("я", 4000)}, nil},
		{"over the limit", &domain.AddNote{Text: strings.Repeat("я", 4001)}, []string{"text"}},
		{"whitespace is not a value", &domain.AddNote{Text: " \n "}, []string{"text"}},
		{"newlines in free text", &domain.OpenDispute{Reason: "line 1\nline 2"}, nil},
		{"no newline in a single line", &domain.ConfirmDelivery{SignedBy: "Ivan\nPetrov"}, []string{"signed_by"}},
		{"list entries by index", &domain.ReceiveDocuments{Documents: []string{"form", ""}}, []string{"documents[1]"}},
		{"empty list", &domain.ReceiveDocuments{}, []string{"documents"}},
		{"seals must be stated", &domain.ReceiveClaim{Condition: "ok", ReceivedBy: "M"}, []string{"seals_intact"}},
		{"codes are lower case", &domain.PutOnHold{ReasonCode: "Unpaid Debt"}, []string{"reason_code"}},
		{"country code", &domain.RedirectToServiceCenter{ServiceCenter: domain.ServiceCenter{Name: "ASC", Country: "bg"}}, []string{"service_center.country"}},
		{"authorize needs an address to ship to", &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "S"}}, []string{"service_center.address"}},
		{"negative estimate part", &domain.IssueEstimate{DamageLevel: 1, Parts: domain.Money{Amount: -1, Currency: "EUR"}, Labour: eur("1")}, []string{"parts"}},
		{"payment of nothing", &domain.RecordPayment{Amount: eur("0"), Reference: "P", Method: "cheque"}, []string{"amount", "method"}},
		{"dispute outcome", &domain.ResolveDispute{Outcome: "partly", Decision: "d"}, []string{"outcome"}},
	} {
		if got := fields(tc.c.Validate()); !slices.Equal(got, tc.want) {
			t.Errorf("%s: fields %v, want %v (%v)", tc.name, got, tc.want, tc.c.Validate())
		}
	}
}
