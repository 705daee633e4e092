package documents_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/documents"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/privacy"
)

// ledgerWithClaim is a ledger over a fresh store holding one claim of three events:
// registered, authorized, received.
func ledgerWithClaim(t *testing.T) (eventstore.Store, *ledger.Service, uuid.UUID) {
	t.Helper()
	return ledgerWithClaimAs(t, ledger.Config{})
}

// ledgerWithClaimAs is ledgerWithClaim with the ledger configured by cfg (its clock is the
// test's).
func ledgerWithClaimAs(t *testing.T, cfg ledger.Config) (eventstore.Store, *ledger.Service, uuid.UUID) {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	cfg.Clock = func() time.Time { now = now.Add(time.Hour); return now }
	svc, err := ledger.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	price, _ := domain.ParseMoney("499.00", "EUR")
	purchased, _ := domain.ParseDate("2026-01-15")
	ctx := context.Background()
	req := ledger.Request{Actor: ledger.Actor{Name: "agent-test", Role: "agent"}}
	res, err := svc.Register(ctx, &domain.RegisterClaim{
		Customer:     domain.Customer{Name: "Ελένη Παπαδοπούλου", Phone: "+30 210 123 4567"},
		Product:      domain.Product{Category: "phone", Serial: "SN-77"},
		PurchaseDate: purchased, Price: price, Defect: "screen flickers",
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: "receipt", Reference: "A-1"},
	}, req)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Claim.ID
	intact := true
	for _, cmd := range []domain.Command{
		&domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Athens service", Country: "GR", Address: "Odos 1"}},
		&domain.ReceiveClaim{Condition: "as new", SealsIntact: &intact, ReceivedBy: "desk"},
	} {
		if _, err := svc.Execute(ctx, id, cmd, req); err != nil {
			t.Fatal(err)
		}
	}
	return store, svc, id
}

func service(t *testing.T, store eventstore.Store, claims documents.ClaimEvents) *documents.Service {
	t.Helper()
	r, err := documents.New(documents.Config{Company: documents.Company{Name: "Acme"}, PublicURL: "https://rma.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return &documents.Service{Renderer: r, Claims: claims, Store: store, Now: func() time.Time { return time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) }}
}

// TestIssueRecordsOnceAndCheckMatches: issuing records the document in a sealed stream once
// per kind, version and language; check finds the issued PDF and reproduces its bytes from the
// ledger, and the same PDF with one byte changed matches nothing.
func TestIssueRecordsOnceAndCheckMatches(t *testing.T) {
	ctx := context.Background()
	store, svc, id := ledgerWithClaim(t)
	docs := service(t, store, svc)

	pdf, rec, err := docs.Issue(ctx, id, documents.Intake, 0, "el", "agent-test", "agent")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 3 || rec.Kind != documents.Intake || rec.Language != "el" || len(rec.SHA256) != 64 || rec.IssuedBy != "agent-test" {
		t.Fatalf("issued %+v", rec)
	}
	again, rec2, err := docs.Issue(ctx, id, documents.Intake, 0, "el", "someone-else", "agent")
	if err != nil || !bytes.Equal(pdf, again) || rec2 != rec {
		t.Fatalf("issuing again: same bytes %v, record %+v, %v", bytes.Equal(pdf, again), rec2, err)
	}
	if _, _, err := docs.Issue(ctx, id, documents.Authorization, 2, "ru", "agent-test", "agent"); err != nil {
		t.Fatal(err)
	}
	recs, err := store.ReadStream(ctx, eventlog.Documents.Stream(id), eventstore.Forwards, 0, 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("the documents stream holds %d events (%v), want 2: the repeated issue records nothing", len(recs), err)
	}
	if report, err := audit.VerifyStream(ctx, store, recs[0].Stream); err != nil || !report.OK {
		t.Fatalf("the documents stream does not verify: %+v, %v", report, err)
	}

	m, err := docs.Check(ctx, pdf)
	if err != nil {
		t.Fatal(err)
	}
	if m.Issued != rec || m.EventID != recs[0].ID || !m.Reproduced {
		t.Errorf("check: %+v, want the intake's event %s, reproduced", m, recs[0].ID)
	}
	changed := bytes.Clone(pdf)
	changed[len(changed)/2] ^= 1
	if _, err := docs.Check(ctx, changed); !errors.Is(err, documents.ErrNoMatch) {
		t.Errorf("a PDF with one byte changed: %v, want no match", err)
	}
}

// TestPastVersionsAndRefusals: a past version renders as it stood; a version the claim never
// reached, a document it does not have yet and an unknown claim are refused.
func TestPastVersionsAndRefusals(t *testing.T) {
	ctx := context.Background()
	store, svc, id := ledgerWithClaim(t)
	docs := service(t, store, svc)
	if _, _, err := docs.Issue(ctx, id, documents.Intake, 2, "en", "a", "agent"); !errors.As(err, new(*documents.NotYetError)) {
		t.Errorf("intake at version 2 (before receipt): %v", err)
	}
	if _, _, err := docs.Issue(ctx, id, documents.Intake, 9, "en", "a", "agent"); !errors.Is(err, documents.ErrNoSuchVersion) {
		t.Errorf("version 9: %v", err)
	}
	if _, _, err := docs.HTML(ctx, uuid.New(), documents.Intake, 0, "en"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("an unknown claim: %v", err)
	}
	page, v, err := docs.HTML(ctx, id, documents.Authorization, 2, "en")
	if err != nil || v.State.Version != 2 || !bytes.Contains(page, []byte("Athens service")) {
		t.Errorf("the authorization at version 2: %v, version %d", err, v.State.Version)
	}
	if _, _, err := docs.Issue(ctx, id, documents.Intake, 0, "en", "", "agent"); err == nil {
		t.Error("an issue without an actor was recorded")
	}
}

// TestErasedCustomerOnPaper: after the customer's data is erased, the documents show
// [erased] for the personal fields, at every version; a PDF issued before the erasure still
// matches its event, but the ledger no longer reproduces its bytes.
func TestErasedCustomerOnPaper(t *testing.T) {
	ctx := context.Background()
	keys, err := privacy.OpenSQLite(filepath.Join(t.TempDir(), privacy.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	store, svc, id := ledgerWithClaimAs(t, ledger.Config{Privacy: privacy.NewCodec(keys)})
	docs := service(t, store, svc)
	before, _, err := docs.Issue(ctx, id, documents.Authorization, 0, "en", "agent-test", "agent")
	if err != nil {
		t.Fatal(err)
	}
	page, _, _ := docs.HTML(ctx, id, documents.Authorization, 2, "el")
	if !bytes.Contains(page, []byte("Ελένη Παπαδοπούλου")) {
		t.Fatal("before the erasure the document does not show the customer")
	}
	st, _, err := svc.Claim(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EraseCustomer(ctx, st.CustomerID, ledger.Request{Actor: ledger.Actor{Name: "admin", Role: "admin"}}); err != nil {
		t.Fatal(err)
	}
	for _, version := range []int64{2, 0} {
		page, _, err := docs.HTML(ctx, id, documents.Authorization, version, "el")
		if err != nil || bytes.Contains(page, []byte("Παπαδοπούλου")) || bytes.Count(page, []byte(domain.Erased)) < 2 {
			t.Errorf("version %d after the erasure: %v\n%s", version, err, page)
		}
	}
	m, err := docs.Check(ctx, before)
	if err != nil || m.Reproduced || m.Issued.Kind != documents.Authorization {
		t.Errorf("the paper issued before the erasure: %+v, %v; want its event, not reproduced", m, err)
	}
}

type claimLanguage string

func (l claimLanguage) Language(context.Context, uuid.UUID) (string, error) { return string(l), nil }

// TestLanguageFor: the language asked for wins, then the one the customer chose for the claim,
// then the reader's Accept-Language, then English.
func TestLanguageFor(t *testing.T) {
	ctx := context.Background()
	docs := service(t, nil, nil)
	id := uuid.New()
	for _, tc := range []struct{ claim, asked, accept, want string }{
		{"ru", "el", "bg", "el"},
		{"ru", "", "bg", "ru"},
		{"", "", "bg;q=0.9, fr", "bg"},
		{"", "", "", "en"},
		{"", "zh", "", "zh-Hans"},
	} {
		docs.Languages = claimLanguage(tc.claim)
		if got := docs.LanguageFor(ctx, id, tc.asked, tc.accept); got != tc.want {
			t.Errorf("claim %q, asked %q, Accept-Language %q: %s, want %s", tc.claim, tc.asked, tc.accept, got, tc.want)
		}
	}
}

// TestShipByFromThePolicy: with the policies, the authorization says by when the goods are due:
// the claim's shipment window, in the policy's time zone; the date stays the same at later
// versions, after the goods arrived.
func TestShipByFromThePolicy(t *testing.T) {
	ctx := context.Background()
	store, svc, id := ledgerWithClaim(t)
	docs := service(t, store, svc)
	page, _, err := docs.HTML(ctx, id, documents.Authorization, 2, "en")
	if err != nil || bytes.Contains(page, []byte("Send the item by")) {
		t.Fatalf("without policies: %v, a due date shown", err)
	}
	docs.Policies = policy.Default()
	v, err := docs.At(ctx, id, 2)
	if err != nil || v.ShipBy.IsZero() || v.Location == nil || !v.ShipBy.After(v.At) {
		t.Fatalf("the shipment window at version 2: %+v, %v", v.ShipBy, err)
	}
	want := v.ShipBy.In(v.Location).Format("January 2, 2006")
	for _, version := range []int64{2, 3} {
		page, _, err := docs.HTML(ctx, id, documents.Authorization, version, "en")
		if err != nil || !bytes.Contains(page, []byte("<dt>Send the item by</dt><dd>"+want+"</dd>")) {
			t.Errorf("version %d: the authorization does not say the goods are due by %s: %v\n%s", version, want, err, page)
		}
	}
}
