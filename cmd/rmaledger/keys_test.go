package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// keysCmd runs `rmaledger keys ARGS...` against a data directory and
// returns its standard output; it fails the test unless the command does.
func keysCmd(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	out, err := keysCmdErr(t, dataDir, args...)
	if err != nil {
		t.Fatalf("keys %v: %v\n%s", args, err, out)
	}
	return out
}

func keysCmdErr(t *testing.T, dataDir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), append(append([]string{"keys"}, args...), "--data-dir", dataDir)...)
	cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// getAs sends GET path with a bearer key and returns the status.
func (p *process) getAs(t *testing.T, key, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	code, _ := p.send(t, req)
	return code
}

// TestKeysCommandsWhileServing adds, lists and revokes a key with the
// commands while the service runs: the key works at once, and after the
// revocation its next request is refused, without a restart.
func TestKeysCommandsWhileServing(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, dataDir)

	out := keysCmd(t, dataDir, "add", "--role", "technician", "--name", "desk-1", "--expires", "720h")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "rml_") || !strings.Contains(out, "expires:") {
		t.Fatalf("keys add printed:\n%s", out)
	}
	if code := p.getAs(t, key, "/v1/claims"); code != http.StatusOK {
		t.Fatalf("the new key: %d\n%s", code, p.output)
	}

	list := keysCmd(t, dataDir, "list")
	stored, err := os.ReadFile(filepath.Join(dataDir, "api-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, "desk-1") || !strings.Contains(list, "technician") || !strings.Contains(list, "active") {
		t.Errorf("keys list:\n%s", list)
	}
	if strings.Contains(list, key) || strings.Contains(string(stored), key) {
		t.Error("the key itself is listed or stored")
	}
	if strings.Contains(list, `"sha256"`) || strings.Contains(list, strings.Split(strings.Split(string(stored), `"sha256": "`)[1], `"`)[0]) {
		t.Error("keys list shows the hash")
	}

	if out, err := keysCmdErr(t, dataDir, "add", "--role", "agent", "--name", "desk-1"); err == nil {
		t.Errorf("a second desk-1 was added:\n%s", out)
	}
	if out, err := keysCmdErr(t, dataDir, "add", "--name", "no-role"); err == nil || !strings.Contains(out, "--role") {
		t.Errorf("add without a role: %v\n%s", err, out)
	}

	keysCmd(t, dataDir, "revoke", "desk-1")
	if code := p.getAs(t, key, "/v1/claims"); code != http.StatusUnauthorized {
		t.Fatalf("the revoked key's next request: %d, want 401", code)
	}
	if list := keysCmd(t, dataDir, "list"); !strings.Contains(list, "revoked") {
		t.Errorf("keys list after the revocation:\n%s", list)
	}
	if out, err := keysCmdErr(t, dataDir, "revoke", "nobody"); err == nil {
		t.Errorf("revoked an unknown key:\n%s", out)
	}
	if !strings.Contains(p.output.String(), "authentication failed") || strings.Contains(p.output.String(), key) {
		t.Errorf("the refusal is not logged, or the log holds the key:\n%s", p.output)
	}

	// The audit signing key command shares the word.
	if out := keysCmd(t, dataDir, "generate", filepath.Join(t.TempDir(), "signing.pem")); !strings.Contains(out, "public key") {
		t.Errorf("keys generate:\n%s", out)
	}
}

// The keys file alone is enough to serve: no environment keys, no --dev.
func TestServesWithOnlyTheKeysFile(t *testing.T) {
	dataDir := t.TempDir()
	out := keysCmd(t, dataDir, "add", "--role", "admin")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	p := start(t, dataDir, "RMALEDGER_API_KEYS=")
	if code := p.getAs(t, key, "/v1/admin/projections"); code != http.StatusOK {
		t.Fatalf("admin key from the file: %d\n%s", code, p.output)
	}
	if code := p.getAs(t, strings.TrimPrefix(testAgentKey, "agent:"), "/v1/claims"); code != http.StatusUnauthorized {
		t.Errorf("the environment key was not removed: %d", code)
	}
}
