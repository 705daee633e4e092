// Package ledger is the application layer between the HTTP API (and, later,
// process managers) and the pure domain: it loads a claim's stream, folds it,
// asks domain.Decide for new events and appends them with the expected
// revision, retrying on conflicts. It is the one place that turns a command
// into stored events, so every client of the write side gets the same
// idempotency, concurrency and metadata rules.
//
// The architecture lists cmd, domain, eventstore, projections and api; this
// package exists so that command handling is not buried in HTTP handlers
// (the SLA process managers issue commands too), as in wild-workouts' app layer.
package ledger
