// Package browsertest starts Debian's Chromium for the browser tests of the pages, and finds
// what those tests use beside it: axe-core's script and the directory screenshots go to.
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian installs Chromium (.ci/run installs it).
const ChromiumPath = "/usr/bin/chromium"

// New starts Chromium headless with a fresh profile and returns its context, or skips t when
// Chromium is not installed. The browser ends with the test.
func New(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Skipf("no %s: install Debian's chromium (.ci/run does)", ChromiumPath)
	}
	profile, err := os.MkdirTemp("", "rmaledger-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(profile),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		// Chromium's helper processes may write the profile for a moment after it exits.
		for try := 0; try < 50 && os.RemoveAll(profile) != nil; try++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(browser); err != nil { // starts Chromium
		t.Fatalf("starting %s: %v", ChromiumPath, err)
	}
	return browser
}

// ArtifactDir is where screenshots go: $RMALEDGER_TEST_ARTIFACTS (CI keeps it), or a
// temporary directory.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("RMALEDGER_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Axe is axe-core's script, installed by .ci/run with npm into ~/.cache/rmaledger/npm (or
// named by $RMALEDGER_AXE); "" when it is absent.
func Axe() string {
	path := os.Getenv("RMALEDGER_AXE")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "rmaledger", "npm", "node_modules", "axe-core", "axe.min.js")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(raw)
}
