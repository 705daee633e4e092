package kurrentdb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	kdb "github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/rmaledger/rmaledger/eventstore"
)

func TestAccepts(t *testing.T) {
	tests := map[string]bool{
		"kurrentdb://localhost:2113?tls=false":          true,
		"kurrentdb+discover://cluster.example.com:2113": true,
		"esdb://localhost:2113":                         true,
		"esdb+discover://cluster.example.com":           true,
		"KurrentDB://localhost:2113":                    true,
		"kdb://localhost:2113":                          false,
		"http://localhost:2113":                         false,
		"file:///var/lib/rmaledger":                     false,
		"/var/lib/rmaledger":                            false,
		"":                                              false,
	}
	for s, want := range tests {
		if got := Accepts(s); got != want {
			t.Errorf("Accepts(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseConnectionString(t *testing.T) {
	t.Run("single node, insecure", func(t *testing.T) {
		c := mustParse(t, "kurrentdb://localhost:2113?tls=false")
		if c.Address != "localhost:2113" || !c.DisableTLS || c.DnsDiscover || len(c.GossipSeeds) != 0 {
			t.Errorf("got Address=%q DisableTLS=%v DnsDiscover=%v seeds=%d", c.Address, c.DisableTLS, c.DnsDiscover, len(c.GossipSeeds))
		}
	})
	t.Run("default port", func(t *testing.T) {
		if c := mustParse(t, "esdb://kurrentdb"); c.Address != "kurrentdb:2113" || c.DisableTLS {
			t.Errorf("got Address=%q DisableTLS=%v", c.Address, c.DisableTLS)
		}
	})
	t.Run("dns discovery", func(t *testing.T) {
		for _, s := range []string{"kurrentdb+discover://cluster.example.com:2113", "esdb+discover://cluster.example.com:2113"} {
			if c := mustParse(t, s); !c.DnsDiscover || c.Address != "cluster.example.com:2113" {
				t.Errorf("%s: DnsDiscover=%v Address=%q", s, c.DnsDiscover, c.Address)
			}
		}
	})
	t.Run("three-node cluster", func(t *testing.T) {
		c := mustParse(t, "kurrentdb://admin:changeit@node1:2113,node2:2113,node3:2113?nodePreference=leader&tlsVerifyCert=false")
		var seeds []string
		for _, s := range c.GossipSeeds {
			seeds = append(seeds, s.String())
		}
		if strings.Join(seeds, ",") != "node1:2113,node2:2113,node3:2113" {
			t.Errorf("gossip seeds = %v", seeds)
		}
		if c.NodePreference != kdb.NodePreferenceLeader || c.Username != "admin" || c.Password != "changeit" || !c.SkipCertificateVerification {
			t.Errorf("got NodePreference=%v Username=%q SkipCertificateVerification=%v", c.NodePreference, c.Username, c.SkipCertificateVerification)
		}
	})
	for _, bad := range []string{
		"http://localhost:2113",
		"kdb://localhost:2113",
		"localhost:2113",
		"kurrentdb://",
		"kurrentdb://localhost:2113?nodePreference=sideways",
		"kurrentdb://admin:s3cret@localhost:notaport",
	} {
		t.Run("rejects "+bad, func(t *testing.T) {
			_, err := parseConnectionString(bad)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

func mustParse(t *testing.T, s string) *kdb.Configuration {
	t.Helper()
	c, err := parseConnectionString(s)
	if err != nil {
		t.Fatalf("parseConnectionString(%q): %v", s, err)
	}
	return c
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"kurrentdb://localhost:2113?tls=false":                    "kurrentdb://localhost:2113?tls=false",
		"kurrentdb://admin:changeit@localhost:2113":               "kurrentdb://admin:***@localhost:2113",
		"esdb://admin:p@ss@node1:2113,node2:2113?tls=true":        "esdb://admin:***@node1:2113,node2:2113?tls=true",
		"kurrentdb://admin@localhost:2113":                        "kurrentdb://admin@localhost:2113",
		"kurrentdb://localhost:2113?tlsCaFile=/certs/ca@2024.crt": "kurrentdb://localhost:2113?tlsCaFile=/certs/ca@2024.crt",
		"not a url": "not a url",
	}
	for in, want := range tests {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfig(t *testing.T) {
	var c Config
	c.setDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.RetryMinBackoff != DefaultRetryMinBackoff || c.SubscriptionBuffer != DefaultSubscriptionBuffer || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}

	bad := Config{RetryMinBackoff: -time.Second, SubscriptionBuffer: -1, ReadPageSize: 1}
	bad.setDefaults()
	err := bad.Validate()
	for _, field := range []string{"RetryMinBackoff", "SubscriptionBuffer", "ReadPageSize"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want it to name %s", err, field)
		}
	}

	inverted := Config{RetryMinBackoff: time.Minute, RetryMaxBackoff: time.Second}
	inverted.setDefaults()
	if err := inverted.Validate(); err == nil || !strings.Contains(err.Error(), "RetryMaxBackoff") {
		t.Errorf("Validate() = %v, want a complaint about max below min", err)
	}
}

func TestOpenIsLazyAndCloses(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "http://localhost:2113"); err == nil {
		t.Error("Open accepted an http URL")
	}
	if _, err := Open(ctx, "kurrentdb://localhost:2113", WithConfig(Config{SubscriptionBuffer: -1})); err == nil {
		t.Error("Open accepted an invalid Config")
	}

	// No server listens on port 1; Open must still succeed: it does no I/O.
	s, err := Open(ctx, "kurrentdb://127.0.0.1:1?tls=false", WithLogger(discardLogger()))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, tt := range []struct {
		name   string
		events []eventstore.EventData
		stream string
	}{
		{"no events", nil, "claim-1"},
		{"empty stream", []eventstore.EventData{{ID: uuid.New(), Type: "t"}}, ""},
		{"nil id", []eventstore.EventData{{Type: "t"}}, "claim-1"},
		{"empty type", []eventstore.EventData{{ID: uuid.New()}}, "claim-1"},
	} {
		if _, err := s.Append(ctx, tt.stream, eventstore.Any, tt.events...); !errors.Is(err, eventstore.ErrInvalidAppend) {
			t.Errorf("Append with %s: err = %v, want ErrInvalidAppend", tt.name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Append(ctx, "claim-1", eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "t"}); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if _, err := s.ReadStream(ctx, "claim-1", eventstore.Forwards, 0, 0); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("ReadStream after Close: %v, want ErrClosed", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.Start, 0, eventstore.Filter{}); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("ReadAll after Close: %v, want ErrClosed", err)
	}
	if _, err := s.SubscribeAll(ctx, eventstore.Start, eventstore.Filter{}); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("SubscribeAll after Close: %v, want ErrClosed", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Ping after Close: %v, want ErrClosed", err)
	}
}
