// Package archtest holds the test of the import rules of docs/architecture.md: which packages
// of this module may depend on which, and which packages alone may use a given library.
//
// The rules bind the whole module, so they live in a package of their own rather than in any
// one package's tests (domain's purity test, domain/purity_test.go, stays where it is: it
// checks domain's standard-library imports and its source, which are domain's own business).
// The package has no code; `go test ./internal/archtest/` runs the check.
package archtest
