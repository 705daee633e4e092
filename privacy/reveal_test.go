package privacy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

// Reveal opens what reads and the subscription deliver, erases what lost
// its key, and leaves an altered envelope sealed (reporting it) rather than
// failing every read after it.
func TestRevealOpensErasesAndReportsAlterations(t *testing.T) {
	ctx := context.Background()
	store, dir := openEmbedded(t)
	c := NewCodec(openStore(t, dir))
	appendReg := func(name, phone string, tamper bool) string {
		id, _ := c.CustomerID(ctx, phone)
		e, err := c.SealEvent(ctx, id, domain.ClaimRegistered{Customer: domain.Customer{Name: name, Phone: phone}, At: time.Unix(0, 0).UTC()})
		if err != nil {
			t.Fatal(err)
		}
		if tamper {
			reg := e.(domain.ClaimRegistered)
			reg.Customer.Name, reg.Customer.Phone = reg.Customer.Phone, reg.Customer.Name // swapped fields
			e = reg
		}
		typ, data, _ := domain.EncodeEvent(e)
		if _, err := store.Append(ctx, "claim-"+uuid.NewString(), eventstore.NoStream,
			eventstore.EventData{ID: uuid.New(), Type: typ, Data: data}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	maria := appendReg("Maria", "+359888000001", false)
	appendReg("Ivan", "+359888000002", false)
	appendReg("Eve", "+359888000003", true)
	if err := c.Erase(ctx, maria); err != nil {
		t.Fatal(err)
	}
	var corrupt int
	r := Reveal(store, c, func(eventstore.RecordedEvent, error) { corrupt++ })
	check := func(how string, recs []eventstore.RecordedEvent) {
		t.Helper()
		if len(recs) != 3 {
			t.Fatalf("%s: %d events", how, len(recs))
		}
		want := []string{`"name":"[erased]"`, `"name":"Ivan"`, `"name":"pii:v1:`}
		for i, rec := range recs {
			if !strings.Contains(string(rec.Data), want[i]) {
				t.Errorf("%s: event %d: %s, want %s", how, i, rec.Data, want[i])
			}
		}
	}
	recs, err := r.ReadAll(ctx, eventstore.Start, 10, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	check("ReadAll", recs)
	sub, err := r.SubscribeAll(ctx, eventstore.Start, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	recs = recs[:0]
	for rec := range sub.Events() {
		recs = append(recs, rec)
		if len(recs) == 3 {
			break
		}
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	check("SubscribeAll", recs)
	if corrupt != 2 {
		t.Errorf("alterations reported %d times, want once per read", corrupt)
	}
}

// The subscription shows how many events wait, as the store's own does: a
// consumer batches what waits (the read models do, by len(Events())), and
// an unbuffered channel made every wait look like none.
func TestRevealingSubscriptionShowsWhatWaits(t *testing.T) {
	ctx := context.Background()
	store, dir := openEmbedded(t)
	for range 10 {
		if _, err := store.Append(ctx, "claim-"+uuid.NewString(), eventstore.NoStream,
			eventstore.EventData{ID: uuid.New(), Type: "claim.note_added.v1", Data: []byte(`{"text":"x"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := Reveal(store, NewCodec(openStore(t, dir)), nil).SubscribeAll(ctx, eventstore.Start, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(sub.Events()) < 10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // nobody reads: the events pile up
	}
	if n := len(sub.Events()); n != 10 {
		t.Fatalf("%d of 10 events wait visibly in the subscription", n)
	}
}

// openEmbedded opens an embedded store in a fresh directory, closed when the
// test ends; the directory is returned for the key store beside it.
func openEmbedded(t *testing.T) (*embedded.Store, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, dir
}
