package embedded

import (
	"context"
	"database/sql"
	"fmt"
)

// schemaVersion is stored in PRAGMA user_version. Each entry of migrations
// takes the file from version i to i+1; a file newer than this binary is
// refused rather than guessed at.
var schemaVersion = len(migrations)

var migrations = []string{
	// 0 -> 1. position is the rowid (the $all order, assigned by the writer,
	// 1, 2, 3...); (stream, revision) is unique and serves stream reads and
	// the writer's "last revision" lookups. created is Unix nanoseconds UTC.
	`CREATE TABLE events (
		position INTEGER PRIMARY KEY,
		stream   TEXT    NOT NULL,
		revision INTEGER NOT NULL,
		id       BLOB    NOT NULL,
		type     TEXT    NOT NULL,
		data     BLOB,
		metadata BLOB,
		created  INTEGER NOT NULL,
		UNIQUE (stream, revision)
	) STRICT`,
}

// migrate brings the schema up to schemaVersion in one transaction.
func migrate(ctx context.Context, conn *sql.Conn) error {
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("embedded: read schema version: %w", err)
	}
	if version > schemaVersion {
		return fmt.Errorf("embedded: schema version %d is newer than this binary's %d", version, schemaVersion)
	}
	if version == schemaVersion {
		return nil
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("embedded: migrate: %w", err)
	}
	defer tx.Rollback()
	for v := version; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("embedded: migrate to version %d: %w", v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own constant.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("embedded: set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("embedded: migrate: %w", err)
	}
	return nil
}
