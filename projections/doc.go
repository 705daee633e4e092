// Package projections builds the read models of the ledger from the event
// store and answers queries from them.
//
// The flow is one way: the store's $all subscription, read and decoded
// once for every projection (a feed.Feed, shared with the process's other
// consumers), feeds a watermill Subscriber; a watermill Router runs one
// handler per projection (with
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
// One transaction per event is what makes an event visible at once, and
// what a SQLite writer can afford only so often, so a projection batches
// whenever events wait: at start it applies its backlog from the store in
// batches (catch-up) before following live; live, when events pile up in
// its subscription, it applies them together; and the projections' live
// transactions that arrive at the same moment are merged into one (group
// commit; if one projection's part fails, the others are written again
// without it). A batch is still one
// transaction for its rows and its checkpoint. When a batch fails, its
// events go through the router one by one, so that Retry and the failure
// report concern the one event at fault.
//
// The read models live in readmodels.db in the data directory, apart from
// the event log, so that deleting the file is always safe: everything is
// rebuilt from position zero. Rebuild does that online, into a fresh set of
// tables, and switches to it atomically; the live tables keep serving
// queries until the switch. A rebuild reads and decodes the log once for
// every projection it rebuilds, folds in memory and writes each claim's row
// about once.
//
// Five projections exist, each with its own tables in that one file:
//
//   - "claims": one row per claim with its summary columns (number, status,
//     contact, product, timestamps, version, next action), the indexed
//     search columns and the full domain.State, folded with domain.Evolve.
//     Claim and Search read it.
//   - "status": the public status page's view, keyed by claim number and a
//     hash of the normalised phone, holding only what the page may show.
//     StatusLookup and StatusLookupJSON read it.
//   - "timers": every claim's SLA clocks, and a row per open clock with its
//     status and due time. Timers, ClaimClocks and DueTimers read it.
//   - "audit_trail": an index over the log, one row per claim event in $all
//     order with what its filters need (claim, action, actor, role, time).
//     AuditTrailPage reads it, then the page's events from the log for the
//     rest (summary, reason, event id and type).
//   - "compensations": the finance ledger, a row per financial fact of a
//     claim, and the discrepancies in each claim's money history.
//     CompensationsPage and Reconciliation read it.
package projections
