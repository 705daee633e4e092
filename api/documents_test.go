package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/documents"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// withDocuments wires the documents service over the test server's store and ledger.
func withDocuments(t *testing.T) testOption {
	return func(w *testWiring) {
		var store eventstore.Store
		prevStore, prevConfig := w.ledgerStore, w.config
		w.ledgerStore = func(s eventstore.Store) eventstore.Store { store = s; return prevStore(s) }
		w.config = func(c *Config) {
			if prevConfig != nil {
				prevConfig(c)
			}
			r, err := documents.New(documents.Config{Company: documents.Company{Name: "Acme Service"}, PublicURL: "https://rma.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			c.Documents = &documents.Service{Renderer: r, Claims: c.Ledger, Store: store}
		}
	}
}

// TestDocumentsAPI: a claim's document as PDF (issued once, recorded) or as a printable page by
// Accept or ?format=, at a past version, and every refusal as problem+json writing nothing.
func TestDocumentsAPI(t *testing.T) {
	ts := newTestServer(t, withDocuments(t))
	id := ts.register()
	path := "/v1/claims/" + id + "/documents/"
	problem := func(res response, code int, slug string) {
		t.Helper()
		if res.Code != code || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(res.Body), slug) {
			t.Errorf("want %d %s: %d %s %s", code, slug, res.Code, res.Header.Get("Content-Type"), res.Body)
		}
	}

	before := ts.eventCount()
	res := ts.do(http.MethodGet, path+"intake", RoleAgent, nil)
	problem(res, http.StatusConflict, "document-not-available")
	if !strings.Contains(string(res.Body), "the item was not received") {
		t.Errorf("the refusal does not say why: %s", res.Body)
	}
	ts.act(id, "authorize", map[string]any{"service_center": map[string]any{"name": "Sofia service center", "address": "1 Vitosha Blvd", "country": "BG"}})
	ts.act(id, "receive", map[string]any{"condition": "scratched lid", "seals_intact": true, "received_by": "tech-1"})
	problem(ts.do(http.MethodGet, path+"intake?version=2", RoleAgent, nil), http.StatusConflict, "document-not-available")
	problem(ts.do(http.MethodGet, path+"intake?version=9", RoleAgent, nil), http.StatusNotFound, "version-not-found")
	problem(ts.do(http.MethodGet, path+"intake?version=x", RoleAgent, nil), http.StatusBadRequest, "invalid-version")
	problem(ts.do(http.MethodGet, path+"invoice", RoleAgent, nil), http.StatusNotFound, "document-kind-not-found")
	problem(ts.do(http.MethodGet, path+"intake?format=doc", RoleAgent, nil), http.StatusBadRequest, "invalid-format")
	problem(ts.do(http.MethodGet, path+"intake", RoleAgent, nil, "Accept", "application/json"), http.StatusNotAcceptable, "not-acceptable")
	problem(ts.do(http.MethodGet, path+"intake", "", nil), http.StatusUnauthorized, "")
	problem(ts.do(http.MethodGet, "/v1/claims/8a0c1e38-5b43-4a5e-9c55-0d6d2b9f7c11/documents/intake", RoleAgent, nil), http.StatusNotFound, "not-found")
	if n := ts.eventCount(); n != before+2 {
		t.Fatalf("the refusals wrote events: %d, want %d (the two actions)", n, before+2)
	}

	pdf := ts.do(http.MethodGet, path+"intake?lang=ru", RoleAuditor, nil, "Accept", "application/pdf")
	if pdf.Code != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf.Body, []byte("%PDF-")) ||
		pdf.Header.Get("X-Claim-Version") != "3" || !strings.HasPrefix(pdf.Header.Get("Digest"), "sha-256=") || pdf.Header.Get("Content-Language") != "ru" {
		t.Fatalf("the PDF: %d %v", pdf.Code, pdf.Header)
	}
	if n := ts.eventCount(); n != before+3 {
		t.Fatalf("serving the PDF recorded %d events, want 1", n-before-2)
	}
	again := ts.do(http.MethodGet, path+"intake?lang=ru", RoleAgent, nil)
	if !bytes.Equal(again.Body, pdf.Body) || ts.eventCount() != before+3 {
		t.Errorf("the same document again: same bytes %v, events %d; want the same bytes and nothing recorded", bytes.Equal(again.Body, pdf.Body), ts.eventCount()-before)
	}
	recs, err := ts.store.ReadStream(t.Context(), eventlog.Documents.Prefix()+id, eventstore.Forwards, 0, 0)
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].Data), `"issued_by":"auditor`) {
		t.Fatalf("the documents stream: %v %v", recs, err)
	}

	for _, tc := range []struct{ query, accept string }{
		{"", "text/html,application/xhtml+xml,*/*;q=0.8"},
		{"?format=html", "application/pdf"},
	} {
		page := ts.do(http.MethodGet, path+"authorization"+tc.query, RoleFinance, nil, "Accept", tc.accept, "Accept-Language", "el")
		if page.Code != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(page.Body), "Εξουσιοδότηση επιστροφής") || !strings.Contains(string(page.Body), "Sofia service center") {
			t.Errorf("%s, Accept %s: %d %s", tc.query, tc.accept, page.Code, page.Header.Get("Content-Type"))
		}
	}
	if ts.eventCount() != before+3 {
		t.Error("serving the page recorded an event: only an issued PDF is recorded")
	}
	old := ts.do(http.MethodGet, path+"authorization?version=2&format=html", RoleAgent, nil)
	if old.Code != http.StatusOK || old.Header.Get("X-Claim-Version") != "2" {
		t.Errorf("a past version: %d %v", old.Code, old.Header)
	}
}

// TestDocumentsUnconfigured: without documents the route answers 501.
func TestDocumentsUnconfigured(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	res := ts.do(http.MethodGet, "/v1/claims/"+id+"/documents/intake", RoleAgent, nil)
	if res.Code != http.StatusNotImplemented || !strings.Contains(string(res.Body), "documents-unavailable") {
		t.Errorf("%d %s", res.Code, res.Body)
	}
}

// TestPartnerDocuments: a partner prints its own organisation's claim's documents; another
// organisation's claim does not exist for it.
func TestPartnerDocuments(t *testing.T) {
	ts, claims := partnerServer(t, withDocuments(t))
	own := claims[acme].id
	ts.act(own, "authorize", map[string]any{"service_center": map[string]any{"name": "Acme hub", "address": "Main 1", "country": "BG"}})
	path := "/v1/claims/" + own + "/documents/authorization"
	if res := ts.do(http.MethodGet, path, acme, nil); res.Code != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("the partner's own claim: %d %s", res.Code, res.Body)
	}
	before := ts.eventCount()
	if res := ts.do(http.MethodGet, path, globex, nil); res.Code != http.StatusNotFound {
		t.Errorf("another organisation's claim: %d, want 404", res.Code)
	}
	if ts.eventCount() != before {
		t.Error("another organisation's request recorded an issue")
	}
}
