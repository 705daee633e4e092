package domain_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

func TestIsInternalNote(t *testing.T) {
	encode := func(e domain.Event) (string, []byte) {
		t.Helper()
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return e.EventType(), data
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		e    domain.Event
		want bool
	}{
		{"an internal note", domain.NoteAdded{Text: "Suspect the seal was reglued.", Visibility: domain.VisibilityInternal, At: at}, true},
		{"a note for the customer", domain.NoteAdded{Text: "Label attached.", Visibility: domain.VisibilityCustomer, At: at}, false},
		{"another event", domain.ClaimRejected{ReasonCode: "warranty_void", At: at}, false},
	} {
		typ, data := encode(tc.e)
		if got := domain.IsInternalNote(typ, data); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if !domain.IsInternalNote("claim.note_added.v1", []byte("{not json")) {
		t.Error("a note that cannot be read would be shown outside the company")
	}
}
