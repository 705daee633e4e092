package api

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"

	"github.com/rmaledger/rmaledger/privacy"
)

// Personal data that does not open is the deployment's failure (its key store is missing a key,
// or an event was altered): a 500 that says so and what to do, never a bare internal error.
func TestUnreadablePersonalDataNamesTheCause(t *testing.T) {
	p := problemFor(fmt.Errorf("ledger: claim-x revision 0: %w", privacy.ErrCorrupt))
	if p.Status != http.StatusInternalServerError || p.Type != problemType("personal-data-unreadable") || p.Detail == "" {
		t.Errorf("got %d %s %q", p.Status, p.Type, p.Detail)
	}
}

// A storage fault met by a read (an I/O error of the read models' file) is the storage's
// failure, answered 503 with Retry-After like a write's, even when its store did not mark it.
func TestReadStorageFaultIsUnavailable(t *testing.T) {
	p := problemFor(fmt.Errorf("projections: search: %w", syscall.EIO))
	if p.Status != http.StatusServiceUnavailable || p.Type != problemType("unavailable") {
		t.Errorf("got %d %s", p.Status, p.Type)
	}
}
