package domain

import (
	"cmp"
	"slices"
	"strings"
)

// numberingPlan is one way people in a country write their own numbers without the country
// code: after the trunk prefix ("0" in Bulgaria, "8" in Russia) where the country has one, or
// bare where it has none (Greece) or where a class of numbers is written bare (Chinese
// mobiles, which start with 1). The national significant number that follows has minLen to
// maxLen digits and, when lead is set, starts with one of lead's digits.
type numberingPlan struct {
	countries      string // the countries (ISO 3166-1 alpha-2, space-separated) that write numbers so
	code           string // the country calling code, digits only
	trunk          string // the trunk prefix written before the national number, "" for none
	lead           string // the digits a national number may start with, "" for 1-9
	minLen, maxLen int    // digits of the national significant number
}

// numberingPlans are the national writings PhoneCandidates understands: the seeds' countries
// first (Russia and Kazakhstan share +7, Bulgaria, China, Greece), then neighbours and large
// markets their sellers serve. Any other country works in international form ("+" or "00");
// adding one is a row here and a line in phone_test.go. Reading a national number without
// its trunk prefix is deliberately not offered where a trunk prefix exists: there such digits
// can be a local number dialled without the area code, i.e. another subscriber.
var numberingPlans = []numberingPlan{
	{countries: "RU KZ", code: "7", trunk: "8", minLen: 10, maxLen: 10},                   // Russia, Kazakhstan: 8 916 123-45-67
	{countries: "BG", code: "359", trunk: "0", minLen: 8, maxLen: 9},                      // Bulgaria: 0888 123 456, 02 123 4567
	{countries: "CN", code: "86", trunk: "0", minLen: 9, maxLen: 11},                      // China, fixed lines: 010 1234 5678
	{countries: "CN", code: "86", trunk: "", lead: "1", minLen: 11, maxLen: 11},           // China, mobiles: 138 0013 8000
	{countries: "GR", code: "30", trunk: "", lead: "2689", minLen: 10, maxLen: 10},        // Greece: 210 123 4567, 69x xxx xxxx
	{countries: "CY", code: "357", trunk: "", lead: "2789", minLen: 8, maxLen: 8},         // Cyprus: 22 123456
	{countries: "UA", code: "380", trunk: "0", minLen: 9, maxLen: 9},                      // Ukraine: 050 123 4567
	{countries: "RO", code: "40", trunk: "0", minLen: 9, maxLen: 9},                       // Romania: 0721 234 567
	{countries: "TR", code: "90", trunk: "0", minLen: 10, maxLen: 10},                     // Turkey: 0532 123 45 67
	{countries: "RS", code: "381", trunk: "0", minLen: 8, maxLen: 9},                      // Serbia: 060 1234567
	{countries: "MK", code: "389", trunk: "0", minLen: 8, maxLen: 8},                      // North Macedonia: 070 123 456
	{countries: "GB", code: "44", trunk: "0", minLen: 9, maxLen: 10},                      // United Kingdom: 07700 900123
	{countries: "DE", code: "49", trunk: "0", minLen: 6, maxLen: 13},                      // Germany: 030 1234567
	{countries: "FR", code: "33", trunk: "0", minLen: 9, maxLen: 9},                       // France: 06 12 34 56 78
	{countries: "IT", code: "39", trunk: "", lead: "03", minLen: 6, maxLen: 11},           // Italy: 06 1234 5678 (the 0 belongs to the number)
	{countries: "ES", code: "34", trunk: "", lead: "6789", minLen: 9, maxLen: 9},          // Spain: 612 34 56 78
	{countries: "PL", code: "48", trunk: "", minLen: 9, maxLen: 9},                        // Poland: 512 345 678
	{countries: "US CA", code: "1", trunk: "1", lead: "23456789", minLen: 10, maxLen: 10}, // North America: 1 212 555 0123
	{countries: "US CA", code: "1", trunk: "", lead: "23456789", minLen: 10, maxLen: 10},  // North America: (212) 555-0123
}

// maxPhoneInput bounds what PhoneCandidates reads: a phone number with generous formatting
// fits easily, and a long input must not cost a long loop.
const maxPhoneInput = 64

// PhoneCandidates returns the E.164 numbers a customer may mean by s, for comparing with the
// number a claim was registered with (Customer.Phone, see NormalizePhone). It forgives what
// people type and never reinterprets a number as another subscriber's:
//
//   - spaces, dashes, dots, parentheses and slashes are ignored;
//   - "+359 888 123 456" and "00359 888 123 456" are that international number, and only it
//     ("+44 (0)20 7946 0958" too: the bracketed 0 is the trunk prefix);
//   - digits without a prefix are the international number missing its "+"
//     ("359888123456"), or a national number as its own country writes it (numberingPlans):
//     after the trunk prefix ("0888 123 456" in Bulgaria, "8 916 123-45-67" in Russia), or
//     bare where the country has none ("210 123 4567" in Greece).
//
// Each national reading yields the country code followed by the national significant number,
// which is exactly how that country's numbers are registered. So a candidate can equal a
// claim's phone only when s is that very phone written the way its own country writes it:
// "0888 123 456" matches +359 888 123 456, and cannot match +7 888 123 456 (Russia's trunk
// prefix is 8) nor any number whose digits merely overlap. The result has at most one
// candidate per numbering plan plus one, depends only on s (so a lookup does the same work
// whether or not the claim exists), and is empty when s is not a phone number at all.
func PhoneCandidates(s string) []string {
	var out []string
	eachPhoneReading(s, func(r phoneReading) {
		if !slices.Contains(out, r.number) {
			out = append(out, r.number)
		}
	})
	return out
}

// phoneReading is one way of reading a typed phone number: the E.164 number, and the numbering
// plan whose national form it was written in (nil when read as an international number).
// Explicit is set for a number written in international form, with "+" or "00".
type phoneReading struct {
	number   string
	plan     *numberingPlan
	explicit bool
}

// eachPhoneReading calls yield with every reading of s that PhoneCandidates and NormalizePhoneIn
// choose from: they share it, so that a number registered in national form is found by a lookup
// typed the same way. A callback rather than a list keeps the lookup's hot path to the
// allocations of its result.
func eachPhoneReading(s string, yield func(phoneReading)) {
	if len(s) > maxPhoneInput {
		return
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00") {
		// "+44 (0)20 7946 0958": the bracketed trunk prefix is for callers inside the country.
		s = strings.Replace(s, "(0)", "", 1)
	}
	digits := make([]byte, 0, len(s))
	international := false
	for i, r := range s {
		switch {
		case r == '+' && i == 0:
			international = true
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/' || r == '\u00a0':
		default:
			return
		}
	}
	d := string(digits)
	if international {
		yieldE164("+"+d, true, yield)
		return
	}
	if rest, ok := strings.CutPrefix(d, "00"); ok {
		yieldE164("+"+rest, true, yield)
		return
	}
	yieldE164("+"+d, false, yield) // the international number without its "+"
	for i := range numberingPlans {
		p := &numberingPlans[i]
		national, ok := strings.CutPrefix(d, p.trunk)
		if !ok || len(national) < p.minLen || len(national) > p.maxLen {
			continue
		}
		if lead := cmp.Or(p.lead, "123456789"); strings.IndexByte(lead, national[0]) < 0 {
			continue
		}
		// A country code starts with 1-9, so this is an E.164 number when its
		// length is; NormalizePhone would say the same, at the price of a parse.
		if n := "+" + p.code + national; len(n) >= 8 && len(n) <= 16 {
			yield(phoneReading{number: n, plan: p})
		}
	}
}

// NormalizePhoneIn returns the E.164 number that s means when typed in country (ISO 3166-1
// alpha-2), and whether it means exactly one: a number in international form ("+" or "00") is
// that number; digits without a prefix are read as country writes its own numbers, with the
// readings PhoneCandidates offers a lookup, so that what the customer types later finds the
// claim. Bare digits that country does not write ("888 123 456" in Bulgaria, where the trunk
// prefix 0 is missing) or an unknown country are refused: a guess could be another subscriber.
func NormalizePhoneIn(s, country string) (string, bool) {
	var international, national string
	ambiguous := false
	eachPhoneReading(s, func(r phoneReading) {
		switch {
		case r.explicit:
			international = r.number
		case r.plan == nil || country == "" || !slices.Contains(strings.Fields(r.plan.countries), country):
		case national != "" && national != r.number:
			ambiguous = true
		default:
			national = r.number
		}
	})
	switch {
	case international != "":
		return international, true
	case ambiguous:
		return "", false
	}
	return national, national != ""
}

// KnownPhoneCountry reports whether NormalizePhoneIn reads national numbers of country.
func KnownPhoneCountry(country string) bool {
	return slices.ContainsFunc(numberingPlans, func(p numberingPlan) bool {
		return slices.Contains(strings.Fields(p.countries), country)
	})
}

// yieldE164 yields n alone if NormalizePhone accepts it as a registered number could be.
func yieldE164(n string, explicit bool, yield func(phoneReading)) {
	if norm, ok := NormalizePhone(n); ok {
		yield(phoneReading{number: norm, explicit: explicit})
	}
}

// phoneProblem explains a registration phone number NormalizePhoneIn did not read in country.
func phoneProblem(country string) string {
	if country == "" {
		return "must be an international number: '+', the country code and the number, 7 to 15 digits"
	}
	return "must be an international number ('+', the country code and the number) or a national number as written in " + country +
		", with its trunk prefix where the country has one"
}
