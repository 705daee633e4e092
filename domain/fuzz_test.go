package domain_test

import (
	"bytes"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// FuzzDecodeEvent drives the stored-event decoder (with its upcasters)
// with any type name and any data. Seeds: one event of every type
// (everyEvent) and the corpus in testdata/fuzz/FuzzDecodeEvent. An event it
// accepts must encode again, and the encoding must be stable: decoding and
// encoding it once more gives the same bytes, so that nothing read from the
// store changes when it is written back (exports, upcasting).
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range everyEvent() {
		name, data, err := domain.EncodeEvent(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name, data)
	}
	f.Add("claim.registered.v1", []byte(`{"claim_id":"not-a-uuid"}`))
	f.Add("claim.unknown.v9", []byte(`{}`))
	f.Fuzz(func(t *testing.T, eventType string, data []byte) {
		e, err := domain.DecodeEvent(eventType, data)
		if err != nil {
			return
		}
		name, once, err := domain.EncodeEvent(e)
		if err != nil {
			t.Fatalf("decoded %s as %#v, which does not encode: %v", eventType, e, err)
		}
		back, err := domain.DecodeEvent(name, once)
		if err != nil {
			t.Fatalf("%s encoded as %s, which does not decode: %v", eventType, once, err)
		}
		_, twice, err := domain.EncodeEvent(back)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("unstable encoding of %s:\n%s\n%s (%v)", name, once, twice, err)
		}
	})
}
