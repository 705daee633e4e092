package projections

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rmaledger/rmaledger/eventstore"
)

// partTables is a tableSet whose flush writes one row for its part and
// then, if fail is set, fails: a part that breaks halfway.
type partTables struct {
	tableSet // the other methods are not called by the committer
	part     string
	fail     bool
}

func (t *partTables) flush(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO parts (part) VALUES (?)`, t.part); err != nil {
		return err
	}
	if t.fail {
		return errors.New("disk on fire")
	}
	return nil
}

// TestCommitterTakesOutAFailingPart merges three projections' parts into
// one transaction, the second of which fails after writing a row. The other
// two must commit their rows and checkpoints once each, and nothing of the
// failing part may remain.
func TestCommitterTakesOutAFailingPart(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, ddl := range []string{generationsDDL, `CREATE TABLE parts (part TEXT NOT NULL)`,
		`INSERT INTO generations (projection, generation, schema) VALUES ('a', 1, ''), ('b', 1, ''), ('c', 1, '')`} {
		if _, err := db.Exec(ddl); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint, err := db.Prepare(`UPDATE generations SET commit_pos = ?, prepare_pos = ? WHERE projection = ? AND generation = ?`)
	if err != nil {
		t.Fatal(err)
	}
	defer checkpoint.Close()
	var batch []*commitRequest
	for i, name := range []string{"a", "b", "c"} {
		batch = append(batch, &commitRequest{
			ctx:    context.Background(),
			p:      &projection{name: name, writeCheckpoint: checkpoint},
			g:      &generation{number: 1, tables: &partTables{part: name, fail: name == "b"}},
			last:   eventstore.Position{Commit: uint64(10 + i), Prepare: uint64(10 + i)},
			events: 1,
		})
	}
	(&committer{db: db}).transact(batch)

	if batch[0].err != nil || batch[2].err != nil || batch[1].err == nil || batch[1].err.Error() != "disk on fire" {
		t.Fatalf("errors %v, %v, %v; want only b's", batch[0].err, batch[1].err, batch[2].err)
	}
	var parts []string
	rows, err := db.Query(`SELECT part FROM parts ORDER BY part`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		rows.Scan(&p)
		parts = append(parts, p)
	}
	if rows.Close(); !slices.Equal(parts, []string{"a", "c"}) {
		t.Fatalf("rows written %v, want [a c]: each committed part once, nothing of b", parts)
	}
	checkpoints := map[string]int64{}
	rows, err = db.Query(`SELECT projection, commit_pos FROM generations`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var pos int64
		rows.Scan(&name, &pos)
		checkpoints[name] = pos
	}
	rows.Close()
	if checkpoints["a"] != 10 || checkpoints["b"] != 0 || checkpoints["c"] != 12 {
		t.Fatalf("checkpoints %v, want a at 10, b not moved, c at 12", checkpoints)
	}
}
