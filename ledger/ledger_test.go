package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

func openStore(t *testing.T) eventstore.Store {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func registration(t *testing.T) *domain.RegisterClaim {
	t.Helper()
	price, err := domain.ParseMoney("499.00", "EUR")
	if err != nil {
		t.Fatal(err)
	}
	purchased, err := domain.ParseDate("2026-01-15")
	if err != nil {
		t.Fatal(err)
	}
	return &domain.RegisterClaim{
		Customer:        domain.Customer{Name: "Eleni Papadopoulou", Phone: "+30 210 123 4567"},
		Product:         domain.Product{Category: "phone", IMEI: "490154203237518"},
		PurchaseDate:    purchased,
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: "receipt", Reference: "A-1"},
		Price:           price,
		Defect:          "screen flickers",
	}
}

var agent = Request{Actor: Actor{Name: "agent-test", Role: "agent"}}

// Two services over one store (two processes sharing a KurrentDB) never
// hand out the same claim number.
func TestNumbersAreUniqueAcrossServices(t *testing.T) {
	store := openStore(t)
	var services []*Service
	for range 2 {
		s, err := New(store, Config{NumberBlock: 3})
		if err != nil {
			t.Fatal(err)
		}
		services = append(services, s)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := services[i%2].Register(context.Background(), registration(t), agent)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[res.Claim.Number] {
				t.Errorf("number %s given twice", res.Claim.Number)
			}
			seen[res.Claim.Number] = true
		}()
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Fatalf("%d distinct numbers, want 40", len(seen))
	}
}

func TestNumberYearFollowsTheDeploymentZone(t *testing.T) {
	store := openStore(t)
	sofia, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	// 23:30 UTC on New Year's Eve is already 2027 in Sofia.
	now := time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)
	s, err := New(store, Config{Location: sofia, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Register(context.Background(), registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	if res.Claim.Number != "RMA-2027-000001" {
		t.Errorf("number %s, want RMA-2027-000001", res.Claim.Number)
	}
}

// Without If-Match, concurrent commands on one claim retry on conflict and
// all land, each exactly once.
func TestConcurrentCommandsRetryAndAllLand(t *testing.T) {
	store := openStore(t)
	s, err := New(store, Config{MaxAttempts: 50})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Register(context.Background(), registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 10
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			note := &domain.AddNote{Text: fmt.Sprintf("note %d", i), Visibility: "internal"}
			if _, err := s.Execute(context.Background(), res.Claim.ID, note, agent); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	state, _, err := s.Claim(context.Background(), res.Claim.ID)
	if err != nil {
		t.Fatal(err)
	}
	if state.Version != writers+1 || len(state.Notes) != writers {
		t.Errorf("version %d with %d notes, want %d and %d", state.Version, len(state.Notes), writers+1, writers)
	}
}

func TestErrors(t *testing.T) {
	store := openStore(t)
	s, err := New(store, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := s.Register(ctx, registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	missing := res.Claim.ID
	missing[0] ^= 0xff
	if _, err := s.Execute(ctx, missing, &domain.AddNote{Text: "x"}, agent); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing claim: %v, want ErrNotFound", err)
	}
	stale := int64(5)
	req := agent
	req.IfMatch = &stale
	var staleErr *StaleVersionError
	if _, err := s.Execute(ctx, res.Claim.ID, &domain.AddNote{Text: "x"}, req); !errors.As(err, &staleErr) || staleErr.Current != 1 {
		t.Errorf("stale If-Match: %v, want StaleVersionError at version 1", err)
	}
	var transition *domain.InvalidTransitionError
	if _, err := s.Execute(ctx, res.Claim.ID, &domain.ConfirmDelivery{SignedBy: "x"}, agent); !errors.As(err, &transition) {
		t.Errorf("illegal transition: %v", err)
	}
	events, err := s.Events(ctx, res.Claim.ID)
	if err != nil || len(events) != 1 {
		t.Errorf("refused commands wrote events: %d, %v", len(events), err)
	}
	meta, err := eventlog.DecodeMetadata(events[0].Metadata)
	if err != nil || meta.Actor != "agent-test" || meta.PolicyVersion != domain.DefaultPolicy().Version || meta.OccurredAt.IsZero() {
		t.Errorf("metadata %+v, %v", meta, err)
	}
}
