package email

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/notify"
)

// TestCatalogueComplete: every language has exactly English's keys, each
// key a template asks for exists, and the four other languages are
// translations, not copies of the English text.
func TestCatalogueComplete(t *testing.T) {
	cat, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	en := cat.All()[0]
	used := regexp.MustCompile(`\.T "([a-z_.\-]+)"`)
	var wanted []string
	_ = fs.WalkDir(embedded, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, _ := fs.ReadFile(embedded, p)
		for _, m := range used.FindAllStringSubmatch(string(raw), -1) {
			wanted = append(wanted, m[1])
		}
		return nil
	})
	wanted = append(wanted, "digest.subject", "digest.lead", "number.group", "number.decimal", "format.money")
	if len(wanted) < 60 {
		t.Fatalf("found only %d keys in the templates", len(wanted))
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(wanted))) {
		if !en.Has(k) {
			t.Errorf("no text for %s", k)
		}
	}
	same := map[string]bool{"format.money": true, "number.group": true, "number.decimal": true}
	for _, l := range cat.All()[1:] {
		for _, k := range en.Keys() {
			if !l.Has(k) {
				t.Errorf("%s lacks %s", l.Code, k)
			} else if !same[k] && l.T(k) == en.T(k) {
				t.Errorf("%s: %s is the English text", l.Code, k)
			}
		}
		for _, k := range l.Keys() {
			if !en.Has(k) {
				t.Errorf("%s has %s, which English lacks", l.Code, k)
			}
		}
	}
}

func TestCheckRendersEverything(t *testing.T) {
	c, err := NewCustomerComposer(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if len(c.t.kinds) != 25 {
		t.Errorf("%d kinds of message, want 25: %v", len(c.t.kinds), c.t.kinds)
	}
}

func writeOverride(t *testing.T, dir, name, text string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTemplateOverride: a deployment's template replaces the embedded one;
// one that does not parse, or does not render, is refused with its name.
func TestTemplateOverride(t *testing.T) {
	ctx := context.Background()
	good := t.TempDir()
	writeOverride(t, good, "claim.return_shipped/subject.txt", `{{.Company}} parcel for {{.Number}}: {{.Carrier}} {{.Tracking}}`)
	writeOverride(t, good, "claim.return_shipped/body.html", `{{template "top" .}}<p>Custom: {{.Tracking}}</p>{{template "bottom" .}}`)
	cfg := testConfig()
	cfg.TemplateDir = good
	c, err := NewCustomerComposer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	ms, err := c.Compose(ctx, event(1, domain.ReturnShipped{Carrier: "DHL", TrackingNumber: "JD1", At: t0}, testClaim("bg")))
	if err != nil || len(ms) == 0 {
		t.Fatal(ms, err)
	}
	if ms[0].Subject != "Acme Service parcel for RMA-2026-000042: DHL JD1" || !strings.Contains(ms[0].HTML, "<p>Custom: JD1</p>") {
		t.Errorf("the override was not used: %q\n%s", ms[0].Subject, ms[0].HTML)
	}
	if !strings.Contains(ms[0].Text, "Здравейте") {
		t.Errorf("the text template not overridden should be the embedded one:\n%s", ms[0].Text)
	}

	broken := t.TempDir()
	writeOverride(t, broken, "claim.authorized/text.txt", `{{.T "authorized.lead" .Number}`)
	cfg.TemplateDir = broken
	if _, err := NewCustomerComposer(cfg); err == nil || !strings.Contains(err.Error(), filepath.Join(broken, "claim.authorized", "text.txt")) {
		t.Errorf("a template that does not parse: %v, want its file named", err)
	}

	unknown := t.TempDir()
	writeOverride(t, unknown, "claim.received/body.html", `{{template "top" .}}{{.Nonsense}}{{template "bottom" .}}`)
	cfg.TemplateDir = unknown
	c, err = NewCustomerComposer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "claim.received/body.html") || !strings.Contains(err.Error(), "(en)") {
		t.Errorf("a template that does not render: %v, want its file and language named", err)
	}

	missingText := t.TempDir()
	writeOverride(t, missingText, "claim.closed/sms.txt", `{{.T "closed.sms.custom" .Number}}`)
	cfg.TemplateDir = missingText
	c, _ = NewCustomerComposer(cfg)
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "closed.sms.custom") || !strings.Contains(err.Error(), "claim.closed") {
		t.Errorf("a text the catalogue lacks: %v, want it named", err)
	}
}

// TestNobodyToWrite: an erased customer, or one without address and
// phone, gets nothing; without SMS on, only the e-mail goes.
func TestNobodyToWrite(t *testing.T) {
	ctx := context.Background()
	c, _ := NewCustomerComposer(testConfig())
	ev := domain.ClaimRejected{ReasonCode: "out_of_warranty", Reason: "expired", At: t0}
	erased := testClaim("en")
	erased.Erased = true
	if ms, _ := c.Compose(ctx, event(1, ev, erased)); len(ms) != 0 {
		t.Errorf("erased customer: %d messages", len(ms))
	}
	none := testClaim("en")
	none.Email, none.Phone = "", ""
	if ms, _ := c.Compose(ctx, event(1, ev, none)); len(ms) != 0 {
		t.Errorf("no address: %d messages", len(ms))
	}
	phoneOnly := testClaim("en")
	phoneOnly.Email = ""
	if ms, _ := c.Compose(ctx, event(1, ev, phoneOnly)); len(ms) != 1 || ms[0].Channel != notify.SMS {
		t.Errorf("phone only: %+v", ms)
	}
	cfg := testConfig()
	cfg.SMS = false
	mailOnly, _ := NewCustomerComposer(cfg)
	if ms, _ := mailOnly.Compose(ctx, event(1, ev, phoneOnly)); len(ms) != 0 {
		t.Errorf("SMS off, no e-mail: %d messages", len(ms))
	}
	if ms, _ := mailOnly.Compose(ctx, event(1, ev, testClaim("en"))); len(ms) != 1 || ms[0].Channel != notify.Email {
		t.Errorf("SMS off: %+v", ms)
	}
	quiet := testClaim("en")
	quiet.Quiet = true
	if ms, _ := c.Compose(ctx, event(1, domain.ClaimReceived{At: t0}, quiet)); len(ms) != 2 || ms[0].Essential {
		t.Errorf("a quiet customer's messages are composed, marked not essential, and left to the outbox: %+v", ms)
	}
	customerNote := domain.NoteAdded{Text: "Your parcel is late", Visibility: domain.VisibilityCustomer, At: t0}
	if ms, _ := c.Compose(ctx, event(1, customerNote, testClaim("en"))); len(ms) != 0 {
		t.Errorf("a note: %d messages", len(ms))
	}
}

// TestLanguageFallbackAndEscaping: an unknown language falls back to the
// deployment's default; the customer's words are escaped in the HTML.
func TestLanguageFallbackAndEscaping(t *testing.T) {
	cfg := testConfig()
	cfg.DefaultLanguage = "el"
	c, _ := NewCustomerComposer(cfg)
	cl := testClaim("fr")
	cl.Name = `<script>alert("x")</script> & Co`
	ms, err := c.Compose(context.Background(), event(1, domain.ClaimRegistered{At: t0}, cl))
	if err != nil || len(ms) != 2 {
		t.Fatal(ms, err)
	}
	if ms[0].Language != "el" || !strings.Contains(ms[0].Text, "Γεια σας") {
		t.Errorf("language %s:\n%s", ms[0].Language, ms[0].Text)
	}
	if strings.Contains(ms[0].HTML, "<script>") || !strings.Contains(ms[0].HTML, "&lt;script&gt;") || !strings.Contains(ms[0].HTML, "&amp; Co") {
		t.Errorf("the name is not escaped in the HTML:\n%s", ms[0].HTML)
	}
	if !strings.Contains(ms[0].Text, `<script>alert("x")</script> & Co`) {
		t.Errorf("the plain text must carry the name as written:\n%s", ms[0].Text)
	}
}

// TestLinkMessage: the private link goes by e-mail and SMS, essential, in
// the language asked for, with a new id per link.
func TestLinkMessage(t *testing.T) {
	c, _ := NewCustomerComposer(testConfig())
	l := Link{ClaimID: testClaimID, Number: "RMA-2026-000042", CustomerID: "cust-1", Email: "elena@example.net",
		Phone: "+359888123456", Language: "zh-Hans", Token: "tok_abc-123"}
	ms, err := c.LinkMessage(l)
	if err != nil || len(ms) != 2 {
		t.Fatal(ms, err)
	}
	url := "https://service.example.com/portal/c/tok_abc-123"
	for _, m := range ms {
		if !m.Essential || m.Kind != "portal.link" || m.Language != "zh-Hans" || !strings.Contains(m.Text, url) || !strings.Contains(m.Text, l.Number) {
			t.Errorf("%s: %+v", m.Channel, m)
		}
	}
	if !strings.Contains(ms[0].HTML, `href="`+url+`"`) || !strings.Contains(ms[0].Subject, "专属链接") {
		t.Errorf("e-mail: %q\n%s", ms[0].Subject, ms[0].HTML)
	}
	l.Token = "tok_other"
	again, _ := c.LinkMessage(l)
	if again[0].ID == ms[0].ID {
		t.Error("a new link has the id of the old one")
	}
	if _, err := c.LinkMessage(Link{ClaimID: uuid.New(), Email: "a@b.c"}); err == nil {
		t.Error("a link message without number and token")
	}
}
