package domain_test

import (
	"encoding/json"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// benchEvents is a mix of stored events as a rebuild meets them: full
// histories of claims down the common paths.
func benchEvents(b *testing.B) (types []string, data [][]byte) {
	for _, name := range []string{"closed", "paid", "resolved/refund-paid", "disputed", "rejected"} {
		for _, e := range history(b, name) {
			typ, d, err := domain.EncodeEvent(e)
			if err != nil {
				b.Fatal(err)
			}
			types, data = append(types, typ), append(data, d)
		}
	}
	return types, data
}

// BenchmarkDecodeEvent decodes stored events, one per op: what every read
// model pays per event in a rebuild.
func BenchmarkDecodeEvent(b *testing.B) {
	types, data := benchEvents(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % len(types)
		if _, err := domain.DecodeEvent(types[k], data[k]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeState encodes a closed claim's state: what the claims read
// model stores per claim.
func BenchmarkEncodeState(b *testing.B) {
	s := domain.Fold(history(b, "closed"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}
