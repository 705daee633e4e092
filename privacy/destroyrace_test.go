package privacy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// A Lookup racing Destroy may answer the key it read before the erasure, but must never keep it:
// once Destroy has returned, every Lookup answers ErrErased.
func TestLookupRacingDestroyKeepsNoErasedKey(t *testing.T) {
	ctx := context.Background()
	ks, err := OpenSQLite(filepath.Join(t.TempDir(), KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	for i := range 100 {
		subject := fmt.Sprintf("%032x", i)
		if _, err := ks.Key(ctx, subject); err != nil {
			t.Fatal(err)
		}
		ks.cache.Remove(subject) // the next Lookups read the row
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						_, _ = ks.Lookup(ctx, subject)
					}
				}
			}()
		}
		if err := ks.Destroy(ctx, subject); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if _, err := ks.Lookup(ctx, subject); !errors.Is(err, ErrErased) {
			t.Fatalf("subject %d: after Destroy, Lookup answers %v, want ErrErased", i, err)
		}
	}
}
