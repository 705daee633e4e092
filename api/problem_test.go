package api

import (
	"fmt"
	"net/http"
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
