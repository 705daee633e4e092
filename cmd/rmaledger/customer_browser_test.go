package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rmaledger/rmaledger/files/filestest"
	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestBrowserCustomerToDesk runs the customer's road through `serve --dev` in a real browser,
// every part as wired for users: a customer files a claim on the portal with a photo and a
// receipt, staff quote the paid repair, the customer opens the private link, accepts the
// estimate and pays it at the sandbox provider, and the desk, signed in to the console, sees
// the claim paid with the customer's files on it. Screenshots of each step are artifacts
// ($RMALEDGER_TEST_ARTIFACTS/journey-*.png).
func TestBrowserCustomerToDesk(t *testing.T) {
	browser := browsertest.New(t)
	dir := t.TempDir()
	s := serveInProcess(t, "--data-dir", dir, "--dev")
	base := "http://" + s.addr

	art := os.Getenv("RMALEDGER_TEST_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
	}
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	photo, receipt := filepath.Join(t.TempDir(), "screen.jpg"), filepath.Join(t.TempDir(), "receipt.pdf")
	if err := os.WriteFile(photo, filestest.JPEG(64, 48, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(receipt, filestest.PDF(""), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := chromedp.NewContext(browser)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	run := func(step string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return strings.TrimSpace(s)
	}
	shoot := func(name string) {
		t.Helper()
		var png []byte
		run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
		if err := os.WriteFile(filepath.Join(art, "journey-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The customer, on a phone.
	run("open the form", chromedp.EmulateViewport(375, 800), chromedp.Navigate(base+"/portal/claim?lang=en"), chromedp.WaitVisible(`#category`))
	run("fill in the form",
		chromedp.SetValue(`#category`, "laptop", chromedp.ByQuery),
		chromedp.SendKeys(`#serial`, "PF-7Q2M4", chromedp.ByQuery),
		chromedp.SendKeys(`#sku`, "NB-1540", chromedp.ByQuery),
		chromedp.SetValue(`#purchase_date`, time.Now().AddDate(0, -5, 0).Format("2006-01-02"), chromedp.ByQuery),
		chromedp.SendKeys(`#price`, "899.00", chromedp.ByQuery),
		chromedp.SetValue(`#proof_kind`, "receipt", chromedp.ByQuery),
		chromedp.SendKeys(`#proof_reference`, "R-2026-0412", chromedp.ByQuery),
		chromedp.SetUploadFiles(`#proof_file`, []string{receipt}, chromedp.ByQuery),
		chromedp.SendKeys(`#defect`, "Liquid spilled on the keyboard; it no longer starts.", chromedp.ByQuery),
		chromedp.SetUploadFiles(`#photos`, []string{photo}, chromedp.ByQuery),
		chromedp.SendKeys(`#name`, "Elena Dimitrova", chromedp.ByQuery),
		chromedp.SendKeys(`#email`, "elena@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#phone`, "+359 887 555 010", chromedp.ByQuery),
		chromedp.Click(`#consent`, chromedp.ByQuery),
	)
	shoot("form")
	run("file the claim", chromedp.Click(`#form-submit`, chromedp.ByQuery), chromedp.WaitVisible(`#private-link`))
	number := text(`#claim-number`)
	var link string
	run("read the link", chromedp.AttributeValue(`#private-link`, "href", &link, nil, chromedp.ByQuery))
	shoot("filed")
	if !strings.HasPrefix(link, base+"/portal/c/") {
		t.Fatalf("private link %q", link)
	}

	// The desk finds it by its number and quotes the paid repair (the agent's API key).
	code, found := s.request(t, http.MethodGet, "/v1/claims?number="+number, agentKey, "")
	items, _ := found["items"].([]any)
	for deadline := time.Now().Add(5 * time.Second); len(items) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, found = s.request(t, http.MethodGet, "/v1/claims?number="+number, agentKey, "")
		items, _ = found["items"].([]any)
	}
	if code != http.StatusOK || len(items) != 1 {
		t.Fatalf("the desk looks the claim up: %d %v", code, found)
	}
	id := items[0].(map[string]any)["id"].(string)
	if files := s.filesOf(t, id); len(files) != 2 {
		t.Fatalf("the claim holds %d files, want the receipt and the photo: %v", len(files), files)
	}
	for _, step := range []struct{ action, body string }{
		{"authorize", `{"paid_repair":true,"service_center":{"name":"Service Sofia","address":"1 Tsarigradsko shose"}}`},
		{"issue-estimate", `{"damage_level":2,"parts":{"amount":"40.00","currency":"EUR"},"labour":{"amount":"25.00","currency":"EUR"},"shipping":{"amount":"10.00","currency":"EUR"}}`},
	} {
		if code, body := s.request(t, http.MethodPost, "/v1/claims/"+id+"/actions/"+step.action, agentKey, step.body); code != http.StatusOK {
			t.Fatalf("%s: %d %v", step.action, code, body)
		}
	}

	// The customer accepts and pays at the provider (the sandbox's checkout).
	run("open the private link", chromedp.Navigate(link), chromedp.WaitVisible(`#estimate`))
	shoot("estimate")
	run("accept", chromedp.Click(`#accept-estimate`, chromedp.ByQuery), chromedp.WaitVisible(`#pay`))
	run("pay", chromedp.Click(`#pay`, chromedp.ByQuery), chromedp.WaitVisible(`main form button`))
	shoot("checkout")
	run("confirm at the provider", chromedp.Click(`main form button`, chromedp.ByQuery), chromedp.WaitVisible(`#done`))
	shoot("paid")
	if got, done := text(`#status`), text(`#done`); !strings.Contains(got, "Paid") || done != "Thank you for the payment." {
		t.Errorf("the customer's page after paying says %q, %q", got, done)
	}
	if claim := paidClaim(t, s, id); claim["status"] != "paid" {
		t.Fatalf("after paying: status %v", claim["status"])
	}

	// The desk, at a desktop, sees it paid with the customer's files.
	password := devPassword(t, dir, "dev-agent")
	run("sign in", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/console/sign-in"), chromedp.WaitVisible(`#name`),
		chromedp.SendKeys(`#name`, "dev-agent", chromedp.ByQuery), chromedp.SendKeys(`#password`, password, chromedp.ByQuery),
		chromedp.Submit(`#password`, chromedp.ByQuery), chromedp.WaitVisible(`#search`))
	run("the claim's page", chromedp.Navigate(base+"/console/claims/"+id), chromedp.WaitVisible(`main h1`))
	shoot("console")
	var page string
	run("read the page", chromedp.Text(`main`, &page, chromedp.ByQuery))
	for _, want := range []string{number, "Paid", "receipt.pdf", "screen.jpg", "Elena Dimitrova"} {
		if !strings.Contains(page, want) {
			t.Errorf("the console's claim page does not show %q", want)
		}
	}
}

// devPassword is the password serve --dev gave a development account.
func devPassword(t *testing.T, dataDir, account string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, devAccountsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range strings.Fields(string(raw)) {
		if name, password, ok := strings.Cut(pair, ":"); ok && name == account {
			return password
		}
	}
	t.Fatalf("no %s in %s", account, devAccountsFile)
	return ""
}

// filesOf lists a claim's files through the API.
func (s *served) filesOf(t *testing.T, id string) []any {
	t.Helper()
	code, body := s.request(t, http.MethodGet, "/v1/claims/"+id+"/files", agentKey, "")
	if code != http.StatusOK {
		t.Fatalf("files of %s: %d %v", id, code, body)
	}
	list, _ := body["files"].([]any)
	return list
}
