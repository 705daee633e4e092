package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestTimeParametersInRange: every date or time query parameter refuses an
// instant outside the years 1970 to 2200 with a precise 400, and accepts the
// first and last days of that range.
func TestTimeParametersInRange(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	routes := []struct {
		path  string
		param string
		role  Role
		dates bool // takes YYYY-MM-DD too
	}{
		{"/v1/finance/reconciliation", "from", RoleFinance, true},
		{"/v1/finance/reconciliation", "to", RoleFinance, true},
		{"/v1/finance/compensations", "from", RoleFinance, true},
		{"/v1/finance/compensations", "to", RoleFinance, true},
		{"/v1/sla/timers", "at", RoleAgent, false},
		{"/v1/claims", "updated_since", RoleAgent, false},
		{"/v1/claims/" + id + "/state", "as_of", RoleAuditor, false},
		{"/v1/audit/trail", "from", RoleAuditor, false},
		{"/v1/audit/trail", "to", RoleAuditor, false},
	}
	outside := []string{
		"0000-01-01T00:00:00Z", "0000-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "1677-09-21T00:00:00Z",
		"1969-12-31T23:59:59Z", "2201-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"9999-12-31T23:59:59-23:59",
	}
	outsideDates := []string{"0000-01-01", "1969-12-31", "2201-01-01", "9999-12-31"}
	inside := []string{"1970-01-01T00:00:00Z", "1970-01-01T00:00:00+14:00", "2200-12-31T23:59:59.999999999-12:00"}
	insideDates := []string{"1970-01-01", "2200-12-31"}
	for _, r := range routes {
		bad, good := outside, inside
		if r.dates {
			bad, good = append(slices.Clone(outside), outsideDates...), append(slices.Clone(inside), insideDates...)
		}
		for _, v := range bad {
			target := r.path + "?" + r.param + "=" + url.QueryEscape(v)
			res := ts.do(http.MethodGet, target, r.role, nil)
			if res.Code != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400\n%s", target, res.Code, res.Body)
				continue
			}
			p := res.json(t)
			if detail, _ := p["detail"].(string); p["type"] != "urn:rmaledger:problem:invalid-parameter" ||
				!strings.Contains(detail, r.param) || !strings.Contains(detail, "1970 to 2200") {
				t.Errorf("%s: %s", target, res.Body)
			}
		}
		for _, v := range good {
			target := r.path + "?" + r.param + "=" + url.QueryEscape(v)
			res := ts.do(http.MethodGet, target, r.role, nil)
			// as_of before the claim existed is its own 404.
			if res.Code != http.StatusOK && !(r.param == "as_of" && res.Code == http.StatusNotFound && strings.HasPrefix(v, "1970")) {
				t.Errorf("%s: %d, want it answered\n%s", target, res.Code, res.Body)
			}
		}
	}
	// The whole range at once, as the issue reported it.
	if res := ts.do(http.MethodGet, "/v1/finance/reconciliation?from=1970-01-01&to=2200-12-31", RoleFinance, nil); res.Code != http.StatusOK {
		t.Errorf("the widest period: %d %s", res.Code, res.Body)
	}
}
