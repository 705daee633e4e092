package console_test

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/console"
)

// TestFirstClaimGuide: an empty desk shows, in every language, the numbered
// steps of a first claim with a link to the registration form; once a claim
// is on the desk the guide is gone.
func TestFirstClaimGuide(t *testing.T) {
	s := newStack(t)
	c, _ := s.agent(t)
	for _, lang := range []string{"en", "ru", "bg", "zh-Hans", "el"} {
		raw, err := os.ReadFile("messages/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var msg map[string]string
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatal(err)
		}
		c.get(console.LanguagePath + "?to=" + lang + "&back=" + url.QueryEscape(console.QueuesPath))
		p := c.get(console.QueuesPath)
		i := strings.Index(p.Body, `<section class="guide"`)
		if i < 0 {
			t.Fatalf("%s: no guide on an empty desk:\n%s", lang, p.Body)
		}
		guide := p.Body[i : i+strings.Index(p.Body[i:], "</section>")]
		if n := strings.Count(guide, "<li>"); n != 7 {
			t.Errorf("%s: %d steps, want 7 (register, authorize, arrival, diagnose, repair, ship, close)", lang, n)
		}
		if !strings.Contains(guide, `<a href="`+console.RegisterPath+`">`+msg["queues.guide-register"]+`</a>`) {
			t.Errorf("%s: the first step does not link to the registration form:\n%s", lang, guide)
		}
		for _, key := range []string{"queues.guide", "queues.guide-authorize", "queues.guide-close"} {
			if !strings.Contains(guide, template(msg[key])) {
				t.Errorf("%s: %s (%q) missing from the guide", lang, key, msg[key])
			}
		}
	}
	s.registerClaim(t, "SN-GUIDE-1")
	if p := c.get(console.QueuesPath); strings.Contains(p.Body, `class="guide"`) {
		t.Error("the first-claim guide still shows with a claim on the desk")
	}
}

// template is text as html/template writes it in a page.
func template(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", `"`, "&#34;", "<", "&lt;", ">", "&gt;").Replace(s)
}
