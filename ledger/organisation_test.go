package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/rmaledger/rmaledger/eventlog"
)

// TestOrganisation: the ledger answers a claim's organisation, from a fresh
// service as well as the one that registered it, and records on the event
// the organisation its actor acted for.
func TestOrganisation(t *testing.T) {
	store := openStore(t)
	s, err := New(store, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cmd := registration(t)
	cmd.Organisation = "acme"
	partner := Request{Actor: Actor{Name: "acme-desk", Role: "partner", Org: "acme"}}
	res, err := s.Register(ctx, cmd, partner)
	if err != nil {
		t.Fatal(err)
	}
	own, err := s.Register(ctx, registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := New(store, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*Service{s, fresh} {
		if org, err := svc.Organisation(ctx, res.Claim.ID); err != nil || org != "acme" {
			t.Errorf("organisation %q, %v; want acme", org, err)
		}
		if org, err := svc.Organisation(ctx, own.Claim.ID); err != nil || org != "" {
			t.Errorf("the company's claim: organisation %q, %v; want none", org, err)
		}
		if _, err := svc.Organisation(ctx, uuid.New()); !errors.Is(err, ErrNotFound) {
			t.Errorf("an unknown claim: %v, want ErrNotFound", err)
		}
	}
	records, err := s.Events(ctx, res.Claim.ID)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := eventlog.DecodeMetadata(records[0].Metadata)
	if err != nil || meta.Organisation != "acme" || meta.Role != "partner" {
		t.Errorf("metadata %+v, %v; want the partner's organisation", meta, err)
	}
}
