package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/privacy"
)

// BenchmarkExecute measures a durable command on an existing claim as
// serve runs it (embedded store, personal data sealed with a SQLite key
// store, an Idempotency-Key on every request, 64 commands at once so that
// the store's group commit is used): the ledger's side of the
// "commands over HTTP" target (docs/performance.md), without HTTP and the
// read models. Claims start
// with events=N (a registration and notes); commands go round-robin over
// 512 claims, so with -benchtime=2000x each claim grows by about 4 events.
//
// The figure to compare is cpu-us/op: the process's CPU time (every
// thread: the store's writer and SQLite included) per command. Wall time
// on this shared 2-core machine is mostly fsync and other people's work.
//
//	go test -run '^$' -bench Execute -benchtime=2000x ./ledger/
func BenchmarkExecute(b *testing.B) {
	for _, events := range []int{2, 10, 30} {
		for _, c := range []struct {
			name string
			size int
		}{{"cache", 0}, {"nocache", -1}} {
			b.Run(fmt.Sprintf("events=%d/%s", events, c.name), func(b *testing.B) {
				benchmarkExecute(b, events, c.size)
			})
		}
	}
}

func benchmarkExecute(b *testing.B, events, cacheSize int) {
	ctx := context.Background()
	dir := b.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	keys, err := privacy.OpenSQLite(filepath.Join(dir, privacy.KeyFile))
	if err != nil {
		b.Fatal(err)
	}
	defer keys.Close()
	s, err := New(store, Config{Privacy: privacy.NewCodec(keys), CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	const claims = 512
	ids := make([]uuid.UUID, claims)
	var (
		wg   sync.WaitGroup
		fail atomic.Value
	)
	sem := make(chan struct{}, 64)
	for i := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			reg := benchRegistration(i)
			res, err := s.Register(ctx, reg, withKey(agent))
			if err != nil {
				fail.Store(err)
				return
			}
			ids[i] = res.Claim.ID
			for n := 1; n < events; n++ {
				note := &domain.AddNote{Text: fmt.Sprintf("called the customer, attempt %d", n)}
				if _, err := s.Execute(ctx, ids[i], note, withKey(agent)); err != nil {
					fail.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := fail.Load().(error); ok {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(32) // 64 goroutines on two cores: the benchmark's 64 clients
	b.ResetTimer()
	start := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)%claims]
			note := &domain.AddNote{Text: "customer asked for the status", Visibility: domain.VisibilityCustomer}
			if _, err := s.Execute(ctx, id, note, withKey(agent)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-us/op")
}

// withKey gives the request a fresh Idempotency-Key, as the API's clients do.
func withKey(r Request) Request {
	r.IdempotencyKey = uuid.NewString()
	return r
}

func benchRegistration(i int) *domain.RegisterClaim {
	price, _ := domain.ParseMoney("499.00", "EUR")
	purchased, _ := domain.ParseDate("2026-01-15")
	return &domain.RegisterClaim{
		Customer: domain.Customer{
			Name: fmt.Sprintf("Customer %d", i), Phone: fmt.Sprintf("+3592%08d", i),
			Email: fmt.Sprintf("c%d@example.com", i), Address: "1 Vitosha Blvd, Sofia",
		},
		Product:         domain.Product{Category: "laptop", Serial: fmt.Sprintf("SN-%08d", i)},
		PurchaseDate:    purchased,
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: "receipt", Reference: fmt.Sprintf("R-%d", i)},
		Price:           price,
		Defect:          "does not power on",
	}
}

// cpuTime is the CPU time the process has used, every thread included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
