// Package policy reads the warranty and SLA policy file (YAML) into a domain.PolicyBook.
//
// The domain package may not read files or parse YAML (its purity test forbids it), so the
// configuration format lives here: a file holds versions, each with its time zone, working hours,
// holidays, refund cap, warranty terms and SLA targets (see default.yaml, the embedded default,
// which is also the reference of the format). Loading is strict: an unknown field, a value of the
// wrong type or out of range is an error naming the file, the line and the field's path, and
// every problem is reported at once, so that a deployment fails at start with a message that
// says what to fix, instead of deciding claims under a policy nobody meant.
package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zones on hosts without a zone database (scratch images)

	"gopkg.in/yaml.v3"

	"github.com/rmaledger/rmaledger/domain"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultName is how the embedded default is named in messages and logs.
const DefaultName = "(embedded default policy)"

// DefaultYAML returns the embedded default policy file, e.g. to start a deployment's own copy.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Default returns the embedded default policy, drawn from the seeds. It cannot fail at run time:
// a test loads it. The book is parsed once and shared; nothing can change it.
func Default() *domain.PolicyBook { return defaultBook() }

var defaultBook = sync.OnceValue(func() *domain.PolicyBook {
	book, err := Parse(DefaultName, defaultYAML)
	if err != nil {
		panic("policy: the embedded default does not load: " + err.Error())
	}
	return book
})

// Load reads and validates a policy file.
func Load(path string) (*domain.PolicyBook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy file: %w", err)
	}
	return Parse(filepath.Base(path), data)
}

// Problem is one thing wrong in a policy file: where (line, and the field's path such as
// "versions[0].sla.decision") and what.
type Problem struct {
	Line    int
	Path    string
	Message string
}

// String writes "line 12: versions[0].sla.decision: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is an invalid policy file, with every problem found.
type Error struct {
	File     string
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  " + p.String()
	}
	return fmt.Sprintf("policy file %s is invalid:\n%s", e.File, strings.Join(lines, "\n"))
}

// Unwrap makes errors.Is(err, domain.ErrInvalidPolicy) true.
func (e *Error) Unwrap() error { return domain.ErrInvalidPolicy }

// The document as written. Scalars with a format of their own (times of day, dates, targets,
// percentages) are read as text and parsed by the checker, which knows their paths.
type (
	fileDoc struct {
		Versions []versionDoc `yaml:"versions"`
	}
	versionDoc struct {
		Version          string       `yaml:"version"`
		EffectiveFrom    string       `yaml:"effective_from"`
		TimeZone         string       `yaml:"time_zone"`
		WorkingHours     *weekDoc     `yaml:"working_hours"`
		Holidays         []holidayDoc `yaml:"holidays"`
		RefundCapPercent string       `yaml:"refund_cap_percent"`
		Warranty         *warrantyDoc `yaml:"warranty"`
		SLA              *slaDoc      `yaml:"sla"`
		DefaultCountry   string       `yaml:"default_country"`
		MaxReportedAge   string       `yaml:"max_reported_age"`
		// DocumentsBeforeShipment is false when left out: the goods may come
		// with the documents.
		DocumentsBeforeShipment bool `yaml:"documents_before_shipment"`
	}
	weekDoc struct {
		Monday    []string `yaml:"monday"`
		Tuesday   []string `yaml:"tuesday"`
		Wednesday []string `yaml:"wednesday"`
		Thursday  []string `yaml:"thursday"`
		Friday    []string `yaml:"friday"`
		Saturday  []string `yaml:"saturday"`
		Sunday    []string `yaml:"sunday"`
	}
	warrantyDoc struct {
		Categories         map[string]categoryDoc `yaml:"categories"`
		Components         []componentDoc         `yaml:"components"`
		Exclusions         []exclusionDoc         `yaml:"exclusions"`
		VoidReasons        []string               `yaml:"void_reasons"`
		ExtendedMaxMonths  int                    `yaml:"extended_max_months"`
		PostWarrantyMonths int                    `yaml:"post_warranty_months"`
		RepairWarrantyDays int                    `yaml:"repair_warranty_days"`
		RepairTimeExtends  bool                   `yaml:"repair_time_extends"`
	}
	categoryDoc struct {
		ManufacturerMonths int `yaml:"manufacturer_months"`
		SellerMonths       int `yaml:"seller_months"`
	}
	componentDoc struct {
		Component  string   `yaml:"component"`
		Categories []string `yaml:"categories"`
		Conditions []string `yaml:"conditions"`
		Months     int      `yaml:"months"`
		Days       int      `yaml:"days"`
	}
	exclusionDoc struct {
		Component string   `yaml:"component"`
		Coverages []string `yaml:"coverages"`
	}
	slaDoc struct {
		FirstResponse    string `yaml:"first_response"`
		Decision         string `yaml:"decision"`
		ShipmentWindow   string `yaml:"shipment_window"`
		RepairTurnaround string `yaml:"repair_turnaround"`
		RepairHardLimit  string `yaml:"repair_hard_limit"`
		DueSoonPercent   int    `yaml:"due_soon_percent"`
	}
)

// holidayDoc is a day ("2026-05-01") or a range ({from: 2026-12-24, to: 2026-12-26}).
type holidayDoc struct {
	From, To string
	problem  string // a shape that is neither, reported with the path by the checker
}

// UnmarshalYAML reads either form. The mapping is read by hand because a nested Decode would
// not be strict about unknown keys.
func (h *holidayDoc) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		h.From, h.To = n.Value, n.Value
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			if value.Kind != yaml.ScalarNode {
				h.problem = fmt.Sprintf("%s must be a date", key.Value)
				return nil
			}
			switch key.Value {
			case "from":
				h.From = value.Value
			case "to":
				h.To = value.Value
			default:
				h.problem = fmt.Sprintf("unknown field %q (known: from, to)", key.Value)
				return nil
			}
		}
	default:
		h.problem = "must be a date or {from: date, to: date}"
	}
	return nil
}

// Parse reads and validates a policy file's content; name is the file's name for messages.
func Parse(name string, data []byte) (*domain.PolicyBook, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: name, Problems: []Problem{syntaxProblem(err)}}
	}
	c := &checker{root: &root}
	if root.Kind == 0 || len(root.Content) == 0 {
		c.fail(nil, "the file is empty; it needs a list of versions")
		return nil, &Error{File: name, Problems: c.problems}
	}
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &Error{File: name, Problems: []Problem{syntaxProblem(err)}}
		}
		for _, msg := range te.Errors {
			c.problems = append(c.problems, c.typeProblem(msg))
		}
		return nil, &Error{File: name, Problems: c.problems}
	}
	versions := c.versions(doc)
	if len(c.problems) > 0 {
		return nil, &Error{File: name, Problems: c.problems}
	}
	book, err := domain.NewPolicyBook(versions...)
	if err != nil {
		// The checker reports what a file can get wrong with its line; this is the backstop.
		c.fail(path{"versions"}, "%s", err.Error())
		return nil, &Error{File: name, Problems: c.problems}
	}
	return book, nil
}

// path is a field's position in the document: keys and list indexes.
type path []any

// String writes versions[0].sla.decision.
func (p path) String() string {
	var b strings.Builder
	for _, part := range p {
		switch v := part.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// with returns p extended by more parts, never sharing p's array.
func (p path) with(more ...any) path { return append(slices.Clip(p), more...) }

// checker turns the document into domain policies, collecting every problem with its line.
type checker struct {
	root     *yaml.Node
	problems []Problem
}

func (c *checker) fail(at path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Line: c.line(at), Path: at.String(), Message: fmt.Sprintf(format, args...)})
}

// line finds the line of the value at p, or of the nearest enclosing value that exists.
func (c *checker) line(p path) int {
	n := c.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range p {
		var next *yaml.Node
		switch v := part.(type) {
		case int:
			if n.Kind == yaml.SequenceNode && v < len(n.Content) {
				next = n.Content[v]
			}
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == v {
						next = n.Content[i+1]
					}
				}
			}
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)`)
	wrongType    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) (?:`(.*)` )?into (\\S+)")
)

// typeProblem rewrites one of yaml's decoding errors with the field's path and in the words of
// the file, not of Go types.
func (c *checker) typeProblem(msg string) Problem {
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p, _ := c.find(line, m[2], true)
		return Problem{Line: line, Path: p.String(), Message: "unknown field"}
	}
	if m := wrongType.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p, _ := c.find(line, m[3], false)
		if m[3] == "" {
			return Problem{Line: line, Path: p.String(), Message: fmt.Sprintf("is %s, want %s", yamlKind(m[2]), goKind(m[4]))}
		}
		return Problem{Line: line, Path: p.String(), Message: fmt.Sprintf("%q is %s, want %s", m[3], yamlKind(m[2]), goKind(m[4]))}
	}
	return Problem{Message: strings.TrimPrefix(msg, "yaml: ")}
}

// find returns the path of the key (isKey) or value node on line whose text is value.
func (c *checker) find(line int, value string, isKey bool) (path, bool) {
	var walk func(n *yaml.Node, p path) (path, bool)
	walk = func(n *yaml.Node, p path) (path, bool) {
		if !isKey && value == "" && n.Line == line && n.Kind != yaml.DocumentNode {
			return p, true // a list or mapping where something else belongs
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, child := range n.Content {
				if found, ok := walk(child, p); ok {
					return found, true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				if key.Line == line && key.Value == value && isKey {
					return p.with(key.Value), true
				}
				if found, ok := walk(val, p.with(key.Value)); ok {
					return found, true
				}
			}
		case yaml.SequenceNode:
			for i, child := range n.Content {
				if found, ok := walk(child, p.with(i)); ok {
					return found, true
				}
			}
		case yaml.ScalarNode:
			if !isKey && n.Line == line && (n.Value == value || strings.HasPrefix(n.Value, value)) {
				return p, true
			}
		}
		return nil, false
	}
	return walk(c.root, nil)
}

// yamlKind names a YAML tag as a person would.
func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "text"
	case "int", "float":
		return "a number"
	case "bool":
		return "true or false"
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	}
	return "a " + tag
}

// goKind names the Go type yaml wanted as the file's reader would.
func goKind(t string) string {
	switch {
	case t == "int":
		return "a whole number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "text"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map[") || strings.HasPrefix(t, "policy."):
		return "a mapping"
	}
	return t
}

// syntaxProblem turns a YAML syntax error ("yaml: line 3: ...") into a Problem with its line.
func syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, err := fmt.Sscanf(msg, "line %d:", &line); n == 1 && err == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return Problem{Line: line, Message: msg}
}

// versions converts every version, reporting what is wrong in each.
func (c *checker) versions(doc fileDoc) []domain.Policy {
	if len(doc.Versions) == 0 {
		c.fail(path{"versions"}, "at least one version is required")
		return nil
	}
	var out []domain.Policy
	names := map[string]int{}
	days := map[domain.Date]int{}
	undated := 0
	for i, v := range doc.Versions {
		at := path{"versions", i}
		p := c.version(at, v)
		if prev, dup := names[p.Version]; dup && p.Version != "" {
			c.fail(at.with("version"), "%q is also the name of versions[%d]", p.Version, prev)
		}
		names[p.Version] = i
		if p.EffectiveFrom.IsZero() {
			undated++
			if undated > 1 {
				c.fail(at.with("effective_from"), "is required: only one version (the oldest) may be in force since ever")
			}
		} else if prev, dup := days[p.EffectiveFrom]; dup {
			c.fail(at.with("effective_from"), "%s is also when versions[%d] takes effect", p.EffectiveFrom, prev)
		} else {
			days[p.EffectiveFrom] = i
		}
		out = append(out, p)
	}
	return out
}

// versionName is what a version may be called: it is written into every event's metadata.
var versionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (c *checker) version(at path, v versionDoc) domain.Policy {
	p := domain.Policy{Version: v.Version, RefundCapBasisPoints: 7000}
	if !versionName.MatchString(v.Version) {
		c.fail(at.with("version"), "is required: letters, digits, '.', '_' or '-', at most 64 characters")
	}
	if v.EffectiveFrom != "" {
		p.EffectiveFrom = c.date(at.with("effective_from"), v.EffectiveFrom)
	}
	p.Calendar = c.calendar(at, v)
	if v.RefundCapPercent != "" {
		p.RefundCapBasisPoints = c.percent(at.with("refund_cap_percent"), v.RefundCapPercent)
	}
	if v.Warranty != nil {
		p.Warranty = c.warranty(at.with("warranty"), *v.Warranty)
	}
	if v.SLA != nil {
		p.SLA = c.sla(at.with("sla"), *v.SLA)
	}
	p.DocumentsBeforeShipment = v.DocumentsBeforeShipment
	if v.DefaultCountry != "" {
		p.DefaultCountry = v.DefaultCountry
		if !domain.KnownPhoneCountry(v.DefaultCountry) {
			c.fail(at.with("default_country"), "%q is not a country whose national phone numbers are known (ISO 3166-1 alpha-2, e.g. BG)", v.DefaultCountry)
		}
	}
	if v.MaxReportedAge != "" {
		p.MaxReportedAge = c.age(at.with("max_reported_age"), v.MaxReportedAge)
	}
	return p
}

// age reads an elapsed time such as "14 days" or "48 hours": a target in elapsed units.
func (c *checker) age(at path, s string) time.Duration {
	t := c.target(at, s)
	switch t.Unit {
	case domain.UnitDays:
		return time.Duration(t.Amount) * 24 * time.Hour
	case domain.UnitHours:
		return time.Duration(t.Amount) * time.Hour
	case "":
		return 0 // reported by target
	}
	c.fail(at, "%q: counts elapsed time, in hours or days, not working time", s)
	return 0
}

func (c *checker) calendar(at path, v versionDoc) domain.Calendar {
	var cal domain.Calendar
	if v.TimeZone == "" {
		c.fail(at.with("time_zone"), "is required: an IANA time zone such as Europe/Sofia")
	} else if loc, err := time.LoadLocation(v.TimeZone); err != nil || v.TimeZone == "Local" {
		c.fail(at.with("time_zone"), "%q is not an IANA time zone such as Europe/Sofia", v.TimeZone)
	} else {
		cal.Location = loc
	}
	if v.WorkingHours == nil {
		c.fail(at.with("working_hours"), "is required: the periods of each working day, e.g. monday: [\"10:00-18:00\"]")
		return cal
	}
	w := v.WorkingHours
	days := [7][]string{w.Sunday, w.Monday, w.Tuesday, w.Wednesday, w.Thursday, w.Friday, w.Saturday}
	given := 0
	for wd, periods := range days {
		field := at.with("working_hours", strings.ToLower(time.Weekday(wd).String()))
		for i, s := range periods {
			given++
			start, end, ok := c.period(field.with(i), s)
			if !ok {
				continue
			}
			if n := len(cal.Hours[wd]); n > 0 && start < cal.Hours[wd][n-1].End {
				c.fail(field.with(i), "%q starts before the previous period ends: list periods in order, without overlap", s)
				continue
			}
			cal.Hours[wd] = append(cal.Hours[wd], domain.WorkingPeriod{Start: start, End: end})
		}
	}
	if given == 0 {
		c.fail(at.with("working_hours"), "no day has working hours, so no SLA clock could ever run")
	}
	for i, h := range v.Holidays {
		field := at.with("holidays", i)
		if h.problem != "" {
			c.fail(field, "%s", h.problem)
			continue
		}
		if h.From == "" || h.To == "" {
			c.fail(field, "a range needs both from and to")
			continue
		}
		from := c.date(field, h.From)
		to := from
		if h.To != h.From {
			to = c.date(field, h.To)
		}
		switch {
		case from.IsZero() || to.IsZero():
		case to.Before(from):
			c.fail(field, "ends %s, before it starts %s", to, from)
		case from.AddDays(365).Before(to):
			c.fail(field, "%s to %s is longer than a year", from, to)
		default:
			cal.Holidays = append(cal.Holidays, domain.DateRange{From: from, To: to})
		}
	}
	return cal
}

// period reads "10:00-18:00".
func (c *checker) period(at path, s string) (time.Duration, time.Duration, bool) {
	a, b, ok := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	start, err1 := domain.ParseTimeOfDay(a)
	end, err2 := domain.ParseTimeOfDay(b)
	switch {
	case !ok || err1 != nil || err2 != nil:
		c.fail(at, "%q is not a period HH:MM-HH:MM such as 10:00-18:00", s)
	case start >= end:
		c.fail(at, "%q ends before it starts", s)
	default:
		return start, end, true
	}
	return 0, 0, false
}

func (c *checker) date(at path, s string) domain.Date {
	d, err := domain.ParseDate(s)
	if err != nil {
		c.fail(at, "%q is not a date YYYY-MM-DD", s)
	}
	return d
}

// percent reads "70" or "72.5" into basis points, without floating point: a cap that reads 70%
// must be exactly 7000.
func (c *checker) percent(at path, s string) int64 {
	whole, frac, _ := strings.Cut(strings.TrimSuffix(strings.TrimSpace(s), "%"), ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err == nil && len(frac) <= 2 {
		var f int64
		if frac != "" {
			f, err = strconv.ParseInt(frac+strings.Repeat("0", 2-len(frac)), 10, 64)
		}
		if bp := n*100 + f; err == nil && n >= 0 && bp <= 10000 {
			return bp
		}
	}
	c.fail(at, "%q is not a percentage from 0 to 100 with at most two decimals", s)
	return 0
}

// code is what a category, component, coverage or reason code looks like (as domain checks
// codes in commands).
var code = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

func (c *checker) codes(at path, list []string, allowed ...string) {
	for i, s := range list {
		switch {
		case len(allowed) > 0 && !slices.Contains(allowed, s):
			c.fail(at.with(i), "%q is not one of %s", s, strings.Join(allowed, ", "))
		case !code.MatchString(s):
			c.fail(at.with(i), "%q is not a code: lower-case letters, digits, '_', '-' or '.'", s)
		}
	}
}

func (c *checker) months(at path, n, max int) {
	if n < 0 || n > max {
		c.fail(at, "%d is outside 0..%d", n, max)
	}
}

func (c *checker) warranty(at path, w warrantyDoc) *domain.Warranty {
	out := &domain.Warranty{
		Categories:         map[string]domain.CategoryTerms{},
		VoidReasons:        w.VoidReasons,
		ExtendedMaxMonths:  w.ExtendedMaxMonths,
		PostWarrantyMonths: w.PostWarrantyMonths,
		RepairWarrantyDays: w.RepairWarrantyDays,
		RepairTimeExtends:  w.RepairTimeExtends,
	}
	if len(w.Categories) == 0 {
		c.fail(at.with("categories"), "at least one category is required (\"default\" covers those not listed)")
	}
	for name, cat := range w.Categories {
		field := at.with("categories", name)
		if !code.MatchString(name) {
			c.fail(field, "%q is not a category code: lower-case letters, digits, '_', '-' or '.'", name)
		}
		c.months(field.with("manufacturer_months"), cat.ManufacturerMonths, 600)
		c.months(field.with("seller_months"), cat.SellerMonths, 600)
		out.Categories[name] = domain.CategoryTerms{ManufacturerMonths: cat.ManufacturerMonths, SellerMonths: cat.SellerMonths}
	}
	for i, comp := range w.Components {
		field := at.with("components", i)
		if !code.MatchString(comp.Component) {
			c.fail(field.with("component"), "is required: a component code such as hdd")
		}
		c.codes(field.with("categories"), comp.Categories)
		c.codes(field.with("conditions"), comp.Conditions, domain.ConditionNew, domain.ConditionUsed, domain.ConditionRefurbished)
		c.months(field.with("months"), comp.Months, 600)
		c.months(field.with("days"), comp.Days, 3660)
		if comp.Months == 0 && comp.Days == 0 {
			c.fail(field, "needs a period: months, days or both")
		}
		out.Components = append(out.Components, domain.ComponentTerms{
			Component: comp.Component, Categories: comp.Categories, Conditions: comp.Conditions, Months: comp.Months, Days: comp.Days,
		})
	}
	for i, x := range w.Exclusions {
		field := at.with("exclusions", i)
		if !code.MatchString(x.Component) {
			c.fail(field.with("component"), "is required: a component code such as battery")
		}
		c.codes(field.with("coverages"), x.Coverages, domain.CoverageKinds()...)
		out.Exclusions = append(out.Exclusions, domain.Exclusion{Component: x.Component, Coverages: x.Coverages})
	}
	c.codes(at.with("void_reasons"), w.VoidReasons)
	c.months(at.with("extended_max_months"), w.ExtendedMaxMonths, 600)
	c.months(at.with("post_warranty_months"), w.PostWarrantyMonths, 600)
	c.months(at.with("repair_warranty_days"), w.RepairWarrantyDays, 3660)
	return out
}

func (c *checker) sla(at path, s slaDoc) domain.SLATargets {
	out := domain.SLATargets{
		FirstResponse:    c.target(at.with("first_response"), s.FirstResponse),
		Decision:         c.target(at.with("decision"), s.Decision),
		ShipmentWindow:   c.target(at.with("shipment_window"), s.ShipmentWindow),
		RepairTurnaround: c.target(at.with("repair_turnaround"), s.RepairTurnaround),
		RepairHardLimit:  c.target(at.with("repair_hard_limit"), s.RepairHardLimit),
		DueSoonPercent:   s.DueSoonPercent,
	}
	if s.DueSoonPercent < 0 || s.DueSoonPercent > 100 {
		c.fail(at.with("due_soon_percent"), "%d is outside 0..100", s.DueSoonPercent)
	}
	return out
}

// units maps what a file may write to the domain's units; the singular reads better with 1.
var units = map[string]string{
	"working_hours": domain.UnitWorkingHours, "working_hour": domain.UnitWorkingHours,
	"working_days": domain.UnitWorkingDays, "working_day": domain.UnitWorkingDays,
	"hours": domain.UnitHours, "hour": domain.UnitHours,
	"days": domain.UnitDays, "day": domain.UnitDays,
}

// target reads "2 working_days"; empty keeps no clock.
func (c *checker) target(at path, s string) domain.Target {
	if s == "" {
		return domain.Target{}
	}
	fields := strings.Fields(s)
	if len(fields) == 2 {
		n, err := strconv.Atoi(fields[0])
		unit, ok := units[fields[1]]
		limit := map[string]int{domain.UnitWorkingHours: 24 * 366, domain.UnitHours: 24 * 366, domain.UnitWorkingDays: 366, domain.UnitDays: 366}[unit]
		switch {
		case err != nil || !ok:
		case n < 1 || n > limit:
			c.fail(at, "%q: the amount must be 1 to %d", s, limit)
			return domain.Target{}
		default:
			return domain.Target{Amount: n, Unit: unit}
		}
	}
	c.fail(at, "%q is not a target: a number and a unit (working_hours, working_days, hours or days), e.g. \"2 working_days\"", s)
	return domain.Target{}
}
