package statuspage_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/api/statuspage"
)

const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// TestNoEnumeration: an unknown number and a wrong phone are the same
// answer, status, headers and body byte for byte, on the page and in JSON,
// so that neither tells which claim numbers exist.
func TestNoEnumeration(t *testing.T) {
	s := newStack(t, nil)
	c := s.register(t, "+359 888 123 401")
	s.register(t, "+359 888 123 402")
	unknown := "RMA-2026-999999"
	wrongPhone := "+359 888 123 402" // another customer's phone

	t.Run("json", func(t *testing.T) {
		// Each request carries the same request id, which the problem repeats.
		wrong := s.get(statusQuery(c.Number, wrongPhone), "192.0.2.1:1000", "X-Request-Id", "fixed")
		none := s.get(statusQuery(unknown, c.Phone), "192.0.2.1:1000", "X-Request-Id", "fixed")
		neither := s.get(statusQuery(unknown, wrongPhone), "192.0.2.1:1000", "X-Request-Id", "fixed")
		if wrong.Code != http.StatusNotFound {
			t.Fatalf("wrong phone: %d %s", wrong.Code, wrong.Body)
		}
		sameAnswer(t, wrong, none)
		sameAnswer(t, wrong, neither)
		var p map[string]any
		if err := json.Unmarshal([]byte(wrong.Body), &p); err != nil || p["type"] != "urn:rmaledger:problem:status-not-found" {
			t.Errorf("problem %s (%v)", wrong.Body, err)
		}
		if ct := wrong.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("content type %q", ct)
		}
	})
	t.Run("page", func(t *testing.T) {
		for _, lang := range []string{"en", "ru", "bg", "zh-Hans", "el"} {
			wrong := s.post(url.Values{"number": {c.Number}, "phone": {wrongPhone}, "lang": {lang}}, "192.0.2.2:1000", "X-Request-Id", "fixed")
			none := s.post(url.Values{"number": {unknown}, "phone": {c.Phone}, "lang": {lang}}, "192.0.2.2:1000", "X-Request-Id", "fixed")
			if wrong.Code != http.StatusNotFound || !strings.Contains(wrong.Body, `role="alert"`) {
				t.Fatalf("%s wrong phone: %d %s", lang, wrong.Code, wrong.Body)
			}
			sameAnswer(t, wrong, none)
			for _, leak := range []string{c.Number, "123 401", "123 402", unknown} {
				if strings.Contains(wrong.Body, leak) {
					t.Errorf("%s: the failure page repeats %q", lang, leak)
				}
			}
		}
	})
	t.Run("the right phone still works", func(t *testing.T) {
		if res := s.get(statusQuery(c.Number, c.Phone), "192.0.2.1:1000"); res.Code != http.StatusOK {
			t.Fatalf("%d %s", res.Code, res.Body)
		}
	})
}

func sameAnswer(t *testing.T, a, b response) {
	t.Helper()
	if a.Code != b.Code || a.Body != b.Body {
		t.Errorf("answers differ:\n%d %s\n---\n%d %s", a.Code, a.Body, b.Code, b.Body)
	}
	for name := range a.Header {
		if a.Header.Get(name) != b.Header.Get(name) {
			t.Errorf("header %s: %q vs %q", name, a.Header.Get(name), b.Header.Get(name))
		}
	}
	if len(a.Header) != len(b.Header) {
		t.Errorf("headers differ: %v vs %v", a.Header, b.Header)
	}
}

// TestStatusJSON covers the partners' route: what it answers, what it
// forgives and what it refuses.
func TestStatusJSON(t *testing.T) {
	s := newStack(t, nil)
	c := s.register(t, "+359 888 123 456")
	s.advance(t, c)

	for _, typed := range []string{"+359 888 123 456", "0888 123 456", "00359888123456", "359-888-123-456", "(0888) 123.456"} {
		res := s.get(statusQuery(strings.ToLower(c.Number), typed), "192.0.2.9:1")
		if res.Code != http.StatusOK {
			t.Fatalf("phone %q: %d %s", typed, res.Code, res.Body)
		}
	}
	res := s.get(statusQuery(" "+strings.ReplaceAll(strings.ToLower(c.Number), "-", " ")+" ", "0888123456"), "192.0.2.9:1")
	if res.Code != http.StatusOK {
		t.Fatalf("number with spaces: %d %s", res.Code, res.Body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(res.Body), &v); err != nil {
		t.Fatal(err)
	}
	if v["number"] != c.Number || v["status"] != "estimate_issued" || v["next_step"] != "accept_or_decline_estimate" {
		t.Errorf("view %s", res.Body)
	}
	// The route sends the read model's stored JSON as it is: it must be
	// exactly what encoding the decoded view gives, as the page sees it.
	view, err := s.reads.StatusLookup(t.Context(), c.Number, c.Phone)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := json.Marshal(view)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(encoded) + "\n"; res.Body != want {
		t.Errorf("the JSON route's body is not the encoded view:\n%s\nwant\n%s", res.Body, want)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if est, _ := v["estimate"].(map[string]any); est == nil || est["total"].(map[string]any)["amount"] != "1252.50" {
		t.Errorf("estimate %v", v["estimate"])
	}
	for _, secret := range []string{c.ID, customerName, customerMail, internalNote, staffName, serial, "1299.90", "888123456", "R-1001"} {
		if strings.Contains(res.Body, secret) {
			t.Errorf("the JSON status shows %q", secret)
		}
	}
	if !strings.Contains(res.Body, customerNote) || !strings.Contains(res.Body, "SP123456789") {
		t.Errorf("the customer note or the tracking number is missing: %s", res.Body)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}

	for _, bad := range []struct {
		target, slug string
	}{
		{"/v1/status?number=" + c.Number, "invalid-parameter"},
		{"/v1/status?phone=0888123456", "invalid-parameter"},
		{statusQuery(c.Number, "call me maybe"), "invalid-parameter"},
		{statusQuery("RMA<2026>", "0888123456"), "invalid-parameter"},
		{statusQuery(strings.Repeat("9", 65), "0888123456"), "invalid-parameter"},
		{statusQuery(c.Number, "0888123456") + "&lang=en", "unknown-parameter"},
		{statusQuery(c.Number, "0888123456") + "&phone=0888123456", "repeated-parameter"},
	} {
		res := s.get(bad.target, "192.0.2.9:1")
		var p map[string]any
		_ = json.Unmarshal([]byte(res.Body), &p)
		if res.Code != http.StatusBadRequest || p["type"] != "urn:rmaledger:problem:"+bad.slug {
			t.Errorf("%s: %d %s, want 400 %s", bad.target, res.Code, res.Body, bad.slug)
		}
	}
}

// TestPageHeadersAndResult checks the page's headers and what the result
// shows: the status in plain words, dates in the claim's zone, the
// customer's own estimate in the language's notation, and nothing internal.
func TestPageHeadersAndResult(t *testing.T) {
	s := newStack(t, nil)
	c := s.register(t, "+359 888 123 456")
	s.advance(t, c)

	form := s.get("/status", "192.0.2.3:1", "Accept-Language", "bg-BG,bg;q=0.9,en;q=0.5")
	if form.Code != http.StatusOK || !strings.Contains(form.Body, `<html lang="bg"`) || !strings.Contains(form.Body, "Номер на рекламацията") {
		t.Fatalf("form: %d %s", form.Code, form.Body)
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": csp,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Content-Language":        "bg",
		"Content-Type":            "text/html; charset=UTF-8",
	} {
		if got := form.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if strings.Contains(form.Body, "<script") || strings.Contains(form.Body, "style=") {
		t.Error("the page has a script or an inline style, which its CSP forbids")
	}
	if got := s.get("/status?lang=el", "192.0.2.3:1", "Accept-Language", "bg").Body; !strings.Contains(got, `<html lang="el"`) {
		t.Error("?lang=el does not win over Accept-Language")
	}
	if got := s.get("/status?lang=zh-CN", "192.0.2.3:1").Body; !strings.Contains(got, `<html lang="zh-Hans"`) {
		t.Error("?lang=zh-CN is not served in Simplified Chinese")
	}
	if got := s.get("/status?number=rma-2026-000001", "192.0.2.3:1").Body; !strings.Contains(got, `value="RMA-2026-000001"`) {
		t.Error("?number= does not prefill the claim number")
	}

	res := s.post(url.Values{"number": {c.Number}, "phone": {"0888 123 456"}, "lang": {"ru"}}, "192.0.2.3:1")
	if res.Code != http.StatusOK {
		t.Fatalf("result: %d %s", res.Code, res.Body)
	}
	body := html.UnescapeString(res.Body)
	for _, want := range []string{
		`<html lang="ru"`,
		"Смета на ремонт ожидает вашего решения",   // the status in plain words
		"Примите или отклоните, пожалуйста, смету", // what happens next
		"1\u00a0252,50 BGN",       // the estimate, Russian notation
		"2 марта 2026 г., 15:04",  // registered 13:04 UTC, shown in Sofia time
		"Заявка зарегистрирована", // the timeline
		"SP123456789", "Speedy", customerNote,
		"UTC+02:00 (Europe/Sofia)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the result lacks %q", want)
		}
	}
	for _, secret := range []string{c.ID, customerName, customerMail, internalNote, staffName, serial, "1299", "R-1001", "12 Rakovski"} {
		if strings.Contains(body, secret) {
			t.Errorf("the result page shows %q", secret)
		}
	}
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Content-Security-Policy") != csp {
		t.Errorf("result headers %v", res.Header)
	}

	css := s.get("/status/style.css", "192.0.2.3:1")
	if css.Code != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") || !strings.Contains(form.Body, `href="/status/style.css?v=`) {
		t.Errorf("stylesheet: %d %v", css.Code, css.Header)
	}
}

// TestRateLimits: per client address and per claim number, 429 with
// Retry-After, in JSON and on the page, lifted by waiting.
func TestRateLimits(t *testing.T) {
	s := newStack(t, func(cfg *api.Config) {
		cfg.StatusPage.PerClient = statuspage.Limit{Burst: 3, Every: 10 * time.Second}
		cfg.StatusPage.PerNumber = statuspage.Limit{Burst: 5, Every: time.Minute}
	})
	c := s.register(t, "+359 888 123 456")

	t.Run("per client", func(t *testing.T) {
		for i := range 3 {
			if res := s.get(statusQuery(c.Number, "+359 888 000 000"), "198.51.100.1:1"); res.Code != http.StatusNotFound {
				t.Fatalf("attempt %d: %d", i+1, res.Code)
			}
		}
		res := s.get(statusQuery(c.Number, c.Phone), "198.51.100.1:2")
		var p map[string]any
		_ = json.Unmarshal([]byte(res.Body), &p)
		if res.Code != http.StatusTooManyRequests || p["type"] != "urn:rmaledger:problem:rate-limited" || res.Header.Get("Retry-After") != "10" {
			t.Fatalf("4th attempt: %d %v %s", res.Code, res.Header, res.Body)
		}
		// Spoofed X-Forwarded-For is not believed without trusted proxies.
		if res := s.get(statusQuery(c.Number, c.Phone), "198.51.100.1:3", "X-Forwarded-For", "203.0.113.77"); res.Code != http.StatusTooManyRequests {
			t.Errorf("X-Forwarded-For escaped the limit: %d", res.Code)
		}
		// The same /64 is the same client; another address is not.
		if res := s.get(statusQuery(c.Number, c.Phone), "198.51.100.2:1"); res.Code != http.StatusOK {
			t.Errorf("another client: %d %s", res.Code, res.Body)
		}
		page := s.post(url.Values{"number": {c.Number}, "phone": {c.Phone}, "lang": {"el"}}, "198.51.100.1:4")
		if page.Code != http.StatusTooManyRequests || !strings.Contains(page.Body, "Πάρα πολλές προσπάθειες") || page.Header.Get("Retry-After") == "" {
			t.Errorf("page: %d %v %s", page.Code, page.Header, page.Body)
		}
		s.clock.Advance(10 * time.Second)
		if res := s.get(statusQuery(c.Number, c.Phone), "198.51.100.1:5"); res.Code != http.StatusOK {
			t.Errorf("after waiting: %d %s", res.Code, res.Body)
		}
	})

	t.Run("per claim number, from many addresses", func(t *testing.T) {
		other := s.register(t, "+359 888 123 999")
		for i := range 5 {
			res := s.get(statusQuery(other.Number, "+359 888 000 000"), fmt.Sprintf("203.0.113.%d:1", i+1))
			if res.Code != http.StatusNotFound {
				t.Fatalf("attempt %d: %d", i+1, res.Code)
			}
		}
		res := s.get(statusQuery(other.Number, other.Phone), "203.0.113.9:1")
		if res.Code != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "60" {
			t.Fatalf("6th attempt on one number: %d %v", res.Code, res.Header)
		}
		// The limit counts the number, not its spelling.
		if res := s.get(statusQuery(strings.ToLower(other.Number), other.Phone), "203.0.113.10:1"); res.Code != http.StatusTooManyRequests {
			t.Errorf("lower-case spelling escaped the limit: %d", res.Code)
		}
		// An unknown number is limited the same way: the 429 tells nothing either.
		for i := range 5 {
			if res := s.get(statusQuery("RMA-2026-777777", other.Phone), fmt.Sprintf("203.0.113.%d:1", 100+i)); res.Code != http.StatusNotFound {
				t.Fatalf("unknown number, attempt %d: %d", i+1, res.Code)
			}
		}
		if res := s.get(statusQuery("RMA-2026-777777", other.Phone), "203.0.113.20:1"); res.Code != http.StatusTooManyRequests {
			t.Errorf("unknown number not limited: %d", res.Code)
		}
	})
}

// TestTrustedProxies: behind a configured proxy, clients are told apart by
// X-Forwarded-For; a forged header from outside is still not believed.
func TestTrustedProxies(t *testing.T) {
	s := newStack(t, func(cfg *api.Config) {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		cfg.StatusPage.PerClient = statuspage.Limit{Burst: 1, Every: time.Hour}
	})
	c := s.register(t, "+359 888 123 456")
	q := statusQuery(c.Number, c.Phone)
	if res := s.get(q, "10.1.1.1:1", "X-Forwarded-For", "203.0.113.1"); res.Code != http.StatusOK {
		t.Fatalf("first client: %d", res.Code)
	}
	if res := s.get(q, "10.1.1.1:1", "X-Forwarded-For", "203.0.113.2"); res.Code != http.StatusOK {
		t.Fatalf("second client through the proxy: %d", res.Code)
	}
	if res := s.get(q, "10.1.1.1:1", "X-Forwarded-For", "203.0.113.1"); res.Code != http.StatusTooManyRequests {
		t.Fatalf("first client again: %d", res.Code)
	}
	if res := s.get(q, "198.51.100.7:1", "X-Forwarded-For", "203.0.113.3"); res.Code != http.StatusOK {
		t.Fatalf("direct client: %d", res.Code)
	}
	if res := s.get(q, "198.51.100.7:1", "X-Forwarded-For", "203.0.113.4"); res.Code != http.StatusTooManyRequests {
		t.Fatalf("a direct client forging X-Forwarded-For got through: %d", res.Code)
	}
}

// TestLogsKeepNoPhone: the request log shows the JSON route without its
// query string, so phone numbers never reach the logs.
func TestLogsKeepNoPhone(t *testing.T) {
	s := newStack(t, nil)
	c := s.register(t, "+359 888 123 456")
	s.get(statusQuery(c.Number, "0888 123 456"), "192.0.2.5:1")
	s.post(url.Values{"number": {c.Number}, "phone": {"0888 123 456"}}, "192.0.2.5:1")
	logs := s.logs.String()
	if !strings.Contains(logs, "uri=/v1/status ") || !strings.Contains(logs, "uri=/status ") {
		t.Fatalf("the status requests are not logged:\n%s", logs)
	}
	for _, secret := range []string{"0888", "123+456", "123%20456", "888123456"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q:\n%s", secret, logs)
		}
	}
}
