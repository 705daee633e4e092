package storage

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// sqliteFull makes SQLite fail as on a full disk: a page limit the table
// outgrows.
func sqliteFull(t *testing.T) error {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{`CREATE TABLE t (b BLOB)`, `PRAGMA max_page_count = 3`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	_, err = db.Exec(`INSERT INTO t VALUES (zeroblob(100000))`)
	if err == nil {
		t.Fatal("100 kB fitted in 3 pages")
	}
	return err
}

// sqliteCorrupt is a SQLite error that is no storage fault: a file that is
// not a database.
func sqliteCorrupt(t *testing.T) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "not.db")
	if err := os.WriteFile(path, []byte("this is not a SQLite database, not even its header....................................................................."), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE t (x)`)
	if err == nil {
		t.Fatal("wrote into a file that is not a database")
	}
	return err
}

func TestFault(t *testing.T) {
	noSpace := &fs.PathError{Op: "write", Path: "/data/x", Err: syscall.ENOSPC}
	for name, c := range map[string]struct {
		err                  error
		unavailable, noSpace bool
	}{
		"SQLITE_FULL":             {err: fmt.Errorf("commit: %w", sqliteFull(t)), unavailable: true, noSpace: true},
		"ENOSPC":                  {err: noSpace, unavailable: true, noSpace: true},
		"EDQUOT":                  {err: &fs.PathError{Op: "write", Path: "/data/x", Err: syscall.EDQUOT}, unavailable: true, noSpace: true},
		"EIO":                     {err: &fs.PathError{Op: "fsync", Path: "/data/x", Err: syscall.EIO}, unavailable: true},
		"EROFS":                   {err: &fs.PathError{Op: "open", Path: "/data/x", Err: syscall.EROFS}, unavailable: true},
		"SQLITE_NOTADB":           {err: sqliteCorrupt(t)},
		"a plain error":           {err: errors.New("constraint failed")},
		"permission denied":       {err: &fs.PathError{Op: "open", Path: "/data/x", Err: syscall.EACCES}},
		"already marked":          {err: fmt.Errorf("again: %w", Fault(noSpace)), unavailable: true, noSpace: true},
		"marked unavailable only": {err: fmt.Errorf("%w: probe", ErrUnavailable), unavailable: true},
	} {
		t.Run(name, func(t *testing.T) {
			got := Fault(c.err)
			if errors.Is(got, ErrUnavailable) != c.unavailable || errors.Is(got, ErrNoSpace) != c.noSpace {
				t.Fatalf("Fault(%v) = %v: unavailable %v, no space %v; want %v, %v",
					c.err, got, errors.Is(got, ErrUnavailable), errors.Is(got, ErrNoSpace), c.unavailable, c.noSpace)
			}
			if !errors.Is(got, c.err) {
				t.Errorf("Fault(%v) = %v lost its cause", c.err, got)
			}
			if !c.unavailable && got != c.err {
				t.Errorf("Fault changed an error that is no storage fault: %v", got)
			}
		})
	}
	if Fault(nil) != nil {
		t.Error("Fault(nil) is not nil")
	}
}

func TestFree(t *testing.T) {
	free, err := Free(t.TempDir())
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no statfs on this system")
	}
	if err != nil || free == 0 {
		t.Fatalf("Free of a temporary directory: %d, %v", free, err)
	}
	if _, err := Free(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Free of a missing directory: no error")
	}
}
