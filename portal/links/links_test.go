package links_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/portal/links"
)

var staff = links.Actor{Name: "maria", Role: "agent"}

func setup(t *testing.T) (*links.Keeper, eventstore.Store, *time.Time) {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	k, err := links.New(links.Config{Store: store, TTL: 24 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return k, store, &now
}

func TestIssuedLinkOpensItsClaimOnly(t *testing.T) {
	k, store, _ := setup(t)
	ctx := context.Background()
	claim, other := uuid.New(), uuid.New()
	link, err := k.Issue(ctx, claim, "bg", links.Actor{Name: "customer", Role: "customer"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(link.Token)
	if err != nil || len(raw) < 16+16 {
		t.Fatalf("token %q: %d bytes, %v; want at least 128 bits of secret after the claim id", link.Token, len(raw), err)
	}
	got, err := k.Resolve(ctx, link.Token)
	if err != nil || got.ClaimID != claim || got.Language != "bg" || got.Token != "" {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
	// The secret is not stored: no event of the stream holds the token or its secret.
	recs, err := store.ReadStream(ctx, eventlog.PortalLinks.Stream(claim), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw[16:])
	for _, r := range recs {
		if strings.Contains(string(r.Data)+string(r.Metadata), link.Token) || strings.Contains(string(r.Data), secret[:20]) {
			t.Fatalf("the stored event holds the token: %s", r.Data)
		}
	}
	// The secret of one claim's link does not open another claim.
	other16 := append(other[:], raw[16:]...)
	if _, err := k.Resolve(ctx, base64.RawURLEncoding.EncodeToString(other16)); !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("another claim's id with this secret: %v", err)
	}
	if !links.Withheld(recs[0].Stream) || links.Withheld("claim-"+claim.String()) {
		t.Fatal("Withheld must select the links' streams and only them")
	}
}

func TestRefusedLinks(t *testing.T) {
	k, _, now := setup(t)
	ctx := context.Background()
	claim := uuid.New()
	link, err := k.Issue(ctx, claim, "en", staff)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(link.Token)
	guessed := append([]byte(nil), raw...)
	guessed[len(guessed)-1] ^= 1
	for name, token := range map[string]string{
		"guessed":    base64.RawURLEncoding.EncodeToString(guessed),
		"empty":      "",
		"truncated":  link.Token[:len(link.Token)-1],
		"not base64": strings.Repeat("*", len(link.Token)),
		"unknown claim": func() string {
			id := uuid.New()
			return base64.RawURLEncoding.EncodeToString(append(id[:], raw[16:]...))
		}(),
	} {
		if _, err := k.Resolve(ctx, token); !errors.Is(err, links.ErrInvalid) {
			t.Errorf("%s token: %v, want ErrInvalid", name, err)
		}
	}

	*now = now.Add(24 * time.Hour)
	if _, err := k.Resolve(ctx, link.Token); !errors.Is(err, links.ErrExpired) || !errors.Is(err, links.ErrInvalid) {
		t.Fatalf("after its TTL: %v, want ErrExpired", err)
	}
	fresh, err := k.Issue(ctx, claim, "en", staff)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Revoke(ctx, claim, staff); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Resolve(ctx, fresh.Token); !errors.Is(err, links.ErrRevoked) {
		t.Fatalf("revoked link: %v, want ErrRevoked", err)
	}
	// A link issued after the revocation opens the claim again; the revoked one stays shut.
	again, err := k.Issue(ctx, claim, "ru", staff)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Resolve(ctx, again.Token); err != nil || got.ClaimID != claim {
		t.Fatalf("new link after revocation: %+v, %v", got, err)
	}
	if _, err := k.Resolve(ctx, fresh.Token); !errors.Is(err, links.ErrRevoked) {
		t.Fatalf("revoked link after a new one: %v", err)
	}
	if lang, err := k.Language(ctx, claim); err != nil || lang != "ru" {
		t.Fatalf("Language = %q, %v; want the latest link's", lang, err)
	}
}

// Two keepers on one store (two instances of the service) see each other's links
// and revocations, and the stream's events are sealed into the audit chain.
func TestLinksAreSharedThroughTheStore(t *testing.T) {
	a, store, now := setup(t)
	b, err := links.New(links.Config{Store: store, TTL: time.Hour, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	claim := uuid.New()
	link, err := a.Issue(ctx, claim, "", staff)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resolve(ctx, link.Token); err != nil {
		t.Fatalf("the other instance: %v", err)
	}
	if err := b.Revoke(ctx, claim, staff); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Resolve(ctx, link.Token); !errors.Is(err, links.ErrRevoked) {
		t.Fatalf("revoked on the other instance: %v", err)
	}
	report, err := audit.Verify(ctx, store, audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK || report.Events != 2 {
		t.Fatalf("audit verification: %+v", report)
	}
}
