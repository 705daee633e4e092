package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
)

// TestRequestIDBounded: a caller's X-Request-Id is kept only as 1 to 64
// characters of [A-Za-z0-9._:-]; anything else is replaced by a generated
// id, so that no header writes unbounded or unprintable data into the
// ledger, where the id becomes the events' correlation and causation ids.
func TestRequestIDBounded(t *testing.T) {
	ts := newTestServer(t)
	longValid := strings.Repeat("a1.b_c:d-", 8)[:64]
	for _, tc := range []struct {
		name string
		ids  []string // the X-Request-Id headers sent
		kept bool
	}{
		{"none", nil, false},
		{"a safe id", []string{"req-42.a_b:C"}, true},
		{"64 characters", []string{longValid}, true},
		{"65 characters", []string{longValid + "x"}, false},
		{"60,000 characters", []string{strings.Repeat("x", 60000)}, false},
		{"a space", []string{"req 42"}, false},
		{"markup", []string{"<script>alert(1)</script>"}, false},
		{"a slash", []string{"a/b"}, false},
		{"non-ASCII", []string{"заявка-42"}, false},
		{"a bidi override", []string{"abc\u202edef"}, false},
		{"empty", []string{""}, false},
		{"two headers", []string{"one", "two"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/claims", strings.NewReader(mustJSON(t, registerBody())))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+ts.keys[RoleAgent])
			req.Header[echo.HeaderXRequestID] = tc.ids
			rec := httptest.NewRecorder()
			ts.echo.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				t.Fatalf("register: %d %s", rec.Code, rec.Body)
			}
			id := rec.Header().Get(echo.HeaderXRequestID)
			switch {
			case tc.kept && id != tc.ids[0]:
				t.Errorf("X-Request-Id %q, want the caller's %q", id, tc.ids[0])
			case !tc.kept && (len(tc.ids) > 0 && id == tc.ids[0] || !validRequestID(id) || len(id) != 32):
				t.Errorf("X-Request-Id %q, want a generated one", id)
			}
			var claim struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &claim); err != nil {
				t.Fatal(err)
			}
			events := ts.do(http.MethodGet, "/v1/claims/"+claim.ID+"/events", RoleAgent, nil).json(t)["events"].([]any)
			meta := events[0].(map[string]any)["metadata"].(map[string]any)
			if meta["correlation_id"] != id || meta["causation_id"] != id {
				t.Errorf("the event's correlation %v and causation %v, want the answer's id %q", meta["correlation_id"], meta["causation_id"], id)
			}
		})
	}
	// A refusal names the same id in its body.
	res := ts.do(http.MethodGet, "/v1/nope", RoleAgent, nil, echo.HeaderXRequestID, strings.Repeat("y", 100))
	if id := res.Header.Get(echo.HeaderXRequestID); len(id) != 32 || res.json(t)["request_id"] != id {
		t.Errorf("problem request_id %v, header %q", res.json(t)["request_id"], id)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
