package projections

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/policy"
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
			wantMeta, err := eventlog.DecodeMetadata(ev.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			if gotMeta, err := decodeMetadata(ev.Metadata); err != nil || !reflect.DeepEqual(gotMeta, wantMeta) {
				t.Errorf("%s metadata decodes differently (%v):\nfast %#v\nstd  %#v", ev.Type, err, gotMeta, wantMeta)
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
// encoding/json alone (std) and as decodeItem does (fast); and their
// metadata, with eventlog.DecodeMetadata (metadata-std) and as
// decodeMetadata does (metadata-fast).
func BenchmarkDecode(b *testing.B) {
	var recs []eventstore.RecordedEvent
	for i := range 42 {
		for _, ev := range history(i, uuid.New(), t0) {
			recs = append(recs, eventstore.RecordedEvent{Type: ev.Type, Data: ev.Data, Metadata: ev.Metadata})
		}
	}
	for _, dec := range []struct {
		name   string
		decode func([]byte) (eventlog.Metadata, error)
	}{{"metadata-std", eventlog.DecodeMetadata}, {"metadata-fast", decodeMetadata}} {
		b.Run(dec.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := dec.decode(recs[i%len(recs)].Metadata); err != nil {
					b.Fatal(err)
				}
			}
		})
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

// TestFastEncodeAgrees checks encodeJSON (goccy/go-json) against
// encoding/json on every path of the fixtures: a claim's state and its SLA
// clocks after every event, encoded by each, decode (with encoding/json,
// as every reader of the read models does) to the same value.
func TestFastEncodeAgrees(t *testing.T) {
	book := policy.Default()
	for i := range 42 {
		var (
			state  domain.State
			clocks domain.Clocks
			pol    domain.Policy
		)
		for rev, ev := range history(i, uuid.New(), t0) {
			e, err := domain.DecodeEvent(ev.Type, ev.Data)
			if err != nil {
				t.Fatal(err)
			}
			state = domain.Evolve(state, e)
			if rev == 0 {
				pol = book.Governing("", state.RegisteredAt, state.RegisteredAt)
			}
			clocks = domain.EvolveClocks(clocks, state, e, pol)
			sameDecoded(t, ev.Type, &state)
			sameDecoded(t, ev.Type, clocks)
			for _, c := range clocks {
				sameDecoded(t, ev.Type, c)
			}
		}
		if len(clocks) == 0 {
			t.Errorf("path %d: no SLA clocks to compare", i)
		}
	}
}

// sameDecoded encodes v with encodeJSON and with encoding/json, decodes
// both with encoding/json into new values of v's type, and compares them.
func sameDecoded[T any](t *testing.T, after string, v T) {
	t.Helper()
	fast, err := encodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	std, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var a, b T
	if err := json.Unmarshal(fast, &a); err != nil {
		t.Fatalf("after %s: %v\n%s", after, err, fast)
	}
	if err := json.Unmarshal(std, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("after %s, %T decodes differently:\nfast %s\nstd  %s", after, v, fast, std)
	}
}

// BenchmarkEncodeState encodes the fixtures' claim states, one per op, as
// they are after their last event: with encoding/json (std) and as the
// claims read model does (fast).
func BenchmarkEncodeState(b *testing.B) {
	var states []domain.State
	for i := range 42 {
		var s domain.State
		for _, ev := range history(i, uuid.New(), t0) {
			e, err := domain.DecodeEvent(ev.Type, ev.Data)
			if err != nil {
				b.Fatal(err)
			}
			s = domain.Evolve(s, e)
		}
		states = append(states, s)
	}
	for _, enc := range []struct {
		name   string
		encode func(any) ([]byte, error)
	}{{"std", json.Marshal}, {"fast", encodeJSON}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := enc.encode(&states[i%len(states)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
