package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// erasureStack is the service wired as serve wires it (embedded store, key
// store, ledger sealing personal data, read models over the revealing
// store, the API), in one process so that the test can rebuild every read
// model and verify the chain between requests.
type erasureStack struct {
	t       *testing.T
	dir     string
	handler http.Handler
	reads   *projections.Runner
	keys    map[api.Role]string
}

func (s *erasureStack) do(method, path string, role api.Role, body string) (int, map[string]any) {
	s.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+s.keys[role])
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

func (s *erasureStack) must(method, path string, role api.Role, body string) map[string]any {
	s.t.Helper()
	code, m := s.do(method, path, role, body)
	if code/100 != 2 {
		s.t.Fatalf("%s %s: %d %v", method, path, code, m)
	}
	return m
}

// TestErasureLeavesNoPlaintext proves erasure end to end: two customers'
// claims, worked on; one customer erased; every read model rebuilt; then
// no file of the data directory holds any of the erased customer's
// personal data in any of its forms, the other customer's data is still
// served, the status page no longer finds the erased claim, and the hash
// chain with a checkpoint signed before the erasure still verifies.
func TestErasureLeavesNoPlaintext(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	codec, closeKeys, err := openPrivacy(config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeKeys()
	service, err := ledger.New(store, ledger.Config{Privacy: codec})
	if err != nil {
		t.Fatal(err)
	}
	reads, err := projections.New(revealed(store, codec, logger), projections.Config{Dir: dir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer reads.Close()
	if err := reads.Start(ctx); err != nil {
		t.Fatal(err)
	}
	keys := &api.Keys{}
	s := &erasureStack{t: t, dir: dir, reads: reads, keys: map[api.Role]string{}}
	for _, role := range api.Roles() {
		s.keys[role] = "erasure-test-key-" + string(role)
		if err := keys.Add(role, s.keys[role]); err != nil {
			t.Fatal(err)
		}
	}
	key, err := audit.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer := audit.NewSigner(key)
	checkpointer, err := audit.NewCheckpointer(store, audit.CheckpointerConfig{Signer: signer, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	s.handler, err = api.New(api.Config{
		Ledger: service, Reads: reads, Keys: keys, Logger: logger, AuthFailures: api.NoAuthLimit,
		StatusPage: statuspage.Config{PerClient: statuspage.Unlimited, PerNumber: statuspage.Unlimited},
		Audit:      api.AuditConfig{Checkpointer: checkpointer, DensePositions: true},
	})
	if err != nil {
		t.Fatal(err)
	}

	register := func(name, phone, email, address string) map[string]any {
		body, _ := json.Marshal(map[string]any{
			"customer":          map[string]string{"name": name, "phone": phone, "email": email, "address": address},
			"product":           map[string]string{"sku": "NB-X1", "category": "laptop", "serial": "SN-" + phone[len(phone)-4:]},
			"purchase_date":     "2026-02-01",
			"proof_of_purchase": map[string]string{"kind": "receipt", "reference": "R-1001"},
			"price":             map[string]string{"amount": "1299.90", "currency": "BGN"},
			"defect":            "does not power on",
			"channel":           "web",
		})
		return s.must("POST", "/v1/claims", api.RoleAgent, string(body))
	}
	act := func(id, action, body string, role api.Role) map[string]any {
		return s.must("POST", "/v1/claims/"+id+"/actions/"+action, role, body)
	}
	// The erased customer: two claims, the phone typed two ways.
	maria := register("Maria Georgieva", "+359 888 123 456", "maria.georgieva@example.com", "1 Vitosha Blvd, Sofia")
	maria2 := register("Maria Georgieva", "+359-888-123-456", "maria.georgieva@example.com", "1 Vitosha Blvd, Sofia")
	ivan := register("Ivan Petrov", "+7 916 123-45-67", "ivan.petrov@example.ru", "Tverskaya 7, Moscow")
	mariaID, maria2ID, ivanID := maria["id"].(string), maria2["id"].(string), ivan["id"].(string)
	customer, _ := maria["customer_id"].(string)
	if customer == "" || maria2["customer_id"] != customer || ivan["customer_id"] == customer {
		t.Fatalf("customer ids: %v %v %v", maria["customer_id"], maria2["customer_id"], ivan["customer_id"])
	}
	act(mariaID, "authorize", `{"service_center": {"name": "Sofia service center", "address": "2 Tsarigradsko Shose, Sofia", "country": "BG"}}`, api.RoleAgent)
	act(mariaID, "record-customer-shipment", `{"carrier": "Speedy", "tracking_number": "SP123"}`, api.RoleAgent)
	act(mariaID, "receive", `{"condition": "scratched lid", "seals_intact": true, "received_by": "tech-1"}`, api.RoleTechnician)
	act(mariaID, "diagnose", `{"outcome": "defect_confirmed", "findings": "dead power controller"}`, api.RoleTechnician)
	act(mariaID, "start-repair", `{"where": "own"}`, api.RoleTechnician)
	act(mariaID, "complete-repair", `{"work_done": "replaced power controller"}`, api.RoleTechnician)
	act(mariaID, "ship-return", `{"carrier": "Speedy", "tracking_number": "SP999"}`, api.RoleAgent)
	act(mariaID, "confirm-delivery", `{"signed_by": "Maria Georgieva"}`, api.RoleAgent)
	act(ivanID, "authorize", `{"service_center": {"name": "Moscow service center", "address": "5 Lenina St, Moscow", "country": "RU"}}`, api.RoleAgent)
	last := act(ivanID, "add-note", `{"text": "customer called", "visibility": "internal"}`, api.RoleAgent)
	_ = last

	number, _ := maria["number"].(string)
	statusOf := func(number, phone string) int {
		code, _ := s.do("GET", "/v1/status?number="+url.QueryEscape(number)+"&phone="+url.QueryEscape(phone), "", "")
		return code
	}
	view := s.must("GET", "/v1/claims/"+mariaID+"?min_position="+url.QueryEscape(last["position"].(string)), api.RoleAgent, "")
	if c := view["customer"].(map[string]any); c["name"] != "Maria Georgieva" || c["phone"] != "+359888123456" {
		t.Fatalf("before erasure the claim shows %v", c)
	}
	if code := statusOf(number, "0888 123 456"); code != http.StatusOK {
		t.Fatalf("status lookup before erasure: %d", code)
	}
	if items, _ := s.must("GET", "/v1/claims?phone=%2B359888123456", api.RoleAgent, "")["items"].([]any); len(items) != 2 {
		t.Fatalf("search by phone before erasure: %v", items)
	}
	if _, _, err := checkpointer.Checkpoint(ctx, "test", "admin"); err != nil {
		t.Fatal(err)
	}

	// Erasure: admin only, validated, 404 for nobody, idempotent.
	erase := "/v1/customers/" + customer + "/erase"
	for _, role := range []api.Role{api.RoleAgent, api.RoleTechnician, api.RoleFinance, api.RoleAuditor} {
		if code, _ := s.do("POST", erase, role, ""); code != http.StatusForbidden {
			t.Errorf("%s may erase: %d", role, code)
		}
	}
	if code, m := s.do("POST", erase, api.RoleAdmin, `{"reason": "x"}`); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d %v", code, m)
	}
	if code, m := s.do("POST", erase, api.RoleAdmin, `{`); code != http.StatusBadRequest {
		t.Errorf("malformed body: %d %v", code, m)
	}
	for _, unknown := range []string{strings.Repeat("0", 32), "not-a-customer", strings.ToUpper(customer)} {
		if code, m := s.do("POST", "/v1/customers/"+unknown+"/erase", api.RoleAdmin, ""); code != http.StatusNotFound || m["type"] != "urn:rmaledger:problem:customer-not-found" {
			t.Errorf("erase %s: %d %v", unknown, code, m)
		}
	}
	res := s.must("POST", erase, api.RoleAdmin, "")
	if res["recorded"] != float64(2) || len(res["claims"].([]any)) != 2 {
		t.Fatalf("erasure answered %v", res)
	}
	if again := s.must("POST", erase, api.RoleAdmin, "{}"); again["recorded"] != float64(0) || len(again["claims"].([]any)) != 2 {
		t.Fatalf("repeated erasure answered %v", again)
	}

	// The live read models react without a rebuild.
	checkErased := func(stage string) {
		t.Helper()
		for _, id := range []string{mariaID, maria2ID} {
			v := s.must("GET", "/v1/claims/"+id+"?min_position="+url.QueryEscape(res["position"].(string)), api.RoleAgent, "")
			c := v["customer"].(map[string]any)
			if c["name"] != "[erased]" || c["phone"] != "[erased]" || c["email"] != "[erased]" || c["address"] != "[erased]" || v["personal_data_erased"] != true {
				t.Errorf("%s: claim %s shows %v", stage, id, c)
			}
			if id == mariaID && v["delivery"].(map[string]any)["signed_by"] != "[erased]" {
				t.Errorf("%s: delivery shows %v", stage, v["delivery"])
			}
			hist := s.must("GET", "/v1/claims/"+id+"/history", api.RoleAuditor, "")
			if b, _ := json.Marshal(hist); bytes.Contains(b, []byte("Maria")) || bytes.Contains(b, []byte("888123456")) {
				t.Errorf("%s: history of %s still names her: %s", stage, id, b)
			}
		}
		for _, q := range []string{"phone=%2B359888123456", "email=maria.georgieva%40example.com"} {
			found := s.must("GET", "/v1/claims?"+q, api.RoleAgent, "")
			if items, _ := found["items"].([]any); len(items) != 0 {
				t.Errorf("%s: search %s still finds %v", stage, q, items)
			}
		}
		if code := statusOf(number, "0888 123 456"); code != http.StatusNotFound {
			t.Errorf("%s: status lookup with the erased phone: %d", stage, code)
		}
		trail := s.must("GET", "/v1/audit/trail?limit=1000", api.RoleAuditor, "")
		if b, _ := json.Marshal(trail); bytes.Contains(b, []byte("Maria")) || !bytes.Contains(b, []byte("Ivan Petrov")) {
			t.Errorf("%s: audit trail: %s", stage, b)
		}
		other := s.must("GET", "/v1/claims/"+ivanID, api.RoleAgent, "")
		if c := other["customer"].(map[string]any); c["name"] != "Ivan Petrov" || c["email"] != "ivan.petrov@example.ru" {
			t.Errorf("%s: the other customer shows %v", stage, c)
		}
		if code := statusOf(ivan["number"].(string), "8 916 123-45-67"); code != http.StatusOK {
			t.Errorf("%s: the other customer's status lookup: %d", stage, code)
		}
	}
	checkErased("live")

	for _, name := range reads.Names() {
		if err := reads.Rebuild(ctx, name); err != nil {
			t.Fatalf("rebuild %s: %v", name, err)
		}
	}
	checkErased("rebuilt")

	report, err := audit.Verify(ctx, store, audit.VerifyOptions{Keys: audit.NewKeys(signer.Public()), DensePositions: true})
	if err != nil || !report.OK || report.Checkpoints != 1 {
		t.Fatalf("audit verify after erasure: %+v, %v", report, err)
	}

	// No file of the data directory holds her data, in any form it was
	// given or stored in; the other customer's, which nobody erased, is
	// found, so the search itself works.
	erased := []string{"Maria", "Georgieva", "maria.georgieva", "Vitosha", "+359888123456", "359888123456",
		"888123456", "888 123 456", "00359888123456", "0888123456"}
	found := scanDir(t, dir, append(erased, "Ivan Petrov"))
	for _, needle := range erased {
		if files := found[needle]; len(files) > 0 {
			t.Errorf("%q is still in %v", needle, files)
		}
	}
	if len(found["Ivan Petrov"]) == 0 {
		t.Error("the other customer's name is in no file: the scan cannot find anything")
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "pii-keys.db")); err != nil {
		t.Errorf("key store: %v", err)
	}
	t.Logf("files scanned: %v", found["\x00files"])
	if keep := os.Getenv("RMALEDGER_ERASURE_KEEP"); keep != "" && t.Failed() {
		// For debugging: a copy of the data directory as the test saw it.
		_ = os.CopyFS(keep, os.DirFS(dir))
	}
}

// scanDir reads every file under dir and says which of the needles each
// holds (case-insensitively, in UTF-8 as SQLite stores text).
func scanDir(t *testing.T, dir string, needles []string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		found["\x00files"] = append(found["\x00files"], rel)
		lower := bytes.ToLower(data)
		for _, n := range needles {
			if bytes.Contains(lower, bytes.ToLower([]byte(n))) {
				found[n] = append(found[n], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
