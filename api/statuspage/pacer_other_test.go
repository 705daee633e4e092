//go:build !linux

package statuspage_test

import (
	"testing"
	"time"
)

// pacer is time.Sleep where there is no timerfd (see the Linux one for why
// that is better).
type pacer struct{}

func newPacer(testing.TB) *pacer { return &pacer{} }

func (*pacer) sleep(d time.Duration) error {
	time.Sleep(d)
	return nil
}
