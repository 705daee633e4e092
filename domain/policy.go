package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrInvalidPolicy is wrapped by Policy.Validate. Decide refuses to decide under an invalid
// policy: it is a configuration fault, to be caught at start-up, not a client error.
var ErrInvalidPolicy = errors.New("invalid policy")

// Policy is the deployment configuration that decisions depend on. It is an argument of Decide
// rather than global state, so that a decision is reproducible: the ledger records Version in
// the metadata of the events a decision produced, and the events themselves keep the figures
// they were checked against (e.g. RefundApproved.CapBasisPoints, ClaimRegistered.Eligibility).
//
// A Policy with only Version and RefundCapBasisPoints is complete: without Warranty, eligibility
// is not assessed; without SLA targets, no clock is kept; the zero Calendar is open around the
// clock in UTC.
type Policy struct {
	// Version names this policy in event metadata; it must change whenever a value does.
	Version string
	// RefundCapBasisPoints caps refunds plus credit notes as a share of the purchase price,
	// in hundredths of a percent (7000 = 70%: only the hardware share of the price is refunded,
	// not the services and sales costs).
	RefundCapBasisPoints int64
	// EffectiveFrom is the first day this version is in force, in its calendar's time zone
	// (see PolicyBook). Zero: in force since ever.
	EffectiveFrom Date
	// Calendar is when SLA clocks run: working hours, holidays, time zone.
	Calendar Calendar
	// Warranty holds the warranty terms eligibility is decided by; nil: not assessed.
	Warranty *Warranty
	// SLA holds the service-level targets; a zero target keeps no clock.
	SLA SLATargets
	// DocumentsBeforeShipment: the documents requested at authorization are checked before the
	// goods may come in, so a customer shipment or an intake straight from authorized is refused
	// while any is outstanding. False: the goods may come with the documents.
	DocumentsBeforeShipment bool
	// DefaultCountry (ISO 3166-1 alpha-2) is the country whose national form a phone number
	// given at registration without its country code is read in ("0888 123 456" in BG), exactly
	// as the status lookup reads it (NormalizePhoneIn). Empty: registration takes international
	// numbers only.
	DefaultCountry string
	// MaxReportedAge bounds how long before its registration a request may have arrived
	// (RegisterClaim.ReportedAt, for a request taken by phone or e-mail and entered later).
	// Zero means DefaultMaxReportedAge.
	MaxReportedAge time.Duration

	// book is the set of versions this one belongs to, so that a decision can find the terms
	// that were in force on another day (the sale date). Set by NewPolicyBook.
	book *PolicyBook
}

// DefaultMaxReportedAge is Policy.MaxReportedAge when the policy sets none: two weeks, room
// for a request e-mailed before a long holiday and entered after it.
const DefaultMaxReportedAge = 14 * 24 * time.Hour

// maxReportedAgeLimit is the longest MaxReportedAge a policy may set: a year.
const maxReportedAgeLimit = 366 * 24 * time.Hour

// maxReportedAge is the policy's bound on ReportedAt, DefaultMaxReportedAge when unset.
func (p Policy) maxReportedAge() time.Duration {
	if p.MaxReportedAge == 0 {
		return DefaultMaxReportedAge
	}
	return p.MaxReportedAge
}

// DefaultPolicy is the policy of the seeds in its minimal form: refunds capped at 70% of the
// price, no warranty terms and no clocks. The full default, with the seeds' warranty terms,
// calendar and SLA targets, is the policy package's embedded file; this one keeps callers that
// configure nothing working as before.
func DefaultPolicy() Policy {
	return Policy{Version: "default-1", RefundCapBasisPoints: 7000}
}

// Validate reports a policy that cannot be used.
func (p Policy) Validate() error {
	switch {
	case p.Version == "":
		return fmt.Errorf("%w: version is empty", ErrInvalidPolicy)
	case p.RefundCapBasisPoints < 0 || p.RefundCapBasisPoints > 10000:
		return fmt.Errorf("%w: refund cap %d basis points is outside 0..10000", ErrInvalidPolicy, p.RefundCapBasisPoints)
	case !p.EffectiveFrom.IsZero() && !p.EffectiveFrom.valid():
		return fmt.Errorf("%w: effective_from is not a real calendar day", ErrInvalidPolicy)
	case p.DefaultCountry != "" && !KnownPhoneCountry(p.DefaultCountry):
		return fmt.Errorf("%w: default_country %q is not a country whose national phone numbers are known", ErrInvalidPolicy, p.DefaultCountry)
	case p.MaxReportedAge < 0 || p.MaxReportedAge > maxReportedAgeLimit:
		return fmt.Errorf("%w: max_reported_age %s is outside 0..%s", ErrInvalidPolicy, p.MaxReportedAge, maxReportedAgeLimit)
	}
	if err := p.Calendar.Validate(); err != nil {
		return fmt.Errorf("policy %s: %w", p.Version, err)
	}
	if err := p.Warranty.Validate(); err != nil {
		return fmt.Errorf("policy %s: %w", p.Version, err)
	}
	if err := p.SLA.Validate(); err != nil {
		return fmt.Errorf("policy %s: %w", p.Version, err)
	}
	return nil
}

// DayOf returns the calendar day of instant t in the policy's time zone: the "claim date" of a
// claim registered at t.
func (p Policy) DayOf(t time.Time) Date { return DateOf(t.In(p.Calendar.Loc())) }

// termsOn returns the version whose warranty terms apply to goods sold on day d: the one in
// force that day when p belongs to a book, else p itself.
func (p Policy) termsOn(d Date) Policy {
	if p.book == nil {
		return p
	}
	return p.book.At(d)
}

// refundCap is the policy's share of price, rounded down: "at most 70%" must never be exceeded
// by rounding. Computed in two parts so that no intermediate product can overflow.
func (p Policy) refundCap(price Money) Money {
	a, bp := price.Amount, p.RefundCapBasisPoints
	return Money{Amount: a/10000*bp + a%10000*bp/10000, Currency: price.Currency}
}

// capPercent formats basis points as a percentage for messages ("70%", "72.5%").
func capPercent(bp int64) string {
	if bp%100 == 0 {
		return fmt.Sprintf("%d%%", bp/100)
	}
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	if s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s + "%"
}

// PolicyBook is every version of a deployment's policy, each in force from its EffectiveFrom
// day. Decisions use the version in force at the date that matters, never whatever is newest:
// a claim is governed by the version in force when it was registered, and its warranty by the
// version in force when the item was sold.
type PolicyBook struct {
	versions []Policy // by EffectiveFrom, oldest first
}

// NewPolicyBook validates the versions and orders them by EffectiveFrom. Version names and
// effective days must be unique; only the oldest version may have no effective day.
func NewPolicyBook(versions ...Policy) (*PolicyBook, error) {
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: no policy version", ErrInvalidPolicy)
	}
	b := &PolicyBook{versions: slices.Clone(versions)}
	slices.SortStableFunc(b.versions, func(x, y Policy) int { return x.EffectiveFrom.Compare(y.EffectiveFrom) })
	names := map[string]bool{}
	for i := range b.versions {
		v := &b.versions[i]
		if err := v.Validate(); err != nil {
			return nil, err
		}
		if names[v.Version] {
			return nil, fmt.Errorf("%w: version %q appears twice", ErrInvalidPolicy, v.Version)
		}
		names[v.Version] = true
		if i > 0 {
			prev := b.versions[i-1]
			switch {
			case v.EffectiveFrom.IsZero():
				return nil, fmt.Errorf("%w: version %q has no effective_from; only the oldest version may omit it", ErrInvalidPolicy, v.Version)
			case v.EffectiveFrom == prev.EffectiveFrom:
				return nil, fmt.Errorf("%w: versions %q and %q both take effect on %s", ErrInvalidPolicy, prev.Version, v.Version, v.EffectiveFrom)
			}
		}
		v.book = b
	}
	return b, nil
}

// Versions returns the versions, oldest first.
func (b *PolicyBook) Versions() []Policy { return slices.Clone(b.versions) }

// Latest returns the version that takes effect last.
func (b *PolicyBook) Latest() Policy { return b.versions[len(b.versions)-1] }

// At returns the version in force on day d. For a day before the oldest version took effect it
// returns the oldest: goods sold before any recorded policy are judged by the oldest terms
// known, which is the configuration's explicit choice (give the oldest version no
// effective_from to say "since ever").
func (b *PolicyBook) At(d Date) Policy {
	for i := len(b.versions) - 1; i > 0; i-- {
		if !d.Before(b.versions[i].EffectiveFrom) {
			return b.versions[i]
		}
	}
	return b.versions[0]
}

// InForce returns the version in force at instant t, each version's effective day read in its
// own time zone.
func (b *PolicyBook) InForce(t time.Time) Policy {
	for i := len(b.versions) - 1; i > 0; i-- {
		if v := b.versions[i]; !v.DayOf(t).Before(v.EffectiveFrom) {
			return v
		}
	}
	return b.versions[0]
}

// Started reports whether some version is in force at t (and not only the oldest by default).
func (b *PolicyBook) Started(t time.Time) bool {
	first := b.versions[0]
	return first.EffectiveFrom.IsZero() || !first.DayOf(t).Before(first.EffectiveFrom)
}

// Version returns the version named name.
func (b *PolicyBook) Version(name string) (Policy, bool) {
	i := slices.IndexFunc(b.versions, func(p Policy) bool { return p.Version == name })
	if i < 0 {
		return Policy{}, false
	}
	return b.versions[i], true
}

// Governing returns the version that governs a claim: the one recorded when it was registered
// (version, from the registration's metadata) when the book still has it, else the one in force
// at the registration. For a claim not yet registered (version empty, registered zero) it is the
// one in force at now.
func (b *PolicyBook) Governing(version string, registered, now time.Time) Policy {
	if p, ok := b.Version(version); ok && version != "" {
		return p
	}
	if registered.IsZero() {
		return b.InForce(now)
	}
	return b.InForce(registered)
}

// Fingerprint identifies the book's content: it changes when any value of any version does. A
// read model derived from the policy (the SLA timers) records it, and rebuilds itself when it
// changed, so that rebuilt and live always agree.
func (b *PolicyBook) Fingerprint() string {
	data, err := json.Marshal(b.versions)
	if err != nil {
		return "unencodable:" + err.Error()
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
