package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/portal"
)

// serve mounts the customer portal: a claim filed on the form opens with
// its private link, staff revoke the link through the API, and audit
// exports withhold the links' stream. The token never reaches the log,
// except that --dev writes the links it would send there.
func TestServeMountsThePortal(t *testing.T) {
	t.Run("production", func(t *testing.T) { servePortal(t, false) })
	t.Run("dev", func(t *testing.T) { servePortal(t, true) })
}

// TestPublicURLSetting: the private links the portal hands out start with
// --public-url (RMALEDGER_PUBLIC_URL), not with the host the request came
// to, so that a link is right behind a proxy; an address that is not an
// origin refuses to start.
func TestPublicURLSetting(t *testing.T) {
	s := serveInProcess(t, "--data-dir", t.TempDir(), "--public-url", "https://rma.example.com")
	s.waitReady(t)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := browser.Get("http://" + s.addr + portal.FormPath)
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(form)
	if csrf == nil {
		t.Fatal("no CSRF token on the claim form")
	}
	res, err = browser.PostForm("http://"+s.addr+portal.FormPath, url.Values{
		"csrf": {string(csrf[1])}, "category": {"laptop"}, "serial": {"SN-PUBLIC-1"}, "purchase_date": {"2026-01-10"},
		"price": {"999.00"}, "currency": {"EUR"}, "defect": {"Does not start."}, "name": {"Ivan Petrov"},
		"email": {"ivan@example.com"}, "phone": {"+359888123456"}, "language": {"en"}, "consent": {"yes"},
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !regexp.MustCompile(`id="private-link" href="https://rma\.example\.com/portal/c/[^"]+"`).Match(body) {
		t.Fatalf("the private link does not start with the public URL: %d\n%s", res.StatusCode, body)
	}

	var out strings.Builder
	if err := run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--public-url", "rma.example.com/portal"}, &out); err == nil || !strings.Contains(err.Error(), "public-url") {
		t.Fatalf("serve with a public URL that is no origin: %v", err)
	}
}

func servePortal(t *testing.T, dev bool) {
	args := []string{"--data-dir", t.TempDir()}
	if dev {
		args = append(args, "--dev")
	}
	s := serveInProcess(t, args...)
	s.waitReady(t)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		res, err := browser.Get("http://" + s.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, form := get(portal.FormPath)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if code != http.StatusOK || csrf == nil {
		t.Fatalf("the claim form: %d", code)
	}
	if !strings.Contains(form, `id="proof_file" name="proof_file" type="file"`) || !strings.Contains(form, `id="photos" name="photos" type="file"`) {
		t.Error("the claim form takes no receipt or photos: the files service is not wired to it")
	}
	res, err := browser.PostForm("http://"+s.addr+portal.FormPath, url.Values{
		"csrf": {csrf[1]}, "category": {"laptop"}, "serial": {"SN-PORTAL-1"}, "purchase_date": {"2026-01-10"},
		"price": {"999.00"}, "currency": {"EUR"}, "defect": {"Does not start."}, "name": {"Ivan Petrov"},
		"email": {"ivan@example.com"}, "phone": {"+359888123456"}, "language": {"en"}, "consent": {"yes"},
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	link := regexp.MustCompile(`id="private-link" href="http://[^/]+(/portal/c/[^"]+)"`).FindStringSubmatch(string(body))
	if res.StatusCode != http.StatusCreated || link == nil {
		t.Fatalf("filing: %d\n%s", res.StatusCode, body)
	}
	if code, page := get(link[1]); code != http.StatusOK || !strings.Contains(page, "Registered, waiting for review") {
		t.Fatalf("the private link: %d", code)
	}
	var items []any
	var found map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(items) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, found = s.request(t, http.MethodGet, "/v1/claims?serial=SN-PORTAL-1", agentKey, "")
		items, _ = found["items"].([]any)
	}
	if len(items) != 1 {
		t.Fatalf("the claim is not in the read model: %v", found)
	}
	id := items[0].(map[string]any)["id"].(string)
	if code, _ := s.request(t, http.MethodDelete, "/v1/claims/"+id+"/portal-link", agentKey, ""); code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := get(link[1]); code != http.StatusNotFound {
		t.Fatalf("the revoked link: %d", code)
	}
	token := strings.TrimPrefix(link[1], portal.LinkPrefix)
	logged := s.output.String()
	switch {
	case !strings.Contains(logged, "/portal/c/:token"):
		t.Fatalf("the link's requests are not in the request log:\n%s", logged)
	case dev && strings.Count(logged, token) != 1:
		t.Fatalf("--dev logs the link it would send once, and only that: %d times\n%s", strings.Count(logged, token), logged)
	case !dev && strings.Contains(logged, token):
		t.Fatalf("the token is in the log:\n%s", logged)
	case !dev && !strings.Contains(logged, "no sender is configured"):
		t.Fatalf("an undelivered link is not reported:\n%s", logged)
	case strings.Contains(logged, "ivan@example.com") || strings.Contains(logged, "Ivan Petrov"):
		t.Fatalf("the customer's personal data is in the log:\n%s", logged)
	}
	if !withheld("portal-link-"+id) || !withheld("account-x") || withheld("claim-"+id) {
		t.Fatal("audit exports must withhold the portal's links and the accounts, and only them")
	}
	if code, home := get("/"); code != http.StatusOK || !strings.Contains(home, `href="/portal/claim?lang=en"`) {
		t.Fatal("the home page does not lead to the claim form")
	}
}
