package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the real rmaledger binary, built once for these tests.
var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rmaledger-bin")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "rmaledger")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a running rmaledger serve.
type process struct {
	cmd    *exec.Cmd
	addr   string
	output *lockedBuffer
}

const testAgentKey = "agent:agent-key-for-process-tests"

func start(t *testing.T, dataDir string, extraEnv ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(buildBinary(t), "serve", "--addr", addr, "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), append([]string{"RMALEDGER_API_KEYS=" + testAgentKey}, extraEnv...)...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, addr: addr, output: out}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("service did not become ready:\n%s", out)
	return nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (p *process) post(t *testing.T, path string, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(testAgentKey, "agent:"))
	return p.send(t, req)
}

func (p *process) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(testAgentKey, "agent:"))
	return p.send(t, req)
}

func (p *process) send(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

// registration is a valid claim for a laptop bought two months ago, so it
// stays within its warranty whenever the tests run.
var registration = fmt.Sprintf(`{"customer":{"name":"Maria Georgieva","phone":"+359 888 123 456"},
 "product":{"category":"laptop","serial":"SN-42"},"purchase_date":"%s",
 "proof_of_purchase":{"kind":"receipt","reference":"R-9"},
 "price":{"amount":"899.00","currency":"BGN"},"defect":"fan noise","channel":"web"}`, time.Now().AddDate(0, -2, 0).Format(time.DateOnly))

// TestKillAfterAcknowledgeLosesNothing SIGKILLs the service right after each
// success answer and checks, after a restart, that every acknowledged claim
// and action is there.
func TestKillAfterAcknowledgeLosesNothing(t *testing.T) {
	dataDir := t.TempDir()
	type acked struct {
		id      string
		version float64
	}
	var claims []acked
	for cycle := 0; cycle < 5; cycle++ {
		p := start(t, dataDir)
		for _, c := range claims {
			code, got := p.get(t, "/v1/claims/"+c.id)
			if code != http.StatusOK || got["version"] != c.version {
				t.Fatalf("cycle %d: claim %s answered %d version %v, acknowledged version %v\n%s", cycle, c.id, code, got["version"], c.version, p.output)
			}
		}
		code, got := p.post(t, "/v1/claims", registration)
		if code != http.StatusCreated {
			t.Fatalf("register: %d %v", code, got)
		}
		id := got["id"].(string)
		code, got = p.post(t, "/v1/claims/"+id+"/actions/add-note", `{"text":"kill test","visibility":"internal"}`)
		if code != http.StatusOK {
			t.Fatalf("add-note: %d %v", code, got)
		}
		claims = append(claims, acked{id: id, version: got["version"].(float64)})
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
	}
}

func TestRefusesToStartWithoutKeys(t *testing.T) {
	cmd := exec.Command(buildBinary(t), "serve", "--addr", freeAddr(t), "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started without keys:\n%s", out)
	}
	if !strings.Contains(string(out), "no API keys configured") {
		t.Errorf("unclear refusal:\n%s", out)
	}
}

func TestDevGeneratesKeysPerRoleAndKeepsThem(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	run := func() string {
		cmd := exec.Command(buildBinary(t), "serve", "--dev", "--addr", addr, "--data-dir", dataDir)
		cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(out.String(), "serving") {
			time.Sleep(50 * time.Millisecond)
		}
		// SIGTERM must shut down gracefully and exit 0.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, out)
		}
		return out.String()
	}
	first := run()
	for _, role := range []string{"agent", "technician", "finance", "auditor", "admin"} {
		if !strings.Contains(first, role+"-") {
			t.Errorf("no %s key printed:\n%s", role, first)
		}
	}
	info, err := os.Stat(filepath.Join(dataDir, devKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("dev keys file mode %v, want 0600", info.Mode().Perm())
	}
	stored, err := os.ReadFile(filepath.Join(dataDir, devKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	second := run()
	again, _ := os.ReadFile(filepath.Join(dataDir, devKeysFile))
	if string(again) != string(stored) {
		t.Errorf("keys changed across restarts")
	}
	for _, pair := range strings.Split(strings.TrimSpace(string(stored)), ",") {
		_, key, _ := strings.Cut(pair, ":")
		if !strings.Contains(second, key) {
			t.Errorf("restart did not print the stored key %s", key)
		}
	}
}

// TestProjectionsCommand rebuilds the read models of a stopped service's
// data directory and shows their checkpoints; while the service runs, the
// embedded store's lock makes the command refuse with directions.
func TestProjectionsCommand(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, dataDir)
	code, got := p.post(t, "/v1/claims", registration)
	if code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, got)
	}
	position := got["position"].(string)

	busy := exec.Command(buildBinary(t), "projections", "status", "--data-dir", dataDir)
	if out, err := busy.CombinedOutput(); err == nil || !strings.Contains(string(out), "/v1/admin/projections") {
		t.Errorf("status beside a running service: %v\n%s", err, out)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()

	rebuild := exec.Command(buildBinary(t), "projections", "rebuild", "--data-dir", dataDir)
	var stdout bytes.Buffer
	rebuild.Stdout = &stdout
	if err := rebuild.Run(); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, stdout.String())
	}
	out := stdout.String()
	for _, want := range []string{"rebuilt claims", "rebuilt status"} {
		if !strings.Contains(out, want) {
			t.Errorf("rebuild output lacks %q:\n%s", want, out)
		}
	}
	// The table's columns widen with the longest projection name.
	if !regexp.MustCompile(`(?m)^claims +2 `).MatchString(out) {
		t.Errorf("rebuild output lacks claims at generation 2:\n%s", out)
	}
	if !strings.Contains(out, " "+position+" ") {
		t.Errorf("checkpoint %s not shown:\n%s", position, out)
	}
}
