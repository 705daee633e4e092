package webhooks_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/notify/webhooks"
)

var admin = webhooks.Actor{Name: "root", Role: "admin"}

// fixture is a registry over a fresh embedded store with a settable clock.
type fixture struct {
	store    eventstore.Store
	registry *webhooks.Registry
	now      *time.Time
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	r, err := webhooks.New(webhooks.Config{Store: store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{store: store, registry: r, now: &now}
}

func (f fixture) create(t *testing.T, n webhooks.NewSubscription) (webhooks.Subscription, string) {
	t.Helper()
	sub, secret, err := f.registry.Create(context.Background(), n, admin)
	if err != nil {
		t.Fatalf("Create(%+v): %v", n, err)
	}
	return sub, secret
}

// countEvents counts every event in the store.
func countEvents(t *testing.T, s eventstore.Store) int {
	t.Helper()
	recs, err := s.ReadAll(context.Background(), eventstore.Start, 10000, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func TestCreateReturnsAStandardSecretOnceAndListShowsNone(t *testing.T) {
	f := newFixture(t)
	sub, secret := f.create(t, webhooks.NewSubscription{URL: "https://partner.example/hooks", EventTypes: []string{"claim.authorized", "claim."}, Description: "ERP"})
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(secret, "whsec_") || err != nil || len(raw) < 24 || len(raw) > 64 {
		t.Fatalf("secret %q: want whsec_ and base64 of 24 to 64 bytes (%d bytes, %v)", secret, len(raw), err)
	}
	_, other := f.create(t, webhooks.NewSubscription{URL: "https://partner.example/hooks"})
	if other == secret {
		t.Fatal("two subscriptions got the same secret")
	}
	list, err := f.registry.List(context.Background())
	if err != nil || len(list) != 2 || list[0].ID != sub.ID || !list[0].Enabled {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if got := list[0].EventTypes; len(got) != 2 || got[0] != "claim." || got[1] != "claim.authorized" {
		t.Fatalf("event types %v, want sorted [claim. claim.authorized]", got)
	}

	// A second registry over the same store (another instance) sees the
	// same subscriptions, following their streams.
	r2, _ := webhooks.New(webhooks.Config{Store: f.store})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r2.Follow(ctx, 10*time.Millisecond)
	got, err := r2.Lookup(context.Background(), sub.ID)
	if err != nil || got.URL != "https://partner.example/hooks" || got.Description != "ERP" {
		t.Fatalf("other instance Lookup = %+v, %v", got, err)
	}
	if err := f.registry.Disable(context.Background(), sub.ID, "maintenance", admin); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ = r2.Lookup(context.Background(), sub.ID)
		if !got.Enabled || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got.Enabled || got.DisabledReason != "maintenance" {
		t.Fatalf("the following instance did not see the disable: %+v", got)
	}
}

func TestBadSubscriptionsAreRefusedAndWriteNothing(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		n     webhooks.NewSubscription
		field string
	}{
		{"http", webhooks.NewSubscription{URL: "http://partner.example/hooks"}, "url"},
		{"http to loopback outside development", webhooks.NewSubscription{URL: "http://127.0.0.1:8080/hooks"}, "url"},
		{"no scheme", webhooks.NewSubscription{URL: "partner.example/hooks"}, "url"},
		{"ftp", webhooks.NewSubscription{URL: "ftp://partner.example/hooks"}, "url"},
		{"userinfo", webhooks.NewSubscription{URL: "https://user:pw@partner.example/hooks"}, "url"},
		{"fragment", webhooks.NewSubscription{URL: "https://partner.example/hooks#x"}, "url"},
		{"no host", webhooks.NewSubscription{URL: "https:///hooks"}, "url"},
		{"unknown type", webhooks.NewSubscription{URL: "https://partner.example/", EventTypes: []string{"claim.exploded"}}, "event_types"},
		{"versioned type", webhooks.NewSubscription{URL: "https://partner.example/", EventTypes: []string{"claim.authorized.v1"}}, "event_types"},
		{"prefix selecting nothing", webhooks.NewSubscription{URL: "https://partner.example/", EventTypes: []string{"invoice."}}, "event_types"},
		{"bad organisation", webhooks.NewSubscription{URL: "https://partner.example/", Organisation: "ACME Corp"}, "organisation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := countEvents(t, f.store)
			_, _, err := f.registry.Create(context.Background(), tc.n, admin)
			var inv *webhooks.InvalidError
			if !errors.As(err, &inv) || inv.Field != tc.field {
				t.Fatalf("Create = %v, want an InvalidError on %s", err, tc.field)
			}
			if after := countEvents(t, f.store); after != before {
				t.Fatalf("%d events written on refusal", after-before)
			}
		})
	}
}

func TestLoopbackHTTPOnlyInDevelopment(t *testing.T) {
	f := newFixture(t)
	dev, _ := webhooks.New(webhooks.Config{Store: f.store, AllowLoopbackHTTP: true})
	if _, _, err := dev.Create(context.Background(), webhooks.NewSubscription{URL: "http://127.0.0.1:9000/hooks"}, admin); err != nil {
		t.Fatalf("development, http to loopback: %v", err)
	}
	if _, _, err := dev.Create(context.Background(), webhooks.NewSubscription{URL: "http://partner.example/hooks"}, admin); err == nil {
		t.Fatal("development accepted http to another host")
	}
}

func TestDeleteAndUnknownAnswerNotFound(t *testing.T) {
	f := newFixture(t)
	sub, _ := f.create(t, webhooks.NewSubscription{URL: "https://partner.example/"})
	ctx := context.Background()
	if err := f.registry.Delete(ctx, sub.ID, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := f.registry.Lookup(ctx, sub.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("Lookup after delete = %v", err)
	}
	if err := f.registry.Enable(ctx, sub.ID, admin); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("Enable after delete = %v", err)
	}
	if list, _ := f.registry.List(ctx); len(list) != 0 {
		t.Fatalf("List after delete = %+v", list)
	}
}

func TestSubscriptionStreamsAreWithheldFromExports(t *testing.T) {
	f := newFixture(t)
	sub, secret := f.create(t, webhooks.NewSubscription{URL: "https://partner.example/"})
	recs, err := f.store.ReadAll(context.Background(), eventstore.Start, 100, eventstore.Filter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("ReadAll = %d, %v", len(recs), err)
	}
	if !strings.Contains(string(recs[0].Data), secret) {
		t.Fatal("the secret is not in the stream; the sender could not sign after a restart")
	}
	if !webhooks.Withheld(recs[0].Stream) || recs[0].Stream != "webhook-subscription-"+sub.ID.String() {
		t.Fatalf("stream %q not withheld", recs[0].Stream)
	}
	if webhooks.Withheld("claim-" + sub.ID.String()) {
		t.Fatal("a claim stream is withheld")
	}
}

func TestConcurrentInstancesKeepTheChainIntact(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub, _ := f.create(t, webhooks.NewSubscription{URL: "https://partner.example/"})
	other, _ := webhooks.New(webhooks.Config{Store: f.store})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f.registry
			if i%2 == 1 {
				r = other
			}
			types := []string{"claim.authorized"}
			if i%3 == 0 {
				types = []string{"claim.closed"}
			}
			if err := r.SetEventTypes(ctx, sub.ID, types, admin); err != nil {
				errs <- err
			}
			if _, err := r.RotateSecret(ctx, sub.ID, time.Hour, admin); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent change: %v", err)
	}
	report, err := audit.Verify(ctx, f.store, audit.VerifyOptions{})
	if err != nil || !report.OK {
		t.Fatalf("audit verification: %+v, %v", report, err)
	}
	if report.Events < 11 {
		t.Fatalf("%d events verified, want the creation and at least the 10 rotations", report.Events)
	}
	a, _ := f.registry.Lookup(ctx, sub.ID)
	b, _ := other.Lookup(ctx, sub.ID)
	if !a.SecretRotated.Equal(b.SecretRotated) || strings.Join(a.EventTypes, ",") != strings.Join(b.EventTypes, ",") {
		t.Fatalf("the instances disagree: %+v vs %+v", a, b)
	}
}
