package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/documents"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
)

// newDocumentsStack is a console that prints documents and has the auditor's screens.
func newDocumentsStack(t testing.TB) (*stack, eventstore.Store) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	book := policy.Default()
	reads, err := projections.New(store, projections.Config{Dir: dir, Logger: logger, Policies: book})
	if err != nil {
		t.Fatal(err)
	}
	if err := reads.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reads.Close() })
	service, err := ledger.New(store, ledger.Config{Policies: book, Repairs: reads})
	if err != nil {
		t.Fatal(err)
	}
	r, err := documents.New(documents.Config{Company: documents.Company{Name: "Console Repairs"}, PublicURL: "https://rma.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{ledger: service, reads: reads, accounts: newAccounts()}
	e := echo.New()
	if err := console.Register(e, console.Config{
		Accounts: s.accounts, Reads: reads, Commands: service, Logger: logger, Policy: book.InForce(time.Now()),
		Audit:     console.LedgerAudit{Store: store, Trail: reads},
		Documents: &documents.Service{Renderer: r, Claims: service, Store: store},
	}); err != nil {
		t.Fatal(err)
	}
	s.server = httptest.NewServer(e)
	t.Cleanup(s.server.Close)
	return s, store
}

var printForm = regexp.MustCompile(`<form method="get" action="(/console/claims/[^"]+/documents)"`)

// TestPrintFromTheClaimPage: the claim page offers the documents the claim has (none before
// its authorization) next to the upload of a signed protocol; printing serves the PDF, records
// it once, or the page to print; a document the claim lacks is refused.
func TestPrintFromTheClaimPage(t *testing.T) {
	s, store := newDocumentsStack(t)
	st := s.registerClaim(t, "SN-DOCS-1")
	claimPath := "/console/claims/" + st.ID.String()
	agent, _ := s.agent(t)
	if p := agent.get(claimPath); p.Code != http.StatusOK || printForm.MatchString(p.Body) || !strings.Contains(p.Body, "The claim has no documents yet") ||
		!strings.Contains(p.Body, "Signed protocol") {
		t.Fatalf("the page of a registered claim: %d\n%s", p.Code, p.Body)
	}
	intact := true
	s.execute(t, st.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia hub", Address: "1 Vitosha Blvd", Country: "BG"}})
	s.execute(t, st.ID, &domain.ReceiveClaim{Condition: "as new", SealsIntact: &intact, ReceivedBy: "desk"})
	p := agent.get(claimPath)
	action := printForm.FindStringSubmatch(p.Body)
	if action == nil || !strings.Contains(p.Body, `<option value="intake">Intake protocol</option>`) ||
		!strings.Contains(p.Body, `<option value="authorization">`) || strings.Contains(p.Body, `<option value="estimate">`) {
		t.Fatalf("the print form:\n%s", p.Body)
	}
	pdf := agent.get(action[1] + "?kind=intake&lang=ru&format=pdf")
	if pdf.Code != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.Body, "%PDF-") {
		t.Fatalf("the PDF: %d %v", pdf.Code, pdf.Header)
	}
	agent.get(action[1] + "?kind=intake&lang=ru&format=pdf")
	recs, err := store.ReadStream(context.Background(), eventlog.Documents.Stream(st.ID), eventstore.Forwards, 0, 0)
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].Data), `"issued_by":"Ana Agent"`) {
		t.Fatalf("printing twice recorded %d events (%v), want 1 by Ana Agent", len(recs), err)
	}
	page := agent.get(action[1] + "?kind=intake&lang=ru&format=html")
	if page.Code != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") || !strings.Contains(page.Body, "Акт приёма") {
		t.Errorf("the page to print: %d\n%s", page.Code, page.Body)
	}
	if p := agent.get(action[1] + "?kind=estimate"); p.Code != http.StatusConflict || !strings.Contains(p.Body, "no such document yet") {
		t.Errorf("a document the claim lacks: %d\n%s", p.Code, p.Body)
	}
	if p := agent.get(action[1] + "?kind=invoice"); p.Code != http.StatusNotFound {
		t.Errorf("an unknown kind: %d", p.Code)
	}
}

// TestAuditorChecksAPrintedDocument: the auditor uploads an issued PDF and learns which claim,
// version and document it is; a copy with one byte changed matches nothing; only auditors
// check, and a post without the CSRF token is refused.
func TestAuditorChecksAPrintedDocument(t *testing.T) {
	s, _ := newDocumentsStack(t)
	st := s.registerClaim(t, "SN-DOCS-2")
	s.execute(t, st.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia hub", Address: "1 Vitosha Blvd", Country: "BG"}})
	agent, _ := s.agent(t)
	pdf := agent.get("/console/claims/" + st.ID.String() + "/documents?kind=authorization&format=pdf&lang=el").Body
	if p := agent.get(console.DocumentCheckPath); p.Code != http.StatusForbidden {
		t.Errorf("an agent on the check page: %d", p.Code)
	}

	auditor := s.client(t)
	auditor.signIn("Al Auditor", "pw-auditor")
	if p := auditor.get(console.AuditPath); !strings.Contains(p.Body, `href="`+console.DocumentCheckPath+`"`) {
		t.Errorf("the audit trail does not lead to the check:\n%s", p.Body)
	}
	form := auditor.get(console.DocumentCheckPath)
	token := csrfInput.FindStringSubmatch(form.Body)
	if form.Code != http.StatusOK || token == nil || !strings.Contains(form.Body, `<label for="check-file">`) {
		t.Fatalf("the check page: %d\n%s", form.Code, form.Body)
	}
	res := auditor.upload(console.DocumentCheckPath, map[string]string{"csrf": token[1]}, "paper.pdf", []byte(pdf))
	want := "This file is the RMA authorization of claim " + st.Number + " at version 2."
	if res.Code != http.StatusOK || !strings.Contains(res.Body, want) || !strings.Contains(res.Body, "the same bytes") ||
		!strings.Contains(res.Body, "/console/audit/claims/"+st.ID.String()+"?version=2") {
		t.Fatalf("checking the issued PDF: %d\n%s", res.Code, res.Body)
	}
	changed := []byte(pdf)
	changed[len(changed)/2] ^= 1
	res = auditor.upload(console.DocumentCheckPath, map[string]string{"csrf": token[1]}, "paper.pdf", changed)
	if res.Code != http.StatusOK || !strings.Contains(res.Body, "matches no document issued from the ledger") || strings.Contains(res.Body, want) {
		t.Errorf("checking a changed PDF: %d\n%s", res.Code, res.Body)
	}
	if res := auditor.upload(console.DocumentCheckPath, map[string]string{"csrf": token[1]}, "", nil); res.Code != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "Choose a PDF file") {
		t.Errorf("no file: %d\n%s", res.Code, res.Body)
	}
	if res := auditor.upload(console.DocumentCheckPath, nil, "paper.pdf", []byte(pdf)); res.Code != http.StatusForbidden {
		t.Errorf("a check without the CSRF token: %d", res.Code)
	}
}

// TestPartnerPrintsItsOwnClaimsOnly: a partner prints its organisation's claim's documents;
// another organisation's claim is not found, and nothing is recorded for it.
func TestPartnerPrintsItsOwnClaimsOnly(t *testing.T) {
	s, store := newDocumentsStack(t)
	s.accounts.people["Pat Partner"] = account{password: "pw-partner", person: console.Person{ID: uuid.NewString(), Name: "Pat Partner", Role: "partner", Organisation: "acme"}}
	authorize := &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia hub", Address: "1 Vitosha Blvd", Country: "BG"}}
	own, other := s.registerFor(t, "acme", "SN-ACME-DOC", "Acme customer"), s.registerFor(t, "globex", "SN-GLOBEX-DOC", "Globex customer")
	s.execute(t, own.ID, authorize)
	s.execute(t, other.ID, authorize)
	c := s.client(t)
	c.signIn("Pat Partner", "pw-partner")
	if p := c.get("/console/claims/" + own.ID.String() + "/documents?kind=authorization&format=pdf"); p.Code != http.StatusOK || !strings.HasPrefix(p.Body, "%PDF-") {
		t.Errorf("the partner's own claim: %d", p.Code)
	}
	if p := c.get("/console/claims/" + other.ID.String() + "/documents?kind=authorization&format=pdf"); p.Code != http.StatusNotFound {
		t.Errorf("another organisation's claim: %d, want 404", p.Code)
	}
	if _, err := store.ReadStream(context.Background(), eventlog.Documents.Stream(other.ID), eventstore.Forwards, 0, 0); err == nil {
		t.Error("a document of another organisation's claim was issued")
	}
}
