// Package embedded is the durable, in-process event store: one data directory
// holding a SQLite database (events.db, WAL mode) written by a single writer
// goroutine.
//
// Durability: the write connection runs with synchronous=FULL, so SQLite
// fsyncs the WAL at every commit, and Append answers only after its commit
// returned. That cannot be observed from a test short of cutting power; the
// crash test (SIGKILL of a writing process) checks the weaker property that
// every acknowledged event survives the process.
//
// Throughput: appends are queued to the writer, which folds every append
// waiting (up to Config.MaxBatchSize) into one transaction and one fsync
// (group commit). Each append's expected revision is checked against the
// stream as it stands inside the batch, so a failed expectation fails that
// append alone.
//
// Reads and subscriptions use a separate pool of read-only connections; WAL
// readers see the last commit and never block the writer. Subscriptions are
// woken by the writer after each commit rather than polling.
//
// Only one process may open a data directory: Open takes an exclusive flock on
// a lock file in it and fails with ErrLocked if another holder exists.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/rmaledger/rmaledger/eventstore"
)

// File names inside the data directory.
const (
	dbFile   = "events.db"
	lockFile = "LOCK"
)

// ErrLocked means another store (in this or another process) holds the data
// directory; two writers on one file would break the single-writer
// assumptions behind revision checks and positions.
var ErrLocked = errors.New("embedded: data directory is locked by another store")

// Store is the embedded event store. It is safe for concurrent use.
type Store struct {
	cfg  Config
	dir  string
	lock *os.File

	wdb   *sql.DB    // one connection, owned by the writer goroutine
	wconn *sql.Conn  // that connection, pinned so its pragmas stay set
	rdb   *sql.DB    // read-only pool
	stmts statements // the read pool's prepared statements (read.go)
	w     *writer

	queue      chan *appendRequest
	closing    chan struct{} // closed when Close starts
	writerDone chan struct{} // closed when the writer goroutine exits
	note       *notifier
	tail       *tail // the latest commits' events, for live subscriptions

	mu       sync.Mutex // guards closed and inflight.Add
	closed   bool
	inflight sync.WaitGroup // reads, appends and subscriptions under way

	closeOnce sync.Once
	closeErr  error

	// commits counts committed transactions; tests and the benchmark use it
	// to see group commit at work.
	commits atomic.Uint64
	// beforeBatch, when set (by tests), runs in the writer before it takes a
	// batch, so a test can hold the writer while it queues appends.
	beforeBatch func()
}

var _ eventstore.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir. A zero Config takes the
// defaults.
func Open(dir string, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// SQLite takes the database as a file: URI, where a relative path would
	// read as a host name.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded: create data directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:        cfg,
		dir:        dir,
		lock:       lock,
		queue:      make(chan *appendRequest, cfg.QueueSize),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if err := s.openDB(); err != nil {
		s.closeDBs()
		unlockDir(lock)
		return nil, err
	}
	go s.w.run()
	cfg.Logger.Info("embedded event store opened", "dir", dir, "head", s.note.current())
	return s, nil
}

// lockDir takes the directory's exclusive lock. flock locks belong to the
// open file description, so a second Open in the same process is refused as
// well, and the kernel drops the lock when the holder dies.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("embedded: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held", ErrLocked, path)
		}
		return nil, fmt.Errorf("embedded: lock %s: %w", path, err)
	}
	return f, nil
}

func unlockDir(f *os.File) error {
	// Closing the descriptor releases the flock; the file stays, which is
	// harmless: the lock, not the file's existence, is what counts.
	return f.Close()
}

// openDB opens the write connection (creating the schema) and the read pool.
func (s *Store) openDB() error {
	path := filepath.Join(s.dir, dbFile)
	if err := checkFile(path); err != nil {
		return err
	}
	busy := s.cfg.BusyTimeout.Milliseconds()

	// The writer's DSN sets every pragma that must hold on its connection;
	// journal_mode=WAL is persistent in the file, synchronous=FULL is not,
	// hence both here.
	wdsn := dsn(path, url.Values{"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", busy),
		"journal_mode(WAL)",
		"synchronous(FULL)",
	}})
	var err error
	if s.wdb, err = sql.Open("sqlite", wdsn); err != nil {
		return fmt.Errorf("embedded: open %s: %w", path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	ctx := context.Background()
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		return fmt.Errorf("%w: open %s: %w", eventstore.ErrUnavailable, path, err)
	}
	var mode string
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("embedded: read journal mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("embedded: %s: journal mode is %q, want wal", path, mode)
	}
	if err := migrate(ctx, s.wconn); err != nil {
		return err
	}

	// Readers open the file read-only: a bug in a read path cannot write.
	rdsn := dsn(path, url.Values{
		"mode":        {"ro"},
		"_pragma":     {fmt.Sprintf("busy_timeout(%d)", busy)},
		"_query_only": {"1"},
	})
	if s.rdb, err = sql.Open("sqlite", rdsn); err != nil {
		return fmt.Errorf("embedded: open %s for reading: %w", path, err)
	}
	s.rdb.SetMaxOpenConns(s.cfg.ReadConns)
	s.rdb.SetMaxIdleConns(s.cfg.ReadConns)

	s.tail = newTail()
	if s.w, err = newWriter(s); err != nil {
		return err
	}
	s.note = newNotifier(s.w.head)
	return nil
}

// dsn builds a file: URI so that SQLite itself parses mode=ro and the path
// needs no quoting rules of its own.
func dsn(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// enter registers an operation that Close must wait for; it fails once Close
// has begun.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	s.inflight.Add(1)
	return nil
}

// Close stops accepting work, lets the writer commit what is already queued
// (appends queued afterwards fail with ErrClosed), ends subscriptions, waits
// for reads under way and closes the database. Calling it again returns the
// first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		s.mu.Unlock()

		<-s.writerDone
		s.inflight.Wait()
		s.closeErr = errors.Join(s.closeDBs(), unlockDir(s.lock))
		s.cfg.Logger.Info("embedded event store closed", "dir", s.dir)
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.closeStatements(), s.rdb.Close())
	}
	return errors.Join(errs...)
}

// ReportsDuplicates makes the store an eventstore.DuplicateReporter: the
// writer sets AppendResult.Duplicate when it finds an append's events
// already stored (alreadyStored), and only then.
func (s *Store) ReportsDuplicates() {}
