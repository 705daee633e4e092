package api

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
)

// The partner test world: two organisations' keys beside the staff's.
const (
	acme   Role = "partner@acme"   // a partner key of organisation acme
	globex Role = "partner@globex" // a partner key of organisation globex
)

// partnerClaim is a claim registered by a partner (or the staff), with what
// would betray it in another organisation's answer.
type partnerClaim struct {
	org      string
	id       string
	number   string
	customer string
	serial   string
}

// partnerServer is a test server with keys for acme and globex, and one
// claim of each organisation and one of the company's.
func partnerServer(t *testing.T, more ...testOption) (*testServer, map[Role]partnerClaim) {
	t.Helper()
	ts := newTestServer(t, append([]testOption{func(w *testWiring) {
		w.config = func(c *Config) {
			c.StatusPage.PerClient, c.StatusPage.PerNumber = statuspage.Unlimited, statuspage.Unlimited
			c.AuthFailures = NoAuthLimit
			for _, org := range []string{"acme", "globex"} {
				if err := c.Keys.AddPartner(org, "test-key-for-partner-"+org); err != nil {
					t.Fatal(err)
				}
			}
		}
	}}, more...)...)
	ts.keys[acme], ts.keys[globex] = "test-key-for-partner-acme", "test-key-for-partner-globex"
	claims := map[Role]partnerClaim{}
	for _, by := range []Role{acme, globex, RoleAgent} {
		name, _, _ := strings.Cut(strings.TrimPrefix(string(by), "partner@"), "@")
		body := registerBody()
		body["customer"] = map[string]any{"name": "Customer of " + name, "phone": "+359 88 123 4567"}
		body["product"] = map[string]any{"category": "laptop", "serial": "SN-" + strings.ToUpper(name)}
		delete(body, "channel")
		res := ts.do(http.MethodPost, "/v1/claims", by, body)
		if res.Code != http.StatusCreated {
			t.Fatalf("register as %s: %d %s", by, res.Code, res.Body)
		}
		m := res.json(t)
		org, _ := m["organisation"].(string)
		claims[by] = partnerClaim{org: org, id: m["id"].(string), number: m["number"].(string), customer: "Customer of " + name, serial: "SN-" + strings.ToUpper(name)}
	}
	if claims[acme].org != "acme" || claims[globex].org != "globex" || claims[RoleAgent].org != "" {
		t.Fatalf("registration did not record the partner's organisation: %+v", claims)
	}
	return ts, claims
}

// betrays reports what of claim c the answer shows, beyond what the
// request itself said (problem details echo the path, the status page the
// number typed).
func betrays(body []byte, request string, c partnerClaim) string {
	for _, mark := range []string{c.id, c.number, c.customer, c.serial} {
		if strings.Contains(string(body), mark) && !strings.Contains(request, mark) {
			return mark
		}
	}
	return ""
}

// crossingBody is a request body that would do something if it got
// through: a note that would be written, a registration for the other
// organisation.
func crossingBody(method, route, otherOrg string) any {
	switch {
	case route == "POST /v1/claims/:id/actions/:action":
		return map[string]any{"text": "written across organisations"}
	case route == "POST /v1/claims":
		b := registerBody()
		b["organisation"] = otherOrg
		return b
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete:
		return "{}"
	}
	return nil
}

// TestPartnersNeverCross walks every route the router serves, found by
// enumerating echo's routes so that a route added later is walked too, as
// each partner aimed at the other partner's claim and at the company's. A
// partner never reads, lists, exports or changes a claim not its own, every
// such attempt writes nothing, and another organisation's claim is answered
// exactly as one that does not exist.
func TestPartnersNeverCross(t *testing.T) {
	ts, claims := partnerServer(t)
	paramRE := regexp.MustCompile(`:([a-z_]+)`)
	routes := ts.echo.Router().Routes()
	if len(routes) < len(partnerRoutes) {
		t.Fatalf("only %d routes enumerated", len(routes))
	}
	for _, pair := range []struct{ as, other Role }{{acme, globex}, {globex, acme}, {acme, RoleAgent}, {globex, RoleAgent}} {
		target := claims[pair.other]
		for _, r := range routes {
			if r.Method == http.MethodOptions || r.Method == echo.RouteNotFound {
				continue
			}
			route := r.Method + " " + r.Path
			if route == "GET /openapi.yaml" || route == "HEAD /openapi.yaml" {
				continue // the same document for every caller: its examples may share a claim's number
			}
			path := paramRE.ReplaceAllStringFunc(r.Path, func(p string) string {
				switch p {
				case ":id":
					return target.id
				case ":action":
					return "add-note"
				case ":name":
					return "claims"
				}
				return "x"
			})
			otherOrg := target.org
			if otherOrg == "" {
				otherOrg = "company"
			}
			for _, query := range []string{"", "?organisation=" + otherOrg, "?number=" + target.number} {
				before := ts.eventCount()
				res := ts.do(r.Method, path+query, pair.as, crossingBody(r.Method, route, otherOrg))
				if n := ts.eventCount(); n != before {
					t.Errorf("%s%s as %s wrote %d events", route, query, pair.as, n-before)
				}
				if mark := betrays(res.Body, path+query, target); mark != "" {
					t.Errorf("%s%s as %s: %d shows %q of %s's claim\n%s", route, query, pair.as, res.Code, mark, pair.other, res.Body)
				}
				if strings.Contains(r.Path, ":id") && res.Code < 400 {
					t.Errorf("%s as %s on %s's claim: %d, want a refusal", route, pair.as, pair.other, res.Code)
				}
				if _, open := partnerRoutes[route]; !open && permissionMatrix[route] != public && res.Code != http.StatusForbidden {
					t.Errorf("%s as %s: %d, want 403: the route is not declared open to partners", route, pair.as, res.Code)
				}
			}
		}
	}
}

// TestAnotherOrganisationsClaimDoesNotExist: the refusal of another
// organisation's claim is the answer for a claim nobody registered, on
// every claim-scoped route, so it tells a partner nothing.
func TestAnotherOrganisationsClaimDoesNotExist(t *testing.T) {
	ts, claims := partnerServer(t)
	strip := func(res response) map[string]any {
		m := res.json(t)
		delete(m, "instance")
		delete(m, "request_id")
		return m
	}
	for route, scope := range partnerRoutes {
		if scope != scopeClaim {
			continue
		}
		method, pattern, _ := strings.Cut(route, " ")
		at := func(id string) string {
			return strings.NewReplacer(":id", id, ":action", "add-note").Replace(pattern)
		}
		body := crossingBody(method, route, "")
		other := ts.do(method, at(claims[globex].id), acme, body)
		missing := ts.do(method, at(uuid.NewString()), acme, body)
		if other.Code != http.StatusNotFound || missing.Code != http.StatusNotFound {
			t.Errorf("%s: another organisation's claim %d, a missing one %d; want 404 for both", route, other.Code, missing.Code)
			continue
		}
		if method == http.MethodGet {
			if head := ts.do(http.MethodHead, at(claims[globex].id), acme, nil); head.Code != http.StatusNotFound {
				t.Errorf("HEAD %s on another organisation's claim: %d, want 404", pattern, head.Code)
			}
		}
		a, b := strip(other), strip(missing)
		if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
			t.Errorf("%s: another organisation's claim answers\n%s\nbut a missing one\n%s", route, ja, jb)
		}
		if strings.Contains(pattern, "/files") {
			continue // the partner's own files need a file store and a multipart body: TestPartnerFiles
		}
		if strings.Contains(pattern, "/documents") {
			continue // the partner's own documents need a step done and the documents: TestPartnerDocuments
		}
		// The read model may lag the registration: wait for it.
		own := ts.do(method, at(claims[acme].id), acme, body, minPositionHeader, ts.positionHead())
		if own.Code >= 400 {
			t.Errorf("%s on the partner's own claim: %d %s", route, own.Code, own.Body)
		}
	}
}

// TestPartnerRoutesAreServed: every route declared open to partners is
// served, and each claim-scoped one names its claim by :id, which the
// guard reads.
func TestPartnerRoutesAreServed(t *testing.T) {
	ts := newTestServer(t)
	served := map[string]bool{}
	for _, r := range ts.echo.Router().Routes() {
		served[r.Method+" "+r.Path] = true
	}
	for route, scope := range partnerRoutes {
		if !served[route] {
			t.Errorf("partnerRoutes declares %s, which is not served", route)
		}
		if scope == scopeClaim && !strings.Contains(route, "/:id") {
			t.Errorf("%s is claim-scoped but has no :id", route)
		}
	}
}

// TestPartnerLists: a partner's search and timers hold its own claims
// only, whatever it asks for; the staff see every organisation's and may
// filter by one.
func TestPartnerLists(t *testing.T) {
	ts, claims := partnerServer(t)
	listed := func(path string, as Role, field string) []string {
		t.Helper()
		res := ts.do(http.MethodGet, path, as, nil)
		if res.Code != http.StatusOK {
			t.Fatalf("%s as %s: %d %s", path, as, res.Code, res.Body)
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(res.Body, &page); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range page.Items {
			ids = append(ids, it[field].(string))
		}
		slices.Sort(ids)
		return slices.Compact(ids)
	}
	all := []string{claims[acme].id, claims[globex].id, claims[RoleAgent].id}
	slices.Sort(all)
	pos := "min_position=" + ts.positionHead()
	for _, c := range []struct {
		path string
		as   Role
		want []string
	}{
		{"/v1/claims?" + pos, acme, []string{claims[acme].id}},
		{"/v1/claims?organisation=globex&" + pos, acme, []string{claims[acme].id}},
		{"/v1/claims?" + pos, globex, []string{claims[globex].id}},
		{"/v1/claims?" + pos, RoleAgent, all},
		{"/v1/claims?organisation=globex&" + pos, RoleAgent, []string{claims[globex].id}},
	} {
		if got := listed(c.path, c.as, "id"); !slices.Equal(got, c.want) {
			t.Errorf("%s as %s: %v, want %v", c.path, c.as, got, c.want)
		}
	}
	for _, c := range []struct {
		path string
		as   Role
		want []string
	}{
		{"/v1/sla/timers?" + pos, acme, []string{claims[acme].id}},
		{"/v1/sla/timers?organisation=globex&" + pos, acme, []string{claims[acme].id}},
		{"/v1/sla/timers?organisation=globex&" + pos, RoleAgent, []string{claims[globex].id}},
		{"/v1/sla/timers?" + pos, RoleAgent, all},
	} {
		if got := listed(c.path, c.as, "claim_id"); !slices.Equal(got, c.want) {
			t.Errorf("%s as %s: %v, want %v", c.path, c.as, got, c.want)
		}
	}
	if res := ts.do(http.MethodGet, "/v1/claims?organisation=Not%20A%20Name", RoleAgent, nil); res.Code != http.StatusBadRequest {
		t.Errorf("a malformed organisation filter: %d, want 400", res.Code)
	}
}

// TestPartnerRegistersForItsOwnOrganisation: a partner's registration is
// its organisation's, from the partner channel unless it says otherwise;
// naming another organisation is refused and writes nothing; the staff may
// register on a partner's behalf.
func TestPartnerRegistersForItsOwnOrganisation(t *testing.T) {
	ts, claims := partnerServer(t)
	// The read models answer the claim once they hold its registration.
	res := ts.do(http.MethodGet, "/v1/claims/"+claims[acme].id, acme, nil)
	for deadline := time.Now().Add(5 * time.Second); res.Code == http.StatusNotFound && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		res = ts.do(http.MethodGet, "/v1/claims/"+claims[acme].id, acme, nil)
	}
	if m := res.json(t); m["organisation"] != "acme" || m["channel"] != "partner" {
		t.Errorf("a partner's claim: organisation %v, channel %v; want acme, partner", m["organisation"], m["channel"])
	}
	before := ts.eventCount()
	body := registerBody()
	body["organisation"] = "globex"
	if res := ts.do(http.MethodPost, "/v1/claims", acme, body); res.Code != http.StatusForbidden {
		t.Errorf("a partner registering for another organisation: %d, want 403\n%s", res.Code, res.Body)
	}
	if ts.eventCount() != before {
		t.Error("the refused registration wrote events")
	}
	body["organisation"] = "acme"
	if res := ts.do(http.MethodPost, "/v1/claims", acme, body); res.Code != http.StatusCreated {
		t.Errorf("a partner naming its own organisation: %d %s", res.Code, res.Body)
	}
	body["organisation"] = "globex"
	res = ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusCreated || res.json(t)["organisation"] != "globex" {
		t.Errorf("the staff registering for globex: %d %s", res.Code, res.Body)
	}
}

// TestPartnerActions: on its own claim a partner runs the dealer's actions
// and is refused the staff's, before anything is written.
func TestPartnerActions(t *testing.T) {
	ts, claims := partnerServer(t)
	id := claims[acme].id
	before := ts.eventCount()
	res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", acme, map[string]any{"text": "customer called"})
	if res.Code != http.StatusOK || ts.eventCount() != before+1 {
		t.Fatalf("add-note on its own claim: %d %s", res.Code, res.Body)
	}
	var claim struct {
		AllowedActions []string `json:"allowed_actions"`
	}
	if err := json.Unmarshal(res.Body, &claim); err != nil || !slices.Contains(claim.AllowedActions, "withdraw") || slices.Contains(claim.AllowedActions, "authorize") {
		t.Errorf("the partner is told it may %v", claim.AllowedActions)
	}
	before = ts.eventCount()
	res = ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/authorize", acme, map[string]any{})
	if res.Code != http.StatusForbidden || ts.eventCount() != before {
		t.Errorf("a partner authorizing: %d, %d events written; want 403 and none\n%s", res.Code, ts.eventCount()-before, res.Body)
	}
	for _, a := range partnerActions {
		if !ActionAllowed(RolePartner, a) || !ActionAllowed(RoleAgent, a) {
			t.Errorf("%s: allowed to partner %v, agent %v", a, ActionAllowed(RolePartner, a), ActionAllowed(RoleAgent, a))
		}
	}
	if ActionAllowed(RoleFinance, "add-note") {
		t.Error("finance may not write claims, so no action")
	}
}

// positionHead is the position of the store's last event, for min_position.
func (ts *testServer) positionHead() string {
	ts.t.Helper()
	last := eventstore.Start
	for {
		events, err := ts.store.ReadAll(context.Background(), last, 1000, eventstore.Filter{})
		if err != nil {
			ts.t.Fatal(err)
		}
		if len(events) == 0 {
			return last.String()
		}
		last = events[len(events)-1].Position
	}
}

// TestPartnerDoesNotSeeInternalNotes: the company's internal notes on a
// partner's claim stay the company's: the partner's claim, events, history
// and state at a version leave them out, the staff see them, and a note
// for the customer reaches both.
func TestPartnerDoesNotSeeInternalNotes(t *testing.T) {
	ts, claims := partnerServer(t)
	id := claims[acme].id
	for _, note := range []map[string]any{
		{"text": "Suspect the seal was reglued.", "visibility": "internal"},
		{"text": "Your parcel label is attached.", "visibility": "customer"},
	} {
		if res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/add-note", RoleAgent, note); res.Code != http.StatusOK {
			t.Fatalf("add-note: %d %s", res.Code, res.Body)
		}
	}
	pos := "min_position=" + ts.positionHead()
	for _, path := range []string{"/v1/claims/" + id + "?" + pos, "/v1/claims/" + id + "/events", "/v1/claims/" + id + "/history", "/v1/claims/" + id + "/state"} {
		for _, as := range []Role{acme, RoleAgent} {
			res := ts.do(http.MethodGet, path, as, nil)
			if res.Code != http.StatusOK {
				t.Fatalf("%s as %s: %d %s", path, as, res.Code, res.Body)
			}
			internal, public := strings.Contains(string(res.Body), "reglued"), strings.Contains(string(res.Body), "parcel label")
			if internal != (as == RoleAgent) || !public {
				t.Errorf("%s as %s shows the internal note: %v, the customer's: %v", path, as, internal, public)
			}
		}
	}
}

// TestPartnerFiles: a dealer attaches the customer's receipt or photos to
// its own claim and reads them back; another organisation's claim's files
// do not exist for it, and nothing is written there.
func TestPartnerFiles(t *testing.T) {
	var blobs *files.DirStore
	ts, claims := partnerServer(t, withFiles(t, files.Limits{}, &blobs))
	own, other := claims[acme].id, claims[globex].id
	res := ts.upload(own, acme, "receipt.png", filestest.PNG(16, 16), "step", "proof_of_purchase")
	if res.Code != http.StatusCreated {
		t.Fatalf("a partner attaches to its own claim: %d %s", res.Code, res.Body)
	}
	href := res.json(t)["href"].(string)
	if got := ts.do(http.MethodGet, href, acme, nil); got.Code != http.StatusOK {
		t.Errorf("the partner downloads its file: %d", got.Code)
	}
	if got := ts.do(http.MethodGet, href, globex, nil); got.Code != http.StatusNotFound {
		t.Errorf("another partner downloads it: %d, want 404", got.Code)
	}
	before := ts.eventCount()
	if got := ts.upload(other, acme, "receipt.png", filestest.PNG(16, 16)); got.Code != http.StatusNotFound || ts.eventCount() != before {
		t.Errorf("a partner attaches to another organisation's claim: %d, %d events written", got.Code, ts.eventCount()-before)
	}
}
