package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

func TestReadYourWrites(t *testing.T) {
	ts := newTestServer(t)
	for range 20 {
		res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, registerBody())
		claim := res.json(t)
		got := ts.do(http.MethodGet, "/v1/claims/"+claim["id"].(string)+"?min_position="+claim["position"].(string), RoleAgent, nil)
		if got.Code != http.StatusOK || got.json(t)["number"] != claim["number"] {
			t.Fatalf("read after write with min_position: %d %s", got.Code, got.Body)
		}
	}
	// The position of an event the read models have not passed (one of
	// another stream, with no claim event after it): the read waits its
	// bounded time, then 503, and nothing tells it from a slow projection.
	other, err := ts.store.Append(context.Background(), "other-1", eventstore.Any,
		eventstore.EventData{ID: uuid.New(), Type: "other.noted.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	res := ts.do(http.MethodGet, "/v1/claims?min_position="+positionString(other.Position), RoleAgent, nil)
	if res.Code != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("unreached position: %d %v %s", res.Code, res.Header, res.Body)
	}
	if p := res.json(t); p["type"] != "urn:rmaledger:problem:not-yet-visible" {
		t.Errorf("problem %v", p)
	}
	// A position past the end of the log (another installation's, or one
	// from before a restore): 400 without Retry-After, since no retry helps.
	res = ts.do(http.MethodGet, "/v1/claims?min_position=999999999", RoleAgent, nil)
	if res.Code != http.StatusBadRequest || res.Header.Get("Retry-After") != "" {
		t.Fatalf("position past the end of the log: %d %v %s", res.Code, res.Header, res.Body)
	}
	if p := res.json(t); p["type"] != "urn:rmaledger:problem:unknown-position" {
		t.Errorf("problem %v", p)
	}
	if res := ts.do(http.MethodGet, "/v1/claims?min_position=abc", RoleAgent, nil); res.Code != http.StatusBadRequest {
		t.Errorf("malformed min_position: %d", res.Code)
	}
}

func TestSearch(t *testing.T) {
	ts := newTestServer(t)
	var last string
	for i := range 5 {
		body := registerBody()
		if i == 3 {
			body["customer"] = map[string]any{"name": "Other", "phone": "+30 210 555 0000", "email": "Other@Example.com"}
			body["product"] = map[string]any{"category": "phone", "serial": "UNIQUE-7"}
		}
		last = ts.do(http.MethodPost, "/v1/claims", RoleAgent, body).json(t)["position"].(string)
	}
	search := func(query string) (int, []any, string) {
		t.Helper()
		res := ts.do(http.MethodGet, "/v1/claims?min_position="+last+"&"+query, RoleFinance, nil)
		if res.Code != http.StatusOK {
			return res.Code, nil, ""
		}
		page := res.json(t)
		cursor, _ := page["next_cursor"].(string)
		return res.Code, page["items"].([]any), cursor
	}
	cases := []struct {
		query string
		want  int
	}{
		{"", 5},
		{"serial=UNIQUE-7", 1},
		{"phone=%2B30-210-555-0000", 1},
		{"phone=%2B30-210-555-0001", 0},
		{"email=other@example.com", 1},
		{"status=registered", 5},
		{"status=closed,authorized", 0},
		{"updated_since=2200-12-31T00:00:00Z", 0},
	}
	for _, tc := range cases {
		if code, items, _ := search(tc.query); code != http.StatusOK || len(items) != tc.want {
			t.Errorf("search %q: %d with %d items, want %d", tc.query, code, len(items), tc.want)
		}
	}
	// Pagination visits every claim once.
	seen := map[string]bool{}
	_, items, cursor := search("limit=2")
	for pages := 1; ; pages++ {
		for _, it := range items {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("claim %s on two pages", id)
			}
			seen[id] = true
		}
		if cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		_, items, cursor = search("limit=2&cursor=" + cursor)
	}
	if len(seen) != 5 {
		t.Errorf("pages held %d claims, want 5", len(seen))
	}
	for _, bad := range []string{"colour=red", "limit=0", "limit=1000", "status=lost", "updated_since=yesterday", "number=a&number=b"} {
		if code, _, _ := search(bad); code != http.StatusBadRequest {
			t.Errorf("search %q: %d, want 400", bad, code)
		}
	}
}

func TestProjectionAdmin(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	if res := ts.do(http.MethodPost, "/v1/admin/projections/claims/rebuild", RoleAgent, nil); res.Code != http.StatusForbidden {
		t.Errorf("agent rebuild: %d", res.Code)
	}
	if res := ts.do(http.MethodPost, "/v1/admin/projections/nope/rebuild", RoleAdmin, nil); res.Code != http.StatusNotFound {
		t.Errorf("unknown projection: %d", res.Code)
	}
	res := ts.do(http.MethodPost, "/v1/admin/projections/claims/rebuild", RoleAdmin, nil)
	if res.Code != http.StatusAccepted || res.Header.Get("Location") != "/v1/admin/projections" ||
		!strings.Contains(string(res.Body), `"name":"claims"`) {
		t.Fatalf("rebuild: %d %v %s", res.Code, res.Header, res.Body)
	}
	// The rebuild goes on after the answer; the status shows when it is done.
	var claims map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		status := ts.do(http.MethodGet, "/v1/admin/projections", RoleAdmin, nil)
		var body struct{ Projections []map[string]any }
		if status.Code != http.StatusOK || json.Unmarshal(status.Body, &body) != nil {
			t.Fatalf("status: %d %s", status.Code, status.Body)
		}
		for _, p := range body.Projections {
			if p["name"] == "claims" {
				claims = p
			}
		}
		if claims["generation"] == 2.0 && claims["rebuilding"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild did not finish: %v", claims)
		}
	}
	if _, failed := claims["rebuild_error"]; failed {
		t.Errorf("rebuild failed: %v", claims)
	}
	if got := ts.do(http.MethodGet, "/v1/claims/"+id, RoleAgent, nil); got.Code != http.StatusOK {
		t.Errorf("claim after rebuild: %d %s", got.Code, got.Body)
	}
}
