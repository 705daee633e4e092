package eventlog

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeMetadata drives the stored metadata decoder. Seeds: metadata as
// the ledger writes it, sealed (hashes appended) and not, and the corpus in
// testdata/fuzz/FuzzDecodeMetadata. Metadata it accepts must encode and
// read back to the same encoding.
func FuzzDecodeMetadata(f *testing.F) {
	m := Metadata{
		CorrelationID: "req-1", CausationID: "req-1", Actor: "agent-3f9a1c2e", Role: "agent", Action: "register",
		OccurredAt: time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC), PolicyVersion: "default-1",
		IdempotencyKey: "k-1", RequestHash: "sha256:00", ContentHash: "ab", PrevHash: "cd",
	}
	data, err := m.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Add([]byte(`{"actor":"x","occurred_at":"2026-03-10T09:30:00+02:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMetadata(data)
		if err != nil {
			return
		}
		once, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded %s as %+v, which does not encode: %v", data, m, err)
		}
		back, err := DecodeMetadata(once)
		if err != nil {
			t.Fatalf("%s does not decode: %v", once, err)
		}
		twice, _ := back.Encode()
		if !bytes.Equal(once, twice) {
			t.Fatalf("unstable:\n%s\n%s", once, twice)
		}
	})
}
