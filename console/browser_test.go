package console_test

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
	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// screens photographs every screen at phone and desktop widths and checks
// it with axe-core.
type screens struct {
	t   *testing.T
	dir string
	axe string
}

func (s *screens) take(ctx context.Context, name string) {
	s.t.Helper()
	for _, width := range []int64{375, 1280} {
		var png []byte
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(width, 800), chromedp.FullScreenshot(&png, 100)); err != nil {
			s.t.Fatalf("screenshot %s: %v", name, err)
		}
		var overflow bool
		if err := chromedp.Run(ctx, chromedp.Evaluate(`document.documentElement.scrollWidth > document.documentElement.clientWidth`, &overflow)); err != nil {
			s.t.Fatal(err)
		}
		if overflow {
			s.t.Errorf("%s at %dpx scrolls sideways", name, width)
		}
		if err := os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("console-%s-%d.png", name, width)), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		s.t.Fatal(err)
	}
	s.t.Run("axe "+name, func(t *testing.T) {
		if s.axe == "" {
			t.Skip("axe-core is not installed: npm install --prefix ~/.cache/rmaledger/npm axe-core (.ci/run does)")
		}
		s.axeCheck(ctx, t, name)
	})
}

// axeCheck runs axe-core on the page and fails on serious or critical
// violations.
func (s *screens) axeCheck(ctx context.Context, t *testing.T, name string) {
	var result struct {
		Violations []string `json:"violations"`
		Passes     int      `json:"passes"`
	}
	err := chromedp.Run(ctx,
		chromedp.Evaluate(s.axe, nil),
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
}

// TestBrowserClaimToClosure: an agent signs in, registers a claim by
// typing into the form and authorizes it; a technician records intake,
// diagnosis and repair; the agent ships it back and closes it. Every
// screen is photographed at 375 and 1280 px and checked with axe-core.
func TestBrowserClaimToClosure(t *testing.T) {
	s := newStack(t)
	ctx := newBrowser(t)
	shots := &screens{t: t, dir: browsertest.ArtifactDir(t), axe: browsertest.Axe()}
	base := s.server.URL
	if err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		return cdppage.SetBypassCSP(true).Do(ctx) // lets axe-core's script run; the page itself has none
	})); err != nil {
		t.Fatal(err)
	}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
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
	signOut := func() {
		t.Helper()
		run("sign out", chromedp.Click(`.menu button`), chromedp.WaitVisible(`#password`))
	}
	status := func(want string) {
		t.Helper()
		// Polled from Go, not in the page: a navigation ends an in-page poll.
		deadline := time.Now().Add(15 * time.Second)
		for {
			var got string
			err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector('[data-status]')?.dataset.status || ''`, &got))
			if err == nil && got == want {
				return
			}
			if time.Now().After(deadline) {
				var body string
				_ = chromedp.Run(ctx, chromedp.Text(`main`, &body, chromedp.ByQuery))
				t.Fatalf("waiting for status %s: at %q (%v)\n%s", want, got, err, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	act := func(action string, typed, picked map[string]string, want string) {
		t.Helper()
		form := `#action-` + action
		steps := []chromedp.Action{chromedp.WaitVisible(form + ` summary`), chromedp.Click(form + ` summary`)}
		for name, value := range typed {
			steps = append(steps, chromedp.SendKeys(form+` [name="`+name+`"]`, value))
		}
		for name, value := range picked {
			steps = append(steps, chromedp.SetValue(form+` [name="`+name+`"]`, value))
		}
		steps = append(steps, chromedp.Click(form+` button[type=submit]`))
		run(action, steps...)
		status(want)
	}

	// Sign-in, with a wrong password first.
	run("open sign-in", chromedp.Navigate(base+"/console/queues"), chromedp.WaitVisible(`#name`))
	shots.take(ctx, "signin")
	run("wrong password",
		chromedp.SendKeys(`#name`, "Ana Agent"), chromedp.SendKeys(`#password`, "nope"),
		chromedp.Click(`form.stack button[type=submit]`), chromedp.WaitVisible(`#signin-error`))
	shots.take(ctx, "signin-error")
	signIn("Ana Agent", "pw-agent")
	shots.take(ctx, "queues-empty")

	// Register a claim for a customer on the phone.
	run("open registration", chromedp.Click(`a[href="/console/register"]`, chromedp.NodeVisible), chromedp.WaitVisible(`[name="customer.name"]`))
	for name, value := range map[string]string{
		"customer.name": "Maria Georgieva", "customer.phone": "+359 888 123 456", "customer.email": "maria@example.com",
		"product.category": "laptop", "product.sku": "NB-X1", "product.serial": "SN-BROWSER-1",
		"price": "1299.90", "proof_of_purchase.reference": "R-1001", "defect": "does not power on",
	} {
		run("type "+name, chromedp.SendKeys(`form.stack [name="`+name+`"]`, value))
	}
	run("pick", chromedp.SetValue(`[name="purchase_date"]`, "2026-02-01"),
		chromedp.SetValue(`[name="proof_of_purchase.kind"]`, "receipt"),
		chromedp.SetValue(`[name="currency"]`, "BGN"))
	shots.take(ctx, "register")
	run("register", chromedp.Click(`form.stack button[type=submit]`))
	status("registered")
	var claimURL string
	run("location", chromedp.Location(&claimURL))
	claimURL, _, _ = strings.Cut(claimURL, "?")
	shots.take(ctx, "claim-registered")

	act("authorize", map[string]string{"service_center.name": "Sofia service center", "service_center.address": "1 Vitosha Blvd, Sofia"}, nil, "authorized")
	act("record-customer-shipment", map[string]string{"carrier": "Speedy", "tracking_number": "SP123456789"}, nil, "in_transit")

	// A second registration on the same serial is warned about the open claim.
	run("register again", chromedp.Navigate(base+"/console/register"), chromedp.WaitVisible(`[name="customer.name"]`))
	for name, value := range map[string]string{
		"customer.name": "Maria Georgieva", "customer.phone": "+359 888 123 456", "product.category": "laptop",
		"product.serial": "SN-BROWSER-1", "price": "1299.90", "defect": "still does not power on",
	} {
		run("type "+name, chromedp.SendKeys(`form.stack [name="`+name+`"]`, value))
	}
	run("submit", chromedp.SetValue(`[name="purchase_date"]`, "2026-02-01"), chromedp.Click(`form.stack button[type=submit]`),
		chromedp.WaitVisible(`.alert.warning`))
	shots.take(ctx, "register-warning")

	// A change made meanwhile by someone else: the form shows what changed.
	run("open the claim", chromedp.Navigate(claimURL), chromedp.WaitVisible(`[data-status]`),
		chromedp.Click(`#action-add-note summary`), chromedp.SendKeys(`#action-add-note [name="text"]`, "customer called"))
	claimID := uuid.MustParse(claimURL[strings.LastIndex(claimURL, "/")+1:])
	s.execute(t, claimID, &domain.AddNote{Text: "the courier called", Visibility: domain.VisibilityInternal})
	run("stale note", chromedp.Click(`#action-add-note button[type=submit]`), chromedp.WaitVisible(`#conflict`))
	var conflict string
	run("read the conflict", chromedp.Text(`main`, &conflict))
	if !strings.Contains(conflict, "The claim changed meanwhile") || !strings.Contains(conflict, "the courier called") {
		t.Errorf("the conflict page says:\n%s", conflict)
	}
	shots.take(ctx, "conflict")

	// The same claim in Chinese and in Greek, from the switcher.
	run("open the claim", chromedp.Navigate(claimURL), chromedp.WaitVisible(`[data-status]`),
		chromedp.Click(`a[hreflang="zh-Hans"]`), chromedp.WaitVisible(`html[lang="zh-Hans"] [data-status]`))
	shots.take(ctx, "claim-zh-Hans")
	run("Greek", chromedp.Click(`a[hreflang="el"]`), chromedp.WaitVisible(`html[lang="el"] [data-status]`))
	shots.take(ctx, "claim-el")
	run("English", chromedp.Click(`a[hreflang="en"]`), chromedp.WaitVisible(`html[lang="en"] [data-status]`))
	run("queues", chromedp.Navigate(base+"/console/queues?tab=arrival"), chromedp.WaitVisible(`.tabs`))
	shots.take(ctx, "queues")
	run("search by phone", chromedp.SendKeys(`#q`, "0888 123 456"), chromedp.Click(`#search button[type=submit]`),
		chromedp.WaitVisible(`table.queue`))
	var searchURL string
	run("search URL", chromedp.Location(&searchURL))
	if strings.Contains(searchURL, "888") {
		t.Errorf("the phone searched for is in the URL %s", searchURL)
	}
	shots.take(ctx, "search")
	signOut()

	// The technician: intake, diagnosis (first without findings), repair.
	signIn("Tom Technician", "pw-technician")
	run("open the claim", chromedp.Navigate(claimURL), chromedp.WaitVisible(`[data-status]`))
	act("receive", map[string]string{"condition": "scratched lid", "received_by": "Tom Technician"}, map[string]string{"seals_intact": "yes"}, "received")
	run("diagnose without findings",
		chromedp.Click(`#action-diagnose summary`),
		chromedp.SetValue(`#action-diagnose [name="outcome"]`, "defect_confirmed"),
		chromedp.Click(`#action-diagnose button[type=submit]`),
		chromedp.WaitVisible(`#action-diagnose .problem`))
	var problem string
	run("read the problem", chromedp.Text(`#action-diagnose .problem`, &problem))
	if !strings.Contains(problem, "required") {
		t.Errorf("the findings' problem says %q", problem)
	}
	shots.take(ctx, "claim-validation")
	run("diagnose", chromedp.SendKeys(`#action-diagnose [name="findings"]`, "dead power controller"),
		chromedp.Click(`#action-diagnose button[type=submit]`))
	status("diagnosed")
	act("start-repair", nil, map[string]string{"where": "own"}, "in_repair")
	act("complete-repair", map[string]string{"work_done": "replaced the power controller"}, nil, "resolved")
	shots.take(ctx, "claim-repaired")
	signOut()

	// An auditor reads, and is refused the registration form.
	signIn("Al Auditor", "pw-auditor")
	run("auditor on the claim", chromedp.Navigate(claimURL), chromedp.WaitVisible(`[data-status]`))
	var forms int
	run("count forms", chromedp.Evaluate(`document.querySelectorAll('details.action').length`, &forms))
	if forms != 0 {
		t.Errorf("the auditor sees %d action forms", forms)
	}
	shots.take(ctx, "claim-auditor")
	run("auditor registers", chromedp.Navigate(base+"/console/register"), chromedp.WaitVisible(`.alert`))
	shots.take(ctx, "refused")
	signOut()

	// The agent ships it back, confirms delivery and closes.
	signIn("Ana Agent", "pw-agent")
	run("open the claim", chromedp.Navigate(claimURL), chromedp.WaitVisible(`[data-status]`))
	act("ship-return", map[string]string{"carrier": "Speedy", "tracking_number": "SP987654321"}, nil, "return_shipped")
	act("confirm-delivery", map[string]string{"signed_by": "Maria Georgieva"}, nil, "delivered")
	act("close", nil, map[string]string{"reason_code": "completed"}, "closed")
	shots.take(ctx, "claim-closed")
	var timeline string
	run("timeline", chromedp.Text(`.timeline`, &timeline))
	for _, who := range []string{"Ana Agent", "Tom Technician"} {
		if !strings.Contains(timeline, who) {
			t.Errorf("the timeline does not name %s", who)
		}
	}
}

// newBrowser is Chromium for one test, which it must finish within three minutes.
func newBrowser(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(browsertest.New(t), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
