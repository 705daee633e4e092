package portal_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/portal"
)

// TestCustomerDocuments: through the private link the customer downloads the documents meant
// for them that the claim has, in the page's language, each issued and recorded once; the
// staff's own papers (the intake protocol) and documents the claim lacks are not served.
func TestCustomerDocuments(t *testing.T) {
	e := newEnv(t, options{documents: true})
	c := e.client()
	_, link := c.file(validClaim(c.csrf(portal.FormPath)))
	if p := c.get(link); p.Code != http.StatusOK || strings.Contains(p.Body, `id="documents-title"`) {
		t.Fatalf("a registered claim offers documents: %d", p.Code)
	}
	if p := c.get(link + "/documents/authorization"); p.Code != http.StatusNotFound || !strings.Contains(p.Body, "This claim has no such document.") {
		t.Errorf("a document the claim lacks: %d\n%s", p.Code, p.Body)
	}
	claim := e.claimOf(link)
	e.staff(claim.ID, repaired()...)
	page := c.get(link + "?lang=ru")
	for _, want := range []string{`id="documents-title"`, "Ваши документы", link + "/documents/authorization?lang=ru", link + "/documents/service-report?lang=ru", "Сервисный отчёт (PDF)"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the claim page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, "/documents/intake") {
		t.Error("the claim page offers the customer the staff's intake protocol")
	}
	if p := c.get(link + "/documents/intake"); p.Code != http.StatusNotFound {
		t.Errorf("the intake protocol through the private link: %d", p.Code)
	}
	pdf := c.get(link + "/documents/service-report?lang=ru")
	if pdf.Code != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Body, "%PDF-") ||
		!strings.Contains(pdf.Header.Get("Content-Disposition"), claim.Number+"-service-report.pdf") {
		t.Fatalf("the service report: %d %v", pdf.Code, pdf.Header)
	}
	c.get(link + "/documents/service-report?lang=ru")
	recs, err := e.store.ReadStream(context.Background(), eventlog.Documents.Stream(claim.ID), eventstore.Forwards, 0, 0)
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].Data), `"language":"ru"`) || !strings.Contains(string(recs[0].Data), `"role":"customer"`) {
		t.Fatalf("the issued documents: %d %v", len(recs), err)
	}
	if p := c.get(portal.LinkPrefix + "not-a-token/documents/service-report"); p.Code != http.StatusNotFound || strings.HasPrefix(p.Body, "%PDF") {
		t.Errorf("a wrong token: %d", p.Code)
	}
}
