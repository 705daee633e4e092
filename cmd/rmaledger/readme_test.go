package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestREADMEWalkthrough runs the README's curl walk-through, as written,
// against the real binary started the way `make run` starts it.
func TestREADMEWalkthrough(t *testing.T) {
	lines, got := runREADMEBlock(t, "walkthrough")
	if len(lines) < 2 || !strings.Contains(lines[len(lines)-2], `"status":"closed"`) {
		t.Errorf("the claim did not end closed:\n%s", got)
	}
	if !strings.Contains(lines[len(lines)-1], `"type":"claim.closed.v1"`) {
		t.Errorf("the history does not end with the closure:\n%s", lines[len(lines)-1])
	}
}

// TestREADMEOtherPaths runs the README's block of other paths (help without the goods, an
// estimate paid before the goods travel, another model with the price difference), as written,
// against the real binary started the way `make run` starts it.
func TestREADMEOtherPaths(t *testing.T) {
	lines, got := runREADMEBlock(t, "otherpaths")
	has := func(line string, parts ...string) bool {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				return false
			}
		}
		return true
	}
	find := func(what string, parts ...string) {
		t.Helper()
		for _, line := range lines {
			if has(line, parts...) {
				return
			}
		}
		t.Errorf("no answer shows %s (%v):\n%s", what, parts, got)
	}
	find("the remote fix closed", `"status":"closed"`, `"kind":"resolved_remotely"`, `"phone":"+359888765432"`, `"reported_at":`)
	find("the confirmed estimate ready for the paid repair", `"status":"paid"`, `"confirms_estimate":true`)
	find("the paid repair started", `"status":"in_repair"`)
	find("the price difference owed", `"difference_charge":{"amount":"200.00","currency":"BGN"}`)
	if last := lines[len(lines)-1]; !has(last, `"kind":"price_difference","entry":"approval"`, `"kind":"price_difference","entry":"payment"`) ||
		strings.Count(last, `"status":"settled"`) != 2 {
		t.Errorf("finance does not show the price difference owed and paid:\n%s", last)
	}
}

// runREADMEBlock starts the real binary the way `make run` does, on a new data directory, and
// runs the README's block of that name against it with bash; it returns the non-empty lines of
// the output (one JSON answer per line) and the whole output.
func runREADMEBlock(t *testing.T, name string) ([]string, string) {
	t.Helper()
	return runREADMEBlockWith(t, name, func(string) {})
}

// runREADMEBlockWith is runREADMEBlock with prepare given the block's directory first.
func runREADMEBlockWith(t *testing.T, name string, prepare func(dir string)) ([]string, string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it so that CI runs this test")
	}
	block := readmeBlock(t, name)
	workDir := t.TempDir()
	prepare(workDir)
	addr := freeAddr(t)
	server := exec.Command(buildBinary(t), "serve", "--dev", "--addr", addr, "--data-dir", filepath.Join(workDir, "data"))
	server.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
	out := &lockedBuffer{}
	server.Stdout, server.Stderr = out, out
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "serving"); {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	script := exec.Command("bash", "-euo", "pipefail", "-c", block)
	script.Dir = workDir
	script.Env = append(os.Environ(), "BASE=http://"+addr)
	got, err := script.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's %s block failed: %v\n%s\nserver:\n%s", name, err, got, out)
	}
	var lines []string
	for _, line := range strings.Split(string(got), "\n") {
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	return lines, string(got)
}

// readmeBlock returns the shell block between <!-- name:begin --> and
// <!-- name:end --> in the README.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- "+name+":begin -->")
	block, _, ok2 := strings.Cut(block, "<!-- "+name+":end -->")
	if !ok || !ok2 {
		t.Fatalf("README has no %s block", name)
	}
	block = strings.TrimSpace(block)
	return strings.TrimSuffix(strings.TrimPrefix(block, "```sh"), "```")
}

// TestREADMEFiles runs the README's files block, as written, against the real binary: a photo
// attached to a step, listed, downloaded as an attachment, and a page named like a photo refused.
func TestREADMEFiles(t *testing.T) {
	lines, got := runREADMEBlock(t, "files")
	for _, want := range [][]string{
		{`"content_type":"image/png"`, `"step":"intake_photos"`, `"name":"intake.png"`},
		{`"files":[`, `"href":"/v1/claims/`},
		{`attachment; filename="intake.png"`},
		{`nosniff`},
		{`"type":"urn:rmaledger:problem:file-type"`, `"status":415`},
	} {
		found := false
		for _, line := range lines {
			all := true
			for _, part := range want {
				all = all && strings.Contains(line, part)
			}
			found = found || all
		}
		if !found {
			t.Errorf("no line shows %v:\n%s", want, got)
		}
	}
}

// TestREADMEPortalLinks runs the README's portal-links block as written: a claim's links
// revoked, then a new one sent.
func TestREADMEPortalLinks(t *testing.T) {
	lines, got := runREADMEBlock(t, "portallinks")
	if len(lines) != 2 || lines[0] != "204" || !strings.Contains(lines[1], `"expires_at":`) {
		t.Fatalf("want 204, then the new link's expiry:\n%s", got)
	}
}

// TestREADMEPayments runs the README's payments block as written against `make run`'s service:
// the payment link of an accepted estimate is the sandbox's checkout.
func TestREADMEPayments(t *testing.T) {
	lines, got := runREADMEBlock(t, "payments")
	if len(lines) != 1 || !strings.Contains(lines[0], `"url":"http://`) || !strings.Contains(lines[0], "/payments/sandbox/checkout/") {
		t.Fatalf("want the sandbox's checkout link:\n%s", got)
	}
}

// TestREADMEDocuments runs the README's documents block as written: a document the claim does
// not have yet is refused saying why, the authorization comes as a PDF with its digest and as a
// page in Bulgarian.
func TestREADMEDocuments(t *testing.T) {
	lines, got := runREADMEBlock(t, "documents")
	for _, want := range [][]string{
		{`"status":409`, `document-not-available`, `the item was not received`},
		{`Content-Type: application/pdf`},
		{`Digest: sha-256=`},
		{`<h1>Разрешение за връщане (RMA)</h1>`},
	} {
		found := false
		for _, line := range lines {
			all := true
			for _, part := range want {
				all = all && strings.Contains(line, part)
			}
			found = found || all
		}
		if !found {
			t.Errorf("no line shows %v:\n%s", want, got)
		}
	}
}

// TestREADMEWebhooks runs the README's webhooks block as written: a receiver subscribed through
// the API gets the claim's registration and verifies its signature with the Standard Webhooks
// library. The block builds the example receiver from the repository, as a user does from its
// root: the test's directory gets the module's files beside the service's data directory.
func TestREADMEWebhooks(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH; the block builds the example receiver with it")
	}
	lines, got := runREADMEBlockWith(t, "webhooks", func(dir string) {
		for _, name := range []string{"go.mod", "go.sum", "examples"} {
			abs, err := filepath.Abs(filepath.Join("..", "..", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(lines) != 1 || !regexp.MustCompile(`^claim\.registered RMA-\d{4}-\d{6} registered$`).MatchString(lines[0]) {
		t.Fatalf("want the receiver's one verified registration:\n%s", got)
	}
}
