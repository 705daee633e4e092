package audit_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// ledgerFixture is a real ledger over the embedded store in a temporary
// directory, with a signing key.
type ledgerFixture struct {
	t      testing.TB
	dir    string
	store  *embedded.Store
	ledger *ledger.Service
	signer *audit.Signer
	clock  *fakeClock
}

// fakeClock advances a minute per reading, so that every event has its own
// time and as_of tests can name the instant of each one.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time {
	c.now = c.now.Add(time.Minute)
	return c.now
}

func newLedgerFixture(t testing.TB) *ledgerFixture {
	t.Helper()
	key, err := audit.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	f := &ledgerFixture{t: t, dir: t.TempDir(), signer: audit.NewSigner(key),
		clock: &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}
	f.open()
	t.Cleanup(func() {
		if f.store != nil {
			f.store.Close()
		}
	})
	return f
}

func (f *ledgerFixture) open() {
	f.t.Helper()
	store, err := embedded.Open(f.dir, embedded.Config{Logger: quiet})
	if err != nil {
		f.t.Fatal(err)
	}
	svc, err := ledger.New(store, ledger.Config{Clock: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.store, f.ledger = store, svc
}

// tamper closes the store, lets change run on events.db through plain
// database/sql, as an intruder with file access would, and reopens it.
func (f *ledgerFixture) tamper(change func(db *sql.DB)) {
	f.t.Helper()
	if err := f.store.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.store = nil
	db, err := sql.Open("sqlite", filepath.Join(f.dir, "events.db"))
	if err != nil {
		f.t.Fatal(err)
	}
	change(db)
	if err := db.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

func exec(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s %v: no row changed", query, args)
	}
}

var actor = ledger.Request{Actor: ledger.Actor{Name: "agent-test", Role: "agent"}}

func eur(amount string) domain.Money {
	m, err := domain.ParseMoney(amount, "EUR")
	if err != nil {
		panic(err)
	}
	return m
}

func registration() *domain.RegisterClaim {
	purchase, _ := domain.ParseDate("2025-11-20")
	return &domain.RegisterClaim{
		Customer:        domain.Customer{Name: "Ivan Petrov", Phone: "+359 88 123 4567", Email: "ivan@example.bg"},
		Product:         domain.Product{SKU: "NB-1540", Category: "laptop", Serial: "SN-123456"},
		PurchaseDate:    purchase,
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofReceipt, Reference: "R-7781"},
		Price:           eur("129.90"),
		Defect:          "Does not power on.",
		Channel:         domain.ChannelWeb,
	}
}

// lifecycle is a claim's path from authorization to closure, with an
// internal note and a paid estimate on the way.
func lifecycle() []domain.Command {
	yes := true
	return []domain.Command{
		&domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Address: "1 Tsarigradsko shose, Sofia"}, DocumentsRequested: []string{"copy of receipt"}},
		&domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP123"},
		&domain.ReceiveClaim{Condition: "Scratches on the lid.", SealsIntact: &yes, ReceivedBy: "M. Ivanova"},
		&domain.AddNote{Text: "Customer sounded upset; handle with care.", Visibility: domain.VisibilityInternal},
		&domain.DiagnoseClaim{Outcome: domain.OutcomeWarrantyVoid, VoidReasonCode: "liquid_damage", Findings: "Corrosion on the board."},
		&domain.IssueEstimate{DamageLevel: 2, Parts: eur("40"), Labour: eur("25.00"), Shipping: eur("10.00")},
		&domain.AcceptEstimate{Reference: "signed form"},
		&domain.RecordPayment{Amount: eur("75.00"), Reference: "PAY-1", Method: domain.PaymentCard},
		&domain.StartRepair{Where: domain.RepairOwn, Technician: "G. Georgiev"},
		&domain.CompleteRepair{WorkDone: "Replaced the regulator.", Parts: []string{"VR-33"}},
		&domain.ShipReturn{Carrier: "Speedy", TrackingNumber: "SP999"},
		&domain.ConfirmDelivery{SignedBy: "Ivan Petrov"},
		&domain.CloseClaim{ReasonCode: "completed", Reason: "Repaired and delivered."},
	}
}

// claim registers a claim and runs the first steps of its lifecycle.
func (f *ledgerFixture) claim(steps int) uuid.UUID {
	f.t.Helper()
	ctx := context.Background()
	res, err := f.ledger.Register(ctx, registration(), actor)
	if err != nil {
		f.t.Fatal(err)
	}
	id := res.Claim.ID
	for _, cmd := range lifecycle()[:steps] {
		if _, err := f.ledger.Execute(ctx, id, cmd, actor); err != nil {
			f.t.Fatalf("%s: %v", cmd.Action(), err)
		}
	}
	return id
}

// checkpoint signs the ledger's head now.
func (f *ledgerFixture) checkpoint() audit.Checkpoint {
	f.t.Helper()
	cp, _, err := f.checkpointer().Checkpoint(context.Background(), "admin-test", "admin")
	if err != nil {
		f.t.Fatal(err)
	}
	return cp
}

func (f *ledgerFixture) checkpointer() *audit.Checkpointer {
	f.t.Helper()
	c, err := audit.NewCheckpointer(f.store, audit.CheckpointerConfig{Signer: f.signer, Logger: quiet, Clock: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *ledgerFixture) verify(opts audit.VerifyOptions) audit.Report {
	f.t.Helper()
	if opts.Keys == nil {
		opts.Keys = audit.NewKeys(f.signer.Public())
	}
	opts.DensePositions = true
	r, err := audit.Verify(context.Background(), f.store, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	// The parallel reads of ranges (small pages, so that a tampered range
	// spills over) and the sequential reads must find the same thing.
	for _, variant := range []audit.VerifyOptions{
		{Keys: opts.Keys, From: opts.From, DensePositions: true, PageSize: 3},
		{Keys: opts.Keys, From: opts.From, DensePositions: false, PageSize: 5},
	} {
		other, err := audit.Verify(context.Background(), f.store, variant)
		if err != nil {
			f.t.Fatal(err)
		}
		if !variant.DensePositions && r.Break != nil && r.Break.Kind == audit.BreakMissingPosition {
			continue // only gapless positions can show that
		}
		if r.OK != other.OK || r.Events != other.Events || r.Head != other.Head {
			f.t.Fatalf("page size %d, dense %t: ok %t events %d; page size 4096: ok %t events %d",
				variant.PageSize, variant.DensePositions, other.OK, other.Events, r.OK, r.Events)
		}
		if r.Break != nil && (r.Break.Kind != other.Break.Kind || r.Break.Stream != other.Break.Stream ||
			r.Break.Revision != other.Break.Revision || r.Break.Position != other.Break.Position) {
			f.t.Fatalf("page size %d, dense %t: %v; page size 4096: %v", variant.PageSize, variant.DensePositions, other.Break, r.Break)
		}
	}
	return r
}

// eventAt reads the position and id of a stored event.
func (f *ledgerFixture) eventAt(stream string, revision uint64) (position int64, id uuid.UUID) {
	f.t.Helper()
	recs, err := f.store.ReadStream(context.Background(), stream, 0, revision, 1)
	if err != nil || len(recs) != 1 || recs[0].Revision != revision {
		f.t.Fatalf("read %s@%d: %v", stream, revision, err)
	}
	return int64(recs[0].Position.Commit), recs[0].ID
}
