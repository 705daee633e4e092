package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestBrowserFiles: in a real browser, an agent attaches an intake photo
// from the claim page and sees it listed with its download link; a PNG with
// a page appended is refused beside the form. Both screens are photographed
// at 375 and 1280 px and checked with axe-core.
func TestBrowserFiles(t *testing.T) {
	s := newFilesStack(t, files.Limits{})
	st := s.registerClaim(t, "SN-BROWSER-FILES")
	ctx := newBrowser(t)
	shots := &screens{t: t, dir: browsertest.ArtifactDir(t), axe: browsertest.Axe()}
	dir := t.TempDir()
	photo, polyglot := filepath.Join(dir, "intake-front.jpg"), filepath.Join(dir, "photo.png")
	if err := os.WriteFile(photo, filestest.JPEG(640, 480, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(polyglot, filestest.PNGWithHTML(), 0o644); err != nil {
		t.Fatal(err)
	}
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
		chromedp.SendKeys(`#name`, "Ana Agent"),
		chromedp.SendKeys(`#password`, "pw-agent"),
		chromedp.Click(`form.stack button[type=submit]`),
		chromedp.WaitVisible(`.tabs`),
	)
	run("open the claim", chromedp.Navigate(s.server.URL+"/console/claims/"+st.ID.String()), chromedp.WaitVisible(`#upload-file`))
	shots.take(ctx, "claim-files-empty")

	run("attach a polyglot",
		chromedp.SetUploadFiles(`#upload-file`, []string{polyglot}),
		chromedp.Click(`form.upload button[type=submit]`),
		chromedp.WaitVisible(`#upload-problem`),
	)
	var problem string
	run("read the problem", chromedp.Text(`#upload-problem`, &problem))
	if !strings.Contains(problem, "This file is not accepted") {
		t.Errorf("the refusal says %q", problem)
	}
	shots.take(ctx, "claim-files-refused")

	run("attach the photo",
		chromedp.SetValue(`#upload-step`, "intake_photos"),
		chromedp.SetUploadFiles(`#upload-file`, []string{photo}),
		chromedp.Click(`form.upload button[type=submit]`),
		chromedp.WaitVisible(`.files-list a[download]`),
	)
	var listed string
	run("read the list", chromedp.Text(`.files-list`, &listed))
	if !strings.Contains(listed, "intake-front.jpg") || !strings.Contains(listed, "Intake photos") {
		t.Errorf("the list says %q", listed)
	}
	shots.take(ctx, "claim-files")
}
