package documents

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/browsertest"
)

func newRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := New(Config{
		Company: Company{Name: "Acme Service Ltd", Address: "12 Main Street\nSofia 1000",
			Legal: map[Kind]string{Release: "Claims about the release are accepted within 14 days."}},
		PublicURL: "https://rma.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tool returns the path of a poppler tool, or skips the test saying why.
func tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian's poppler-utils): the PDFs' text cannot be checked here", name)
	}
	return path
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// squeeze drops every space, so that where the PDF's lines break does not matter.
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\t' || r == '\u00a0' || r == '\f' || r == '\r'
	}), "")
}

// claimWith is the sample claim with one customer's non-Latin name, so that every font is
// exercised whatever the language.
func claimWith(name string) domain.State {
	s := SampleClaim()
	s.Customer.Name = name
	return s
}

// TestEveryKindInEveryLanguage renders every document in every language as a PDF, extracts
// its text with pdftotext and finds the claim's facts and the language's words in it, checks
// with pdffonts that every font is embedded, and keeps a PNG of each page as an artifact.
func TestEveryKindInEveryLanguage(t *testing.T) {
	tool(t, "pdftotext")
	r := newRenderer(t)
	artifacts := filepath.Join(browsertest.ArtifactDir(t), "documents")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	s := claimWith("Ιωάννα Петрова 王芳")
	dir := t.TempDir()
	for _, l := range r.cat.All() {
		for _, k := range Kinds() {
			name := string(k) + "-" + l.Code
			pdf, err := r.PDF(Request{Claim: s, Kind: k, Lang: l.Code, At: s.UpdatedAt})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			file := filepath.Join(dir, name+".pdf")
			if err := os.WriteFile(file, pdf, 0o644); err != nil {
				t.Fatal(err)
			}
			text := squeeze(run(t, "pdftotext", "-enc", "UTF-8", file, "-"))
			facts := []string{s.Number, l.T("title." + string(k)), l.T("head.number"), "Acme Service Ltd", s.Customer.Name}
			switch k {
			case Authorization:
				facts = append(facts, "Central service", "warranty card", l.T("next.send"))
			case Intake:
				facts = append(facts, s.Product.Serial, "scratched lid", "charger", l.T("seals.intact"))
			case Release:
				facts = append(facts, s.Product.Serial, "port replaced", l.T("resolution.repaired"), "within 14 days")
			case Estimate:
				facts = append(facts, s.Product.Serial, l.money(s.Estimate.Total), l.money(s.Estimate.Parts), l.T("decision.accepted"))
			case ServiceReport:
				facts = append(facts, s.Product.Serial, "charging port worn", "USB-C port", l.T("outcome.defect_confirmed"))
			case CreditNote:
				facts = append(facts, "CN-1", l.money(s.CreditNotes[0].Amount))
			}
			for _, f := range facts {
				if !strings.Contains(text, squeeze(f)) {
					t.Errorf("%s: the PDF's text lacks %q", name, f)
				}
			}
			fonts := run(t, "pdffonts", file)
			for _, line := range strings.Split(fonts, "\n")[2:] {
				f := strings.Fields(line)
				if len(f) >= 5 && f[len(f)-5] != "yes" {
					t.Errorf("%s: a font is not embedded: %s", name, line)
				}
			}
			for _, family := range []string{"utf8dejavusans ", "utf8dejavusansB ", "utf8droidsansfallback "} {
				if !strings.Contains(fonts, family) {
					t.Errorf("%s: font %s missing:\n%s", name, family, fonts)
				}
			}
			if len(pdf) > 200_000 {
				t.Errorf("%s: %d bytes: the fonts are not subset", name, len(pdf))
			}
			run(t, "pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", file, filepath.Join(artifacts, name))
		}
	}
}

// TestSameVersionSameBytes: a document rendered twice from the same claim version is
// byte-identical, and a later version (a different date) is not.
func TestSameVersionSameBytes(t *testing.T) {
	r := newRenderer(t)
	s := claimWith("王芳 Петрова")
	for _, k := range Kinds() {
		req := Request{Claim: s, Kind: k, Lang: "zh-Hans", At: s.UpdatedAt}
		a, err := r.PDF(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := r.PDF(req)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renderings of the same version differ", k)
		}
		req.At = req.At.Add(time.Hour)
		c, _ := r.PDF(req)
		if bytes.Equal(a, c) {
			t.Errorf("%s: a different time renders the same bytes", k)
		}
	}
}

// TestErasedCustomer: the personal fields of an erased customer print as [erased].
func TestErasedCustomer(t *testing.T) {
	r := newRenderer(t)
	s := SampleClaim()
	s.Customer = domain.Customer{Name: domain.Erased, Phone: domain.Erased, Email: domain.Erased, Address: domain.Erased}
	s.PersonalDataErased = true
	page, err := r.HTML(Request{Claim: s, Kind: Release, Lang: "ru", At: s.UpdatedAt})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(page), domain.Erased) < 4 || strings.Contains(string(page), "ivana@example.com") {
		t.Errorf("the erased customer's fields do not all print [erased]:\n%s", page)
	}
	tool(t, "pdftotext")
	pdf, err := r.PDF(Request{Claim: s, Kind: Intake, Lang: "el", At: s.UpdatedAt})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "erased.pdf")
	os.WriteFile(file, pdf, 0o644)
	text := run(t, "pdftotext", "-enc", "UTF-8", file, "-")
	if strings.Count(text, domain.Erased) < 4 || strings.Contains(text, "ivana@example.com") {
		t.Errorf("the PDF shows personal data of an erased customer:\n%s", text)
	}
}

// TestHTMLPage: the page is in the language, holds the facts and the QR code to the public
// status page (never a private link), and has no script.
func TestHTMLPage(t *testing.T) {
	r := newRenderer(t)
	s := SampleClaim()
	page, err := r.HTML(Request{Claim: s, Kind: Estimate, Lang: "bg", At: s.UpdatedAt})
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{`<html lang="bg">`, "Оферта за ремонт", s.Number, "73,00 EUR", "@page", "size: A4",
		`href="https://rma.example.com/status?number=RMA-2026-000001"`, `src="data:image/png;base64,`} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(html), "<script") {
		t.Error("the page has a script")
	}
}

// TestNotYet: a claim without the step has no such document, and says why.
func TestNotYet(t *testing.T) {
	r := newRenderer(t)
	s := SampleClaim()
	s.Estimate, s.Intake = nil, nil
	for _, k := range []Kind{Estimate, Intake} {
		_, err := r.PDF(Request{Claim: s, Kind: k, Lang: "en", At: s.UpdatedAt})
		var notYet *NotYetError
		if !errors.As(err, &notYet) || notYet.Kind != k || notYet.Reason == "" {
			t.Errorf("%s: %v", k, err)
		}
	}
	if got := Available(s); len(got) != 4 {
		t.Errorf("Available = %v", got)
	}
}

// TestTemplatesOverriddenAndChecked: a deployment's template replaces the built-in one, and
// one that fails is refused at start, naming the template and the language.
func TestTemplatesOverriddenAndChecked(t *testing.T) {
	own := fstest.MapFS{TemplateFile: {Data: []byte(`<!doctype html><html lang="{{.Lang}}"><title>{{.Title}}</title><p>Our own {{.Title}}</p><p>{{.Legal}}</p></html>`)},
		"legal-intake.txt": {Data: []byte("Goods are kept 90 days.\n")}}
	r, err := New(Config{Company: Company{Name: "X"}, Templates: own})
	if err != nil {
		t.Fatal(err)
	}
	s := SampleClaim()
	page, err := r.HTML(Request{Claim: s, Kind: Intake, Lang: "el", At: s.UpdatedAt})
	if err != nil || !strings.Contains(string(page), "Our own Πρωτόκολλο παραλαβής") || !strings.Contains(string(page), "<p>Goods are kept 90 days.</p>") {
		t.Errorf("the deployment's template is not used: %s, %v", page, err)
	}
	broken := fstest.MapFS{TemplateFile: {Data: []byte(`<p>{{.Title}} {{index .Steps 3}}</p>`)}}
	_, err = New(Config{Templates: broken})
	if err == nil || !strings.Contains(err.Error(), TemplateFile) || !strings.Contains(err.Error(), "language en") {
		t.Errorf("a template that fails to render: %v", err)
	}
	_, err = New(Config{Templates: fstest.MapFS{TemplateFile: {Data: []byte(`{{.Nope`)}}})
	if err == nil || !strings.Contains(err.Error(), TemplateFile) {
		t.Errorf("a template that does not parse: %v", err)
	}
}

// TestCheckedAgainWhenAnInputDiffers: New skips the check of a renderer like one that passed
// before, and only such a one: the same template with another company's legal text, on which
// it fails, is refused.
func TestCheckedAgainWhenAnInputDiffers(t *testing.T) {
	picky := fstest.MapFS{TemplateFile: {Data: []byte(`<p>{{.Title}} {{if eq .Legal "boom"}}{{index .Steps 99}}{{end}}</p>`)}}
	calm := Config{Company: Company{Name: "Picky", Legal: map[Kind]string{Intake: "calm"}}, Templates: picky}
	for range 2 {
		if _, err := New(calm); err != nil {
			t.Fatalf("a template that renders: %v", err)
		}
	}
	boom := Config{Company: Company{Name: "Picky", Legal: map[Kind]string{Intake: "boom"}}, Templates: picky}
	if _, err := New(boom); err == nil || !strings.Contains(err.Error(), TemplateFile) {
		t.Errorf("a template that fails on this company's legal text was taken: %v", err)
	}
}

// TestLogo: a logo prints on the PDF, and a file that is no image is refused.
func TestLogo(t *testing.T) {
	png, _ := qrPNG("logo")
	r, err := New(Config{Company: Company{Name: "X", Logo: png}})
	if err != nil {
		t.Fatal(err)
	}
	s := SampleClaim()
	plain, err := New(Config{Company: Company{Name: "X"}})
	if err != nil {
		t.Fatal(err)
	}
	with, _ := r.PDF(Request{Claim: s, Kind: Intake, Lang: "en", At: s.UpdatedAt})
	without, _ := plain.PDF(Request{Claim: s, Kind: Intake, Lang: "en", At: s.UpdatedAt})
	if !bytes.Contains(with, []byte("/Subtype /Image")) || bytes.Contains(without, []byte("/Subtype /Image")) {
		t.Error("the logo is not in the PDF")
	}
	if _, err := New(Config{Company: Company{Logo: []byte("not an image")}}); err == nil {
		t.Error("a logo that is no image is taken")
	}
}
