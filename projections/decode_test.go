package projections

import (
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
)

// TestFastDecodeAgrees checks decodeItem's shortcut (goccy/go-json) against
// domain.DecodeEvent (encoding/json) on every path of the fixtures: the same
// event value for every stored event, whatever its type.
func TestFastDecodeAgrees(t *testing.T) {
	seen := map[string]bool{}
	for i := range 42 { // every lifecycle path, with both product kinds
		for _, ev := range history(i, uuid.New(), t0) {
			want, err := domain.DecodeEvent(ev.Type, ev.Data)
			if err != nil {
				t.Fatalf("%s: %v", ev.Type, err)
			}
			got := decodeItem(eventstore.RecordedEvent{Type: ev.Type, Data: ev.Data})
			if got.err != nil {
				t.Fatalf("%s: %v", ev.Type, got.err)
			}
			if !reflect.DeepEqual(got.event, want) {
				t.Errorf("%s decodes differently:\nfast %#v\nstd  %#v", ev.Type, got.event, want)
			}
			seen[ev.Type] = true
		}
	}
	if len(seen) < 20 {
		t.Errorf("the fixtures cover only %d event types", len(seen))
	}

	// Data encoding/json rejects is rejected, with encoding/json's error.
	for _, bad := range []string{`{"amount":{"amount":"1.001","currency":"EUR"}}`, `{"amount":`, `[]`} {
		typ := domain.PaymentRecorded{}.EventType()
		_, want := domain.DecodeEvent(typ, []byte(bad))
		got := decodeItem(eventstore.RecordedEvent{Type: typ, Data: []byte(bad)})
		if want == nil || got.err == nil || got.err.Error() != want.Error() {
			t.Errorf("%s: got %v, want %v", bad, got.err, want)
		}
	}
}

// BenchmarkDecode decodes the fixtures' stored events, one per op: with
// encoding/json alone (std) and as decodeItem does (fast).
func BenchmarkDecode(b *testing.B) {
	var recs []eventstore.RecordedEvent
	for i := range 42 {
		for _, ev := range history(i, uuid.New(), t0) {
			recs = append(recs, eventstore.RecordedEvent{Type: ev.Type, Data: ev.Data})
		}
	}
	b.Run("std", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := domain.DecodeEvent(recs[i%len(recs)].Type, recs[i%len(recs)].Data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if it := decodeItem(recs[i%len(recs)]); it.err != nil {
				b.Fatal(it.err)
			}
		}
	})
}
