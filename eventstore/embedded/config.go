package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config tunes the embedded store. The zero value is usable: Open fills every
// zero field from the defaults below before validating.
type Config struct {
	// MaxBatchSize bounds how many queued appends the writer folds into one
	// transaction (one fsync). Larger batches amortise the fsync over more
	// appends but delay the answer to the first one in the batch.
	MaxBatchSize int
	// MaxEventSize bounds one event (type + data + metadata, in bytes); a
	// larger event fails with eventstore.ErrInvalidAppend. It keeps a single
	// client from bloating every batch and every subscriber's page.
	MaxEventSize int
	// QueueSize is how many appends may wait for the writer before Append
	// blocks (back-pressure instead of unbounded memory).
	QueueSize int
	// ReadConns bounds the read-only connection pool used by reads and
	// subscriptions.
	ReadConns int
	// PageSize is how many events a subscription reads per query, and what
	// ReadAll returns when asked for max <= 0.
	PageSize int
	// SubscriptionBuffer is the capacity of each subscription's Events
	// channel. Together with PageSize it bounds what a slow subscriber holds.
	SubscriptionBuffer int
	// StreamCacheSize bounds the writer's stream -> last revision cache; the
	// cache is dropped when it grows past this and reloaded lazily. An
	// entry holds about 125 bytes, so the default (16,384: the claims
	// registered in the last hours of a busy service, those still worked
	// on) holds 2 MiB; a miss costs one indexed lookup.
	StreamCacheSize int
	// BusyTimeout is how long a connection waits on a locked database. Only
	// this process writes (see the lock file), so waits are short: WAL
	// checkpoints and recovery.
	BusyTimeout time.Duration
	// Logger receives the store's operational logs; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults used by Open for zero fields.
const (
	DefaultMaxBatchSize       = 512
	DefaultMaxEventSize       = 1 << 20 // 1 MiB
	DefaultQueueSize          = 1024
	DefaultReadConns          = 4
	DefaultPageSize           = 512
	DefaultSubscriptionBuffer = 256
	DefaultStreamCacheSize    = 16_384
	DefaultBusyTimeout        = 5 * time.Second
)

// setDefaults fills zero fields; negative values are left for Validate to
// reject, so a typo does not silently become a default.
func (c *Config) setDefaults() {
	if c.MaxBatchSize == 0 {
		c.MaxBatchSize = DefaultMaxBatchSize
	}
	if c.MaxEventSize == 0 {
		c.MaxEventSize = DefaultMaxEventSize
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.ReadConns == 0 {
		c.ReadConns = DefaultReadConns
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.SubscriptionBuffer == 0 {
		c.SubscriptionBuffer = DefaultSubscriptionBuffer
	}
	if c.StreamCacheSize == 0 {
		c.StreamCacheSize = DefaultStreamCacheSize
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("embedded: %s must be positive, got %d", name, v))
		}
	}
	positive("MaxBatchSize", c.MaxBatchSize)
	positive("MaxEventSize", c.MaxEventSize)
	positive("QueueSize", c.QueueSize)
	positive("ReadConns", c.ReadConns)
	positive("PageSize", c.PageSize)
	positive("SubscriptionBuffer", c.SubscriptionBuffer)
	positive("StreamCacheSize", c.StreamCacheSize)
	if c.BusyTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("embedded: BusyTimeout must be at least 1ms, got %s", c.BusyTimeout))
	}
	return errors.Join(errs...)
}
