package policy_test

import (
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/policy"
)

// TestDocumentsBeforeShipment: the seeds check documents first; a file that says nothing lets
// the goods come with them; anything but true or false is refused with its line.
func TestDocumentsBeforeShipment(t *testing.T) {
	if !policy.Default().Latest().DocumentsBeforeShipment {
		t.Errorf("the default policy lets the goods ship before the documents are checked")
	}
	file := func(setting string) string {
		return "versions:\n  - version: v1\n    time_zone: Europe/Sofia\n    working_hours: {monday: [\"10:00-18:00\"]}\n" + setting
	}
	for setting, want := range map[string]bool{"": false, "    documents_before_shipment: true\n": true, "    documents_before_shipment: false\n": false} {
		book, err := policy.Parse("p.yaml", []byte(file(setting)))
		if err != nil {
			t.Fatalf("%q: %v", setting, err)
		}
		if got := book.Latest().DocumentsBeforeShipment; got != want {
			t.Errorf("%q: documents before shipment %v, want %v", setting, got, want)
		}
	}
	_, err := policy.Parse("p.yaml", []byte(file("    documents_before_shipment: first\n")))
	if err == nil || !strings.Contains(err.Error(), "line 5") || !strings.Contains(err.Error(), "documents_before_shipment") {
		t.Errorf("a wrong value: %v", err)
	}
}
