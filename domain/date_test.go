package domain_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

func TestParseDate(t *testing.T) {
	d, err := domain.ParseDate("2024-02-29")
	if err != nil || d != (domain.Date{Year: 2024, Month: time.February, Day: 29}) || d.String() != "2024-02-29" {
		t.Errorf("2024-02-29: %+v, %v", d, err)
	}
	for _, bad := range []string{"2025-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-5", "26-01-05",
		"2026/01/05", "2026-01-05T00:00:00Z", " 2026-01-05", "0000-01-01", "", "２０２６-01-05"} {
		if d, err := domain.ParseDate(bad); !errors.Is(err, domain.ErrInvalidDate) {
			t.Errorf("ParseDate(%q) = %+v, %v; want ErrInvalidDate", bad, d, err)
		}
	}
}

func TestDateJSONAndOrder(t *testing.T) {
	d := date("2026-01-31")
	b, err := json.Marshal(d)
	if err != nil || string(b) != `"2026-01-31"` {
		t.Errorf("marshal: %s, %v", b, err)
	}
	var back domain.Date
	if err := json.Unmarshal(b, &back); err != nil || back != d {
		t.Errorf("unmarshal: %+v, %v", back, err)
	}
	if b, _ := json.Marshal(domain.Date{}); string(b) != "null" {
		t.Errorf("zero date marshals as %s", b)
	}
	if err := json.Unmarshal([]byte(`20260131`), &back); !errors.Is(err, domain.ErrInvalidDate) {
		t.Errorf("a number is not a date: %v", err)
	}
	if !date("2025-12-31").Before(d) || !d.After(date("2026-01-30")) || d.Compare(date("2026-01-31")) != 0 {
		t.Errorf("ordering is wrong")
	}
	if got := domain.DateOf(time.Date(2026, 1, 31, 23, 30, 0, 0, time.UTC)); got != d {
		t.Errorf("DateOf = %v", got)
	}
}
