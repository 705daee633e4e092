package domain

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrInvalidDate is wrapped by every error about the form of a Date.
var ErrInvalidDate = errors.New("invalid date")

// Date is a calendar day without a time or zone: a purchase date or the date on a service
// center's act is a day on a document, and converting it through a time zone would shift it.
// In JSON it is "2026-01-31"; the zero value means absent and is encoded as null.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads exactly YYYY-MM-DD and rejects days that do not exist ("2026-02-30"), where
// time.Date would silently normalise them into another day.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !isDigits(s[:4]) || !isDigits(s[5:7]) || !isDigits(s[8:]) {
		return Date{}, fmt.Errorf("%w: %q is not YYYY-MM-DD", ErrInvalidDate, s)
	}
	y, _ := strconv.Atoi(s[:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:])
	date := Date{Year: y, Month: time.Month(m), Day: d}
	if !date.valid() {
		return Date{}, fmt.Errorf("%w: %q does not exist", ErrInvalidDate, s)
	}
	return date, nil
}

// DateOf returns the calendar day of t in t's own location; callers choose the zone (Decide
// uses UTC) so that the choice is visible where it matters.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// valid reports whether d is a real day in years 1 to 9999, the range YYYY-MM-DD can carry.
func (d Date) valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < time.January || d.Month > time.December || d.Day < 1 {
		return false
	}
	return d.Day <= time.Date(d.Year, d.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// IsZero reports whether d is absent.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int {
	if c := cmp.Compare(d.Year, o.Year); c != 0 {
		return c
	}
	if c := cmp.Compare(d.Month, o.Month); c != 0 {
		return c
	}
	return cmp.Compare(d.Day, o.Day)
}

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is a later day than o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// MarshalText writes YYYY-MM-DD; it lets a Date be a query parameter or a map key.
func (d Date) MarshalText() ([]byte, error) {
	if !d.valid() {
		return nil, fmt.Errorf("%w: %d-%d-%d", ErrInvalidDate, d.Year, int(d.Month), d.Day)
	}
	return []byte(d.String()), nil
}

// UnmarshalText reads YYYY-MM-DD strictly (see ParseDate).
func (d *Date) UnmarshalText(b []byte) error {
	parsed, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

// MarshalJSON writes "YYYY-MM-DD", or null for the zero value.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	b, err := d.MarshalText()
	if err != nil {
		return nil, err
	}
	return []byte(`"` + string(b) + `"`), nil
}

// UnmarshalJSON reads "YYYY-MM-DD"; null leaves d unchanged, as encoding/json expects.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("%w: %s is not a \"YYYY-MM-DD\" string", ErrInvalidDate, b)
	}
	return d.UnmarshalText(b[1 : len(b)-1])
}
