package accounts

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore/kurrentdb"
)

// TestInstancesOnKurrentDB runs two directories, each on a connection of
// its own to one KurrentDB server, as two instances of the service would:
// a name added on one is taken on the other, a session signed on one holds
// on the other, and a password reset on one ends it on the other.
func TestInstancesOnKurrentDB(t *testing.T) {
	url := os.Getenv("RMALEDGER_TEST_KURRENTDB_URL")
	if url == "" {
		t.Skip("set RMALEDGER_TEST_KURRENTDB_URL (e.g. kurrentdb://localhost:2113?tls=false) to run the accounts across two instances on a real server: docker compose up -d kurrentdb")
	}
	ctx := context.Background()
	clk := newClock()
	var dirs [2]*Directory
	for i := range dirs {
		store, err := kurrentdb.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		dirs[i] = instance(t, store, clk)
	}
	a, b := dirs[0], dirs[1]
	// The server keeps its streams between runs: a name of this run's own.
	name := "maria-" + strings.ToLower(uuid.NewString()[:8])
	mustAdd(t, a, name, "agent")
	if _, err := b.Add(ctx, admin, strings.ToUpper(name), "admin", password); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("B added the name A had: %v", err)
	}
	s, err := a.SignIn(ctx, name, password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if acc, _, err := b.Verify(ctx, s.Token); err != nil || acc.Name != name {
		t.Fatalf("A's session on B: %+v, %v", acc, err)
	}
	if err := b.ResetPassword(ctx, admin, name, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Verify(ctx, s.Token); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("A's session after B reset the password: %v", err)
	}
}
