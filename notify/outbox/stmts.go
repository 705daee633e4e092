package outbox

import (
	"context"
	"database/sql"
	"sync"
)

// statements prepares each of the outbox's statements once, on first use,
// and keeps it for the life of the database. The projection and the
// senders run the same few statements for every event and message, and
// SQLite spends more preparing such a statement than running it.
type statements struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns query prepared. Within a transaction (tx not nil) it only
// finds a statement prepared before: preparing needs the database's one
// connection, which the transaction holds; it then returns nil and the
// caller runs the query unprepared within tx.
func (s *statements) get(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.m[query]
	s.mu.Unlock()
	switch {
	case ok && tx != nil:
		return tx.StmtContext(ctx, st), nil
	case ok:
		return st, nil
	case tx != nil:
		return nil, nil
	}
	// Not under s.mu: preparing waits for the connection, and whoever
	// holds it may need a statement meanwhile.
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if had, ok := s.m[query]; ok {
		st.Close()
		return had, nil
	}
	if s.m == nil {
		s.m = map[string]*sql.Stmt{}
	}
	s.m[query] = st
	return st, nil
}

// prepare prepares queries ahead, for the statements run within
// transactions.
func (s *statements) prepare(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if _, err := s.get(ctx, nil, q); err != nil {
			return err
		}
	}
	return nil
}

// exec runs a prepared statement, within tx when it is not nil.
func (o *Outbox) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := o.stmts.get(ctx, tx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// query runs a prepared query on a reading connection.
func (o *Outbox) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := o.reads.get(ctx, nil, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a prepared query of one row: within tx when it is not nil,
// else on a reading connection. A statement that cannot be prepared is run
// unprepared, which reports why.
func (o *Outbox) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if tx == nil {
		st, err := o.reads.get(ctx, nil, query)
		if err != nil {
			return o.rdb.QueryRowContext(ctx, query, args...)
		}
		return st.QueryRowContext(ctx, args...)
	}
	st, err := o.stmts.get(ctx, tx, query)
	if err != nil || st == nil {
		return tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// close closes every prepared statement.
func (s *statements) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.m {
		st.Close()
	}
	s.m = nil
}
