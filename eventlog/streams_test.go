package eventlog

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var kinds = []Kind{Claims, PortalLinks, Documents, NotifyPreferences, WebhookSubscriptions, Accounts}

// TestStreamNamesAreStored pins every stream name: existing data directories
// hold these names, so a change here strands them.
func TestStreamNamesAreStored(t *testing.T) {
	id := uuid.MustParse("0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f")
	tests := []struct{ got, want string }{
		{Claims.Stream(id), "claim-0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f"},
		{PortalLinks.Stream(id), "portal-link-0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f"},
		{Documents.Stream(id), "documents-0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f"},
		{NotifyPreferences.Stream(id), "notify-preferences-0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f"},
		{WebhookSubscriptions.Stream(id), "webhook-subscription-0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f"},
		{Accounts.Stream(id), "account-0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f"},
		{DeliveryStream(id, 0), "notify-delivery-0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f"},
		{DeliveryStream(id, 3), "notify-delivery-0b4f3e5c-6a2d-4c1e-9f7a-1d2c3b4a5e6f-3"},
		{NumberStream(2026), "rmanumbers-2026"},
		{CheckpointStream, "audit-checkpoints"},
		{ConsoleKeyStream, "console-keys"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("stream name %q, stored as %q", tt.got, tt.want)
		}
	}
}

// TestKindRoundTrips: for every kind, ID reads back the id Stream was made
// of, Holds recognises the kind's streams and no other kind's.
func TestKindRoundTrips(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.Prefix(), func(t *testing.T) {
			for _, id := range []uuid.UUID{uuid.New(), uuid.Nil, uuid.MustParse("ffffffff-ffff-ffff-ffff-ffffffffffff")} {
				stream := k.Stream(id)
				if !strings.HasPrefix(stream, k.Prefix()) || !k.Holds(stream) {
					t.Errorf("%s: %q is not held by its own kind", k, stream)
				}
				got, err := k.ID(stream)
				if err != nil || got != id {
					t.Errorf("%s.ID(%q) = %v, %v; want %v", k, stream, got, err, id)
				}
				for _, other := range kinds {
					if other != k && other.Holds(stream) {
						t.Errorf("%q is held by %s as well as by %s", stream, other, k)
					}
				}
			}
		})
	}
}

// TestKindIDRefusesOtherStreams: a name of another kind, a bare id, or a
// prefix followed by no id is refused with ErrNotThisStream.
func TestKindIDRefusesOtherStreams(t *testing.T) {
	id := uuid.New()
	tests := []struct {
		name   string
		kind   Kind
		stream string
	}{
		{"another kind", Claims, PortalLinks.Stream(id)},
		{"a kind whose prefix ends like it", Claims, "x" + Claims.Stream(id)},
		{"a bare id", Claims, id.String()},
		{"the prefix alone", Accounts, "account-"},
		{"not an id", Documents, "documents-abc"},
		{"an id and more", NotifyPreferences, NotifyPreferences.Stream(id) + "-1"},
		{"a year, not an id", Claims, "claim-2026"},
		{"empty", WebhookSubscriptions, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.kind.ID(tt.stream)
			if !errors.Is(err, ErrNotThisStream) || got != uuid.Nil || !strings.Contains(err.Error(), tt.stream) {
				t.Errorf("%s.ID(%q) = %v, %v; want ErrNotThisStream naming the stream", tt.kind, tt.stream, got, err)
			}
		})
	}
}

// TestNumberStreamRoundTrips: NumberYear reads back the year of
// NumberStream, and refuses what NumberStream never writes.
func TestNumberStreamRoundTrips(t *testing.T) {
	for _, year := range []int{2024, 2026, 9999} {
		if got, err := NumberYear(NumberStream(year)); err != nil || got != year {
			t.Errorf("NumberYear(%q) = %d, %v; want %d", NumberStream(year), got, err, year)
		}
	}
	if Claims.Holds(NumberStream(2026)) {
		t.Errorf("a claim filter would select %q", NumberStream(2026))
	}
	for _, stream := range []string{"rmanumbers-", "rmanumbers-20x6", "rmanumbers-02026", "rmanumbers- 2026", "claim-2026", ""} {
		if y, err := NumberYear(stream); !errors.Is(err, ErrNotThisStream) {
			t.Errorf("NumberYear(%q) = %d, %v; want ErrNotThisStream", stream, y, err)
		}
	}
}

// TestDeliveryStreamRoundTrips: DeliveryOf reads back the message and round
// of DeliveryStream, and refuses what DeliveryStream never writes.
func TestDeliveryStreamRoundTrips(t *testing.T) {
	msg := uuid.New()
	for _, round := range []int{0, 1, 2, 12, 1000} {
		stream := DeliveryStream(msg, round)
		got, r, err := DeliveryOf(stream)
		if err != nil || got != msg || r != round {
			t.Errorf("DeliveryOf(%q) = %v, %d, %v; want %v, %d", stream, got, r, err, msg, round)
		}
	}
	base := DeliveryStream(msg, 0)
	for _, stream := range []string{
		base + "-0", base + "-", base + "-01", base + "-x", base + "1", base + "--1",
		"notify-delivery-", "notify-delivery-abc", Claims.Stream(msg), "",
	} {
		if got, r, err := DeliveryOf(stream); !errors.Is(err, ErrNotThisStream) {
			t.Errorf("DeliveryOf(%q) = %v, %d, %v; want ErrNotThisStream", stream, got, r, err)
		}
	}
}
