package domain

import "strings"

// NormalizeEmail returns an e-mail address as claims store it: trimmed,
// with the domain in lower case. Domains are case-insensitive (RFC 5321
// 2.4), so "Ivan@Example.COM" and "Ivan@example.com" are one customer; the
// local part may be case-sensitive on the receiving server, so it is kept
// as typed. Validation (see validation.email) comes first: a value without
// '@' is returned trimmed only.
func NormalizeEmail(s string) string {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	return s[:at+1] + strings.ToLower(s[at+1:])
}
