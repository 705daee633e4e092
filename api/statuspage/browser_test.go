package statuspage_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// languages are the page's languages as its switcher names them.
var languages = []string{"en", "ru", "bg", "zh-Hans", "el"}

// tab opens a new tab with a deadline.
func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

// messages reads a language's catalogue, to know what the page must say.
func messages(t *testing.T, lang string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("messages", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBrowser drives the page in a real headless Chromium: pick a language
// with the switcher, fill the form, submit, read the result; the same for a
// wrong phone and an unknown number; keyboard order; and screenshots of the
// result at phone and desktop widths.
func TestBrowser(t *testing.T) {
	browser := browsertest.New(t)
	s := newStack(t, nil)
	c := s.register(t, "+359 888 123 456")
	s.advance(t, c)
	base := s.url(t)
	artifacts := browsertest.ArtifactDir(t)
	t.Logf("screenshots in %s", artifacts)

	for _, lang := range languages {
		t.Run("result in "+lang, func(t *testing.T) {
			ctx := tab(t, browser)
			want := messages(t, lang)
			actions := []chromedp.Action{
				chromedp.EmulateViewport(375, 812),
				chromedp.Navigate(base + "/status"),
				chromedp.WaitVisible(`html[lang="en"]`),
			}
			if lang != "en" {
				actions = append(actions,
					chromedp.Click(`nav.langs a[hreflang="`+lang+`"]`),
					chromedp.WaitVisible(`html[lang="`+lang+`"]`))
			}
			var h1, status, next, timeline string
			var phone, desktop []byte
			actions = append(actions,
				chromedp.SendKeys("#number", strings.ToLower(c.Number)),
				chromedp.SendKeys("#phone", "0888 123 456"), // national form of +359 888 123 456
				chromedp.Click("form.lookup button[type=submit]"),
				chromedp.WaitVisible(".status-name"),
				chromedp.Text("h1", &h1),
				chromedp.Text(".status-name", &status),
				chromedp.Text(`section[aria-labelledby="next-title"] p`, &next),
				chromedp.Text(".timeline", &timeline),
				chromedp.FullScreenshot(&phone, 100),
				chromedp.EmulateViewport(1280, 900),
				chromedp.FullScreenshot(&desktop, 100),
			)
			if err := chromedp.Run(ctx, actions...); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.ReplaceAll(h1, "\u2011", "-"), c.Number) {
				t.Errorf("heading %q lacks the claim number", h1)
			}
			if status != want["status.estimate_issued"] {
				t.Errorf("status %q, want %q", status, want["status.estimate_issued"])
			}
			if next != want["next.accept_or_decline_estimate"] {
				t.Errorf("next step %q", next)
			}
			for _, step := range []string{"step.registered", "step.authorized", "step.estimate_issued"} {
				if !strings.Contains(timeline, want[step]) {
					t.Errorf("timeline lacks %q:\n%s", want[step], timeline)
				}
			}
			for name, png := range map[string][]byte{"375": phone, "1280": desktop} {
				path := filepath.Join(artifacts, "status-result-"+lang+"-"+name+".png")
				if err := os.WriteFile(path, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	t.Run("Accept-Language and the result's language buttons", func(t *testing.T) {
		ctx := tab(t, browser)
		var status string
		err := chromedp.Run(ctx,
			network.Enable(),
			network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": "el-GR,el;q=0.9,en;q=0.5"}),
			chromedp.Navigate(base+"/status"),
			chromedp.WaitVisible(`html[lang="el"]`),
			chromedp.SendKeys("#number", c.Number),
			chromedp.SendKeys("#phone", "+359 888 123-456"),
			chromedp.Click("form.lookup button[type=submit]"),
			chromedp.WaitVisible(`html[lang="el"] .status-name`),
			chromedp.Click(`form.langs button[value="bg"]`),
			chromedp.WaitVisible(`html[lang="bg"] .status-name`),
			chromedp.Text(".status-name", &status),
		)
		if err != nil {
			t.Fatal(err)
		}
		if want := messages(t, "bg")["status.estimate_issued"]; status != want {
			t.Errorf("after switching to Bulgarian: %q, want %q", status, want)
		}
	})

	t.Run("wrong phone and unknown number say the same", func(t *testing.T) {
		var pages [2]string
		var alerts [2]string
		var shot []byte
		for i, try := range [][2]string{{c.Number, "0888 123 457"}, {"RMA-2026-424242", "0888 123 456"}} {
			ctx := tab(t, browser)
			err := chromedp.Run(ctx,
				chromedp.EmulateViewport(375, 812),
				chromedp.Navigate(base+"/status?lang=ru"),
				chromedp.SendKeys("#number", try[0]),
				chromedp.SendKeys("#phone", try[1]),
				chromedp.Click("form.lookup button[type=submit]"),
				chromedp.WaitVisible("#form-error"),
				chromedp.Text("#form-error", &alerts[i]),
				chromedp.OuterHTML("html", &pages[i]),
				chromedp.FullScreenshot(&shot, 100),
			)
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(artifacts, "status-not-found-ru-375.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
		if want := messages(t, "ru")["error.not_found"]; !strings.Contains(alerts[0], want) {
			t.Errorf("message %q, want %q", alerts[0], want)
		}
		if alerts[0] != alerts[1] || pages[0] != pages[1] {
			t.Errorf("the two failures differ:\n%s\n---\n%s", pages[0], pages[1])
		}
	})

	t.Run("keyboard order and a 360px screen", func(t *testing.T) {
		ctx := tab(t, browser)
		var order []string
		steps := []chromedp.Action{chromedp.EmulateViewport(360, 740), chromedp.Navigate(base + "/status?lang=bg"), chromedp.WaitVisible("#number")}
		for range 8 {
			var focused string
			steps = append(steps, chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(
				`(e => e.id || e.getAttribute('hreflang') || e.className || e.tagName)(document.activeElement)`, &focused),
				chromedp.ActionFunc(func(context.Context) error { order = append(order, focused); return nil }))
		}
		var formWidth, resultWidth int
		steps = append(steps,
			chromedp.Evaluate(`document.documentElement.scrollWidth`, &formWidth),
			chromedp.SendKeys("#number", c.Number),
			chromedp.SendKeys("#phone", "0888123456"),
			chromedp.Click("form.lookup button[type=submit]"),
			chromedp.WaitVisible(".status-name"),
			chromedp.Evaluate(`document.documentElement.scrollWidth`, &resultWidth),
		)
		if err := chromedp.Run(ctx, steps...); err != nil {
			t.Fatal(err)
		}
		want := []string{"skip", "en", "ru", "zh-Hans", "el", "number", "phone", "button"}
		if !slices.Equal(order, want) {
			t.Errorf("tab order %q, want %q", order, want)
		}
		if formWidth > 360 || resultWidth > 360 {
			t.Errorf("at 360px the page scrolls sideways: form %dpx, result %dpx wide", formWidth, resultWidth)
		}
	})
}
