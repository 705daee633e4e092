package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// toDiagnosed takes a new claim with a confirmed defect to diagnosed and
// returns its id. price is {"amount":..., "currency":...}.
func (ts *testServer) toDiagnosed(price map[string]any) string {
	ts.t.Helper()
	body := registerBody()
	body["price"] = price
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusCreated {
		ts.t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	id := res.json(ts.t)["id"].(string)
	for _, step := range lifecycle[:5] { // authorize .. diagnose
		ts.act(id, step.action, step.body)
	}
	return id
}

func money(amount, currency string) map[string]any {
	return map[string]any{"amount": amount, "currency": currency}
}

// position is the claim's last event position, for min_position.
func (ts *testServer) position(id string) string {
	ts.t.Helper()
	res := ts.do(http.MethodGet, "/v1/claims/"+id+"/events", RoleAuditor, nil)
	events := res.json(ts.t)["events"].([]any)
	return events[len(events)-1].(map[string]any)["position"].(string)
}

// minorUnits reads a decimal amount as the API writes it ("-50.00", "1500",
// "1.234") back into minor units with domain.ParseMoney, the sign apart.
func minorUnits(t *testing.T, amount, currency string) int64 {
	t.Helper()
	negative := strings.HasPrefix(amount, "-")
	m, err := domain.ParseMoney(strings.TrimPrefix(amount, "-"), currency)
	if err != nil {
		t.Fatalf("amount %q %s: %v", amount, currency, err)
	}
	if negative {
		return -m.Amount
	}
	return m.Amount
}

func TestFinanceAccess(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/v1/finance/compensations", "/v1/finance/reconciliation"} {
		for _, role := range Roles() {
			res := ts.do(http.MethodGet, path, role, nil)
			want := http.StatusForbidden
			if role == RoleFinance || role == RoleAuditor || role == RoleAdmin {
				want = http.StatusOK
			}
			if res.Code != want {
				t.Errorf("%s as %s: %d, want %d (%s)", path, role, res.Code, want, res.Body)
			}
		}
		if res := ts.do(http.MethodGet, path, "", nil); res.Code != http.StatusUnauthorized {
			t.Errorf("%s without a key: %d", path, res.Code)
		}
	}
}

func TestFinanceBadParameters(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		path, typ string
	}{
		{"/v1/finance/compensations?from=2026-02-30", "invalid-parameter"},
		{"/v1/finance/compensations?to=yesterday", "invalid-parameter"},
		{"/v1/finance/compensations?from=2026-03-02T10:00:00", "invalid-parameter"}, // no zone
		{"/v1/finance/compensations?from=2026-03-02&to=2026-03-01", "invalid-period"},
		{"/v1/finance/compensations?from=2026-03-02T10:00:00Z&to=2026-03-02T09:59:59Z", "invalid-period"},
		{"/v1/finance/compensations?kind=refund,gift", "invalid-parameter"},
		{"/v1/finance/compensations?status=paid", "invalid-parameter"},
		{"/v1/finance/compensations?currency=eur", "invalid-parameter"},
		{"/v1/finance/compensations?limit=0", "invalid-parameter"},
		{"/v1/finance/compensations?limit=201", "invalid-parameter"},
		{"/v1/finance/compensations?cursor=not-a-cursor", "invalid-parameter"},
		{"/v1/finance/compensations?cursor=" + url.QueryEscape("MTIzfGFiYw"), "invalid-parameter"},
		{"/v1/finance/compensations?format=xlsx", "invalid-parameter"},
		{"/v1/finance/compensations?curency=EUR", "unknown-parameter"},
		{"/v1/finance/compensations?kind=refund&kind=credit_note", "repeated-parameter"},
		{"/v1/finance/compensations?format=csv&cursor=bad", "invalid-parameter"},
		{"/v1/finance/reconciliation?from=2026-13-01", "invalid-parameter"},
		{"/v1/finance/reconciliation?from=2026-03-02&to=2026-03-01", "invalid-period"},
		{"/v1/finance/reconciliation?kind=refund", "unknown-parameter"},
		{"/v1/finance/reconciliation?min_position=x", "invalid-position"},
	}
	for _, tc := range cases {
		res := ts.do(http.MethodGet, tc.path, RoleFinance, nil)
		if res.Code != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %d %s %s", tc.path, res.Code, res.Header.Get("Content-Type"), res.Body)
			continue
		}
		if p := res.json(t); p["type"] != "urn:rmaledger:problem:"+tc.typ || p["detail"] == "" {
			t.Errorf("%s: problem %v, want %s", tc.path, p, tc.typ)
		}
	}
}

// TestRefundRulesOverHTTP: the cap and its correction through the API; a
// refused command writes nothing.
func TestRefundRulesOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	id := ts.toDiagnosed(money("1299.90", "EUR")) // cap 909.93
	before := ts.eventCount()
	res := ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/approve-refund", RoleAgent, map[string]any{"amount": money("909.94", "EUR"), "reason": "all"})
	if res.Code != http.StatusUnprocessableEntity || res.json(t)["type"] != "urn:rmaledger:problem:rule-violation" {
		t.Fatalf("over the cap: %d %s", res.Code, res.Body)
	}
	if got := ts.eventCount(); got != before {
		t.Fatalf("a refused refund wrote %d events", got-before)
	}
	ts.act(id, "approve-refund", map[string]any{"amount": money("500.00", "EUR"), "reason": "hardware share"})
	ts.act(id, "reverse-refund-approval", map[string]any{"amount": money("500.00", "EUR"), "reason": "approved on the wrong claim"})
	// The reversal gave the whole cap back.
	got := ts.act(id, "approve-refund", map[string]any{"amount": money("909.93", "EUR"), "reason": "hardware share", "reference": "FIN-1"})
	if got["status"] != "resolved" {
		t.Fatalf("after the second approval: %v", got["status"])
	}
	res = ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/record-refund-payment", RoleAgent, map[string]any{"amount": money("909.94", "EUR"), "reference": "PAY"})
	if res.Code != http.StatusUnprocessableEntity {
		t.Fatalf("refund payment over the approval: %d %s", res.Code, res.Body)
	}
	res = ts.do(http.MethodPost, "/v1/claims/"+id+"/actions/reverse-payment", RoleAgent, map[string]any{"reference": "P", "reason": "x"})
	if res.Code != http.StatusConflict {
		t.Fatalf("reverse a payment that does not exist: %d %s", res.Code, res.Body)
	}
}

// TestCompensationsOverHTTP lists a claim's facts as JSON and as CSV, and
// reads the CSV back with encoding/csv: same rows, amounts exact.
func TestCompensationsOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	eur := ts.toDiagnosed(money("1299.90", "EUR"))
	ts.act(eur, "approve-refund", map[string]any{"amount": money("500.05", "EUR"), "reason": "hardware share", "reference": `FIN "7", urgent`})
	ts.act(eur, "record-refund-payment", map[string]any{"amount": money("200.00", "EUR"), "reference": "=HYPERLINK(\"x\")"})
	ts.act(eur, "reverse-refund-payment", map[string]any{"reference": "=HYPERLINK(\"x\")", "reason": "returned by the bank"})
	jpy := ts.toDiagnosed(money("150000", "JPY"))
	ts.act(jpy, "issue-credit-note", map[string]any{"amount": money("1500", "JPY"), "number": "CN-1"})
	kwd := ts.toDiagnosed(money("100.000", "KWD"))
	ts.act(kwd, "replace", map[string]any{"new_serial": "SN-2", "value": money("99.999", "KWD"), "reference": "DN-1"})
	ts.act(kwd, "claim-supplier-recovery", map[string]any{"amount": money("50.125", "KWD"), "supplier": "Lenovo", "reference": "LEN-1"})
	pos := ts.position(kwd)

	want := []struct {
		kind, entry, status, amount, currency, reference string
	}{
		{"refund", "approval", "outstanding", "500.05", "EUR", `FIN "7", urgent`},
		{"refund", "payment", "reversed", "200.00", "EUR", "=HYPERLINK(\"x\")"},
		{"refund", "payment", "reversal", "-200.00", "EUR", "=HYPERLINK(\"x\")"},
		{"credit_note", "approval", "settled", "1500", "JPY", "CN-1"},
		{"replacement", "approval", "settled", "99.999", "KWD", "DN-1"},
		{"supplier_recovery", "approval", "outstanding", "50.125", "KWD", "LEN-1"},
	}

	// JSON, two rows a page, followed by cursor.
	var items []map[string]any
	cursor := ""
	for pages := 0; ; pages++ {
		res := ts.do(http.MethodGet, "/v1/finance/compensations?limit=2&min_position="+pos+"&cursor="+cursor, RoleFinance, nil)
		if res.Code != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, res.Code, res.Body)
		}
		page := res.json(t)
		for _, it := range page["items"].([]any) {
			items = append(items, it.(map[string]any))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = url.QueryEscape(next)
	}
	if len(items) != len(want) {
		t.Fatalf("%d rows, want %d: %v", len(items), len(want), items)
	}
	for i, w := range want {
		it := items[i]
		if it["kind"] != w.kind || it["entry"] != w.entry || it["status"] != w.status || it["amount"] != w.amount || it["currency"] != w.currency || it["reference"] != w.reference {
			t.Errorf("row %d: %v, want %+v", i, it, w)
		}
		if it["recorded_by"] == "" || it["event_id"] == "" || it["number"] == "" {
			t.Errorf("row %d lacks its origin: %v", i, it)
		}
	}
	if items[0]["approved_by"] != items[0]["recorded_by"] || items[0]["approved_at"] == nil {
		t.Errorf("an approval names who approved it and when: %v", items[0])
	}
	if items[2]["reverses"] != items[1]["event_id"] || items[1]["reversed_by"].([]any)[0] != items[2]["event_id"] {
		t.Errorf("reversal not linked: %v / %v", items[1], items[2])
	}
	if items[3]["settled_at"] == nil || items[5]["settled_at"] != nil {
		t.Errorf("settled_at: credit note %v, recovery %v", items[3]["settled_at"], items[5]["settled_at"])
	}

	// Filters.
	for query, n := range map[string]int{"kind=refund": 3, "kind=refund&status=reversal": 1, "currency=KWD": 2, "status=outstanding": 2, "kind=payment_received": 0} {
		res := ts.do(http.MethodGet, "/v1/finance/compensations?"+query, RoleAuditor, nil)
		if got := len(res.json(t)["items"].([]any)); res.Code != http.StatusOK || got != n {
			t.Errorf("%s: %d rows (%d), want %d", query, got, res.Code, n)
		}
	}

	// CSV, by Accept and by format, read back with encoding/csv.
	for _, variant := range []struct{ query, accept string }{{"", "text/csv"}, {"format=csv", ""}, {"format=csv", "application/json"}} {
		headers := []string{}
		if variant.accept != "" {
			headers = append(headers, "Accept", variant.accept)
		}
		res := ts.do(http.MethodGet, "/v1/finance/compensations?"+variant.query, RoleFinance, nil, headers...)
		if res.Code != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv %+v: %d %s", variant, res.Code, res.Header.Get("Content-Type"))
		}
		records, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
		if err != nil {
			t.Fatalf("csv does not parse: %v\n%s", err, res.Body)
		}
		if strings.Join(records[0], ",") != strings.Join(compensationCSVHeader, ",") || len(records) != len(want)+1 {
			t.Fatalf("csv header %v, %d lines", records[0], len(records))
		}
		col := map[string]int{}
		for i, name := range records[0] {
			col[name] = i
		}
		for i, w := range want {
			r := records[i+1]
			if r[col["amount"]] != w.amount || r[col["currency"]] != w.currency || r[col["kind"]] != w.kind || r[col["event_id"]] != items[i]["event_id"] {
				t.Errorf("csv row %d: %v, want %+v", i, r, w)
			}
			// Amounts round-trip exactly into minor units.
			if got, exp := minorUnits(t, r[col["amount"]], r[col["currency"]]), minorUnits(t, w.amount, w.currency); got != exp {
				t.Errorf("csv row %d: amount %d, want %d", i, got, exp)
			}
		}
		if got := records[1][col["reference"]]; got != `FIN "7", urgent` {
			t.Errorf("quoted reference came back as %q", got)
		}
		if got := records[2][col["reference"]]; got != `'=HYPERLINK("x")` {
			t.Errorf("a formula-like reference must be defused, got %q", got)
		}
	}

	// One CSV page with limit, continued by the Next-Cursor header.
	res := ts.do(http.MethodGet, "/v1/finance/compensations?format=csv&limit=4", RoleFinance, nil)
	first, _ := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	next := res.Header.Get("Next-Cursor")
	res = ts.do(http.MethodGet, "/v1/finance/compensations?format=csv&limit=4&cursor="+url.QueryEscape(next), RoleFinance, nil)
	second, _ := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	if len(first) != 5 || next == "" || len(second) != 3 || res.Header.Get("Next-Cursor") != "" {
		t.Errorf("csv pages: %d rows, cursor %q, then %d rows", len(first), next, len(second))
	}
}

// TestFinancePeriodsInTheTimeZone: a date is a day in the configured zone.
func TestFinancePeriodsInTheTimeZone(t *testing.T) {
	sofia, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		t.Skip("no time zone database: ", err)
	}
	ts := newTestServer(t, func(w *testWiring) { w.config = func(c *Config) { c.FinanceLocation = sofia } })
	id := ts.toDiagnosed(money("1299.90", "EUR"))
	ts.act(id, "approve-refund", map[string]any{"amount": money("10", "EUR"), "reason": "x"})
	pos := ts.position(id)
	res := ts.do(http.MethodGet, "/v1/finance/compensations?min_position="+pos, RoleFinance, nil)
	page := res.json(t)
	item := page["items"].([]any)[0].(map[string]any)
	at, err := time.Parse(time.RFC3339Nano, item["at"].(string))
	if err != nil || page["time_zone"] != "Europe/Sofia" {
		t.Fatalf("at %v, zone %v", item["at"], page["time_zone"])
	}
	if _, offset := at.Zone(); offset != func() int { _, o := at.In(sofia).Zone(); return o }() {
		t.Errorf("at %s is not in Sofia time", item["at"])
	}
	day := at.In(sofia).Format(time.DateOnly)
	prev := at.In(sofia).AddDate(0, 0, -1).Format(time.DateOnly)
	count := func(query string) int {
		res := ts.do(http.MethodGet, "/v1/finance/compensations?"+query, RoleFinance, nil)
		return len(res.json(t)["items"].([]any))
	}
	if n := count("from=" + day + "&to=" + day); n != 1 {
		t.Errorf("the local day %s holds %d rows, want 1", day, n)
	}
	if n := count("to=" + prev); n != 0 {
		t.Errorf("up to the day before: %d rows", n)
	}
	// Sofia is ahead of UTC: the local day starts before the UTC one.
	local := at.In(sofia)
	localMidnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, sofia)
	if n := count("from=" + url.QueryEscape(localMidnight.UTC().Format(time.RFC3339)) + "&to=" + url.QueryEscape(at.Format(time.RFC3339Nano))); n != 1 {
		t.Errorf("RFC 3339 bounds, to included: %d rows", n)
	}
	rec := ts.do(http.MethodGet, "/v1/finance/reconciliation?from="+day+"&to="+day, RoleFinance, nil).json(t)
	if rec["from"] != localMidnight.Format(time.RFC3339) || rec["time_zone"] != "Europe/Sofia" {
		t.Errorf("reconciliation period %v %v", rec["from"], rec["time_zone"])
	}
}

// TestReconciliationOverHTTP: totals and a discrepancy planted straight in
// the store, linked to its claim and events.
func TestReconciliationOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	id := ts.toDiagnosed(money("1299.90", "EUR"))
	ts.act(id, "approve-refund", map[string]any{"amount": money("300.00", "EUR"), "reason": "x"})
	ts.act(id, "record-refund-payment", map[string]any{"amount": money("100.00", "EUR"), "reference": "R1"})
	paid := ts.toDiagnosed(money("1299.90", "EUR"))
	ts.act(paid, "approve-refund", map[string]any{"amount": money("50.00", "EUR"), "reason": "x"})
	ts.act(paid, "record-refund-payment", map[string]any{"amount": money("50.00", "EUR"), "reference": "R1"})

	// Another tool paid the second refund again.
	claimID := uuid.MustParse(paid)
	_, body, err := domain.EncodeEvent(domain.RefundPaid{Amount: domain.Money{Amount: 5000, Currency: "EUR"}, Reference: "R2", At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(eventlog.Metadata{CorrelationID: "import", Actor: "legacy-import", Role: "admin", OccurredAt: time.Now().UTC()})
	dupID := uuid.New()
	res, err := ts.store.Append(context.Background(), eventlog.Claims.Stream(claimID), eventstore.Any,
		eventstore.EventData{ID: dupID, Type: domain.RefundPaid{}.EventType(), Data: body, Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}

	rec := ts.do(http.MethodGet, "/v1/finance/reconciliation?min_position="+res.Position.String(), RoleAuditor, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("reconciliation: %d %s", rec.Code, rec.Body)
	}
	var out ReconciliationResponse
	if err := json.Unmarshal(rec.Body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Totals) != 1 {
		t.Fatalf("totals %+v", out.Totals)
	}
	tot := out.Totals[0]
	if tot.Currency != "EUR" || tot.Kind != "refund" || tot.Approved != "350.00" || tot.Paid != "200.00" || tot.Outstanding != "200.00" || tot.OutstandingClaims != 1 || tot.Aging["0-30"] != "200.00" || tot.OldestAgeDays == nil {
		t.Errorf("totals %+v", tot)
	}
	if out.DiscrepancyCount != 1 || len(out.Discrepancies) != 1 {
		t.Fatalf("discrepancies %+v", out.Discrepancies)
	}
	d := out.Discrepancies[0]
	if d.Type != "approval_paid_twice" || d.ClaimID != claimID || d.Number == "" || d.Amount != "50.00" || d.Links["events"] != "/v1/claims/"+paid+"/events" {
		t.Errorf("discrepancy %+v", d)
	}
	if len(d.EventIDs) == 0 || d.EventIDs[len(d.EventIDs)-1] != dupID {
		t.Errorf("the discrepancy does not name the duplicate payment %s: %v", dupID, d.EventIDs)
	}
	// A period before everything is empty.
	empty := ts.do(http.MethodGet, "/v1/finance/reconciliation?to=2000-01-01", RoleAuditor, nil).json(t)
	if len(empty["totals"].([]any)) != 0 || empty["discrepancy_count"] != 0.0 {
		t.Errorf("an empty period: %v", empty)
	}
}
