package payments

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

// FuzzParseStripeEvent feeds signed bodies of any shape to the webhook parser: it never
// panics, and whatever it accepts names a claim, a payment id and an amount in a known
// currency; everything else is an ignored event or a malformed one, never a signature error.
func FuzzParseStripeEvent(f *testing.F) {
	fixture, err := os.ReadFile("testdata/checkout.session.completed.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	f.Add([]byte(`{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"payment_status":"paid","client_reference_id":"0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e","amount_total":-1,"currency":"eur"}}}`))
	f.Add([]byte(`{"type":"checkout.session.async_payment_succeeded","data":null}`))
	f.Add([]byte(`{"id":"evt_2","type":"checkout.session.completed","data":{"object":{"payment_status":"paid","client_reference_id":"00000000-0000-0000-0000-000000000000","amount_total":1,"currency":"eur","id":"cs_1"}}}`))
	f.Add([]byte(`[]`))
	const secret = "whsec_fuzz"
	f.Fuzz(func(t *testing.T, body []byte) {
		now := time.Now().Unix()
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "%d.%s", now, body)
		header := fmt.Sprintf("t=%d,v1=%s", now, hex.EncodeToString(mac.Sum(nil)))
		c, err := parseStripeEvent(body, header, secret, time.Minute)
		var ignored *IgnoredError
		switch {
		case err == nil:
			if _, known := domain.CurrencyExponent(c.Amount.Currency); c.ClaimID == uuid.Nil || c.PaymentID == "" || !known {
				t.Errorf("accepted %+v from %q", c, body)
			}
		case errors.As(err, &ignored), errors.Is(err, ErrMalformedEvent):
		default:
			t.Errorf("a correctly signed body gave %v", err)
		}
	})
}
