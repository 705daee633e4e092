package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREADMEOtherPaths runs the README's block of other paths (help without the goods, an
// estimate paid before the goods travel, another model with the price difference), as written,
// against the real binary started the way `make run` starts it.
func TestREADMEOtherPaths(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it so that CI runs this test")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- otherpaths:begin -->")
	block, _, ok2 := strings.Cut(block, "<!-- otherpaths:end -->")
	if !ok || !ok2 {
		t.Fatal("README has no otherpaths block")
	}
	block = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(block), "```sh"), "```")

	workDir := t.TempDir()
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
		t.Fatalf("the other paths failed: %v\n%s\nserver:\n%s", err, got, out)
	}
	var lines []string // one JSON answer per line
	for _, line := range strings.Split(string(got), "\n") {
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
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
