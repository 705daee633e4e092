package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/notify/webhooks"
)

var (
	customer = domain.Customer{Name: "Ivan Petrov", Phone: "+359888123456", Email: "ivan.petrov@mail.example", Address: "ul. Vitosha 15, Sofia"}
	personal = []string{customer.Name, customer.Phone, customer.Email, customer.Address, "cust-7f3a9", "Maria Ivanova", "passport-scan.pdf"}
	claimID  = uuid.MustParse("5d6f7e80-1111-4222-8333-944455556666")
)

// claimEvent is a claim event at a position after every subscription
// event the test wrote.
func claimEvent(e domain.Event, org string) notify.Event {
	_, data, _ := domain.EncodeEvent(e)
	return notify.Event{
		Record: eventstore.RecordedEvent{ID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(e.EventType()+org)), Stream: "claim-" + claimID.String(),
			Type: e.EventType(), Data: data, Position: eventstore.Position{Commit: 1 << 40, Prepare: 1 << 40}, Created: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)},
		Event: e,
		Claim: notify.Claim{ID: claimID, Number: "RMA-2026-000042", Status: "authorized", Organisation: org,
			CustomerID: "cust-7f3a9", Name: customer.Name, Email: customer.Email, Phone: customer.Phone},
	}
}

func recipients(ms []notify.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Recipient)
	}
	slices.Sort(out)
	return out
}

func ids(subs ...webhooks.Subscription) []string {
	var out []string
	for _, s := range subs {
		out = append(out, s.ID.String())
	}
	slices.Sort(out)
	return out
}

func TestComposerSendsEachSubscriptionWhatItAsksForAndMaySee(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	all, _ := f.create(t, webhooks.NewSubscription{URL: "https://a.example/"})
	authorized, _ := f.create(t, webhooks.NewSubscription{URL: "https://b.example/", EventTypes: []string{"claim.authorized"}})
	prefix, _ := f.create(t, webhooks.NewSubscription{URL: "https://c.example/", EventTypes: []string{"claim.dispute_opened", "claim.repair_*"}})
	acme, _ := f.create(t, webhooks.NewSubscription{URL: "https://acme.example/", Organisation: "acme"})
	off, _ := f.create(t, webhooks.NewSubscription{URL: "https://off.example/"})
	if err := f.registry.Disable(ctx, off.ID, "", admin); err != nil {
		t.Fatal(err)
	}
	c := webhooks.NewComposer(f.registry)
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		event domain.Event
		org   string
		want  []string
	}{
		{"authorized, company's claim", domain.ClaimAuthorized{At: at}, "", ids(all, authorized)},
		{"authorized, acme's claim", domain.ClaimAuthorized{At: at}, "acme", ids(all, authorized, acme)},
		{"authorized, another partner's claim", domain.ClaimAuthorized{At: at}, "globex", ids(all, authorized)},
		{"repair started, prefix", domain.RepairStarted{At: at}, "", ids(all, prefix)},
		{"dispute opened, exact", domain.DisputeOpened{At: at}, "acme", ids(all, prefix, acme)},
		{"internal note", domain.NoteAdded{Text: "customer was rude", Visibility: "internal", At: at}, "acme", nil},
		{"customer note", domain.NoteAdded{Text: "parts ordered", Visibility: domain.VisibilityCustomer, At: at}, "", ids(all)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := c.Compose(ctx, claimEvent(tc.event, tc.org))
			if err != nil {
				t.Fatal(err)
			}
			if got := recipients(ms); !slices.Equal(got, tc.want) {
				t.Fatalf("recipients %v, want %v", got, tc.want)
			}
			for _, m := range ms {
				if m.Channel != notify.Webhook || m.Kind != strings.TrimSuffix(tc.event.EventType(), ".v1") || m.ClaimID != claimID ||
					m.OrderKey != m.Recipient+"/"+claimID.String() {
					t.Fatalf("message %+v", m)
				}
			}
		})
	}
}

func TestPayloadsCarryNoPersonalDataAndAreDeterministic(t *testing.T) {
	f := newFixture(t)
	sub, _ := f.create(t, webhooks.NewSubscription{URL: "https://a.example/"})
	c := webhooks.NewComposer(f.registry)
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, e := range []domain.Event{
		domain.ClaimRegistered{ClaimID: claimID, Number: "RMA-2026-000042", Customer: customer, CustomerID: "cust-7f3a9",
			Product: domain.Product{Category: "phone", IMEI: "356938035643809"}, Defect: "screen flickers", Organisation: "acme", At: at},
		domain.DeliveryConfirmed{SignedBy: "Maria Ivanova", At: at},
		domain.FileAttached{FileID: uuid.New(), Name: "passport-scan.pdf", ContentType: "application/pdf", Size: 9007199254740993, At: at},
		domain.PersonalDataErased{CustomerID: "cust-7f3a9", At: at},
	} {
		t.Run(e.EventType(), func(t *testing.T) {
			ev := claimEvent(e, "acme")
			ms, err := c.Compose(context.Background(), ev)
			if err != nil || len(ms) != 1 {
				t.Fatalf("Compose = %d messages, %v", len(ms), err)
			}
			body := ms[0].Body
			for _, p := range personal {
				if bytes.Contains(body, []byte(p)) {
					t.Fatalf("the body holds personal data %q: %s", p, body)
				}
			}
			var p webhooks.Payload
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != strings.TrimSuffix(e.EventType(), ".v1") || p.Data.EventType != e.EventType() || p.Data.ClaimID != claimID ||
				p.Data.Number != "RMA-2026-000042" || p.Data.Status != "authorized" || p.Data.Organisation != "acme" ||
				p.Data.EventID != ev.Record.ID || p.Data.Position != ev.Record.Position.String() || !p.Timestamp.Equal(at) {
				t.Fatalf("payload %s", body)
			}
			if _, ok := e.(domain.FileAttached); ok && !bytes.Contains(body, []byte(`"size":9007199254740993`)) {
				t.Fatalf("a large number lost its precision: %s", body)
			}
			if _, ok := p.Data.Event["at"]; !ok {
				t.Fatalf("the event's own fields are missing: %s", body)
			}
			if want := notify.MessageID(ev.Record.ID.String(), notify.Webhook, sub.ID.String()); ms[0].ID != want {
				t.Fatalf("message id %s, want %s", ms[0].ID, want)
			}
			again, _ := c.Compose(context.Background(), ev)
			if len(again) != 1 || again[0].ID != ms[0].ID || !bytes.Equal(again[0].Body, body) {
				t.Fatal("composing the same event again gives another message")
			}
		})
	}
	// What is not personal stays: the product and the defect.
	ms, _ := c.Compose(context.Background(), claimEvent(domain.ClaimRegistered{Product: domain.Product{Category: "phone"}, Defect: "screen flickers", Customer: customer, At: at}, ""))
	if !bytes.Contains(ms[0].Body, []byte("screen flickers")) || !bytes.Contains(ms[0].Body, []byte(`"category":"phone"`)) {
		t.Fatalf("the claim's facts are missing: %s", ms[0].Body)
	}
}

func TestSubscriptionsApplyFromTheirPositionOn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	early, _ := f.create(t, webhooks.NewSubscription{URL: "https://early.example/"})
	// A claim event stored between the two creations.
	res, err := f.store.Append(ctx, "claim-"+claimID.String(), eventstore.Any,
		eventstore.EventData{ID: uuid.New(), Type: "claim.authorized.v1", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	late, _ := f.create(t, webhooks.NewSubscription{URL: "https://late.example/"})
	if err := f.registry.Disable(ctx, early.ID, "", admin); err != nil {
		t.Fatal(err)
	}
	c := webhooks.NewComposer(f.registry)

	// The event between: the early one only, even though it is disabled
	// now and the late one exists now.
	ev := claimEvent(domain.ClaimAuthorized{}, "")
	ev.Record.Position = res.Position
	ms, err := c.Compose(ctx, ev)
	if err != nil || !slices.Equal(recipients(ms), ids(early)) {
		t.Fatalf("event between: %v, %v; want the early subscription only", recipients(ms), err)
	}
	// A later event: the late one only.
	ms, _ = c.Compose(ctx, claimEvent(domain.ClaimAuthorized{}, ""))
	if !slices.Equal(recipients(ms), ids(late)) {
		t.Fatalf("event after: %v, want the late subscription only", recipients(ms))
	}
}

func TestChangedEventTypesApply(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub, _ := f.create(t, webhooks.NewSubscription{URL: "https://a.example/", EventTypes: []string{"claim.authorized"}})
	if err := f.registry.SetEventTypes(ctx, sub.ID, []string{"claim.closed"}, admin); err != nil {
		t.Fatal(err)
	}
	c := webhooks.NewComposer(f.registry)
	if ms, _ := c.Compose(ctx, claimEvent(domain.ClaimAuthorized{}, "")); len(ms) != 0 {
		t.Fatalf("authorized still sent after the change: %v", recipients(ms))
	}
	if ms, _ := c.Compose(ctx, claimEvent(domain.ClaimClosed{}, "")); len(ms) != 1 {
		t.Fatalf("closed not sent after the change")
	}
}
