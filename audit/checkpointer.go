package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// CheckpointerConfig configures a Checkpointer.
type CheckpointerConfig struct {
	// Signer signs the checkpoints (required).
	Signer *Signer
	// Interval is how often Run signs a checkpoint when events were added
	// since the last one; zero means Run does nothing (on demand only).
	Interval time.Duration
	// Keys are other keys whose checkpoints the checkpointer may continue
	// from (after a key rotation); its own key is always trusted.
	Keys Keys
	// Logger receives operational logs (default slog.Default()).
	Logger *slog.Logger
	// Clock stamps checkpoints (default time.Now).
	Clock func() time.Time
	// PageSize is how many events one read of $all fetches (default 4096).
	PageSize int
}

// Checkpointer computes the ledger-wide chain as events arrive and appends
// signed checkpoints of it to eventlog.CheckpointStream. KurrentDB has many writers
// and no hook at append time, so the chain is computed here, after the
// fact, by reading $all in order; any number of checkpointers may run at
// once (they agree on the chain, and appends to the checkpoint stream are
// guarded by its expected revision).
type Checkpointer struct {
	store eventstore.Store
	cfg   CheckpointerConfig
	keys  Keys

	mu          sync.Mutex
	chain       Chain
	read        eventstore.Position // the last event read, checkpoint events included
	loaded      bool
	lastSigned  eventstore.Position // position of the last checkpoint written or read
	signedOnce  bool
	hasher      Hasher
	unsealedLog time.Time // when unsealed events were last reported
}

// NewCheckpointer returns a checkpointer of store's log.
func NewCheckpointer(store eventstore.Store, cfg CheckpointerConfig) (*Checkpointer, error) {
	if cfg.Signer == nil {
		return nil, errors.New("audit: a checkpointer needs a Signer")
	}
	if cfg.Interval < 0 {
		return nil, errors.New("audit: checkpoint Interval must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 4096
	}
	keys := Keys{}
	for id, k := range cfg.Keys {
		keys[id] = k
	}
	keys[cfg.Signer.KeyID()] = cfg.Signer.Public()
	return &Checkpointer{store: store, cfg: cfg, keys: keys}, nil
}

// Keys are the public keys the checkpointer trusts, its own among them:
// what a verification in the same service checks signatures with.
func (c *Checkpointer) Keys() Keys { return c.keys }

// Checkpoint brings the chain up to the end of the log, signs it and
// appends the checkpoint; actor and role say who asked (recorded in the
// event's metadata). It returns the checkpoint and the position of its
// event.
func (c *Checkpointer) Checkpoint(ctx context.Context, actor, role string) (Checkpoint, eventstore.Position, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.catchUp(ctx); err != nil {
		return Checkpoint{}, eventstore.Position{}, err
	}
	return c.write(ctx, actor, role)
}

// Run signs a checkpoint every Interval while there are new events, until
// ctx ends. Failures are logged and retried at the next tick: a missed
// checkpoint weakens no earlier one.
func (c *Checkpointer) Run(ctx context.Context) {
	if c.cfg.Interval == 0 {
		return
	}
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cp, wrote, err := c.periodic(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			c.cfg.Logger.Error("audit checkpoint failed", "err", err)
		case wrote:
			c.cfg.Logger.Info("audit checkpoint signed", "position", cp.Position, "events", cp.Count, "head", cp.Head.String(), "key_id", cp.KeyID)
		}
	}
}

// periodic writes a checkpoint when events were chained since the last.
func (c *Checkpointer) periodic(ctx context.Context) (Checkpoint, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.catchUp(ctx); err != nil {
		return Checkpoint{}, false, err
	}
	if c.signedOnce && c.chain.Position == c.lastSigned {
		return Checkpoint{}, false, nil
	}
	cp, _, err := c.write(ctx, "checkpointer", "system")
	return cp, err == nil, err
}

// catchUp loads the starting point (the newest trusted checkpoint) once,
// then chains every event after the chain's position.
func (c *Checkpointer) catchUp(ctx context.Context) error {
	if !c.loaded {
		if err := c.load(ctx); err != nil {
			return err
		}
		c.loaded = true
	}
	unsealed := 0
	for {
		page, err := c.store.ReadAll(ctx, c.read, c.cfg.PageSize, eventstore.Filter{})
		if err != nil {
			return fmt.Errorf("audit: read the log: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			rec := &page[i]
			if rec.Stream == eventlog.CheckpointStream {
				continue
			}
			// The content hash is recomputed, never taken from the
			// metadata: the checkpoint signs what is in the log.
			content, link, sealed := c.hasher.Event(rec)
			if !sealed || link.Content != content {
				unsealed++
			}
			c.chain.Add(content, rec.Position)
		}
		c.read = page[len(page)-1].Position
	}
	if unsealed > 0 && time.Since(c.unsealedLog) > time.Hour {
		c.unsealedLog = time.Now()
		c.cfg.Logger.Warn("audit: events without a valid content hash were chained; `rmaledger audit verify` will report them", "events", unsealed)
	}
	return nil
}

// load starts the chain from the newest checkpoint signed by a trusted
// key, or from the beginning of the log when there is none.
func (c *Checkpointer) load(ctx context.Context) error {
	c.chain, c.read = Chain{}, eventstore.Start
	recs, err := c.store.ReadStream(ctx, eventlog.CheckpointStream, eventstore.Backwards, eventstore.End, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: read the last checkpoint: %w", err)
	}
	cp, err := decodeCheckpoint(recs[0].Data)
	if err == nil {
		err = c.keys.Verify(cp)
	}
	if err != nil {
		c.cfg.Logger.Warn("audit: the last checkpoint cannot be trusted; recomputing the chain from the beginning", "err", err)
		return nil
	}
	pos, _ := cp.At()
	c.chain = Chain{Head: cp.Head, Count: cp.Count, Position: pos}
	c.read = pos
	c.lastSigned, c.signedOnce = pos, true
	return nil
}

// checkpointMeta is the metadata of a checkpoint event.
type checkpointMeta struct {
	Actor      string    `json:"actor"`
	Role       string    `json:"role"`
	OccurredAt time.Time `json:"occurred_at"`
}

// write signs the chain and appends the checkpoint, chained to the
// checkpoint stream's last event. Another checkpointer appending first
// only moves the link: the checkpoint itself stays true.
func (c *Checkpointer) write(ctx context.Context, actor, role string) (Checkpoint, eventstore.Position, error) {
	now := c.cfg.Clock()
	cp := c.cfg.Signer.Sign(c.chain, now)
	data, err := json.Marshal(cp)
	if err != nil {
		return Checkpoint{}, eventstore.Position{}, err
	}
	meta, err := json.Marshal(checkpointMeta{Actor: actor, Role: role, OccurredAt: now.UTC()})
	if err != nil {
		return Checkpoint{}, eventstore.Position{}, err
	}
	id := uuid.New()
	for attempt := 0; attempt < 5; attempt++ {
		expected := eventstore.NoStream
		var prev *eventstore.RecordedEvent
		last, err := c.store.ReadStream(ctx, eventlog.CheckpointStream, eventstore.Backwards, eventstore.End, 1)
		switch {
		case errors.Is(err, eventstore.ErrStreamNotFound):
		case err != nil:
			return Checkpoint{}, eventstore.Position{}, fmt.Errorf("audit: read the checkpoint stream: %w", err)
		default:
			prev = &last[0]
			expected = eventstore.Exact(prev.Revision)
		}
		ev := []eventstore.EventData{{ID: id, Type: CheckpointType, Data: data, Metadata: meta}}
		if err := SealEvents(eventlog.CheckpointStream, prev, ev); err != nil {
			return Checkpoint{}, eventstore.Position{}, err
		}
		res, err := c.store.Append(ctx, eventlog.CheckpointStream, expected, ev...)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			continue
		}
		if err != nil {
			return Checkpoint{}, eventstore.Position{}, fmt.Errorf("audit: append checkpoint: %w", err)
		}
		c.lastSigned, c.signedOnce = c.chain.Position, true
		return cp, res.Position, nil
	}
	return Checkpoint{}, eventstore.Position{}, errors.New("audit: append checkpoint: the checkpoint stream kept changing")
}
