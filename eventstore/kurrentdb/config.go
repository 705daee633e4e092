package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	kdb "github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"
)

// Config tunes the store. The zero value is usable: Open fills every zero
// field from the defaults below before validating. Connection settings
// (hosts, TLS, credentials, node preference, deadlines) belong in the
// connection string, where KurrentDB's own documentation describes them.
type Config struct {
	// Logger receives the store's operational logs and the client's; nil
	// means slog.Default().
	Logger *slog.Logger
	// RetryMinBackoff is the first wait before the store tries again to
	// reach the server, or to reopen a dropped subscription; each failed
	// attempt doubles it.
	RetryMinBackoff time.Duration
	// RetryMaxBackoff caps that wait, so a long outage is probed at a steady
	// rate rather than ever more rarely.
	RetryMaxBackoff time.Duration
	// ConnectTimeout bounds one attempt to open a subscription, and pads the
	// bound on one attempt to connect (the client's discovery settings set
	// the rest). The client itself gives neither a deadline, so without it
	// an attempt could wait forever on a node that never answers.
	ConnectTimeout time.Duration
	// CloseTimeout bounds how long Close waits for calls under way before it
	// closes the client. A call stuck inside the client must not hold Close
	// forever.
	CloseTimeout time.Duration
	// SubscriptionBuffer is the capacity of each subscription's Events
	// channel.
	SubscriptionBuffer int
	// ReadPageSize is how many events of $all ReadAll asks the server for at
	// a time, and what it returns when asked for max <= 0. ReadAll filters on
	// the client (see ReadAll), so it may read several pages to fill one
	// answer.
	ReadPageSize int
}

// Defaults used by Open for zero fields.
const (
	DefaultRetryMinBackoff    = 100 * time.Millisecond
	DefaultRetryMaxBackoff    = 10 * time.Second
	DefaultConnectTimeout     = 15 * time.Second
	DefaultCloseTimeout       = 10 * time.Second
	DefaultSubscriptionBuffer = 256
	DefaultReadPageSize       = 512
)

// setDefaults fills zero fields; negative values are left for Validate to
// reject, so a typo does not silently become a default.
func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RetryMinBackoff == 0 {
		c.RetryMinBackoff = DefaultRetryMinBackoff
	}
	if c.RetryMaxBackoff == 0 {
		c.RetryMaxBackoff = DefaultRetryMaxBackoff
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.SubscriptionBuffer == 0 {
		c.SubscriptionBuffer = DefaultSubscriptionBuffer
	}
	if c.ReadPageSize == 0 {
		c.ReadPageSize = DefaultReadPageSize
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("kurrentdb: %s must be positive, got %d", name, v))
		}
	}
	positive("RetryMinBackoff", int64(c.RetryMinBackoff))
	positive("RetryMaxBackoff", int64(c.RetryMaxBackoff))
	positive("ConnectTimeout", int64(c.ConnectTimeout))
	positive("CloseTimeout", int64(c.CloseTimeout))
	positive("SubscriptionBuffer", int64(c.SubscriptionBuffer))
	// Two events per page at least: a page re-reads the event it starts at
	// (see ReadAll), so a page of one would never move.
	if c.ReadPageSize < 2 {
		errs = append(errs, fmt.Errorf("kurrentdb: ReadPageSize must be at least 2, got %d", c.ReadPageSize))
	}
	if c.RetryMaxBackoff < c.RetryMinBackoff {
		errs = append(errs, fmt.Errorf("kurrentdb: RetryMaxBackoff (%s) is below RetryMinBackoff (%s)",
			c.RetryMaxBackoff, c.RetryMinBackoff))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("kurrentdb: Logger is nil"))
	}
	return errors.Join(errs...)
}

// Option adjusts the Config given to Open.
type Option func(*Config)

// WithConfig replaces the whole Config; later options still apply on top.
func WithConfig(cfg Config) Option { return func(c *Config) { *c = cfg } }

// WithLogger sets Config.Logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// schemes are the connection-string schemes this backend answers to: the
// KurrentDB names and the EventStoreDB names existing deployments still use.
// The client itself accepts all four (and two short forms we do not
// advertise), so no rewriting is needed.
var schemes = []string{"kurrentdb", "kurrentdb+discover", "esdb", "esdb+discover"}

// Accepts reports whether connectionString names a KurrentDB server, so the
// caller can pick this backend from one URL setting.
func Accepts(connectionString string) bool {
	scheme, _, ok := strings.Cut(connectionString, "://")
	if !ok {
		return false
	}
	for _, s := range schemes {
		if strings.EqualFold(scheme, s) {
			return true
		}
	}
	return false
}

// CheckConnectionString reports whether the client can use connectionString,
// so that a service refuses a bad one at start instead of retrying forever.
// The error holds the string with its password masked.
func CheckConnectionString(connectionString string) error {
	_, err := parseConnectionString(connectionString)
	return err
}

// parseConnectionString checks the scheme and lets the client parse the rest
// (hosts, gossip seeds, TLS, credentials, nodePreference...). Errors carry
// the redacted string only: connection strings may hold a password.
func parseConnectionString(connectionString string) (*kdb.Configuration, error) {
	if !Accepts(connectionString) {
		return nil, fmt.Errorf("kurrentdb: connection string %q: scheme must be one of %s",
			redact(connectionString), strings.Join(schemes, ", "))
	}
	conf, err := kdb.ParseConnectionString(connectionString)
	if err != nil {
		var uerr *url.Error // quotes the whole string, password included
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("kurrentdb: connection string %q: %w", redact(connectionString), err)
	}
	return conf, nil
}

// redact masks the password of a connection string for logs and errors. It
// works on the string rather than net/url because a multi-host string
// (host1:2113,host2:2113) is not a valid URL.
func redact(connectionString string) string {
	scheme, rest, ok := strings.Cut(connectionString, "://")
	if !ok {
		return connectionString
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return connectionString
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return connectionString
	}
	return scheme + "://" + user + ":***" + rest[at:]
}

// clientLogger routes the client's printf-style logs into slog. Levels are
// lowered one step: the client logs routine events as errors (every
// subscription we close is reported as "subscription has dropped").
func clientLogger(l *slog.Logger) kdb.LoggingFunc {
	return func(level kdb.LogLevel, format string, args ...any) {
		lvl := slog.LevelDebug
		switch level {
		case kdb.LogError:
			lvl = slog.LevelWarn
		case kdb.LogWarn:
			lvl = slog.LevelInfo
		}
		if !l.Enabled(context.Background(), lvl) {
			return
		}
		l.Log(context.Background(), lvl, fmt.Sprintf(format, args...), "component", "kurrentdb-client")
	}
}
