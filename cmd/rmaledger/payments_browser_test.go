package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestBrowserSandboxCheckout opens the sandbox's checkout page of `serve --dev` in a real
// browser in each of its five languages, photographs it at phone and desktop widths
// ($RMALEDGER_TEST_ARTIFACTS/payments-checkout-LANG-WIDTH.png) and checks it with axe-core;
// then pays with the keyboard alone and lands on the return URL with the claim paid.
func TestBrowserSandboxCheckout(t *testing.T) {
	browser := browsertest.New(t)
	s := serveInProcess(t, "--data-dir", t.TempDir(), "--dev")
	id := acceptedEstimate(t, s)
	code, body := s.request(t, http.MethodPost, "/v1/claims/"+id+"/payment-requests", agentKey, `{"return_url":"http://`+s.addr+`/status"}`)
	if code != http.StatusCreated {
		t.Fatalf("payment request: %d %v", code, body)
	}
	checkout := body["url"].(string)
	ctx, cancel := chromedp.NewContext(browser)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	dir := os.Getenv("RMALEDGER_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	axe := browsertest.Axe()
	for _, lang := range []string{"en", "ru", "bg", "zh", "el"} {
		var htmlLang, button string
		if err := chromedp.Run(ctx, chromedp.Navigate(checkout+"?lang="+lang), chromedp.WaitVisible("main button"),
			chromedp.AttributeValue("html", "lang", &htmlLang, nil), chromedp.Text("main form button", &button)); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if htmlLang != lang || !strings.Contains(button, "75.00 BGN") {
			t.Errorf("%s: html lang %q, pay button %q", lang, htmlLang, button)
		}
		for _, width := range []int64{375, 1280} {
			var png []byte
			var overflow bool
			if err := chromedp.Run(ctx, chromedp.EmulateViewport(width, 800), chromedp.FullScreenshot(&png, 100),
				chromedp.Evaluate(`document.documentElement.scrollWidth > document.documentElement.clientWidth`, &overflow)); err != nil {
				t.Fatal(err)
			}
			if overflow {
				t.Errorf("%s at %dpx scrolls sideways", lang, width)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("payments-checkout-%s-%d.png", lang, width)), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("axe "+lang, func(t *testing.T) {
			if axe == "" {
				t.Skip("axe-core is not installed: npm install --prefix ~/.cache/rmaledger/npm axe-core (.ci/run does)")
			}
			var result struct {
				Violations []string `json:"violations"`
				Passes     int      `json:"passes"`
			}
			err := chromedp.Run(ctx, chromedp.Evaluate(axe, nil),
				chromedp.Evaluate(`axe.run(document).then(r => ({passes: r.passes.length, violations: r.violations
					.filter(v => v.impact === 'serious' || v.impact === 'critical')
					.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))}))`,
					&result, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
			if err != nil {
				t.Fatal(err)
			}
			if result.Passes == 0 {
				t.Error("axe checked nothing")
			}
			for _, v := range result.Violations {
				t.Errorf("axe: %s", v)
			}
		})
	}

	// Pay with the keyboard: Tab to the pay button (past the skip link and the languages) and
	// press Enter.
	var landed string
	err := chromedp.Run(ctx, chromedp.EmulateViewport(375, 800), chromedp.Navigate(checkout+"?lang=en"), chromedp.WaitVisible("main button"))
	if err != nil {
		t.Fatal(err)
	}
	for tab := 0; tab < 10; tab++ {
		var focused string
		if err := chromedp.Run(ctx, chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(`document.activeElement.textContent`, &focused)); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(strings.TrimSpace(focused), "Pay ") {
			break
		}
	}
	if err := chromedp.Run(ctx, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible("#number"), chromedp.Location(&landed)); err != nil {
		t.Fatalf("paying with the keyboard: %v", err)
	}
	if landed != "http://"+s.addr+"/status?payment=succeeded" {
		t.Errorf("landed on %s, want the return URL with payment=succeeded", landed)
	}
	if claim := paidClaim(t, s, id); claim["status"] != "paid" {
		t.Errorf("after paying in the browser: status %v", claim["status"])
	}
}
