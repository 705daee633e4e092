package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAssignThroughTheAPI: the desk gives a claim to a person, the claim shows the assignee,
// and a refusal (finance has no write access; a repeated assignment changes nothing) writes
// no event.
func TestAssignThroughTheAPI(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	path := "/v1/claims/" + id + "/actions/assign"

	claim := ts.act(id, "assign", map[string]any{"assignee": " Maria Ivanova "})
	if claim["assignee"] != "Maria Ivanova" || claim["status"] != "registered" {
		t.Fatalf("after assign: assignee %v, status %v", claim["assignee"], claim["status"])
	}
	read := ts.do(http.MethodGet, "/v1/claims/"+id+"?min_position="+url.QueryEscape(claim["position"].(string)), RoleAgent, nil)
	if got := read.json(t)["assignee"]; got != "Maria Ivanova" {
		t.Errorf("read back assignee %v", got)
	}

	other := ts.register()
	minPos := "&min_position=" + url.QueryEscape(ts.act(other, "add-note", map[string]any{"text": "Called."})["position"].(string))
	for query, want := range map[string]string{"assignee=Maria+Ivanova": id, "assignee=Maria": "", "unassigned=true": other} {
		items := ts.do(http.MethodGet, "/v1/claims?"+query+minPos, RoleAgent, nil).json(t)["items"].([]any)
		var got string
		for _, it := range items {
			got += it.(map[string]any)["id"].(string)
		}
		if got != want {
			t.Errorf("search %s found %q, want %q", query, got, want)
		}
	}
	for _, query := range []string{"unassigned=maybe", "assignee=Maria+Ivanova&unassigned=true"} {
		if res := ts.do(http.MethodGet, "/v1/claims?"+query, RoleAgent, nil); res.Code != http.StatusBadRequest {
			t.Errorf("search %s: %d %s", query, res.Code, res.Body)
		}
	}

	before := ts.eventCount()
	for _, tc := range []struct {
		name string
		role Role
		body string
		code int
		want string
	}{
		{"finance may not assign", RoleFinance, `{"assignee":"Petar"}`, http.StatusForbidden, ""},
		{"the same person again", RoleAgent, `{"assignee":"Maria Ivanova"}`, http.StatusUnprocessableEntity, "assignee"},
		{"two lines", RoleAgent, `{"assignee":"Maria\nIvanova"}`, http.StatusUnprocessableEntity, "assignee"},
		{"an unknown field", RoleAgent, `{"assignee":"Petar","owner":"x"}`, http.StatusBadRequest, "owner"},
	} {
		res := ts.do(http.MethodPost, path, tc.role, tc.body)
		if res.Code != tc.code || !strings.Contains(string(res.Body), tc.want) {
			t.Errorf("%s: %d %s, want %d naming %q", tc.name, res.Code, res.Body, tc.code, tc.want)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s: content type %q", tc.name, ct)
		}
	}
	if n := ts.eventCount(); n != before {
		t.Errorf("refusals wrote %d events", n-before)
	}

	claim = ts.act(id, "assign", map[string]any{"assignee": ""})
	if _, ok := claim["assignee"]; ok {
		t.Errorf("after unassigning: assignee %v", claim["assignee"])
	}
}
