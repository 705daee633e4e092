package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// command is one write the crash test sends, with its Idempotency-Key.
type command struct {
	key    string
	claim  string // empty for a registration
	action string
	body   string
}

// outcome is what the service answered to a command: acked with the
// claim's id and version, or no answer (the process died first).
type outcome struct {
	cmd     command
	acked   bool
	claim   string
	version int
}

// client sends one command; a connection error means no answer.
func (p *process) command(ctx context.Context, c command) (outcome, error) {
	path := "/v1/claims"
	if c.claim != "" {
		path += "/" + c.claim + "/actions/" + c.action
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr+path, strings.NewReader(c.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(testAgentKey, "agent:"))
	req.Header.Set("Idempotency-Key", c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return outcome{cmd: c}, nil // no answer: the process is gone
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
		if res.StatusCode == http.StatusServiceUnavailable {
			return outcome{cmd: c}, nil // shutting down: not acknowledged
		}
		return outcome{}, fmt.Errorf("%s %s: %d %s", c.key, path, res.StatusCode, body)
	}
	var got struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return outcome{}, err
	}
	return outcome{cmd: c, acked: true, claim: got.ID, version: got.Version}, nil
}

// history is a claim's events as GET /v1/claims/{id}/events shows them.
type history struct {
	Events []struct {
		Revision int             `json:"revision"`
		Position string          `json:"position"`
		Metadata json.RawMessage `json:"metadata"`
	} `json:"events"`
}

func (p *process) history(t *testing.T, id string) history {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/v1/claims/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(testAgentKey, "agent:"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h history
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&h) != nil {
		t.Fatalf("events of %s: %d", id, res.StatusCode)
	}
	return h
}

// crashCycles is how many times TestCrashUnderLoad kills the service:
// a few in `make test`, RMALEDGER_CRASH_CYCLES (25 in `make crashtest`) for
// the full run.
func crashCycles(t *testing.T) int {
	if v := os.Getenv("RMALEDGER_CRASH_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("RMALEDGER_CRASH_CYCLES=%q: want a positive number", v)
		}
		return n
	}
	return 3
}

// TestCrashUnderLoad runs the real binary under concurrent command load,
// SIGKILLs it at a random moment, restarts it, and checks after each cycle:
//   - every acknowledged command is in its claim's stream exactly once (by
//     its Idempotency-Key), and every stream's revisions have no gap;
//   - a command that got no answer, retried with its key, is then in the
//     stream exactly once, whether or not it had reached the log;
//   - the read model of every claim reaches the version its stream holds.
func TestCrashUnderLoad(t *testing.T) {
	dataDir := t.TempDir()
	cycles := crashCycles(t)
	var (
		mu       sync.Mutex
		claims   = map[string]int{}    // id -> highest acknowledged version
		keys     = map[string]string{} // idempotency key -> claim id, acknowledged
		pending  []command             // sent, no answer
		commands int
		retried  int
	)
	for cycle := 0; cycle < cycles; cycle++ {
		p := start(t, dataDir)
		retryPending(t, p, pending, claims, keys, cycle)
		retried += len(pending)
		pending = nil

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				var mine string
				for i := 0; ctx.Err() == nil; i++ {
					c := command{key: fmt.Sprintf("c%d-w%d-%d", cycle, w, i), body: registration}
					if mine != "" && i%4 != 0 {
						c.claim, c.action, c.body = mine, "add-note", `{"text":"crash test","visibility":"internal"}`
					}
					o, err := p.command(context.Background(), c)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					commands++
					if !o.acked {
						pending = append(pending, c)
						mu.Unlock()
						return // the process is dead
					}
					keys[c.key] = o.claim
					claims[o.claim] = max(claims[o.claim], o.version)
					mu.Unlock()
					mine = o.claim
				}
			})
		}
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		cancel()
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	p := start(t, dataDir)
	retryPending(t, p, pending, claims, keys, cycles)
	retried += len(pending)
	rebuildEqualsLive(t, p, dataDir, claims)
	t.Logf("%d kill cycles, %d commands sent, %d unanswered and retried, %d claims, 0 lost or doubled",
		cycles, commands, retried, len(claims))
}

// retryPending checks the log as the killed process left it, then retries
// what got no answer with the same Idempotency-Key (each must then be in
// the log exactly once, whether or not it had reached it) and checks again.
func retryPending(t *testing.T, p *process, pending []command, claims map[string]int, keys map[string]string, cycle int) {
	t.Helper()
	verify(t, p, claims, keys, cycle)
	for _, c := range pending {
		o, err := p.command(context.Background(), c)
		if err != nil || !o.acked {
			t.Fatalf("cycle %d: retry of %s: %+v %v", cycle, c.key, o, err)
		}
		keys[c.key] = o.claim
		claims[o.claim] = max(claims[o.claim], o.version)
	}
	verify(t, p, claims, keys, cycle)
}

// rebuildEqualsLive stops the service, checks the audit chain of the log
// the kills left, rebuilds every read model from position zero offline, and
// checks that each claim reads the same from the rebuilt read models as from
// the live ones the crashes left behind.
func rebuildEqualsLive(t *testing.T, p *process, dataDir string, claims map[string]int) {
	t.Helper()
	live := map[string]string{}
	for id := range claims {
		live[id] = p.raw(t, "/v1/claims/"+id)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	if out, errOut, ok := rmaledger(t, "audit", "verify", "--data-dir", dataDir); !ok || !strings.Contains(out, "OK") {
		t.Fatalf("audit verify after the crashes:\n%s%s", out, errOut)
	}
	if out, errOut, ok := rmaledger(t, "projections", "rebuild", "--data-dir", dataDir); !ok {
		t.Fatalf("projections rebuild:\n%s%s", out, errOut)
	}
	q := start(t, dataDir)
	for id, want := range live {
		if got := q.raw(t, "/v1/claims/"+id); got != want {
			t.Fatalf("claim %s after a rebuild:\n%s\nlive read model after the crashes:\n%s", id, got, want)
		}
	}
}

// raw is a GET's body, as served.
func (p *process) raw(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(testAgentKey, "agent:"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	return string(body)
}

// verify checks every acknowledged claim and command against the log and
// the read model.
func verify(t *testing.T, p *process, claims map[string]int, keys map[string]string, cycle int) {
	t.Helper()
	seen := map[string]int{}
	for id, acked := range claims {
		h := p.history(t, id)
		if len(h.Events) < acked {
			t.Fatalf("cycle %d: claim %s has %d events, %d were acknowledged", cycle, id, len(h.Events), acked)
		}
		for i, ev := range h.Events {
			if ev.Revision != i {
				t.Fatalf("cycle %d: claim %s: event %d has revision %d: a gap", cycle, id, i, ev.Revision)
			}
			var meta struct {
				Key string `json:"idempotency_key"`
			}
			_ = json.Unmarshal(ev.Metadata, &meta)
			seen[meta.Key]++
		}
		last := h.Events[len(h.Events)-1].Position
		code, got := p.get(t, "/v1/claims/"+id+"?min_position="+last)
		if code != http.StatusOK || int(got["version"].(float64)) != len(h.Events) {
			t.Fatalf("cycle %d: read model of %s: %d version %v, stream has %d events", cycle, id, code, got["version"], len(h.Events))
		}
	}
	for key := range keys {
		if seen[key] != 1 {
			t.Fatalf("cycle %d: acknowledged command %s is in the log %d times, want exactly once", cycle, key, seen[key])
		}
	}
}

// TestBackupWhileServingAndRestore backs up the log of a running service
// under load with `rmaledger backup`, restores it into a new data directory
// with `rmaledger restore`, and serves it: every claim acknowledged before
// the backup started is there, none acknowledged after it ended is, and
// the read models are rebuilt from the restored log.
func TestBackupWhileServingAndRestore(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, dataDir)
	register := func() string {
		code, got := p.post(t, "/v1/claims", registration)
		if code != http.StatusCreated {
			t.Fatalf("register: %d %v", code, got)
		}
		return got["id"].(string)
	}
	var before, after []string
	for range 20 {
		before = append(before, register())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/claims", strings.NewReader(registration))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(testAgentKey, "agent:"))
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
	backupDir := filepath.Join(t.TempDir(), "backup")
	out, err := exec.Command(buildBinary(t), "backup", backupDir, "--data-dir", dataDir).CombinedOutput()
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("backup while serving: %v\n%s", err, out)
	}
	keyBackupDir := filepath.Join(t.TempDir(), "key-backup") // the personal-data keys, apart from the log
	if out, err := exec.Command(buildBinary(t), "backup-keys", keyBackupDir, "--data-dir", dataDir).CombinedOutput(); err != nil {
		t.Fatalf("backup-keys: %v\n%s", err, out)
	}
	for range 5 {
		after = append(after, register())
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()

	restored := t.TempDir()
	if out, err := exec.Command(buildBinary(t), "restore", backupDir, "--data-dir", restored).CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := exec.Command(buildBinary(t), "restore", backupDir, "--data-dir", restored).CombinedOutput(); err == nil {
		t.Fatalf("a second restore over the restored log succeeded:\n%s", out)
	}
	if out, err := exec.Command(buildBinary(t), "restore-keys", keyBackupDir, "--data-dir", restored).CombinedOutput(); err != nil {
		t.Fatalf("restore-keys: %v\n%s", err, out)
	}
	q := start(t, restored)
	for _, id := range before {
		if code, _ := q.get(t, "/v1/claims/"+id+"/events"); code != http.StatusOK {
			t.Errorf("claim %s, acknowledged before the backup, is missing after restore (%d)", id, code)
		}
	}
	for _, id := range after {
		if code, _ := q.get(t, "/v1/claims/"+id+"/events"); code != http.StatusNotFound {
			t.Errorf("claim %s, registered after the backup, is in it (%d)", id, code)
		}
	}
	// The read models were rebuilt from the restored log.
	h := q.history(t, before[len(before)-1])
	if code, _ := q.get(t, "/v1/claims/"+before[len(before)-1]+"?min_position="+h.Events[0].Position); code != http.StatusOK {
		t.Errorf("read model after restore: %d", code)
	}
}
