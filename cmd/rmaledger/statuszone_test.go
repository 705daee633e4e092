package main

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestStatusPageTimeZone looks a claim up on the public status page in a
// real browser: with no --status-time-zone the page shows times in the
// time zone of the policy in force (the default policy's Europe/Sofia), and
// with one, in that zone.
func TestStatusPageTimeZone(t *testing.T) {
	browser := browsertest.New(t)
	for _, c := range []struct {
		name, zone string
		args       []string
	}{
		{"the policy's by default", "Europe/Sofia", nil},
		{"--status-time-zone", "Asia/Tokyo", []string{"--status-time-zone", "Asia/Tokyo"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := serveInProcess(t, append([]string{"--data-dir", t.TempDir()}, c.args...)...)
			s.waitReady(t)
			claim := s.register(t)
			ctx, cancel := chromedp.NewContext(browser)
			defer cancel()
			ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
			defer cancelTimeout()
			var iso, shown, body string
			err := chromedp.Run(ctx,
				chromedp.Navigate("http://"+s.addr+"/status?lang=en"),
				chromedp.WaitVisible("#number"),
				chromedp.SendKeys("#number", claim["number"].(string)),
				chromedp.SendKeys("#phone", "+359 888 123 456"),
				chromedp.Click("form.lookup button[type=submit]"),
				chromedp.WaitVisible(".status-name"),
				chromedp.AttributeValue(".timeline time", "datetime", &iso, nil),
				chromedp.Text(".timeline time", &shown),
				chromedp.Text("main", &body),
			)
			if err != nil {
				t.Fatalf("%v\n%s", err, s.output)
			}
			loc, _ := time.LoadLocation(c.zone)
			at, err := time.Parse(time.RFC3339, iso)
			if err != nil {
				t.Fatalf("datetime %q: %v", iso, err)
			}
			_, offset := at.Zone()
			if _, want := at.In(loc).Zone(); offset != want {
				t.Errorf("the registration is dated %s, not in %s", iso, c.zone)
			}
			local := at.In(loc)
			clock := fmt.Sprintf(`(^|\D)%d:%02d\D`, (local.Hour()+11)%12+1, local.Minute())
			if !regexp.MustCompile(clock).MatchString(shown) {
				t.Errorf("the registration shows %q, want %s's time %s", shown, c.zone, local.Format("15:04"))
			}
			if !regexp.MustCompile(`Times are shown in UTC\+\d\d:00 \(` + regexp.QuoteMeta(c.zone) + `\)`).MatchString(body) {
				t.Errorf("the page does not name %s:\n%s", c.zone, body)
			}
		})
	}
}
