package main

import (
	"database/sql"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	_ "modernc.org/sqlite"
)

// rmaledger runs the binary with args and returns its stdout, stderr and
// whether it exited 0.
func rmaledger(t *testing.T, args ...string) (string, string, bool) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), err == nil
}

const testAdminKey = "admin-key-for-process-tests"

// TestAuditCommands runs the audit workflow end to end on the real binary:
// a key, a service that signs a checkpoint on request, then (service
// stopped) verify, export and an offline check, and the same after an
// intruder edits events.db.
func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	keyFile := filepath.Join(dir, "signing.pem")

	out, errOut, ok := rmaledger(t, "keys", "generate", keyFile, "--data-dir", dataDir)
	if !ok {
		t.Fatalf("keys generate: %s %s", out, errOut)
	}
	info, err := os.Stat(keyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", err, info)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	publicKey := lines[len(lines)-1]
	if len(publicKey) != 44 || !strings.Contains(out, "key id:      ed25519:") {
		t.Fatalf("keys generate printed:\n%s", out)
	}
	if _, _, ok := rmaledger(t, "keys", "generate", keyFile); ok {
		t.Fatal("keys generate overwrote an existing key")
	}

	p := start(t, dataDir, "RMALEDGER_SIGNING_KEY_FILE="+keyFile, "RMALEDGER_API_KEYS="+testAgentKey+",admin:"+testAdminKey)
	var ids []string
	for range 3 {
		code, got := p.post(t, "/v1/claims", registration)
		if code != http.StatusCreated {
			t.Fatalf("register: %d %v", code, got)
		}
		ids = append(ids, got["id"].(string))
		if code, got := p.post(t, "/v1/claims/"+got["id"].(string)+"/actions/add-note", `{"text":"called","visibility":"internal"}`); code != http.StatusOK {
			t.Fatalf("add-note: %d %v", code, got)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/audit/checkpoints", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	if code, got := p.send(t, req); code != http.StatusCreated || got["event_count"] != 7.0 {
		t.Fatalf("checkpoint: %d %v\n%s", code, got, p.output)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	out, errOut, ok = rmaledger(t, "audit", "verify", "--data-dir", dataDir, "--signing-key-file", keyFile)
	t.Logf("verify:\n%s", out)
	if !ok || !strings.Contains(out, "OK") || !strings.Contains(out, "checkpoints: 1 verified") {
		t.Fatalf("verify: %s %s", out, errOut)
	}
	if out, errOut, ok := rmaledger(t, "audit", "verify", "--claim", ids[1], "--data-dir", dataDir); !ok || !strings.Contains(out, "2 events checked") {
		t.Fatalf("verify --claim: %s %s", out, errOut)
	}

	export := func(args ...string) string {
		t.Helper()
		out, errOut, ok := rmaledger(t, append([]string{"audit", "export", "--data-dir", dataDir}, args...)...)
		if !ok {
			t.Fatalf("export: %s", errOut)
		}
		file := filepath.Join(dir, "export.jsonl")
		if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	file := export()
	for _, key := range []string{publicKey, keyFile + ".pub"} {
		if out, errOut, ok := rmaledger(t, "audit", "check", file, "--public-key", key); !ok || !strings.Contains(out, "OK") {
			t.Fatalf("check with %s: %s %s", key, out, errOut)
		}
	}
	file = export("--claim", ids[2])
	if out, errOut, ok := rmaledger(t, "audit", "check", file, "--public-key", publicKey); !ok || !strings.Contains(out, "2 events checked in full") {
		t.Fatalf("check of one claim: %s %s", out, errOut)
	}
	// An export altered on the way fails the check.
	b, _ := os.ReadFile(file)
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), "fan noise", "fan noisy", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, ok := rmaledger(t, "audit", "check", file, "--public-key", publicKey); ok || !strings.Contains(out, "BROKEN: content-hash") {
		t.Fatalf("check of an altered export passed:\n%s", out)
	}

	// An intruder rewrites a note in events.db.
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE events SET data = CAST(replace(CAST(data AS TEXT), 'called', 'emailed') AS BLOB) WHERE stream = ? AND revision = 1`, "claim-"+ids[1])
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tamper: %v %d", err, n)
	}
	db.Close()
	out, _, ok = rmaledger(t, "audit", "verify", "--data-dir", dataDir, "--signing-key-file", keyFile)
	t.Logf("verify after tampering:\n%s", out)
	if ok {
		t.Fatalf("verify passed a tampered ledger:\n%s", out)
	}
	for _, want := range []string{"BROKEN: content-hash", "stream:   claim-" + ids[1], "revision: 1", "expected: ", "found:    "} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
}
