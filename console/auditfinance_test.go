package console_test

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/projections"
)

// tamperedStore hands out one stream's events with the first event's data
// changed, as if someone had edited the stored bytes.
type tamperedStore struct {
	eventstore.Store
	stream string
}

func (t tamperedStore) ReadStream(ctx context.Context, stream string, d eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	recs, err := t.Store.ReadStream(ctx, stream, d, from, max)
	if err == nil && stream == t.stream {
		for i := range recs {
			if recs[i].Revision == 0 {
				recs[i].Data = []byte(strings.Replace(string(recs[i].Data), "Maria", "Marta", 1))
			}
		}
	}
	return recs, err
}

// withScreens serves the stack's ledger and read models through a console
// that has the auditor's and the finance screens, checking chains in store
// (the ledger's own when nil).
func withScreens(t testing.TB, s *stack, store eventstore.Store) *stack {
	t.Helper()
	if store == nil {
		store = s.ledger.Store()
	}
	e := echo.New()
	if err := console.Register(e, console.Config{
		Accounts: s.accounts, Reads: s.reads, Commands: s.ledger, Location: time.UTC,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Audit:   console.LedgerAudit{Store: store, Trail: s.reads},
		Finance: s.reads,
	}); err != nil {
		t.Fatal(err)
	}
	out := &stack{ledger: s.ledger, reads: s.reads, accounts: s.accounts, server: httptest.NewServer(e)}
	t.Cleanup(out.server.Close)
	return out
}

// refundedClaim is a claim diagnosed with a confirmed defect and a refund
// of 100 BGN approved: four versions after registration.
func refundedClaim(t testing.TB, s *stack, serial string) domain.State {
	t.Helper()
	claim := s.registerClaim(t, serial)
	yes := true
	s.execute(t, claim.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia center", Address: "1 Vitosha Blvd"}})
	s.execute(t, claim.ID, &domain.ReceiveClaim{Condition: "fine", SealsIntact: &yes, ReceivedBy: "Tom"})
	s.execute(t, claim.ID, &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "Dead board."})
	amount, _ := domain.ParseMoney("100.00", "BGN")
	return s.execute(t, claim.ID, &domain.ApproveRefund{Amount: amount, Reason: "defect_confirmed"})
}

func auditor(t testing.TB, s *stack) *client {
	c := s.client(t)
	c.signIn("Al Auditor", "pw-auditor")
	return c
}

// TestAuditClaim: an auditor sees a claim at an earlier version, what the
// next event changed field by field, and its chain verified.
func TestAuditClaim(t *testing.T) {
	s := withScreens(t, newStack(t), nil)
	claim := refundedClaim(t, s, "SN-AUDIT-1")
	c := auditor(t, s)
	path := console.AuditPath + "/claims/" + claim.ID.String()

	p := c.get(path)
	if p.Code != http.StatusOK {
		t.Fatalf("audit page: %d %s", p.Code, p.Body)
	}
	for _, want := range []string{`id="chain-result">Chain verified: 5 events intact`, "State at version 5", "Changes from version 4 to version 5"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	p = c.get(path + "?version=2")
	if !strings.Contains(p.Body, "State at version 2") || !strings.Contains(p.Body, "Changes from version 1 to version 2") {
		t.Fatalf("version 2 not shown: %s", p.Body)
	}
	// Authorizing changed the status from registered to authorized.
	if !strings.Contains(p.Body, "<code>status</code></td><td data-label=\"Before\">registered</td><td data-label=\"After\">authorized</td>") {
		t.Errorf("the diff does not list the status change: %s", p.Body)
	}
	p = c.get(path + "?version=2&compare=5")
	if !strings.Contains(p.Body, "Changes from version 5 to version 2") {
		t.Errorf("compare=5 not used: %s", p.Body)
	}
	if p = c.get(path + "?version=9"); p.Code != http.StatusBadRequest || !strings.Contains(p.Body, "never had that version") {
		t.Errorf("version 9: %d", p.Code)
	}
	if p = c.get(path + "?as_of=2001-01-01T10:00"); p.Code != http.StatusBadRequest || !strings.Contains(p.Body, "did not exist yet") {
		t.Errorf("as_of before registration: %d", p.Code)
	}
	if p = c.get(path + "?as_of=" + time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04")); p.Code != http.StatusOK || !strings.Contains(p.Body, "State at version 5") {
		t.Errorf("as_of now: %d", p.Code)
	}
	if p = c.get(console.AuditPath + "/claims/" + uuid.NewString()); p.Code != http.StatusNotFound {
		t.Errorf("unknown claim: %d", p.Code)
	}
}

// TestAuditChainBroken: an event whose stored bytes changed breaks the
// claim's chain, and the page says so.
func TestAuditChainBroken(t *testing.T) {
	base := newStack(t)
	claim := base.registerClaim(t, "SN-AUDIT-2")
	s := withScreens(t, base, tamperedStore{Store: base.ledger.Store(), stream: "claim-" + claim.ID.String()})
	p := auditor(t, s).get(console.AuditPath + "/claims/" + claim.ID.String())
	if p.Code != http.StatusOK || !strings.Contains(p.Body, `id="chain-result">The hash chain of this claim is broken`) {
		t.Fatalf("tampered chain: %d %s", p.Code, p.Body)
	}
}

// TestAuditExport: the export link streams the claim's audit export.
func TestAuditExport(t *testing.T) {
	s := withScreens(t, newStack(t), nil)
	claim := s.registerClaim(t, "SN-AUDIT-3")
	p := auditor(t, s).get(console.AuditPath + "/claims/" + claim.ID.String() + "/export")
	if p.Code != http.StatusOK || p.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %s", p.Code, p.Header)
	}
	lines := strings.Split(strings.TrimSpace(p.Body), "\n")
	if !strings.Contains(lines[0], `"header"`) || !strings.Contains(p.Body, claim.ID.String()) || !strings.Contains(p.Body, `"kind":"event"`) {
		t.Errorf("export body: %s", p.Body)
	}
}

// TestAuditTrailFilters: the trail is filtered by actor, action and period.
func TestAuditTrailFilters(t *testing.T) {
	s := withScreens(t, newStack(t), nil)
	claim := refundedClaim(t, s, "SN-AUDIT-4")
	c := auditor(t, s)
	today := time.Now().UTC().Format(time.DateOnly)
	count := func(query string) int {
		t.Helper()
		p := c.get(console.AuditPath + query)
		if p.Code != http.StatusOK {
			t.Fatalf("%s: %d", query, p.Code)
		}
		return strings.Count(p.Body, "/console/audit/claims/"+claim.ID.String()+"?version=")
	}
	if n := count(""); n != 5 {
		t.Errorf("unfiltered: %d rows, want 5", n)
	}
	if n := count("?actor=api-key"); n != 1 {
		t.Errorf("actor api-key: %d rows, want 1 (the registration)", n)
	}
	if n := count("?action=authorize"); n != 1 {
		t.Errorf("action authorize: %d rows, want 1", n)
	}
	if n := count("?from=" + today + "&to=" + today); n != 5 {
		t.Errorf("today: %d rows, want 5", n)
	}
	if n := count("?from=2001-01-01&to=2001-01-02"); n != 0 {
		t.Errorf("2001: %d rows, want 0", n)
	}
	if p := c.get(console.AuditPath + "?from=2026-02-02&to=2026-02-01"); p.Code != http.StatusBadRequest {
		t.Errorf("reversed period: %d", p.Code)
	}
}

// TestAuditAndFinanceRoles: only the roles the API lets audit see the
// auditor's screens, only those it lets read finance the finance screen,
// each linked in the header for them alone.
func TestAuditAndFinanceRoles(t *testing.T) {
	s := withScreens(t, newStack(t), nil)
	claim := s.registerClaim(t, "SN-AUDIT-5")
	for _, tc := range []struct {
		name, password string
		audit, finance bool
	}{
		{"Ana Agent", "pw-agent", false, false},
		{"Tom Technician", "pw-technician", false, false},
		{"Fay Finance", "pw-finance", false, true},
		{"Al Auditor", "pw-auditor", true, true},
	} {
		c := s.client(t)
		c.signIn(tc.name, tc.password)
		want := map[bool]int{true: http.StatusOK, false: http.StatusForbidden}
		for path, ok := range map[string]bool{
			console.AuditPath: tc.audit, console.AuditPath + "/claims/" + claim.ID.String(): tc.audit,
			console.AuditPath + "/claims/" + claim.ID.String() + "/export": tc.audit,
			console.FinancePath: tc.finance, console.FinanceCSVPath: tc.finance,
		} {
			if p := c.get(path); p.Code != want[ok] {
				t.Errorf("%s GET %s: %d, want %d", tc.name, path, p.Code, want[ok])
			}
		}
		nav := c.get(console.QueuesPath).Body
		if strings.Contains(nav, `href="/console/audit"`) != tc.audit || strings.Contains(nav, `href="/console/finance"`) != tc.finance {
			t.Errorf("%s: nav links audit=%v finance=%v", tc.name, strings.Contains(nav, `href="/console/audit"`), strings.Contains(nav, `href="/console/finance"`))
		}
	}
}

// TestFinance: compensations are filtered by period, kind, currency and
// status; the CSV has the API's columns.
func TestFinance(t *testing.T) {
	s := withScreens(t, newStack(t), nil)
	claim := refundedClaim(t, s, "SN-FIN-1")
	c := s.client(t)
	c.signIn("Fay Finance", "pw-finance")
	today := time.Now().UTC().Format(time.DateOnly)
	row := `<a href="/console/claims/` + claim.ID.String() + `">` + claim.Number + `</a></td>`
	for query, shown := range map[string]bool{
		"":                    true,
		"?kind=refund":        true,
		"?kind=credit_note":   false,
		"?currency=BGN":       true,
		"?currency=EUR":       false,
		"?status=outstanding": true,
		"?status=settled":     false,
		"?from=" + today:      true,
		"?to=2001-01-01":      false,
		"?from=" + today + "&kind=refund&currency=BGN&status=outstanding": true,
	} {
		p := c.get(console.FinancePath + query)
		if p.Code != http.StatusOK {
			t.Fatalf("%q: %d", query, p.Code)
		}
		if strings.Contains(p.Body, row) != shown {
			t.Errorf("%q: refund row shown=%v, want %v", query, !shown, shown)
		}
	}
	p := c.get(console.FinancePath)
	if !strings.Contains(p.Body, "Reconciliation by currency") || !strings.Contains(p.Body, `data-label="Currency">BGN</td>`) {
		t.Errorf("no reconciliation for BGN: %s", p.Body)
	}
	for _, bad := range []string{"?kind=gift", "?status=lost", "?currency=eur1", "?from=2026-02-02&to=2026-02-01"} {
		if p := c.get(console.FinancePath + bad); p.Code != http.StatusBadRequest || !strings.Contains(p.Body, `class="problem"`) {
			t.Errorf("%s: %d", bad, p.Code)
		}
	}
	p = c.get(console.FinanceCSVPath + "?kind=refund")
	if p.Code != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d", p.Code)
	}
	rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "event_id" || len(rows[0]) != 22 || rows[1][2] != claim.ID.String() || rows[1][7] != "100.00" || rows[1][8] != "BGN" {
		t.Errorf("csv rows: %v", rows)
	}
	if p = c.get(console.FinanceCSVPath + "?kind=credit_note"); strings.Count(strings.TrimSpace(p.Body), "\n") != 0 {
		t.Errorf("credit notes csv has rows: %s", p.Body)
	}
}

// oneDiscrepancy is the read model with a discrepancy the domain would
// refuse to create today (a payment recorded without an approval, say by
// an import).
type oneDiscrepancy struct {
	console.Finance
	d projections.Discrepancy
}

func (f oneDiscrepancy) Reconciliation(ctx context.Context, q projections.ReconciliationQuery) (projections.Reconciliation, error) {
	r, err := f.Finance.Reconciliation(ctx, q)
	r.Discrepancies, r.DiscrepancyCount = append(r.Discrepancies, f.d), r.DiscrepancyCount+1
	return r, err
}

// TestFinanceDiscrepancyLinked: each discrepancy names its kind and links
// to its claim's page; the screens send the console's security headers.
func TestFinanceDiscrepancyLinked(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-FIN-2")
	amount, _ := domain.ParseMoney("25.00", "EUR")
	e := echo.New()
	if err := console.Register(e, console.Config{
		Accounts: s.accounts, Reads: s.reads, Commands: s.ledger, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Finance: oneDiscrepancy{Finance: s.reads, d: projections.Discrepancy{
			Type: projections.DiscrepancyPaymentWithoutApproval, Kind: projections.KindRefund, ClaimID: claim.ID, Number: claim.Number,
			Amount: amount, At: time.Now(),
		}},
	}); err != nil {
		t.Fatal(err)
	}
	s = &stack{ledger: s.ledger, reads: s.reads, accounts: s.accounts, server: httptest.NewServer(e)}
	t.Cleanup(s.server.Close)
	c := s.client(t)
	c.signIn("Fay Finance", "pw-finance")
	p := c.get(console.FinancePath)
	if want := `<a href="/console/claims/` + claim.ID.String() + `">` + claim.Number + `</a>: Payment without approval · 25.00`; !strings.Contains(p.Body, want) {
		t.Errorf("no linked discrepancy %q in %s", want, p.Body)
	}
	if !strings.Contains(p.Body, "Discrepancies: 1") {
		t.Error("the discrepancies are not counted")
	}
	if p := c.get(console.FinancePath + "?currency=BGN"); !strings.Contains(p.Body, "Discrepancies: 0") || strings.Contains(p.Body, "Payment without approval") {
		t.Error("a EUR discrepancy is shown for BGN")
	}
	if p := c.get(console.FinancePath + "?currency=EUR&kind=refund"); !strings.Contains(p.Body, "Discrepancies: 1") {
		t.Error("the EUR refund discrepancy is not shown for EUR refunds")
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'", "X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
	} {
		if got := p.Header.Get(name); !strings.Contains(got, want) {
			t.Errorf("%s: %q", name, got)
		}
	}
}
