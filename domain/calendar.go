package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// WorkingPeriod is one stretch of working time within a day, in wall-clock time: Start and End
// are offsets from local midnight (10:00 is 10*time.Hour), 0 <= Start < End <= 24h. Working
// hours are wall-clock hours, so on the night clocks change a period still opens at 10:00 local
// time; the working time it holds is the real time that passes (a 00:00-24:00 period on the
// spring-forward day holds 23 hours).
type WorkingPeriod struct {
	Start time.Duration
	End   time.Duration
}

// DateRange is a span of whole days, both ends included (a single holiday has From == To).
type DateRange struct {
	From Date
	To   Date
}

// Calendar is a business calendar: a time zone, working hours per weekday and holidays. SLA
// clocks run only in its working time, while registration is accepted around the clock.
//
// The zero Calendar is open around the clock in UTC, so a policy without a calendar keeps its
// clocks in plain elapsed time. The Location is loaded outside this package (time.LoadLocation
// reads the zone database) and handed in.
type Calendar struct {
	// Location is the time zone working hours and holidays are in; nil means UTC.
	Location *time.Location
	// Hours lists each weekday's working periods, indexed by time.Weekday, in order and not
	// overlapping. A day without periods is not a working day. When no day has periods the
	// calendar is open around the clock.
	Hours [7][]WorkingPeriod
	// Holidays are days without working time even when their weekday has hours.
	Holidays []DateRange
}

// maxCalendarDays bounds every walk over a calendar's days. Validate guarantees a working day in
// every week past the last holiday, so a walk ends long before this; the bound only keeps a
// calendar that skipped Validate from hanging a projection.
const maxCalendarDays = 100_000

// maxHolidayRange bounds one holiday range, so that a typo ("2026-01-01 to 2062-01-01") is an
// error at start-up instead of a calendar without working time.
const maxHolidayRange = 366

// Loc returns the calendar's time zone (UTC when none is set).
func (c Calendar) Loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// alwaysOpen reports whether no weekday has hours: the calendar of the zero value.
func (c Calendar) alwaysOpen() bool {
	for _, day := range c.Hours {
		if len(day) > 0 {
			return false
		}
	}
	return true
}

// Validate reports a calendar that cannot be used: periods out of order or out of the day, no
// working day in the week, holiday ranges backwards or longer than a year.
func (c Calendar) Validate() error {
	var errs []error
	if !c.alwaysOpen() {
		for wd, periods := range c.Hours {
			for i, p := range periods {
				field := fmt.Sprintf("calendar.hours.%s[%d]", strings.ToLower(time.Weekday(wd).String()), i)
				switch {
				case p.Start < 0 || p.End > 24*time.Hour:
					errs = append(errs, fmt.Errorf("%s: %s-%s is outside 00:00-24:00", field, formatTimeOfDay(p.Start), formatTimeOfDay(p.End)))
				case p.Start >= p.End:
					errs = append(errs, fmt.Errorf("%s: starts at %s, not before its end %s", field, formatTimeOfDay(p.Start), formatTimeOfDay(p.End)))
				case i > 0 && p.Start < periods[i-1].End:
					errs = append(errs, fmt.Errorf("%s: starts at %s, before the previous period ends (%s)", field, formatTimeOfDay(p.Start), formatTimeOfDay(periods[i-1].End)))
				}
			}
		}
	} else if len(c.Holidays) > 0 {
		errs = append(errs, errors.New("calendar: holidays need working hours to take away from"))
	}
	for i, h := range c.Holidays {
		field := fmt.Sprintf("calendar.holidays[%d]", i)
		switch {
		case !h.From.valid() || !h.To.valid():
			errs = append(errs, fmt.Errorf("%s: not a real calendar day", field))
		case h.To.Before(h.From):
			errs = append(errs, fmt.Errorf("%s: ends %s, before it starts %s", field, h.To, h.From))
		case daysBetween(h.From, h.To) >= maxHolidayRange:
			errs = append(errs, fmt.Errorf("%s: %s to %s is longer than %d days", field, h.From, h.To, maxHolidayRange))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(errs...))
	}
	return nil
}

// IsHoliday reports whether day d is one of the calendar's holidays.
func (c Calendar) IsHoliday(d Date) bool {
	return slices.ContainsFunc(c.Holidays, func(h DateRange) bool { return !d.Before(h.From) && !d.After(h.To) })
}

// IsWorkingDay reports whether day d has working time.
func (c Calendar) IsWorkingDay(d Date) bool { return len(c.periodsOn(d)) > 0 }

// IsWorkingTime reports whether instant t falls in working time.
func (c Calendar) IsWorkingTime(t time.Time) bool {
	for _, s := range c.spansOn(DateOf(t.In(c.Loc()))) {
		if !t.Before(s.start) && t.Before(s.end) {
			return true
		}
	}
	return false
}

// periodsOn returns day d's working periods: none on a holiday, the whole day when the
// calendar is always open.
func (c Calendar) periodsOn(d Date) []WorkingPeriod {
	if c.alwaysOpen() {
		return []WorkingPeriod{{Start: 0, End: 24 * time.Hour}}
	}
	if c.IsHoliday(d) {
		return nil
	}
	return c.Hours[d.Weekday()]
}

// span is a working period placed on a particular day: two instants.
type span struct{ start, end time.Time }

// spansOn returns day d's working periods as instants in the calendar's zone. Wall-clock
// offsets go through time.Date, which normalises them on the wall clock, so a period opening at
// 10:00 opens at 10:00 local time on the days clocks change too.
func (c Calendar) spansOn(d Date) []span {
	periods := c.periodsOn(d)
	if len(periods) == 0 {
		return nil
	}
	loc := c.Loc()
	out := make([]span, len(periods))
	for i, p := range periods {
		out[i] = span{
			start: time.Date(d.Year, d.Month, d.Day, 0, 0, 0, int(p.Start), loc),
			end:   time.Date(d.Year, d.Month, d.Day, 0, 0, 0, int(p.End), loc),
		}
	}
	return out
}

// NextWorkingTime returns t if it falls in working time, else the start of the next working
// period: the moment a clock started out of hours begins to run.
func (c Calendar) NextWorkingTime(t time.Time) time.Time {
	t = t.In(c.Loc())
	day := DateOf(t)
	for range maxCalendarDays {
		for _, s := range c.spansOn(day) {
			if t.Before(s.end) {
				if t.Before(s.start) {
					return s.start
				}
				return t
			}
		}
		day = day.AddDays(1)
	}
	return t
}

// AddWorking returns the instant at which d of working time has passed since from. Time outside
// working hours does not count: 2 working hours from Friday 17:00 with hours 10:00-18:00 is
// Monday 11:00. A result that falls exactly at a closing time is that closing time, not the
// next opening. A d of zero or less returns from.
func (c Calendar) AddWorking(from time.Time, d time.Duration) time.Time {
	from = from.In(c.Loc())
	if d <= 0 {
		return from
	}
	day := DateOf(from)
	for range maxCalendarDays {
		for _, s := range c.spansOn(day) {
			if !s.end.After(from) {
				continue
			}
			start := s.start
			if from.After(start) {
				start = from
			}
			if avail := s.end.Sub(start); avail >= d {
				return start.Add(d)
			} else {
				d -= avail
			}
		}
		day = day.AddDays(1)
	}
	return from
}

// AddWorkingDays returns the instant n working days after from: the same wall-clock time on the
// nth working day after the day counting starts. Counting starts at from when it is in working
// time, else at the next opening, so a claim registered on Saturday night gets whole working days
// counted from Monday morning, and one registered on Tuesday at 15:00 with one working day is due
// on Wednesday at 15:00 (Thursday, if Wednesday is a holiday). When the target day's hours do not
// contain that time of day, the due time moves to the nearest working moment of that day that
// does not give more time: its opening when the time is before it, else the end of the period
// before the time (a Friday 18:30 start with Saturday hours 11:00-16:00 is due Saturday 16:00).
func (c Calendar) AddWorkingDays(from time.Time, n int) time.Time {
	start := c.NextWorkingTime(from)
	if n <= 0 {
		return from.In(c.Loc())
	}
	day := DateOf(start)
	// The wall-clock time of day, not the real time since midnight: the two differ on the day
	// clocks change.
	h, m, sec := start.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(start.Nanosecond())
	for i := 0; n > 0 && i < maxCalendarDays; i++ {
		day = day.AddDays(1)
		if c.IsWorkingDay(day) {
			n--
		}
	}
	periods := c.periodsOn(day)
	if len(periods) == 0 {
		return start // only a calendar that failed Validate gets here
	}
	at := periods[0].Start // before the first opening: the opening
	for _, p := range periods {
		if tod < p.Start {
			break // in the gap before p: the end of the period before it
		}
		if tod <= p.End {
			at = tod
			break
		}
		at = p.End
	}
	return time.Date(day.Year, day.Month, day.Day, 0, 0, 0, int(at), c.Loc())
}

// WorkingBetween returns the working time between a and b: how much of [a, b) falls in working
// hours. It is negative when b is before a.
func (c Calendar) WorkingBetween(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.WorkingBetween(b, a)
	}
	var total time.Duration
	last := DateOf(b.In(c.Loc()))
	day := DateOf(a.In(c.Loc()))
	for i := 0; !day.After(last) && i < maxCalendarDays; i++ {
		for _, s := range c.spansOn(day) {
			lo, hi := s.start, s.end
			if a.After(lo) {
				lo = a
			}
			if b.Before(hi) {
				hi = b
			}
			if hi.After(lo) {
				total += hi.Sub(lo)
			}
		}
		day = day.AddDays(1)
	}
	return total
}

// AddDays returns the day n days after d (before it for negative n).
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// AddMonths returns the same day n months later, clamped to the end of a shorter month:
// 2026-01-31 plus one month is 2026-02-28, never 2026-03-03 as time.AddDate would say, since a
// warranty bought on the 31st must not run into the next month.
func (d Date) AddMonths(n int) Date {
	first := time.Date(d.Year, d.Month+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	last := time.Date(first.Year(), first.Month()+1, 0, 12, 0, 0, 0, time.UTC).Day()
	return Date{Year: first.Year(), Month: first.Month(), Day: min(d.Day, last)}
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// daysBetween counts the days from a to b (negative when b is before a).
func daysBetween(a, b Date) int {
	ta := time.Date(a.Year, a.Month, a.Day, 12, 0, 0, 0, time.UTC)
	tb := time.Date(b.Year, b.Month, b.Day, 12, 0, 0, 0, time.UTC)
	return int(tb.Sub(ta).Round(24*time.Hour) / (24 * time.Hour))
}

// formatTimeOfDay writes an offset from midnight as HH:MM.
func formatTimeOfDay(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// ParseTimeOfDay reads "HH:MM" (00:00 to 24:00) as an offset from midnight.
func ParseTimeOfDay(s string) (time.Duration, error) {
	if len(s) != 5 || s[2] != ':' || !isDigits(s[:2]) || !isDigits(s[3:]) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day from 00:00 to 24:00", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// MarshalJSON writes the calendar with its zone's name (a *time.Location has no JSON form), so
// that a policy can be fingerprinted and shown.
func (c Calendar) MarshalJSON() ([]byte, error) {
	type period struct {
		Start string `json:"start"`
		End   string `json:"end"`
	}
	out := struct {
		Location string              `json:"location"`
		Hours    map[string][]period `json:"hours,omitempty"`
		Holidays []DateRange         `json:"holidays,omitempty"`
	}{Location: c.Loc().String(), Holidays: c.Holidays}
	for wd, periods := range c.Hours {
		for _, p := range periods {
			if out.Hours == nil {
				out.Hours = map[string][]period{}
			}
			name := strings.ToLower(time.Weekday(wd).String())
			out.Hours[name] = append(out.Hours[name], period{formatTimeOfDay(p.Start), formatTimeOfDay(p.End)})
		}
	}
	return json.Marshal(out)
}
