package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focused describes the element with the keyboard focus and whether it
// shows a focus indicator (an outline or a box shadow).
const focused = `(() => {
	const el = document.activeElement, s = getComputedStyle(el);
	const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
	return {html: el.outerHTML.slice(0, 80), visible: outline || s.boxShadow !== 'none'};
})()`

// TestBrowserKeyboardOnly: a person signs in and adds a note to a claim with
// the keyboard alone (Tab, Shift+Tab, Enter, Space and typing), and every
// element the focus reaches on the way shows where the focus is.
func TestBrowserKeyboardOnly(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-KEYBOARD-1")
	ctx := newBrowser(t)
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	is := func(selector string) bool {
		t.Helper()
		var ok bool
		run("where is the focus", chromedp.Evaluate(`document.activeElement.matches(`+quoteJS(selector)+`)`, &ok))
		return ok
	}
	// tabTo presses Tab until selector has the focus, checking the focus
	// indicator of every element passed.
	tabTo := func(selector string) {
		t.Helper()
		for range 120 {
			run("Tab", chromedp.KeyEvent(kb.Tab))
			var f struct {
				HTML    string `json:"html"`
				Visible bool   `json:"visible"`
			}
			run("focused element", chromedp.Evaluate(focused, &f))
			if !f.Visible {
				t.Errorf("no visible focus indicator on %s", f.HTML)
			}
			if is(selector) {
				return
			}
		}
		t.Fatalf("Tab never reaches %s", selector)
	}

	run("open the console", chromedp.Navigate(s.server.URL+"/console/queues"), chromedp.WaitVisible(`#name`))
	tabTo(`#name`)
	run("type the name", chromedp.KeyEvent("Ana Agent"))
	tabTo(`#password`)
	run("type the password", chromedp.KeyEvent("pw-agent"))
	run("Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(input.ModifierShift)))
	if !is(`#name`) {
		t.Error("Shift+Tab from the password does not go back to the name")
	}
	tabTo(`#password`)
	run("Enter signs in", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(`.tabs`))

	run("open the claim", chromedp.Navigate(s.server.URL+"/console/claims/"+claim.ID.String()), chromedp.WaitVisible(`#action-add-note summary`))
	tabTo(`#action-add-note summary`)
	run("Space opens the form", chromedp.KeyEvent(" "), chromedp.WaitVisible(`#action-add-note [name="text"]`))
	tabTo(`#action-add-note [name="text"]`)
	run("type the note", chromedp.KeyEvent("called by keyboard"))
	tabTo(`#action-add-note button[type=submit]`)
	run("Enter submits", chromedp.KeyEvent(kb.Enter))
	for deadline := time.Now().Add(15 * time.Second); s.version(t, claim.ID) == claim.Version; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			var body string
			_ = chromedp.Run(ctx, chromedp.Text(`main`, &body, chromedp.ByQuery))
			t.Fatalf("the note sent by keyboard was not recorded:\n%s", body)
		}
	}
	var body string
	run("read the claim", chromedp.WaitVisible(`[data-status]`), chromedp.Text(`main`, &body, chromedp.ByQuery))
	if !strings.Contains(body, "called by keyboard") {
		t.Errorf("the claim page does not show the note:\n%s", body)
	}
}

// quoteJS is s as a JavaScript string literal.
func quoteJS(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
