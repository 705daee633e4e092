// Package preferences keeps what a customer chose for the messages of a
// claim, as events of the claim's preferences stream
// (eventlog.NotifyPreferences), sealed into the audit hash chain like
// every event, so that every instance of the service, and its outbox,
// knows it.
package preferences

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify"
)

// Keeper reads and records preferences.
type Keeper struct {
	Store eventstore.Store
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// metadata is who made the choice.
type metadata struct {
	Actor string    `json:"actor"`
	Role  string    `json:"role"`
	At    time.Time `json:"at"`
}

// Get returns the claim's preferences: the zero value (every message)
// when the customer never chose.
func (k Keeper) Get(ctx context.Context, claimID uuid.UUID) (notify.Preferences, error) {
	last, err := k.Store.ReadStream(ctx, eventlog.NotifyPreferences.Stream(claimID), eventstore.Backwards, eventstore.End, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && len(last) == 0) {
		return notify.Preferences{}, nil
	}
	if err != nil {
		return notify.Preferences{}, fmt.Errorf("preferences: read: %w", err)
	}
	var p notify.Preferences
	if err := json.Unmarshal(last[0].Data, &p); err != nil {
		return notify.Preferences{}, fmt.Errorf("preferences: %s revision %d: %w", last[0].Stream, last[0].Revision, err)
	}
	return p, nil
}

// Set records the customer's choice for the claim; actor and role say who
// made it (the customer through the portal, or staff on their behalf).
// Choosing what is already in force records nothing.
func (k Keeper) Set(ctx context.Context, claimID uuid.UUID, p notify.Preferences, actor, role string) error {
	if actor == "" {
		return errors.New("preferences: a change needs an actor")
	}
	current, err := k.Get(ctx, claimID)
	if err != nil {
		return err
	}
	if current == p {
		return nil
	}
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	data, _ := json.Marshal(p)
	meta, _ := json.Marshal(metadata{Actor: actor, Role: role, At: now().UTC()})
	_, err = audit.AppendSealed(ctx, k.Store, eventlog.NotifyPreferences.Stream(claimID),
		eventstore.EventData{ID: uuid.New(), Type: notify.PreferencesSetType, Data: data, Metadata: meta})
	if err != nil {
		return fmt.Errorf("preferences: %w", err)
	}
	return nil
}
