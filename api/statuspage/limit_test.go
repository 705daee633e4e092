package statuspage

import (
	"strings"
	"testing"
	"time"
)

// TestLimitsAreValidated: a limit that is neither Unlimited nor a bucket that
// refills is refused, naming the setting; the bucket itself is tested in
// internal/ratelimit.
func TestLimitsAreValidated(t *testing.T) {
	for _, bad := range []Limit{{Burst: 0, Every: time.Second}, {Burst: 3}} {
		err := validateLimit(bad, "PerNumber")
		if err == nil || !strings.HasPrefix(err.Error(), "statuspage: PerNumber: ") {
			t.Errorf("%+v: %v", bad, err)
		}
		if _, err := NewKeyedLimiter(bad, 10, time.Now); err == nil {
			t.Errorf("NewKeyedLimiter(%+v) accepted it", bad)
		}
	}
	if err := validateLimit(Unlimited, "PerClient"); err != nil {
		t.Errorf("Unlimited: %v", err)
	}
}
