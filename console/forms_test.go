package console

import (
	"net/url"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// TestFormsMatchCommands: every action a person can run has a form, and
// every field of every form is a field of the command's JSON, so that a
// form decodes exactly as an API body does.
func TestFormsMatchCommands(t *testing.T) {
	for _, a := range domain.Actions() {
		fields, ok := forms[a]
		if !ok {
			t.Errorf("no form for %s", a)
			continue
		}
		values := url.Values{}
		for _, f := range fields {
			switch f.Kind {
			case kindMoney:
				values.Set(f.Name, "12.50")
			case kindCheck:
				values.Set(f.Name, "yes")
			case kindYesNo:
				values.Set(f.Name, "no")
			case kindDate:
				values.Set(f.Name, "2026-01-02")
			case kindChoice:
				values.Set(f.Name, "x")
				if len(f.Options) > 0 {
					values.Set(f.Name, f.Options[len(f.Options)-1])
				}
			default:
				values.Set(f.Name, "a\nb")
			}
		}
		cmd, _ := domain.NewCommand(a)
		if problems := decodeForm(values, fields, "EUR", cmd); problems != nil {
			t.Errorf("%s: %v", a, problems)
		}
	}
	var reg domain.RegisterClaim
	if problems := decodeForm(url.Values{"customer.name": {"A"}, "price": {"1.00"}, "purchase_date": {"2026-01-01"}}, registerFields, "EUR", &reg); problems != nil {
		t.Fatal(problems)
	}
	if reg.Customer.Name != "A" || reg.Price.Amount != 100 || reg.PurchaseDate.Year != 2026 {
		t.Fatalf("decoded %+v", reg)
	}
}

// TestDecodeFormProblems: what the form cannot read is a problem of its
// field, not of the whole command.
func TestDecodeFormProblems(t *testing.T) {
	var cmd domain.RecordPayment
	problems := decodeForm(url.Values{"amount": {"12,50"}, "reference": {"R"}}, forms[domain.ActionRecordPayment], "EUR", &cmd)
	if len(problems) != 1 || problems[0].Field != "amount" || !strings.Contains(problems[0].Problem, "amount") {
		t.Fatalf("problems %v", problems)
	}
}
