package privacy

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
)

// The personal fields of the events, by stored path (the path is the
// additional data of each field's ciphertext). Inventory of every event
// type: the customer's name, phone, email and address at registration, and
// the name of whoever signed for the delivery, the name a file was uploaded
// under (the file's bytes are sealed apart, see SealBlob). Everything else is about the
// item, the money or the staff's work. Free text (defect, notes, reasons)
// and the product's serial or IMEI are not encrypted: they are needed for
// search and warranty decisions, and the desk is told not to put personal
// data in notes (docs/privacy.md).
const (
	pathName     = "customer.name"
	pathPhone    = "customer.phone"
	pathEmail    = "customer.email"
	pathAddress  = "customer.address"
	pathSignedBy = "signed_by"
	pathFileName = "file.name"
)

// HasPersonalFields reports whether events of this type carry personal
// fields that SealEvent encrypts.
func HasPersonalFields(e domain.Event) bool {
	switch e.(type) {
	case domain.ClaimRegistered, domain.DeliveryConfirmed, domain.FileAttached:
		return true
	}
	return false
}

// SealEvent returns e with its personal fields encrypted under the
// customer's current key; other events are returned as they are.
func (c *Codec) SealEvent(ctx context.Context, customerID string, e domain.Event) (domain.Event, error) {
	if !HasPersonalFields(e) {
		return e, nil
	}
	if !ValidCustomerID(customerID) {
		return nil, fmt.Errorf("privacy: seal %s: invalid customer id %q", e.EventType(), customerID)
	}
	subject, key, err := c.subject(ctx, customerID)
	if err != nil {
		return nil, err
	}
	var errs []error
	field := func(path string, v *string) {
		s, err := seal(subject, key, path, *v)
		*v = s
		errs = append(errs, err)
	}
	switch e := e.(type) {
	case domain.ClaimRegistered:
		field(pathName, &e.Customer.Name)
		field(pathPhone, &e.Customer.Phone)
		field(pathEmail, &e.Customer.Email)
		field(pathAddress, &e.Customer.Address)
		return e, errors.Join(errs...)
	case domain.DeliveryConfirmed:
		field(pathSignedBy, &e.SignedBy)
		return e, errors.Join(errs...)
	case domain.FileAttached:
		field(pathFileName, &e.Name)
		return e, errors.Join(errs...)
	}
	return e, nil
}

// OpenEvent returns e with its personal fields decrypted, domain.Erased
// for those whose key was destroyed. Fields stored in the clear (events
// written before encryption) are returned as they are.
func (c *Codec) OpenEvent(ctx context.Context, e domain.Event) (domain.Event, error) {
	var errs []error
	field := func(path string, v *string) {
		s, err := c.OpenString(ctx, path, *v)
		*v = s
		errs = append(errs, err)
	}
	switch e := e.(type) {
	case domain.ClaimRegistered:
		field(pathName, &e.Customer.Name)
		field(pathPhone, &e.Customer.Phone)
		field(pathEmail, &e.Customer.Email)
		field(pathAddress, &e.Customer.Address)
		return e, errors.Join(errs...)
	case domain.DeliveryConfirmed:
		field(pathSignedBy, &e.SignedBy)
		return e, errors.Join(errs...)
	case domain.FileAttached:
		field(pathFileName, &e.Name)
		return e, errors.Join(errs...)
	}
	return e, nil
}

// prefix is Prefix as bytes, for the cheap test that lets every event
// without personal fields through untouched.
var prefix = []byte(Prefix)

// Sealed reports whether stored event data holds an envelope.
func Sealed(data []byte) bool { return bytes.Contains(data, prefix) }

// OpenRecord returns rec with its data re-encoded from the opened event,
// for readers that show stored events (a claim's history). rec is
// returned as it is when it holds no envelope. The copy is for display:
// its data is not what the hash chain covers, which is why audit
// verification and export read the store itself.
func (c *Codec) OpenRecord(ctx context.Context, rec eventstore.RecordedEvent) (eventstore.RecordedEvent, error) {
	if !Sealed(rec.Data) {
		return rec, nil
	}
	e, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		return rec, err
	}
	if e, err = c.OpenEvent(ctx, e); err != nil {
		return rec, err
	}
	_, data, err := domain.EncodeEvent(e)
	if err != nil {
		return rec, err
	}
	rec.Data = data
	return rec, nil
}

// CustomerIDOf returns the customer id a stored registration was sealed
// for, read from its envelopes or its customer_id, without any key; ok is
// false for other events.
func CustomerIDOf(e domain.Event) (id string, ok bool) {
	reg, isReg := e.(domain.ClaimRegistered)
	if !isReg {
		return "", false
	}
	if reg.CustomerID != "" {
		return reg.CustomerID, true
	}
	if s, ok := SubjectOf(reg.Customer.Phone); ok {
		return CustomerOf(s), true
	}
	return "", false
}
