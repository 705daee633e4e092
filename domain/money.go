package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrInvalidMoney is wrapped by every error about the form of a money value (unknown currency,
// malformed decimal, too many fraction digits). It is a format error, not a business rule; the
// API reports it for the request body as a whole, since a JSON decoder cannot name the field.
var ErrInvalidMoney = errors.New("invalid money")

// Money is an amount in the minor units of an ISO 4217 currency: 129.90 EUR is
// Money{Amount: 12990, Currency: "EUR"}. Integers make sums, caps and reconciliation exact;
// a float would lose cents that finance then has to explain.
//
// The zero value (no amount, no currency) means "absent": it is encoded as JSON null and
// omitted by `omitzero`. In JSON a present value is {"amount":"129.90","currency":"EUR"}, the
// amount a decimal string so that no JSON client ever turns it into a float.
type Money struct {
	Amount   int64
	Currency string
}

// ParseMoney reads a decimal amount in the given currency. It is strict because amounts come
// from people and spreadsheets: only plain non-negative decimals with at most as many fraction
// digits as the currency has ("129.9" and "129.90" for EUR, "1500" for JPY, "1.234" for KWD).
// Rejected: exponents ("1e3"), signs ("+1", "-1"), spaces, grouping or decimal commas ("1,00"),
// leading zeros ("01"), a bare or trailing point (".5", "1."), and more fraction digits than the
// currency has ("1.234" EUR), which would otherwise be silently rounded.
func ParseMoney(amount, currency string) (Money, error) {
	if currency == "" {
		return Money{}, fmt.Errorf("%w: currency is required", ErrInvalidMoney)
	}
	exp, ok := exponents[currency]
	if !ok {
		return Money{}, fmt.Errorf("%w: unknown currency %q (an upper-case ISO 4217 code is expected)", ErrInvalidMoney, currency)
	}
	whole, frac, hasPoint := strings.Cut(amount, ".")
	if !isDigits(whole) || (len(whole) > 1 && whole[0] == '0') || (hasPoint && !isDigits(frac)) {
		return Money{}, fmt.Errorf("%w: amount %q is not a plain decimal such as \"129.90\"", ErrInvalidMoney, amount)
	}
	if len(frac) > exp {
		if exp == 0 {
			return Money{}, fmt.Errorf("%w: amount %q: %s has no minor units", ErrInvalidMoney, amount, currency)
		}
		return Money{}, fmt.Errorf("%w: amount %q: %s allows at most %d fraction digits", ErrInvalidMoney, amount, currency, exp)
	}
	var v int64
	for _, c := range whole + frac + strings.Repeat("0", exp-len(frac)) {
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return Money{}, fmt.Errorf("%w: amount %q is too large", ErrInvalidMoney, amount)
		}
		v = v*10 + d
	}
	return Money{Amount: v, Currency: currency}, nil
}

// isDigits reports whether s is a non-empty run of ASCII digits; unicode.IsDigit would also
// accept Arabic-Indic and full-width digits, which no ledger should store.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsZero reports whether m is the zero value, i.e. absent. Money{0, "EUR"} is not zero: it is
// a present amount of nothing, such as the paid total of a claim before any payment.
func (m Money) IsZero() bool { return m == Money{} }

// Decimal formats the amount with exactly the currency's fraction digits ("129.90", "1500",
// "1.234"), the form used in JSON and CSV. A currency missing from the table is formatted as
// raw minor units rather than guessed at.
func (m Money) Decimal() string {
	exp := exponents[m.Currency]
	u := uint64(m.Amount)
	if m.Amount < 0 {
		u = ^u + 1 // magnitude, correct even for math.MinInt64
	}
	s := strconv.FormatUint(u, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if m.Amount < 0 {
		s = "-" + s
	}
	return s
}

// String formats the amount for people and messages: "129.90 EUR".
func (m Money) String() string {
	if m.Currency == "" {
		return m.Decimal()
	}
	return m.Decimal() + " " + m.Currency
}

// Add returns m+o. Different currencies are never added (ErrCurrencyMismatch): a claim's sums
// would be meaningless. Overflow is reported (ErrMoneyOverflow) instead of wrapping around.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: cannot add %s to %s", ErrCurrencyMismatch, o, m)
	}
	if (o.Amount > 0 && m.Amount > math.MaxInt64-o.Amount) || (o.Amount < 0 && m.Amount < math.MinInt64-o.Amount) {
		return Money{}, fmt.Errorf("%w: %s + %s", ErrMoneyOverflow, m, o)
	}
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}, nil
}

// Sub returns m-o, with the same currency and overflow checks as Add.
func (m Money) Sub(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: cannot subtract %s from %s", ErrCurrencyMismatch, o, m)
	}
	if (o.Amount < 0 && m.Amount > math.MaxInt64+o.Amount) || (o.Amount > 0 && m.Amount < math.MinInt64+o.Amount) {
		return Money{}, fmt.Errorf("%w: %s - %s", ErrMoneyOverflow, m, o)
	}
	return Money{Amount: m.Amount - o.Amount, Currency: m.Currency}, nil
}

// moneyJSON is the wire form of Money.
type moneyJSON struct {
	Amount   json.RawMessage `json:"amount"`
	Currency string          `json:"currency"`
}

// canonicalMoney recognises the exact form MarshalJSON writes, with an amount of
// digits and points and an upper-case currency, and returns its two strings.
// Stored events and states are always in that form; reading it without a
// json.Decoder per value makes decoding an event with money several times
// cheaper. Anything else (spacing, other key order or case, escapes) goes
// through the general path, which decides what is valid: for the canonical
// form both paths end in the same ParseMoney call.
func canonicalMoney(b []byte) (amount, currency string, ok bool) {
	const (
		head = `{"amount":"`
		mid  = `","currency":"`
		tail = `"}`
	)
	rest, ok := bytes.CutPrefix(b, []byte(head))
	if !ok {
		return "", "", false
	}
	i := 0
	for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
		i++
	}
	a := rest[:i]
	if rest, ok = bytes.CutPrefix(rest[i:], []byte(mid)); !ok {
		return "", "", false
	}
	i = 0
	for i < len(rest) && rest[i] >= 'A' && rest[i] <= 'Z' {
		i++
	}
	if string(rest[i:]) != tail {
		return "", "", false
	}
	return string(a), string(rest[:i]), true
}

// MarshalJSON writes {"amount":"129.90","currency":"EUR"}, or null for the zero value. A
// currency outside the table is an error rather than a guess at its exponent.
func (m Money) MarshalJSON() ([]byte, error) {
	if m.IsZero() {
		return []byte("null"), nil
	}
	if _, ok := exponents[m.Currency]; !ok {
		return nil, fmt.Errorf("%w: unknown currency %q", ErrInvalidMoney, m.Currency)
	}
	// Written out rather than through json.Marshal: every claim state and
	// money event carries several amounts, and read-model rebuilds encode
	// them by the hundred thousand. Neither part needs escaping: Decimal
	// writes only digits, '-' and '.', and the currency is a code from the
	// table.
	b := make([]byte, 0, 40)
	b = append(b, `{"amount":"`...)
	b = append(b, m.Decimal()...)
	b = append(b, `","currency":"`...)
	b = append(b, m.Currency...)
	return append(b, `"}`...), nil
}

// UnmarshalJSON reads the form MarshalJSON writes, as strictly as ParseMoney: the amount must be
// a JSON string (a JSON number would have passed through a float in many clients), and fields
// other than amount and currency are rejected. null leaves m unchanged, as encoding/json expects.
func (m *Money) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if amount, currency, ok := canonicalMoney(b); ok {
		parsed, err := ParseMoney(amount, currency)
		if err != nil {
			return err
		}
		*m = parsed
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var raw moneyJSON
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("%w: expected {\"amount\":\"129.90\",\"currency\":\"EUR\"}: %v", ErrInvalidMoney, err)
	}
	if len(raw.Amount) == 0 || raw.Amount[0] != '"' {
		return fmt.Errorf("%w: amount must be a decimal string such as \"129.90\"", ErrInvalidMoney)
	}
	var amount string
	if err := json.Unmarshal(raw.Amount, &amount); err != nil {
		return fmt.Errorf("%w: amount: %v", ErrInvalidMoney, err)
	}
	parsed, err := ParseMoney(amount, raw.Currency)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}
