package statuspage_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestHomePage: GET / answers a page in the visitor's language that leads
// to the status check and to the OpenAPI document, with the status page's
// protections, and HEAD answers the same without a body.
func TestHomePage(t *testing.T) {
	s := newStack(t, nil)
	rawKey := regexp.MustCompile(`\b(home|nav|site|page)\.[a-z_.]+\b`)
	for _, lang := range languages {
		res := s.get("/?lang="+lang, "192.0.2.4:1", "Accept-Language", "el")
		want := messages(t, lang)
		body := html.UnescapeString(res.Body)
		if res.Code != http.StatusOK || !strings.Contains(body, `<html lang="`+lang+`"`) {
			t.Fatalf("%s: %d %s", lang, res.Code, res.Body)
		}
		for _, key := range []string{"home.heading", "home.status.link", "home.api.link", "home.docs.text", "nav.skip"} {
			if !strings.Contains(body, want[key]) {
				t.Errorf("%s: the page lacks %s %q", lang, key, want[key])
			}
		}
		if m := rawKey.FindString(body); m != "" {
			t.Errorf("%s: a message key shows untranslated: %q", lang, m)
		}
		for _, link := range []string{`href="/status?lang=` + lang + `"`, `href="/openapi.yaml"`} {
			if !strings.Contains(res.Body, link) {
				t.Errorf("%s: no link %s", lang, link)
			}
		}
		if strings.Contains(res.Body, "<script") || strings.Contains(res.Body, "style=") {
			t.Errorf("%s: a script or an inline style, which the CSP forbids", lang)
		}
	}

	res := s.get("/", "192.0.2.4:1", "Accept-Language", "bg-BG,bg;q=0.9,en;q=0.5")
	for name, want := range map[string]string{
		"Content-Security-Policy": csp,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Language":        "bg",
		"Vary":                    "Accept-Language",
		"Content-Type":            "text/html; charset=UTF-8",
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, target := range []string{"/status?lang=bg", "/openapi.yaml"} {
		if linked := s.get(target, "192.0.2.4:1"); linked.Code != http.StatusOK {
			t.Errorf("the page links %s, which answers %d", target, linked.Code)
		}
	}

	req, _ := http.NewRequest(http.MethodHead, "/", nil)
	head := s.serve(req, "192.0.2.4:1")
	if head.Code != http.StatusOK || head.Body != "" || head.Header.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Errorf("HEAD /: %d %q %q", head.Code, head.Header.Get("Content-Type"), head.Body)
	}
}
