package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestBrowserAuditorAndFinance: an auditor opens the trail, a claim's
// audit page with its chain verified, and steps back to an earlier version;
// finance reads the reconciliation and downloads the CSV. Every screen is
// photographed at 375 and 1280 px and checked with axe-core.
func TestBrowserAuditorAndFinance(t *testing.T) {
	s := withScreens(t, newStack(t), nil)
	claim := refundedClaim(t, s, "SN-BROWSER-AUDIT")
	ctx := newBrowser(t)
	shots := &screens{t: t, dir: browsertest.ArtifactDir(t), axe: browsertest.Axe()}
	base := s.server.URL
	downloads := t.TempDir()
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("set up", chromedp.ActionFunc(func(ctx context.Context) error {
		if err := cdppage.SetBypassCSP(true).Do(ctx); err != nil { // lets axe-core's script run
			return err
		}
		return browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads).
			WithBrowserContextID(chromedp.FromContext(ctx).BrowserContextID).Do(ctx) // the test's own tab's
	}))
	signIn := func(name, password string) {
		t.Helper()
		run("sign in as "+name,
			chromedp.Navigate(base+"/console/sign-in"),
			chromedp.WaitVisible(`#name`),
			chromedp.SendKeys(`#name`, name),
			chromedp.SendKeys(`#password`, password),
			chromedp.Click(`form.stack button[type=submit]`),
			chromedp.WaitVisible(`.tabs`),
		)
	}
	text := func(sel string) string {
		t.Helper()
		var out string
		run("read "+sel, chromedp.Text(sel, &out, chromedp.ByQuery))
		return out
	}

	signIn("Al Auditor", "pw-auditor")
	run("open the trail", chromedp.Click(`a[href="/console/audit"]`, chromedp.NodeVisible), chromedp.WaitVisible(`#trail-title`))
	shots.take(ctx, "audit-trail")
	run("open the claim's audit", chromedp.Click(`a[href="/console/audit/claims/`+claim.ID.String()+`?version=5"]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#chain-result`))
	if got := text(`#chain-result`); !strings.Contains(got, "Chain verified: 5 events intact") {
		t.Errorf("chain result: %q", got)
	}
	shots.take(ctx, "audit-claim")
	run("step back to version 2", chromedp.Click(`a[href$="?version=2"]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`strong[aria-current="step"]`))
	if got := text(`#point-title`); got != "State at version 2" {
		t.Errorf("after stepping back: %q", got)
	}
	if got := text(`#diff-title`); got != "Changes from version 1 to version 2" {
		t.Errorf("diff title: %q", got)
	}
	if got := text(`table.diff tbody`); !strings.Contains(got, "registered") || !strings.Contains(got, "authorized") {
		t.Errorf("the diff does not show the status going from registered to authorized: %q", got)
	}
	if got := text(`#chain-result`); !strings.Contains(got, "Chain verified") {
		t.Errorf("chain result at version 2: %q", got)
	}
	shots.take(ctx, "audit-claim-version")
	run("sign out", chromedp.Click(`.menu button`), chromedp.WaitVisible(`#password`))

	signIn("Fay Finance", "pw-finance")
	run("open finance", chromedp.Click(`a[href="/console/finance"]`, chromedp.NodeVisible), chromedp.WaitVisible(`#recon-title`))
	if got := text(`#comp-title + p + div table`); !strings.Contains(got, claim.Number) {
		t.Errorf("the compensations lack the refund of %s: %q", claim.Number, got)
	}
	shots.take(ctx, "finance")
	run("filter by kind", chromedp.SetValue(`#kind`, "refund"), chromedp.Click(`form.filters button[type=submit]`),
		chromedp.WaitVisible(`a[href^="/console/finance.csv?"][href*="kind=refund"]`))
	run("download the CSV", chromedp.Click(`a[href^="/console/finance.csv"]`, chromedp.NodeVisible))
	file := filepath.Join(downloads, "compensations.csv")
	deadline := time.Now().Add(15 * time.Second)
	for {
		raw, err := os.ReadFile(file)
		if err == nil && len(raw) > 0 {
			body := string(raw)
			if !strings.HasPrefix(body, "event_id,line,claim_id,number,kind,") || !strings.Contains(body, claim.ID.String()+","+claim.Number+",refund,approval,outstanding,100.00,BGN") {
				t.Errorf("downloaded CSV: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(downloads)
			t.Fatalf("no CSV downloaded (%v, %d files)", err, len(entries))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
