package embedded_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/eventstore/eventstoretest"
)

// quiet keeps the store's open/close logs out of test output.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestContract(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) (eventstore.Store, func(*testing.T) eventstore.Store) {
		dir := t.TempDir()
		open := func(t *testing.T) *embedded.Store {
			t.Helper()
			s, err := embedded.Open(dir, embedded.Config{Logger: quiet})
			if err != nil {
				t.Fatalf("Open(%s): %v", dir, err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		s := open(t)
		return s, func(t *testing.T) eventstore.Store {
			t.Helper()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s = open(t)
			return s
		}
	})
}
