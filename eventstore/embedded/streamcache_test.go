package embedded

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
)

// The writer's stream cache never holds more than StreamCacheSize streams,
// and a stream it dropped is still checked against its real revision.
func TestStreamCacheStaysWithinItsBound(t *testing.T) {
	s := openStore(t, t.TempDir(), Config{StreamCacheSize: 8})
	ctx := context.Background()
	for i := range 50 {
		if _, err := s.Append(ctx, fmt.Sprint("claim-", i), eventstore.NoStream, event("t", 10)); err != nil {
			t.Fatal(err)
		}
		// The answer comes after the writer updated its cache, and it
		// waits for the next append: reading the cache here is safe.
		if n := len(s.w.cache); n > 8 {
			t.Fatalf("after %d streams the cache holds %d, want at most 8", i+1, n)
		}
	}
	if _, err := s.Append(ctx, "claim-0", eventstore.Exact(1), event("t", 10)); !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("append at a revision the dropped stream never had: %v, want ErrWrongExpectedRevision", err)
	}
	if _, err := s.Append(ctx, "claim-0", eventstore.Exact(0), event("t", 10)); err != nil {
		t.Fatalf("append at the dropped stream's revision: %v", err)
	}
}
