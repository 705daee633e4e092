package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// File names in the data directory. The lock file is the read models' own:
// the event store locks its files separately, and with KurrentDB nothing
// else would stop two processes from projecting into one file.
const (
	dbFile   = "readmodels.db"
	lockFile = "readmodels.lock"
)

// ErrLocked means another Runner (in this or another process) holds the read
// model database; two writers would each advance checkpoints the other does
// not know about.
var ErrLocked = errors.New("projections: read model database is locked by another runner")

// database is readmodels.db: one writer connection and a read-only pool.
//
// SQLite allows one writer at a time anyway; owning exactly one write
// connection (database/sql queues callers for it) turns "database is
// locked" errors into plain waits and keeps each handler's transaction
// short. Readers use their own connections: in WAL mode they read the last
// committed snapshot and never block the writer, so queries do not slow
// projections down and vice versa.
//
// The writer runs with synchronous=NORMAL: a power cut may lose the last
// transactions, but never half of one, and since rows and checkpoint commit
// together the lost events are simply projected again. Read models need no
// fsync per event; the event log has that.
type database struct {
	path string
	lock *os.File
	w    *sql.DB
	r    *sql.DB
	ck   *sql.DB // the checkpointer's connection

	stopCheckpointer chan struct{}
	checkpointerDone chan struct{}
	walBound         int // the WAL bound in force, in bytes (see boundWAL)

	log        *slog.Logger
	rebuildsMu sync.Mutex
	rebuilds   int // rebuilds under way, which want the large page cache
}

// Page caches of the writer connection, in KiB: live commits touch a few
// pages each, while a rebuild writes tables of tens of megabytes in large
// transactions, which SQLite's cache would otherwise spill to the WAL
// mid-transaction. The cache is memory outside the Go heap, counted in the
// service's resident set, so it is large only while a rebuild needs it.
const (
	liveCacheKiB    = 16 << 10
	rebuildCacheKiB = 64 << 10
)

// walPageSize is SQLite's default page size, which the read models keep;
// walLimit (Config) is given in bytes, wal_autocheckpoint in pages.
const walPageSize = 4096

// rebuilding gives the writer the rebuild's page cache until release is
// called; rebuilds may overlap, and the last to end shrinks it back.
func (db *database) rebuilding(ctx context.Context) (release func()) {
	db.rebuildsMu.Lock()
	defer db.rebuildsMu.Unlock()
	if db.rebuilds == 0 {
		db.setCache(ctx, rebuildCacheKiB)
	}
	db.rebuilds++
	return func() {
		db.rebuildsMu.Lock()
		defer db.rebuildsMu.Unlock()
		if db.rebuilds--; db.rebuilds == 0 {
			db.setCache(context.WithoutCancel(ctx), liveCacheKiB)
		}
	}
}

// setCache sets the writer's page cache; a failure costs speed or memory,
// never correctness, so it is only logged.
func (db *database) setCache(ctx context.Context, kib int) {
	if _, err := db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", kib)); err != nil {
		db.log.Warn("cannot resize the read models' page cache", "KiB", kib, "err", err)
	}
}

func openDatabase(dir string, cfg Config) (*database, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("projections: create data directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	db := &database{path: filepath.Join(dir, dbFile), lock: lock, log: cfg.Logger}
	if err := db.open(cfg); err != nil {
		db.close()
		return nil, err
	}
	return db, nil
}

func (db *database) open(cfg Config) error {
	busy := fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds())
	var err error
	db.w, err = sql.Open("sqlite", dsn(db.path, url.Values{"_pragma": {
		busy, "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(OFF)",
		fmt.Sprintf("cache_size(-%d)", liveCacheKiB), // see rebuilding
		// WAL checkpoints (copying the log into the database, with an
		// fsync) run in the background (checkpointer), not inside
		// whichever handler's commit happens to cross a small threshold.
		// The background checkpoints alone do not bound the log, though:
		// SQLite starts the WAL over only when a transaction begins with
		// every frame copied, and a writer that is never idle (a catch-up,
		// a rebuild, a steady 2,000 events/s) always has frames the last
		// checkpoint did not see, so the log grew by 80 MB a second. Past
		// walLimit the writer's own commit checkpoints what is left (the
		// background has copied most of it), the next transaction starts
		// the log over, and the file is cut back to walLimit.
		fmt.Sprintf("wal_autocheckpoint(%d)", cfg.walLimit/walPageSize),
		fmt.Sprintf("journal_size_limit(%d)", cfg.walLimit),
		// Read models hold customers' personal data in the clear; once a
		// customer is erased (package privacy) the rows are rewritten,
		// and the old cells must be zeroed, not left in free space for
		// anyone with the file to read.
		"secure_delete(1)",
		// temp_store stays FILE: with MEMORY, SQLite keeps CREATE INDEX's
		// sort in memory without bound, and a rebuild's index of a million
		// trail rows is tens of MiB.
	}}))
	if err != nil {
		return fmt.Errorf("projections: open %s: %w", db.path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	ctx := context.Background()
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("projections: open %s: %w", db.path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("projections: %s: journal mode is %q, want wal", db.path, mode)
	}
	if _, err := db.w.ExecContext(ctx, generationsDDL); err != nil {
		return fmt.Errorf("projections: create generations table: %w", err)
	}
	// Readers cannot write even by mistake: the status page's queries run
	// here.
	db.r, err = sql.Open("sqlite", dsn(db.path, url.Values{"_pragma": {busy, "query_only(1)"}}))
	if err != nil {
		return fmt.Errorf("projections: open %s for reading: %w", db.path, err)
	}
	db.r.SetMaxOpenConns(cfg.ReadConns)
	db.r.SetMaxIdleConns(cfg.ReadConns)
	db.ck, err = sql.Open("sqlite", dsn(db.path, url.Values{"_pragma": {busy}}))
	if err != nil {
		return fmt.Errorf("projections: open %s for checkpoints: %w", db.path, err)
	}
	db.ck.SetMaxOpenConns(1)
	db.stopCheckpointer = make(chan struct{})
	db.checkpointerDone = make(chan struct{})
	db.walBound = cfg.walLimit
	db.boundWAL(cfg.walLimit)
	go db.checkpointer(cfg.CheckpointInterval, cfg.walLimit, cfg.Logger)
	return nil
}

// checkpointer copies the WAL into the database file every interval.
// PASSIVE checkpoints never wait for, or block, the writer or the readers,
// so the projections' commits stay short and even; done in a commit, as
// SQLite does by default, every few hundred events one handler would pay
// for copying and fsyncing megabytes. It bounds the WAL by the space left
// (boundWAL) as often.
func (db *database) checkpointer(interval time.Duration, walLimit int, log *slog.Logger) {
	defer close(db.checkpointerDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			// Over its bound, the WAL is checkpointed by the writer's
			// next commit, which then starts it over; one here would
			// make the writer's give up (SQLite runs one at a time),
			// and the WAL grow on.
			if db.walOver(db.boundWAL(walLimit)) {
				continue
			}
			if _, err := db.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				log.Warn("read model WAL checkpoint failed", "err", err)
			}
		case <-db.stopCheckpointer:
			return
		}
	}
}

// generationsDDL holds, per projection, each set of tables ("generation")
// with the checkpoint it has reached and whether it is the one queries use.
// Rebuild fills a new generation while the active one serves; switching is
// one UPDATE of the active flags, so it is atomic.
const generationsDDL = `CREATE TABLE IF NOT EXISTS generations (
	projection  TEXT    NOT NULL,
	generation  INTEGER NOT NULL,
	schema      TEXT    NOT NULL,
	commit_pos  INTEGER NOT NULL DEFAULT 0,
	prepare_pos INTEGER NOT NULL DEFAULT 0,
	active      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (projection, generation)
) STRICT`

func (db *database) close() error {
	var errs []error
	if db.stopCheckpointer != nil {
		close(db.stopCheckpointer)
		<-db.checkpointerDone
		// Leave a short WAL behind: the next open need not replay it.
		if _, err := db.ck.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			errs = append(errs, err)
		}
	}
	if db.ck != nil {
		errs = append(errs, db.ck.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.lock != nil {
		errs = append(errs, db.lock.Close()) // closing the descriptor drops the flock
	}
	return errors.Join(errs...)
}

// lockDir takes an exclusive flock; the kernel drops it when the holder
// dies, so a crashed process never leaves the directory locked.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("projections: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held", ErrLocked, path)
		}
		return nil, fmt.Errorf("projections: lock %s: %w", path, err)
	}
	return f, nil
}

// dsn builds a file: URI so that the path needs no quoting of its own.
func dsn(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// generationRow is one row of the generations table.
type generationRow struct {
	number int64
	schema string
	commit int64
	prep   int64
	active bool
}

func (db *database) generations(ctx context.Context, projection string) ([]generationRow, error) {
	rows, err := db.w.QueryContext(ctx, `SELECT generation, schema, commit_pos, prepare_pos, active
		FROM generations WHERE projection = ? ORDER BY generation`, projection)
	if err != nil {
		return nil, fmt.Errorf("projections: read generations of %s: %w", projection, err)
	}
	defer rows.Close()
	var out []generationRow
	for rows.Next() {
		var g generationRow
		if err := rows.Scan(&g.number, &g.schema, &g.commit, &g.prep, &g.active); err != nil {
			return nil, fmt.Errorf("projections: read generations of %s: %w", projection, err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
