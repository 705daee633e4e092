package kurrentdb

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/eventstoretest"
)

// urlEnv names the server the contract suite runs against. Without it the
// suite skips: there is no KurrentDB to talk to, and a pass would say
// nothing.
const urlEnv = "RMALEDGER_TEST_KURRENTDB_URL"

func TestContract(t *testing.T) {
	url := os.Getenv(urlEnv)
	if url == "" {
		t.Skip("set RMALEDGER_TEST_KURRENTDB_URL (e.g. kurrentdb://localhost:2113?tls=false) to run the KurrentDB contract suite against a real server: docker compose up -d kurrentdb")
	}
	eventstoretest.Run(t, func(t *testing.T) (eventstore.Store, func(t *testing.T) eventstore.Store) {
		s := openServer(t, url)
		reopen := func(t *testing.T) eventstore.Store {
			if err := s.Close(); err != nil {
				t.Fatalf("Close before reopen: %v", err)
			}
			s = openServer(t, url)
			return s
		}
		return s, reopen
	})
}

// openServer opens a store on the server and waits until it answers, so an
// unreachable server fails the test with that reason rather than with the
// first append.
func openServer(t *testing.T, url string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, url, WithLogger(discardLogger()))
	if err != nil {
		t.Fatalf("Open(%s): %v", redact(url), err)
	}
	t.Cleanup(func() { s.Close() })
	for {
		err := s.Ping(ctx)
		if err == nil {
			return s
		}
		if ctx.Err() != nil {
			t.Fatalf("KurrentDB at %s does not answer: %v", redact(url), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
