package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/policy"
)

// The seeds' process steps beyond the main path, over HTTP: a request entered later than it
// arrived, national phone numbers at registration, help without the goods, an estimate paid
// before the goods travel, and a replacement by another model with the price difference settled.

// withPolicies wires the ledger and the read models with a policy book.
func withPolicies(book *domain.PolicyBook) testOption {
	return func(w *testWiring) { w.policies = book }
}

// problemFields are the fields a validation problem names.
func problemFields(t *testing.T, res response) []string {
	t.Helper()
	var fields []string
	errs, _ := res.json(t)["errors"].([]any)
	for _, e := range errs {
		fields = append(fields, e.(map[string]any)["field"].(string))
	}
	return fields
}

// refused checks a 422 validation problem naming exactly field, and that nothing was written.
func (ts *testServer) refused(res response, before int, field string) {
	ts.t.Helper()
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "urn:rmaledger:problem:validation") {
		ts.t.Fatalf("%d %s, want 422 validation", res.Code, res.Body)
	}
	if got := problemFields(ts.t, res); len(got) != 1 || got[0] != field {
		ts.t.Errorf("fields %v, want [%s]", got, field)
	}
	if n := ts.eventCount(); n != before {
		ts.t.Errorf("%d events written by a refused request", n-before)
	}
}

func TestRegisterNationalPhoneOverHTTP(t *testing.T) {
	ts := newTestServer(t, withPolicies(policy.Default())) // default_country: BG
	body := registerBody()
	body["customer"] = map[string]any{"name": "Maria Georgieva", "phone": "0888 123 456"}
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	claim := res.json(t)
	if phone := claim["customer"].(map[string]any)["phone"]; phone != "+359888123456" {
		t.Errorf("registered phone %v, want +359888123456", phone)
	}
	// The customer finds the claim typing the number as they gave it.
	lookup := "/v1/status?number=" + url.QueryEscape(claim["number"].(string)) + "&phone=" + url.QueryEscape("0888 123 456")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res = ts.do(http.MethodGet, lookup, "", nil)
		if res.Code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status lookup with the national number: %d %s", res.Code, res.Body)
		}
	}

	// Another country's national form, or digits without the trunk prefix, are not guessed.
	for _, phone := range []string{"8 916 123-45-67", "888 123 456"} {
		before := ts.eventCount()
		body["customer"] = map[string]any{"name": "Maria Georgieva", "phone": phone}
		ts.refused(ts.do(http.MethodPost, "/v1/claims", RoleAgent, body), before, "customer.phone")
	}

	// Without a default country, registration takes international numbers only.
	plain := newTestServer(t)
	plain.register()
	before := plain.eventCount()
	body["customer"] = map[string]any{"name": "Maria Georgieva", "phone": "0888 123 456"}
	plain.refused(plain.do(http.MethodPost, "/v1/claims", RoleAgent, body), before, "customer.phone")
}

func TestReportedAtOverHTTP(t *testing.T) {
	ts := newTestServer(t, withPolicies(policy.Default()))
	reported := time.Now().Add(-50 * time.Hour).UTC().Truncate(time.Second)
	body := registerBody()
	body["channel"] = "email"
	body["reported_at"] = reported.Format(time.RFC3339)
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	claim := res.json(t)
	if got, _ := time.Parse(time.RFC3339, claim["reported_at"].(string)); !got.Equal(reported) {
		t.Errorf("reported_at %v, want %s", claim["reported_at"], reported)
	}
	res = ts.do(http.MethodGet, "/v1/claims/"+claim["id"].(string)+"?min_position="+claim["position"].(string), RoleAgent, nil)
	if res.Code != http.StatusOK {
		t.Fatalf("read: %d %s", res.Code, res.Body)
	}
	clocks, _ := res.json(t)["clocks"].([]any)
	started := map[string]time.Time{}
	for _, c := range clocks {
		c := c.(map[string]any)
		started[c["clock"].(string)], _ = time.Parse(time.RFC3339, c["started_at"].(string))
	}
	for _, name := range []string{domain.ClockFirstResponse, domain.ClockDecision} {
		if !started[name].Equal(reported) {
			t.Errorf("%s clock started %s, want when the request arrived, %s (clocks %v)", name, started[name], reported, clocks)
		}
	}

	for _, tc := range []struct {
		name, reportedAt string
	}{
		{"in the future", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		{"beyond the policy's 14 days", time.Now().Add(-15 * 24 * time.Hour).UTC().Format(time.RFC3339)},
	} {
		before := ts.eventCount()
		body["reported_at"] = tc.reportedAt
		t.Run(tc.name, func(t *testing.T) {
			ts.refused(ts.do(http.MethodPost, "/v1/claims", RoleAgent, body), before, "reported_at")
		})
	}
	before := ts.eventCount()
	body["reported_at"] = "yesterday"
	if res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body); res.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(string(res.Body), `field \"reported_at\"`) || ts.eventCount() != before {
		t.Errorf("reported_at \"yesterday\": %d %s, want 422 naming the field and nothing written", res.Code, res.Body)
	}
}

// seedStep is one action and its body.
type seedStep struct {
	action string
	body   any
}

// Steps the tests share: authorized, shipped, received, and back to the customer.
var (
	authorizeStep = seedStep{"authorize", map[string]any{"service_center": map[string]any{"name": "Sofia service center", "address": "1 Vitosha Blvd, Sofia"}}}
	shipStep      = seedStep{"record-customer-shipment", map[string]any{"carrier": "Speedy", "tracking_number": "SP123"}}
	receiveStep   = seedStep{"receive", map[string]any{"condition": "scratched lid", "seals_intact": true, "received_by": "tech-1"}}
	returnSteps   = []seedStep{
		{"ship-return", map[string]any{"carrier": "Speedy", "tracking_number": "SP999"}},
		{"confirm-delivery", map[string]any{"signed_by": "Ivan Petrov"}},
	}
)

// steps runs actions in order and returns the claim after the last.
func (ts *testServer) steps(id string, steps ...seedStep) map[string]any {
	ts.t.Helper()
	var claim map[string]any
	for _, s := range steps {
		claim = ts.act(id, s.action, s.body)
	}
	return claim
}

// status looks the claim up on the public status route, waiting for the status read model.
func (ts *testServer) status(claim map[string]any, phone string) map[string]any {
	ts.t.Helper()
	path := "/v1/status?number=" + url.QueryEscape(claim["number"].(string)) + "&phone=" + url.QueryEscape(phone)
	version := claim["version"].(float64)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res := ts.do(http.MethodGet, path, "", nil)
		if res.Code == http.StatusOK {
			// The status read model follows asynchronously: wait until it shows the claim's status.
			view := res.json(ts.t)
			if view["status"] == claim["status"] {
				return view
			}
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("status lookup of version %v: %d %s", version, res.Code, res.Body)
		}
	}
}

// timelineSteps lists a status view's step codes.
func timelineSteps(view map[string]any) []string {
	var out []string
	for _, s := range view["timeline"].([]any) {
		out = append(out, s.(map[string]any)["step"].(string))
	}
	return out
}

func TestRemoteResolutionOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()

	before := ts.eventCount()
	res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/resolve-remotely", RoleTechnician, map[string]any{"method": "fax"})
	if got := problemFields(t, res); res.Code != http.StatusUnprocessableEntity || strings.Join(got, ",") != "method,work_done" || ts.eventCount() != before {
		t.Fatalf("bad body: %d %s (fields %v), want 422 naming method and work_done, nothing written", res.Code, res.Body, got)
	}

	claim := ts.act(id, "resolve-remotely", map[string]any{
		"method": "remote_session", "work_done": "Rolled back the graphics driver; the laptop boots again.",
		"technician": "G. Georgiev", "reference": "SR-2026-0118",
	})
	remote, _ := claim["remote_resolution"].(map[string]any)
	if claim["status"] != "resolved" || claim["resolution"].(map[string]any)["kind"] != "resolved_remotely" ||
		remote["work_done"] != "Rolled back the graphics driver; the laptop boots again." || remote["previous_status"] != "registered" {
		t.Fatalf("after resolve-remotely: %v", claim)
	}
	before = ts.eventCount()
	res = ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/ship-return", RoleAgent, map[string]any{"carrier": "Speedy"})
	if res.Code != http.StatusConflict || !strings.Contains(string(res.Body), "no item is with the service") || ts.eventCount() != before {
		t.Errorf("ship-return after a remote fix: %d %s, want 409 and nothing written", res.Code, res.Body)
	}
	view := ts.status(claim, "+7 916 123-45-67")
	if view["next_step"] != "none" || view["resolution"] != "resolved_remotely" || !slices.Contains(timelineSteps(view), "resolved_remotely") {
		t.Errorf("status page: %v", view)
	}
	if closed := ts.act(id, "close", map[string]any{"reason_code": "resolved_remotely"}); closed["status"] != "closed" {
		t.Errorf("close: %v", closed)
	}

	// Not once the goods are on their way.
	other := ts.register()
	ts.steps(other, authorizeStep, shipStep)
	before = ts.eventCount()
	res = ts.do(http.MethodPost, "/v1/claims/"+other+"/actions/resolve-remotely", RoleTechnician, map[string]any{"method": "phone", "work_done": "w"})
	if res.Code != http.StatusConflict || ts.eventCount() != before {
		t.Errorf("resolve-remotely in transit: %d %s, want 409", res.Code, res.Body)
	}
}

// registerOutOfWarranty registers a laptop bought five years ago, which the default policy's
// 24 months no longer cover.
func (ts *testServer) registerOutOfWarranty() map[string]any {
	ts.t.Helper()
	body := registerBody()
	body["purchase_date"] = time.Now().AddDate(-5, 0, 0).Format(time.DateOnly)
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusCreated {
		ts.t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	return res.json(ts.t)
}

// compensations lists the finance rows of one claim, as finance sees them once the read model
// has the claim's last write.
func (ts *testServer) compensations(claim map[string]any) []map[string]any {
	ts.t.Helper()
	res := ts.do(http.MethodGet, "/v1/finance/compensations?limit=200&min_position="+claim["position"].(string), RoleFinance, nil)
	if res.Code != http.StatusOK {
		ts.t.Fatalf("compensations: %d %s", res.Code, res.Body)
	}
	var rows []map[string]any
	for _, it := range res.json(ts.t)["items"].([]any) {
		if row := it.(map[string]any); row["claim_id"] == claim["id"] {
			rows = append(rows, row)
		}
	}
	return rows
}

// rowsText writes rows as "kind entry amount status" lines, in order, for comparing.
func rowsText(rows []map[string]any) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r["kind"].(string) + " " + r["entry"].(string) + " " + r["amount"].(string) + " " + r["status"].(string) + "\n")
	}
	return b.String()
}

func TestEstimateBeforeTheGoodsOverHTTP(t *testing.T) {
	ts := newTestServer(t, withPolicies(policy.Default()))
	estimate := map[string]any{"damage_level": 2, "parts": map[string]any{"amount": "120.00", "currency": "EUR"},
		"labour": map[string]any{"amount": "45.00", "currency": "EUR"}, "shipping": map[string]any{"amount": "15.00", "currency": "EUR"},
		"description": "Replace the swollen battery, as the customer describes it."}
	paidRepair := seedStep{"authorize", map[string]any{"service_center": map[string]any{"name": "Sofia service center", "address": "1 Vitosha Blvd, Sofia"}, "paid_repair": true}}

	claim := ts.registerOutOfWarranty()
	id := claim["id"].(string)
	ts.steps(id, paidRepair, seedStep{"issue-estimate", estimate}, seedStep{"accept-estimate", map[string]any{"reference": "web order 5521"}})
	before := ts.eventCount()
	res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/record-customer-shipment", RoleAgent, shipStep.body)
	if res.Code != http.StatusConflict || ts.eventCount() != before {
		t.Fatalf("shipped before paying: %d %s, want 409 and nothing written", res.Code, res.Body)
	}
	claim = ts.act(id, "record-payment", map[string]any{"amount": map[string]any{"amount": "180.00", "currency": "EUR"}, "reference": "PAY-5521", "method": "online"})
	if claim["status"] != "paid" || !slices.Contains(toStrings(claim["allowed_actions"]), "record-customer-shipment") || slices.Contains(toStrings(claim["allowed_actions"]), "start-repair") {
		t.Fatalf("paid before the goods travel: %v", claim)
	}
	if view := ts.status(claim, "+79161234567"); view["next_step"] != "ship_item" {
		t.Errorf("status page of a paid claim waiting for its goods: next %v", view["next_step"])
	}
	ts.steps(id, shipStep, receiveStep)
	claim = ts.act(id, "diagnose", map[string]any{"outcome": "out_of_warranty", "findings": "Swollen battery, as described.", "confirms_estimate": true})
	if claim["status"] != "paid" || claim["diagnosis"].(map[string]any)["confirms_estimate"] != true {
		t.Fatalf("diagnosis confirming the estimate: %v", claim)
	}
	ts.steps(id, seedStep{"start-repair", map[string]any{"where": "own"}}, seedStep{"complete-repair", map[string]any{"work_done": "Replaced the battery."}})
	claim = ts.steps(id, returnSteps...)
	if claim["status"] != "delivered" {
		t.Fatalf("delivered: %v", claim)
	}

	// A revised estimate on arrival is accepted again; what was paid counts towards it.
	revised := ts.registerOutOfWarranty()
	rid := revised["id"].(string)
	ts.steps(rid, paidRepair, seedStep{"issue-estimate", estimate}, seedStep{"accept-estimate", nil},
		seedStep{"record-payment", map[string]any{"amount": map[string]any{"amount": "180.00", "currency": "EUR"}, "reference": "PAY-6001", "method": "card"}},
		shipStep, receiveStep,
		seedStep{"diagnose", map[string]any{"outcome": "out_of_warranty", "findings": "The keyboard is damaged as well."}},
		seedStep{"issue-estimate", map[string]any{"damage_level": 3, "parts": map[string]any{"amount": "200.00", "currency": "EUR"}, "labour": map[string]any{"amount": "60.00", "currency": "EUR"}}})
	revised = ts.act(rid, "accept-estimate", map[string]any{"reference": "phone call 12 March"})
	if revised["status"] != "estimate_accepted" || revised["paid_total"].(map[string]any)["amount"] != "180.00" {
		t.Fatalf("revised estimate accepted: %v", revised)
	}
	revised = ts.act(rid, "record-payment", map[string]any{"amount": map[string]any{"amount": "80.00", "currency": "EUR"}, "reference": "PAY-6002", "method": "card"})
	if revised["status"] != "paid" {
		t.Fatalf("difference paid: %v", revised)
	}
	want := "paid_repair_charge approval 180.00 reversed\n" +
		"payment_received payment 180.00 settled\n" +
		"paid_repair_charge approval 260.00 settled\n" + // the acceptance's own row, then its reversal of the old charge
		"paid_repair_charge approval -180.00 reversal\n" +
		"payment_received payment 80.00 settled\n"
	if got := rowsText(ts.compensations(revised)); got != want {
		t.Errorf("finance rows of the revised estimate:\n%s\nwant\n%s", got, want)
	}
}

// toStrings converts a JSON list of strings.
func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func TestReplacementByAnotherModelOverHTTP(t *testing.T) {
	ts := newTestServer(t, withPolicies(policy.Default()))
	replace := func(value string) map[string]any {
		return map[string]any{"new_serial": "SN-X2-7781", "new_sku": "NB-X2", "value": map[string]any{"amount": value, "currency": "EUR"},
			"reference": "DN-2026-0311", "settle_price_difference": true}
	}
	diagnosed := func() string {
		id := ts.register() // NB-X1 bought for 1299.90 EUR
		ts.steps(id, authorizeStep, shipStep, receiveStep, seedStep{"diagnose", map[string]any{"outcome": "defect_confirmed", "findings": "Dead board."}})
		return id
	}

	// A cheaper model: the difference is refunded, also after the new unit was delivered.
	cheaper := diagnosed()
	claim := ts.act(cheaper, "replace", replace("1099.90"))
	if r := claim["replacement"].(map[string]any); r["difference_refund"].(map[string]any)["amount"] != "200.00" || claim["refund"].(map[string]any)["approved"].(map[string]any)["amount"] != "200.00" {
		t.Fatalf("cheaper model: %v", claim)
	}
	ts.steps(cheaper, returnSteps...)
	before := ts.eventCount()
	if res := ts.do(http.MethodPost, "/v1/claims/"+cheaper+"/actions/close", RoleAgent, map[string]any{"reason_code": "completed"}); res.Code != http.StatusUnprocessableEntity || ts.eventCount() != before {
		t.Errorf("closed with the difference unpaid: %d %s, want 422", res.Code, res.Body)
	}
	ts.act(cheaper, "record-refund-payment", map[string]any{"amount": map[string]any{"amount": "200.00", "currency": "EUR"}, "reference": "REF-0311"})
	claim = ts.act(cheaper, "close", map[string]any{"reason_code": "completed"})
	want := "replacement approval 1099.90 settled\nrefund approval 200.00 settled\nrefund payment 200.00 settled\n"
	if got := rowsText(ts.compensations(claim)); got != want {
		t.Errorf("finance rows of the cheaper model:\n%s\nwant\n%s", got, want)
	}

	// A dearer model: the customer pays the difference before the unit ships.
	dearer := diagnosed()
	ts.act(dearer, "replace", replace("1399.90"))
	before = ts.eventCount()
	res := ts.do(http.MethodPost, "/v1/claims/"+dearer+"/actions/ship-return", RoleAgent, returnSteps[0].body)
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "price difference") || ts.eventCount() != before {
		t.Fatalf("shipped before the difference was paid: %d %s, want 422", res.Code, res.Body)
	}
	claim = ts.act(dearer, "record-payment", map[string]any{"amount": map[string]any{"amount": "100.00", "currency": "EUR"}, "reference": "PAY-0312", "method": "card"})
	if p := claim["payments"].([]any)[0].(map[string]any); p["for"] != "price_difference" || claim["replacement"].(map[string]any)["difference_paid"].(map[string]any)["amount"] != "100.00" {
		t.Fatalf("difference paid: %v", claim)
	}
	claim = ts.steps(dearer, returnSteps...)
	want = "replacement approval 1399.90 settled\nprice_difference approval 100.00 settled\nprice_difference payment 100.00 settled\n"
	if got := rowsText(ts.compensations(claim)); got != want {
		t.Errorf("finance rows of the dearer model:\n%s\nwant\n%s", got, want)
	}
	res = ts.do(http.MethodGet, "/v1/finance/reconciliation?min_position="+claim["position"].(string), RoleFinance, nil)
	if res.Code != http.StatusOK {
		t.Fatalf("reconciliation: %d %s", res.Code, res.Body)
	}
	totals := map[string]string{}
	for _, tot := range res.json(t)["totals"].([]any) {
		tot := tot.(map[string]any)
		totals[tot["kind"].(string)] = tot["approved"].(string) + "/" + tot["paid"].(string) + "/" + tot["outstanding"].(string)
	}
	if totals["price_difference"] != "100.00/100.00/0.00" || totals["refund"] != "200.00/200.00/0.00" {
		t.Errorf("reconciliation totals %v", totals)
	}

	// The claimed model is no other model, and settling needs the new model's value.
	third := diagnosed()
	same := replace("1099.90")
	same["new_sku"] = "NB-X1"
	before = ts.eventCount()
	ts.refused(ts.do(http.MethodPost, "/v1/claims/"+third+"/actions/replace", RoleTechnician, same), before, "new_sku")
	unvalued := replace("1099.90")
	delete(unvalued, "value")
	ts.refused(ts.do(http.MethodPost, "/v1/claims/"+third+"/actions/replace", RoleTechnician, unvalued), before, "value")
}

// TestOpenAPIStatesTheSeedStepRules: the document's schemas for these steps refuse what the
// service refuses, with no event written, and accept what it accepts.
func TestOpenAPIStatesTheSeedStepRules(t *testing.T) {
	examples := requestExamples(t, loadOpenAPI(t))
	ts := newExampleServer(t)
	claimID := ts.postExample(examples[registerExampleKey], nil, examples[registerExampleKey].value).json(t)["id"].(string)
	for _, tc := range []struct {
		rule    string
		action  string
		change  func(map[string]any)
		refused bool
	}{
		{"another model is valued", "replace", func(m map[string]any) { m["settle_price_difference"] = true; delete(m, "value") }, true},
		{"another model is named", "replace", func(m map[string]any) { m["settle_price_difference"] = true; delete(m, "new_sku") }, true},
		{"another model, named and valued", "replace", func(m map[string]any) { m["settle_price_difference"] = true }, false},
		{"an equivalent needs no value", "replace", func(m map[string]any) { m["settle_price_difference"] = false; delete(m, "value") }, false},
		{"a payment is for the estimate or a price difference", "record-payment", func(m map[string]any) { m["for"] = "deposit" }, true},
		{"a payment for a price difference", "record-payment", func(m map[string]any) { m["for"] = "price_difference" }, false},
		{"remote help says how", "resolve-remotely", func(m map[string]any) { m["method"] = "carrier_pigeon" }, true},
		{"remote help says what was done", "resolve-remotely", func(m map[string]any) { delete(m, "work_done") }, true},
		{"a confirmation is a yes or no", "diagnose", func(m map[string]any) { m["confirms_estimate"] = "yes" }, true},
	} {
		key := actionExampleKey + " example " + tc.action
		ex, ok := examples[key]
		if !ok {
			t.Fatalf("the document has no example %s", key)
		}
		value := cloneExample(t, ex.value)
		tc.change(value.(map[string]any))
		schemaErr := ex.schema.VisitJSON(value)
		if !tc.refused {
			if schemaErr != nil {
				t.Errorf("%s: the schema refuses it: %v", tc.rule, schemaErr)
			}
			continue
		}
		if schemaErr == nil {
			t.Errorf("%s: the schema accepts what the service refuses", tc.rule)
		}
		before := ts.eventCount()
		res := ts.postExampleUnchecked(ex, map[string]string{"id": claimID, "action": tc.action}, value)
		if res.Code != http.StatusUnprocessableEntity && res.Code != http.StatusBadRequest || ts.eventCount() != before {
			t.Errorf("%s: the service answers %d %s, want a refusal with nothing written", tc.rule, res.Code, res.Body)
		}
	}
}
