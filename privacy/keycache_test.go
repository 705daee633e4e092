package privacy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// The key store keeps at most its cache size of keys in memory, however
// many customers it has keys for; a key it let go of is read back
// unchanged, and destroying it works the same.
func TestKeyCacheIsBounded(t *testing.T) {
	ks, err := openSQLite(filepath.Join(t.TempDir(), KeyFile), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	ctx := context.Background()
	keys := make([][]byte, 10)
	for i := range keys {
		if keys[i], err = ks.Key(ctx, fmt.Sprint("subject-", i)); err != nil {
			t.Fatal(err)
		}
		ks.mu.Lock()
		held := ks.cache.Len()
		ks.mu.Unlock()
		if held > 4 {
			t.Fatalf("after %d keys %d are held in memory, want at most 4", i+1, held)
		}
	}
	for i := range keys {
		k, err := ks.Lookup(ctx, fmt.Sprint("subject-", i))
		if err != nil || string(k) != string(keys[i]) {
			t.Fatalf("subject %d: %x, %v; want the key it was given", i, k, err)
		}
	}
	// subject-0 was let go of; it is destroyed all the same.
	if err := ks.Destroy(ctx, "subject-0"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Lookup(ctx, "subject-0"); !errors.Is(err, ErrErased) {
		t.Fatalf("lookup after destroying: %v, want ErrErased", err)
	}
}
