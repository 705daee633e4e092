package privacy

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// BenchmarkNewKey is the key store's cost per new customer when
// registrations of new customers arrive one at a time: one fsync each.
func BenchmarkNewKey(b *testing.B) {
	ks, err := OpenSQLite(filepath.Join(b.TempDir(), KeyFile))
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := ks.Key(ctx, fmt.Sprintf("%032x", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewKeyParallel is the same under concurrent registrations, which
// share a transaction and its fsync (group commit).
func BenchmarkNewKeyParallel(b *testing.B) {
	ks, err := OpenSQLite(filepath.Join(b.TempDir(), KeyFile))
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ks.Key(ctx, fmt.Sprintf("%032x", n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOpenRegistration is what the read side pays per registration it
// folds: opening four fields with a cached key.
func BenchmarkOpenRegistration(b *testing.B) {
	ks, err := OpenSQLite(filepath.Join(b.TempDir(), KeyFile))
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	c := NewCodec(ks)
	id, _ := c.CustomerID(ctx, "+359888123456")
	sealed, err := c.SealEvent(ctx, id, domain.ClaimRegistered{Customer: domain.Customer{Name: "Maria Georgieva",
		Phone: "+359888123456", Email: "maria@example.com", Address: "1 Vitosha Blvd, Sofia"}, At: time.Unix(0, 0)})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.OpenEvent(ctx, sealed); err != nil {
			b.Fatal(err)
		}
	}
}
