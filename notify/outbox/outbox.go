package outbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/feed"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/storage"
)

// Defaults of Config.
const (
	DefaultConcurrency = 32
	DefaultBatchWindow = 10 * time.Minute
	DefaultRetryMin    = 30 * time.Second
	DefaultRetryMax    = time.Hour
	DefaultGiveUpAfter = 26 * time.Hour
	DefaultLease       = 2 * time.Minute
	DefaultKeepContent = 30 * 24 * time.Hour
)

// Config configures an Outbox.
type Config struct {
	// Path is the outbox's SQLite file (DATA-DIR/outbox.db); each instance
	// of the service has its own.
	Path string
	// Store is the event store, revealing personal data (the outbox reads
	// customers' addresses from claim events).
	Store eventstore.Store
	// Feed, when set, is the live feed the outbox shares with the read
	// models: it must select the claim, portal-link and preferences streams
	// (Streams) of Store. Nil gives the outbox its own.
	Feed *feed.Feed
	// Composers turn each claim event into messages.
	Composers []notify.Composer
	// Senders send the messages of each channel; messages of a channel
	// without a Sender stay pending.
	Senders map[notify.Channel]notify.Sender
	// Concurrency bounds the deliveries under way at once (default 32: a
	// delivery mostly waits, for the store's commits and the receiver).
	Concurrency int
	// BatchWindow is how long the oldest message of a recipient waits on a
	// BatchSender's channel before the recipient's messages go as one
	// (default 10 minutes).
	BatchWindow time.Duration
	// RetryMin and RetryMax bound the backoff between attempts: the n-th
	// retry waits a random time up to min(RetryMax, RetryMin·2ⁿ⁻¹)
	// (defaults 30 s and 1 h).
	RetryMin, RetryMax time.Duration
	// GiveUpAfter is how long after its first attempt a message is retried
	// before it fails for good (default 26 h, at least a day).
	GiveUpAfter time.Duration
	// Instance names this instance in the delivery streams (default: a name
	// made once and kept in the outbox's database, so that a restart takes
	// up its own deliveries at once). Two instances must never share one.
	Instance string
	// Alone says this outbox is the only one sending from its log (the
	// embedded store admits one process): it hands messages over without
	// claiming them in the store first. Several instances on one store
	// (KurrentDB) leave it false, and each message is claimed.
	Alone bool
	// Lease is how long a claimed delivery belongs to its instance
	// (default 2 minutes); a Send is given at most this long.
	Lease time.Duration
	// KeepContent is how long the content of a sent message is kept
	// (default 30 days); then it is blanked, the row kept.
	KeepContent time.Duration
	// FromStart makes a new outbox compose messages for the whole log
	// instead of starting at its end.
	FromStart bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Registerer receives the outbox's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives the outbox's logs; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.BatchWindow <= 0 {
		c.BatchWindow = DefaultBatchWindow
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.GiveUpAfter <= 0 {
		c.GiveUpAfter = DefaultGiveUpAfter
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.KeepContent <= 0 {
		c.KeepContent = DefaultKeepContent
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("outbox: Config.Path is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("outbox: Config.Store is required"))
	}
	if c.GiveUpAfter > 0 && c.GiveUpAfter < 24*time.Hour {
		errs = append(errs, errors.New("outbox: Config.GiveUpAfter must be at least a day: a receiver down overnight must not lose messages"))
	}
	if c.RetryMin > 0 && c.RetryMax > 0 && c.RetryMin > c.RetryMax {
		errs = append(errs, errors.New("outbox: Config.RetryMin is above RetryMax"))
	}
	return errors.Join(errs...)
}

// Outbox queues the messages the ledger's events cause and delivers them.
type Outbox struct {
	cfg   Config
	db    *sql.DB
	stmts statements
	// rdb reads beside the one writing connection (WAL readers never wait
	// for the writer): the senders' queries, the projection's lookups and
	// the gauges. reads are its prepared statements.
	rdb   *sql.DB
	reads statements
	marks struct {
		mu      sync.Mutex
		next    *markBatch // the marks waiting for the writer
		writing bool       // a delivery is writing marks
	}
	log   *slog.Logger
	m     *metrics
	store eventstore.Store

	batch int // events read and applied at once

	wake chan struct{}
	sem  chan struct{}
	jobs sync.WaitGroup

	// live is the feed the projection follows; ownFeed is it when the
	// outbox made it (no Config.Feed), to close.
	live, ownFeed *feed.Feed

	// states keeps claims' folded states between batches (projection only).
	states *lru.Cache[uuid.UUID, folded]
	// prefs keeps claims' languages and choices as committed, so that an
	// event costs no query.
	prefs *lru.Cache[uuid.UUID, prefs]

	mu         sync.Mutex
	inFlight   map[uuid.UUID]bool
	checkpoint eventstore.Position
	caughtUp   bool
	projErr    error
	started    bool
	closed     bool
	cancel     context.CancelFunc
	loops      sync.WaitGroup
}

// Open opens (creating it if needed) the outbox's database. Enqueue, List
// and the other operations work at once; Start starts the projection and
// the senders.
func Open(cfg Config) (*Outbox, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("outbox: create directory: %w", storage.Fault(err))
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	// Commits survive the process's crash at once (WAL) and a power cut
	// once the WAL is synced (synchronous NORMAL): what a power cut takes
	// back is the projection's last messages with their checkpoint, queued
	// again from the log with the same ids, and the last outcomes, which
	// the delivery streams in the store still hold. A message Enqueue
	// acknowledges has no other copy: its commit is fsynced (enqueueDurably).
	// secure_delete zeroes the cells of erased content.
	u := url.URL{Scheme: "file", Path: abs, RawQuery: url.Values{"_pragma": {
		"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(NORMAL)", "secure_delete(1)", "foreign_keys(OFF)",
	}}.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", cfg.Path, err)
	}
	// One connection: SQLite has one writer anyway, and the outbox's reads
	// are few (admin lists, the senders' queries).
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: create tables in %s: %w", cfg.Path, storage.Fault(err))
	}
	if cfg.Instance == "" {
		if cfg.Instance, err = instanceName(db); err != nil {
			db.Close()
			return nil, fmt.Errorf("outbox: %s: %w", cfg.Path, storage.Fault(err))
		}
	}
	o := &Outbox{
		cfg: cfg, db: db, log: cfg.Logger.With("component", "notify-outbox"), store: cfg.Store,
		wake: make(chan struct{}, 1), sem: make(chan struct{}, cfg.Concurrency),
		inFlight: map[uuid.UUID]bool{}, batch: maxBatch,
	}
	o.stmts.db = db
	if o.rdb, err = sql.Open("sqlite", readerURL(u)); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", cfg.Path, err)
	}
	o.rdb.SetMaxOpenConns(4)
	o.reads.db = o.rdb
	if err := o.stmts.prepare(context.Background(), saveCheckpointSQL, upsertClaimSQL, insertMessageSQL, preferencesSQL, markSentSQL); err != nil {
		o.stmts.close()
		o.rdb.Close()
		db.Close()
		return nil, fmt.Errorf("outbox: %s: %w", cfg.Path, storage.Fault(err))
	}
	o.states, _ = lru.New[uuid.UUID, folded](stateCacheSize)
	o.prefs, _ = lru.New[uuid.UUID, prefs](4 * stateCacheSize)
	if o.live = cfg.Feed; o.live == nil {
		o.ownFeed, err = feed.New(feed.Config{
			Store: cfg.Store, Filter: Streams, Decode: func(rec eventstore.RecordedEvent) feed.Item { return feed.Item{Record: rec} },
			Queue: maxBatch * 4, PageSize: maxBatch, ResubscribeDelay: retryDelay, Logger: o.log,
		})
		if err != nil {
			o.stmts.close()
			db.Close()
			return nil, err
		}
		o.live = o.ownFeed
	}
	if o.checkpoint, _, _, err = o.loadCheckpoint(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	o.m = newMetrics(cfg.Registerer, o)
	return o, nil
}

// readerURL is the database's URL for the reading connections: the same
// file, refusing writes.
func readerURL(u url.URL) string {
	q := u.Query()
	q["_pragma"] = []string{"busy_timeout(5000)", "query_only(1)"}
	u.RawQuery = q.Encode()
	return u.String()
}

// instanceName is the name this outbox's instance claims deliveries by:
// made once, from the host's name and random bytes, and kept in its
// database, so that an instance restarted after a crash takes up at once
// the deliveries it had claimed instead of waiting for their leases.
func instanceName(db *sql.DB) (string, error) {
	var name string
	err := db.QueryRow(`SELECT name FROM instance WHERE id = 1`).Scan(&name)
	if err == nil {
		return name, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	name = host + "-" + hex.EncodeToString(b)
	_, err = db.Exec(`INSERT INTO instance (id, name) VALUES (1, ?)`, name)
	return name, err
}

const schema = `
CREATE TABLE IF NOT EXISTS instance (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoint (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	pos_commit INTEGER NOT NULL,
	pos_prepare INTEGER NOT NULL,
	-- composing is 0 while a new outbox learns the log's history (no
	-- messages), 1 once it reached the end and composes.
	composing INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS claims (
	id TEXT PRIMARY KEY,
	language TEXT NOT NULL DEFAULT '',
	quiet INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	id TEXT NOT NULL UNIQUE,
	channel TEXT NOT NULL,
	recipient TEXT NOT NULL,
	kind TEXT NOT NULL,
	claim_id TEXT NOT NULL,
	customer_id TEXT NOT NULL,
	order_key TEXT NOT NULL,
	essential INTEGER NOT NULL,
	pos_commit INTEGER NOT NULL,
	pos_prepare INTEGER NOT NULL,
	event_time INTEGER NOT NULL,
	language TEXT NOT NULL,
	subject TEXT NOT NULL,
	text TEXT NOT NULL,
	html TEXT NOT NULL,
	body BLOB,
	blanked INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	round INTEGER NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	queued_at INTEGER NOT NULL,
	first_attempt INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	sent_at INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, next_attempt);
-- The senders walk the pending messages in queue order and stop at the
-- first few due heads, whatever the queue's length.
CREATE INDEX IF NOT EXISTS messages_queue ON messages (status, seq);
CREATE INDEX IF NOT EXISTS messages_order ON messages (order_key, status, seq);
CREATE INDEX IF NOT EXISTS messages_recipient ON messages (channel, recipient, status);
CREATE INDEX IF NOT EXISTS messages_customer ON messages (customer_id);
CREATE TABLE IF NOT EXISTS attempts (
	message_id TEXT NOT NULL,
	round INTEGER NOT NULL,
	at INTEGER NOT NULL,
	error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_message ON attempts (message_id);
`

// Start runs the projection of the event log into the outbox and the
// senders until Close (or ctx ends).
func (o *Outbox) Start(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	if o.started {
		return errors.New("outbox: already started")
	}
	o.started = true
	ctx, o.cancel = context.WithCancel(ctx)
	o.loops.Add(2)
	go func() { defer o.loops.Done(); o.runProjection(ctx) }()
	go func() { defer o.loops.Done(); o.runSenders(ctx) }()
	return nil
}

// ErrClosed means the outbox was closed.
var ErrClosed = errors.New("outbox: closed")

// Close stops the projection and the senders, waits for deliveries under
// way to end, and closes the database.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	cancel := o.cancel
	o.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	o.loops.Wait()
	o.jobs.Wait()
	if o.ownFeed != nil {
		o.ownFeed.Close()
	}
	o.m.unregister()
	o.stmts.close()
	o.reads.close()
	return errors.Join(o.rdb.Close(), o.db.Close())
}

// Health is the outbox's state, for /readyz and the admin screens.
type Health struct {
	// Checkpoint is the last event of the log the outbox has composed.
	Checkpoint eventstore.Position `json:"-"`
	// CaughtUp is set once the projection reached the end of the log.
	CaughtUp bool `json:"caught_up"`
	// Error is why the projection is stuck, empty when it is not.
	Error string `json:"error,omitempty"`
}

// Health returns the outbox's state.
func (o *Outbox) Health() Health {
	o.mu.Lock()
	defer o.mu.Unlock()
	h := Health{Checkpoint: o.checkpoint, CaughtUp: o.caughtUp}
	if o.projErr != nil {
		h.Error = o.projErr.Error()
	}
	return h
}

// Ready is nil when the outbox is started and its projection is not stuck.
func (o *Outbox) Ready() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return ErrClosed
	case !o.started:
		return errors.New("outbox: not started")
	case o.projErr != nil:
		return fmt.Errorf("outbox: projection stopped: %w", o.projErr)
	}
	return nil
}

// signal wakes the senders.
func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *Outbox) now() time.Time { return o.cfg.Now().UTC() }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func sqlPos(p eventstore.Position) (int64, int64) {
	c, q := p.Commit, p.Prepare
	if c > math.MaxInt64 {
		c = math.MaxInt64
	}
	if q > math.MaxInt64 {
		q = math.MaxInt64
	}
	return int64(c), int64(q)
}

// loadCheckpoint returns the checkpoint, whether there is one and whether
// the outbox composes messages (it does not while it learns the history).
func (o *Outbox) loadCheckpoint(ctx context.Context) (pos eventstore.Position, ok, composing bool, err error) {
	var c, p int64
	err = o.db.QueryRowContext(ctx, `SELECT pos_commit, pos_prepare, composing FROM checkpoint WHERE id = 1`).Scan(&c, &p, &composing)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Start, false, false, nil
	}
	if err != nil {
		return eventstore.Start, false, false, fmt.Errorf("outbox: read checkpoint: %w", storage.Fault(err))
	}
	return eventstore.Position{Commit: uint64(c), Prepare: uint64(p)}, true, composing, nil
}

const saveCheckpointSQL = `INSERT INTO checkpoint (id, pos_commit, pos_prepare, composing) VALUES (1, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET pos_commit = excluded.pos_commit, pos_prepare = excluded.pos_prepare,
	composing = excluded.composing`

func (o *Outbox) saveCheckpoint(ctx context.Context, tx *sql.Tx, p eventstore.Position, composing bool) error {
	c, q := sqlPos(p)
	_, err := o.exec(ctx, tx, saveCheckpointSQL, c, q, composing)
	return err
}
