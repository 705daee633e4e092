package ledger

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// countingStore counts the full reads of claim streams: what the cache
// saves.
type countingStore struct {
	eventstore.Store
	fullReads atomic.Int64
}

func (s *countingStore) ReadStream(ctx context.Context, stream string, d eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if eventlog.Claims.Holds(stream) && max <= 0 {
		s.fullReads.Add(1)
	}
	return s.Store.ReadStream(ctx, stream, d, from, max)
}

// step is one command of a scripted sequence; action "" is a registration.
type step struct {
	cmd     domain.Command
	key     string
	ifMatch int64 // 0: none
}

// script is a claim's life with the detours that exercise every path of
// Execute: retried requests (answered from the events), a key reused for
// another request, a stale and a current If-Match, refused commands
// (illegal transitions, an invalid refund), and commands without a key.
func script() []step {
	yes := true
	money := func(s string) domain.Money {
		m, err := domain.ParseMoney(s, "EUR")
		if err != nil {
			panic(err)
		}
		return m
	}
	authorize := &domain.AuthorizeClaim{
		ServiceCenter:      domain.ServiceCenter{Name: "Service Sofia", Country: "BG", Address: "1 Tsarigradsko shose, Sofia"},
		DocumentsRequested: []string{"claim form"},
	}
	note := &domain.AddNote{Text: "called the customer", Visibility: domain.VisibilityCustomer}
	return []step{
		{cmd: &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"}, key: "k-early"}, // refused: not authorized yet
		{cmd: authorize, key: "k-auth"},
		{cmd: authorize, key: "k-auth"}, // retried: replayed
		{cmd: note, key: "k-auth"},      // key reused for another request
		{cmd: note},                     // no key
		{cmd: &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"}, key: "k-ship", ifMatch: 2}, // stale
		{cmd: &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"}, key: "k-ship", ifMatch: 3},
		{cmd: &domain.ReceiveClaim{Condition: "Scratches.", SealsIntact: &yes, ReceivedBy: "M. Ivanova"}, key: "k-recv"},
		{cmd: &domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "Failed regulator."}, key: "k-diag"},
		{cmd: &domain.ApproveRefund{Amount: money("999.00"), Reason: "over the cap"}, key: "k-refund-big"}, // refused: rule
		{cmd: &domain.ApproveRefund{Amount: money("300.00"), Reason: "Hardware share."}, key: "k-refund"},
		{cmd: note, key: "k-auth"}, // an old key, reused
		{cmd: authorize, key: "k-auth"},
		{cmd: &domain.RecordRefundPayment{Amount: money("300.00"), Reference: "REF-1"}, key: "k-pay"},
		{cmd: &domain.ConfirmDelivery{SignedBy: "Maria"}, key: "k-deliver"}, // refused: transition
		{cmd: &domain.CloseClaim{ReasonCode: "completed", Reason: "Refunded."}, key: "k-close"},
		{cmd: &domain.CloseClaim{ReasonCode: "completed", Reason: "Refunded."}, key: "k-close"},
		{cmd: note},
	}
}

// outcome is what a command answered, as the API would show it.
func outcome(t *testing.T, res Result, err error) string {
	t.Helper()
	if err != nil {
		return "error: " + err.Error()
	}
	claim, jerr := json.Marshal(res.Claim)
	if jerr != nil {
		t.Fatal(jerr)
	}
	return fmt.Sprintf("replayed=%v position=%s claim=%s", res.Replayed, res.Position, claim)
}

// deterministic makes two services decide alike: the clock reads what
// the test set (a refused command is decided twice with the cache, once
// from it and once from a fresh read), and IDs come in order.
func deterministic(cfg Config, now *time.Time) Config {
	var ids atomic.Int64
	cfg.Clock = func() time.Time { return *now }
	cfg.NewID = func() uuid.UUID {
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[8:], uint64(ids.Add(1)))
		id[6], id[8] = 0x40, 0x80
		return id
	}
	return cfg
}

// The same commands on a service with the cache and one without, over
// stores of their own, give the same answers, refusals and stored events;
// the cached service reads each claim's stream far less often, and its
// hash chain verifies.
func TestCachedAndFreshGiveTheSameAnswers(t *testing.T) {
	for _, private := range []bool{false, true} {
		t.Run(fmt.Sprintf("private=%v", private), func(t *testing.T) {
			ctx := context.Background()
			type run struct {
				s     *Service
				store *countingStore
				out   []string
			}
			var runs [2]*run
			for i, size := range []int{0, -1} {
				store := &countingStore{Store: openStore(t)}
				cfg := Config{CacheSize: size}
				if private {
					_, cfg.Privacy = privateService(t)
				}
				now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
				s, err := New(store, deterministic(cfg, &now))
				if err != nil {
					t.Fatal(err)
				}
				r := &run{s: s, store: store}
				req := agent
				req.IdempotencyKey = "k-reg"
				res, err := s.Register(ctx, registration(t), req)
				r.out = append(r.out, outcome(t, res, err))
				id := res.Claim.ID
				for _, st := range script() {
					now = now.Add(17 * time.Minute)
					req := agent
					req.IdempotencyKey = st.key
					if st.ifMatch != 0 {
						req.IfMatch = &st.ifMatch
					}
					res, err := s.Execute(ctx, id, st.cmd, req)
					r.out = append(r.out, outcome(t, res, err))
				}
				state, pos, err := s.Claim(ctx, id)
				r.out = append(r.out, outcome(t, Result{Claim: state, Position: pos}, err))
				events, err := s.Events(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events {
					// Sealed fields are encrypted with random nonces (and the
					// hashes cover them): compare the opened data only.
					line := fmt.Sprintf("%d %s %s", e.Revision, e.Type, e.Data)
					if !private {
						line += " " + string(e.Metadata)
					}
					r.out = append(r.out, line)
				}
				if private {
					// Each run has its own key store, so its own customer id.
					for i := range r.out {
						r.out[i] = strings.ReplaceAll(r.out[i], res.Claim.CustomerID, "<customer>")
					}
				}
				report, err := audit.VerifyStream(ctx, s.Store(), eventlog.Claims.Stream(id))
				if err != nil || !report.OK {
					t.Fatalf("cache size %d: chain: %+v, %v", size, report.Break, err)
				}
				runs[i] = r
			}
			cached, fresh := runs[0], runs[1]
			if len(cached.out) != len(fresh.out) {
				t.Fatalf("%d answers with the cache, %d without", len(cached.out), len(fresh.out))
			}
			for i := range cached.out {
				if cached.out[i] != fresh.out[i] {
					t.Errorf("answer %d differs:\ncached: %s\nfresh:  %s", i, cached.out[i], fresh.out[i])
				}
			}
			if !strings.Contains(strings.Join(cached.out, "\n"), "error: ") {
				t.Fatal("the script refused nothing: it does not test refusals")
			}
			// Without the cache every command reads its claim. With it none
			// does (Register fills the cache) but the refusals, which are
			// confirmed by a fresh read; Claim and Events always read.
			if got, without := cached.store.fullReads.Load(), fresh.store.fullReads.Load(); got*2 > without {
				t.Errorf("%d full reads of the claim with the cache, %d without: the cache is not used", got, without)
			}
		})
	}
}

// twoServices are two services over one store, as two processes on one
// KurrentDB: each one's cache goes stale when the other writes.
func twoServices(t *testing.T, cacheSize int) (a, b *Service, id uuid.UUID) {
	t.Helper()
	return twoServicesOn(t, openStore(t), cacheSize)
}

// twoServicesOn is twoServices on a given store.
func twoServicesOn(t *testing.T, store eventstore.Store, cacheSize int) (a, b *Service, id uuid.UUID) {
	t.Helper()
	var err error
	if a, err = New(store, Config{CacheSize: cacheSize}); err != nil {
		t.Fatal(err)
	}
	if b, err = New(store, Config{CacheSize: cacheSize}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Register(context.Background(), registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, res.Claim.ID
}

// A claim changed by another service is seen: every command on the stale
// cache succeeds or fails as it does without a cache, and the chain holds.
func TestStaleCacheBehavesAsNoCache(t *testing.T) {
	ctx := context.Background()
	for _, size := range []int{0, -1} {
		t.Run(fmt.Sprintf("cache=%d", size), func(t *testing.T) {
			a, b, id := twoServices(t, size)
			authorize := &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Address: "Sofia"}}
			ship := &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"}
			note := func(s string) *domain.AddNote { return &domain.AddNote{Text: s} }

			// a holds version 1 (registered); b authorizes: version 2.
			if _, err := a.Execute(ctx, id, note("from a"), agent); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Execute(ctx, id, authorize, agent); err != nil {
				t.Fatal(err)
			}
			// A shipment is legal only after b's authorization, which a's
			// cache does not hold: a must find it.
			res, err := a.Execute(ctx, id, ship, agent)
			if err != nil || res.Claim.Status != domain.StatusInTransit || res.Claim.Version != 4 {
				t.Fatalf("shipment after another's authorization: %+v, %v", res.Claim.Status, err)
			}
			// A client that saw b's latest version (5) acts through a,
			// whose cache is at 4.
			if _, err := b.Execute(ctx, id, note("from b"), agent); err != nil {
				t.Fatal(err)
			}
			current := int64(5)
			req := agent
			req.IfMatch = &current
			if res, err := a.Execute(ctx, id, note("if-match current"), req); err != nil || res.Claim.Version != 6 {
				t.Fatalf("If-Match of the version b wrote, through a: %d, %v", res.Claim.Version, err)
			}
			// A client with an old version is refused, with the current one.
			if _, err := b.Execute(ctx, id, note("from b again"), agent); err != nil {
				t.Fatal(err)
			}
			old := int64(6)
			req.IfMatch = &old
			var stale *StaleVersionError
			if _, err := a.Execute(ctx, id, note("if-match stale"), req); !errors.As(err, &stale) || stale.Current != 7 {
				t.Fatalf("stale If-Match: %v, want current version 7", err)
			}
			// b receives the item; a's cache thinks it is still in transit,
			// where receiving is legal.
			yes := true
			receive := &domain.ReceiveClaim{Condition: "Scratches.", SealsIntact: &yes, ReceivedBy: "M. Ivanova"}
			if _, err := b.Execute(ctx, id, receive, agent); err != nil {
				t.Fatal(err)
			}
			var transition *domain.InvalidTransitionError
			if _, err := a.Execute(ctx, id, receive, agent); !errors.As(err, &transition) || transition.From != domain.StatusReceived {
				t.Fatalf("receiving what another received: %v, want an invalid transition from received", err)
			}
			events, err := a.Events(ctx, id)
			if err != nil || len(events) != 8 {
				t.Fatalf("%d events, %v; want 8", len(events), err)
			}
			if report, err := audit.VerifyStream(ctx, a.Store(), eventlog.Claims.Stream(id)); err != nil || !report.OK {
				t.Fatalf("chain: %+v, %v", report.Break, err)
			}
		})
	}
}

// A retried request is answered from the events whichever service wrote
// them, and when the retry races the original (the store takes the second
// append of the same event IDs as a duplicate and writes nothing) the
// answer is the stored one, and the cache is not left holding events the
// store does not have: the chain stays whole.
func TestRetriesWithTheCache(t *testing.T) {
	// The embedded store says when an append was a duplicate; a store that
	// cannot (KurrentDB; here the embedded one with that hidden) has the
	// stored event read back instead.
	t.Run("store reports duplicates", func(t *testing.T) { testRetriesWithTheCache(t, openStore(t)) })
	t.Run("store does not", func(t *testing.T) { testRetriesWithTheCache(t, struct{ eventstore.Store }{openStore(t)}) })
}

func testRetriesWithTheCache(t *testing.T, store eventstore.Store) {
	ctx := context.Background()
	a, b, id := twoServicesOn(t, store, 0)
	req := agent
	req.IdempotencyKey = "retry-1"
	note := &domain.AddNote{Text: "called the customer"}
	first, err := a.Execute(ctx, id, note, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.cache.get(id); !ok {
		t.Fatal("the claim is not cached after a command")
	}
	again, err := a.Execute(ctx, id, note, req) // from the cache
	if err != nil || !again.Replayed || outcome(t, again, nil) != outcome(t, Result{Claim: first.Claim, Position: first.Position, Replayed: true}, nil) {
		t.Fatalf("retry after a cache hit: %s, %v", outcome(t, again, err), err)
	}
	if _, err := a.Execute(ctx, id, &domain.AddNote{Text: "other"}, req); !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Fatalf("key reused from the cache: %v", err)
	}

	// b writes a request at version 2; a's cache is at 2 too, so a's
	// retry of the same request derives the same event IDs and appends
	// them at the same place: the store's duplicate.
	race := agent
	race.IdempotencyKey = "race-1"
	orig, err := b.Execute(ctx, id, &domain.AddNote{Text: "raced"}, race)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := a.Execute(ctx, id, &domain.AddNote{Text: "raced"}, race)
	if err != nil || !dup.Replayed || dup.Claim.Version != orig.Claim.Version || !dup.Claim.UpdatedAt.Equal(orig.Claim.UpdatedAt) {
		t.Fatalf("retry that raced the original: %s, %v; want the original replayed (%s)", outcome(t, dup, err), err, outcome(t, orig, nil))
	}
	// a's next command chains onto the stored event, not its own copy.
	if _, err := a.Execute(ctx, id, &domain.AddNote{Text: "after the race"}, agent); err != nil {
		t.Fatal(err)
	}
	if report, err := audit.VerifyStream(ctx, a.Store(), eventlog.Claims.Stream(id)); err != nil || !report.OK {
		t.Fatalf("chain after a raced retry: %+v, %v", report.Break, err)
	}
	events, _ := a.Events(ctx, id)
	if len(events) != 4 {
		t.Fatalf("%d events, want 4 (registration, two notes, one more)", len(events))
	}
}

// After an erasure nothing the service answers, or keeps, holds the
// customer's data, though the claim was cached with it before; and a
// history opened before an erasure is never cached after it.
func TestErasureEmptiesTheCache(t *testing.T) {
	ctx := context.Background()
	s, _ := privateService(t)
	res, err := s.Register(ctx, registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Claim.ID
	if _, err := s.Execute(ctx, id, &domain.AddNote{Text: "x"}, agent); err != nil {
		t.Fatal(err)
	}
	before, err := s.load(ctx, id) // opened while the key exists
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := s.cache.get(id); !ok || h.state.Customer.Name != "Eleni Papadopoulou" {
		t.Fatalf("the claim is not cached with its data before the erasure: %v %+v", ok, h.state.Customer)
	}
	if _, err := s.EraseCustomer(ctx, res.Claim.CustomerID, agent); err != nil {
		t.Fatal(err)
	}
	s.cache.put(id, before) // a slow reader finishing after the erasure
	if h, ok := s.cache.get(id); ok && h.state.Customer.Name != domain.Erased {
		t.Fatalf("a history opened before the erasure was cached after it: %+v", h.state.Customer)
	}
	after, err := s.Execute(ctx, id, &domain.AddNote{Text: "y"}, agent)
	if err != nil {
		t.Fatal(err)
	}
	answer := outcome(t, after, nil)
	for _, plain := range []string{"Eleni", "Papadopoulou", "302101234567"} {
		if strings.Contains(answer, plain) {
			t.Errorf("the answer after the erasure holds %q: %s", plain, answer)
		}
	}
	h, ok := s.cache.get(id)
	if !ok || h.state.Customer.Name != domain.Erased || h.state.Customer.Phone != domain.Erased || !h.state.PersonalDataErased {
		t.Fatalf("cached after the erasure: %v %+v", ok, h.state.Customer)
	}
	for i, e := range h.events {
		if reg, isReg := e.(domain.ClaimRegistered); isReg && reg.Customer.Name != domain.Erased {
			t.Errorf("cached event %d holds the name: %+v", i, reg.Customer)
		}
	}
}

// Two services hammer one claim with and without keys: every command lands
// once, the chain holds (run with -race: cached histories are shared).
func TestConcurrentServicesWithCaches(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	var services []*Service
	for range 2 {
		s, err := New(store, Config{MaxAttempts: 100})
		if err != nil {
			t.Fatal(err)
		}
		services = append(services, s)
	}
	res, err := services[0].Register(ctx, registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Claim.ID
	const writers, each = 8, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				req := agent
				if i%2 == 0 {
					req.IdempotencyKey = fmt.Sprintf("w%d-%d", w, i)
				}
				note := &domain.AddNote{Text: fmt.Sprintf("writer %d note %d", w, i)}
				s := services[(w+i)%2]
				first, err := s.Execute(ctx, id, note, req)
				if err != nil {
					t.Error(err)
					return
				}
				if req.IdempotencyKey != "" {
					// the retry goes to the other service
					again, err := services[(w+i+1)%2].Execute(ctx, id, note, req)
					if err != nil || !again.Replayed || again.Claim.Version != first.Claim.Version {
						t.Errorf("retry: %+v, %v", again.Claim.Version, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	state, _, err := services[1].Claim(ctx, id)
	if err != nil || state.Version != writers*each+1 || len(state.Notes) != writers*each {
		t.Fatalf("version %d with %d notes, %v; want %d", state.Version, len(state.Notes), err, writers*each+1)
	}
	if report, err := audit.VerifyStream(ctx, store, eventlog.Claims.Stream(id)); err != nil || !report.OK {
		t.Fatalf("chain: %+v, %v", report.Break, err)
	}
}
