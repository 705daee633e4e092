package webhooks

import (
	"testing"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/privacy"
)

// TestEveryPersonalEventIsRedacted: each event type whose fields the
// privacy package encrypts as personal has its fields left out of
// payloads, so a new personal event type cannot leak through webhooks
// unnoticed.
func TestEveryPersonalEventIsRedacted(t *testing.T) {
	personal := 0
	for _, typ := range domain.EventTypes() {
		e, err := domain.DecodeEvent(typ, []byte(`{}`))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if privacy.HasPersonalFields(e) {
			personal++
			if len(personalFields[typ]) == 0 {
				t.Errorf("%s holds personal fields; personalFields leaves none of them out", typ)
			}
		}
	}
	if personal == 0 {
		t.Fatal("no event type holds personal fields: the check checks nothing")
	}
}
