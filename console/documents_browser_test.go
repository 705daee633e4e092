package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestBrowserDocuments: in a real browser, an auditor prints a received claim's intake
// protocol as a page from the claim page, then checks an issued PDF on the check page. The
// claim page's documents section, the printable page and both check screens are photographed
// at 375 and 1280 px and checked with axe-core.
func TestBrowserDocuments(t *testing.T) {
	s, _ := newDocumentsStack(t)
	st := s.registerClaim(t, "SN-BROWSER-DOCS")
	intact := true
	s.execute(t, st.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia hub", Address: "1 Vitosha Blvd", Country: "BG"}})
	s.execute(t, st.ID, &domain.ReceiveClaim{Condition: "as new", Accessories: []string{"charger"}, SealsIntact: &intact, ReceivedBy: "desk"})
	agent, _ := s.agent(t)
	pdf := agent.get("/console/claims/" + st.ID.String() + "/documents?kind=intake&format=pdf&lang=bg")
	file := filepath.Join(t.TempDir(), "intake.pdf")
	if err := os.WriteFile(file, []byte(pdf.Body), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t)
	shots := &screens{t: t, dir: browsertest.ArtifactDir(t), axe: browsertest.Axe()}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("bypass CSP for axe", chromedp.ActionFunc(func(ctx context.Context) error { return cdppage.SetBypassCSP(true).Do(ctx) }))
	run("sign in",
		chromedp.Navigate(s.server.URL+"/console/sign-in"),
		chromedp.WaitVisible(`#name`),
		chromedp.SendKeys(`#name`, "Al Auditor"),
		chromedp.SendKeys(`#password`, "pw-auditor"),
		chromedp.Click(`form.stack button[type=submit]`),
		chromedp.WaitVisible(`.tabs`),
	)
	run("open the claim", chromedp.Navigate(s.server.URL+"/console/claims/"+st.ID.String()), chromedp.WaitVisible(`#document-kind`))
	run("scroll to the documents", chromedp.ScrollIntoView(`#documents-title`))
	shots.take(ctx, "claim-documents")

	run("print the intake protocol as a page",
		chromedp.SetValue(`#document-kind`, "intake"),
		chromedp.SetValue(`#document-format`, "html"),
		chromedp.Click(`form.print-documents button[type=submit]`),
		chromedp.WaitVisible(`main.sheet`),
	)
	var sheet string
	run("read the page", chromedp.Text(`main.sheet`, &sheet))
	for _, want := range []string{"Intake protocol", st.Number, "SN-BROWSER-DOCS", "charger", "Console Repairs"} {
		if !strings.Contains(sheet, want) {
			t.Errorf("the printable page lacks %q:\n%s", want, sheet)
		}
	}
	shots.take(ctx, "document-intake")

	run("open the check", chromedp.Navigate(s.server.URL+"/console/audit/documents"), chromedp.WaitVisible(`#check-file`))
	shots.take(ctx, "document-check")
	run("check the PDF",
		chromedp.SetUploadFiles(`#check-file`, []string{file}),
		chromedp.Click(`form.upload button[type=submit]`),
		chromedp.WaitVisible(`#check-result`),
	)
	var result string
	run("read the answer", chromedp.Text(`#check-result`, &result))
	if !strings.Contains(result, "This file is the Intake protocol of claim "+st.Number+" at version 3.") || !strings.Contains(result, "the same bytes") {
		t.Errorf("the check says %q", result)
	}
	shots.take(ctx, "document-check-match")
}
