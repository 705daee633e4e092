package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPolicyFileIsCheckedAtStart: a policy file with mistakes stops the
// service before it serves, naming the file, the lines and the fields.
func TestPolicyFileIsCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(bad, []byte(`versions:
  - version: acme-1
    time_zone: Europe/Sofiya
    working_hours: {monday: ["10:00-18:00"]}
    sla:
      decision: 2 fortnights
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildBinary(t), "serve", "--addr", freeAddr(t), "--data-dir", filepath.Join(dir, "data"), "--policy-file", bad)
	cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS="+testAgentKey)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the service started with a broken policy:\n%s", out)
	}
	for _, want := range []string{"policy file policy.yaml is invalid", `line 3: versions[0].time_zone: "Europe/Sofiya"`, `line 6: versions[0].sla.decision: "2 fortnights"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestPolicyServes: the service decides with the configured file, and its
// timers list shows the file's clocks.
func TestPolicyServes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(file, []byte(`versions:
  - version: acme-1
    time_zone: Europe/Athens
    working_hours: {monday: ["00:00-24:00"], tuesday: ["00:00-24:00"], wednesday: ["00:00-24:00"], thursday: ["00:00-24:00"],
                    friday: ["00:00-24:00"], saturday: ["00:00-24:00"], sunday: ["00:00-24:00"]}
    warranty:
      categories: {laptop: {manufacturer_months: 36}}
    sla:
      decision: 3 days
`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, filepath.Join(dir, "data"), "RMALEDGER_POLICY_FILE="+file, "RMALEDGER_SLA_INTERVAL=200ms")
	code, claim := p.post(t, "/v1/claims", registration)
	if code != 201 {
		t.Fatalf("register: %d %v", code, claim)
	}
	if e, _ := claim["eligibility"].(map[string]any); e["policy_version"] != "acme-1" || e["covered"] != true {
		t.Errorf("eligibility %v", claim["eligibility"])
	}
	code, page := p.get(t, "/v1/sla/timers?min_position="+claim["position"].(string))
	items, _ := page["items"].([]any)
	if code != 200 || len(items) != 1 {
		t.Fatalf("timers: %d %v", code, page)
	}
	timer := items[0].(map[string]any)
	due, err := time.Parse(time.RFC3339, timer["due_at"].(string))
	if err != nil || timer["clock"] != "decision" || !strings.HasSuffix(timer["due_at"].(string), "+02:00") && !strings.HasSuffix(timer["due_at"].(string), "+03:00") ||
		due.Sub(time.Now()) < 71*time.Hour {
		t.Errorf("timer %v", timer)
	}
	if !strings.Contains(p.output.String(), "policy loaded") || !strings.Contains(p.output.String(), "in_force=acme-1") {
		t.Errorf("the log does not say which policy:\n%s", p.output)
	}
}

func TestLoadPolicyNotYetInForce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "future.yaml")
	if err := os.WriteFile(file, []byte(`versions:
  - version: next-year
    effective_from: 2031-01-01
    time_zone: UTC
    working_hours: {monday: ["09:00-17:00"]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadPolicy(file, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)); err == nil || !strings.Contains(err.Error(), "no version is in force yet") {
		t.Errorf("a policy from 2031 accepted in 2026: %v", err)
	}
	if _, err := loadPolicy(file, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("on its first day: %v", err)
	}
	if book, err := loadPolicy("", time.Now()); err != nil || book.Latest().Version != "seeds-2" {
		t.Errorf("the default: %v", err)
	}
}
