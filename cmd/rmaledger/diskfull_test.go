package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/storage/storagetest"
)

// diskFullCall is a request of TestFullDisk: sent while the disk is full,
// then again, the same, once space is back.
type diskFullCall struct {
	name, path, body, key string
	want                  int // once space is back
}

// call sends a POST as the admin, with an Idempotency-Key when key is set,
// and returns the status, the headers and the body.
func (p *process) call(t *testing.T, path, body, key string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, res.Header, m
}

// readyz returns /readyz's status and reason.
func (p *process) readyz(t *testing.T) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + p.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Reason string }
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Reason
}

// events counts a claim's events.
func (p *process) events(t *testing.T, id string) int {
	t.Helper()
	return len(p.history(t, id).Events)
}

// registrationOf is a valid registration for the customer with this phone.
func registrationOf(phone string) string {
	return strings.Replace(registration, "+359 888 123 456", phone, 1)
}

// TestFullDisk runs the real binary with its data directory on a small
// tmpfs and fills the disk. Every write (a registration of a new customer,
// which creates a key, and of a known one; an action; an erasure; a
// checkpoint) answers 503 with Retry-After and writes nothing; `keys add`
// fails and leaves the keys file as it was; reads are served; /readyz says
// not ready. Once space is back, without a restart, /readyz is ready and
// each refused request, sent again as it was, succeeds, once.
func TestFullDisk(t *testing.T) {
	dataDir := filepath.Join(storagetest.Mount(t, "32m"), "data")
	signingKey := filepath.Join(t.TempDir(), "signing.pem")
	if out, errOut, ok := rmaledger(t, "keys", "generate", signingKey); !ok {
		t.Fatalf("keys generate: %s %s", out, errOut)
	}
	p := start(t, dataDir, "RMALEDGER_SIGNING_KEY_FILE="+signingKey, "RMALEDGER_API_KEYS="+testAgentKey+",admin:"+testAdminKey)
	register := func(phone string) map[string]any {
		t.Helper()
		code, _, got := p.call(t, "/v1/claims", registrationOf(phone), "")
		if code != http.StatusCreated {
			t.Fatalf("register: %d %v", code, got)
		}
		return got
	}
	maria, ivan := register("+359 888 123 456"), register("+359 888 654 321")
	mariaID, ivanID := maria["id"].(string), ivan["id"].(string)
	calls := []diskFullCall{
		{name: "registration of a new customer", path: "/v1/claims", body: registrationOf("+359 888 111 222"), key: "new-customer", want: http.StatusCreated},
		{name: "registration of a known customer", path: "/v1/claims", body: registrationOf("+359 888 123 456"), key: "known-customer", want: http.StatusCreated},
		{name: "action", path: "/v1/claims/" + mariaID + "/actions/add-note", body: `{"text":"called","visibility":"internal"}`, key: "note", want: http.StatusOK},
		{name: "erasure", path: "/v1/customers/" + ivan["customer_id"].(string) + "/erase", want: http.StatusOK},
		{name: "checkpoint", path: "/v1/audit/checkpoints", want: http.StatusCreated},
	}

	release := storagetest.Fill(t, filepath.Dir(dataDir))
	for _, c := range calls {
		code, header, got := p.call(t, c.path, c.body, c.key)
		if code != http.StatusServiceUnavailable || header.Get("Retry-After") == "" ||
			header.Get("Content-Type") != "application/problem+json" || got["type"] != "urn:rmaledger:problem:unavailable" {
			t.Errorf("%s on a full disk: %d %v %v, want 503 unavailable with Retry-After", c.name, code, header, got)
		}
	}
	if code, reason := p.readyz(t); code != http.StatusServiceUnavailable || !strings.Contains(reason, "no space left") {
		t.Errorf("/readyz on a full disk: %d %q, want 503 saying the disk is full", code, reason)
	}
	out, err := keysCmdErr(t, dataDir, "add", "--role", "agent", "--name", "desk-2")
	if err == nil || !strings.Contains(out, "no space left") {
		t.Errorf("keys add on a full disk: %v\n%s", err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(dataDir, "*api-keys*")); len(left) > 1 || len(left) == 1 && !strings.HasSuffix(left[0], ".lock") {
		t.Errorf("keys add on a full disk left %v", left)
	}
	if n, m := p.events(t, mariaID), p.events(t, ivanID); n != 1 || m != 1 {
		t.Errorf("after the refused writes the claims have %d and %d events, want 1 each", n, m)
	}
	if code, got := p.get(t, "/v1/claims/"+ivanID); code != http.StatusOK || !strings.Contains(fmt.Sprint(got["customer"]), "Maria Georgieva") {
		t.Errorf("a read on a full disk: %d %v, want the claim with its customer's name", code, got)
	}

	release()
	deadline := time.Now().Add(10 * time.Second)
	for code, reason := p.readyz(t); code != http.StatusOK; code, reason = p.readyz(t) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz once space is back: %d %q", code, reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range calls {
		if code, _, got := p.call(t, c.path, c.body, c.key); code != c.want {
			t.Errorf("%s once space is back: %d %v, want %d", c.name, code, got, c.want)
		}
	}
	// The note, sent a third time, is answered from the log: it stands once.
	if code, _, got := p.call(t, calls[2].path, calls[2].body, calls[2].key); code != http.StatusOK || p.events(t, mariaID) != 2 {
		t.Errorf("the note retried: %d %v, %d events; want it once", code, got, p.events(t, mariaID))
	}
	if code, got := p.get(t, "/v1/claims/"+ivanID+"/events"); code != http.StatusOK || !strings.Contains(fmt.Sprint(got), "personal_data_erased") {
		t.Errorf("the erased customer's claim: %d %v", code, got)
	}
	out = keysCmd(t, dataDir, "add", "--role", "agent", "--name", "desk-2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code := p.getAs(t, lines[len(lines)-1], "/v1/claims"); code != http.StatusOK {
		t.Errorf("the key added once space is back: %d", code)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "api-keys.json")); err != nil {
		t.Error(err)
	}
}
