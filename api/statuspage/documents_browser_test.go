package statuspage_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestBrowserOutstandingDocuments: in a real Chromium, in every language, the page asks for the
// documents first (the default policy checks them before the goods) and lists only those still
// awaited; once the last one is in, the list is gone.
func TestBrowserOutstandingDocuments(t *testing.T) {
	browser := browsertest.New(t)
	s := newStack(t, nil)
	s.clock.Advance(300 * 24 * time.Hour) // into December 2026, where the default policy's seeds-2 checks documents first
	c := s.register(t, "+359 888 123 456")
	act := func(action string, body any) map[string]any {
		return s.call(t, s.agent, "/v1/claims/"+c.ID+"/actions/"+action, body)
	}
	act("authorize", map[string]any{
		"service_center":      map[string]any{"name": "Sofia service center", "address": "1 Vitosha Blvd, Sofia", "country": "BG"},
		"documents_requested": []string{"claim form", "receipt copy"},
	})
	s.wait(t, act("receive-documents", map[string]any{"documents": []string{"claim form"}}))
	base := s.url(t)
	artifacts := browsertest.ArtifactDir(t)

	lookup := func(t *testing.T, lang string, actions ...chromedp.Action) {
		t.Helper()
		steps := append([]chromedp.Action{
			chromedp.EmulateViewport(375, 812),
			chromedp.Navigate(base + "/status?lang=" + lang),
			chromedp.SendKeys("#number", c.Number),
			chromedp.SendKeys("#phone", "0888 123 456"),
			chromedp.Click("form.lookup button[type=submit]"),
			chromedp.WaitVisible(".status-name"),
		}, actions...)
		if err := chromedp.Run(tab(t, browser), steps...); err != nil {
			t.Fatal(err)
		}
	}
	for _, lang := range languages {
		t.Run(lang, func(t *testing.T) {
			want := messages(t, lang)
			var heading, items, next string
			var shot []byte
			lookup(t, lang,
				chromedp.Text(`#outstanding-title`, &heading),
				chromedp.Text(`ul.outstanding`, &items),
				chromedp.Text(`section[aria-labelledby="next-title"] p`, &next),
				chromedp.FullScreenshot(&shot, 100),
			)
			if heading != want["result.documents_outstanding"] {
				t.Errorf("heading %q, want %q", heading, want["result.documents_outstanding"])
			}
			if strings.TrimSpace(items) != "receipt copy" {
				t.Errorf("outstanding %q, want only the receipt copy", items)
			}
			if next != want["next.send_documents"] {
				t.Errorf("next step %q, want %q", next, want["next.send_documents"])
			}
			if err := os.WriteFile(filepath.Join(artifacts, "status-documents-"+lang+"-375.png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("gone once all are in", func(t *testing.T) {
		s.wait(t, act("receive-documents", map[string]any{"documents": []string{"receipt copy"}}))
		var sections int
		var next string
		lookup(t, "en",
			chromedp.Evaluate(`document.querySelectorAll('#outstanding-title').length`, &sections),
			chromedp.Text(`section[aria-labelledby="next-title"] p`, &next),
		)
		if sections != 0 {
			t.Errorf("the outstanding documents are still listed")
		}
		if want := messages(t, "en")["next.ship_item"]; next != want {
			t.Errorf("next step %q, want %q", next, want)
		}
	})
}
