package api

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api/statuspage"
)

// anonymous is the matrix's name for a request without an API key.
const anonymous Role = "anonymous"

// public marks a route anyone may call, with or without a key.
const public = "public"

// permissionMatrix is who may call which route, written out by hand so that
// a change to the permissions map, to a route's require() or to the
// authenticated group shows up here as a failing row, and a new route
// without a row fails the test: adding one means deciding who may call it.
//
// A row lists the roles allowed; every other role must get 403 and a
// request without a key 401. "public" means every role and anonymous.
var permissionMatrix = map[string]string{
	"GET /":                                    public,
	"GET /healthz":                             public,
	"GET /readyz":                              public,
	"GET /openapi.yaml":                        public,
	"GET /metrics":                             public,
	"GET /status":                              public,
	"POST /status":                             public,
	"GET /status/style.css":                    public,
	"GET /v1/status":                           public,
	"POST /v1/claims":                          "agent technician admin",
	"POST /v1/claims/:id/actions/:action":      "agent technician admin",
	"GET /v1/claims":                           "agent technician finance auditor admin",
	"GET /v1/claims/:id":                       "agent technician finance auditor admin",
	"GET /v1/claims/:id/events":                "agent technician finance auditor admin",
	"POST /v1/claims/:id/files":                "agent technician admin",
	"GET /v1/claims/:id/files":                 "agent technician finance auditor admin",
	"GET /v1/claims/:id/files/:file_id":        "agent technician finance auditor admin",
	"GET /v1/claims/:id/documents/:kind":       "agent technician finance auditor admin",
	"GET /v1/claims/:id/history":               "agent technician finance auditor admin",
	"GET /v1/claims/:id/state":                 "agent technician finance auditor admin",
	"GET /v1/finance/compensations":            "finance auditor admin",
	"GET /v1/finance/reconciliation":           "finance auditor admin",
	"GET /v1/audit/verify":                     "auditor admin",
	"GET /v1/audit/export":                     "auditor admin",
	"GET /v1/audit/trail":                      "auditor admin",
	"POST /v1/audit/checkpoints":               "admin",
	"GET /v1/sla/timers":                       "agent technician auditor admin",
	"GET /v1/admin/projections":                "admin",
	"GET /v1/admin/clock":                      "admin",
	"POST /v1/admin/clock":                     "admin",
	"POST /v1/admin/projections/:name/rebuild": "admin",
	"POST /v1/customers/:id/erase":             "admin",
	"POST /v1/claims/:id/portal-link":          "agent admin",
	"DELETE /v1/claims/:id/portal-link":        "agent admin",
	"POST /v1/claims/:id/payment-requests":     "agent finance admin",
	"POST /v1/payments/:provider/webhook":      public,
	"POST /v1/webhooks":                        "admin",
	"GET /v1/webhooks":                         "auditor admin",
	"GET /v1/webhooks/:id":                     "auditor admin",
	"PATCH /v1/webhooks/:id":                   "admin",
	"DELETE /v1/webhooks/:id":                  "admin",
	"POST /v1/webhooks/:id/rotate-secret":      "admin",
	"GET /v1/webhooks/:id/deliveries":          "auditor admin",
	"POST /v1/webhooks/:id/replay":             "admin",
}

// matrixParams fills a route's path parameters with values that reach the
// handler: the real claim, an action every open claim allows, a projection
// that exists. Whatever the handler then answers (200, 400, 422, 503...)
// shows the request was let through; only 401 and 403 are refusals.
func matrixParams(claimID string) map[string]string {
	return map[string]string{"id": claimID, "action": "add-note", "name": "claims"}
}

// TestPermissionMatrix walks every registered route for every role and for
// a request without a key, over HTTP through the whole middleware stack.
func TestPermissionMatrix(t *testing.T) {
	ts := newTestServer(t, func(w *testWiring) {
		prev := w.config
		w.config = func(c *Config) {
			if prev != nil {
				prev(c)
			}
			// 6 callers per route would trip the status page's limits,
			// whose answer (429) would hide the one under test.
			c.StatusPage.PerClient, c.StatusPage.PerNumber = statuspage.Unlimited, statuspage.Unlimited
			c.AuthFailures = NoAuthLimit
		}
	})
	id := ts.register()
	params := matrixParams(id)
	paramRE := regexp.MustCompile(`:([a-z_]+)`)

	registered := map[string]bool{}
	for _, r := range ts.echo.Router().Routes() {
		if r.Method == http.MethodOptions || r.Method == echo.RouteNotFound {
			continue
		}
		route := r.Method + " " + r.Path
		registered[route] = true
		want, listed := permissionMatrix[route]
		if !listed {
			t.Errorf("route %s is not in permissionMatrix: add a row saying who may call it", route)
			continue
		}
		path := paramRE.ReplaceAllStringFunc(r.Path, func(p string) string {
			if v, ok := params[p[1:]]; ok {
				return v
			}
			return "x"
		})
		var body any
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			body = "{}"
		}
		allowed := strings.Fields(want)
		for _, role := range append(Roles(), anonymous) {
			as := role
			if role == anonymous {
				as = ""
			}
			res := ts.do(r.Method, path, as, body)
			var wantCode int // 0: anything but 401 and 403
			switch {
			case want == public || slices.Contains(allowed, string(role)):
			case role == anonymous:
				wantCode = http.StatusUnauthorized
			default:
				wantCode = http.StatusForbidden
			}
			if wantCode == 0 {
				if res.Code == http.StatusUnauthorized || res.Code == http.StatusForbidden {
					t.Errorf("%s as %s: %d, want it allowed\n%s", route, role, res.Code, res.Body)
				}
				continue
			}
			if res.Code != wantCode {
				t.Errorf("%s as %s: %d, want %d\n%s", route, role, res.Code, wantCode, res.Body)
				continue
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s as %s: Content-Type %q, want application/problem+json", route, role, ct)
			}
		}
	}
	for route := range permissionMatrix {
		if !registered[route] {
			t.Errorf("permissionMatrix lists %s, which is not served: remove the row", route)
		}
	}
}

// TestPermissionMatrixMatchesMap checks the table above against Allowed for
// the routes whose permission is known, so that the map and the routes
// cannot drift apart unnoticed in one direction either.
func TestPermissionMatrixMatchesMap(t *testing.T) {
	for route, perm := range map[string]Permission{
		"POST /v1/claims":                          PermWriteClaims,
		"GET /v1/claims/:id":                       PermReadClaims,
		"GET /v1/finance/compensations":            PermReadFinance,
		"GET /v1/audit/verify":                     PermAudit,
		"POST /v1/audit/checkpoints":               PermCheckpoint,
		"GET /v1/sla/timers":                       PermReadSLA,
		"POST /v1/admin/projections/:name/rebuild": PermOperate,
		"DELETE /v1/claims/:id/portal-link":        PermPortalLinks,
		"POST /v1/claims/:id/payment-requests":     PermRequestPayment,
	} {
		allowed := strings.Fields(permissionMatrix[route])
		for _, role := range Roles() {
			if got, want := Allowed(role, perm), slices.Contains(allowed, string(role)); got != want {
				t.Errorf("Allowed(%s, %s) = %v, but the matrix says %v for %s", role, perm, got, want, route)
			}
		}
	}
}
