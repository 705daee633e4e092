package audit_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventstore"
)

// The worked example of docs/audit.md. If this test fails, the canonical
// form changed: every stored hash would stop verifying. Do not "fix" the
// constants; fix the code.
const (
	exampleStream = "claim-0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e"
	exampleType   = "claim.note_added.v1"
	exampleID     = "6f1c8f0e-5c57-4a8e-9d59-2f4a0c3b7e11"
	exampleData   = `{"text":"Called the customer.","visibility":"internal","at":"2026-03-02T10:00:00Z"}`
	exampleMeta   = `{"correlation_id":"req-1","actor":"agent-3f9a1c2e","role":"agent","action":"add-note","occurred_at":"2026-03-02T10:00:00Z","policy_version":"default-1"}`
	exampleHash   = "aeff6bcc411bc2e5d87289e4f4c12cfaac2a41df422b9082c115689859d7eeef"
	exampleHead1  = "94e0a69c31c1270ca0d154cc3bb3350a5d23e4d2091937837228cc7b7f5afc3d"
	examplePub    = "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w="
	exampleKeyID  = "ed25519:34750f98bd59fcfc"
	exampleSig    = "e6nZE1rooT6MrCJNWh0lvDxwVpfi8QPDfFtxFmRrrHOlC0cGtoRkMa1U3/T2SSKMDYuUPZp+GdlmivKLijsnBA=="
)

func TestCanonicalFormWorkedExample(t *testing.T) {
	prev, err := audit.ParseHash(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	var h audit.Hasher
	id := uuid.MustParse(exampleID)
	sealed, content, err := audit.Seal(&h, exampleStream, exampleType, id, []byte(exampleData), []byte(exampleMeta), prev)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sealed metadata: %s", sealed)
	t.Logf("content hash: %s", content)

	// The same hash, computed from the definition in the document without
	// any of the package's code.
	var b []byte
	for _, f := range []string{"rmaledger/event/v1", exampleStream, exampleType, exampleID, exampleData, exampleMeta} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
		b = append(b, f...)
	}
	independent := sha256.Sum256(b)
	if hex.EncodeToString(independent[:]) != content.String() {
		t.Fatalf("content hash %s, the definition gives %x", content, independent)
	}
	wantSealed := exampleMeta[:len(exampleMeta)-1] + `,"content_hash":"` + content.String() + `","prev_hash":"` + prev.String() + `"}`
	if string(sealed) != wantSealed {
		t.Fatalf("sealed metadata\n%s\nwant\n%s", sealed, wantSealed)
	}
	// Reading the stored event back gives the same hashes.
	rec := eventstore.RecordedEvent{ID: id, Stream: exampleStream, Type: exampleType, Data: []byte(exampleData), Metadata: sealed}
	got, link, ok := h.Event(&rec)
	if !ok || got != content || link.Content != content || link.Prev != prev {
		t.Fatalf("read back: %s %+v %t", got, link, ok)
	}
	canonical, _, _ := audit.Split(sealed)
	if string(canonical) != exampleMeta {
		t.Fatalf("canonical metadata %s", canonical)
	}

	// The ledger-wide chain after this one event.
	var c audit.Chain
	c.Add(content, eventstore.Position{Commit: 1, Prepare: 1})
	head := sha256.Sum256(append(append([]byte("rmaledger/all/v1"), make([]byte, 32)...), content[:]...))
	if c.Head != audit.Hash(head) {
		t.Fatalf("head %s, definition %x", c.Head, head)
	}
	t.Logf("head after it: %s", c.Head)
	if content.String() != exampleHash || c.Head.String() != exampleHead1 {
		t.Errorf("the document's example says content %s head %s", exampleHash, exampleHead1)
	}

	// A checkpoint of that chain, signed with the key whose seed is 32
	// bytes of 0x01 (Ed25519 signatures are deterministic).
	signer := audit.NewSigner(ed25519.NewKeyFromSeed(make32(0x01)))
	c.Position = eventstore.Position{Commit: 1, Prepare: 1}
	cp := signer.Sign(c, mustTime("2026-03-02T10:05:00Z"))
	t.Logf("public key %s, key id %s", audit.EncodePublicKey(signer.Public()), signer.KeyID())
	t.Logf("message:\n%s", cp.Message())
	t.Logf("signature %s", cp.Signature)
	if audit.EncodePublicKey(signer.Public()) != examplePub || signer.KeyID() != exampleKeyID || cp.Signature != exampleSig {
		t.Errorf("the document's example says public key %s, key id %s, signature %s", examplePub, exampleKeyID, exampleSig)
	}
	if err := audit.NewKeys(signer.Public()).Verify(cp); err != nil {
		t.Fatal(err)
	}
}

func make32(b byte) []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = b
	}
	return s
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
