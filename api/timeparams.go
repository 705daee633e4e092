package api

import (
	"fmt"
	"net/http"
	"time"
)

// Times and dates in query parameters (finance periods, sla at, claims
// updated_since, audit as_of and the trail's from and to) must lie in the
// years 1970 to 2200, as written. Everything the ledger records lies there;
// the read models keep times as Unix nanoseconds, which end in 2262, and
// JSON can write no year past 9999, so an instant outside would be misread
// or could not be answered. A caller who means "no bound" leaves the
// parameter out.
const (
	earliestQueryYear = 1970
	latestQueryYear   = 2200
)

// queryTime parses an RFC 3339 time given in query parameter name.
func queryTime(name, raw string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, badRequest("invalid-parameter", "%s must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z", name)
	}
	return t, checkQueryYear(name, t)
}

// checkQueryYear refuses a parameter's time outside the years the service
// can represent.
func checkQueryYear(name string, t time.Time) error {
	if y := t.Year(); y < earliestQueryYear || y > latestQueryYear {
		return newProblem(http.StatusBadRequest, "invalid-parameter", "Malformed request",
			fmt.Sprintf("%s is in the year %d: times must lie in the years %d to %d (leave %s out for no bound)",
				name, y, earliestQueryYear, latestQueryYear, name))
	}
	return nil
}
