package domain_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// TestPhoneCandidatesMatch is the status page's phone rule as a table: given the number a
// claim was registered with, does what the customer types match it?
func TestPhoneCandidatesMatch(t *testing.T) {
	for _, tc := range []struct {
		typed, registered string
		want              bool
	}{
		// Formatting is forgiven.
		{"+359 888 123 456", "+359888123456", true},
		{"+359-888-123-456", "+359888123456", true},
		{"+359 (888) 123.456", "+359888123456", true},
		{" +359 888/123\u00a0456 ", "+359888123456", true},
		{"00359 888 123 456", "+359888123456", true},
		{"359888123456", "+359888123456", true},
		{"+44 (0)20 7946 0958", "+442079460958", true},
		// National prefixes, in the registered number's own country.
		{"0888 123 456", "+359888123456", true},     // Bulgaria, trunk 0
		{"02 123 4567", "+35921234567", true},       // Sofia fixed line
		{"8 (916) 123-45-67", "+79161234567", true}, // Russia, trunk 8
		{"8 701 123 4567", "+77011234567", true},    // Kazakhstan shares +7 and its trunk 8
		{"210 123 4567", "+302101234567", true},     // Greece has no trunk prefix
		{"69 1234 5678", "+306912345678", true},
		{"010 1234 5678", "+861012345678", true},  // China, fixed line with trunk 0
		{"138 0013 8000", "+8613800138000", true}, // China, mobile written bare
		{"020 7946 0958", "+442079460958", true},  // United Kingdom
		{"06 1234 5678", "+390612345678", true},   // Italy: the 0 is part of the number
		{"(212) 555-0123", "+12125550123", true},  // North America, bare
		{"1 212 555 0123", "+12125550123", true},  // North America, trunk 1
		{"050 123 4567", "+380501234567", true},   // Ukraine

		// Never a different number.
		{"+359 888 123 457", "+359888123456", false},  // one digit off
		{"+359 888 123 45", "+359888123456", false},   // one digit short
		{"0888 123 4567", "+359888123456", false},     // one digit long
		{"0888 123 456", "+7888123456", false},        // Russia's trunk prefix is 8, not 0
		{"8 888 123 456", "+359888123456", false},     // Bulgaria's trunk prefix is 0, not 8
		{"888 123 456", "+359888123456", false},       // without its trunk prefix: maybe a local number
		{"916 123 45 67", "+79161234567", false},      // ditto in Russia
		{"0 210 123 4567", "+302101234567", false},    // Greece has no trunk prefix
		{"00 359 888 123 456", "+35988812345", false}, // the international form is read only one way
		{"+7 916 123 45 67", "+79161234568", false},
		{"+30 210 123 4567", "+3902101234567", false},
		{"+44 (0)20 7946 0958", "+4402079460958", false},
		{"+359 888 123 456 ext 2", "+359888123456", false},
		{"+359+888123456", "+359888123456", false},
		{"++359888123456", "+359888123456", false},
		{"359 888 123 456 +", "+359888123456", false},
		{"phone: 0888 123 456", "+359888123456", false},
		{"", "+359888123456", false},
		{"+359 888 123 456" + strings.Repeat(" ", 60), "+359888123456", false}, // too long to read
	} {
		got := slices.Contains(domain.PhoneCandidates(tc.typed), tc.registered)
		if got != tc.want {
			t.Errorf("%q against registered %s: match = %v, want %v (candidates %q)",
				tc.typed, tc.registered, got, tc.want, domain.PhoneCandidates(tc.typed))
		}
	}
}

// TestPhoneCandidatesAreRegistrable checks that every candidate is a number registration
// could have stored, and that an international number has exactly one reading.
func TestPhoneCandidatesAreRegistrable(t *testing.T) {
	inputs := []string{
		"0888 123 456", "8 916 123 45 67", "210 123 4567", "138 0013 8000", "010 1234 5678",
		"(212) 555-0123", "06 1234 5678", "359888123456", "0721 234 567", "0532 123 45 67",
		"1234567", "99999999999999", "+359 888 123 456", "00 30 210 123 4567",
	}
	for _, in := range inputs {
		cands := domain.PhoneCandidates(in)
		if len(cands) == 0 {
			t.Errorf("%q: no candidates", in)
		}
		for _, c := range cands {
			if n, ok := domain.NormalizePhone(c); !ok || n != c {
				t.Errorf("%q: candidate %q is not a normalised phone", in, c)
			}
			if again := domain.PhoneCandidates(c); !slices.Equal(again, []string{c}) {
				t.Errorf("%q: candidate %q read again gives %q, want only itself", in, c, again)
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(cands)))) != len(cands) {
			t.Errorf("%q: duplicate candidates %q", in, cands)
		}
	}
	for _, none := range []string{"0000000000", "+0888123456", "123456", "+1234567890123456", "abc"} {
		if got := domain.PhoneCandidates(none); len(got) != 0 {
			t.Errorf("%q is no phone number, yet candidates %q", none, got)
		}
	}
	if got := domain.PhoneCandidates("+359 888 123 456"); !slices.Equal(got, []string{"+359888123456"}) {
		t.Errorf("international input: %q, want exactly +359888123456", got)
	}
}

// TestPhoneCandidatesAgreeWithRegistration: what registration accepts and stores, the status
// page accepts back in the same form.
func TestPhoneCandidatesAgreeWithRegistration(t *testing.T) {
	for _, typed := range []string{"+359 88 123 4567", "+7 (495) 123-45-67", "+86.10.1234.5678", " +30 2101234567 "} {
		stored, ok := domain.NormalizePhone(typed)
		if !ok {
			t.Fatalf("registration refuses %q", typed)
		}
		if !slices.Contains(domain.PhoneCandidates(typed), stored) {
			t.Errorf("%q registered as %s but the status page does not match it", typed, stored)
		}
	}
}
