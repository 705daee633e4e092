package ledger

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/privacy"
)

func privateService(t *testing.T) (*Service, *privacy.Codec) {
	t.Helper()
	ks, err := privacy.OpenSQLite(filepath.Join(t.TempDir(), privacy.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	codec := privacy.NewCodec(ks)
	s, err := New(openStore(t), Config{Privacy: codec})
	if err != nil {
		t.Fatal(err)
	}
	return s, codec
}

// The store holds ciphertext; the ledger's answers, its reads and a retried
// request hold the plaintext; the erasure records one event per claim and
// is idempotent; the claim can still be worked on afterwards.
func TestPersonalDataIsSealedAndErasable(t *testing.T) {
	ctx := context.Background()
	s, _ := privateService(t)
	req := agent
	req.IdempotencyKey = "reg-1"
	res, err := s.Register(ctx, registration(t), req)
	if err != nil {
		t.Fatal(err)
	}
	id, customer := res.Claim.ID, res.Claim.CustomerID
	if !privacy.ValidCustomerID(customer) || res.Claim.Customer.Name != "Eleni Papadopoulou" {
		t.Fatalf("answer: customer %q %+v", customer, res.Claim.Customer)
	}
	raw, err := s.Store().ReadStream(ctx, eventlog.Claims.Stream(id), 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"Eleni", "Papadopoulou", "302101234567"} {
		if bytes.Contains(raw[0].Data, []byte(plain)) {
			t.Errorf("stored registration holds %q: %s", plain, raw[0].Data)
		}
	}
	again, err := s.Register(ctx, registration(t), req)
	if err != nil || !again.Replayed || again.Claim.Customer.Phone != "+302101234567" {
		t.Fatalf("retried registration: %+v, %v", again.Claim.Customer, err)
	}
	events, err := s.Events(ctx, id)
	if err != nil || !bytes.Contains(events[0].Data, []byte("Eleni Papadopoulou")) {
		t.Fatalf("Events opens the fields: %s, %v", events[0].Data, err)
	}

	if _, err := s.EraseCustomer(ctx, "0123456789abcdef0123456789abcdef", agent); !errors.Is(err, ErrCustomerNotFound) {
		t.Fatalf("unknown customer: %v", err)
	}
	er, err := s.EraseCustomer(ctx, customer, agent)
	if err != nil || er.Recorded != 1 || len(er.Claims) != 1 || er.Claims[0] != id {
		t.Fatalf("erase: %+v, %v", er, err)
	}
	if er, err = s.EraseCustomer(ctx, customer, agent); err != nil || er.Recorded != 0 {
		t.Fatalf("erase again: %+v, %v", er, err)
	}
	state, _, err := s.Claim(ctx, id)
	if err != nil || state.Customer.Name != domain.Erased || state.Customer.Phone != domain.Erased || !state.PersonalDataErased {
		t.Fatalf("after erasure: %+v, %v", state.Customer, err)
	}
	if _, err := s.Execute(ctx, id, &domain.AddNote{Text: "called", Visibility: domain.VisibilityInternal}, agent); err != nil {
		t.Fatalf("work on an erased claim: %v", err)
	}
}

func TestEraseWithoutKeyStore(t *testing.T) {
	s, err := New(openStore(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseCustomer(context.Background(), "0123456789abcdef0123456789abcdef", agent); !errors.Is(err, ErrErasureUnavailable) {
		t.Fatalf("erase without a key store: %v", err)
	}
}

// A log restored without its key store still shows its histories, with the personal fields
// sealed, as the read models show them; a command on such a claim is refused, naming why.
func TestHistoryReadableWithoutItsKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := privateService(t)
	res, err := s.Register(ctx, registration(t), agent)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Claim.ID
	empty, err := privacy.OpenSQLite(filepath.Join(t.TempDir(), privacy.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { empty.Close() })
	restored, err := New(s.Store(), Config{Privacy: privacy.NewCodec(empty)})
	if err != nil {
		t.Fatal(err)
	}
	events, err := restored.Events(ctx, id)
	if err != nil || len(events) != 1 {
		t.Fatalf("Events without the keys: %d events, %v", len(events), err)
	}
	if bytes.Contains(events[0].Data, []byte("Eleni")) || !bytes.Contains(events[0].Data, []byte(privacy.Prefix)) {
		t.Errorf("the personal fields should stay sealed: %s", events[0].Data)
	}
	if _, err := restored.Execute(ctx, id, &domain.AddNote{Text: "called", Visibility: domain.VisibilityInternal}, agent); !errors.Is(err, privacy.ErrCorrupt) {
		t.Errorf("a command on a claim whose fields do not open: %v, want privacy.ErrCorrupt", err)
	}
}
