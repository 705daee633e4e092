package kurrentdb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/shared"
	"github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rmaledger/rmaledger/eventstore"
)

// fakeServer speaks enough of KurrentDB's v1 Streams gRPC protocol (with the
// client module's own generated stubs) to run the real client against it:
// reads of a stream and of $all, appends, and catch-up subscriptions whose
// behaviour a test scripts. It checks how the store drives the client, not
// KurrentDB's semantics; the contract suite does that against a real server.
type fakeServer struct {
	streams.UnimplementedStreamsServer

	mu      sync.Mutex
	all     []fakeEvent                // $all, positions ascending
	revs    map[string]uint64          // stream -> revisions used (next revision)
	subReqs []*streams.ReadReq_Options // subscription requests, in order
	appends []*streams.AppendReq_ProposedMessage

	// subscribe serves the n-th subscription request (0-based). send writes
	// one event; returning ends the call (an error drops the subscription).
	subscribe func(n int, opts *streams.ReadReq_Options, send func(fakeEvent) error, srv grpc.ServerStreamingServer[streams.ReadResp]) error
}

type fakeEvent struct {
	id     uuid.UUID
	stream string
	typ    string
	rev    uint64
	pos    uint64
}

// startFake serves f on a loopback port and returns a store connected to it.
func startFake(t *testing.T, f *fakeServer) *Store {
	t.Helper()
	_, addr := serveFake(t, f, "127.0.0.1:0")
	return openFake(t, addr, "")
}

// serveFake serves f on addr until the returned stop is called or the test
// ends.
func serveFake(t *testing.T, f *fakeServer, addr string) (stop func(), bound string) {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	streams.RegisterStreamsServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return srv.Stop, lis.Addr().String()
}

func openFake(t *testing.T, addr, settings string) *Store {
	t.Helper()
	s, err := Open(context.Background(), "kurrentdb://"+addr+"?tls=false"+settings, WithConfig(Config{
		Logger:          discardLogger(),
		RetryMinBackoff: 5 * time.Millisecond,
		RetryMaxBackoff: 20 * time.Millisecond,
		ConnectTimeout:  5 * time.Second,
		ReadPageSize:    3, // small, so reads span pages
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// add appends events to the fake's $all at positions 100, 200, ...
func (f *fakeServer) add(stream, typ string) fakeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revs == nil {
		f.revs = map[string]uint64{}
	}
	e := fakeEvent{id: uuid.New(), stream: stream, typ: typ, rev: f.revs[stream], pos: uint64(len(f.all)+1) * 100}
	f.revs[stream]++
	f.all = append(f.all, e)
	return e
}

// resp renders an event as the server does; stream reads carry no $all
// position (the server sends the maximum value).
func resp(e fakeEvent, fromStream bool) *streams.ReadResp {
	most, least := int64(0), int64(0)
	for i := 0; i < 8; i++ {
		most = most<<8 | int64(e.id[i])
		least = least<<8 | int64(e.id[8+i])
	}
	pos := e.pos
	if fromStream {
		pos = math.MaxUint64
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(e.pos) * time.Second)
	return &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: most, LeastSignificantBits: least}}},
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
			StreamRevision:   e.rev,
			CommitPosition:   pos,
			PreparePosition:  pos,
			Metadata: map[string]string{
				"type":         e.typ,
				"content-type": "application/json",
				"created":      strconv.FormatInt(created.UnixNano()/100, 10), // .NET ticks since the Unix epoch
			},
			Data:           []byte(`{"n":` + strconv.FormatUint(e.pos, 10) + `}`),
			CustomMetadata: []byte(`{}`),
		},
	}}}
}

func (f *fakeServer) Read(req *streams.ReadReq, srv grpc.ServerStreamingServer[streams.ReadResp]) error {
	opts := req.GetOptions()
	f.mu.Lock()
	all := append([]fakeEvent(nil), f.all...)
	f.mu.Unlock()

	if opts.GetSubscription() != nil {
		f.mu.Lock()
		n := len(f.subReqs)
		f.subReqs = append(f.subReqs, opts)
		f.mu.Unlock()
		if err := srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{
			Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: "sub-" + strconv.Itoa(n)}}}); err != nil {
			return err
		}
		return f.subscribe(n, opts, func(e fakeEvent) error { return srv.Send(resp(e, false)) }, srv)
	}

	count := opts.GetCount()
	if s := opts.GetStream(); s != nil {
		name := string(s.GetStreamIdentifier().GetStreamName())
		var events []fakeEvent
		for _, e := range all {
			if e.stream == name {
				events = append(events, e)
			}
		}
		if len(events) == 0 {
			return srv.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{
				StreamNotFound: &streams.ReadResp_StreamNotFound{StreamIdentifier: s.GetStreamIdentifier()}}})
		}
		for _, e := range events[s.GetRevision():] { // forwards only: enough here
			if count == 0 {
				break
			}
			count--
			if err := srv.Send(resp(e, true)); err != nil {
				return err
			}
		}
		return nil
	}

	a := opts.GetAll()
	if opts.GetReadDirection() == streams.ReadReq_Options_Backwards { // Ping: the last event
		if len(all) > 0 {
			return srv.Send(resp(all[len(all)-1], false))
		}
		return nil
	}
	from := uint64(0)
	if p := a.GetPosition(); p != nil {
		from = p.GetCommitPosition()
	}
	for _, e := range all {
		if e.pos < from { // a read from a position includes the event at it
			continue
		}
		if count == 0 {
			break
		}
		count--
		if err := srv.Send(resp(e, false)); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeServer) Append(srv grpc.ClientStreamingServer[streams.AppendReq, streams.AppendResp]) error {
	header, err := srv.Recv()
	if err != nil {
		return err
	}
	o := header.GetOptions()
	stream := string(o.GetStreamIdentifier().GetStreamName())
	var msgs []*streams.AppendReq_ProposedMessage
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		msgs = append(msgs, req.GetProposedMessage())
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.appends = append(f.appends, msgs...)
	next, exists := f.revs[stream]
	ok := true
	switch e := o.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_NoStream:
		ok = !exists
	case *streams.AppendReq_Options_StreamExists:
		ok = exists
	case *streams.AppendReq_Options_Revision:
		ok = exists && next-1 == e.Revision
	}
	if !ok {
		wrong := &streams.AppendResp_WrongExpectedVersion{}
		if exists {
			wrong.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: next - 1}
		} else {
			wrong.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		}
		return srv.SendAndClose(&streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wrong}})
	}
	if f.revs == nil {
		f.revs = map[string]uint64{}
	}
	first := uint64(len(f.all)+1) * 100
	for _, m := range msgs {
		f.all = append(f.all, fakeEvent{stream: stream, typ: m.GetMetadata()["type"], rev: f.revs[stream], pos: uint64(len(f.all)+1) * 100})
		f.revs[stream]++
	}
	last := uint64(len(f.all)) * 100
	// As KurrentDB answers: the commit position of the last event and the
	// prepare position where the write began.
	return srv.SendAndClose(&streams.AppendResp{Result: &streams.AppendResp_Success_{Success: &streams.AppendResp_Success{
		CurrentRevisionOption: &streams.AppendResp_Success_CurrentRevision{CurrentRevision: f.revs[stream] - 1},
		PositionOption:        &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{CommitPosition: last, PreparePosition: first}},
	}}})
}

// collect reads n events from sub, failing the test on a timeout.
func collect(t *testing.T, sub eventstore.Subscription, n int) []eventstore.RecordedEvent {
	t.Helper()
	var got []eventstore.RecordedEvent
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended after %d events: %v", len(got), sub.Err())
			}
			got = append(got, e)
		case <-timeout:
			t.Fatalf("timed out after %d of %d events", len(got), n)
		}
	}
	return got
}

func TestFakeSubscriptionResumesWithoutGapOrDuplicate(t *testing.T) {
	f := &fakeServer{}
	e1 := f.add("claim-1", "claim.opened.v1")
	f.add("$stats-127.0.0.1:2113", "$statsCollected")
	e3 := f.add("other-1", "other.v1")
	e4 := f.add("claim-2", "claim.opened.v1")
	f.add("claim-1", "$streamDeleted")
	e6 := f.add("claim-2", "claim.authorized.v1")

	f.subscribe = func(n int, opts *streams.ReadReq_Options, send func(fakeEvent) error, srv grpc.ServerStreamingServer[streams.ReadResp]) error {
		switch n {
		case 0: // from the start; the server filter is ignored, so the store's own must hold
			for _, e := range f.all[:4] {
				if err := send(e); err != nil {
					return err
				}
			}
			return status.Error(codes.Unavailable, "connection reset by peer")
		case 1: // a drop before anything is sent: the store must back off and retry
			return status.Error(codes.Unavailable, "node restarting")
		default: // resend from before the resume point, then go live
			for _, e := range f.all[2:] {
				if err := send(e); err != nil {
					return err
				}
			}
			<-srv.Context().Done()
			return nil
		}
	}
	s := startFake(t, f)

	sub, err := s.SubscribeAll(context.Background(), eventstore.Start, eventstore.Filter{StreamPrefixes: []string{"claim-"}})
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	got := collect(t, sub, 3)
	for i, want := range []fakeEvent{e1, e4, e6} {
		if got[i].ID != want.id || got[i].Position.Commit != want.pos || got[i].Stream != want.stream || got[i].Type != want.typ {
			t.Errorf("event %d = %s %s@%d at %v, want %s %s at %d", i, got[i].ID, got[i].Stream, got[i].Revision, got[i].Position, want.id, want.stream, want.pos)
		}
	}
	select {
	case e, ok := <-sub.Events():
		if ok {
			t.Errorf("unexpected extra event %+v (a duplicate or an unfiltered one)", e)
		}
	case <-time.After(100 * time.Millisecond):
	}
	if err := sub.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := sub.Err(); err != nil {
		t.Errorf("Err after Close = %v, want nil", err)
	}
	if _, ok := <-sub.Events(); ok {
		t.Error("Events still open after Close")
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subReqs) < 3 {
		t.Fatalf("%d subscription requests, want at least 3", len(f.subReqs))
	}
	if f.subReqs[0].GetAll().GetStart() == nil {
		t.Errorf("first subscription from %v, want Start", f.subReqs[0].GetAll())
	}
	// Both retries resume after the last event received (e3 was received and
	// dropped by the filter, e4 delivered): positions are exclusive.
	for _, req := range f.subReqs[1:] {
		if p := req.GetAll().GetPosition(); p.GetCommitPosition() != e4.pos || p.GetPreparePosition() != e4.pos {
			t.Errorf("resubscribed from %v, want position %d", req.GetAll(), e4.pos)
		}
	}
	flt := f.subReqs[0].GetFilter()
	if prefixes := flt.GetStreamIdentifier().GetPrefix(); len(prefixes) != 1 || prefixes[0] != "claim-" {
		t.Errorf("server filter = %v, want stream prefix claim-", flt)
	}
	_ = e3
}

func TestFakeSubscriptionDefaultFilterAndStoreClose(t *testing.T) {
	f := &fakeServer{}
	f.add("claim-1", "claim.opened.v1")
	f.subscribe = func(n int, opts *streams.ReadReq_Options, send func(fakeEvent) error, srv grpc.ServerStreamingServer[streams.ReadResp]) error {
		for _, e := range f.all {
			if err := send(e); err != nil {
				return err
			}
		}
		<-srv.Context().Done()
		return nil
	}
	s := startFake(t, f)
	sub, err := s.SubscribeAll(context.Background(), eventstore.Start, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	collect(t, sub, 1)
	if err := s.Close(); err != nil {
		t.Fatalf("store Close: %v", err)
	}
	select {
	case _, ok := <-sub.Events():
		if ok {
			t.Fatal("event after store Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still open after store Close")
	}
	if err := sub.Err(); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Err after store Close = %v, want ErrClosed", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if re := f.subReqs[0].GetFilter().GetEventType().GetRegex(); re != `^[^\$].*` {
		t.Errorf("default server filter regex = %q, want the client's system-event exclusion", re)
	}
}

func TestFakeSubscriptionContextCancel(t *testing.T) {
	f := &fakeServer{}
	f.subscribe = func(n int, opts *streams.ReadReq_Options, send func(fakeEvent) error, srv grpc.ServerStreamingServer[streams.ReadResp]) error {
		<-srv.Context().Done()
		return nil
	}
	s := startFake(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := s.SubscribeAll(ctx, eventstore.Position{Commit: 500, Prepare: 500}, eventstore.Filter{TypePrefixes: []string{"claim."}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-sub.Events():
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still open after its context ended")
	}
	if err := sub.Err(); err != nil {
		t.Errorf("Err after cancel = %v, want nil", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.subReqs[0].GetAll().GetPosition(); p.GetCommitPosition() != 500 {
		t.Errorf("subscribed from %v, want 500", f.subReqs[0].GetAll())
	}
	if prefixes := f.subReqs[0].GetFilter().GetEventType().GetPrefix(); len(prefixes) != 1 || prefixes[0] != "claim." {
		t.Errorf("server filter = %v, want type prefix claim.", f.subReqs[0].GetFilter())
	}
}

func TestFakeSubscriptionFatalError(t *testing.T) {
	f := &fakeServer{}
	f.subscribe = func(n int, opts *streams.ReadReq_Options, send func(fakeEvent) error, srv grpc.ServerStreamingServer[streams.ReadResp]) error {
		return status.Error(codes.PermissionDenied, "access denied")
	}
	s := startFake(t, f)
	sub, err := s.SubscribeAll(context.Background(), eventstore.Start, eventstore.Filter{})
	if err != nil {
		t.Fatal(err) // the confirmation came before the denial
	}
	select {
	case _, ok := <-sub.Events():
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription kept retrying a permanent error")
	}
	err = sub.Err()
	if err == nil || errors.Is(err, eventstore.ErrUnavailable) || status.Code(err) != codes.PermissionDenied {
		t.Errorf("Err = %v, want the permission error", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subReqs) != 1 {
		t.Errorf("%d subscription attempts for a permanent error, want 1", len(f.subReqs))
	}
}

func TestFakeReadAllPagesAndFilters(t *testing.T) {
	f := &fakeServer{}
	e1 := f.add("claim-1", "claim.opened.v1")
	f.add("$stats-127.0.0.1:2113", "$statsCollected")
	f.add("other-1", "other.v1")
	e4 := f.add("claim-2", "claim.opened.v1")
	f.add("claim-1", "$streamDeleted")
	e6 := f.add("claim-2", "claim.authorized.v1")
	e7 := f.add("claim-3", "claim.opened.v1")
	s := startFake(t, f) // ReadPageSize 3
	ctx := context.Background()
	claims := eventstore.Filter{StreamPrefixes: []string{"claim-"}}

	ids := func(events []eventstore.RecordedEvent) []uuid.UUID {
		var out []uuid.UUID
		for _, e := range events {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		after  eventstore.Position
		max    int
		filter eventstore.Filter
		want   []fakeEvent
	}{
		{"from start, all pages", eventstore.Start, 10, claims, []fakeEvent{e1, e4, e6, e7}},
		{"after e1, max 2", eventstore.Position{Commit: e1.pos, Prepare: e1.pos}, 2, claims, []fakeEvent{e4, e6}},
		{"store-chosen page", eventstore.Start, 0, claims, []fakeEvent{e1, e4, e6}},
		{"type prefix", eventstore.Start, 10, eventstore.Filter{TypePrefixes: []string{"claim.opened"}}, []fakeEvent{e1, e4, e7}},
		{"after the end", eventstore.Position{Commit: e7.pos, Prepare: e7.pos}, 10, claims, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ReadAll(ctx, tt.after, tt.max, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var want []uuid.UUID
			for _, e := range tt.want {
				want = append(want, e.id)
			}
			if g := ids(got); len(g) != len(want) || (len(g) > 0 && !equalIDs(g, want)) {
				t.Errorf("ReadAll = %v, want %v", g, want)
			}
		})
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func equalIDs(a, b []uuid.UUID) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFakeAppendAndReadStream(t *testing.T) {
	f := &fakeServer{}
	s := startFake(t, f)
	ctx := context.Background()
	events := []eventstore.EventData{
		{ID: uuid.New(), Type: "claim.opened.v1", Data: []byte(`{"a":1}`), Metadata: []byte(`{"actor":"x"}`)},
		{ID: uuid.New(), Type: "claim.authorized.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)},
	}
	res, err := s.Append(ctx, "claim-9", eventstore.NoStream, events...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	// Two events at positions 100 and 200; the result names the last.
	if want := (eventstore.AppendResult{NextExpectedRevision: 1, Position: eventstore.Position{Commit: 200, Prepare: 200}}); res != want {
		t.Errorf("Append = %+v, want %+v", res, want)
	}
	f.mu.Lock()
	for i, m := range f.appends {
		id, _ := uuid.Parse(m.GetId().GetString_())
		if st := m.GetId().GetStructured(); st != nil {
			var b [16]byte
			for j := 0; j < 8; j++ {
				b[j] = byte(uint64(st.MostSignificantBits) >> (56 - 8*j))
				b[8+j] = byte(uint64(st.LeastSignificantBits) >> (56 - 8*j))
			}
			id = b
		}
		if id != events[i].ID {
			t.Errorf("event %d sent with ID %s, want %s (idempotency needs our IDs)", i, id, events[i].ID)
		}
		if ct := m.GetMetadata()["content-type"]; ct != "application/json" {
			t.Errorf("event %d content-type %q, want application/json", i, ct)
		}
	}
	f.mu.Unlock()

	var wrong *eventstore.WrongExpectedRevisionError
	_, err = s.Append(ctx, "claim-9", eventstore.Exact(0), events[0])
	if !errors.As(err, &wrong) || !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
		t.Fatalf("Append at a stale revision: %v, want *WrongExpectedRevisionError", err)
	}
	if want := (eventstore.WrongExpectedRevisionError{Stream: "claim-9", Expected: eventstore.Exact(0), Actual: 1, ActualExists: true}); *wrong != want {
		t.Errorf("got %+v, want %+v", *wrong, want)
	}
	_, err = s.Append(ctx, "claim-10", eventstore.StreamExists, events[0])
	if !errors.As(err, &wrong) || wrong.ActualExists {
		t.Errorf("Append to a missing stream expecting it: %v, want no-stream WrongExpectedRevisionError", err)
	}

	got, err := s.ReadStream(ctx, "claim-9", eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	if len(got) != 2 || got[0].Stream != "claim-9" || got[0].Revision != 0 || got[1].Revision != 1 || got[1].Type != "claim.authorized.v1" {
		t.Fatalf("ReadStream = %+v", got)
	}
	if got[0].Position != (eventstore.Position{}) {
		t.Errorf("stream-read event has Position %v, want zero (the server sends none)", got[0].Position)
	}
	if got[0].Created.IsZero() || got[0].Created.Location() != time.UTC {
		t.Errorf("Created = %v, want a UTC time", got[0].Created)
	}
	if got, err := s.ReadStream(ctx, "claim-9", eventstore.Forwards, 1, 1); err != nil || len(got) != 1 || got[0].Revision != 1 {
		t.Errorf("ReadStream from 1, max 1 = %+v, %v", got, err)
	}
	if _, err := s.ReadStream(ctx, "claim-404", eventstore.Forwards, 0, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("ReadStream of a missing stream: %v, want ErrStreamNotFound", err)
	}
}

// TestUnreachableServer runs against a port where nothing listens: calls
// fail with ErrUnavailable, a caller's deadline is honoured while the client
// searches for a node, and the client that shut itself down after a failed
// discovery is replaced.
func TestUnreachableServer(t *testing.T) {
	s, err := Open(context.Background(), "kurrentdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=3&discoveryInterval=300",
		WithConfig(Config{Logger: discardLogger(), ConnectTimeout: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Ping(ctx)
	if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping with a short deadline while connecting: %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Ping returned after %v; the deadline was 50ms", d)
	}

	s.mu.Lock()
	first := s.ref
	s.mu.Unlock()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := s.ReadStream(ctx, "claim-1", eventstore.Forwards, 0, 0)
		cancel()
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("ReadStream %d: %v, want ErrUnavailable", i, err)
		}
	}
	s.mu.Lock()
	replaced := s.ref != first
	s.mu.Unlock()
	if !replaced {
		t.Error("the client that gave up discovery was not replaced")
	}
	// Once an attempt has failed, calls fail at once.
	start = time.Now()
	_, err = s.Append(context.Background(), "claim-1", eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "t"})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("Append during the outage: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Append took %v to fail during a known outage", d)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Refused attempts must leave nothing behind: a resubscribing projection
	// makes one every few seconds for as long as an outage lasts.
	before := runtime.NumGoroutine()
	for range 50 {
		if _, err := s.SubscribeAll(ctx, eventstore.Start, eventstore.Filter{}); !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("SubscribeAll: %v, want ErrUnavailable", err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if grown := runtime.NumGoroutine() - before; grown > 10 {
		t.Errorf("50 refused SubscribeAll calls left %d more goroutines", grown)
	}
}

// TestFakeServerRestart loses the whole server under a live subscription:
// calls fail fast while it is down, and when it is back the store reconnects
// and the subscription resumes after the last event it delivered, although
// the restarted server resends that event.
func TestFakeServerRestart(t *testing.T) {
	f := &fakeServer{}
	e1 := f.add("claim-1", "claim.opened.v1")
	e2 := f.add("claim-2", "claim.opened.v1")
	f.subscribe = func(n int, opts *streams.ReadReq_Options, send func(fakeEvent) error, srv grpc.ServerStreamingServer[streams.ReadResp]) error {
		from := uint64(0)
		if p := opts.GetAll().GetPosition(); p != nil {
			from = p.GetCommitPosition()
		}
		sent := 0
		for {
			f.mu.Lock()
			all := append([]fakeEvent(nil), f.all...)
			f.mu.Unlock()
			for _, e := range all[sent:] {
				sent++
				if e.pos < from { // inclusive of the resume point, like a careless server
					continue
				}
				if err := send(e); err != nil {
					return err
				}
			}
			select {
			case <-srv.Context().Done():
				return nil
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	stop, addr := serveFake(t, f, "127.0.0.1:0")
	s := openFake(t, addr, "&maxDiscoverAttempts=2&discoveryInterval=20")

	sub, err := s.SubscribeAll(context.Background(), eventstore.Start, eventstore.Filter{StreamPrefixes: []string{"claim-"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := collect(t, sub, 2)
	if got[0].ID != e1.id || got[1].ID != e2.id {
		t.Fatalf("before the restart got %v, %v", got[0].ID, got[1].ID)
	}

	stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.Ping(ctx)
		cancel()
		if errors.Is(err, eventstore.ErrUnavailable) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping with the server down: %v, want ErrUnavailable", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	e3 := f.add("claim-3", "claim.opened.v1")
	serveFake(t, f, addr)
	deadline = time.Now().Add(10 * time.Second)
	for s.Ping(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the store did not reconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got = collect(t, sub, 1)
	if got[0].ID != e3.id {
		t.Errorf("after the restart got %s %s, want %s (e3)", got[0].Stream, got[0].ID, e3.id)
	}
	select {
	case e := <-sub.Events():
		t.Errorf("unexpected event %s %s: a duplicate", e.Stream, e.ID)
	case <-time.After(100 * time.Millisecond):
	}
}
