package main

import (
	"fmt"
	"time"
	_ "time/tzdata" // the zone database inside the binary: a static image may have none
)

// checkFinanceTimeZone validates --finance-time-zone at start: an IANA name
// such as Europe/Sofia, or UTC (also when empty). "Local" is refused,
// because finance periods would then shift with whatever machine the
// service runs on.
func checkFinanceTimeZone(name string) error {
	if name == "Local" {
		return fmt.Errorf("finance-time-zone %q: want an IANA time zone such as Europe/Sofia, or UTC", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("finance-time-zone %q: %w", name, err)
	}
	return nil
}

// financeLocation loads a zone checkFinanceTimeZone accepted.
func financeLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}
