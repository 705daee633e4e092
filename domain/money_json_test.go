package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// TestMoneyJSONFastPaths checks that MarshalJSON writes what json.Marshal of
// the wire struct would, and that the shortcut UnmarshalJSON takes for that
// form decides exactly as the general decoder does: the same value, or an
// error both times.
func TestMoneyJSONFastPaths(t *testing.T) {
	for _, m := range []Money{
		{Amount: 12990, Currency: "EUR"}, {Amount: 0, Currency: "BGN"}, {Amount: 5, Currency: "EUR"},
		{Amount: -500, Currency: "EUR"}, {Amount: 1500, Currency: "JPY"}, {Amount: 1234, Currency: "KWD"},
		{Amount: 9_223_372_036_854_775_807, Currency: "USD"},
	} {
		got, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("Marshal(%v): %v", m, err)
		}
		amount, _ := json.Marshal(m.Decimal())
		want, _ := json.Marshal(moneyJSON{Amount: amount, Currency: m.Currency})
		if string(got) != string(want) {
			t.Errorf("Marshal(%v) = %s, want %s", m, got, want)
		}
	}

	for _, c := range []struct{ amount, currency string }{
		{"129.90", "EUR"}, {"0", "EUR"}, {"1500", "JPY"}, {"1.234", "KWD"}, {"129.9", "EUR"},
		// Invalid amounts and currencies must fail on both paths.
		{"01", "EUR"}, {"1.", "EUR"}, {".5", "EUR"}, {"1.234", "EUR"}, {"", "EUR"}, {"1..2", "EUR"},
		{"99999999999999999999", "EUR"}, {"1", "XXX"}, {"1", ""}, {"1", "JPY"}, {"1.5", "JPY"},
	} {
		canonical := fmt.Sprintf(`{"amount":%q,"currency":%q}`, c.amount, c.currency)
		if _, _, ok := canonicalMoney([]byte(canonical)); !ok {
			t.Fatalf("%s does not take the shortcut", canonical)
		}
		spaced := fmt.Sprintf(`{ "amount": %q, "currency": %q }`, c.amount, c.currency)
		if _, _, ok := canonicalMoney([]byte(spaced)); ok {
			t.Fatalf("%s takes the shortcut", spaced)
		}
		var fast, general Money
		fastErr := json.Unmarshal([]byte(canonical), &fast)
		generalErr := json.Unmarshal([]byte(spaced), &general)
		if fast != general || (fastErr == nil) != (generalErr == nil) {
			t.Errorf("%s: shortcut gives %v, %v; general decoder %v, %v", canonical, fast, fastErr, general, generalErr)
		}
		if fastErr != nil && !errors.Is(fastErr, ErrInvalidMoney) {
			t.Errorf("%s: %v is not ErrInvalidMoney", canonical, fastErr)
		}
	}

	// Forms the shortcut must leave to the general decoder, which accepts
	// or rejects them on its own rules.
	for _, in := range []string{
		`{"currency":"EUR","amount":"1.00"}`, `{"Amount":"1.00","currency":"EUR"}`,
		`{"amount":"1.00","currency":"EUR","extra":1}`, `{"amount":1,"currency":"EUR"}`,
		`{"amount":"1.00","currency":"eur"}`, `{"amount":"-1.00","currency":"EUR"}`,
		`{"amount":"1\u002e00","currency":"EUR"}`,
	} {
		if _, _, ok := canonicalMoney([]byte(in)); ok {
			t.Errorf("%s takes the shortcut", in)
		}
	}
}
