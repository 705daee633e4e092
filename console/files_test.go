package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/privacy"
	"github.com/rmaledger/rmaledger/projections"
)

// newFilesStack is a console with files: the ledger seals personal data,
// the files live in a blob directory, uploads are bounded by limits.
func newFilesStack(t testing.TB, limits files.Limits) *stack {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, err := privacy.OpenSQLite(filepath.Join(dir, privacy.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	codec := privacy.NewCodec(keys)
	book := policy.Default()
	reads, err := projections.New(privacy.Reveal(store, codec, nil), projections.Config{Dir: dir, Logger: logger, Policies: book})
	if err != nil {
		t.Fatal(err)
	}
	if err := reads.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reads.Close() })
	service, err := ledger.New(store, ledger.Config{Policies: book, Privacy: codec, Repairs: reads})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := files.NewDirStore(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	claimFiles, err := files.NewService(files.Config{Claims: service, Blobs: blobs, Privacy: codec, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{ledger: service, reads: reads, accounts: newAccounts()}
	e := echo.New()
	if err := console.Register(e, console.Config{
		Accounts: s.accounts, Reads: reads, Commands: service, Logger: logger, Policy: book.InForce(time.Now()), Files: claimFiles,
	}); err != nil {
		t.Fatal(err)
	}
	s.server = httptest.NewServer(e)
	t.Cleanup(s.server.Close)
	return s
}

// upload posts the claim page's upload form as a browser does.
func (c *client) upload(path string, fields map[string]string, name string, data []byte) page {
	c.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if name != "" {
		part, _ := w.CreateFormFile("file", name)
		part.Write(data)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.s.server.URL+path, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

var (
	uploadAction = regexp.MustCompile(`action="(/console/claims/[^"]+/files)" enctype="multipart/form-data"`)
	uploadKey    = regexp.MustCompile(`enctype="multipart/form-data"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)">\s*<input type="hidden" name="key" value="([^"]+)">`)
	downloadLink = regexp.MustCompile(`<a href="(/console/claims/[^"]+/files/[^"]+)" download>([^<]+)</a>`)
)

// TestFilesOnTheClaimPage: an agent attaches a photo from the claim page and
// downloads it back without its metadata; a refused upload shows the form
// again with the reason and writes nothing; finance reads but never uploads.
func TestFilesOnTheClaimPage(t *testing.T) {
	s := newFilesStack(t, files.Limits{MaxFileBytes: 256 << 10})
	st := s.registerClaim(t, "SN-FILES-1")
	claimPath := "/console/claims/" + st.ID.String()
	agent, _ := s.agent(t)

	p := agent.get(claimPath)
	form := uploadKey.FindStringSubmatch(p.Body)
	action := uploadAction.FindStringSubmatch(p.Body)
	if p.Code != http.StatusOK || form == nil || action == nil || !strings.Contains(p.Body, "No files are attached to this claim yet.") {
		t.Fatalf("claim page without files: %d\n%s", p.Code, p.Body)
	}
	csrf, key := form[1], form[2]

	refused := agent.upload(action[1], map[string]string{"csrf": csrf, "key": key, "step": "intake_photos"}, "front.png", filestest.PNGWithHTML())
	if refused.Code != http.StatusUnprocessableEntity || !strings.Contains(refused.Body, "This file is not accepted") ||
		!strings.Contains(refused.Body, `id="upload-problem"`) || !strings.Contains(refused.Body, `<option value="intake_photos" selected>`) {
		t.Fatalf("a polyglot: %d\n%s", refused.Code, refused.Body)
	}
	if v := s.version(t, st.ID); v != st.Version {
		t.Fatalf("the refused upload wrote: version %d, was %d", v, st.Version)
	}
	if p := agent.upload(action[1], map[string]string{"key": key}, "front.jpg", filestest.JPEG(64, 48, 1)); p.Code != http.StatusForbidden || s.version(t, st.ID) != st.Version {
		t.Fatalf("an upload without the CSRF token: %d, version %d", p.Code, s.version(t, st.ID))
	}
	if p := agent.upload(action[1], map[string]string{"csrf": csrf, "key": key}, "huge.pdf", make([]byte, 512<<10)); p.Code != http.StatusRequestEntityTooLarge || !strings.Contains(p.Body, "The file is too large") {
		t.Fatalf("an upload past the limit: %d\n%s", p.Code, p.Body)
	}

	done := agent.upload(action[1], map[string]string{"csrf": csrf, "key": key, "step": "intake_photos"}, "front.jpg", filestest.JPEG(64, 48, 1))
	if done.Code != http.StatusSeeOther || !strings.HasPrefix(done.Location, claimPath) {
		t.Fatalf("upload: %d %s\n%s", done.Code, done.Location, done.Body)
	}
	again := agent.upload(action[1], map[string]string{"csrf": csrf, "key": key, "step": "intake_photos"}, "front.jpg", filestest.JPEG(64, 48, 1))
	if again.Code != http.StatusSeeOther || s.version(t, st.ID) != st.Version+1 {
		t.Fatalf("a double submit attached twice: %d, version %d", again.Code, s.version(t, st.ID))
	}

	p = agent.get(done.Location)
	link := downloadLink.FindStringSubmatch(p.Body)
	if link == nil || link[2] != "front.jpg" || !strings.Contains(p.Body, "Intake photos") {
		t.Fatalf("the claim page lists no file:\n%s", p.Body)
	}
	got := agent.get(link[1])
	if got.Code != http.StatusOK || got.Header.Get("Content-Type") != "image/jpeg" || got.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(got.Header.Get("Content-Disposition"), `attachment; filename="front.jpg"`) {
		t.Fatalf("download: %d %v", got.Code, got.Header)
	}
	if strings.Contains(got.Body, filestest.GPSMarker) {
		t.Error("the downloaded photo still holds its GPS metadata")
	}
	if _, err := files.Inspect([]byte(got.Body), 0); err != nil {
		t.Errorf("the download is not the photo: %v", err)
	}

	finance := s.client(t)
	finance.signIn("Fay Finance", "pw-finance")
	fp := finance.get(claimPath)
	if fp.Code != http.StatusOK || uploadAction.MatchString(fp.Body) || !strings.Contains(fp.Body, link[1]) {
		t.Fatalf("finance's claim page: %d, upload form shown %v", fp.Code, uploadAction.MatchString(fp.Body))
	}
	if got := finance.get(link[1]); got.Code != http.StatusOK {
		t.Errorf("finance downloads: %d", got.Code)
	}
	token := csrfInput.FindStringSubmatch(fp.Body)[1]
	if p := finance.upload(action[1], map[string]string{"csrf": token, "key": "k2"}, "x.pdf", filestest.PDF("")); p.Code != http.StatusForbidden || s.version(t, st.ID) != st.Version+1 {
		t.Errorf("finance uploads: %d", p.Code)
	}
}

// TestFilesPageInEveryLanguage: the files section is translated.
func TestFilesPageInEveryLanguage(t *testing.T) {
	s := newFilesStack(t, files.Limits{})
	st := s.registerClaim(t, "SN-FILES-2")
	rita := s.client(t)
	rita.signIn("Rita Agent", "pw-agent")
	if p := rita.get("/console/claims/" + st.ID.String()); !strings.Contains(p.Body, "Файлы") || !strings.Contains(p.Body, "Приложить файл") {
		t.Errorf("the Russian claim page has no files section in Russian:\n%s", p.Body)
	}
}
