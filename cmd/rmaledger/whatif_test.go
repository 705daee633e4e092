package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/whatif"
)

// TestPolicyWhatIf builds a small ledger in a sandbox (one claim closed for
// an expired shipment window, one shipped in time), stops the service and
// replays it under candidate policies: the table, --json and --since each
// change what is printed, and nothing in the data directory changes.
func TestPolicyWhatIf(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sandbox")
	s := startSandbox(t, dir)
	s.setClock("2030-06-03 10:00")
	late, shipped := s.sandboxClaim("SN-LATE"), s.sandboxClaim("SN-SHIPPED")
	s.must(http.StatusOK, http.MethodPost, "/v1/claims/"+late+"/actions/authorize", "agent", sandboxAuthorize)
	s.must(http.StatusOK, http.MethodPost, "/v1/claims/"+shipped+"/actions/authorize", "agent", sandboxAuthorize)
	s.setClock("2030-06-04 09:30")
	s.must(http.StatusOK, http.MethodPost, "/v1/claims/"+shipped+"/actions/record-customer-shipment", "agent", `{"carrier":"Speedy","tracking_number":"SP1"}`)
	if got := s.setClock("2030-06-04 11:00"); got["timers"].(map[string]any)["acted"] != 1.0 {
		t.Fatalf("the late claim was not closed: %v", got)
	}
	s.setClock("2030-06-06 12:00")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	files := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(files, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	current := write("current.yaml", string(policy.DefaultYAML()))
	longer := write("longer.yaml", strings.Replace(string(policy.DefaultYAML()), "shipment_window: 1 working_day", "shipment_window: 2 working_days", 1))
	head := logHead(t, dir)
	before := dirFiles(t, dir)

	out, err := runCLI(t, "policy", "whatif", "--policy", current, "--data-dir", dir)
	if err != nil || !strings.Contains(out, "as of 2030-06-06 12:00 +03:00: 2 claims replayed, 0 would differ") {
		t.Fatalf("the policy in force: %v\n%s", err, out)
	}
	out, err = runCLI(t, "policy", "whatif", "--policy", longer, "--data-dir", dir)
	if err != nil {
		t.Fatalf("whatif: %v\n%s", err, out)
	}
	for _, want := range []string{
		`2 claims replayed, 2 would differ`,
		`RMA-2030-000001 +registered 2030-06-03 10:00 \+03:00 +governed by seeds-2 +candidate seeds-2`,
		`breach shipment_window \(moved\) +due 2030-06-04 10:00 \+03:00, acted on 2030-06-04 11:00 \+03:00 +due 2030-06-05 10:00 \+03:00, acted on 2030-06-05 10:00 \+03:00`,
		`history +as recorded +closed by the timer process: the shipment_window expired at 2030-06-05 10:00 \+03:00; 0 recorded events`,
		`clock shipment_window +met, due 2030-06-04 10:00 \+03:00 +met, due 2030-06-05 10:00 \+03:00`,
		`breaches moved +1\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}

	out, err = runCLI(t, "policy", "whatif", "--policy", longer, "--json", "--data-dir", dir)
	var report whatif.Report
	if err != nil || json.Unmarshal([]byte(out), &report) != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if report.Totals.Claims != 2 || report.Totals.BreachesMoved != 1 || len(report.Claims) != 2 || report.Claims[0].ClaimID.String() != late {
		t.Fatalf("--json report: %+v", report)
	}

	out, err = runCLI(t, "policy", "whatif", "--policy", longer, "--since", "2030-06-04", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "0 claims replayed, 0 would differ") {
		t.Fatalf("--since after every registration: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "policy", "whatif", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "--policy") {
		t.Fatalf("without --policy: %v", err)
	}
	if _, err := runCLI(t, "policy", "whatif", "--policy", longer, "--since", "June", "--data-dir", dir); err == nil {
		t.Fatal("a --since that is no date was accepted")
	}

	// Nothing was written: the log's head is where it was, and every file
	// of the data directory is byte for byte what it was, but SQLite's
	// shared-memory index of the log's write-ahead file, which every
	// connection to the log, a reader's too, updates and which holds no data.
	after := dirFiles(t, dir)
	if got := logHead(t, dir); got != head {
		t.Errorf("the log's head moved from %s to %s", head, got)
	}
	delete(before, "/events.db-shm")
	delete(after, "/events.db-shm")
	if !equalFiles(before, after) {
		for name, content := range after {
			if before[name] != content {
				t.Errorf("%s changed", name)
			}
		}
		for name := range before {
			if _, ok := after[name]; !ok {
				t.Errorf("%s disappeared", name)
			}
		}
	}
}

// logHead is the position of the last event of the log in dir.
func logHead(t *testing.T, dir string) eventstore.Position {
	t.Helper()
	store, err := embedded.Open(dir, embedded.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	head := eventstore.Start
	for {
		recs, err := store.ReadAll(context.Background(), head, 1000, eventstore.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return head
		}
		head = recs[len(recs)-1].Position
	}
}
