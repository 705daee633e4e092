package kurrentdb

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	kdb "github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rmaledger/rmaledger/eventstore"
)

func TestStreamState(t *testing.T) {
	tests := []struct {
		expected eventstore.ExpectedRevision
		want     kdb.StreamState
	}{
		{eventstore.Any, kdb.Any{}},
		{eventstore.ExpectedRevision{}, kdb.Any{}},
		{eventstore.NoStream, kdb.NoStream{}},
		{eventstore.StreamExists, kdb.StreamExists{}},
		{eventstore.Exact(0), kdb.StreamRevision{Value: 0}},
		{eventstore.Exact(41), kdb.StreamRevision{Value: 41}},
	}
	for _, tt := range tests {
		if got := streamState(tt.expected); got != tt.want {
			t.Errorf("streamState(%v) = %#v, want %#v", tt.expected, got, tt.want)
		}
	}
}

func TestStreamFrom(t *testing.T) {
	if got := streamFrom(eventstore.End); got != (kdb.End{}) {
		t.Errorf("streamFrom(End) = %#v, want End{}", got)
	}
	if got := streamFrom(0); got != (kdb.StreamRevision{Value: 0}) {
		t.Errorf("streamFrom(0) = %#v", got)
	}
	if got := streamFrom(7); got != (kdb.StreamRevision{Value: 7}) {
		t.Errorf("streamFrom(7) = %#v", got)
	}
}

func TestAllFrom(t *testing.T) {
	if got := allFrom(eventstore.Start); got != (kdb.Start{}) {
		t.Errorf("allFrom(Start) = %#v, want Start{}", got)
	}
	p := eventstore.Position{Commit: 1056, Prepare: 1000}
	if got := allFrom(p); got != (kdb.Position{Commit: 1056, Prepare: 1000}) {
		t.Errorf("allFrom(%v) = %#v", p, got)
	}
}

func TestEventPosition(t *testing.T) {
	if got := eventPosition(kdb.Position{Commit: math.MaxUint64, Prepare: math.MaxUint64}); got != (eventstore.Position{}) {
		t.Errorf("stream-read position maps to %v, want the zero Position", got)
	}
	if got := eventPosition(kdb.Position{Commit: 300, Prepare: 300}); got != (eventstore.Position{Commit: 300, Prepare: 300}) {
		t.Errorf("eventPosition = %v", got)
	}
}

func TestAppendResult(t *testing.T) {
	// Three events written from log position 1000; the last one at 1400.
	got := appendResult(&kdb.WriteResult{CommitPosition: 1400, PreparePosition: 1000, NextExpectedVersion: 2})
	want := eventstore.AppendResult{NextExpectedRevision: 2, Position: eventstore.Position{Commit: 1400, Prepare: 1400}}
	if got != want {
		t.Errorf("appendResult = %+v, want %+v", got, want)
	}
	got = appendResult(&kdb.WriteResult{NextExpectedVersion: 5})
	if got != (eventstore.AppendResult{NextExpectedRevision: 5}) {
		t.Errorf("appendResult without position = %+v, want zero Position", got)
	}
}

func TestEventData(t *testing.T) {
	id := uuid.New()
	got := eventData(eventstore.EventData{ID: id, Type: "claim.opened.v1", Data: []byte(`{"a":1}`), Metadata: []byte(`{"m":2}`)})
	want := kdb.EventData{EventID: id, EventType: "claim.opened.v1", ContentType: kdb.ContentTypeJson,
		Data: []byte(`{"a":1}`), Metadata: []byte(`{"m":2}`)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("eventData = %+v, want %+v", got, want)
	}
}

func TestRecordedEvent(t *testing.T) {
	id := uuid.New()
	created := time.Date(2026, 3, 4, 5, 6, 7, 800, time.FixedZone("CET", 3600))
	got := recordedEvent(&kdb.RecordedEvent{
		EventID: id, EventType: "claim.opened.v1", StreamID: "claim-1", EventNumber: 3,
		Position: kdb.Position{Commit: 900, Prepare: 900}, CreatedDate: created,
		Data: []byte(`{}`), UserMetadata: []byte(`{"actor":"x"}`),
		SystemMetadata: map[string]string{"type": "claim.opened.v1"},
	})
	want := eventstore.RecordedEvent{ID: id, Stream: "claim-1", Type: "claim.opened.v1", Revision: 3,
		Position: eventstore.Position{Commit: 900, Prepare: 900}, Data: []byte(`{}`),
		Metadata: []byte(`{"actor":"x"}`), Created: created.UTC()}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recordedEvent = %+v\nwant %+v", got, want)
	}
	if got.Created.Location() != time.UTC {
		t.Errorf("Created is in %v, want UTC", got.Created.Location())
	}
}

func TestServerFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter eventstore.Filter
		want   *kdb.SubscriptionFilter
	}{
		{"none: drop system event types", eventstore.Filter{}, kdb.ExcludeSystemEventsFilter()},
		{"streams", eventstore.Filter{StreamPrefixes: []string{"claim-"}},
			&kdb.SubscriptionFilter{Type: kdb.StreamFilterType, Prefixes: []string{"claim-"}}},
		{"types", eventstore.Filter{TypePrefixes: []string{"claim.", "sla."}},
			&kdb.SubscriptionFilter{Type: kdb.EventFilterType, Prefixes: []string{"claim.", "sla."}}},
		{"both: streams on the server", eventstore.Filter{StreamPrefixes: []string{"claim-"}, TypePrefixes: []string{"claim."}},
			&kdb.SubscriptionFilter{Type: kdb.StreamFilterType, Prefixes: []string{"claim-"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serverFilter(tt.filter); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("serverFilter = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWrongExpected(t *testing.T) {
	// The causes below are what client v1.4.1 builds from the server's answer.
	tests := []struct {
		name       string
		code       kdb.ErrorCode
		cause      error
		expected   eventstore.ExpectedRevision
		wantActual uint64
		wantExists bool
	}{
		{"exact vs revision", kdb.ErrorCodeWrongExpectedVersion,
			errors.New("wrong expected version: expecting '3' but got '5'"), eventstore.Exact(3), 5, true},
		{"exact vs no stream", kdb.ErrorCodeWrongExpectedVersion,
			errors.New("wrong expected version: expecting '3' but got 'no_stream'"), eventstore.Exact(3), 0, false},
		{"no stream vs revision 0", kdb.ErrorCodeWrongExpectedVersion,
			errors.New("wrong expected version: expecting 'no_stream' but got '0'"), eventstore.NoStream, 0, true},
		{"stream exists vs no stream", kdb.ErrorCodeWrongExpectedVersion,
			errors.New("wrong expected version: expecting 'stream_exists' but got 'no_stream'"), eventstore.StreamExists, 0, false},
		{"structured conflict", kdb.ErrorCodeStreamRevisionConflict,
			&kdb.StreamRevisionConflictError{Stream: "claim-1", ExpectedRevision: kdb.StreamRevision{Value: 1}, ActualRevision: kdb.StreamRevision{Value: 9}},
			eventstore.Exact(1), 9, true},
		{"structured conflict, no stream", kdb.ErrorCodeStreamRevisionConflict,
			&kdb.StreamRevisionConflictError{Stream: "claim-1", ExpectedRevision: kdb.StreamExists{}, ActualRevision: kdb.NoStream{}},
			eventstore.StreamExists, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wrongExpected(tt.code, tt.cause, "claim-1", tt.expected)
			if w == nil {
				t.Fatal("wrongExpected = nil")
			}
			want := eventstore.WrongExpectedRevisionError{Stream: "claim-1", Expected: tt.expected, Actual: tt.wantActual, ActualExists: tt.wantExists}
			if *w != want {
				t.Errorf("got %+v, want %+v", *w, want)
			}
			var err error = w
			if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
				t.Errorf("errors.Is(%v, ErrWrongExpectedRevision) = false", err)
			}
		})
	}
	if w := wrongExpected(kdb.ErrorUnavailable, errors.New("x"), "s", eventstore.Any); w != nil {
		t.Errorf("wrongExpected(unavailable) = %v, want nil", w)
	}
}

func TestClassify(t *testing.T) {
	grpcErr := func(c codes.Code) error {
		return fmt.Errorf("could not construct append operation. Reason: %w", status.Error(c, "x"))
	}
	tests := []struct {
		name string
		code kdb.ErrorCode
		err  error
		op   op
		want error // sentinel the result must match; nil: none of them
	}{
		{"not found on read", kdb.ErrorCodeResourceNotFound, errors.New("stream 'x' is not found"), opRead, eventstore.ErrStreamNotFound},
		{"deleted on read", kdb.ErrorCodeStreamDeleted, errors.New("stream 'x' is deleted"), opRead, eventstore.ErrStreamNotFound},
		{"deleted on append", kdb.ErrorCodeStreamDeleted, errors.New("stream 'x' is deleted"), opAppend, nil},
		{"record too large", kdb.ErrorCodeAppendRecordSizeExceeded, errors.New("x"), opAppend, eventstore.ErrInvalidAppend},
		{"connection closed", kdb.ErrorCodeConnectionClosed, errors.New("connection is closed"), opAppend, eventstore.ErrUnavailable},
		{"unavailable", kdb.ErrorUnavailable, errors.New("x"), opRead, eventstore.ErrUnavailable},
		{"not leader", kdb.ErrorCodeNotLeader, nil, opAppend, eventstore.ErrUnavailable},
		{"server deadline", kdb.ErrorCodeDeadlineExceeded, errors.New("x"), opAppend, eventstore.ErrUnavailable},
		{"access denied", kdb.ErrorCodeAccessDenied, errors.New("x"), opSubscribe, nil},
		{"unauthenticated", kdb.ErrorCodeUnauthenticated, errors.New("x"), opRead, nil},
		{"grpc unavailable", kdb.ErrorCodeUnknown, grpcErr(codes.Unavailable), opSubscribe, eventstore.ErrUnavailable},
		{"grpc invalid argument on append", kdb.ErrorCodeUnknown, grpcErr(codes.InvalidArgument), opAppend, eventstore.ErrInvalidAppend},
		{"grpc message too large on append", kdb.ErrorCodeUnknown, grpcErr(codes.ResourceExhausted), opAppend, eventstore.ErrInvalidAppend},
		{"grpc invalid argument on read", kdb.ErrorCodeUnknown, grpcErr(codes.InvalidArgument), opRead, nil},
		{"grpc permission denied", kdb.ErrorCodeUnknown, grpcErr(codes.PermissionDenied), opSubscribe, nil},
		{"stream ended", kdb.ErrorCodeUnknown, io.EOF, opSubscribe, eventstore.ErrUnavailable},
		{"untyped client error", kdb.ErrorCodeUnknown, errors.New("failed to initiate subscription"), opSubscribe, eventstore.ErrUnavailable},
	}
	sentinels := []error{eventstore.ErrStreamNotFound, eventstore.ErrInvalidAppend, eventstore.ErrUnavailable,
		eventstore.ErrWrongExpectedRevision, eventstore.ErrClosed}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.code, tt.err, tt.op)
			if got == nil {
				t.Fatal("classify = nil")
			}
			for _, s := range sentinels {
				if is := errors.Is(got, s); is != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", got, s, is)
				}
			}
			if tt.err != nil && !errors.Is(got, tt.err) {
				t.Errorf("%v does not wrap the cause %v", got, tt.err)
			}
		})
	}
}

func TestClientErrorUnwraps(t *testing.T) {
	inner := errors.New("boom")
	kerr, _ := kdb.FromError(inner) // the only constructor the client exports
	code, cause := clientError(fmt.Errorf("failed to perform read. Reason: %w", kerr))
	if code != kdb.ErrorCodeUnknown || cause != inner {
		t.Errorf("clientError = %v, %v; want Unknown, %v", code, cause, inner)
	}
	code, cause = clientError(inner)
	if code != kdb.ErrorCodeUnknown || cause != inner {
		t.Errorf("clientError(plain) = %v, %v", code, cause)
	}
}

func TestCursor(t *testing.T) {
	p := func(n uint64) eventstore.Position { return eventstore.Position{Commit: n, Prepare: n} }

	c := newCursor(eventstore.Start)
	if got := c.from(); got != (kdb.Start{}) {
		t.Errorf("from() at Start = %#v, want Start{}", got)
	}
	if !c.advance(p(0)) {
		t.Error("an event at position 0 is after Start")
	}
	if c.advance(p(0)) {
		t.Error("the same event twice was taken twice")
	}
	for _, step := range []struct {
		pos  eventstore.Position
		want bool
	}{
		{p(100), true},
		{p(100), false}, // duplicate after a resubscription
		{p(50), false},  // older event resent
		{eventstore.Position{Commit: 100, Prepare: 99}, false},
		{eventstore.Position{Commit: 100, Prepare: 101}, true},
		{p(200), true},
	} {
		if got := c.advance(step.pos); got != step.want {
			t.Errorf("advance(%v) = %v, want %v", step.pos, got, step.want)
		}
	}
	if got := c.from(); got != (kdb.Position{Commit: 200, Prepare: 200}) {
		t.Errorf("from() = %#v, want the last event's position", got)
	}

	c = newCursor(p(300))
	if c.advance(p(300)) || c.advance(p(250)) {
		t.Error("events at or before the start position were taken")
	}
	if !c.advance(p(301)) {
		t.Error("event after the start position was refused")
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	var got []time.Duration
	d := lo
	for range 6 {
		got = append(got, d)
		d = backoff(d, lo, hi)
	}
	want := []time.Duration{lo, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, hi, hi}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("backoff sequence = %v, want %v", got, want)
	}
	if got := backoff(0, lo, hi); got != lo {
		t.Errorf("backoff(0) = %v, want %v", got, lo)
	}
}
