package projections

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return msg
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

func nothing(t *testing.T, ch <-chan *message.Message, what string) {
	t.Helper()
	select {
	case msg := <-ch:
		t.Fatalf("%s, yet a message came: %v", what, msg)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSubscriber(t *testing.T) {
	w := newWorld(t)
	w.register(0, 2)
	events := allClaimEvents(t, w.store)

	var (
		mu      sync.Mutex
		starts  []eventstore.Position
		acked   eventstore.Position // what the "consumer" committed
		nacked  []eventstore.RecordedEvent
		resumed = make(chan struct{})
	)
	sub, err := NewSubscriber(w.store, SubscriberConfig{
		Filter: claimFilter,
		StartAfter: func(context.Context, string) (eventstore.Position, error) {
			mu.Lock()
			defer mu.Unlock()
			starts = append(starts, acked)
			return acked, nil
		},
		OnNack: func(_ string, ev eventstore.RecordedEvent) <-chan struct{} {
			mu.Lock()
			defer mu.Unlock()
			nacked = append(nacked, ev)
			return resumed
		},
		ResubscribeDelay: time.Millisecond,
		Queue:            64,
		PageSize:         16,
		Logger:           quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(context.Background(), Claims)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("an event becomes a message", func(t *testing.T) {
		msg := receive(t, ch)
		ev := events[0]
		md := msg.Metadata
		if msg.UUID != ev.ID.String() || string(msg.Payload) != string(ev.Data) ||
			md.Get(MetaStream) != ev.Stream || md.Get(MetaRevision) != "0" || md.Get(MetaPosition) != ev.Position.String() ||
			md.Get(MetaType) != ev.Type || md.Get(MetaEventID) != ev.ID.String() || md.Get(MetaEventMetadata) != string(ev.Metadata) {
			t.Fatalf("message %s %v does not carry event %+v", msg.UUID, md, ev)
		}
		if meta, err := eventlog.DecodeMetadata([]byte(md.Get(MetaEventMetadata))); err != nil || meta.Actor != "desk" {
			t.Fatalf("the event's own metadata does not travel: %v %v", md, err)
		}
		back, err := EventFromMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		bj, _ := json.Marshal(back)
		ej, _ := json.Marshal(ev)
		if string(bj) != string(ej) {
			t.Fatalf("round trip:\n got %s\nwant %s", bj, ej)
		}
		nothing(t, ch, "the first message is not acknowledged")
		mu.Lock()
		acked = ev.Position
		mu.Unlock()
		msg.Ack()
	})

	t.Run("in order, one at a time", func(t *testing.T) {
		for _, ev := range events[1:5] {
			msg := receive(t, ch)
			if msg.UUID != ev.ID.String() {
				t.Fatalf("got %s, want %s (revision %d of %s)", msg.UUID, ev.ID, ev.Revision, ev.Stream)
			}
			mu.Lock()
			acked = ev.Position
			mu.Unlock()
			msg.Ack()
		}
	})

	t.Run("a nack stops delivery until resumed, then the event comes again", func(t *testing.T) {
		msg := receive(t, ch)
		msg.Nack()
		nothing(t, ch, "delivery was stopped by a nack")
		mu.Lock()
		if len(nacked) != 1 || nacked[0].ID != events[5].ID {
			t.Fatalf("OnNack got %v, want event %s", nacked, events[5].ID)
		}
		mu.Unlock()
		close(resumed)
		again := receive(t, ch)
		if again.UUID != events[5].ID.String() {
			t.Fatalf("after resuming: %s, want the nacked event %s again", again.UUID, events[5].ID)
		}
		mu.Lock()
		if len(starts) != 2 || starts[1] != events[4].Position {
			t.Fatalf("StartAfter calls %v: the resumed subscription must start after the last committed event", starts)
		}
		mu.Unlock()
		again.Ack()
	})

	t.Run("new events are pushed", func(t *testing.T) {
		for _, ev := range events[6:] {
			msg := receive(t, ch)
			if msg.UUID != ev.ID.String() {
				t.Fatalf("got %s, want %s", msg.UUID, ev.ID)
			}
			msg.Ack()
		}
		nothing(t, ch, "every event was delivered")
		start := time.Now()
		w.register(10, 1)
		msg := receive(t, ch)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("a new event took %s to arrive", d)
		}
		if msg.Metadata.Get(MetaRevision) != "0" {
			t.Fatalf("pushed %v, want the new claim's registration", msg.Metadata)
		}
		msg.Ack()
	})

	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	for range ch { // closed by Close
	}
	if err := sub.Close(); err != nil { // the router closes it once per handler
		t.Fatal(err)
	}
}
