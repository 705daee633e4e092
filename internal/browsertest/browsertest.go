// Package browsertest starts Debian's Chromium for the browser tests of the pages, and finds
// what those tests use beside it: axe-core's script and the directory screenshots go to.
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian installs Chromium (.ci/run installs it).
const ChromiumPath = "/usr/bin/chromium"

// New returns a tab of its own for t in one headless Chromium that the package's tests share,
// starting that Chromium on first use, or skips t when Chromium is not installed. The tab
// lives in a browser context of its own (cookies, storage and cache start empty, as in a fresh
// profile), which closes with the test. Starting Chromium costs seconds; a tab, milliseconds.
// A package whose tests call New ends Chromium in its TestMain with Main.
func New(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Skipf("no %s: install Debian's chromium (.ci/run does)", ChromiumPath)
	}
	browser, err := shared.start()
	if err != nil {
		t.Fatalf("starting %s: %v", ChromiumPath, err)
	}
	// Headless Chromium opens a page in a new browser context only in a window of its own.
	on := cdp.WithExecutor(browser, chromedp.FromContext(browser).Browser)
	id, err := target.CreateBrowserContext().Do(on)
	if err != nil {
		t.Fatalf("a browser context in %s: %v", ChromiumPath, err)
	}
	t.Cleanup(func() { _ = target.DisposeBrowserContext(id).Do(on) })
	page, err := target.CreateTarget("about:blank").WithBrowserContextID(id).WithNewWindow(true).Do(on)
	if err != nil {
		t.Fatalf("a tab in %s: %v", ChromiumPath, err)
	}
	tab, closeTab := chromedp.NewContext(browser, chromedp.WithTargetID(page))
	chromedp.FromContext(tab).BrowserContextID = id // for browser-wide commands such as downloads
	t.Cleanup(closeTab)                             // closes the tab, before its browser context goes
	if err := chromedp.Run(tab); err != nil {
		t.Fatalf("attaching to a tab in %s: %v", ChromiumPath, err)
	}
	return tab
}

// Main runs the package's tests, then ends the Chromium they shared: call it from TestMain as
// os.Exit(browsertest.Main(m)). Without it Chromium ends with the test process (chromedp has
// Linux kill it then) and its temporary profile stays behind.
func Main(m *testing.M) int {
	code := m.Run()
	shared.stop()
	return code
}

// shared is the package's one Chromium.
var shared chromium

type chromium struct {
	mu      sync.Mutex
	started bool
	browser context.Context
	err     error
	profile string
	cancel  func()
}

func (c *chromium) start() (context.Context, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return c.browser, c.err
	}
	c.started = true
	c.profile, c.err = os.MkdirTemp("", "rmaledger-chromium-")
	if c.err != nil {
		return nil, c.err
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
		chromedp.UserDataDir(c.profile),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	c.browser = browser
	c.cancel = func() { cancelBrowser(); cancelAlloc() }
	c.err = chromedp.Run(browser) // starts Chromium
	return c.browser, c.err
}

func (c *chromium) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
	// Chromium's helper processes may write the profile for a moment after it exits.
	for try := 0; c.profile != "" && try < 50 && os.RemoveAll(c.profile) != nil; try++ {
		time.Sleep(100 * time.Millisecond)
	}
	c.started, c.browser, c.err, c.profile, c.cancel = false, nil, nil, "", nil
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
