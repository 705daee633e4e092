// Package domain is the claim lifecycle of RMA Ledger: the commands a client may send, the
// events that record what happened, the State folded from those events, and Decide, which turns
// a command into new events or a domain error.
//
// The package is pure. It performs no I/O, never reads the clock and never draws random
// numbers or identifiers: the time of a decision, the claim's identity and the policy in force
// are arguments. That is what makes a decision reproducible from the event history alone and
// lets an auditor re-run it; purity_test.go enforces the rule.
//
// Money is an integer of minor units with an ISO 4217 currency; no floating point is used.
package domain
