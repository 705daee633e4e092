package domain_test

import (
	"errors"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, also on a machine without /usr/share/zoneinfo

	"github.com/rmaledger/rmaledger/domain"
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// hours is a test shorthand: "10:00-13:00" pairs as working periods.
func hours(t testing.TB, spec ...string) []domain.WorkingPeriod {
	t.Helper()
	var out []domain.WorkingPeriod
	for _, s := range spec {
		start, err1 := domain.ParseTimeOfDay(s[:5])
		end, err2 := domain.ParseTimeOfDay(s[6:])
		if err1 != nil || err2 != nil {
			t.Fatalf("bad hours %q", s)
		}
		out = append(out, domain.WorkingPeriod{Start: start, End: end})
	}
	return out
}

// sofia000 is seed 000's calendar: working days 10:00-18:00, holidays excluded (Bulgarian
// Liberation Day on Tuesday 3 March 2026 and Christmas 24-26 December), in Sofia.
func sofia000(t testing.TB) domain.Calendar {
	c := domain.Calendar{Location: zone(t, "Europe/Sofia")}
	for wd := time.Monday; wd <= time.Friday; wd++ {
		c.Hours[wd] = hours(t, "10:00-18:00")
	}
	c.Holidays = []domain.DateRange{
		{From: date("2026-03-03"), To: date("2026-03-03")},
		{From: date("2026-12-24"), To: date("2026-12-26")},
	}
	return c
}

// sofia001 is seed 001's: Monday to Friday 10:00-19:00 with a lunch break 13:00-14:00,
// Saturday 11:00-16:00, Sunday closed.
func sofia001(t testing.TB) domain.Calendar {
	c := domain.Calendar{Location: zone(t, "Europe/Sofia")}
	for wd := time.Monday; wd <= time.Friday; wd++ {
		c.Hours[wd] = hours(t, "10:00-13:00", "14:00-19:00")
	}
	c.Hours[time.Saturday] = hours(t, "11:00-16:00")
	return c
}

// always is an around-the-clock calendar in a zone, to see DST in plain elapsed time.
func always(t testing.TB, name string) domain.Calendar {
	c := domain.Calendar{Location: zone(t, name)}
	for wd := range c.Hours {
		c.Hours[wd] = hours(t, "00:00-24:00")
	}
	return c
}

// local parses "2006-01-02 15:04" in a zone.
func local(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestCalendarAddWorking(t *testing.T) {
	s0, s1 := sofia000(t), sofia001(t)
	sofia, athens := zone(t, "Europe/Sofia"), zone(t, "Europe/Athens")
	cases := []struct {
		name string
		cal  domain.Calendar
		loc  *time.Location
		from string
		add  time.Duration
		want string
	}{
		{"within one day", s0, sofia, "2026-03-10 11:00", 2 * time.Hour, "2026-03-10 13:00"},
		{"ends exactly at closing, not at the next opening", s0, sofia, "2026-03-10 10:00", 8 * time.Hour, "2026-03-10 18:00"},
		{"over a weekend", s0, sofia, "2026-03-06 17:00", 2 * time.Hour, "2026-03-09 11:00"},
		{"starting on a Saturday", s0, sofia, "2026-03-07 09:00", time.Hour, "2026-03-09 11:00"},
		{"before opening", s0, sofia, "2026-03-10 08:00", 30 * time.Minute, "2026-03-10 10:30"},
		{"after closing", s0, sofia, "2026-03-10 21:15", 30 * time.Minute, "2026-03-11 10:30"},
		{"over a holiday", s0, sofia, "2026-03-02 17:00", 2 * time.Hour, "2026-03-04 11:00"},
		{"over Christmas and a weekend", s0, sofia, "2026-12-23 17:30", time.Hour, "2026-12-28 10:30"},
		{"two working days of hours", s0, sofia, "2026-03-06 15:00", 16 * time.Hour, "2026-03-10 15:00"},
		{"over the lunch break", s1, sofia, "2026-03-09 12:30", time.Hour, "2026-03-09 14:30"},
		{"Friday evening into Saturday hours", s1, sofia, "2026-03-06 18:30", time.Hour, "2026-03-07 11:30"},
		{"Saturday afternoon into Monday", s1, sofia, "2026-03-07 15:00", 2 * time.Hour, "2026-03-09 11:00"},
		{"working hours across spring forward", s0, sofia, "2026-03-27 17:00", 2 * time.Hour, "2026-03-30 11:00"},
		{"working hours across fall back", s0, athens, "2026-10-23 17:30", time.Hour, "2026-10-26 10:30"},
		{"the spring-forward day has 23 hours", always(t, "Europe/Sofia"), sofia, "2026-03-29 00:00", 24 * time.Hour, "2026-03-30 01:00"},
		{"the fall-back day has 25 hours", always(t, "Europe/Athens"), athens, "2026-10-25 00:00", 24 * time.Hour, "2026-10-25 23:00"},
		{"zero adds nothing, even out of hours", s0, sofia, "2026-03-07 09:00", 0, "2026-03-07 09:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cal.AddWorking(local(t, tc.loc, tc.from), tc.add)
			if want := local(t, tc.loc, tc.want); !got.Equal(want) {
				t.Errorf("AddWorking(%s, %s) = %s, want %s", tc.from, tc.add, got, want)
			}
		})
	}
}

func TestCalendarAddWorkingDays(t *testing.T) {
	s0, s1 := sofia000(t), sofia001(t)
	sofia, athens := zone(t, "Europe/Sofia"), zone(t, "Europe/Athens")
	cases := []struct {
		name string
		cal  domain.Calendar
		loc  *time.Location
		from string
		n    int
		want string
	}{
		{"the next working day at the same time", s0, sofia, "2026-03-10 15:00", 1, "2026-03-11 15:00"},
		{"over a weekend", s0, sofia, "2026-03-06 15:00", 2, "2026-03-10 15:00"},
		{"over a holiday", s0, sofia, "2026-03-02 15:00", 1, "2026-03-04 15:00"},
		{"registered on Saturday night counts from Monday's opening", s0, sofia, "2026-03-07 22:00", 1, "2026-03-10 10:00"},
		{"registered before opening", s0, sofia, "2026-03-10 08:00", 1, "2026-03-11 10:00"},
		{"registered after closing", s0, sofia, "2026-03-10 19:00", 1, "2026-03-12 10:00"},
		{"over Christmas", s0, sofia, "2026-12-23 12:00", 1, "2026-12-28 12:00"},
		{"a shorter Saturday clamps to its closing", s1, sofia, "2026-03-06 18:30", 1, "2026-03-07 16:00"},
		{"a time in the lunch break counts from 14:00", s1, sofia, "2026-03-05 13:30", 1, "2026-03-06 14:00"},
		{"a Saturday morning time on a weekday", s1, sofia, "2026-03-07 11:30", 1, "2026-03-09 11:30"},
		{"wall time is kept across spring forward", s0, sofia, "2026-03-27 15:00", 1, "2026-03-30 15:00"},
		{"wall time is kept across fall back", s0, athens, "2026-10-23 15:00", 1, "2026-10-26 15:00"},
		{"around the clock across fall back", always(t, "Europe/Athens"), athens, "2026-10-24 09:00", 1, "2026-10-25 09:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cal.AddWorkingDays(local(t, tc.loc, tc.from), tc.n)
			if want := local(t, tc.loc, tc.want); !got.Equal(want) {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tc.from, tc.n, got.In(tc.loc), want)
			}
		})
	}
}

func TestCalendarWorkingBetween(t *testing.T) {
	s0, s1 := sofia000(t), sofia001(t)
	sofia := zone(t, "Europe/Sofia")
	cases := []struct {
		name     string
		cal      domain.Calendar
		from, to string
		want     time.Duration
	}{
		{"over a weekend", s0, "2026-03-06 17:00", "2026-03-09 11:00", 2 * time.Hour},
		{"over a holiday", s0, "2026-03-02 17:00", "2026-03-04 11:00", 2 * time.Hour},
		{"both ends out of hours", s0, "2026-03-07 09:00", "2026-03-08 20:00", 0},
		{"a whole week", s0, "2026-03-09 00:00", "2026-03-16 00:00", 40 * time.Hour},
		{"a week with a holiday", s0, "2026-03-02 00:00", "2026-03-09 00:00", 32 * time.Hour},
		{"the lunch break does not count", s1, "2026-03-09 12:00", "2026-03-09 15:00", 2 * time.Hour},
		{"a week with Saturday hours", s1, "2026-03-09 00:00", "2026-03-16 00:00", 45 * time.Hour},
		{"the spring-forward day", always(t, "Europe/Sofia"), "2026-03-29 00:00", "2026-03-30 00:00", 23 * time.Hour},
		{"backwards is negative", s0, "2026-03-09 11:00", "2026-03-06 17:00", -2 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cal.WorkingBetween(local(t, sofia, tc.from), local(t, sofia, tc.to)); got != tc.want {
				t.Errorf("WorkingBetween(%s, %s) = %s, want %s", tc.from, tc.to, got, tc.want)
			}
		})
	}
}

// TestCalendarInverse: WorkingBetween undoes AddWorking from any start, in or out of hours, for
// many durations, across a holiday and both DST changes.
func TestCalendarInverse(t *testing.T) {
	sofia := zone(t, "Europe/Sofia")
	for _, cal := range []domain.Calendar{sofia000(t), sofia001(t), always(t, "Europe/Athens"), {}} {
		for _, startDay := range []string{"2026-03-02", "2026-03-27", "2026-10-23", "2026-12-23"} {
			for minute := 0; minute < 24*60; minute += 97 {
				from := local(t, sofia, startDay+" 00:00").Add(time.Duration(minute) * time.Minute)
				for _, d := range []time.Duration{time.Minute, 90 * time.Minute, 8 * time.Hour, 45 * time.Hour, 300 * time.Hour} {
					due := cal.AddWorking(from, d)
					if got := cal.WorkingBetween(from, due); got != d {
						t.Fatalf("%s + %s = %s, but WorkingBetween gives %s", from, d, due, got)
					}
					if due.Before(from) {
						t.Fatalf("%s + %s = %s, before the start", from, d, due)
					}
				}
			}
		}
	}
}

func TestCalendarZeroValueIsAlwaysOpen(t *testing.T) {
	var c domain.Calendar
	from := time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC) // a Saturday night
	if got := c.AddWorking(from, 3*time.Hour); !got.Equal(from.Add(3 * time.Hour)) {
		t.Errorf("AddWorking = %s", got)
	}
	if got := c.AddWorkingDays(from, 2); !got.Equal(from.AddDate(0, 0, 2)) {
		t.Errorf("AddWorkingDays = %s", got)
	}
	if !c.IsWorkingTime(from) || c.Validate() != nil {
		t.Errorf("the zero calendar is not open around the clock")
	}
}

func TestCalendarValidate(t *testing.T) {
	good := sofia001(t)
	if err := good.Validate(); err != nil {
		t.Fatalf("seed 001 calendar: %v", err)
	}
	bad := map[string]func(c *domain.Calendar){
		"period ends before it starts": func(c *domain.Calendar) { c.Hours[time.Monday] = hours(t, "18:00-10:00") },
		"periods overlap":              func(c *domain.Calendar) { c.Hours[time.Monday] = hours(t, "10:00-14:00", "13:00-19:00") },
		"holiday ends before it starts": func(c *domain.Calendar) {
			c.Holidays = []domain.DateRange{{From: date("2026-05-02"), To: date("2026-05-01")}}
		},
		"holiday range of years": func(c *domain.Calendar) {
			c.Holidays = []domain.DateRange{{From: date("2026-01-01"), To: date("2062-01-01")}}
		},
		"holidays without hours": func(c *domain.Calendar) {
			c.Hours = [7][]domain.WorkingPeriod{}
			c.Holidays = []domain.DateRange{{From: date("2026-05-01"), To: date("2026-05-01")}}
		},
	}
	for name, breakIt := range bad {
		c := sofia001(t)
		breakIt(&c)
		if err := c.Validate(); !errors.Is(err, domain.ErrInvalidPolicy) {
			t.Errorf("%s: %v, want ErrInvalidPolicy", name, err)
		}
	}
}

func TestDateArithmetic(t *testing.T) {
	for _, tc := range []struct {
		from   string
		months int
		want   string
	}{
		{"2026-01-31", 1, "2026-02-28"},
		{"2028-01-31", 1, "2028-02-29"},
		{"2025-11-20", 24, "2027-11-20"},
		{"2026-03-31", -1, "2026-02-28"},
		{"2026-08-31", 6, "2027-02-28"},
	} {
		if got := date(tc.from).AddMonths(tc.months); got != date(tc.want) {
			t.Errorf("%s + %d months = %s, want %s", tc.from, tc.months, got, tc.want)
		}
	}
	if got := date("2026-02-27").AddDays(2); got != date("2026-03-01") {
		t.Errorf("AddDays = %s", got)
	}
	if got := date("2026-11-22").Weekday(); got != time.Sunday {
		t.Errorf("weekday %s", got)
	}
}
