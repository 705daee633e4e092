package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts Debian's Chromium headless, or skips the test when it
// is not installed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no %s: install Debian's chromium (.ci/run does)", chromiumPath)
	}
	profile, err := os.MkdirTemp("", "rmaledger-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"), chromedp.UserDataDir(profile))
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		// Chromium's helpers may write the profile for a moment after it exits.
		for try := 0; try < 50 && os.RemoveAll(profile) != nil; try++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(browser); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return browser
}

// TestStatusPageTimeZone looks a claim up on the public status page in a
// real browser: with no --status-time-zone the page shows times in the
// time zone of the policy in force (the default policy's Europe/Sofia), and
// with one, in that zone.
func TestStatusPageTimeZone(t *testing.T) {
	browser := newBrowser(t)
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
