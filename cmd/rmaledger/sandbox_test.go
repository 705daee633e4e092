package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/clock"
	"github.com/rmaledger/rmaledger/policy"
)

// sandboxKeys are the API keys of the sandbox services the tests start.
var sandboxKeys = map[string]string{
	"agent": "sandbox-agent-key", "technician": "sandbox-technician-key", "finance": "sandbox-finance-key",
	"auditor": "sandbox-auditor-key", "admin": "sandbox-admin-key",
}

// sandboxService is `rmaledger serve --sandbox` running in the test's
// process: the real wiring, reached over HTTP.
type sandboxService struct {
	t      *testing.T
	addr   string
	dir    string
	output *lockedBuffer
	cancel context.CancelFunc
	done   chan error
}

// startSandbox runs `rmaledger serve --sandbox --data-dir DIR ARGS...` until
// the test ends (or stop), and returns once it is ready. Its SLA timer
// process runs every hour of real time: what it does, it does when the test
// clock moves.
func startSandbox(t *testing.T, dir string, args ...string) *sandboxService {
	t.Helper()
	s := &sandboxService{t: t, dir: dir, output: &lockedBuffer{}, done: make(chan error, 1)}
	err := s.start(append([]string{"--sandbox", "--sla-interval", "1h"}, args...)...)
	if err != nil {
		t.Fatalf("serve --sandbox: %v\n%s", err, s.output)
	}
	return s
}

// start runs serve with args and waits until it is ready, or ended.
func (s *sandboxService) start(args ...string) error {
	t := s.t
	t.Helper()
	var spec []string
	for role, key := range sandboxKeys {
		spec = append(spec, role+":"+key)
	}
	t.Setenv("RMALEDGER_API_KEYS", strings.Join(spec, ","))
	prevLimit := debug.SetMemoryLimit(-1) // serve sets the process's; give the tests theirs back
	t.Cleanup(func() { debug.SetMemoryLimit(prevLimit) })
	s.addr = freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	args = append([]string{"serve", "--addr", s.addr, "--data-dir", s.dir}, args...)
	go func() { s.done <- run(ctx, args, s.output) }()
	t.Cleanup(func() { _ = s.stop() })
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-s.done:
			s.done <- err
			if err == nil {
				err = errors.New("serve ended")
			}
			return err
		default:
		}
		if res, err := http.Get("http://" + s.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	t.Fatalf("serve did not become ready:\n%s", s.output)
	return nil
}

// stop ends serve as SIGTERM does and returns what run returned.
func (s *sandboxService) stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(30 * time.Second):
		return errors.New("serve did not stop within 30s")
	}
}

// call sends method path as role with a JSON body ("" for none) and
// returns the status and the decoded answer.
func (s *sandboxService) call(method, path, role, body string, header ...string) (int, map[string]any) {
	s.t.Helper()
	code, raw := s.callRaw(method, path, role, body, header...)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return code, m
}

func (s *sandboxService) callRaw(method, path, role, body string, header ...string) (int, []byte) {
	s.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+sandboxKeys[role])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return res.StatusCode, raw
}

// must sends a request and fails the test unless it answers want.
func (s *sandboxService) must(want int, method, path, role, body string, header ...string) map[string]any {
	s.t.Helper()
	code, m := s.call(method, path, role, body, header...)
	if code != want {
		s.t.Fatalf("%s %s: %d, want %d: %v", method, path, code, want, m)
	}
	return m
}

// cli runs `rmaledger ARGS...` in the test's process against this service
// and returns what it printed.
func (s *sandboxService) cli(args ...string) (string, error) {
	s.t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append(args, "--addr", s.addr, "--data-dir", s.dir), &out)
	return out.String(), err
}

// sofiaAt is a Sofia wall time.
func sofiaAt(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// setClock moves the sandbox's test clock to a Sofia wall time through the
// API, and returns the answer.
func (s *sandboxService) setClock(at string) map[string]any {
	s.t.Helper()
	return s.must(http.StatusOK, http.MethodPost, "/v1/admin/clock", "admin", `{"to":"`+sofiaAt(s.t, at).Format(time.RFC3339)+`"}`)
}

// sandboxClaim registers a laptop bought in April 2030 (under warranty in
// the tests' June 2030) and returns its id.
func (s *sandboxService) sandboxClaim(serial string) string {
	s.t.Helper()
	m := s.must(http.StatusCreated, http.MethodPost, "/v1/claims", "agent", `{"customer":{"name":"Maria Georgieva","phone":"+359 888 123 456"},
	 "product":{"category":"laptop","serial":"`+serial+`"},"purchase_date":"2030-04-01",
	 "proof_of_purchase":{"kind":"receipt","reference":"R-`+serial+`"},
	 "price":{"amount":"899.00","currency":"BGN"},"defect":"does not power on","channel":"web"}`)
	return m["id"].(string)
}

const sandboxAuthorize = `{"service_center":{"name":"Sofia service center","address":"1 Vitosha Blvd, Sofia","country":"BG"}}`

// TestSandboxClockClosesAnExpiredShipmentWindow moves a claim past its
// shipment window of one working day in seconds: the CLI moves the test
// clock, the timer process closes the claim at the new instant, and every
// event records the simulated time.
func TestSandboxClockClosesAnExpiredShipmentWindow(t *testing.T) {
	s := startSandbox(t, filepath.Join(t.TempDir(), "sandbox"))
	if _, err := os.Stat(filepath.Join(s.dir, clock.MarkerFile)); err != nil {
		t.Fatalf("the new data directory is not marked as a sandbox: %v", err)
	}
	s.setClock("2030-06-03 10:00") // a Monday
	late, shipped := s.sandboxClaim("SN-LATE"), s.sandboxClaim("SN-SHIPPED")
	s.must(http.StatusOK, http.MethodPost, "/v1/claims/"+late+"/actions/authorize", "agent", sandboxAuthorize)
	s.must(http.StatusOK, http.MethodPost, "/v1/claims/"+shipped+"/actions/authorize", "agent", sandboxAuthorize)
	s.must(http.StatusOK, http.MethodPost, "/v1/claims/"+shipped+"/actions/record-customer-shipment", "agent", `{"carrier":"Speedy","tracking_number":"SP1"}`)

	out, err := s.cli("clock", "advance", "25h", "--admin-key", sandboxKeys["admin"])
	if err != nil {
		t.Fatalf("clock advance: %v\n%s", err, out)
	}
	// Tuesday 11:00: the window (due Tuesday 10:00) has expired.
	if !strings.Contains(out, "to 2030-06-04T08:00:00Z") || !strings.Contains(out, "1 acted on") ||
		!strings.Contains(out, "shipment_window") || !strings.Contains(out, "close") {
		t.Fatalf("clock advance printed:\n%s", out)
	}
	claim := s.must(http.StatusOK, http.MethodGet, "/v1/claims/"+late, "agent", "")
	if claim["status"] != "closed" {
		t.Fatalf("the late claim is %v", claim["status"])
	}
	events := s.must(http.StatusOK, http.MethodGet, "/v1/claims/"+late+"/events", "agent", "")
	items, _ := events["events"].([]any)
	last, _ := items[len(items)-1].(map[string]any)
	data, _ := last["data"].(map[string]any)
	meta, _ := last["metadata"].(map[string]any)
	if last["type"] != "claim.closed.v1" || data["at"] != "2030-06-04T08:00:00Z" || meta["occurred_at"] != "2030-06-04T08:00:00Z" || meta["actor"] != "sla-timer" {
		t.Fatalf("the closure records %v at %v (metadata %v), want the timer's at the simulated 2030-06-04T08:00:00Z", last["type"], data["at"], meta)
	}
	first, _ := items[0].(map[string]any)
	if data, _ := first["data"].(map[string]any); data["at"] != "2030-06-03T07:00:00Z" {
		t.Fatalf("the registration records %v, want the simulated 2030-06-03T07:00:00Z", data["at"])
	}
	// The goods of the other claim were shipped in time: it stays open.
	if c := s.must(http.StatusOK, http.MethodGet, "/v1/claims/"+shipped, "agent", ""); c["status"] != "in_transit" {
		t.Fatalf("the shipped claim is %v", c["status"])
	}
}

// TestSandboxClockSurvivesARestartAndMovesOnlyForward restarts a sandbox
// service: its clock resumes where it stood.
func TestSandboxClockSurvivesARestartAndMovesOnlyForward(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sandbox")
	s := startSandbox(t, dir)
	s.setClock("2030-06-03 10:00")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s = startSandbox(t, dir)
	if got := s.must(http.StatusOK, http.MethodGet, "/v1/admin/clock", "admin", ""); got["now"] != "2030-06-03T07:00:00Z" {
		t.Fatalf("after a restart the clock is at %v", got["now"])
	}
	code, problem := s.call(http.MethodPost, "/v1/admin/clock", "admin", `{"to":"2030-06-01T10:00:00Z"}`)
	if code != http.StatusConflict || !strings.HasSuffix(problem["type"].(string), ":clock-backwards") {
		t.Fatalf("moving back: %d %v", code, problem)
	}
	if out, err := s.cli("clock", "show", "--admin-key", sandboxKeys["admin"]); err != nil || !strings.Contains(out, "test clock: 2030-06-03T07:00:00Z") {
		t.Fatalf("clock show: %v\n%s", err, out)
	}
}

// TestSandboxAndProductionDataNeverMix: a sandbox refuses a data directory
// a normal service wrote, and a normal service refuses a sandbox's; the
// sandbox mode is set by --sandbox or RMALEDGER_SANDBOX.
func TestSandboxAndProductionDataNeverMix(t *testing.T) {
	production := filepath.Join(t.TempDir(), "data")
	p := &sandboxService{t: t, dir: production, output: &lockedBuffer{}, done: make(chan error, 1)}
	if err := p.start(); err != nil {
		t.Fatalf("a normal service: %v", err)
	}
	p.must(http.StatusCreated, http.MethodPost, "/v1/claims", "agent", `{"customer":{"name":"Maria Georgieva","phone":"+359 888 123 456"},
	 "product":{"category":"laptop","serial":"SN-1"},"purchase_date":"`+time.Now().AddDate(0, -2, 0).Format(time.DateOnly)+`",
	 "proof_of_purchase":{"kind":"receipt","reference":"R-1"},"price":{"amount":"899.00","currency":"BGN"},"defect":"dead","channel":"web"}`)
	if code, problem := p.call(http.MethodPost, "/v1/admin/clock", "admin", `{"advance":"26h"}`); code != http.StatusConflict ||
		!strings.HasSuffix(problem["type"].(string), ":not-a-sandbox") {
		t.Fatalf("moving the clock of a normal service: %d %v", code, problem)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	before := dirFiles(t, production)

	t.Setenv("RMALEDGER_SANDBOX", "true")
	s := &sandboxService{t: t, dir: production, output: &lockedBuffer{}, done: make(chan error, 1)}
	if err := s.start(); !errors.Is(err, clock.ErrNotSandbox) {
		t.Fatalf("RMALEDGER_SANDBOX on production data: %v, want ErrNotSandbox\n%s", err, s.output)
	}
	if after := dirFiles(t, production); !equalFiles(before, after) {
		t.Fatalf("the refused sandbox changed the production directory: %v -> %v", before, after)
	}

	sandbox := filepath.Join(t.TempDir(), "sandbox")
	startSandbox(t, sandbox).stop()
	t.Setenv("RMALEDGER_SANDBOX", "false")
	n := &sandboxService{t: t, dir: sandbox, output: &lockedBuffer{}, done: make(chan error, 1)}
	if err := n.start(); !errors.Is(err, clock.ErrIsSandbox) {
		t.Fatalf("a normal service on a sandbox: %v, want ErrIsSandbox\n%s", err, n.output)
	}

	if _, err := runCLI(t, "serve", "--sandbox", "--data-dir", t.TempDir(), "--eventstore-url", "kurrentdb://localhost:2113?tls=false"); err == nil ||
		!strings.Contains(err.Error(), "sandbox") {
		t.Fatalf("a sandbox on KurrentDB: %v", err)
	}
}

// runCLI runs `rmaledger ARGS...` in the test's process.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, &out)
	return out.String(), err
}

// dirFiles maps every file under dir to its content.
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[strings.TrimPrefix(path, dir)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestREADMESandbox runs the README's sandbox walk-through, as written,
// with the real binary on the PATH: a claim moved past its shipment window
// in seconds, then the policy what-if on the stopped sandbox.
func TestREADMESandbox(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it so that CI runs this test")
	}
	binary := buildBinary(t)
	workDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(workDir, "policy"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(workDir, "policy", "default.yaml"), policy.DefaultYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := append(os.Environ(), "RMALEDGER_API_KEYS=", "RMALEDGER_ADDR="+addr, "BASE=http://"+addr,
		"PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	server := exec.Command(binary, "serve", "--sandbox", "--dev", "--data-dir", "./sandbox")
	server.Dir, server.Env = workDir, env
	out := &lockedBuffer{}
	server.Stdout, server.Stderr = out, out
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "serving"); {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not start:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	script := func(name string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", readmeBlock(t, name))
		cmd.Dir, cmd.Env = workDir, env
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the %s walk-through failed: %v\n%s\nserver:\n%s", name, err, got, out)
		}
		return string(got)
	}
	got := script("sandbox")
	if !regexp.MustCompile(`RMA-2030-000001 +shipment_window +2030-06-04T10:00:00\+03:00 +close +acted`).MatchString(got) {
		t.Errorf("clock advance does not say the claim was closed:\n%s", got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `"status":"closed"`) {
		t.Errorf("the claim is not closed:\n%s", last)
	}

	if err := server.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = server.Wait()
	got = script("whatif")
	for _, want := range []string{"1 claim replayed, 1 would differ", "breach shipment_window (removed)", "breaches removed"} {
		if !strings.Contains(got, want) {
			t.Errorf("the what-if lacks %q:\n%s", want, got)
		}
	}
	t.Logf("the what-if printed:\n%s", got)
}
