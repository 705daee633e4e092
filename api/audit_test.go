package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/ledger"
)

// auditWiring gives the test server a ledger with a clock that moves a
// minute per command, so that every event has an instant of its own, a
// signing key, and a logger whose output the test reads.
type auditWiring struct {
	signer *audit.Signer
	logs   *lockedLog
}

type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func newAuditServer(t *testing.T, withKey bool) (*testServer, *auditWiring) {
	t.Helper()
	w := &auditWiring{logs: &lockedLog{}}
	if withKey {
		key, err := audit.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		w.signer = audit.NewSigner(key)
	}
	var mu sync.Mutex
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Minute)
		return now
	}
	ts := newTestServer(t, func(tw *testWiring) {
		tw.config = func(c *Config) {
			store := c.Ledger.Store()
			svc, err := ledger.New(store, ledger.Config{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			c.Ledger = svc
			c.Logger = slog.New(slog.NewJSONHandler(w.logs, nil))
			c.Audit.DensePositions = true
			if w.signer != nil {
				cp, err := audit.NewCheckpointer(store, audit.CheckpointerConfig{Signer: w.signer, Logger: c.Logger})
				if err != nil {
					t.Fatal(err)
				}
				c.Audit.Checkpointer = cp
			}
		}
	})
	return ts, w
}

// fullClaim registers a claim and takes it through the whole lifecycle,
// with an internal note on the way.
func (ts *testServer) fullClaim() string {
	ts.t.Helper()
	id := ts.register()
	for i, step := range lifecycle {
		ts.act(id, step.action, step.body)
		if i == 3 {
			ts.act(id, "add-note", map[string]any{"text": "customer was rude on the phone", "visibility": "internal"})
		}
	}
	return id
}

func TestStateAtEveryRevisionMatchesAnIndependentFold(t *testing.T) {
	ts, _ := newAuditServer(t, false)
	id := ts.fullClaim()

	// The independent fold: the raw events, decoded and folded here.
	res := ts.do(http.MethodGet, "/v1/claims/"+id+"/events", RoleAgent, nil)
	if res.Code != http.StatusOK {
		t.Fatalf("events: %d %s", res.Code, res.Body)
	}
	var raw EventsResponse
	if err := json.Unmarshal(res.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Events) != len(lifecycle)+2 {
		t.Fatalf("%d events", len(raw.Events))
	}
	var (
		state    domain.State
		previous time.Time
	)
	stateOf := func(r response) string {
		t.Helper()
		var got struct {
			domain.State
			AllowedActions []domain.Action `json:"allowed_actions"`
		}
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatalf("%v: %s", err, r.Body)
		}
		b, _ := json.Marshal(got)
		return string(b)
	}
	for i, e := range raw.Events {
		ev, err := domain.DecodeEvent(e.Type, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		state = domain.Evolve(state, ev)
		allowed := domain.AllowedActions(state)
		if allowed == nil {
			allowed = []domain.Action{}
		}
		wantJSON, _ := json.Marshal(struct {
			domain.State
			AllowedActions []domain.Action `json:"allowed_actions"`
		}{state, allowed})
		want := string(wantJSON)
		meta, err := eventlog.DecodeMetadata(e.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		version := i + 1

		byVersion := ts.do(http.MethodGet, "/v1/claims/"+id+"/state?version="+strconv.Itoa(version), RoleAuditor, nil)
		if byVersion.Code != http.StatusOK {
			t.Fatalf("version %d: %d %s", version, byVersion.Code, byVersion.Body)
		}
		if got := stateOf(byVersion); got != want {
			t.Fatalf("version %d:\n got %s\nwant %s", version, got, want)
		}
		if body := byVersion.json(t); body["event_id"] != e.EventID.String() || body["position"] != e.Position {
			t.Errorf("version %d: last event %v at %v, want %s at %s", version, body["event_id"], body["position"], e.EventID, e.Position)
		}
		// At the event's own instant, and just before the next one.
		for _, at := range []time.Time{meta.OccurredAt, meta.OccurredAt.Add(59 * time.Second)} {
			byTime := ts.do(http.MethodGet, "/v1/claims/"+id+"/state?as_of="+url.QueryEscape(at.Format(time.RFC3339Nano)), RoleAuditor, nil)
			if byTime.Code != http.StatusOK {
				t.Fatalf("as_of %s: %d %s", at, byTime.Code, byTime.Body)
			}
			if got := stateOf(byTime); got != want {
				t.Fatalf("as_of %s (version %d):\n got %s\nwant %s", at, version, got, want)
			}
		}
		if !meta.OccurredAt.After(previous) {
			t.Fatalf("event %d is not later than the one before", version)
		}
		previous = meta.OccurredAt
	}
	// Now, without a point: the last version.
	if now := ts.do(http.MethodGet, "/v1/claims/"+id+"/state", RoleAgent, nil); now.Code != http.StatusOK || now.json(t)["version"] != float64(len(raw.Events)) {
		t.Errorf("current state: %d %s", now.Code, now.Body)
	}
}

func TestStateRefusals(t *testing.T) {
	ts, _ := newAuditServer(t, false)
	id := ts.register()
	for _, tc := range []struct {
		query  string
		status int
		slug   string
	}{
		{"version=0", 400, "invalid-parameter"},
		{"version=two", 400, "invalid-parameter"},
		{"version=2", 404, "no-such-version"},
		{"as_of=yesterday", 400, "invalid-parameter"},
		{"as_of=2026-11-02T09:00:59Z", 404, "not-yet-registered"},
		{"as_of=2026-11-02T09:05:00Z&version=1", 400, "invalid-parameter"},
		{"version=1&version=1", 400, "repeated-parameter"},
		{"at=2026-03-02T09:05:00Z", 400, "unknown-parameter"},
	} {
		res := ts.do(http.MethodGet, "/v1/claims/"+id+"/state?"+tc.query, RoleAuditor, nil)
		if res.Code != tc.status || res.Header.Get("Content-Type") != "application/problem+json" ||
			res.json(t)["type"] != "urn:rmaledger:problem:"+tc.slug {
			t.Errorf("%s: %d %s, want %d %s", tc.query, res.Code, res.Body, tc.status, tc.slug)
		}
	}
	if res := ts.do(http.MethodGet, "/v1/claims/0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e/state", RoleAuditor, nil); res.Code != 404 {
		t.Errorf("unknown claim: %d", res.Code)
	}
	if res := ts.do(http.MethodGet, "/v1/claims/"+id+"/state", "", nil); res.Code != 401 {
		t.Errorf("no key: %d", res.Code)
	}
}

func TestHistoryIsReadable(t *testing.T) {
	ts, _ := newAuditServer(t, false)
	id := ts.fullClaim()
	res := ts.do(http.MethodGet, "/v1/claims/"+id+"/history", RoleAuditor, nil)
	if res.Code != http.StatusOK {
		t.Fatalf("%d %s", res.Code, res.Body)
	}
	var h HistoryResponse
	if err := json.Unmarshal(res.Body, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Events) != len(lifecycle)+2 || !strings.HasPrefix(h.Number, "RMA-") {
		t.Fatalf("%d events, number %q", len(h.Events), h.Number)
	}
	first, authorize, note, last := h.Events[0], h.Events[1], h.Events[5], h.Events[len(h.Events)-1]
	if first.Action != "register" || first.Role != "agent" || !strings.HasPrefix(first.Actor, "agent-") ||
		first.StatusBefore != "" || first.StatusAfter != domain.StatusRegistered || !strings.Contains(first.Summary, h.Number) {
		t.Errorf("registration: %+v", first.HistoryEntry)
	}
	if authorize.Action != "authorize" || authorize.Role != "technician" || authorize.StatusBefore != domain.StatusRegistered ||
		authorize.StatusAfter != domain.StatusAuthorized || authorize.Summary != "Authorized; ship to Sofia service center" || authorize.Version != 2 {
		t.Errorf("authorization: %+v", authorize.HistoryEntry)
	}
	if note.Action != "add-note" || note.Summary != "Note (internal): customer was rude on the phone" {
		t.Errorf("the internal note: %+v", note.HistoryEntry)
	}
	if last.Action != "close" || last.Reason != "completed: repaired and delivered" || last.StatusAfter != domain.StatusClosed {
		t.Errorf("closure: %+v", last.HistoryEntry)
	}
	for i, e := range h.Events {
		if e.Revision != uint64(i) || e.Position == "" || len(e.ContentHash) != 64 || len(e.PrevHash) != 64 || e.OccurredAt.IsZero() {
			t.Errorf("event %d: %+v", i, e)
		}
		if i > 0 && e.PrevHash != h.Events[i-1].ContentHash {
			t.Errorf("event %d does not link to event %d", i, i-1)
		}
	}
	if h.Events[0].PrevHash != audit.Genesis.String() {
		t.Errorf("first prev_hash %s", h.Events[0].PrevHash)
	}
}

func TestVerifyAndCheckpointEndpoints(t *testing.T) {
	ts, w := newAuditServer(t, true)
	id := ts.fullClaim()
	ts.register()

	verify := func(query string) map[string]any {
		t.Helper()
		res := ts.do(http.MethodGet, "/v1/audit/verify"+query, RoleAuditor, nil)
		if res.Code != http.StatusOK {
			t.Fatalf("verify%s: %d %s", query, res.Code, res.Body)
		}
		return res.json(t)
	}
	r := verify("")
	if r["ok"] != true || r["events"] != float64(len(lifecycle)+2+1+1) || r["checkpoints"] != 0.0 || len(r["warnings"].([]any)) == 0 {
		t.Fatalf("before any checkpoint: %v", r)
	}

	for _, role := range []Role{RoleAgent, RoleTechnician, RoleFinance, RoleAuditor} {
		if res := ts.do(http.MethodPost, "/v1/audit/checkpoints", role, nil); res.Code != http.StatusForbidden {
			t.Errorf("%s signs a checkpoint: %d", role, res.Code)
		}
	}
	before := ts.eventCount()
	for _, body := range []string{`{"why":"because"}`, `{`, `[]`} {
		if res := ts.do(http.MethodPost, "/v1/audit/checkpoints", RoleAdmin, body); res.Code != http.StatusBadRequest {
			t.Errorf("body %s: %d %s", body, res.Code, res.Body)
		}
	}
	if n := ts.eventCount(); n != before {
		t.Fatalf("refused requests wrote %d events", n-before)
	}
	res := ts.do(http.MethodPost, "/v1/audit/checkpoints", RoleAdmin, nil)
	if res.Code != http.StatusCreated {
		t.Fatalf("checkpoint: %d %s", res.Code, res.Body)
	}
	cp := res.json(t)
	if cp["event_count"] != float64(before) || cp["key_id"] != w.signer.KeyID() || cp["event_position"] == "" {
		t.Errorf("checkpoint %v, want %d events", cp, before)
	}
	r = verify("")
	if r["ok"] != true || r["checkpoints"] != 1.0 || r["uncovered"] != 0.0 || r["head_hash"] != cp["head_hash"] {
		t.Fatalf("after a checkpoint: %v", r)
	}
	if r := verify("?claim=" + id); r["ok"] != true || r["events"] != float64(len(lifecycle)+2) || r["claim"] != id {
		t.Errorf("one claim: %v", r)
	}
	if r := verify("?from=" + cp["event_position"].(string)); r["ok"] != true || r["from"] != cp["position"] {
		t.Errorf("from the checkpoint: %v", r)
	}
	for query, status := range map[string]int{
		"?claim=nope": 400, "?from=x": 400, "?claim=0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e": 404, "?everything=1": 400,
	} {
		if res := ts.do(http.MethodGet, "/v1/audit/verify"+query, RoleAuditor, nil); res.Code != status {
			t.Errorf("verify%s: %d, want %d", query, res.Code, status)
		}
	}
	for _, role := range []Role{RoleAgent, RoleTechnician, RoleFinance} {
		if res := ts.do(http.MethodGet, "/v1/audit/verify", role, nil); res.Code != http.StatusForbidden {
			t.Errorf("%s verifies: %d", role, res.Code)
		}
	}
	if res := ts.do(http.MethodGet, "/v1/audit/verify", RoleAdmin, nil); res.Code != http.StatusOK {
		t.Errorf("admin verifies: %d", res.Code)
	}

	// The export checks offline with the public key alone.
	exp := ts.do(http.MethodGet, "/v1/audit/export?claim="+id, RoleAuditor, nil)
	if exp.Code != http.StatusOK || exp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %s", exp.Code, exp.Body)
	}
	report, err := audit.Check(bytes.NewReader(exp.Body), audit.NewKeys(w.signer.Public()))
	if err != nil || !report.OK || report.Events != len(lifecycle)+2 {
		t.Fatalf("check: %v %+v", err, report)
	}
}

func TestCheckpointsWithoutAKey(t *testing.T) {
	ts, _ := newAuditServer(t, false)
	ts.register()
	before := ts.eventCount()
	res := ts.do(http.MethodPost, "/v1/audit/checkpoints", RoleAdmin, nil)
	if res.Code != http.StatusServiceUnavailable || res.json(t)["type"] != "urn:rmaledger:problem:checkpoints-disabled" {
		t.Fatalf("%d %s", res.Code, res.Body)
	}
	if ts.eventCount() != before {
		t.Fatal("an event was written")
	}
}

func TestAuditTrail(t *testing.T) {
	ts, _ := newAuditServer(t, false)
	a := ts.fullClaim()
	b := ts.register()
	last := ts.act(b, "reject", map[string]any{"reason_code": "warranty_expired", "reason": "bought in 2019"})
	wait := "&min_position=" + url.QueryEscape(last["position"].(string))

	page := func(query string) TrailResponse {
		t.Helper()
		res := ts.do(http.MethodGet, "/v1/audit/trail?"+query+wait, RoleAuditor, nil)
		if res.Code != http.StatusOK {
			t.Fatalf("trail?%s: %d %s", query, res.Code, res.Body)
		}
		var p TrailResponse
		if err := json.Unmarshal(res.Body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	all := page("limit=1000")
	total := len(lifecycle) + 2 + 2
	if len(all.Items) != total || all.NextCursor != "" {
		t.Fatalf("%d entries, want %d", len(all.Items), total)
	}
	for i, e := range all.Items {
		if i > 0 && e.Position <= all.Items[i-1].Position && len(e.Position) == len(all.Items[i-1].Position) {
			t.Errorf("entry %d is out of order", i)
		}
		if e.Number == "" || e.Actor == "" || e.Summary == "" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	count := func(query string, want int) {
		t.Helper()
		if got := len(page(query).Items); got != want {
			t.Errorf("trail?%s: %d entries, want %d", query, got, want)
		}
	}
	count("role=agent", 2)                            // the two registrations
	count("role=technician", len(lifecycle)+1+1)      // every action (ts.act is a technician)
	count("action=register,reject", 3)                //
	count("action=add-note", 2)                       // a customer note and an internal one
	count("claim="+b, 2)                              //
	count("claim="+all.Items[0].Number, total-2)      // by number
	count("actor="+all.Items[0].Actor+"&claim="+a, 1) //
	count("to="+url.QueryEscape(all.Items[1].OccurredAt.Format(time.RFC3339Nano)), 1)
	count("from="+url.QueryEscape(all.Items[total-1].OccurredAt.Format(time.RFC3339Nano)), 1)

	// Pages of 5 cover everything once.
	var seen []string
	cursor := ""
	for {
		p := page("limit=5" + cursor)
		for _, e := range p.Items {
			seen = append(seen, e.EventID.String())
		}
		if p.NextCursor == "" {
			break
		}
		cursor = "&cursor=" + p.NextCursor
	}
	if len(seen) != total {
		t.Fatalf("pages saw %d entries, want %d", len(seen), total)
	}
	reject := all.Items[total-1]
	if reject.Action != "reject" || reject.Reason != "warranty_expired: bought in 2019" {
		t.Errorf("rejection: %+v", reject)
	}

	// CSV: every row.
	for _, req := range []struct{ query, accept string }{{"format=csv", ""}, {"", "text/csv"}} {
		res := ts.do(http.MethodGet, "/v1/audit/trail?"+req.query+wait, RoleAuditor, nil, "Accept", req.accept)
		if res.Code != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", res.Code, res.Body)
		}
		records, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != total+1 || records[0][0] != "position" || records[total][6] != "reject" {
			t.Errorf("csv: %d records, first %v", len(records), records[0])
		}
	}

	for query, status := range map[string]int{
		"cursor=nope": 400, "limit=0": 400, "limit=1001": 400, "from=today": 400, "format=xml": 400, "who=me": 400,
	} {
		if res := ts.do(http.MethodGet, "/v1/audit/trail?"+query, RoleAuditor, nil); res.Code != status {
			t.Errorf("trail?%s: %d, want %d", query, res.Code, status)
		}
	}
	if res := ts.do(http.MethodGet, "/v1/audit/trail", RoleAgent, nil); res.Code != http.StatusForbidden {
		t.Errorf("an agent reads the trail: %d", res.Code)
	}
}

func TestAuditorReadsAreLogged(t *testing.T) {
	ts, w := newAuditServer(t, false)
	id := ts.register()
	ts.do(http.MethodGet, "/v1/claims/"+id+"/history", RoleAgent, nil)
	ts.do(http.MethodGet, "/v1/claims/"+id+"/history", RoleAuditor, nil)
	ts.do(http.MethodGet, "/v1/claims/"+id+"?min_position=1", RoleAuditor, nil)
	ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/close", RoleAuditor, map[string]any{"reason_code": "completed"})
	var access []map[string]any
	for _, l := range w.logs.lines() {
		if l["msg"] == "auditor access" {
			access = append(access, l)
		}
	}
	if len(access) != 3 {
		t.Fatalf("%d auditor access lines, want 3: %v", len(access), access)
	}
	if a := access[0]; a["path"] != "/v1/claims/"+id+"/history" || a["status"] != 200.0 || !strings.HasPrefix(a["actor"].(string), "auditor-") || a["route"] != "/v1/claims/:id/history" {
		t.Errorf("history read: %v", a)
	}
	if a := access[1]; a["query"] != "min_position=1" {
		t.Errorf("claim read: %v", a)
	}
	if a := access[2]; a["method"] != "POST" || a["status"] != 403.0 {
		t.Errorf("refused write: %v", a)
	}
}

// TestAuditorReadsEverythingAndWritesNothing walks every /v1 route: an
// auditor's key reads every one that reads (operations on the read models
// under /v1/admin aside: they are the operator's), and is refused by every
// one that writes, before anything is decoded.
func TestAuditorReadsEverythingAndWritesNothing(t *testing.T) {
	ts, _ := newAuditServer(t, true)
	before := ts.eventCount()
	for _, r := range ts.echo.Router().Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") || r.Method == http.MethodOptions || r.Method == echo.RouteNotFound {
			continue
		}
		path := strings.NewReplacer(":id", "0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e", ":action", "close", ":name", "claims").Replace(r.Path)
		res := ts.do(r.Method, path, RoleAuditor, "{}")
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/v1/admin/"):
		case r.Path == "/v1/payments/:provider/webhook":
			// Authenticated by a payment provider's signature, never by a key: an
			// auditor's key gives no more than none (an unsigned body writes nothing).
			if res.Code < 400 {
				t.Errorf("an auditor's unsigned webhook answered %d", res.Code)
			}
		case r.Method == http.MethodGet && res.Code == http.StatusForbidden:
			t.Errorf("an auditor may not read %s", r.Path)
		case r.Method != http.MethodGet && res.Code != http.StatusForbidden:
			t.Errorf("an auditor's %s %s answered %d, want 403", r.Method, r.Path, res.Code)
		}
	}
	if n := ts.eventCount(); n != before {
		t.Errorf("an auditor wrote %d events", n-before)
	}
}
