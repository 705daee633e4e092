package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// ErrUnknownEventType is returned for an event type this package neither decodes nor upcasts.
// A reader must stop rather than skip it: a fold that silently skipped an event would show a
// claim that never existed.
var ErrUnknownEventType = errors.New("unknown event type")

// decodeFunc turns stored JSON into an event value with the given unmarshal function.
type decodeFunc func(data []byte, unmarshal Unmarshaler) (Event, error)

// decoderFor returns the stored name of E and a decoder into an E value. The name comes from
// E's own EventType method, so the registry cannot disagree with the types.
func decoderFor[E Event]() (string, decodeFunc) {
	var zero E
	return zero.EventType(), func(data []byte, unmarshal Unmarshaler) (Event, error) {
		var e E
		err := unmarshal(data, &e)
		return e, err
	}
}

// eventTypes lists the current stored names in lifecycle order, and registry maps each to its
// decoder. Adding an event type means adding it here; the codec test fails until it is.
var eventTypes, registry = newRegistry(
	decoderFor[ClaimRegistered],
	decoderFor[ClaimRedirectedToServiceCenter],
	decoderFor[ServiceCenterActRecorded],
	decoderFor[ClaimAuthorized],
	decoderFor[ClaimRejected],
	decoderFor[DocumentsReceived],
	decoderFor[CustomerShipmentRecorded],
	decoderFor[ClaimReceived],
	decoderFor[ClaimDiagnosed],
	decoderFor[EstimateIssued],
	decoderFor[EstimateAccepted],
	decoderFor[EstimateDeclined],
	decoderFor[PaymentRecorded],
	decoderFor[RepairStarted],
	decoderFor[RepairCompleted],
	decoderFor[ItemReplaced],
	decoderFor[RefundApproved],
	decoderFor[RefundPaid],
	decoderFor[CreditNoteIssued],
	decoderFor[ClaimReturnedUnrepaired],
	decoderFor[ReturnShipped],
	decoderFor[DeliveryConfirmed],
	decoderFor[DisputeOpened],
	decoderFor[DisputeResolved],
	decoderFor[NoteAdded],
	decoderFor[ClaimPutOnHold],
	decoderFor[ClaimReleasedFromHold],
	decoderFor[ClaimWithdrawn],
	decoderFor[ClaimClosed],
	decoderFor[SupplierRecoveryClaimed],
	decoderFor[SupplierRecoveryReceived],
	decoderFor[RefundApprovalReversed],
	decoderFor[RefundPaymentReversed],
	decoderFor[PaymentReversed],
	decoderFor[CreditNoteCancelled],
	decoderFor[SLABreached],
	decoderFor[RepairEscalated],
	decoderFor[PersonalDataErased],
	decoderFor[ClaimResolvedRemotely],
	decoderFor[ClaimAssigned],
	decoderFor[ServiceReportConfirmed],
	decoderFor[FileAttached],
)

// newRegistry builds the registry, refusing duplicate names at start-up.
func newRegistry(entries ...func() (string, decodeFunc)) ([]string, map[string]decodeFunc) {
	names := make([]string, 0, len(entries))
	reg := make(map[string]decodeFunc, len(entries))
	for _, entry := range entries {
		name, decode := entry()
		if _, dup := reg[name]; dup {
			panic("domain: event type registered twice: " + name)
		}
		names = append(names, name)
		reg[name] = decode
	}
	return names, reg
}

// upcaster rewrites a stored event of an old version as the next version: it returns the new
// type name and data. Chains are followed (v1 -> v2 -> v3), so each upcaster knows only one step.
type upcaster func(data []byte) (eventType string, upgraded []byte, err error)

// upcasters is the upcaster hook, keyed by the old stored name. There are none yet: every
// event is at v1. When an event changes, its old name gets an entry here and its type moves
// to the new name; stored events are never rewritten.
var upcasters = map[string]upcaster{}

// maxUpcasts bounds an upcaster chain so that a cycle is an error, not a hang.
const maxUpcasts = 16

// EventTypes returns the stored names of the current event types, e.g. for a store
// subscription filter. The slice is a copy.
func EventTypes() []string { return slices.Clone(eventTypes) }

// EncodeEvent returns the stored name and JSON of an event. Only registered event types are
// encoded, so that nothing is written that DecodeEvent could not read back.
func EncodeEvent(e Event) (eventType string, data []byte, err error) {
	if e == nil {
		return "", nil, errors.New("domain: encode nil event")
	}
	eventType = e.EventType()
	if _, ok := registry[eventType]; !ok {
		return "", nil, fmt.Errorf("domain: encode %T: %w %q", e, ErrUnknownEventType, eventType)
	}
	data, err = json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("domain: encode %s: %w", eventType, err)
	}
	return eventType, data, nil
}

// DecodeEvent reads a stored event, upcasting old versions first. The result is an event
// value of the current version; an unknown type is ErrUnknownEventType.
func DecodeEvent(eventType string, data []byte) (Event, error) {
	return DecodeEventWith(json.Unmarshal, eventType, data)
}

// Unmarshaler is json.Unmarshal's signature: a JSON decoder DecodeEventWith can use.
type Unmarshaler func(data []byte, v any) error

// DecodeEventWith is DecodeEvent with another JSON decoder for the event's data. It exists
// for read-model rebuilds, which decode every stored event and for which encoding/json is
// the largest cost: a faster decoder that is compatible with encoding/json (it honours the
// events' tags and their UnmarshalJSON methods) can be passed in from outside, while domain
// itself keeps to the standard library. The upcasting, the registry and the errors are
// DecodeEvent's.
func DecodeEventWith(unmarshal Unmarshaler, eventType string, data []byte) (Event, error) {
	original := eventType
	for range maxUpcasts {
		up, ok := upcasters[eventType]
		if !ok {
			break
		}
		var err error
		if eventType, data, err = up(data); err != nil {
			return nil, fmt.Errorf("domain: upcast %s: %w", original, err)
		}
	}
	if _, stillOld := upcasters[eventType]; stillOld {
		return nil, fmt.Errorf("domain: upcasting %s did not end after %d steps", original, maxUpcasts)
	}
	decode, ok := registry[eventType]
	if !ok {
		return nil, fmt.Errorf("domain: decode: %w %q", ErrUnknownEventType, eventType)
	}
	e, err := decode(data, unmarshal)
	if err != nil {
		return nil, fmt.Errorf("domain: decode %s: %w", eventType, err)
	}
	return e, nil
}
