package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Coverage kinds: what makes a claim covered.
const (
	// CoverageManufacturer is the manufacturer's warranty, counted from the sale date.
	CoverageManufacturer = "manufacturer"
	// CoverageSeller is the seller's own (commercial) warranty, counted from the sale date.
	CoverageSeller = "seller"
	// CoverageExtended is a purchased extended warranty: coverage for a number of months from
	// the sale date, up to the policy's total (ExtendedMaxMonths, e.g. five years).
	CoverageExtended = "extended"
	// CoveragePostWarranty is a post-warranty certificate: coverage for a number of months from
	// the day after the manufacturer's warranty ends (PostWarrantyMonths when the certificate
	// states none, e.g. 12).
	CoveragePostWarranty = "post_warranty"
	// CoverageRepair is the warranty on a paid repair, counted from its delivery
	// (RepairWarrantyDays, e.g. 180).
	CoverageRepair = "repair"
)

// coverageKinds lists the kinds in the order eligibility prefers them when several cover a
// claim: whoever owes the remedy first.
var coverageKinds = []string{CoverageManufacturer, CoverageSeller, CoverageExtended, CoveragePostWarranty, CoverageRepair}

// CoverageKinds returns every coverage kind, in order of preference. The slice is a copy.
func CoverageKinds() []string { return slices.Clone(coverageKinds) }

// Reason codes of an eligibility that is not covered.
const (
	// NotCoveredExpired: every coverage of the item ended before the claim date.
	NotCoveredExpired = "warranty_expired"
	// NotCoveredExcludedComponent: a coverage runs, but excludes the claimed component (e.g. a
	// post-warranty certificate does not cover batteries, displays or chargers).
	NotCoveredExcludedComponent = "excluded_component"
	// NotCoveredCategory: the policy gives the product's category no warranty at all.
	NotCoveredCategory = "category_not_covered"
)

// Product conditions a component period may be limited to (a seller of refurbished goods gives
// their components shorter periods than new ones).
const (
	ConditionNew         = "new"
	ConditionUsed        = "used"
	ConditionRefurbished = "refurbished"
)

// Warranty is a policy's warranty terms: periods per category and component, exclusions, void
// reasons, and the extended, post-warranty and repair coverages.
type Warranty struct {
	// Categories gives each product category its warranty periods. The entry "default", when
	// present, applies to categories not listed.
	Categories map[string]CategoryTerms
	// Components shortens the warranty of particular components, typically those with
	// mechanical parts (e.g. a laptop HDD 3 months, fans 3, other mechanical parts 1). The
	// first matching entry applies.
	Components []ComponentTerms
	// Exclusions are components a coverage does not cover at all.
	Exclusions []Exclusion
	// VoidReasons are the codes a diagnosis may give for a void warranty (broken seals, liquid,
	// shock...). Empty: any well-formed code.
	VoidReasons []string
	// ExtendedMaxMonths caps extended and post-warranty coverage, counted from the sale date
	// (e.g. five years in total). Zero: no cap.
	ExtendedMaxMonths int
	// PostWarrantyMonths is a post-warranty certificate's term when the certificate states none
	// (e.g. 12 months).
	PostWarrantyMonths int
	// RepairWarrantyDays is the warranty on a paid repair, from its delivery (e.g. 180).
	RepairWarrantyDays int
	// RepairTimeExtends adds the days an item spent in warranty repair to its manufacturer's and
	// seller's warranty.
	RepairTimeExtends bool
}

// CategoryTerms are a product category's warranty periods, in months from the sale date; zero
// means the category has no such warranty.
type CategoryTerms struct {
	ManufacturerMonths int
	SellerMonths       int
}

// ComponentTerms is a shorter warranty period for a component (Months plus Days), limited to
// some categories and product conditions when those lists are not empty.
type ComponentTerms struct {
	Component  string
	Categories []string
	Conditions []string
	Months     int
	Days       int
}

// Exclusion is a component that some coverage kinds (all of them when Coverages is empty) do
// not cover.
type Exclusion struct {
	Component string
	Coverages []string
}

// CoveragePurchase is coverage bought on top of the warranty: an extended warranty or a
// post-warranty certificate. Months is the term the document states; a post-warranty
// certificate without one gets the policy's term.
type CoveragePurchase struct {
	Kind        string `json:"kind"`
	Reference   string `json:"reference"`
	PurchasedOn Date   `json:"purchased_on"`
	Months      int    `json:"months,omitempty"`
}

// PriorRepair is an earlier repair of the same unit: its days in repair may extend the warranty,
// and a paid one carries a repair warranty from its delivery.
type PriorRepair struct {
	Reference   string `json:"reference"`
	ReceivedOn  Date   `json:"received_on"`
	DeliveredOn Date   `json:"delivered_on"`
	Paid        bool   `json:"paid"`
}

// EligibilityInput is everything eligibility depends on besides the policy.
type EligibilityInput struct {
	Product      Product
	PurchaseDate Date
	// ClaimDate is the day the claim was made, in the policy's time zone.
	ClaimDate    Date
	Coverages    []CoveragePurchase
	PriorRepairs []PriorRepair
}

// Eligibility is whether a claim is covered, by which coverage and until when, or why not. It is
// decided once and recorded on the event (registration, or authorization when new coverage was
// shown), so that a later policy change never changes it.
type Eligibility struct {
	Covered bool `json:"covered"`
	// Coverage is the kind that covers the claim; Reference its document (a certificate, the
	// earlier claim of a paid repair).
	Coverage  string `json:"coverage,omitempty"`
	Reference string `json:"reference,omitempty"`
	// Until is the last day covered: of the covering coverage, or, when not covered, of the
	// coverage that ended last.
	Until Date `json:"until,omitzero"`
	// ReasonCode says why the claim is not covered (NotCovered*); Reason explains it.
	ReasonCode string `json:"reason_code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// ExtendedByDays is the time in repair added to the warranty.
	ExtendedByDays int `json:"extended_by_days,omitempty"`
	// AsOf is the claim date it was decided for; PolicyVersion the version whose terms decided
	// it: the one in force on the sale date.
	AsOf          Date   `json:"as_of"`
	PolicyVersion string `json:"policy_version"`
}

// window is one coverage's span of days for an item.
type window struct {
	kind, ref   string
	from, until Date
	excluded    bool
}

// AssessEligibility decides whether a claim is covered under policy p. The warranty terms are
// those of the policy version in force on the sale date (p's book decides which): a warranty is
// promised when the item is sold, so a later, shorter policy must not shorten it, nor a later,
// longer one lengthen it. The claim date is the other date that matters: coverage is judged on
// it, never on the day of the decision.
//
// It returns nil when those terms have no warranty section: eligibility is then not assessed,
// and nothing depends on it. A period of N months from day D covers D up to the day before the
// same day N months later (clamped to the month's end).
func AssessEligibility(p Policy, in EligibilityInput) *Eligibility {
	terms := p.termsOn(in.PurchaseDate)
	w := terms.Warranty
	if w == nil {
		return nil
	}
	claimDay := in.ClaimDate
	if claimDay.Before(in.PurchaseDate) {
		claimDay = in.PurchaseDate // a claim on the day of sale, seen from another time zone
	}
	e := &Eligibility{AsOf: in.ClaimDate, PolicyVersion: terms.Version}
	windows := w.windows(in, e)
	if len(windows) == 0 {
		e.ReasonCode = NotCoveredCategory
		e.Reason = fmt.Sprintf("the policy gives category %q no warranty", in.Product.Category)
		return e
	}
	var excludedCover *window
	var latest *window
	for i := range windows {
		win := &windows[i]
		covers := !claimDay.Before(win.from) && !claimDay.After(win.until)
		switch {
		case covers && !win.excluded:
			e.Covered, e.Coverage, e.Reference, e.Until = true, win.kind, win.ref, win.until
			return e
		case covers && excludedCover == nil:
			excludedCover = win
		}
		if !win.excluded && (latest == nil || win.until.After(latest.until)) {
			latest = win
		}
	}
	if excludedCover != nil {
		e.ReasonCode, e.Until = NotCoveredExcludedComponent, excludedCover.until
		e.Reason = fmt.Sprintf("the %s coverage runs until %s but does not cover the component %q", excludedCover.kind, excludedCover.until, in.Product.Component)
		return e
	}
	e.ReasonCode = NotCoveredExpired
	if latest != nil {
		e.Until = latest.until
		e.Reason = fmt.Sprintf("the last coverage (%s) ended on %s; the claim is of %s", latest.kind, latest.until, in.ClaimDate)
	} else {
		e.Reason = fmt.Sprintf("no coverage covers the component %q", in.Product.Component)
	}
	return e
}

// windows lists the item's coverages in order of preference, marking those that exclude its
// component, and records on e the days that time in repair added.
func (w *Warranty) windows(in EligibilityInput, e *Eligibility) []window {
	var out []window
	add := func(kind, ref string, from, until Date) {
		if until.Before(from) {
			return
		}
		out = append(out, window{kind: kind, ref: ref, from: from, until: until, excluded: w.excludes(in.Product.Component, kind)})
	}
	sale := in.PurchaseDate
	cat, ok := w.Categories[in.Product.Category]
	if !ok {
		cat = w.Categories["default"]
	}
	component, hasComponent := w.componentTerms(in.Product)
	baseEnd := func(months int) (Date, bool) {
		if months <= 0 {
			return Date{}, false
		}
		end := sale.AddMonths(months).AddDays(-1)
		if hasComponent {
			if c := sale.AddMonths(component.Months).AddDays(component.Days - 1); c.Before(end) {
				end = c
			}
		}
		return end, true
	}
	manufacturerEnd, hasManufacturer := baseEnd(cat.ManufacturerMonths)
	sellerEnd, hasSeller := baseEnd(cat.SellerMonths)
	if w.RepairTimeExtends {
		last := manufacturerEnd
		if sellerEnd.After(last) {
			last = sellerEnd
		}
		for _, r := range in.PriorRepairs {
			if !r.Paid && !r.ReceivedOn.Before(sale) && !r.ReceivedOn.After(last) && r.DeliveredOn.After(r.ReceivedOn) {
				e.ExtendedByDays += daysBetween(r.ReceivedOn, r.DeliveredOn)
			}
		}
		manufacturerEnd, sellerEnd = manufacturerEnd.AddDays(e.ExtendedByDays), sellerEnd.AddDays(e.ExtendedByDays)
	}
	if hasManufacturer {
		add(CoverageManufacturer, "", sale, manufacturerEnd)
	}
	if hasSeller {
		add(CoverageSeller, "", sale, sellerEnd)
	}
	capped := func(until Date) Date {
		if w.ExtendedMaxMonths > 0 {
			if limit := sale.AddMonths(w.ExtendedMaxMonths).AddDays(-1); limit.Before(until) {
				return limit
			}
		}
		return until
	}
	for _, c := range in.Coverages {
		if c.Kind == CoverageExtended && c.Months > 0 {
			add(CoverageExtended, c.Reference, sale, capped(sale.AddMonths(c.Months).AddDays(-1)))
		}
	}
	for _, c := range in.Coverages {
		if c.Kind != CoveragePostWarranty {
			continue
		}
		months := c.Months
		if months == 0 {
			months = w.PostWarrantyMonths
		}
		// The certificate runs from the day after the manufacturer's warranty ends;
		// without one, after the seller's; without either, from the sale.
		start := sale
		switch {
		case hasManufacturer:
			start = manufacturerEnd.AddDays(1)
		case hasSeller:
			start = sellerEnd.AddDays(1)
		}
		if months > 0 {
			add(CoveragePostWarranty, c.Reference, start, capped(start.AddMonths(months).AddDays(-1)))
		}
	}
	if w.RepairWarrantyDays > 0 {
		for _, r := range in.PriorRepairs {
			if r.Paid {
				add(CoverageRepair, r.Reference, r.DeliveredOn, r.DeliveredOn.AddDays(w.RepairWarrantyDays-1))
			}
		}
	}
	return out
}

// componentTerms finds the first component period that applies to the product.
func (w *Warranty) componentTerms(p Product) (ComponentTerms, bool) {
	if p.Component == "" {
		return ComponentTerms{}, false
	}
	for _, c := range w.Components {
		if c.Component == p.Component &&
			(len(c.Categories) == 0 || slices.Contains(c.Categories, p.Category)) &&
			(len(c.Conditions) == 0 || slices.Contains(c.Conditions, p.Condition)) {
			return c, true
		}
	}
	return ComponentTerms{}, false
}

// excludes reports whether coverage kind does not cover component.
func (w *Warranty) excludes(component, kind string) bool {
	if component == "" {
		return false
	}
	return slices.ContainsFunc(w.Exclusions, func(x Exclusion) bool {
		return x.Component == component && (len(x.Coverages) == 0 || slices.Contains(x.Coverages, kind))
	})
}

// validVoidReason reports whether code may void a warranty under these terms.
func (w *Warranty) validVoidReason(code string) bool {
	return w == nil || len(w.VoidReasons) == 0 || slices.Contains(w.VoidReasons, code)
}

// Validate reports warranty terms that cannot be used.
func (w *Warranty) Validate() error {
	if w == nil {
		return nil
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	const maxMonths = 600 // fifty years: anything longer is a typo
	for name, c := range w.Categories {
		if !isCode(name) {
			fail("warranty.categories: %q is not a category code", name)
		}
		if c.ManufacturerMonths < 0 || c.ManufacturerMonths > maxMonths || c.SellerMonths < 0 || c.SellerMonths > maxMonths {
			fail("warranty.categories.%s: months must be 0 to %d", name, maxMonths)
		}
	}
	for i, c := range w.Components {
		switch {
		case !isCode(c.Component):
			fail("warranty.components[%d].component: %q is not a component code", i, c.Component)
		case c.Months < 0 || c.Days < 0 || c.Months > maxMonths || c.Days > 3660 || c.Months+c.Days == 0:
			fail("warranty.components[%d]: the period must be positive (months 0 to %d, days 0 to 3660)", i, maxMonths)
		}
		for _, cond := range c.Conditions {
			if !slices.Contains([]string{ConditionNew, ConditionUsed, ConditionRefurbished}, cond) {
				fail("warranty.components[%d].conditions: %q is not new, used or refurbished", i, cond)
			}
		}
	}
	for i, x := range w.Exclusions {
		if !isCode(x.Component) {
			fail("warranty.exclusions[%d].component: %q is not a component code", i, x.Component)
		}
		for _, k := range x.Coverages {
			if !slices.Contains(coverageKinds, k) {
				fail("warranty.exclusions[%d].coverages: %q is not a coverage kind", i, k)
			}
		}
	}
	for i, r := range w.VoidReasons {
		if !isCode(r) {
			fail("warranty.void_reasons[%d]: %q is not a reason code", i, r)
		}
	}
	if w.ExtendedMaxMonths < 0 || w.ExtendedMaxMonths > maxMonths || w.PostWarrantyMonths < 0 || w.PostWarrantyMonths > maxMonths {
		fail("warranty: extended_max_months and post_warranty_months must be 0 to %d", maxMonths)
	}
	if w.RepairWarrantyDays < 0 || w.RepairWarrantyDays > 3660 {
		fail("warranty.repair_warranty_days: must be 0 to 3660")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(errs...))
	}
	return nil
}

// validateCoverages checks coverage purchases and prior repairs given with a command.
func validateCoverages(v *validation, coverages []CoveragePurchase, repairs []PriorRepair) {
	if len(coverages) > 10 {
		v.fail("coverages", "must have at most 10 entries")
	}
	for i, c := range coverages {
		f := fmt.Sprintf("coverages[%d]", i)
		v.required(f+".kind", c.Kind)
		v.oneOf(f+".kind", c.Kind, CoverageExtended, CoveragePostWarranty)
		v.required(f+".reference", c.Reference)
		v.line(f+".reference", c.Reference, maxLine)
		v.date(f+".purchased_on", c.PurchasedOn)
		switch {
		case c.Months < 0 || c.Months > 120:
			v.fail(f+".months", "must be 1 to 120")
		case c.Kind == CoverageExtended && c.Months == 0:
			v.fail(f+".months", "is required for an extended warranty")
		}
	}
	if len(repairs) > 20 {
		v.fail("prior_repairs", "must have at most 20 entries")
	}
	for i, r := range repairs {
		f := fmt.Sprintf("prior_repairs[%d]", i)
		v.required(f+".reference", r.Reference)
		v.line(f+".reference", r.Reference, maxLine)
		v.date(f+".received_on", r.ReceivedOn)
		v.date(f+".delivered_on", r.DeliveredOn)
		if !r.ReceivedOn.IsZero() && !r.DeliveredOn.IsZero() && r.DeliveredOn.Before(r.ReceivedOn) {
			v.fail(f+".delivered_on", "must not be before received_on")
		}
	}
}

// cleanCoverages returns trimmed copies, or nil for none.
func cleanCoverages(list []CoveragePurchase) []CoveragePurchase {
	if len(list) == 0 {
		return nil
	}
	out := make([]CoveragePurchase, len(list))
	for i, c := range list {
		c.Reference = strings.TrimSpace(c.Reference)
		out[i] = c
	}
	return out
}

// cleanRepairs returns trimmed copies, or nil for none.
func cleanRepairs(list []PriorRepair) []PriorRepair {
	if len(list) == 0 {
		return nil
	}
	out := make([]PriorRepair, len(list))
	for i, r := range list {
		r.Reference = strings.TrimSpace(r.Reference)
		out[i] = r
	}
	return out
}

// ErrNotCovered is returned when a claim that the recorded eligibility says is not covered is
// authorized as free service: it may proceed only as a paid repair (paid_repair), or be rejected.
var ErrNotCovered = errors.New("claim not covered")

func init() {
	// Rule errors of this file and sla.go (HTTP 422), appended the way finance.go appends its own.
	ruleErrors = append(ruleErrors, ErrNotCovered, ErrNotYetDue)
}

// withEligibility decides the registration's eligibility under p, as of the claim date.
func (e ClaimRegistered) withEligibility(p Policy) ClaimRegistered {
	e.Eligibility = AssessEligibility(p, EligibilityInput{
		Product: e.Product, PurchaseDate: e.PurchaseDate, ClaimDate: p.DayOf(e.RequestedAt()),
		Coverages: e.Coverages, PriorRepairs: repairEvidence(p, e.PriorRepairs, e.RepairsOnRecord),
	})
	return e
}

// authorizeEligibility returns the eligibility to record on an authorization: decided again,
// still as of the claim date, when the authorization brings new coverage evidence; nil (keep the
// registration's) otherwise. It refuses free service to a claim that is not covered.
func authorizeEligibility(s State, e ClaimAuthorized, p Policy) (*Eligibility, error) {
	current, fresh := s.Eligibility, (*Eligibility)(nil)
	if len(e.Coverages)+len(e.PriorRepairs) > 0 {
		fresh = AssessEligibility(p, EligibilityInput{
			Product: s.Product, PurchaseDate: s.PurchaseDate, ClaimDate: p.DayOf(s.RequestedAt()),
			Coverages:    append(slices.Clone(s.Coverages), e.Coverages...),
			PriorRepairs: repairEvidence(p, append(slices.Clone(s.PriorRepairs), e.PriorRepairs...), s.RepairsOnRecord),
		})
		if fresh != nil {
			current = fresh
		}
	}
	if current != nil && !current.Covered && !e.PaidRepair {
		return nil, fmt.Errorf("%w: %s (%s); authorize it as a paid repair (paid_repair: true) or reject it", ErrNotCovered, current.ReasonCode, current.Reason)
	}
	return fresh, nil
}

// evidenceNotAfterToday rejects coverage and repair dates later than the day of the decision
// in the policy's time zone.
func evidenceNotAfterToday(coverages []CoveragePurchase, repairs []PriorRepair, at time.Time, p Policy) error {
	today := p.today(at)
	var v validation
	for i, c := range coverages {
		if c.PurchasedOn.After(today) {
			v.fail(fmt.Sprintf("coverages[%d].purchased_on", i), fmt.Sprintf("must not be after today (%s in %s)", today, p.Calendar.Loc()))
		}
	}
	for i, r := range repairs {
		if r.DeliveredOn.After(today) {
			v.fail(fmt.Sprintf("prior_repairs[%d].delivered_on", i), fmt.Sprintf("must not be after today (%s in %s)", today, p.Calendar.Loc()))
		}
	}
	return v.result()
}
