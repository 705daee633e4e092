package preferences_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/notify/preferences"
)

func open(t *testing.T) eventstore.Store {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func TestPreferencesAreRecordedSealedAndOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	store := open(t)
	k := preferences.Keeper{Store: store}
	claim := uuid.New()

	if p, err := k.Get(ctx, claim); err != nil || p.Quiet {
		t.Fatalf("a claim nobody chose for: %+v, %v; want every message", p, err)
	}
	if err := k.Set(ctx, claim, notify.Preferences{Quiet: true}, "", "customer"); err == nil {
		t.Fatal("a change without an actor was recorded")
	}
	for _, quiet := range []bool{true, true, false, true} {
		if err := k.Set(ctx, claim, notify.Preferences{Quiet: quiet}, "customer", "customer"); err != nil {
			t.Fatal(err)
		}
		if p, err := k.Get(ctx, claim); err != nil || p.Quiet != quiet {
			t.Fatalf("after choosing quiet=%v: %+v, %v", quiet, p, err)
		}
	}
	recs, err := store.ReadStream(ctx, eventlog.NotifyPreferences.Stream(claim), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 { // the repeated choice records nothing
		t.Fatalf("%d events, want 3 (true, false, true)", len(recs))
	}
	report, err := audit.VerifyStream(ctx, store, recs[0].Stream)
	if err != nil || !report.OK {
		t.Fatalf("the preferences stream does not verify: %+v, %v", report, err)
	}
}

// Writers racing on one stream each get their event in, chained: the
// append retries after another writer's event.
func TestAppendSealedUnderConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	store := open(t)
	stream := eventlog.NotifyPreferences.Stream(uuid.New())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := audit.AppendSealed(ctx, store, stream,
				eventstore.EventData{ID: uuid.New(), Type: notify.PreferencesSetType, Data: []byte(`{"quiet":true}`), Metadata: []byte(`{"actor":"t"}`)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	recs, err := store.ReadStream(ctx, stream, eventstore.Forwards, 0, 0)
	if err != nil || len(recs) != 4 {
		t.Fatalf("%d events, %v; want 4", len(recs), err)
	}
	if report, err := audit.VerifyStream(ctx, store, stream); err != nil || !report.OK {
		t.Fatalf("the stream does not verify: %+v, %v", report, err)
	}
}
