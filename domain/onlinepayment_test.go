package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// onlinePayment is a payment an online provider confirmed, as the payments service records it.
func onlinePayment(amount, id string) *domain.RecordPayment {
	return &domain.RecordPayment{Amount: eur(amount), Reference: id, Method: domain.PaymentOnline, Provider: "stripe", ProviderPaymentID: id}
}

func TestProviderPayments(t *testing.T) {
	paidOnline := with(history(t, "estimate_accepted"),
		domain.PaymentRecorded{Amount: eur("30"), Reference: "pi_1", Method: domain.PaymentOnline, Provider: "stripe", ProviderPaymentID: "pi_1", At: t0})
	run(t, []gwt{
		{
			name:  "a provider's payment records the provider and its payment id",
			given: history(t, "estimate_accepted"),
			when:  onlinePayment("75", "pi_1"),
			then: []domain.Event{domain.PaymentRecorded{Amount: eur("75.00"), Reference: "pi_1", Method: domain.PaymentOnline,
				Provider: "stripe", ProviderPaymentID: "pi_1", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusPaid || len(s.Payments) != 1 || s.Payments[0].Provider != "stripe" || s.Payments[0].ProviderPaymentID != "pi_1" {
					t.Errorf("status %s payments %+v", s.Status, s.Payments)
				}
			},
		},
		{
			name:  "the same provider payment id is recorded once",
			given: paidOnline,
			when:  &domain.RecordPayment{Amount: eur("1"), Reference: "other-ref", Method: domain.PaymentOnline, Provider: "stripe", ProviderPaymentID: "pi_1"},
			err:   domain.ErrDuplicateReference,
		},
		{
			name:  "another provider may use the same id",
			given: paidOnline,
			when:  &domain.RecordPayment{Amount: eur("1"), Reference: "sandbox-pi_1", Method: domain.PaymentOnline, Provider: "sandbox", ProviderPaymentID: "pi_1"},
			then: []domain.Event{domain.PaymentRecorded{Amount: eur("1.00"), Reference: "sandbox-pi_1", Method: domain.PaymentOnline,
				Provider: "sandbox", ProviderPaymentID: "pi_1", At: whenAt}},
		},
		{
			name:   "a provider without its payment id",
			given:  history(t, "estimate_accepted"),
			when:   &domain.RecordPayment{Amount: eur("1"), Reference: "r", Method: domain.PaymentOnline, Provider: "stripe"},
			fields: []string{"provider_payment_id"},
		},
		{
			name:   "a provider's payment is an online payment",
			given:  history(t, "estimate_accepted"),
			when:   &domain.RecordPayment{Amount: eur("1"), Reference: "r", Method: domain.PaymentCash, Provider: "stripe", ProviderPaymentID: "pi_9"},
			fields: []string{"method"},
		},
	})
}

// TestPaymentRecordedWithoutProvider reads a payment stored before online payment existed: it
// decodes with no provider, and one with a provider encodes and decodes both fields.
func TestPaymentRecordedWithoutProvider(t *testing.T) {
	old := []byte(`{"amount":{"amount":"75.00","currency":"EUR"},"reference":"PAY-1","method":"bank_transfer","at":"2026-03-10T11:00:00Z"}`)
	got, err := domain.DecodeEvent("claim.payment_recorded.v1", old)
	want := domain.PaymentRecorded{Amount: eur("75"), Reference: "PAY-1", Method: domain.PaymentBankTransfer, At: time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("old payment: got %#v, %v; want %#v", got, err, want)
	}
	online := want
	online.Method, online.Provider, online.ProviderPaymentID = domain.PaymentOnline, "stripe", "pi_1"
	typ, body, err := domain.EncodeEvent(online)
	if err != nil {
		t.Fatal(err)
	}
	back, err := domain.DecodeEvent(typ, body)
	if err != nil || !reflect.DeepEqual(back, online) {
		t.Errorf("round trip: got %#v, %v; want %#v", back, err, online)
	}
}
