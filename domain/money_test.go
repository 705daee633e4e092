package domain_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

func TestParseMoney(t *testing.T) {
	for _, tc := range []struct {
		amount, currency string
		minor            int64
		decimal          string
	}{
		{"129.90", "EUR", 12990, "129.90"},
		{"129.9", "EUR", 12990, "129.90"},
		{"129", "EUR", 12900, "129.00"},
		{"0", "EUR", 0, "0.00"},
		{"0.05", "USD", 5, "0.05"},
		{"1500", "JPY", 1500, "1500"},
		{"0", "KRW", 0, "0"},
		{"1.234", "KWD", 1234, "1.234"},
		{"1.2", "BHD", 1200, "1.200"},
		{"0.001", "OMR", 1, "0.001"},
		{"99.99", "RUB", 9999, "99.99"},
		{"12.50", "BGN", 1250, "12.50"},
		{"88.80", "CNY", 8880, "88.80"},
		{"92233720368547758.07", "EUR", math.MaxInt64, "92233720368547758.07"},
	} {
		m, err := domain.ParseMoney(tc.amount, tc.currency)
		if err != nil {
			t.Errorf("%s %s: %v", tc.amount, tc.currency, err)
			continue
		}
		if m.Amount != tc.minor || m.Currency != tc.currency {
			t.Errorf("%s %s = %+v, want %d minor units", tc.amount, tc.currency, m, tc.minor)
		}
		if m.Decimal() != tc.decimal || m.String() != tc.decimal+" "+tc.currency {
			t.Errorf("%s %s formats as %q / %q", tc.amount, tc.currency, m.Decimal(), m.String())
		}
	}
}

func TestParseMoneyRejects(t *testing.T) {
	for _, tc := range []struct{ amount, currency string }{
		{"1e3", "EUR"},
		{"1E3", "EUR"},
		{"1.234", "EUR"},
		{"1.5", "JPY"},
		{"1.0", "JPY"},
		{"1.2345", "KWD"},
		{"-1", "EUR"},
		{"+1", "EUR"},
		{" 1", "EUR"},
		{"1 ", "EUR"},
		{"1,00", "EUR"},
		{"1 000", "EUR"},
		{"01", "EUR"},
		{".5", "EUR"},
		{"1.", "EUR"},
		{"", "EUR"},
		{"0x10", "EUR"},
		{"١٢", "EUR"}, // Arabic-Indic digits
		{"NaN", "EUR"},
		{"92233720368547758.08", "EUR"},
		{"1", ""},
		{"1", "eur"},
		{"1", "XXX"},
		{"1", "EURO"},
	} {
		if m, err := domain.ParseMoney(tc.amount, tc.currency); !errors.Is(err, domain.ErrInvalidMoney) {
			t.Errorf("ParseMoney(%q, %q) = %+v, %v; want ErrInvalidMoney", tc.amount, tc.currency, m, err)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	b, err := json.Marshal(money("129.9", "EUR"))
	if err != nil || string(b) != `{"amount":"129.90","currency":"EUR"}` {
		t.Errorf("marshal: %s, %v", b, err)
	}
	if b, err := json.Marshal(domain.Money{}); err != nil || string(b) != "null" {
		t.Errorf("marshal zero: %s, %v", b, err)
	}
	if _, err := json.Marshal(domain.Money{Amount: 1, Currency: "ZZZ"}); err == nil {
		t.Errorf("marshal with an unknown currency succeeded")
	}

	var m domain.Money
	if err := json.Unmarshal([]byte(`{"amount":"1500","currency":"JPY"}`), &m); err != nil || m != money("1500", "JPY") {
		t.Errorf("unmarshal: %+v, %v", m, err)
	}
	for _, bad := range []string{
		`{"amount":129.90,"currency":"EUR"}`,
		`{"amount":"1.234","currency":"EUR"}`,
		`{"amount":"1e3","currency":"EUR"}`,
		`{"amount":"1","currency":"eur"}`,
		`{"amount":"1"}`,
		`{"currency":"EUR"}`,
		`{"amount":"1","currency":"EUR","note":"x"}`,
		`"129.90 EUR"`,
	} {
		var m domain.Money
		if err := json.Unmarshal([]byte(bad), &m); !errors.Is(err, domain.ErrInvalidMoney) {
			t.Errorf("unmarshal %s: %+v, %v; want ErrInvalidMoney", bad, m, err)
		}
	}
	// Inside a command, an invalid amount fails decoding with the same sentinel.
	var c domain.RecordPayment
	if err := json.Unmarshal([]byte(`{"amount":{"amount":"1.001","currency":"EUR"}}`), &c); !errors.Is(err, domain.ErrInvalidMoney) {
		t.Errorf("decode command: %v", err)
	}
}

func TestMoneyArithmetic(t *testing.T) {
	sum, err := eur("0.10").Add(eur("0.20"))
	if err != nil || sum != eur("0.30") {
		t.Errorf("0.10 + 0.20 = %v, %v", sum, err)
	}
	diff, err := eur("1").Sub(eur("1.01"))
	if err != nil || diff.Decimal() != "-0.01" {
		t.Errorf("1 - 1.01 = %v, %v", diff, err)
	}
	if _, err := eur("1").Add(money("1", "USD")); !errors.Is(err, domain.ErrCurrencyMismatch) {
		t.Errorf("EUR + USD: %v", err)
	}
	if _, err := eur("1").Sub(money("1", "USD")); !errors.Is(err, domain.ErrCurrencyMismatch) {
		t.Errorf("EUR - USD: %v", err)
	}
	big := domain.Money{Amount: math.MaxInt64, Currency: "EUR"}
	if _, err := big.Add(eur("0.01")); !errors.Is(err, domain.ErrMoneyOverflow) {
		t.Errorf("overflow on Add: %v", err)
	}
	small := domain.Money{Amount: math.MinInt64, Currency: "EUR"}
	if _, err := small.Sub(eur("0.01")); !errors.Is(err, domain.ErrMoneyOverflow) {
		t.Errorf("overflow on Sub: %v", err)
	}
	if got := small.Decimal(); got != "-92233720368547758.08" {
		t.Errorf("MinInt64 formats as %s", got)
	}
	if exp, ok := domain.CurrencyExponent("ISK"); !ok || exp != 0 {
		t.Errorf("ISK exponent %d %v", exp, ok)
	}
}

func TestRuleErrorsAreRecognised(t *testing.T) {
	for _, err := range domain.RuleErrors() {
		if !domain.IsRuleError(err) {
			t.Errorf("%v is not recognised", err)
		}
	}
	for _, err := range []error{domain.ErrNoClaim, domain.ErrClaimExists, domain.ErrInvalidMoney, &domain.InvalidTransitionError{}, domain.ValidationErrors{}} {
		if domain.IsRuleError(err) {
			t.Errorf("%v is not a rule error", err)
		}
	}
}
