package eventlog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDecodeMetadataReadsStoredMetadata: metadata as the ledger has stored
// it (sealed: the hashes appended last) decodes into every field, and what
// Encode writes decodes to the same value.
func TestDecodeMetadataReadsStoredMetadata(t *testing.T) {
	stored := []byte(`{"correlation_id":"r1","causation_id":"r1","actor":"agent-3f9a1c2e","role":"agent",` +
		`"organisation":"acme","action":"register","occurred_at":"2026-03-10T09:30:00Z","policy_version":"default-1",` +
		`"idempotency_key":"k","request_hash":"sha256:00","content_hash":"ab","prev_hash":"cd"}`)
	want := Metadata{
		CorrelationID: "r1", CausationID: "r1", Actor: "agent-3f9a1c2e", Role: "agent", Organisation: "acme",
		Action: "register", OccurredAt: time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC), PolicyVersion: "default-1",
		IdempotencyKey: "k", RequestHash: "sha256:00", ContentHash: "ab", PrevHash: "cd",
	}
	got, err := DecodeMetadata(stored)
	if err != nil || got != want {
		t.Fatalf("DecodeMetadata = %+v, %v; want %+v", got, err, want)
	}
	encoded, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(encoded) != string(stored) {
		t.Errorf("Encode wrote\n%s\nthe stored form is\n%s", encoded, stored)
	}
	back, err := DecodeMetadata(encoded)
	if err != nil || back != want {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, want)
	}
}

// TestDecodeMetadataOlderAndBadForms: empty metadata and metadata without
// the later fields decode with those fields zero; malformed metadata is
// refused with an error that says what failed.
func TestDecodeMetadataOlderAndBadForms(t *testing.T) {
	tests := []struct {
		name, data string
		want       Metadata
		bad        bool
	}{
		{name: "none", data: ``},
		{name: "empty object", data: `{}`},
		{name: "before organisations and actions", data: `{"correlation_id":"c","actor":"a","role":"agent","occurred_at":"2026-01-02T03:04:05Z","policy_version":"p"}`,
			want: Metadata{CorrelationID: "c", Actor: "a", Role: "agent", OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), PolicyVersion: "p"}},
		{name: "wrong type", data: `{"actor":42}`, bad: true},
		{name: "not JSON", data: `actor=x`, bad: true},
		{name: "bad time", data: `{"occurred_at":"yesterday"}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeMetadata([]byte(tt.data))
			if tt.bad {
				var syntax *json.SyntaxError
				var typ *json.UnmarshalTypeError
				var perr *time.ParseError
				if err == nil || !strings.Contains(err.Error(), "eventlog: decode metadata") || !(errors.As(err, &syntax) || errors.As(err, &typ) || errors.As(err, &perr)) {
					t.Fatalf("DecodeMetadata(%s) = %+v, %v; want a decoding error", tt.data, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DecodeMetadata(%s) = %+v, %v; want %+v", tt.data, got, err, tt.want)
			}
		})
	}
}
