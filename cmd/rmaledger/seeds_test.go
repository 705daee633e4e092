package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// The seeds' processes end to end: each test runs one company's process
// through the HTTP API of the real service, started as a sandbox with the
// default policy (drawn from the seeds: Sofia's calendar, working hours
// 10:00-18:00 on weekdays, first response in 2 working hours, a decision in
// 2 working days, a working day to hand the goods in, a week to repair, 45
// days at most). The SLA clocks act when the test clock moves, as they would
// have in real time. The tests live in June 2030, a month without
// holidays in the default calendar.

// seedRun is one seed's process in a sandbox service.
type seedRun struct {
	*sandboxService
	// position is that of the last write, so that reads see it.
	position string
}

func newSeedRun(t *testing.T, start string) *seedRun {
	t.Helper()
	r := &seedRun{sandboxService: startSandbox(t, filepath.Join(t.TempDir(), "sandbox"))}
	r.setClock(start)
	return r
}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// register files a claim as role agent and returns it.
func (r *seedRun) register(body map[string]any) map[string]any {
	r.t.Helper()
	claim := r.must(http.StatusCreated, http.MethodPost, "/v1/claims", "agent", jsonBody(r.t, body))
	r.position = claim["position"].(string)
	return claim
}

// act runs an action on a claim as role and returns the claim after it.
func (r *seedRun) act(id, action, role string, body any) map[string]any {
	r.t.Helper()
	claim := r.must(http.StatusOK, http.MethodPost, "/v1/claims/"+id+"/actions/"+action, role, jsonBody(r.t, body))
	r.position = claim["position"].(string)
	return claim
}

// refused runs an action that must be refused with code and problem type
// slug, and checks that the claim did not change.
func (r *seedRun) refused(id, action, role string, body any, code int, slug string) map[string]any {
	r.t.Helper()
	before := r.claim(id)["version"]
	got, problem := r.call(http.MethodPost, "/v1/claims/"+id+"/actions/"+action, role, jsonBody(r.t, body))
	if got != code || !strings.HasSuffix(problem["type"].(string), ":"+slug) {
		r.t.Fatalf("%s: %d %v, want %d %s", action, got, problem, code, slug)
	}
	if after := r.claim(id)["version"]; after != before {
		r.t.Fatalf("the refused %s changed the claim from version %v to %v", action, before, after)
	}
	return problem
}

// claim reads a claim from the read models once they have the last write.
func (r *seedRun) claim(id string) map[string]any {
	r.t.Helper()
	return r.must(http.StatusOK, http.MethodGet, "/v1/claims/"+id+"?min_position="+url.QueryEscape(r.position), "agent", "")
}

// advanceTo moves the test clock to a Sofia wall time and returns what the
// SLA timer process did there, as clock name and action per claim number.
func (r *seedRun) advanceTo(at string) []string {
	r.t.Helper()
	answer := r.setClock(at)
	var done []string
	timers, _ := answer["timers"].(map[string]any)
	clocks, _ := timers["clocks"].([]any)
	for _, c := range clocks {
		c := c.(map[string]any)
		if c["outcome"] == "acted" {
			done = append(done, c["number"].(string)+" "+c["clock"].(string)+" "+c["action"].(string))
		}
	}
	return done
}

// expectActions checks what the timer process did, in any order.
func (r *seedRun) expectActions(got []string, want ...string) {
	r.t.Helper()
	if len(got) != len(want) {
		r.t.Fatalf("the timer process did %q, want %q", got, want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			r.t.Fatalf("the timer process did %q, want %q", got, want)
		}
	}
}

// clockOf returns a claim's clock by name.
func (r *seedRun) clockOf(claim map[string]any, name string) map[string]any {
	r.t.Helper()
	clocks, _ := claim["clocks"].([]any)
	for _, c := range clocks {
		if c := c.(map[string]any); c["clock"] == name {
			return c
		}
	}
	r.t.Fatalf("claim %v has no %s clock: %v", claim["number"], name, claim["clocks"])
	return nil
}

// expectClock checks a clock's state and, when due is given, its due time
// as a Sofia wall time.
func (r *seedRun) expectClock(claim map[string]any, name, state, due string) {
	r.t.Helper()
	c := r.clockOf(claim, name)
	if c["state"] != state {
		r.t.Fatalf("%v %s is %v, want %s: %v", claim["number"], name, c["state"], state, c)
	}
	if due != "" && c["due_at"] != sofiaAt(r.t, due).Format("2006-01-02T15:04:05-07:00") {
		r.t.Fatalf("%v %s is due %v, want %s", claim["number"], name, c["due_at"], due)
	}
}

func expectStatus(t *testing.T, claim map[string]any, status string) {
	t.Helper()
	if claim["status"] != status {
		t.Fatalf("claim %v is %v, want %s", claim["number"], claim["status"], status)
	}
}

// eligibility returns the claim's recorded eligibility.
func eligibility(t *testing.T, claim map[string]any) map[string]any {
	t.Helper()
	e, ok := claim["eligibility"].(map[string]any)
	if !ok {
		t.Fatalf("claim %v has no eligibility", claim["number"])
	}
	return e
}

func customer(name string) map[string]any {
	return map[string]any{"name": name, "phone": "+359 888 123 456", "email": "customer@example.com"}
}

func price(amount string) map[string]any { return map[string]any{"amount": amount, "currency": "BGN"} }

func receipt(ref string) map[string]any { return map[string]any{"kind": "receipt", "reference": ref} }

var (
	serviceSofia = map[string]any{"name": "Sofia service center", "address": "1 Vitosha Blvd, Sofia", "country": "BG"}
	intact       = map[string]any{"condition": "no visible damage", "seals_intact": true, "received_by": "tech-1"}
)

// TestSeed000DistributorRMA: an IT distributor's RMA. Requests are taken
// 24x7 but processed in working hours; the manufacturer's service center in
// the country comes first, and the distributor takes the claim only once it
// issued an act of unrepairability; the purchase is confirmed before the RMA
// number; the customer sends the documents for checking, then ships the
// goods; the decision takes a couple of working days.
func TestSeed000DistributorRMA(t *testing.T) {
	r := newSeedRun(t, "2030-06-01 23:00") // Saturday night
	claim := r.register(map[string]any{
		"customer": customer("Ivan Petrov"), "channel": "web",
		"product":       map[string]any{"sku": "SRV-R740", "category": "desktop", "serial": "SRV-0001"},
		"purchase_date": "2030-02-10", "price": price("5400.00"), "defect": "does not boot: RAID controller error",
	})
	id := claim["id"].(string)
	expectStatus(t, claim, "registered")
	// Registered on Saturday night, processed from Monday 10:00.
	claim = r.claim(id)
	r.expectClock(claim, "first_response", "running", "2030-06-03 12:00")
	r.expectClock(claim, "decision", "running", "2030-06-05 10:00")

	r.expectActions(r.advanceTo("2030-06-03 11:00"))
	// The manufacturer has an authorized service center in the country: it goes first.
	claim = r.act(id, "redirect-to-service-center", "agent", map[string]any{
		"service_center": map[string]any{"name": "Dell ASC Sofia", "country": "BG", "contact": "+359 2 900 0000"}})
	expectStatus(t, claim, "redirected")
	claim = r.claim(id)
	r.expectClock(claim, "first_response", "met", "")
	r.expectClock(claim, "decision", "met", "")

	// Wednesday: the service center issues an act of unrepairability; the
	// claim is ours to decide, in a new cycle of the decision clock.
	r.expectActions(r.advanceTo("2030-06-05 14:00"))
	claim = r.act(id, "record-unrepairability-act", "agent", map[string]any{"kind": "unrepairability_act", "reference": "ACT-2030-77", "issued_on": "2030-06-05"})
	expectStatus(t, claim, "registered")
	claim = r.claim(id)
	r.expectClock(claim, "decision", "running", "2030-06-07 14:00")
	if c := r.clockOf(claim, "decision"); c["cycle"] != 2.0 {
		t.Fatalf("the decision clock's new run is cycle %v, want 2", c["cycle"])
	}

	// No RMA number before the purchase is confirmed.
	r.refused(id, "authorize", "agent", map[string]any{"service_center": serviceSofia}, http.StatusUnprocessableEntity, "rule-violation")
	claim = r.act(id, "authorize", "agent", map[string]any{
		"service_center": serviceSofia, "proof_of_purchase": map[string]any{"kind": "invoice", "reference": "INV-2030-118"},
		"documents_requested": []string{"warranty card copy", "act of unrepairability"},
	})
	expectStatus(t, claim, "authorized")
	claim = r.claim(id)
	r.expectClock(claim, "decision", "met", "")
	// The documents come first: the shipment window waits for them, and the goods may not ship.
	r.expectClock(claim, "shipment_window", "paused", "")
	r.refused(id, "record-customer-shipment", "agent", map[string]any{"carrier": "Speedy", "tracking_number": "SP-000"}, http.StatusUnprocessableEntity, "rule-violation")

	// A week later the window has not run out: it waits on the customer.
	r.expectActions(r.advanceTo("2030-06-12 10:00"))
	expectStatus(t, r.claim(id), "authorized")
	r.act(id, "receive-documents", "agent", map[string]any{"documents": []string{"warranty card copy", "act of unrepairability"}})
	// It resumes with the whole working day it had left: eight working hours.
	r.expectClock(r.claim(id), "shipment_window", "running", "2030-06-12 18:00")

	r.expectActions(r.advanceTo("2030-06-12 16:00"))
	r.act(id, "record-customer-shipment", "agent", map[string]any{"carrier": "Speedy", "tracking_number": "SP-000"})
	r.expectActions(r.advanceTo("2030-06-14 11:00"))
	r.act(id, "receive", "technician", intact)
	claim = r.claim(id)
	r.expectClock(claim, "shipment_window", "met", "")
	r.expectClock(claim, "repair_turnaround", "running", "2030-06-21 11:00")
	r.act(id, "diagnose", "technician", map[string]any{"outcome": "defect_confirmed", "findings": "RAID controller failed"})
	r.act(id, "replace", "technician", map[string]any{"new_serial": "SRV-0002", "notes": "unrepairable: replaced"})
	r.act(id, "ship-return", "agent", map[string]any{"carrier": "Speedy", "tracking_number": "SP-001"})
	r.act(id, "confirm-delivery", "agent", map[string]any{"signed_by": "Ivan Petrov"})
	claim = r.act(id, "close", "agent", map[string]any{"reason_code": "completed", "reason": "replaced and delivered"})
	expectStatus(t, claim, "closed")
	if claim["sla_breaches"] != nil {
		t.Fatalf("breaches on a claim handled in time: %v", claim["sla_breaches"])
	}
}

// TestSeed001RefurbishedWarranty: a seller of refurbished computers.
// Warranty from the sale date, shorter for second-hand mechanical parts;
// the goods reach the service within one working day of the online claim or
// the claim counts as resolved; warranty refused for broken seals, with an
// appeal only at release; suspended while the customer owes money; a refund
// returns at most 70% of the price; the customer checks the status with the
// claim number and phone.
func TestSeed001RefurbishedWarranty(t *testing.T) {
	r := newSeedRun(t, "2030-06-03 10:00") // Monday
	claimFor := func(serial string, product map[string]any, bought string) map[string]any {
		product["serial"] = serial
		// A Bulgarian number as customers write it: read as +359 888 123 456.
		return r.register(map[string]any{
			"customer": map[string]any{"name": "Georgi Dimitrov", "phone": "0888 123 456"}, "channel": "web", "product": product, "purchase_date": bought,
			"proof_of_purchase": receipt("R-" + serial), "price": price("899.00"), "defect": "clicking noise, does not boot",
		})
	}

	// A refurbished laptop's disk: 3 months from the sale, not the laptop's 12.
	late := claimFor("RL-1", map[string]any{"category": "refurbished_laptop", "component": "hdd", "condition": "refurbished"}, "2030-04-15")
	if phone := late["customer"].(map[string]any)["phone"]; phone != "+359888123456" {
		t.Fatalf("the national number is stored as %v", phone)
	}
	if e := eligibility(t, late); e["covered"] != true || e["coverage"] != "seller" || e["until"] != "2030-07-14" {
		t.Fatalf("the disk's eligibility: %v", e)
	}
	// A used power supply has 7 days: long gone.
	psu := claimFor("PSU-1", map[string]any{"category": "refurbished_desktop", "component": "power_supply", "condition": "used"}, "2030-05-20")
	if e := eligibility(t, psu); e["covered"] != false || e["reason_code"] != "warranty_expired" || e["until"] != "2030-05-26" {
		t.Fatalf("the power supply's eligibility: %v", e)
	}
	r.refused(psu["id"].(string), "authorize", "agent", map[string]any{"service_center": serviceSofia}, http.StatusUnprocessableEntity, "not-covered")
	expectStatus(t, r.act(psu["id"].(string), "reject", "agent", map[string]any{"reason_code": "warranty_expired", "reason": "a used power supply has 7 days"}), "rejected")

	// One working day to hand the goods in, else the claim counts as resolved.
	lateID := late["id"].(string)
	r.act(lateID, "authorize", "agent", map[string]any{"service_center": serviceSofia})
	r.expectClock(r.claim(lateID), "shipment_window", "running", "2030-06-04 10:00")
	seal := claimFor("RL-2", map[string]any{"category": "refurbished_laptop"}, "2030-03-01")
	sealID := seal["id"].(string)
	r.act(sealID, "authorize", "agent", map[string]any{"service_center": serviceSofia})

	// The status check: claim number and phone, nothing with a wrong phone.
	// The customer types the number as they know it, without the country code.
	status := r.must(http.StatusOK, http.MethodGet, "/v1/status?number="+late["number"].(string)+"&phone="+url.QueryEscape("0888 123 456"), "", "")
	if status["status"] != "authorized" {
		t.Fatalf("status check: %v", status)
	}
	if code, _ := r.call(http.MethodGet, "/v1/status?number="+late["number"].(string)+"&phone="+url.QueryEscape("+359888000000"), "", ""); code != http.StatusNotFound {
		t.Fatalf("status check with a wrong phone: %d", code)
	}

	// The second laptop is handed in the next morning; the first never comes.
	r.expectActions(r.advanceTo("2030-06-04 09:30"))
	r.act(sealID, "receive", "technician", map[string]any{"condition": "seal on the case broken", "seals_intact": false, "received_by": "tech-1", "photos": []string{"sha256:5e1a"}})
	r.expectActions(r.advanceTo("2030-06-04 10:30"), late["number"].(string)+" shipment_window close")
	closed := r.claim(lateID)
	expectStatus(t, closed, "closed")
	if c := closed["closure"].(map[string]any); c["reason_code"] != "shipment_window_expired" {
		t.Fatalf("closure: %v", c)
	}

	// Broken seal: warranty refused. The customer may appeal only at release.
	r.act(sealID, "diagnose", "technician", map[string]any{"outcome": "warranty_void", "void_reason_code": "broken_seal", "findings": "case opened, seal broken"})
	r.refused(sealID, "open-dispute", "agent", map[string]any{"reason": "I never opened it"}, http.StatusConflict, "invalid-transition")
	r.act(sealID, "return-unrepaired", "agent", map[string]any{"reason": "warranty void: broken seal"})
	expectStatus(t, r.act(sealID, "open-dispute", "agent", map[string]any{"reason": "the seal was broken in transit", "reference": "letter 2030-06-04"}), "disputed")
	// Second review: the intake photos show transport damage. The first
	// decision stays on record beside the new one.
	claim := r.act(sealID, "resolve-dispute", "agent", map[string]any{"outcome": "overturned", "decision": "transport damage, not tampering"})
	expectStatus(t, claim, "diagnosed")
	r.act(sealID, "diagnose", "technician", map[string]any{"outcome": "defect_confirmed", "findings": "disk failed"})
	r.act(sealID, "start-repair", "technician", map[string]any{"where": "own"})
	r.act(sealID, "complete-repair", "technician", map[string]any{"work_done": "disk replaced", "parts": []string{"HDD-500"}})
	r.act(sealID, "ship-return", "agent", map[string]any{"carrier": "Econt", "tracking_number": "EC-1"})
	r.act(sealID, "confirm-delivery", "agent", map[string]any{"signed_by": "Georgi Dimitrov"})
	claim = r.act(sealID, "close", "agent", map[string]any{"reason_code": "completed"})
	if disputes, _ := claim["disputes"].([]any); len(disputes) != 1 || disputes[0].(map[string]any)["outcome"] != "overturned" {
		t.Fatalf("the appeal is not on record: %v", claim["disputes"])
	}

	// Unpaid debt: the warranty is suspended, and so are the clocks.
	debt := claimFor("RL-3", map[string]any{"category": "refurbished_laptop"}, "2030-03-01")
	debtID := debt["id"].(string)
	expectStatus(t, r.act(debtID, "put-on-hold", "agent", map[string]any{"reason_code": "unpaid_debt", "reason": "invoice 2030-311 unpaid"}), "on_hold")
	r.expectClock(r.claim(debtID), "decision", "paused", "")
	r.expectActions(r.advanceTo("2030-06-11 10:30"))
	r.act(debtID, "release-hold", "agent", map[string]any{"notes": "invoice paid"})
	claim = r.claim(debtID)
	r.expectClock(claim, "decision", "running", "2030-06-13 10:30")
	if claim["sla_breaches"] != nil {
		t.Fatalf("breaches while on hold: %v", claim["sla_breaches"])
	}

	// A refund: the merchant's choice, at most 70% of the price (629.30 of 899.00).
	r.act(debtID, "authorize", "agent", map[string]any{"service_center": serviceSofia})
	r.act(debtID, "receive", "technician", intact)
	r.act(debtID, "diagnose", "technician", map[string]any{"outcome": "defect_confirmed", "findings": "mainboard failed"})
	r.refused(debtID, "approve-refund", "agent", map[string]any{"amount": price("700.00"), "reason": "no parts"}, http.StatusUnprocessableEntity, "rule-violation")
	claim = r.act(debtID, "approve-refund", "agent", map[string]any{"amount": price("629.30"), "reason": "no parts"})
	expectStatus(t, claim, "resolved")
	r.act(debtID, "record-refund-payment", "agent", map[string]any{"amount": price("629.30"), "reference": "BANK-88"})
}

// TestSeed002SupplierAfterSales: a supplier's after-sales commitments: a
// response within 2 hours and an accurate answer within 2 working days,
// counted from when a request arrived; help without the goods where it is
// enough; repair within a week of receiving the goods; after warranty,
// parts at cost and no labour, paid before the goods ship back; a call
// back later.
func TestSeed002SupplierAfterSales(t *testing.T) {
	r := newSeedRun(t, "2030-06-03 10:00") // Monday
	claim := r.register(map[string]any{
		"customer": customer("Li Wei"), "channel": "email",
		"product":       map[string]any{"sku": "CNC-CTRL-2", "category": "controller", "serial": "CC-2030-1"},
		"purchase_date": "2030-01-15", "proof_of_purchase": map[string]any{"kind": "invoice", "reference": "PI-7781"},
		"price": price("2400.00"), "defect": "axis drive fault E-41",
	})
	id := claim["id"].(string)
	if e := eligibility(t, claim); e["covered"] != true || e["until"] != "2031-01-14" {
		t.Fatalf("a year's free warranty: %v", e)
	}
	// A note for colleagues answers no one: the response clock runs on.
	r.expectActions(r.advanceTo("2030-06-03 10:30"))
	r.act(id, "add-note", "agent", map[string]any{"text": "asked engineering about E-41", "visibility": "internal"})

	// A request e-mailed at 09:00 and entered at 11:30: its clocks run from
	// its arrival (from the opening at 10:00), and support fixes it by phone
	// without the goods.
	r.expectActions(r.advanceTo("2030-06-03 11:30"))
	mailed := r.register(map[string]any{
		"customer": customer("Zhang Min"), "channel": "email", "reported_at": sofiaAt(t, "2030-06-03 09:00").Format("2006-01-02T15:04:05-07:00"),
		"product":       map[string]any{"sku": "CNC-CTRL-2", "category": "controller", "serial": "CC-2030-2"},
		"purchase_date": "2030-02-01", "proof_of_purchase": map[string]any{"kind": "invoice", "reference": "PI-7790"},
		"price": price("2400.00"), "defect": "spindle speed shown wrong",
	})
	mailedID := mailed["id"].(string)
	r.expectClock(r.claim(mailedID), "first_response", "running", "2030-06-03 12:00")
	resolved := r.act(mailedID, "resolve-remotely", "technician", map[string]any{"method": "phone", "work_done": "spindle parameter P-112 corrected", "reference": "SR-2030-41"})
	expectStatus(t, resolved, "resolved")
	r.expectClock(r.claim(mailedID), "first_response", "met", "")
	expectStatus(t, r.act(mailedID, "close", "agent", map[string]any{"reason_code": "completed", "reason": "fixed by phone"}), "closed")
	r.expectActions(r.advanceTo("2030-06-03 12:05"), claim["number"].(string)+" first_response record-sla-breach")
	r.act(id, "add-note", "agent", map[string]any{"text": "We received your request and are checking the fault code.", "visibility": "customer"})
	r.expectClock(r.claim(id), "first_response", "missed", "")
	// The accurate answer is late too.
	r.expectActions(r.advanceTo("2030-06-05 10:30"), claim["number"].(string)+" decision record-sla-breach")
	r.act(id, "authorize", "agent", map[string]any{"service_center": serviceSofia, "notes": "ship the controller; each side pays its own leg"})
	r.act(id, "record-customer-shipment", "agent", map[string]any{"carrier": "DHL", "tracking_number": "DHL-1"})
	r.expectActions(r.advanceTo("2030-06-06 10:00"))
	r.act(id, "receive", "technician", intact)
	r.act(id, "diagnose", "technician", map[string]any{"outcome": "defect_confirmed", "findings": "drive board burnt"})
	r.act(id, "start-repair", "technician", map[string]any{"where": "own"})
	// A week after intake the repair is late.
	r.expectActions(r.advanceTo("2030-06-13 10:01"), claim["number"].(string)+" repair_turnaround record-sla-breach")
	r.act(id, "complete-repair", "technician", map[string]any{"work_done": "drive board replaced"})
	r.act(id, "ship-return", "agent", map[string]any{"carrier": "DHL", "tracking_number": "DHL-2"})
	r.act(id, "confirm-delivery", "agent", map[string]any{"signed_by": "Li Wei"})
	r.expectActions(r.advanceTo("2030-06-20 11:00"))
	r.act(id, "add-note", "agent", map[string]any{"text": "Called back: the machine runs; customer satisfied.", "visibility": "customer"})
	claim = r.act(id, "close", "agent", map[string]any{"reason_code": "completed"})
	breaches, _ := claim["sla_breaches"].([]any)
	var clocks []string
	for _, b := range breaches {
		clocks = append(clocks, b.(map[string]any)["clock"].(string))
	}
	if strings.Join(clocks, ",") != "first_response,decision,repair_turnaround" {
		t.Fatalf("breaches on record: %v", clocks)
	}

	// After the warranty: parts at cost, no labour, paid before anything ships back.
	old := r.register(map[string]any{
		"customer": customer("Li Wei"), "channel": "email",
		"product":       map[string]any{"sku": "CNC-CTRL-1", "category": "controller", "serial": "CC-2027-9"},
		"purchase_date": "2027-03-01", "proof_of_purchase": map[string]any{"kind": "invoice", "reference": "PI-1002"},
		"price": price("1900.00"), "defect": "display dead",
	})
	oldID := old["id"].(string)
	if e := eligibility(t, old); e["covered"] != false || e["reason_code"] != "warranty_expired" {
		t.Fatalf("out of warranty: %v", e)
	}
	r.refused(oldID, "authorize", "agent", map[string]any{"service_center": serviceSofia}, http.StatusUnprocessableEntity, "not-covered")
	r.act(oldID, "authorize", "agent", map[string]any{"service_center": serviceSofia, "paid_repair": true, "notes": "after warranty the customer pays all shipping"})
	r.act(oldID, "record-customer-shipment", "agent", map[string]any{"carrier": "DHL", "tracking_number": "DHL-3"})
	r.act(oldID, "receive", "technician", intact)
	r.act(oldID, "diagnose", "technician", map[string]any{"outcome": "out_of_warranty", "findings": "display panel failed"})
	r.act(oldID, "issue-estimate", "technician", map[string]any{"damage_level": 1, "parts": price("180.00"), "shipping": price("35.00"), "description": "display panel at cost, no labour"})
	r.act(oldID, "accept-estimate", "agent", map[string]any{"reference": "mail 2030-06-20"})
	r.refused(oldID, "start-repair", "technician", map[string]any{"where": "own"}, http.StatusConflict, "invalid-transition")
	r.refused(oldID, "ship-return", "agent", map[string]any{"carrier": "DHL", "tracking_number": "DHL-4"}, http.StatusConflict, "invalid-transition")
	expectStatus(t, r.act(oldID, "record-payment", "agent", map[string]any{"amount": price("215.00"), "reference": "TT-5521", "method": "bank_transfer"}), "paid")
	r.act(oldID, "start-repair", "technician", map[string]any{"where": "own"})
	r.act(oldID, "complete-repair", "technician", map[string]any{"work_done": "display panel replaced"})
	r.act(oldID, "ship-return", "agent", map[string]any{"carrier": "DHL", "tracking_number": "DHL-4"})
	r.act(oldID, "confirm-delivery", "agent", map[string]any{"signed_by": "Li Wei"})
	expectStatus(t, r.act(oldID, "close", "agent", map[string]any{"reason_code": "completed"}), "closed")
}

// TestSeed003PostWarrantyCertificate: an electronics shop's post-warranty
// certificate: 12 months of coverage after the manufacturer's warranty,
// never for batteries and other listed parts; a repair must be done within
// 45 days, or the item is replaced, by another model with the price
// difference settled when no equivalent is left.
func TestSeed003PostWarrantyCertificate(t *testing.T) {
	r := newSeedRun(t, "2030-06-03 10:00")
	phone := func(component string) map[string]any {
		product := map[string]any{"sku": "PH-X9", "category": "phone", "imei": "356938035643809"}
		if component != "" {
			product["component"] = component
		}
		return r.register(map[string]any{
			"customer": customer("Anna Ivanova"), "channel": "walk_in", "product": product, "purchase_date": "2029-01-10",
			"proof_of_purchase": map[string]any{"kind": "warranty_card", "reference": "WC-55"}, "price": price("1200.00"),
			"defect":    "no signal",
			"coverages": []any{map[string]any{"kind": "post_warranty", "reference": "PWC-2029-14", "purchased_on": "2029-01-10"}},
		})
	}
	// The manufacturer's year ended 2030-01-09; the certificate runs a year after it.
	claim := phone("")
	id := claim["id"].(string)
	if e := eligibility(t, claim); e["covered"] != true || e["coverage"] != "post_warranty" || e["reference"] != "PWC-2029-14" || e["until"] != "2031-01-09" {
		t.Fatalf("the certificate's coverage: %v", e)
	}
	battery := phone("battery")
	if e := eligibility(t, battery); e["covered"] != false || e["reason_code"] != "excluded_component" {
		t.Fatalf("a battery under the certificate: %v", e)
	}
	r.refused(battery["id"].(string), "authorize", "agent", map[string]any{"service_center": serviceSofia}, http.StatusUnprocessableEntity, "not-covered")
	expectStatus(t, r.act(battery["id"].(string), "reject", "agent", map[string]any{"reason_code": "excluded_component", "reason": "the certificate does not cover batteries"}), "rejected")

	r.act(id, "authorize", "agent", map[string]any{"service_center": serviceSofia})
	r.act(id, "receive", "technician", intact)
	r.act(id, "diagnose", "technician", map[string]any{"outcome": "defect_confirmed", "findings": "RF module failed"})
	r.act(id, "start-repair", "technician", map[string]any{"where": "manufacturer"})
	r.expectClock(r.claim(id), "repair_hard_limit", "running", "2030-07-18 10:00")
	// Day 46: the week's turnaround is long past and the 45 days are up.
	r.expectActions(r.advanceTo("2030-07-19 10:00"),
		claim["number"].(string)+" repair_turnaround record-sla-breach", claim["number"].(string)+" repair_hard_limit escalate-repair")
	claim = r.claim(id)
	if esc, _ := claim["escalation"].(map[string]any); esc == nil {
		t.Fatalf("no escalation: %v", claim)
	}
	// The repair no longer settles the claim: the item is replaced.
	r.refused(id, "complete-repair", "technician", map[string]any{"work_done": "RF module replaced"}, http.StatusConflict, "invalid-transition")
	// No equivalent is left: another model, the price difference settled
	// (1,350.00 for the 1,200.00 paid), before the new unit ships.
	claim = r.act(id, "replace", "agent", map[string]any{"new_serial": "PH-X10-0001", "new_sku": "PH-X10", "value": price("1350.00"),
		"settle_price_difference": true, "notes": "45 days passed: replaced by the next model"})
	if res := claim["resolution"].(map[string]any); res["kind"] != "replaced" {
		t.Fatalf("resolution: %v", res)
	}
	if rep := claim["replacement"].(map[string]any); rep["difference_charge"].(map[string]any)["amount"] != "150.00" {
		t.Fatalf("the price difference: %v", rep)
	}
	r.refused(id, "ship-return", "agent", map[string]any{"carrier": "Speedy", "tracking_number": "SP-3"}, http.StatusUnprocessableEntity, "rule-violation")
	r.act(id, "record-payment", "agent", map[string]any{"amount": price("150.00"), "reference": "CASH-3", "method": "cash", "for": "price_difference"})
	r.act(id, "ship-return", "agent", map[string]any{"carrier": "Speedy", "tracking_number": "SP-3"})
	r.act(id, "confirm-delivery", "agent", map[string]any{"signed_by": "Anna Ivanova"})
	expectStatus(t, r.act(id, "close", "agent", map[string]any{"reason_code": "completed"}), "closed")
}

// TestSeed004MyRMA: a NAS maker's RMA service. A support ticket first; out
// of warranty, a repair estimate at one of three damage levels, itemized as
// parts, labour and return shipping, accepted and paid online before the
// item ships; a repaired unit carries 180 days of warranty from its
// delivery; extended warranty up to five years.
func TestSeed004MyRMA(t *testing.T) {
	r := newSeedRun(t, "2030-06-03 10:00")
	nas := func(serial, bought string, coverages []any) map[string]any {
		body := map[string]any{
			"customer": customer("Nikos Papadopoulos"), "channel": "web",
			"product":       map[string]any{"sku": "TS-464", "category": "nas", "serial": serial},
			"purchase_date": bought, "proof_of_purchase": map[string]any{"kind": "invoice", "reference": "INV-" + serial},
			"price": price("1100.00"), "defect": "does not power on",
		}
		if coverages != nil {
			body["coverages"] = coverages
		}
		return r.register(body)
	}
	// The support ticket: customer service decides an RMA is needed.
	ticket := nas("Q21A-0001", "2027-05-01", nil)
	id := ticket["id"].(string)
	if e := eligibility(t, ticket); e["covered"] != false || e["until"] != "2029-04-30" {
		t.Fatalf("two years from 2027-05-01: %v", e)
	}
	r.act(id, "add-note", "agent", map[string]any{"text": "Support: power supply checked, RMA needed.", "visibility": "customer"})
	r.act(id, "authorize", "agent", map[string]any{"service_center": serviceSofia, "paid_repair": true})
	// Quoted from the description, accepted and paid online before the NAS travels.
	r.refused(id, "issue-estimate", "technician", map[string]any{"damage_level": 4, "parts": price("1.00")}, http.StatusUnprocessableEntity, "validation")
	claim := r.act(id, "issue-estimate", "technician", map[string]any{
		"damage_level": 2, "parts": price("95.00"), "labour": price("40.00"), "shipping": price("18.00"), "description": "power board"})
	if est := claim["estimate"].(map[string]any); est["total"].(map[string]any)["amount"] != "153.00" {
		t.Fatalf("the estimate's total: %v", est)
	}
	r.refused(id, "record-customer-shipment", "agent", map[string]any{"carrier": "UPS", "tracking_number": "1Z-1"}, http.StatusConflict, "invalid-transition")
	r.act(id, "accept-estimate", "agent", map[string]any{"reference": "web accept"})
	expectStatus(t, r.act(id, "record-payment", "agent", map[string]any{"amount": price("153.00"), "reference": "PAY-ONLINE-1", "method": "online"}), "paid")
	r.expectActions(r.advanceTo("2030-06-03 16:00"))
	r.act(id, "record-customer-shipment", "agent", map[string]any{"carrier": "UPS", "tracking_number": "1Z-1"})
	r.expectActions(r.advanceTo("2030-06-05 11:00"))
	r.act(id, "receive", "technician", intact)
	// The diagnosis on arrival confirms the estimate: the repair starts.
	r.act(id, "diagnose", "technician", map[string]any{"outcome": "out_of_warranty", "findings": "power board failed, as quoted", "confirms_estimate": true})
	r.act(id, "start-repair", "technician", map[string]any{"where": "own"})
	r.act(id, "complete-repair", "technician", map[string]any{"work_done": "power board replaced"})
	r.act(id, "ship-return", "agent", map[string]any{"carrier": "UPS", "tracking_number": "1Z-2"})
	r.expectActions(r.advanceTo("2030-06-10 12:00"))
	r.act(id, "confirm-delivery", "agent", map[string]any{"signed_by": "Nikos Papadopoulos"})
	expectStatus(t, r.act(id, "close", "agent", map[string]any{"reason_code": "completed"}), "closed")

	// Three months later the same unit fails again: the paid repair's 180
	// days cover it, found in the ledger by its serial.
	r.advanceTo("2030-09-10 11:00")
	again := nas("Q21A-0001", "2027-05-01", nil)
	if e := eligibility(t, again); e["covered"] != true || e["coverage"] != "repair" || e["until"] != "2030-12-06" {
		t.Fatalf("the repair warranty: %v", e)
	}
	r.act(again["id"].(string), "authorize", "agent", map[string]any{"service_center": serviceSofia})

	// Extended warranty, five years in total.
	extended := nas("Q21A-0777", "2026-01-10", []any{map[string]any{"kind": "extended", "reference": "EXT-5Y", "purchased_on": "2026-01-10", "months": 60}})
	if e := eligibility(t, extended); e["covered"] != true || e["coverage"] != "extended" || e["until"] != "2031-01-09" {
		t.Fatalf("the extended warranty: %v", e)
	}
}
