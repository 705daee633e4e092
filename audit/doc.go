// Package audit makes the ledger's history provable: the canonical form and
// content hash of an event, the per-stream hash chain the ledger seals at
// append time (Seal, SealEvents), the ledger-wide chain over $all (Chain),
// signed checkpoints of it (Signer, Checkpointer), verification of a store
// (Verify, VerifyStream), exports an auditor can check offline with only
// the public key (Export, Check), and point-in-time replay of a claim
// (StateAsOf, StateAtVersion, History).
//
// It knows the event store's bytes and the domain's events, and nothing of
// HTTP or of read models: the API, the CLI and the ledger use it. The
// canonical form is a contract, documented in docs/audit.md with a worked
// example that canonical_test.go checks; it must not change.
package audit
