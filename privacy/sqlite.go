package privacy

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/rmaledger/rmaledger/storage"
)

// KeyFile is where OpenSQLite keeps the keys, relative to the data
// directory: a file of its own, never events.db, so that the event log can
// be copied, exported and audited without the keys, and the keys destroyed
// without touching the log.
const KeyFile = "keys/pii-keys.db"

// SQLiteKeyStore is the embedded KeyStore: one SQLite file, written with
// synchronous=FULL so a key is on disk before it encrypts anything, and
// secure_delete so that a destroyed key's bytes are overwritten with zeros
// in the file rather than left in a free page. After a destruction the WAL
// is checkpointed and truncated, so no old page image of the key survives
// in it either.
//
// Keys are held in the file in the clear: the file must be as private as
// the keys themselves (it is created 0600 in a 0700 directory), and backups
// of it keep erased customers' keys alive, so they must expire (see
// docs/privacy.md). A KMS-backed KeyStore removes both caveats.
type SQLiteKeyStore struct {
	db *sql.DB

	mu    sync.Mutex
	cache *simplelru.LRU[string, []byte] // live keys only; a destroyed key is removed before and after its row
	// destroys counts the starts and ends of Destroy: a Lookup that read its row while one ran
	// does not cache the key, which may be the one being destroyed.
	destroys uint64

	// creates feeds the one goroutine that inserts new keys: concurrent
	// registrations of new customers share a transaction, and so one
	// fsync (group commit), instead of queueing for one each (~3 ms here).
	creates   chan createRequest
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

// createRequest asks for a key row; done receives the commit's outcome.
type createRequest struct {
	subject string
	key     []byte
	done    chan error
}

// maxCreateBatch bounds the keys one transaction inserts.
const maxCreateBatch = 512

// maxKeyWAL bounds the key store's WAL, in bytes: each new key commits two
// pages (its row and its index entry, 8 KiB) for a few dozen bytes of key,
// so SQLite's default (a checkpoint every 1,000 pages, and the file never
// cut back) let the WAL of a few hundred keys take megabytes of the disk
// the event log needs. Past it, the commit checkpoints (one more fsync per
// thirty keys), and the next starts the WAL over and cuts the file back.
const maxKeyWAL = 256 << 10

// KeyCacheSize bounds the keys the store keeps in memory, the subjects used
// last: a key read with its subject costs about 210 bytes, so 16,384 keys
// (the customers of the claims worked on lately, many times over) hold
// 3.3 MiB. Every customer's key in memory would grow with the customers
// ever served. A key not held is read from the file (one indexed lookup).
const KeyCacheSize = 16_384

// OpenSQLite opens (creating if needed) the key store at path.
func OpenSQLite(path string) (*SQLiteKeyStore, error) {
	return openSQLite(path, KeyCacheSize)
}

// openSQLite opens the key store keeping at most cacheSize keys in memory.
func openSQLite(path string, cacheSize int) (*SQLiteKeyStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("privacy: create key store directory: %w", storage.Fault(err))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("privacy: open key store: %w", storage.Fault(err))
	}
	f.Close()
	q := url.Values{"_pragma": {"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(FULL)", "secure_delete(1)",
		fmt.Sprintf("wal_autocheckpoint(%d)", maxKeyWAL/4096), fmt.Sprintf("journal_size_limit(%d)", maxKeyWAL)}}
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, fmt.Errorf("privacy: open key store %s: %w", path, err)
	}
	// One connection: the pragmas above are per connection, and the store
	// is small and rarely written.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS data_keys (
		subject    TEXT    NOT NULL PRIMARY KEY,
		key        BLOB,
		created_at INTEGER NOT NULL,
		erased_at  INTEGER
	) STRICT`); err != nil {
		db.Close()
		return nil, fmt.Errorf("privacy: open key store %s: %w", path, storage.Fault(err))
	}
	cache, err := simplelru.NewLRU[string, []byte](cacheSize, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &SQLiteKeyStore{db: db, cache: cache, creates: make(chan createRequest),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go s.creator()
	return s, nil
}

// Close stops the creator and closes the file; later calls do nothing.
func (s *SQLiteKeyStore) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
		err = s.db.Close()
	})
	return err
}

// creator inserts the keys asked for, all that are waiting in one
// transaction.
func (s *SQLiteKeyStore) creator() {
	defer close(s.stopped)
	for {
		var batch []createRequest
		select {
		case r := <-s.creates:
			batch = append(batch, r)
		case <-s.stop:
			return
		}
	more:
		for len(batch) < maxCreateBatch {
			select {
			case r := <-s.creates:
				batch = append(batch, r)
			default:
				break more
			}
		}
		err := s.insert(batch)
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (s *SQLiteKeyStore) insert(batch []createRequest) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixNano()
	for _, r := range batch {
		// Two creators racing: the first row wins and both read it back.
		if _, err := tx.Exec(`INSERT INTO data_keys (subject, key, created_at) VALUES (?, ?, ?)
			ON CONFLICT (subject) DO NOTHING`, r.subject, r.key, now); err != nil {
			return err
		}
	}
	return tx.Commit() // synchronous=FULL: durable when it returns
}

// Key returns the subject's key, creating a random one when absent.
func (s *SQLiteKeyStore) Key(ctx context.Context, subject string) ([]byte, error) {
	key, err := s.Lookup(ctx, subject)
	if !errors.Is(err, ErrNoKey) {
		return key, err
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	r := createRequest{subject: subject, key: fresh, done: make(chan error, 1)}
	select {
	case s.creates <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stop:
		return nil, errors.New("privacy: key store closed")
	}
	if err := <-r.done; err != nil {
		return nil, fmt.Errorf("privacy: create key: %w", storage.Fault(err))
	}
	return s.Lookup(ctx, subject)
}

// Lookup returns the subject's key, ErrNoKey or ErrErased.
func (s *SQLiteKeyStore) Lookup(ctx context.Context, subject string) ([]byte, error) {
	s.mu.Lock()
	key, ok := s.cache.Get(subject)
	destroys := s.destroys
	s.mu.Unlock()
	if ok {
		return key, nil
	}
	var erased sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT key, erased_at FROM data_keys WHERE subject = ?`, subject).Scan(&key, &erased)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNoKey
	case err != nil:
		return nil, fmt.Errorf("privacy: look up key: %w", storage.Fault(err))
	case erased.Valid:
		return nil, ErrErased
	}
	s.mu.Lock()
	if s.destroys == destroys {
		s.cache.Add(subject, key)
	}
	s.mu.Unlock()
	return key, nil
}

// Destroy overwrites the key, keeps a tombstone, and truncates the WAL.
func (s *SQLiteKeyStore) Destroy(ctx context.Context, subject string) error {
	forget := func() {
		s.mu.Lock()
		s.destroys++
		s.cache.Remove(subject)
		s.mu.Unlock()
	}
	forget()
	defer forget() // a Lookup that read the row before the update must not have cached it since
	res, err := s.db.ExecContext(ctx, `UPDATE data_keys SET key = NULL, erased_at = coalesce(erased_at, ?) WHERE subject = ?`,
		time.Now().UnixNano(), subject)
	if err != nil {
		return fmt.Errorf("privacy: destroy key: %w", storage.Fault(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoKey
	}
	// The committed UPDATE is in the WAL (fsynced, synchronous=FULL); the
	// page image before it, with the key, may still be in an older WAL
	// frame or in the database file. TRUNCATE copies the new page into the
	// file (secure_delete zeroed the old cell) and empties the WAL.
	var busy, logFrames, checkpointed int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed); err != nil {
		return fmt.Errorf("privacy: checkpoint after destroying a key: %w", storage.Fault(err))
	}
	if busy != 0 {
		return fmt.Errorf("%w: privacy: key destroyed, but the key store's WAL could not be truncated (busy); retry the erasure", storage.ErrUnavailable)
	}
	return nil
}

// BackupSQLite writes a consistent copy of the key store at path into dest
// (a new file), while the service may be using it: VACUUM INTO reads one
// snapshot and writes a compact file with no free pages, so no destroyed
// key's old bytes travel with it. The copy is fsynced. It returns
// ErrNoKey when there is no key store at path.
func BackupSQLite(ctx context.Context, path, dest string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return ErrNoKey
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return fmt.Errorf("privacy: back up the key store: %w", err)
	}
	q := url.Values{"_pragma": {"busy_timeout(5000)"}}
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String())
	if err != nil {
		return fmt.Errorf("privacy: back up the key store: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("privacy: back up the key store: %w", err)
	}
	f, err := os.OpenFile(dest, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("privacy: back up the key store: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	return f.Sync()
}
