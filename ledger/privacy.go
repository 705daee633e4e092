package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/privacy"
)

// Crypto-shredding on the write side (see package privacy and
// docs/privacy.md). The personal fields are encrypted here, after Decide
// (which validates and normalises the plaintext) and before the events are
// encoded and sealed into the hash chain, so that the chain covers the
// ciphertext: destroying a customer's key later changes no stored byte,
// and the chain and the signed checkpoints still verify.

// ErrCustomerNotFound means no claim and no key belong to the customer id.
var ErrCustomerNotFound = errors.New("ledger: customer not found")

// ErrErasureUnavailable means the service runs without Config.Privacy:
// personal data is stored in the clear and cannot be crypto-shredded.
var ErrErasureUnavailable = errors.New("ledger: no key store configured; personal data is not encrypted")

// ActionErasePersonalData is the action recorded on erasure events; it is
// not a domain command, since erasure is decided by law, not by the
// claim's lifecycle, and is allowed in every state.
const ActionErasePersonalData = "erase-personal-data"

// sealPersonal returns the events to store: with the customer id set on a
// registration and the personal fields encrypted. The events given keep
// their plaintext (the caller folds them into the answer), gaining only the
// customer id.
func (s *Service) sealPersonal(ctx context.Context, h history, events []domain.Event) ([]domain.Event, error) {
	c := s.cfg.Privacy
	if c == nil {
		return events, nil
	}
	stored := make([]domain.Event, len(events))
	for i, e := range events {
		customerID := h.customerID
		if reg, ok := e.(domain.ClaimRegistered); ok {
			id, err := c.CustomerID(ctx, reg.Customer.Phone)
			if err != nil {
				return nil, err
			}
			reg.CustomerID, customerID = id, id
			events[i], e = reg, reg
		}
		if customerID == "" && privacy.HasPersonalFields(e) {
			// A claim registered before encryption: its personal data is
			// in the clear already, but what is added now need not be.
			if phone := h.state.Customer.Phone; phone != "" && phone != domain.Erased {
				id, err := c.CustomerID(ctx, phone)
				if err != nil {
					return nil, err
				}
				customerID = id
			}
		}
		if customerID == "" {
			stored[i] = e
			continue
		}
		sealed, err := c.SealEvent(ctx, customerID, e)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		stored[i] = sealed
	}
	return stored, nil
}

func (s *Service) openEvent(ctx context.Context, e domain.Event) (domain.Event, error) {
	if s.cfg.Privacy == nil {
		return e, nil
	}
	return s.cfg.Privacy.OpenEvent(ctx, e)
}

func (s *Service) openRecords(ctx context.Context, records []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	if s.cfg.Privacy == nil {
		return records, nil
	}
	out := make([]eventstore.RecordedEvent, len(records))
	for i, r := range records {
		var err error
		if out[i], err = s.cfg.Privacy.OpenRecord(ctx, r); err != nil {
			return nil, fmt.Errorf("ledger: %s revision %d: %w", r.Stream, r.Revision, err)
		}
	}
	return out, nil
}

// openForReading opens a history to be shown, as the read models open theirs:
// an envelope that does not open (its key missing from the key store, or the
// envelope altered) stays sealed instead of failing the whole history, so the
// history can still be read and audit verify names the alteration. A key
// store that does not answer is still an error.
func (s *Service) openForReading(ctx context.Context, records []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	if s.cfg.Privacy == nil {
		return records, nil
	}
	out := make([]eventstore.RecordedEvent, len(records))
	for i, r := range records {
		opened, err := s.cfg.Privacy.OpenRecord(ctx, r)
		switch {
		case errors.Is(err, privacy.ErrCorrupt):
			out[i] = r
		case err != nil:
			return nil, fmt.Errorf("ledger: %s revision %d: %w", r.Stream, r.Revision, err)
		default:
			out[i] = opened
		}
	}
	return out, nil
}

// Erasure is what EraseCustomer did.
type Erasure struct {
	CustomerID string
	// Claims are the customer's claims, each now ending in (or already
	// holding) a PersonalDataErased event.
	Claims []uuid.UUID
	// Recorded counts the erasure events this call appended; 0 when the
	// customer was erased before (the call is idempotent).
	Recorded int
	// Position is the $all position of the last event appended, for
	// read-your-writes; zero when none was.
	Position eventstore.Position
}

// EraseCustomer crypto-shreds a customer: it destroys every data key the
// customer had, then appends claim.personal_data_erased.v1 to each of the
// customer's claims that does not yet end its personal data with one. The
// key goes first: once it is gone the data is unreadable whatever happens
// next, and a failed append is completed by calling again (both steps are
// idempotent). The erasure events are what make the read models drop the
// fields at once; a rebuild gives the same, as the fields no longer open.
func (s *Service) EraseCustomer(ctx context.Context, customerID string, req Request) (Erasure, error) {
	c := s.cfg.Privacy
	if c == nil {
		return Erasure{}, ErrErasureUnavailable
	}
	if !privacy.ValidCustomerID(customerID) {
		return Erasure{}, ErrCustomerNotFound
	}
	claims, err := s.claimsOf(ctx, customerID)
	if err != nil {
		return Erasure{}, err
	}
	err = c.Erase(ctx, customerID)
	// The cached histories may hold the customer's data opened: drop them
	// all, whatever Erase managed (some keys may be gone even if it failed).
	s.cache.invalidate()
	if errors.Is(err, privacy.ErrNoKey) {
		if len(claims) == 0 {
			return Erasure{}, ErrCustomerNotFound
		}
	} else if err != nil {
		return Erasure{}, err
	}
	out := Erasure{CustomerID: customerID, Claims: claims}
	for _, id := range claims {
		pos, wrote, err := s.recordErasure(ctx, id, customerID, req)
		if err != nil {
			return out, err
		}
		if wrote {
			out.Recorded++
			out.Position = pos
		}
	}
	return out, nil
}

// claimsOf finds the customer's claims from the registrations in the log:
// the customer id is stored on them in the clear, so no key is needed,
// and nothing but the log has to be right. Erasure is rare; reading every
// registration is an acceptable price for not keeping another index.
func (s *Service) claimsOf(ctx context.Context, customerID string) ([]uuid.UUID, error) {
	filter := eventstore.Filter{StreamPrefixes: []string{eventlog.Claims.Prefix()}, TypePrefixes: []string{domain.ClaimRegistered{}.EventType()}}
	var (
		after eventstore.Position
		out   []uuid.UUID
	)
	for {
		recs, err := s.store.ReadAll(ctx, after, 1024, filter)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return out, nil
		}
		for _, r := range recs {
			var reg struct {
				CustomerID string `json:"customer_id"`
				Customer   struct {
					Phone string `json:"phone"`
				} `json:"customer"`
			}
			if err := json.Unmarshal(r.Data, &reg); err != nil {
				return nil, fmt.Errorf("ledger: %s revision %d: %w", r.Stream, r.Revision, err)
			}
			id := reg.CustomerID
			if subject, ok := privacy.SubjectOf(reg.Customer.Phone); ok && id == "" {
				id = privacy.CustomerOf(subject)
			}
			if id != customerID {
				continue
			}
			claim, err := eventlog.Claims.ID(r.Stream)
			if err != nil {
				return nil, fmt.Errorf("ledger: %w", err)
			}
			out = append(out, claim)
		}
		after = recs[len(recs)-1].Position
	}
}

// recordErasure appends the erasure event to one claim unless its last
// event with personal data is already followed by one.
func (s *Service) recordErasure(ctx context.Context, id uuid.UUID, customerID string, req Request) (eventstore.Position, bool, error) {
	for attempt := 0; attempt < s.cfg.MaxAttempts; attempt++ {
		h, err := s.load(ctx, id)
		if err != nil {
			return eventstore.Position{}, false, err
		}
		if erasedAlready(h) {
			return eventstore.Position{}, false, nil
		}
		now := s.cfg.Clock()
		correlation := req.CorrelationID
		if correlation == "" {
			correlation = s.cfg.NewID().String()
		}
		meta, err := eventlog.Metadata{
			CorrelationID: correlation, CausationID: correlation,
			Actor: req.Actor.Name, Role: req.Actor.Role, Action: ActionErasePersonalData,
			OccurredAt: now.UTC(), PolicyVersion: s.governing(h, now).Version,
		}.Encode()
		if err != nil {
			return eventstore.Position{}, false, err
		}
		typ, body, err := domain.EncodeEvent(domain.PersonalDataErased{CustomerID: customerID, At: now.UTC()})
		if err != nil {
			return eventstore.Position{}, false, err
		}
		data := []eventstore.EventData{{ID: s.cfg.NewID(), Type: typ, Data: body, Metadata: meta}}
		if err := h.seal(eventlog.Claims.Stream(id), data); err != nil {
			return eventstore.Position{}, false, err
		}
		res, err := s.store.Append(ctx, eventlog.Claims.Stream(id), eventstore.Exact(uint64(h.state.Version-1)), data...)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			continue
		}
		if err != nil {
			return eventstore.Position{}, false, err
		}
		s.cache.forget(id) // its history lacks the erasure now
		return res.Position, true, nil
	}
	return eventstore.Position{}, false, ErrConflict
}

// erasedAlready reports whether an erasure event follows every stored
// event that carries personal data.
func erasedAlready(h history) bool {
	erased := false
	for i, r := range h.records {
		switch {
		case h.events[i].EventType() == (domain.PersonalDataErased{}).EventType():
			erased = true
		case privacy.Sealed(r.Data):
			erased = false
		}
	}
	return erased
}
