package portal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// shoot photographs the page at phone and desktop widths, checks that
// neither scrolls sideways, and runs axe-core on it.
func shoot(t *testing.T, ctx context.Context, dir, axe, name string) {
	t.Helper()
	for _, width := range []int64{375, 1280} {
		var png []byte
		var overflow bool
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(width, 800), chromedp.FullScreenshot(&png, 100),
			chromedp.Evaluate(`document.documentElement.scrollWidth > document.documentElement.clientWidth`, &overflow)); err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if overflow {
			t.Errorf("%s at %dpx scrolls sideways", name, width)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("portal-%s-%d.png", name, width)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	t.Run("axe "+name, func(t *testing.T) {
		if axe == "" {
			t.Skip("axe-core is not installed: npm install --prefix ~/.cache/rmaledger/npm axe-core (.ci/run does)")
		}
		var result struct {
			Violations []string `json:"violations"`
			Passes     int      `json:"passes"`
		}
		err := chromedp.Run(ctx,
			chromedp.Evaluate(axe, nil),
			chromedp.Evaluate(`axe.run(document).then(r => ({passes: r.passes.length, violations: r.violations
				.filter(v => v.impact === 'serious' || v.impact === 'critical')
				.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))}))`,
				&result, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		)
		if err != nil {
			t.Fatalf("axe on %s: %v", name, err)
		}
		if result.Passes == 0 {
			t.Errorf("axe checked nothing on %s", name)
		}
		for _, v := range result.Violations {
			t.Errorf("axe, %s: %s", name, v)
		}
	})
}

// TestBrowserCustomerFilesAcceptsAndPays: a customer fills in the claim
// form with the keyboard (first sent empty: each field says what is
// missing), gets the claim number and private link, opens it; staff issue
// an estimate through the ledger; the customer accepts it and pays through
// the payment provider (a fake on the same server), reaching every button
// with Tab and pressing Enter. Every page is photographed at 375 and 1280
// px and checked with axe-core; no page has JavaScript.
func TestBrowserCustomerFilesAcceptsAndPays(t *testing.T) {
	e := newEnv(t, options{})
	e.pay.ledger = e.ledger
	ctx := newBrowser(t)
	dir, axe := browsertest.ArtifactDir(t), browsertest.Axe()
	base := e.srv.URL
	photo := filepath.Join(t.TempDir(), "broken-screen.jpg")
	if err := os.WriteFile(photo, []byte("\xff\xd8\xff\xe0 a small photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("allow axe-core", chromedp.ActionFunc(func(ctx context.Context) error {
		return cdppage.SetBypassCSP(true).Do(ctx) // lets axe-core's script run; the pages themselves have none
	}))
	// press reaches the element with Tab alone, from the top of the page,
	// and presses Enter on it.
	press := func(id string) {
		t.Helper()
		for range 80 {
			var focused string
			run("tab", chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(`document.activeElement.id`, &focused))
			if focused == id {
				run("press "+id, chromedp.KeyEvent(kb.Enter))
				return
			}
		}
		t.Fatalf("#%s cannot be reached with the keyboard", id)
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return strings.TrimSpace(s)
	}
	var scripts int
	noScripts := func() {
		t.Helper()
		run("count scripts", chromedp.Evaluate(`document.scripts.length`, &scripts))
		if scripts != 0 {
			t.Errorf("the page has %d scripts", scripts)
		}
	}

	run("open the form", chromedp.Navigate(base+"/portal/claim?lang=en"), chromedp.WaitVisible(`#category`))
	noScripts()
	shoot(t, ctx, dir, axe, "form")

	press("form-submit")
	run("refused", chromedp.WaitVisible(`#form-problem`))
	if got := text(`#serial-error`); got != "Please fill in this field." {
		t.Errorf("serial's error %q", got)
	}
	shoot(t, ctx, dir, axe, "form-errors")

	run("fill in the form",
		chromedp.SetValue(`#category`, "laptop", chromedp.ByQuery),
		chromedp.SendKeys(`#serial`, "PF-3X9KQ2", chromedp.ByQuery),
		chromedp.SendKeys(`#sku`, "NB-1000", chromedp.ByQuery),
		chromedp.SetValue(`#purchase_date`, time.Now().AddDate(0, -5, 0).Format("2006-01-02"), chromedp.ByQuery),
		chromedp.SendKeys(`#price`, "129.90", chromedp.ByQuery),
		chromedp.SetValue(`#proof_kind`, "receipt", chromedp.ByQuery),
		chromedp.SendKeys(`#proof_reference`, "R-2026-0117", chromedp.ByQuery),
		chromedp.SendKeys(`#defect`, "The screen stays black after the last update.", chromedp.ByQuery),
		chromedp.SetUploadFiles(`#photos`, []string{photo}, chromedp.ByQuery),
		chromedp.SendKeys(`#name`, "Ivan Petrov", chromedp.ByQuery),
		chromedp.SendKeys(`#email`, "ivan@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#phone`, "+359 888 123 456", chromedp.ByQuery),
		chromedp.Focus(`#consent`, chromedp.ByQuery), chromedp.KeyEvent(" "),
	)
	run("to the top", chromedp.Evaluate(`document.activeElement.blur(); window.scrollTo(0, 0)`, nil))
	press("form-submit")
	run("filed", chromedp.WaitVisible(`#private-link`))
	number := text(`#claim-number`)
	var link string
	run("read the link", chromedp.AttributeValue(`#private-link`, "href", &link, nil, chromedp.ByQuery))
	if !strings.HasPrefix(number, "RMA-") || !strings.HasPrefix(link, base+"/portal/c/") {
		t.Fatalf("number %q link %q", number, link)
	}
	if len(e.files.kept) != 1 || e.files.kept[0] != "defect_photos:broken-screen.jpg" {
		t.Errorf("files kept %v", e.files.kept)
	}
	shoot(t, ctx, dir, axe, "filed")

	// Staff quote the paid repair.
	claim := e.claimOf(strings.TrimPrefix(link, base))
	e.staff(claim.ID, estimateIssued()...)

	run("open the private link", chromedp.Navigate(link), chromedp.WaitVisible(`#estimate`))
	noScripts()
	if got := text(`#estimate .total td`); got != "75.00 EUR" {
		t.Errorf("total %q", got)
	}
	shoot(t, ctx, dir, axe, "estimate")
	press("accept-estimate")
	run("accepted", chromedp.WaitVisible(`#done`))
	if got := text(`#status`); got != "Estimate accepted, waiting for payment" {
		t.Errorf("status after accepting %q", got)
	}
	shoot(t, ctx, dir, axe, "accepted")

	press("pay")
	run("at the provider", chromedp.WaitVisible(`#confirm-payment`))
	var referrer string
	run("referrer", chromedp.Evaluate(`document.referrer`, &referrer))
	if referrer != "" {
		t.Errorf("the private link leaked as the referrer %q", referrer)
	}
	press("confirm-payment")
	run("back from the provider", chromedp.WaitVisible(`#done`))
	if got := text(`#done`); got != "Thank you for the payment." {
		t.Errorf("after paying: %q", got)
	}
	if got := text(`#status`); got != "Paid, waiting for repair" {
		t.Errorf("status after paying %q", got)
	}
	shoot(t, ctx, dir, axe, "paid")
	if s := e.claimOf(strings.TrimPrefix(link, base)); s.Status != domain.StatusPaid || s.Estimate.Decision != domain.EstimateDecisionAccepted {
		t.Fatalf("claim %s, estimate %+v", s.Status, s.Estimate)
	}

	// Another claim, repaired: at release the customer confirms the report, in Greek.
	c := e.client()
	_, repairedLink := c.file(validClaim(c.csrf("/portal/claim")))
	e.staff(e.claimOf(repairedLink).ID, repaired()...)
	run("the service report", chromedp.Navigate(base+repairedLink+"?lang=el"), chromedp.WaitVisible(`#confirm-service-report`))
	shoot(t, ctx, dir, axe, "report-el")
	press("confirm-service-report")
	run("confirmed", chromedp.WaitVisible(`#done`))
	if s := e.claimOf(repairedLink); s.Resolution.ReportConfirmedAt.IsZero() {
		t.Fatal("the report is not confirmed")
	}

	run("the resend form", chromedp.Navigate(base+"/portal/link?lang=bg"), chromedp.WaitVisible(`#number`))
	shoot(t, ctx, dir, axe, "resend-bg")
	run("the form in Chinese", chromedp.Navigate(base+"/portal/claim?lang=zh-Hans"), chromedp.WaitVisible(`#category`))
	shoot(t, ctx, dir, axe, "form-zh")
}

// newBrowser is Chromium for one test, which it must finish within three minutes.
func newBrowser(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(browsertest.New(t), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
