package privacy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

func openStore(t *testing.T, dir string) *SQLiteKeyStore {
	t.Helper()
	ks, err := OpenSQLite(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

func TestEnvelopeRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := NewCodec(openStore(t, t.TempDir()))
	id, err := c.CustomerID(ctx, "+359888123456")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.CustomerID(ctx, "+359888123456"); again != id || !ValidCustomerID(id) {
		t.Fatalf("customer id not stable or malformed: %q, %q", id, again)
	}
	if other, _ := c.CustomerID(ctx, "+359888123457"); other == id {
		t.Fatal("two phones share a customer id")
	}
	env, err := c.SealString(ctx, id, "customer.name", "Мария Георгиева")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(env, Prefix+id+":") || strings.Contains(env, "Мария") {
		t.Fatalf("envelope %q", env)
	}
	if got, err := c.OpenString(ctx, "customer.name", env); err != nil || got != "Мария Георгиева" {
		t.Fatalf("open = %q, %v", got, err)
	}
	// Two seals of one value differ (random nonce): equal ciphertexts would
	// tell which claims share a name.
	if env2, _ := c.SealString(ctx, id, "customer.name", "Мария Георгиева"); env2 == env {
		t.Fatal("sealing is deterministic")
	}
	if got, err := c.OpenString(ctx, "customer.name", "plain text"); err != nil || got != "plain text" {
		t.Fatalf("plaintext passes through: %q, %v", got, err)
	}
	if got, _ := c.SealString(ctx, id, "customer.email", ""); got != "" {
		t.Fatalf("empty field sealed to %q", got)
	}
}

func TestEnvelopeRefusesTamperingAndMoves(t *testing.T) {
	ctx := context.Background()
	c := NewCodec(openStore(t, t.TempDir()))
	a, _ := c.CustomerID(ctx, "+359888000001")
	b, _ := c.CustomerID(ctx, "+359888000002")
	env, err := c.SealString(ctx, a, "customer.phone", "+359888000001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SealString(ctx, b, "customer.phone", "x"); err != nil { // b gets a key
		t.Fatal(err)
	}
	body := env[len(Prefix+a+":"):]
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	raw[len(raw)-1] ^= 1
	cases := map[string]struct{ path, env string }{
		"other subject":   {"customer.phone", Prefix + b + ":" + body},
		"other field":     {"customer.name", env},
		"flipped bit":     {"customer.phone", Prefix + a + ":" + base64.RawURLEncoding.EncodeToString(raw)},
		"unknown subject": {"customer.phone", Prefix + strings.Repeat("0", 32) + ":" + body},
		"truncated":       {"customer.phone", Prefix + a + ":" + body[:10]},
		"no body":         {"customer.phone", Prefix + a},
		"not base64":      {"customer.phone", Prefix + a + ":!!!"},
	}
	for name, tc := range cases {
		if got, err := c.OpenString(ctx, tc.path, tc.env); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: opened to %q, %v; want ErrCorrupt", name, got, err)
		}
	}
}

func TestDestroyErasesAndIsDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := openStore(t, dir)
	c := NewCodec(ks)
	id, _ := c.CustomerID(ctx, "+359888123456")
	keep, _ := c.CustomerID(ctx, "+359888654321")
	env, _ := c.SealString(ctx, id, "customer.name", "Maria")
	kept, _ := c.SealString(ctx, keep, "customer.name", "Ivan")
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}

	// Keys survive a reopen.
	ks = openStore(t, dir)
	c = NewCodec(ks)
	if got, err := c.OpenString(ctx, "customer.name", env); err != nil || got != "Maria" {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
	if again, _ := c.CustomerID(ctx, "+359888123456"); again != id {
		t.Fatal("installation secret did not survive a reopen")
	}
	key, err := ks.Lookup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Erase(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Lookup(ctx, id); !errors.Is(err, ErrErased) {
		t.Fatalf("Lookup after Destroy: %v, want ErrErased", err)
	}
	// The key's bytes are gone from the key store's files, WAL included,
	// while it is still open.
	files, _ := filepath.Glob(filepath.Join(dir, "keys", "*"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if bytes.Contains(raw, key) {
			t.Errorf("%s still holds the destroyed key", f)
		}
	}
	if _, err := ks.Key(ctx, id); !errors.Is(err, ErrErased) {
		t.Fatalf("Key after Destroy: %v, want ErrErased (never a new key under the erased subject)", err)
	}
	if got, err := c.OpenString(ctx, "customer.name", env); err != nil || got != domain.Erased {
		t.Fatalf("erased field opens to %q, %v", got, err)
	}
	if err := c.Erase(ctx, id); err != nil {
		t.Fatalf("erasing again: %v", err)
	}
	if err := c.Erase(ctx, strings.Repeat("a", 32)); !errors.Is(err, ErrNoKey) {
		t.Fatalf("erasing an unknown customer: %v, want ErrNoKey", err)
	}
	ks.Close()

	// The destruction survives a reopen too, and the other customer is untouched.
	ks = openStore(t, dir)
	c = NewCodec(ks)
	if _, err := ks.Lookup(ctx, id); !errors.Is(err, ErrErased) {
		t.Fatalf("Lookup after reopen: %v, want ErrErased", err)
	}
	if got, err := c.OpenString(ctx, "customer.name", kept); err != nil || got != "Ivan" {
		t.Fatalf("other customer: %q, %v", got, err)
	}
	// A customer who comes back after the erasure gets a new key; the old
	// data stays erased.
	env2, err := c.SealString(ctx, id, "customer.name", "Maria")
	if err != nil || !strings.HasPrefix(env2, Prefix+id+".2:") {
		t.Fatalf("new generation: %q, %v", env2, err)
	}
	if got, _ := c.OpenString(ctx, "customer.name", env); got != domain.Erased {
		t.Fatalf("old data reopened as %q", got)
	}
}

func TestSealEventCoversEveryPersonalField(t *testing.T) {
	ctx := context.Background()
	c := NewCodec(openStore(t, t.TempDir()))
	id, _ := c.CustomerID(ctx, "+359888123456")
	reg := domain.ClaimRegistered{Number: "RMA-1", Customer: domain.Customer{Name: "Maria", Phone: "+359888123456",
		Email: "maria@example.com", Address: "1 Vitosha Blvd"}, Defect: "dead", At: time.Unix(0, 0).UTC()}
	sealed, err := c.SealEvent(ctx, id, reg)
	if err != nil {
		t.Fatal(err)
	}
	_, data, _ := domain.EncodeEvent(sealed)
	for _, plain := range []string{"Maria", "359888123456", "maria@example.com", "Vitosha"} {
		if strings.Contains(string(data), plain) {
			t.Errorf("sealed registration holds %q: %s", plain, data)
		}
	}
	opened, err := c.OpenEvent(ctx, sealed)
	if err != nil || opened.(domain.ClaimRegistered).Customer != reg.Customer {
		t.Fatalf("opened %+v, %v", opened, err)
	}
	del, _ := c.SealEvent(ctx, id, domain.DeliveryConfirmed{SignedBy: "Maria"})
	if s := del.(domain.DeliveryConfirmed).SignedBy; !strings.HasPrefix(s, Prefix) {
		t.Fatalf("signed_by not sealed: %q", s)
	}
}

func TestBackupCopiesLiveKeysOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := openStore(t, dir)
	c := NewCodec(ks)
	gone, _ := c.CustomerID(ctx, "+359888000001")
	kept, _ := c.CustomerID(ctx, "+359888000002")
	goneKey, _ := ks.Key(ctx, gone)
	env, _ := c.SealString(ctx, kept, "customer.name", "Ivan")
	if err := c.Erase(ctx, gone); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), KeyFile)
	if err := BackupSQLite(ctx, filepath.Join(dir, KeyFile), dest); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, goneKey) {
		t.Fatal("the backup holds a destroyed key")
	}
	copyStore, err := OpenSQLite(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer copyStore.Close()
	if got, err := NewCodec(copyStore).OpenString(ctx, "customer.name", env); err != nil || got != "Ivan" {
		t.Fatalf("backup opens %q, %v", got, err)
	}
	if _, err := copyStore.Lookup(ctx, gone); !errors.Is(err, ErrErased) {
		t.Fatalf("erased subject in the backup: %v", err)
	}
	if err := BackupSQLite(ctx, filepath.Join(t.TempDir(), "none.db"), dest+"2"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("backup of no key store: %v", err)
	}
}

// TestDestroyLeavesNoCopyInTheWAL destroys a key created in the same
// session, whose row is still only in the WAL: the truncation must take the
// frame with it.
func TestDestroyLeavesNoCopyInTheWAL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := openStore(t, dir)
	for i := range 20 { // enough keys that some share a page with the destroyed one
		if _, err := ks.Key(ctx, fmt.Sprintf("%032x", i)); err != nil {
			t.Fatal(err)
		}
	}
	subject := strings.Repeat("ab", 16)
	key, err := ks.Key(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Destroy(ctx, subject); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "keys", "*"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if bytes.Contains(raw, key) {
			t.Errorf("%s still holds the destroyed key", f)
		}
	}
}
