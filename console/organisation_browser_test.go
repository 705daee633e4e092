package console_test

import (
	"context"
	"strings"
	"testing"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestBrowserPartner: a dealer's person signs in to the console in a real
// browser and finds its organisation's claim, not another's, in the
// queue; its claim's page offers the dealer's actions, not the staff's;
// another organisation's claim answers the page for a claim that does not
// exist. Each screen is photographed at 375 and 1280 px and checked with
// axe-core.
func TestBrowserPartner(t *testing.T) {
	s := newStack(t)
	s.accounts.people["Pat Partner"] = account{password: "pw-partner", person: console.Person{ID: uuid.NewString(), Name: "Pat Partner", Role: "partner", Organisation: "acme"}}
	own := s.registerFor(t, "acme", "SN-ACME-1", "Customer of acme")
	other := s.registerFor(t, "globex", "SN-GLOBEX-1", "Customer of globex")
	ctx := newBrowser(t)
	shots := &screens{t: t, dir: browsertest.ArtifactDir(t), axe: browsertest.Axe()}
	base := s.server.URL
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func() string {
		t.Helper()
		var body string
		run("read the page", chromedp.Text(`main`, &body, chromedp.ByQuery))
		return body
	}
	run("bypass CSP for axe", chromedp.ActionFunc(func(ctx context.Context) error { return cdppage.SetBypassCSP(true).Do(ctx) }))
	run("sign in",
		chromedp.Navigate(base+"/console/sign-in"), chromedp.WaitVisible(`#name`),
		chromedp.SendKeys(`#name`, "Pat Partner"), chromedp.SendKeys(`#password`, "pw-partner"),
		chromedp.Click(`form.stack button[type=submit]`), chromedp.WaitVisible(`.tabs`))
	queue := text()
	if !strings.Contains(queue, own.Number) || strings.Contains(queue, other.Number) {
		t.Errorf("the partner's queue: want %s and not %s\n%s", own.Number, other.Number, queue)
	}
	shots.take(ctx, "partner-queues")

	run("open its claim", chromedp.Navigate(base+console.Prefix+"/claims/"+own.ID.String()), chromedp.WaitVisible(`#action-add-note`))
	var authorize int
	run("count the staff's forms", chromedp.Evaluate(`document.querySelectorAll('#action-authorize, #action-reject').length`, &authorize))
	if authorize != 0 {
		t.Errorf("the partner is offered %d of the staff's decisions", authorize)
	}
	shots.take(ctx, "partner-claim")

	run("open another organisation's claim", chromedp.Navigate(base+console.Prefix+"/claims/"+other.ID.String()), chromedp.WaitVisible(`#main`, chromedp.ByQuery))
	if page := text(); strings.Contains(page, other.Number) || strings.Contains(page, other.Customer.Name) || !strings.Contains(page, "No such claim") {
		t.Errorf("another organisation's claim page:\n%s", page)
	}
	shots.take(ctx, "partner-not-found")
}
