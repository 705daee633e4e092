package statuspage_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestHomeInBrowser opens the home page in a real headless Chromium: each
// language through the switcher, its heading, a phone and a desktop
// screenshot, no sideways scrolling; the status link leads to the form in
// the same language and the OpenAPI link answers; keyboard order.
func TestHomeInBrowser(t *testing.T) {
	browser := browsertest.New(t)
	s := newStack(t, nil)
	base := s.url(t)
	artifacts := browsertest.ArtifactDir(t)
	t.Logf("screenshots in %s", artifacts)

	for _, lang := range languages {
		t.Run(lang, func(t *testing.T) {
			ctx := tab(t, browser)
			want := messages(t, lang)
			actions := []chromedp.Action{
				chromedp.EmulateViewport(375, 812),
				chromedp.Navigate(base + "/"),
				chromedp.WaitVisible(`html[lang="en"] #status-link`),
			}
			if lang != "en" {
				actions = append(actions,
					chromedp.Click(`nav.langs a[hreflang="`+lang+`"]`),
					chromedp.WaitVisible(`html[lang="`+lang+`"] #status-link`))
			}
			var h1, link, apiHref string
			var width int
			var phone, desktop []byte
			actions = append(actions,
				chromedp.Text("h1", &h1),
				chromedp.Text("#status-link", &link),
				chromedp.AttributeValue("#api-link", "href", &apiHref, nil),
				chromedp.Evaluate(`document.documentElement.scrollWidth`, &width),
				chromedp.FullScreenshot(&phone, 100),
				chromedp.EmulateViewport(1280, 900),
				chromedp.FullScreenshot(&desktop, 100),
				chromedp.Click("#status-link"),
				chromedp.WaitVisible(`html[lang="`+lang+`"] form.lookup #number`),
			)
			if err := chromedp.Run(ctx, actions...); err != nil {
				t.Fatal(err)
			}
			if h1 != want["home.heading"] || link != want["home.status.link"] {
				t.Errorf("heading %q and link %q, want %q and %q", h1, link, want["home.heading"], want["home.status.link"])
			}
			if width > 375 {
				t.Errorf("at 375px the page is %dpx wide", width)
			}
			res, err := http.Get(base + apiHref)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/yaml" {
				t.Errorf("the OpenAPI link %s answers %d %q", apiHref, res.StatusCode, res.Header.Get("Content-Type"))
			}
			for name, png := range map[string][]byte{"375": phone, "1280": desktop} {
				if err := os.WriteFile(filepath.Join(artifacts, "home-"+lang+"-"+name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	t.Run("keyboard order", func(t *testing.T) {
		ctx := tab(t, browser)
		var order []string
		steps := []chromedp.Action{chromedp.EmulateViewport(360, 740), chromedp.Navigate(base + "/?lang=ru"), chromedp.WaitVisible("#status-link")}
		for range 8 {
			var focused string
			steps = append(steps, chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(
				`(e => e.id || e.getAttribute('hreflang') || e.className || e.tagName)(document.activeElement)`, &focused),
				chromedp.ActionFunc(func(context.Context) error { order = append(order, focused); return nil }))
		}
		if err := chromedp.Run(ctx, steps...); err != nil {
			t.Fatal(err)
		}
		if want := []string{"skip", "en", "bg", "zh-Hans", "el", "status-link", "claim-link", "api-link"}; !slices.Equal(order, want) {
			t.Errorf("tab order %q, want %q", order, want)
		}
	})
}
