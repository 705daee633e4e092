package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCheckDocument: the service issues a claim's intake protocol as a PDF with the company
// given by flags; with the service stopped, `audit check-document` names the claim, version,
// kind and event the file is, having rendered the same bytes again from the ledger, and a copy
// with one byte changed matches nothing (exit 1).
func TestCheckDocument(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	own := filepath.Join(dir, "documents")
	if err := os.MkdirAll(own, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(own, "legal-intake.txt"), []byte("Goods not collected in 90 days are disposed of."), 0o644); err != nil {
		t.Fatal(err)
	}
	settings := []string{"--company-name", "Ledger Repairs Ltd", "--public-url", "https://rma.example.com",
		"--company-address", `7 Rakovski St\nSofia 1000`, "--documents-dir", own}
	p := start(t, dataDir, "RMALEDGER_COMPANY_NAME=Ledger Repairs Ltd", "RMALEDGER_PUBLIC_URL=https://rma.example.com",
		`RMALEDGER_COMPANY_ADDRESS=7 Rakovski St\nSofia 1000`, "RMALEDGER_DOCUMENTS_DIR="+own)
	code, got := p.post(t, "/v1/claims", registration)
	if code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, got)
	}
	id, number := got["id"].(string), got["number"].(string)
	for _, step := range []struct{ action, body string }{
		{"authorize", `{"service_center":{"name":"Sofia service","address":"1 Vitosha Blvd","country":"BG"}}`},
		{"receive", `{"condition":"as new","seals_intact":true,"received_by":"desk"}`},
	} {
		if code, got := p.post(t, "/v1/claims/"+id+"/actions/"+step.action, step.body); code != http.StatusOK {
			t.Fatalf("%s: %d %v", step.action, code, got)
		}
	}
	fetch := func(query string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/v1/claims/"+id+"/documents/intake"+query, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(testAgentKey, "agent:"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	res, page := fetch("?lang=bg&format=html")
	for _, want := range []string{"Ledger Repairs Ltd", "7 Rakovski St\nSofia 1000", "Goods not collected in 90 days", "Приемателен протокол", number} {
		if res.StatusCode != http.StatusOK || !strings.Contains(string(page), want) {
			t.Errorf("the intake page (%d) lacks %q", res.StatusCode, want)
		}
	}
	res, pdf := fetch("?lang=bg")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("the intake protocol: %d %s\n%s", res.StatusCode, pdf, p.output)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	// The documents stream verifies with the rest of the ledger.
	if out, errOut, ok := rmaledger(t, "audit", "verify", "--data-dir", dataDir); !ok || !strings.Contains(out, "OK") {
		t.Fatalf("audit verify after issuing a document: %s %s", out, errOut)
	}
	file := filepath.Join(dir, "intake.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(path string, env ...string) (string, bool) {
		t.Helper()
		out, errOut, ok := rmaledger(t, append([]string{"audit", "check-document", path, "--data-dir", dataDir}, env...)...)
		return out + errOut, ok
	}
	out, ok := check(file, settings...)
	for _, want := range []string{"intake of claim " + number, id, "version 3, in bg", "issued by", "the same bytes"} {
		if !ok || !strings.Contains(out, want) {
			t.Errorf("check-document of the issued PDF lacks %q (exit ok %v):\n%s", want, ok, out)
		}
	}
	// Rendered with other settings, the file is still the one issued, but not reproduced.
	if out, ok := check(file, append(settings, "--company-name", "Someone Else")...); !ok || !strings.Contains(out, "different bytes") {
		t.Errorf("check-document with other settings (exit ok %v):\n%s", ok, out)
	}
	pdf[len(pdf)/2] ^= 1
	changed := filepath.Join(dir, "changed.pdf")
	if err := os.WriteFile(changed, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, ok := check(changed); ok || !strings.Contains(out, "matches no document") {
		t.Errorf("check-document of a changed PDF (exit ok %v):\n%s", ok, out)
	}
}

// TestDocumentsDirIsCheckedAtStart: a deployment's document template that does not render
// keeps the service from starting, and the error names the template.
func TestDocumentsDirIsCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "document.html"), []byte(`<p>{{.Title}} {{.NoSuchField}}</p>`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, ok := rmaledger(t, "serve", "--addr", freeAddr(t), "--data-dir", filepath.Join(dir, "data"), "--documents-dir", dir,
		"--api-keys", testAgentKey)
	if ok || !strings.Contains(out+errOut, "document.html") {
		t.Errorf("the service started with a broken template (ok %v):\n%s%s", ok, out, errOut)
	}
}
