package main

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Each data directory in testdata/datadir-v* was written by the service as it was at a release:
// claims along the main paths (repaired and closed, rejected, redirected with an act of
// unrepairability and refunded, paid out-of-warranty repair, voided and disputed, held and
// withdrawn, credit note with its customer erased, authorized, registered), a signed audit
// checkpoint, and that code's read models; golden/ holds that code's API answers over it.
// datadir-v1 was written at 72d33a0; datadir-v2 at 83869c1 adds a claim assigned and reassigned
// with an internal note, console accounts (the --dev ones, one added and one disabled from the
// command line), the console's session key and a signed-out session; datadir-v3 at 7fa90d2 adds
// a claim registered for a partner organisation with a note by the partner's key (api-keys.json),
// a claim filed in the customer portal in Bulgarian with its private links (a portal-link
// stream), and a claim authorized with documents first with a photo attached (files/);
// datadir-v4 at f81677a adds the notifications' outbox (outbox.db: e-mail sent, webhook
// deliveries pending to a receiver that never answers, those of an erased customer's claim
// erased), a webhook subscription, a customer's choice of messages and a claim's printed papers
// (their sealed streams). Every
// later version must open each directory, verify its chain and answer the same, from the old
// read models and after a rebuild. testdata/write-fixture.sh and capture-fixture.sh write the
// next one with a release's binary.
var fixtureDirs = []string{"testdata/datadir-v1", "testdata/datadir-v2", "testdata/datadir-v3", "testdata/datadir-v4"}

// TestOpensYesterdaysDataDirectory proves that an existing data directory is never stranded.
func TestOpensYesterdaysDataDirectory(t *testing.T) {
	for _, dir := range fixtureDirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { opensDataDirectory(t, dir) })
	}
}

func opensDataDirectory(t *testing.T, fixtureDir string) {
	dataDir := filepath.Join(t.TempDir(), "data")
	copyTree(t, filepath.Join(fixtureDir, "dir"), dataDir)
	ids := strings.Fields(readString(t, filepath.Join(fixtureDir, "claims.txt")))
	keys := fixtureKeys(t, dataDir)

	// As left by the old code: its read models are opened (and migrated), not rebuilt.
	newAccounts := len(roleNames()) - len(strings.Fields(readOptional(t, filepath.Join(dataDir, devAccountsFile))))
	p := startDev(t, dataDir)
	compareWithGolden(t, p, fixtureDir, ids, keys, newAccounts)
	stop(t, p)

	out, err := exec.Command(buildBinary(t), "audit", "verify", "--data-dir", dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify of the old data directory failed: %v\n%s", err, out)
	}
	out, err = exec.Command(buildBinary(t), "projections", "rebuild", "--data-dir", dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("rebuilding the read models of the old data directory failed: %v\n%s", err, out)
	}
	p = startDev(t, dataDir)
	compareWithGolden(t, p, fixtureDir, ids, keys, newAccounts)
	stop(t, p)
}

// readOptional is a file's content, "" when there is none.
func readOptional(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startDev serves dataDir as `make run` does, with the SLA timer process slowed down: it still
// passes once at start, so clocks that ran out since the fixture was written may add events.
func startDev(t *testing.T, dataDir string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(buildBinary(t), "serve", "--dev", "--addr", addr, "--data-dir", dataDir, "--sla-interval", "1h")
	cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, addr: addr, output: out}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not become ready on the old data directory:\n%s", out)
		}
	}
}

func stop(t *testing.T, p *process) {
	t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

// compareWithGolden asks the same questions the old code was asked and compares the answers.
// A field the new code adds is allowed; a field the old code answered must keep its value. What
// depends on the instant of asking (as_of, timings, a running clock's state) is left out, and
// so is what the SLA timer process may have changed since the fixture was written, for claims
// whose history it extended (only with its own events, after the old ones). newAccounts is how
// many development accounts serve --dev added to the directory (one event in a stream of its own
// each), which the chain's counts leave out.
func compareWithGolden(t *testing.T, p *process, fixtureDir string, ids []string, keys map[string]string, newAccounts int) {
	t.Helper()
	extended := map[string]bool{}
	for i, id := range ids {
		n := itoa(i + 1)
		var gotHistory, wantHistory struct{ Events []any }
		getJSON(t, p, keys["agent"], "/v1/claims/"+id+"/events", &gotHistory)
		loadGolden(t, fixtureDir, "events"+n, &wantHistory)
		got, want := gotHistory.Events, wantHistory.Events
		if len(got) < len(want) {
			t.Fatalf("claim %s: %d events, the old code had %d", id, len(got), len(want))
		}
		for j := range want {
			compareJSON(t, "events"+n+"["+itoa(j)+"]", want[j], got[j], nil)
		}
		for _, e := range got[len(want):] {
			typ, _ := e.(map[string]any)["type"].(string)
			if !timerEvent.MatchString(typ) {
				t.Errorf("claim %s: event %s was added to an old claim by something other than the SLA timer", id, typ)
			}
			extended[id] = true
		}
		var claim, wantClaim map[string]any
		getJSON(t, p, keys["agent"], "/v1/claims/"+id+"?min_position=1", &claim)
		loadGolden(t, fixtureDir, "claim"+n, &wantClaim)
		compareJSON(t, "claim"+n, wantClaim, claim, claimVolatile(extended[id]))
	}

	var search, wantSearch map[string]any
	getJSON(t, p, keys["agent"], "/v1/claims?limit=200", &search)
	loadGolden(t, fixtureDir, "search", &wantSearch)
	byID := func(m map[string]any) map[string]any {
		out := map[string]any{}
		items, _ := m["items"].([]any)
		for _, it := range items {
			out[it.(map[string]any)["id"].(string)] = it
		}
		return out
	}
	gotItems, wantItems := byID(search), byID(wantSearch)
	if len(wantItems) == 0 || len(gotItems) != len(wantItems) {
		t.Errorf("search: %d claims, the old code found %d", len(gotItems), len(wantItems))
	}
	for id, w := range wantItems {
		compareJSON(t, "search "+id, w, gotItems[id], claimVolatile(extended[id]))
	}

	for _, q := range []struct{ name, path string }{
		{"compensations", "/v1/finance/compensations?limit=200"},
		{"reconciliation", "/v1/finance/reconciliation?from=2026-01-01&to=2027-12-31"},
	} {
		var got, want any
		getJSON(t, p, keys["finance"], q.path, &got)
		loadGolden(t, fixtureDir, q.name, &want)
		compareJSON(t, q.name, want, got, map[string]bool{"as_of": true})
	}

	compareDeliveries(t, p, fixtureDir, keys)

	var verify, wantVerify map[string]any
	getJSON(t, p, keys["auditor"], "/v1/audit/verify", &verify)
	loadGolden(t, fixtureDir, "verify", &wantVerify)
	if verify["ok"] != true {
		t.Errorf("the old data directory's chain does not verify: %v", verify)
	}
	dev := float64(newAccounts)
	for _, k := range []string{"events", "event_count", "streams", "uncovered"} {
		if n, ok := verify[k].(float64); ok {
			verify[k] = n - dev
		}
	}
	compareJSON(t, "verify", wantVerify, verify, map[string]bool{
		"took_seconds": true, "events": len(extended) > 0, "head_hash": true,
		"event_count": len(extended) > 0, "position": true, "uncovered": len(extended) > 0,
	})
}

// compareDeliveries compares the webhook subscriptions and the outbox's deliveries to the first
// with the old code's, for a fixture that has them (datadir-v4 on): every message the old outbox
// queued is still there, once, for the same event. How far its delivery got depends on when the
// test runs (the receiver never answers: attempts go on, and after a day it is given up), so
// only what was queued is compared.
func compareDeliveries(t *testing.T, p *process, fixtureDir string, keys map[string]string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(fixtureDir, "golden", "webhooks.json")); err != nil {
		return
	}
	var hooks, wantHooks struct{ Items []map[string]any }
	getJSON(t, p, keys["admin"], "/v1/webhooks", &hooks)
	loadGolden(t, fixtureDir, "webhooks", &wantHooks)
	if len(hooks.Items) != len(wantHooks.Items) || len(wantHooks.Items) == 0 {
		t.Fatalf("webhooks: %d subscriptions, the old code had %d", len(hooks.Items), len(wantHooks.Items))
	}
	compareJSON(t, "webhooks", wantHooks.Items[0], hooks.Items[0], nil)
	var got, want struct{ Items []map[string]any }
	getJSON(t, p, keys["admin"], "/v1/webhooks/"+wantHooks.Items[0]["id"].(string)+"/deliveries?limit=1000", &got)
	loadGolden(t, fixtureDir, "deliveries", &want)
	byID := map[string]map[string]any{}
	for _, d := range got.Items {
		if byID[d["id"].(string)] != nil {
			t.Errorf("delivery %s is listed twice", d["id"])
		}
		byID[d["id"].(string)] = d
	}
	if len(want.Items) == 0 || len(got.Items) != len(want.Items) {
		t.Errorf("deliveries: %d, the old code had %d", len(got.Items), len(want.Items))
	}
	volatile := map[string]bool{"status": true, "attempts": true, "last_error": true, "next_attempt": true, "sent": true}
	for _, w := range want.Items {
		id := w["id"].(string)
		if byID[id] == nil {
			t.Errorf("delivery %s (%s) is gone", id, w["kind"])
			continue
		}
		if w["status"] == "erased" && byID[id]["status"] != "erased" {
			t.Errorf("delivery %s to an erased customer's claim is %s again", id, byID[id]["status"])
		}
		compareJSON(t, "delivery "+id, w, byID[id], volatile)
	}
}

// timerEvent names the events the SLA timer process appends on its own.
var timerEvent = regexp.MustCompile(`^claim\.(sla_breach_recorded|repair_escalated|closed)\.v[0-9]+$`)

// claimVolatile lists the claim fields that depend on the instant of asking, or on events the
// SLA timer process appended since the fixture was written.
func claimVolatile(extended bool) map[string]bool {
	v := map[string]bool{"clocks": true}
	if extended {
		for _, k := range []string{"status", "version", "updated_at", "position", "allowed_actions", "next_action"} {
			v[k] = true
		}
	}
	return v
}

// compareJSON reports every value of want that got lacks or answers differently; skip names
// top-level keys of objects not compared. allowed_actions may gain actions the new code adds
// (help without the goods, documents received later), never lose one the old code allowed.
func compareJSON(t *testing.T, path string, want, got any, skip map[string]bool) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %v, want an object", path, got)
			return
		}
		for k, wv := range w {
			if skip[k] {
				continue
			}
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s.%s: missing, the old code answered %v", path, k, wv)
				continue
			}
			if k == "allowed_actions" {
				keepsActions(t, path+"."+k, wv, gv)
				continue
			}
			compareJSON(t, path+"."+k, wv, gv, nil)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		for i := range w {
			compareJSON(t, path+"["+itoa(i)+"]", w[i], g[i], nil)
		}
	default:
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: got %v, the old code answered %v", path, got, want)
		}
	}
}

// keepsActions reports an action the old code allowed that got no longer lists, in the old
// code's order.
func keepsActions(t *testing.T, path string, want, got any) {
	t.Helper()
	w, _ := want.([]any)
	g, ok := got.([]any)
	if !ok {
		t.Errorf("%s: got %v, want a list", path, got)
		return
	}
	at := 0
	for _, action := range w {
		i := slices.Index(g[at:], action)
		if i < 0 {
			t.Errorf("%s: got %v, which lacks %v or lists it out of the old order %v", path, got, action, want)
			return
		}
		at += i + 1
	}
}

func getJSON(t *testing.T, p *process, key, path string, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func loadGolden(t *testing.T, fixtureDir, name string, into any) {
	t.Helper()
	if err := json.Unmarshal([]byte(readString(t, filepath.Join(fixtureDir, "golden", name+".json"))), into); err != nil {
		t.Fatalf("golden %s: %v", name, err)
	}
}

// fixtureKeys reads the development keys the old code generated (role:key, comma-separated).
func fixtureKeys(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	keys := map[string]string{}
	for _, pair := range strings.Split(strings.TrimSpace(readString(t, filepath.Join(dataDir, "dev-api-keys"))), ",") {
		role, key, _ := strings.Cut(pair, ":")
		keys[role] = key
	}
	return keys
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// copyTree copies a directory; private files stay private, as the service wrote them (git keeps
// no permissions but the executable bit).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dest := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dest, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dest, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
