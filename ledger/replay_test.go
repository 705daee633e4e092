package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// A retried request is answered from the events it wrote, whatever its key
// is made of: keys that encoding/json escapes in the metadata are found by
// decoding, others by their bytes; a key that happens to appear elsewhere
// in the metadata (the actor's name) is no false match.
func TestRetriedRequestsAreReplayed(t *testing.T) {
	ctx := context.Background()
	s, err := New(openStore(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := s.Register(ctx, registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	id := reg.Claim.ID
	for _, key := range []string{"retry-1", `a<b>&"c"\d`, "agent-test", "é-not-ascii"} {
		req := agent
		req.IdempotencyKey = key
		note := &domain.AddNote{Text: "called the customer about " + key}
		first, err := s.Execute(ctx, id, note, req)
		if err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
		if first.Replayed {
			t.Fatalf("key %q: the first request was answered as a replay", key)
		}
		again, err := s.Execute(ctx, id, note, req)
		if err != nil {
			t.Fatalf("key %q retried: %v", key, err)
		}
		if !again.Replayed || again.Claim.Version != first.Claim.Version || again.Position != first.Position {
			t.Errorf("key %q retried: %+v, want the first answer (version %d) replayed", key, again, first.Claim.Version)
		}
		other := &domain.AddNote{Text: "something else"}
		if _, err := s.Execute(ctx, id, other, req); !errors.Is(err, ErrIdempotencyKeyReused) {
			t.Errorf("key %q reused for another request: %v, want ErrIdempotencyKeyReused", key, err)
		}
	}
	events, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 5 {
		t.Errorf("%d events, want the registration and one note per key", len(events))
	}
}

func TestMayHoldKey(t *testing.T) {
	meta := []byte(`{"actor":"agent-1","idempotency_key":"k-42","request_hash":"ab"}`)
	for _, c := range []struct {
		key  string
		want bool
	}{
		{"k-42", true},
		{"k-43", false},
		{"agent-1", true}, // present, as the actor: decoding tells
		{"a<b", true},     // escaped by encoding/json: cannot tell from the bytes
		{`q"`, true},
		{"ключ", true},
	} {
		if got := mayHoldKey(meta, c.key); got != c.want {
			t.Errorf("mayHoldKey(%q) = %v, want %v", c.key, got, c.want)
		}
	}
}
