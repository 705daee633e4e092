// Package projections builds the read models of the ledger from the event
// store and answers queries from them.
//
// The flow is one way: the store's $all subscription feeds a watermill
// Subscriber; a watermill Router runs one handler per projection (with
// Recoverer and a bounded Retry); each handler folds the event into its
// read model and moves the projection's checkpoint in the same SQLite
// transaction. Because rows and checkpoint commit together, a crash at any
// instant leaves a read model that is exactly "every event up to the
// checkpoint", and delivery resumes right after it: no event is applied
// twice or skipped. Handlers are idempotent anyway: an event at or below
// the checkpoint is ignored.
//
// A projection that keeps failing on one event stops there (it never skips
// an event) and reports itself failed with the event's id; Health, metrics
// and logs say so.
//
// The read models live in readmodels.db in the data directory, apart from
// the event log, so that deleting the file is always safe: everything is
// rebuilt from position zero. Rebuild does that online, into a fresh set of
// tables, and switches to it atomically; the live tables keep serving
// queries until the switch.
//
// Two projections exist:
//
//   - "claims": one row per claim with its summary columns (number, status,
//     contact, product, timestamps, version, next action), the indexed
//     search columns and the full domain.State, folded with domain.Evolve.
//     Claim and Search read it.
//   - "status": the public status page's view, keyed by claim number and a
//     hash of the normalised phone, holding only what the page may show.
//     StatusLookup reads it.
package projections
