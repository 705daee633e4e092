package ledger

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

// claimWith registers a claim and runs cmds on it.
func claimWith(t *testing.T, s *Service, cmds ...domain.Command) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	res, err := s.Register(ctx, registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		if _, err := s.Execute(ctx, res.Claim.ID, cmd, agent); err != nil {
			t.Fatalf("%T: %v", cmd, err)
		}
	}
	return res.Claim.ID
}

// notes is n notes, each its own command.
func notes(n int) []domain.Command {
	cmds := make([]domain.Command, n)
	for i := range cmds {
		cmds[i] = &domain.AddNote{Text: fmt.Sprintf("called the customer about the courier, attempt %d", i), Visibility: domain.VisibilityInternal}
	}
	return cmds
}

// historySize is an upper bound of what a cached history holds on the
// heap, and not a loose one: for claims short, typical and long, with
// personal data sealed as the service stores it, cached as the service's
// commands leave them (extended by each append) and as read back from the
// store, the estimate is at least the heap the cached histories keep alive
// and at most twice it.
func TestHistorySizeEstimate(t *testing.T) {
	ctx := context.Background()
	_, codec := privateService(t)
	yes := true
	refund, err := domain.ParseMoney("300.00", "EUR")
	if err != nil {
		t.Fatal(err)
	}
	typical := []domain.Command{
		&domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Country: "BG", Address: "1 Tsarigradsko shose, Sofia"}, DocumentsRequested: []string{"claim form"}},
		&domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"},
		&domain.ReceiveClaim{Condition: "Scratches.", SealsIntact: &yes, ReceivedBy: "M. Ivanova"},
		&domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "Failed regulator."},
		&domain.ApproveRefund{Amount: refund, Reason: "Hardware share."},
		&domain.RecordRefundPayment{Amount: refund, Reference: "REF-1"},
	}
	typical = append(typical, notes(5)...)
	// held is the heap that emptying the cache gives back, and the size
	// the cache estimated for what it held.
	held := func(t *testing.T, c *claimCache, claims int) (heap, estimated int) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n, estimated := c.size()
		if n != claims {
			t.Fatalf("cached %d of %d claims", n, claims)
		}
		c.invalidate()
		runtime.GC()
		runtime.ReadMemStats(&after)
		return int(before.HeapAlloc) - int(after.HeapAlloc), estimated
	}
	for _, c := range []struct {
		name   string
		claims int
		cmds   []domain.Command
	}{
		{"registered", 200, nil},
		{"a dozen events", 100, typical},
		{"a hundred and twenty notes", 4, notes(119)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(openStore(t), Config{Privacy: codec, CacheSize: c.claims})
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]uuid.UUID, c.claims)
			for i := range ids {
				ids[i] = claimWith(t, s, c.cmds...)
			}
			appended, appendedEstimate := held(t, s.cache, c.claims)
			for _, id := range ids {
				h, err := s.load(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				s.cache.put(id, h)
			}
			read, readEstimate := held(t, s.cache, c.claims)
			for _, m := range []struct {
				how             string
				heap, estimated int
			}{{"as appended", appended, appendedEstimate}, {"as read", read, readEstimate}} {
				t.Logf("%s: %d claims hold %d bytes, estimated %d (%d and %d a claim)", m.how, c.claims, m.heap, m.estimated, m.heap/c.claims, m.estimated/c.claims)
				if m.estimated < m.heap || m.estimated > 2*m.heap {
					t.Errorf("%s: estimated %d bytes for %d claims holding %d: want from the heap's size to twice it", m.how, m.estimated, c.claims, m.heap)
				}
			}
		})
	}
}

// The cache holds no more claims than its count and no more bytes than its
// byte bound, evicting the claims used longest ago; a history larger than
// the whole bound is not cached.
func TestClaimCacheBounds(t *testing.T) {
	s, err := New(openStore(t), Config{CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	short := claimWith(t, s)
	long := claimWith(t, s, notes(40)...)
	load := func(id uuid.UUID) history {
		h, err := s.load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	shortSize, longSize := historySize(load(short)), historySize(load(long))
	if longSize < 5*shortSize {
		t.Fatalf("a claim of 41 events estimated at %d bytes, one of 1 at %d", longSize, shortSize)
	}

	t.Run("bytes", func(t *testing.T) {
		c := newClaimCacheBytes(1000, 5*shortSize)
		ids := make([]uuid.UUID, 8)
		for i := range ids {
			ids[i] = uuid.New()
			c.put(ids[i], load(short))
			if n, bytes := c.size(); bytes > 5*shortSize || n > 5 {
				t.Fatalf("after %d puts: %d claims of %d bytes, want at most 5 claims and %d bytes", i+1, n, bytes, 5*shortSize)
			}
		}
		for i, id := range ids {
			if _, ok := c.get(id); ok != (i >= 3) {
				t.Errorf("claim %d cached %v: want the 5 used last", i, ok)
			}
		}
		// A history larger than the whole bound is not cached, and the
		// shorter version of its claim cached before goes with it.
		big := newClaimCacheBytes(1000, longSize-1)
		big.put(short, load(short))
		whole := load(long)
		start := whole
		start.records, start.state.Version = whole.records[:1], 1
		big.put(long, start)
		big.put(long, whole)
		if _, ok := big.get(long); ok {
			t.Error("a history larger than the bound was cached, or its shorter version kept")
		}
		if _, bytes := big.size(); bytes != shortSize {
			t.Errorf("%d bytes held, want %d (the short claim's)", bytes, shortSize)
		}
	})

	t.Run("count", func(t *testing.T) {
		c := newClaimCacheBytes(3, 1<<40)
		for range 10 {
			c.put(uuid.New(), load(long))
		}
		if n, bytes := c.size(); n != 3 || bytes != 3*longSize {
			t.Errorf("%d claims of %d bytes, want 3 of %d", n, bytes, 3*longSize)
		}
	})

	t.Run("replace and forget", func(t *testing.T) {
		c := newClaimCacheBytes(10, 1<<40)
		h := load(long)
		shorter := h
		shorter.records, shorter.state.Version = h.records[:1], 1
		c.put(long, shorter)
		c.put(long, h) // the longer one replaces it
		if n, bytes := c.size(); n != 1 || bytes != longSize {
			t.Errorf("after replacing: %d claims of %d bytes, want 1 of %d", n, bytes, longSize)
		}
		c.forget(long)
		c.put(short, load(short))
		c.invalidate()
		if n, bytes := c.size(); n != 0 || bytes != 0 {
			t.Errorf("after forget and invalidate: %d claims of %d bytes, want none", n, bytes)
		}
	})
}
