package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREADMEWalkthrough runs the README's curl walk-through, as written,
// against the real binary started the way `make run` starts it.
func TestREADMEWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it so that CI runs this test")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- walkthrough:begin -->")
	block, _, ok2 := strings.Cut(block, "<!-- walkthrough:end -->")
	if !ok || !ok2 {
		t.Fatal("README has no walkthrough block")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimSuffix(strings.TrimPrefix(block, "```sh"), "```")

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
		t.Fatalf("walkthrough failed: %v\n%s\nserver:\n%s", err, got, out)
	}
	var lines []string // one JSON answer per line
	for _, line := range strings.Split(string(got), "\n") {
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) < 2 || !strings.Contains(lines[len(lines)-2], `"status":"closed"`) {
		t.Errorf("the claim did not end closed:\n%s", got)
	}
	if !strings.Contains(lines[len(lines)-1], `"type":"claim.closed.v1"`) {
		t.Errorf("the history does not end with the closure:\n%s", lines[len(lines)-1])
	}
}
