package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits, counted in characters (runes), not bytes: a Bulgarian or Chinese customer
// gets the same room as an English one.
const (
	maxLine    = 200  // names, references, serial numbers, carriers, tracking numbers
	maxAddress = 1000 // postal addresses, photo references (URLs)
	maxText    = 4000 // defect descriptions, notes, findings, reasons
	maxCode    = 64   // reason codes, categories
	maxEmail   = 254  // RFC 5321 path limit
	maxItems   = 50   // entries in a list (documents, accessories, photos, parts)
)

// validation collects field problems so that Validate reports all of them at once.
type validation struct {
	problems ValidationErrors
}

// fail records a problem with a field.
func (v *validation) fail(field, problem string) {
	v.problems = append(v.problems, FieldError{Field: field, Problem: problem})
}

// result is nil when nothing failed. It returns a nil error, never a nil ValidationErrors,
// which would be a non-nil error interface.
func (v *validation) result() error {
	if len(v.problems) == 0 {
		return nil
	}
	return v.problems
}

// required fails a field that is empty or only whitespace.
func (v *validation) required(field, value string) {
	if strings.TrimSpace(value) == "" {
		v.fail(field, "is required")
	}
}

// line checks optional single-line text: valid UTF-8, no control characters (a newline in a
// serial number or a name breaks CSV exports and search), no bidirectional controls (see
// isBidiControl), at most max characters.
func (v *validation) line(field, value string, max int) {
	v.text(field, value, max, false)
}

// text checks optional text. Multi-line text may contain newlines and tabs but no other
// control characters.
func (v *validation) text(field, value string, max int, multiline bool) {
	switch {
	case value == "":
	case !utf8.ValidString(value):
		v.fail(field, "must be valid UTF-8")
	case utf8.RuneCountInString(value) > max:
		v.fail(field, fmt.Sprintf("must be at most %d characters", max))
	case strings.ContainsFunc(value, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t'))
	}):
		v.fail(field, "must not contain control characters")
	case !multiline && strings.ContainsFunc(value, isBidiControl):
		v.fail(field, "must not contain bidirectional control characters (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, U+061C)")
	}
}

// isBidiControl reports whether r is one of Unicode's bidirectional formatting characters:
// embeddings and overrides (U+202A to U+202E), isolates (U+2066 to U+2069) and the marks LRM,
// RLM and ALM. They are invisible and reorder the text around them, so a name, a serial
// number or a reference holding one shows as something other than what is stored, in the
// page, the export and the search alike. Multi-line text (notes, findings) may keep them:
// prose that mixes directions sometimes needs a mark.
func isBidiControl(r rune) bool {
	return r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069' ||
		r == '\u200e' || r == '\u200f' || r == '\u061c'
}

// long checks optional multi-line text of up to maxText characters.
func (v *validation) long(field, value string) { v.text(field, value, maxText, true) }

// code checks an optional machine code such as "unpaid_debt" or "liquid_damage": lower-case
// ASCII letters, digits, '_', '-' and '.'. Codes are what policies, translations and reports
// match on, so "Liquid damage " and "liquid_damage" must not both exist.
func (v *validation) code(field, value string) {
	if value == "" {
		return
	}
	if len(value) > maxCode || !isCode(value) {
		v.fail(field, fmt.Sprintf("must be a code of at most %d characters: lower-case letters, digits, '_', '-' or '.', starting with a letter or digit", maxCode))
	}
}

// isCode reports whether s is a well-formed machine code (see validation.code).
func isCode(s string) bool {
	for i, r := range s {
		lowerOrDigit := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
		if !lowerOrDigit && (i == 0 || (r != '_' && r != '-' && r != '.')) {
			return false
		}
	}
	return s != ""
}

// oneOf checks that an optional value is one of the allowed ones.
func (v *validation) oneOf(field, value string, allowed ...string) {
	if value == "" {
		return
	}
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.fail(field, "must be one of: "+strings.Join(allowed, ", "))
}

// lines checks an optional list of single-line entries; each problem names its index.
func (v *validation) lines(field string, values []string, max int) {
	if len(values) > maxItems {
		v.fail(field, fmt.Sprintf("must have at most %d entries", maxItems))
		return
	}
	for i, value := range values {
		entry := fmt.Sprintf("%s[%d]", field, i)
		v.required(entry, value)
		v.line(entry, value, max)
	}
}

// positive checks a required amount greater than zero in a known currency. The claim's
// currency is a rule checked by Decide, which knows the claim.
func (v *validation) positive(field string, m Money) {
	switch _, known := exponents[m.Currency]; {
	case m.IsZero():
		v.fail(field, "is required")
	case !known:
		v.fail(field+".currency", "must be an ISO 4217 currency code")
	case m.Amount <= 0:
		v.fail(field, "must be greater than zero")
	}
}

// optionalAmount checks an amount that may be absent (meaning zero) and is never negative.
func (v *validation) optionalAmount(field string, m Money) {
	if m.IsZero() {
		return
	}
	if _, known := exponents[m.Currency]; !known {
		v.fail(field+".currency", "must be an ISO 4217 currency code")
	} else if m.Amount < 0 {
		v.fail(field, "must not be negative")
	}
}

// date checks a required day that YYYY-MM-DD can carry.
func (v *validation) date(field string, d Date) {
	switch {
	case d.IsZero():
		v.fail(field, "is required")
	case !d.valid():
		v.fail(field, "must be a real calendar day")
	}
}

// phone checks a required phone number's form: international, or as some country writes its
// own numbers (see PhoneCandidates). Which country a national number is read in is the policy's
// (Policy.DefaultCountry), so Decide reads it (NormalizePhoneIn).
func (v *validation) phone(field, value string) {
	if value == "" {
		v.fail(field, "is required")
	} else if len(PhoneCandidates(value)) == 0 {
		v.fail(field, "must be a phone number: '+', the country code and the number, 7 to 15 digits, or a national number as the policy's default country writes it")
	}
}

// email checks an optional e-mail address (see looksLikeEmail).
func (v *validation) email(field, value string) {
	if value != "" && !looksLikeEmail(strings.TrimSpace(value)) {
		v.fail(field, "must be an e-mail address such as name@example.com")
	}
}

// imei checks an optional IMEI (see NormalizeIMEI).
func (v *validation) imei(field, value string) {
	if value != "" {
		if _, ok := NormalizeIMEI(value); !ok {
			v.fail(field, "must be 15 digits with a valid check digit")
		}
	}
}

// country checks an optional ISO 3166-1 alpha-2 country code.
func (v *validation) country(field, value string) {
	if value == "" {
		return
	}
	if len(value) != 2 || value[0] < 'A' || value[0] > 'Z' || value[1] < 'A' || value[1] > 'Z' {
		v.fail(field, "must be an ISO 3166-1 alpha-2 country code such as BG")
	}
}

// NormalizePhone returns a phone number in E.164 form ("+359881234567") and whether s is one.
// Spaces, dashes, dots and parentheses are dropped; what remains must be '+' and 7 to 15 digits
// not starting with 0. Claims store the normalised form and the status page normalises what
// the customer types the same way, so "+359 88 123-4567" matches "+359 (88) 1234567".
func NormalizePhone(s string) (string, bool) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	n := b.String()
	if len(n) < 8 || len(n) > 16 || n[0] != '+' || n[1] == '0' {
		return "", false
	}
	return n, true
}

// NormalizeIMEI returns an IMEI as its 15 digits and whether s is one. Spaces and dashes are
// dropped; the Luhn check digit must match, which catches most mistyped IMEIs at the desk
// instead of at the manufacturer.
func NormalizeIMEI(s string) (string, bool) {
	var digits []byte
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == ' ' || r == '-':
		default:
			return "", false
		}
	}
	if len(digits) != 15 {
		return "", false
	}
	sum := 0
	for i, c := range digits {
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if sum%10 != 0 {
		return "", false
	}
	return string(digits), true
}

// looksLikeEmail is a deliberately modest check (one '@', a plausible local part, a dotted
// domain, no spaces, control or bidirectional characters): strict RFC 5322 parsing would
// reject nothing useful at a service desk, and net/mail is off limits for this package.
func looksLikeEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	invisible := func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || isBidiControl(r) }
	if at < 1 || at > 64 || len(s) > maxEmail || strings.ContainsFunc(s, invisible) {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if strings.Contains(local, "@") || !strings.Contains(domain, ".") {
		return false
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
	}
	return true
}
