package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
)

// withSeedLedger makes the write side decide under book at the test's clock, and look up
// earlier repairs of a unit in the server's read models, as the service is wired; reads is set
// to the read models.
func withSeedLedger(t *testing.T, clock *slaClock, book *domain.PolicyBook, reads **projections.Runner) testOption {
	return func(w *testWiring) {
		var store eventstore.Store
		prevStore := w.ledgerStore
		w.ledgerStore = func(s eventstore.Store) eventstore.Store {
			store = prevStore(s)
			return store
		}
		w.config = func(c *Config) {
			*reads = c.Reads
			l, err := ledger.New(store, ledger.Config{Clock: clock.get, Policies: book, Repairs: c.Reads})
			if err != nil {
				t.Fatal(err)
			}
			c.Ledger = l
		}
	}
}

// seedServer is the API over a ledger wired by withSeedLedger, with its read models.
type seedServer struct {
	*testServer
	reads *projections.Runner
}

func newSeedServer(t *testing.T, clock *slaClock, book *domain.PolicyBook) *seedServer {
	s := &seedServer{}
	s.testServer = newTestServer(t, withSeedLedger(t, clock, book, &s.reads))
	return s
}

// withGoodsPolicy is the default policy, except that the goods may come with the documents.
func withGoodsPolicy(t *testing.T) *domain.PolicyBook {
	p := policy.Default().Latest()
	p.Version, p.DocumentsBeforeShipment = "seeds-goods-first", false
	book, err := domain.NewPolicyBook(p)
	if err != nil {
		t.Fatal(err)
	}
	return book
}

// seedClaim is a claim the tests act on, with its last answer.
type seedClaim struct {
	ts   *seedServer
	id   string
	last map[string]any
}

func (ts *seedServer) registerAt(t *testing.T, purchased, serial string) *seedClaim {
	t.Helper()
	body := laptopBody(purchased)
	body["product"].(map[string]any)["serial"] = serial
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Code, res.Body)
	}
	c := &seedClaim{ts: ts, last: res.json(t)}
	c.id = c.last["id"].(string)
	return c
}

// try sends an action and returns the answer, whatever it is.
func (c *seedClaim) try(action string, body any) response {
	c.ts.t.Helper()
	res := c.ts.do(http.MethodPost, "/v1/claims/"+c.id+"/actions/"+action, RoleTechnician, body)
	if res.Code == http.StatusOK {
		c.last = res.json(c.ts.t)
	}
	return res
}

// act sends an action that must succeed.
func (c *seedClaim) act(action string, body any) map[string]any {
	c.ts.t.Helper()
	if res := c.try(action, body); res.Code != http.StatusOK {
		c.ts.t.Fatalf("%s: %d %s", action, res.Code, res.Body)
	}
	return c.last
}

// read is the claim from the read models, once they have the last answer.
func (c *seedClaim) read() map[string]any {
	c.ts.t.Helper()
	res := c.ts.do(http.MethodGet, "/v1/claims/"+c.id+"?min_position="+c.last["position"].(string), RoleAgent, nil)
	if res.Code != http.StatusOK {
		c.ts.t.Fatalf("GET claim: %d %s", res.Code, res.Body)
	}
	return res.json(c.ts.t)
}

// clock returns the named clock of the claim as the read models show it.
func (c *seedClaim) clock(name string) map[string]any {
	c.ts.t.Helper()
	claim := c.read()
	clocks, _ := claim["clocks"].([]any)
	for _, x := range clocks {
		if m := x.(map[string]any); m["clock"] == name {
			return m
		}
	}
	c.ts.t.Fatalf("no %s clock in %v", name, claim["clocks"])
	return nil
}

// status is the claim's public status, once the status read model has the last answer.
func (c *seedClaim) status() response {
	c.ts.t.Helper()
	pos, err := eventstore.ParsePosition(c.last["position"].(string))
	if err != nil {
		c.ts.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ts.reads.WaitFor(ctx, pos, projections.StatusPage); err != nil {
		c.ts.t.Fatal(err)
	}
	return c.ts.do(http.MethodGet, "/v1/status?number="+c.last["number"].(string)+"&phone=%2B79161234567", "", nil)
}

// refused checks a 422 rule violation whose detail says all of words, with nothing written.
func refused(t *testing.T, c *seedClaim, action string, body any, words ...string) {
	t.Helper()
	before := c.ts.eventCount()
	res := c.try(action, body)
	p := res.json(t)
	if res.Code != http.StatusUnprocessableEntity || p["type"] != "urn:rmaledger:problem:rule-violation" {
		t.Fatalf("%s: %d %s, want 422 rule-violation", action, res.Code, res.Body)
	}
	for _, w := range words {
		if !strings.Contains(p["detail"].(string), w) {
			t.Errorf("%s: detail %q does not say %q", action, p["detail"], w)
		}
	}
	if after := c.ts.eventCount(); after != before {
		t.Errorf("%s: %d events written with a refusal", action, after-before)
	}
}

func outstandingIn(claim map[string]any) []string {
	var out []string
	list, _ := claim["documents_outstanding"].([]any)
	for _, d := range list {
		out = append(out, d.(string))
	}
	return out
}

var (
	center   = map[string]any{"name": "Sofia service center", "address": "1 Vitosha Blvd, Sofia", "country": "BG"}
	shipment = map[string]any{"carrier": "Speedy", "tracking_number": "SP123"}
	intake   = map[string]any{"condition": "scratched lid", "seals_intact": true, "received_by": "tech-1"}
)

// TestRequestedDocumentsAPI: documents requested at authorization show on the claim and the
// status page until received; under the default policy they are checked before the goods come
// in; and they are received until the claim is resolved.
func TestRequestedDocumentsAPI(t *testing.T) {
	clock := &slaClock{}
	clock.set(sofiaTime(t, "2026-12-09 10:00"))
	docs := map[string]any{"service_center": center, "documents_requested": []string{"claim form", "copy of receipt"}}

	t.Run("documents first, by default", func(t *testing.T) {
		ts := newSeedServer(t, clock, policy.Default())
		c := ts.registerAt(t, "2026-10-01", "SN-DOCS-1")
		if got := outstandingIn(c.act("authorize", docs)); !slices.Equal(got, []string{"claim form", "copy of receipt"}) {
			t.Errorf("authorized: documents_outstanding %q", got)
		}
		refused(t, c, "record-customer-shipment", shipment, "claim form", "copy of receipt")
		refused(t, c, "receive", intake, "claim form", "copy of receipt")
		if got := outstandingIn(c.act("receive-documents", map[string]any{"documents": []string{"claim form"}})); !slices.Equal(got, []string{"copy of receipt"}) {
			t.Errorf("one received: documents_outstanding %q", got)
		}
		refused(t, c, "record-customer-shipment", shipment, "copy of receipt")
		status := c.status()
		if v := status.json(t); status.Code != http.StatusOK || v["next_step"] != "send_documents" || !slices.Equal(outstandingIn(v), []string{"copy of receipt"}) {
			t.Errorf("status: %d %s", status.Code, status.Body)
		}
		c.act("receive-documents", map[string]any{"documents": []string{"copy of receipt"}})
		if got := outstandingIn(c.act("record-customer-shipment", shipment)); got != nil {
			t.Errorf("shipped: documents_outstanding %q", got)
		}
	})

	t.Run("the goods may come with them", func(t *testing.T) {
		ts := newSeedServer(t, clock, withGoodsPolicy(t))
		c := ts.registerAt(t, "2026-10-01", "SN-DOCS-2")
		c.act("authorize", docs)
		c.act("record-customer-shipment", shipment)
		c.act("receive", intake)
		// The copy of the receipt came in the parcel: recorded after intake.
		if got := outstandingIn(c.act("receive-documents", map[string]any{"documents": []string{"copy of receipt"}})); !slices.Equal(got, []string{"claim form"}) {
			t.Errorf("after intake: documents_outstanding %q", got)
		}
		if got := outstandingIn(c.read()); !slices.Equal(got, []string{"claim form"}) {
			t.Errorf("read model: documents_outstanding %q", got)
		}
		status := c.status()
		if v := status.json(t); status.Code != http.StatusOK || v["next_step"] != "awaiting_diagnosis" || !slices.Equal(outstandingIn(v), []string{"claim form"}) {
			t.Errorf("status: %d %s", status.Code, status.Body)
		}
		c.act("diagnose", map[string]any{"outcome": "defect_confirmed", "findings": "dead power controller"})
		c.act("start-repair", map[string]any{"where": "own"})
		c.act("receive-documents", map[string]any{"documents": []string{"claim form"}})
		c.act("complete-repair", map[string]any{"work_done": "replaced power controller"})
		if res := c.try("receive-documents", map[string]any{"documents": []string{"late note"}}); res.Code != http.StatusConflict {
			t.Errorf("receive-documents once resolved: %d %s, want 409", res.Code, res.Body)
		}
	})
}

// TestDecisionClockRestartsAPI: when the manufacturer's service center sends the claim back,
// the claim view shows a new cycle of the decision clock, measuring our own decision.
func TestDecisionClockRestartsAPI(t *testing.T) {
	clock := &slaClock{}
	clock.set(sofiaTime(t, "2026-12-09 10:00")) // Wednesday
	ts := newSeedServer(t, clock, policy.Default())
	c := ts.registerAt(t, "2026-10-01", "SN-ASC-1")
	c.act("redirect-to-service-center", map[string]any{"service_center": map[string]any{"name": "Lenovo ASC Sofia", "country": "BG"}})
	if d := c.clock(domain.ClockDecision); d["status"] != "met" || d["cycle"] != nil {
		t.Errorf("after the redirection: %v", d)
	}
	clock.set(sofiaTime(t, "2026-12-14 11:00")) // Monday
	c.act("record-unrepairability-act", map[string]any{"kind": "unrepairability_act", "reference": "ACT-77", "issued_on": "2026-12-11"})
	d := c.clock(domain.ClockDecision)
	if d["status"] != "running" || d["cycle"] != 2.0 || d["due_at"] != "2026-12-16T11:00:00+02:00" {
		t.Errorf("after the act of unrepairability: %v", d)
	}
	clock.set(sofiaTime(t, "2026-12-15 11:00"))
	c.act("authorize", map[string]any{"service_center": center})
	if d := c.clock(domain.ClockDecision); d["status"] != "met" || d["cycle"] != 2.0 {
		t.Errorf("after the authorization: %v", d)
	}
}

// TestCloseShipmentWindowAPI: closing as shipment_window_expired is refused, naming the due
// time, while the window still runs.
func TestCloseShipmentWindowAPI(t *testing.T) {
	clock := &slaClock{}
	clock.set(sofiaTime(t, "2026-12-09 10:00")) // Wednesday
	ts := newSeedServer(t, clock, policy.Default())
	c := ts.registerAt(t, "2026-10-01", "SN-WIN-1")
	c.act("authorize", map[string]any{"service_center": center})
	expired := map[string]any{"reason_code": "shipment_window_expired"}
	clock.set(sofiaTime(t, "2026-12-10 09:59"))
	refused(t, c, "close", expired, "2026-12-10T10:00:00+02:00")
	clock.set(sofiaTime(t, "2026-12-10 10:00"))
	if claim := c.act("close", expired); claim["status"] != "closed" {
		t.Errorf("closed at the due time: %v", claim["status"])
	}
}

// TestFirstResponseAPI: an internal note leaves the first-response clock running; a note to
// the customer stops it.
func TestFirstResponseAPI(t *testing.T) {
	clock := &slaClock{}
	clock.set(sofiaTime(t, "2026-12-09 10:00"))
	ts := newSeedServer(t, clock, policy.Default())
	c := ts.registerAt(t, "2026-10-01", "SN-FR-1")
	clock.set(sofiaTime(t, "2026-12-09 10:30"))
	c.act("add-note", map[string]any{"text": "checked the stock of power controllers"})
	if fr := c.clock(domain.ClockFirstResponse); fr["status"] != "running" {
		t.Errorf("after an internal note: %v", fr)
	}
	clock.set(sofiaTime(t, "2026-12-09 11:00"))
	c.act("add-note", map[string]any{"text": "We received your claim and will answer today.", "visibility": "customer"})
	if fr := c.clock(domain.ClockFirstResponse); fr["status"] != "met" || fr["stopped_at"] != "2026-12-09T11:00:00+02:00" {
		t.Errorf("after a note to the customer: %v", fr)
	}
}

// TestRepairWarrantyOnRecordAPI: a paid repair delivered by the ledger covers a new claim on
// the same serial for 180 days, without anyone retyping it; a repair elsewhere still counts
// when shown.
func TestRepairWarrantyOnRecordAPI(t *testing.T) {
	clock := &slaClock{}
	clock.set(sofiaTime(t, "2026-12-09 10:00"))
	ts := newSeedServer(t, clock, policy.Default())
	money := func(a string) map[string]any { return map[string]any{"amount": a, "currency": "EUR"} }

	// Bought in 2023: the 24 months are over, so the repair is paid work.
	first := ts.registerAt(t, "2023-06-01", "SN-REPAIR-1")
	if e := first.last["eligibility"].(map[string]any); e["covered"] != false || e["reason_code"] != "warranty_expired" {
		t.Fatalf("first claim: eligibility %v", e)
	}
	first.act("authorize", map[string]any{"service_center": center, "paid_repair": true})
	first.act("record-customer-shipment", shipment)
	first.act("receive", intake)
	first.act("diagnose", map[string]any{"outcome": "out_of_warranty", "findings": "dead power controller"})
	first.act("issue-estimate", map[string]any{"damage_level": 2, "parts": money("80.00"), "labour": money("40.00")})
	first.act("accept-estimate", map[string]any{"reference": "signed online"})
	first.act("record-payment", map[string]any{"amount": money("120.00"), "reference": "PAY-77", "method": "online"})
	first.act("start-repair", map[string]any{"where": "own"})
	first.act("complete-repair", map[string]any{"work_done": "replaced power controller"})
	first.act("ship-return", shipment)
	clock.set(sofiaTime(t, "2026-12-11 15:00"))
	first.act("confirm-delivery", map[string]any{"signed_by": "Ivan Petrov"})
	first.read() // the read models have the delivery

	// Three months later the same laptop comes back.
	clock.set(sofiaTime(t, "2027-03-10 10:00"))
	again := ts.registerAt(t, "2023-06-01", "SN-REPAIR-1")
	e := again.last["eligibility"].(map[string]any)
	if e["covered"] != true || e["coverage"] != "repair" || e["reference"] != first.last["number"] || e["until"] != "2027-06-08" {
		t.Errorf("same serial: eligibility %v", e)
	}
	records, _ := again.last["repairs_on_record"].([]any)
	if len(records) != 1 || records[0].(map[string]any)["number"] != first.last["number"] || records[0].(map[string]any)["paid"] != true {
		t.Errorf("repairs_on_record %v", again.last["repairs_on_record"])
	}
	events := ts.do(http.MethodGet, "/v1/claims/"+again.id+"/events", RoleAuditor, nil)
	if !strings.Contains(string(events.Body), `"repairs_on_record":[{"claim_id":"`+first.id+`"`) {
		t.Errorf("the registration event does not record the repair it used:\n%s", events.Body)
	}

	other := ts.registerAt(t, "2023-06-01", "SN-REPAIR-2")
	if e := other.last["eligibility"].(map[string]any); e["covered"] != false || other.last["repairs_on_record"] != nil {
		t.Errorf("another serial: eligibility %v, repairs %v", e, other.last["repairs_on_record"])
	}
	shown := laptopBody("2023-06-01")
	shown["product"].(map[string]any)["serial"] = "SN-REPAIR-3"
	shown["prior_repairs"] = []any{map[string]any{"reference": "Shop 12 invoice 991", "received_on": "2027-01-05", "delivered_on": "2027-01-20", "paid": true}}
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, shown)
	if e := res.json(t)["eligibility"].(map[string]any); res.Code != http.StatusCreated || e["covered"] != true || e["reference"] != "Shop 12 invoice 991" {
		t.Errorf("a repair elsewhere: %d %s", res.Code, res.Body)
	}
}
