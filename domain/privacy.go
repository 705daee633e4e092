package domain

import (
	"slices"
	"time"
)

// Erased is what a personal field reads once its customer's data was erased (crypto-shredded):
// the ciphertext stays in the ledger, but the key that opened it is gone.
const Erased = "[erased]"

// PersonalDataErased records that the customer's personal data on this claim was erased on
// request (GDPR art. 17): the data key was destroyed, so the encrypted fields of every earlier
// event can no longer be read. It is written to each of the customer's claim streams rather
// than to a stream of its own, so that every claim read model, which folds claim streams only,
// reacts to it as to any other event, and the claim's history shows when it happened.
// CustomerID is the pseudonymous id (see privacy.Codec.CustomerID), never personal data.
type PersonalDataErased struct {
	CustomerID string    `json:"customer_id"`
	At         time.Time `json:"at"`
}

// EventType returns "claim.personal_data_erased.v1".
func (PersonalDataErased) EventType() string { return "claim.personal_data_erased.v1" }

func (e PersonalDataErased) occurredAt() time.Time { return e.At }

// erasePersonal blanks what the claim holds of the person: the customer's fields (those that
// were given) and the name signed at delivery. It is what a fold shows after the erasure
// event, whether or not the key could still open the older events.
func (s State) erasePersonal() State {
	mark := func(v string) string {
		if v == "" {
			return ""
		}
		return Erased
	}
	s.Customer = Customer{Name: mark(s.Customer.Name), Phone: mark(s.Customer.Phone),
		Email: mark(s.Customer.Email), Address: mark(s.Customer.Address)}
	if s.Delivery != nil {
		d := *s.Delivery
		d.SignedBy = mark(d.SignedBy)
		s.Delivery = &d
	}
	if len(s.Files) > 0 {
		files := slices.Clone(s.Files)
		for i := range files {
			files[i].Name = mark(files[i].Name)
		}
		s.Files = files
	}
	s.PersonalDataErased = true
	return s
}

// ErasePersonal returns e with its personal fields (those PersonalDataErased blanks in a
// State) replaced by Erased, for readers that keep text derived from single events, such
// as an audit trail's summaries.
func ErasePersonal(e Event) Event {
	mark := func(v string) string {
		if v == "" {
			return ""
		}
		return Erased
	}
	switch e := e.(type) {
	case ClaimRegistered:
		e.Customer = Customer{Name: mark(e.Customer.Name), Phone: mark(e.Customer.Phone),
			Email: mark(e.Customer.Email), Address: mark(e.Customer.Address)}
		return e
	case DeliveryConfirmed:
		e.SignedBy = mark(e.SignedBy)
		return e
	case FileAttached:
		e.Name = mark(e.Name)
		return e
	}
	return e
}
