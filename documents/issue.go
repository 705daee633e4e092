package documents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Issuing a PDF records it in the claim's documents stream, sealed into the audit hash chain:
// which document, of which claim version, in which language, its SHA-256 and who issued it.
// A paper can thus be traced back to the ledger (Check), and its bytes produced again from it.
const (
	// IssuedType is the type of the event that records an issued document.
	IssuedType = "document.issued.v1"
)

// Issued is what the ledger keeps of an issued document.
type Issued struct {
	ClaimID  uuid.UUID `json:"claim_id"`
	Number   string    `json:"number"`
	Kind     Kind      `json:"kind"`
	Version  int64     `json:"version"`
	Language string    `json:"language"`
	SHA256   string    `json:"sha256"`
	IssuedBy string    `json:"issued_by"`
	Role     string    `json:"role"`
	IssuedAt time.Time `json:"issued_at"`
}

// issuedMeta is the event's metadata in the form the audit readers know.
type issuedMeta struct {
	Actor      string    `json:"actor"`
	Role       string    `json:"role"`
	Action     string    `json:"action"`
	OccurredAt time.Time `json:"occurred_at"`
}

// ClaimEvents reads a claim's events, personal data opened (the ledger's Events); it answers
// ledger.ErrNotFound for an unknown claim.
type ClaimEvents interface {
	Events(ctx context.Context, id uuid.UUID) ([]eventstore.RecordedEvent, error)
}

// Service renders a claim's documents at a version and records the PDFs it issues.
type Service struct {
	Renderer *Renderer
	Claims   ClaimEvents
	Store    eventstore.Store
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Policies, when set, are the warranty and SLA policies: the authorization says by when
	// the goods are due (the shipment window of the claim's governing policy), and dates are
	// in the policy's time zone. nil: no due date, dates in UTC.
	Policies *domain.PolicyBook
	// Languages, when set, knows the language the customer chose for the claim (the portal
	// link's); documents are in it unless one is asked for.
	Languages ClaimLanguages
}

// ClaimLanguages knows a claim's language ("" when none was chosen).
type ClaimLanguages interface {
	Language(ctx context.Context, claimID uuid.UUID) (string, error)
}

// LanguageFor chooses a document's language: the one asked for, else the claim's, else the
// best for the reader's Accept-Language, else English.
func (s *Service) LanguageFor(ctx context.Context, claimID uuid.UUID, asked, acceptLanguage string) string {
	if asked == "" && s.Languages != nil {
		if claimLang, err := s.Languages.Language(ctx, claimID); err == nil {
			asked = claimLang
		}
	}
	return s.Renderer.cat.Pick(acceptLanguage, asked).Code
}

// Errors of the service, matched with errors.Is.
var (
	// ErrNoSuchVersion means the claim never reached the version asked for.
	ErrNoSuchVersion = audit.ErrNoSuchVersion
	// ErrNoMatch means a file matches no issued document.
	ErrNoMatch = errors.New("documents: the file matches no document issued from the ledger")
)

// Version is a claim as it stood at one version, and when that version came to be.
type Version struct {
	State domain.State
	At    time.Time
	// ShipBy is when the goods were due then (zero: no shipment window runs or ran); Location
	// the time zone of the claim's policy (nil without policies).
	ShipBy   time.Time
	Location *time.Location
}

// request is what to render of version v.
func (v Version) request(kind Kind, lang string) Request {
	return Request{Claim: v.State, Kind: kind, Lang: lang, At: v.At, ShipBy: v.ShipBy, Location: v.Location}
}

// At returns the claim as it stood at version (0: its current version).
func (s *Service) At(ctx context.Context, claimID uuid.UUID, version int64) (Version, error) {
	records, err := s.Claims.Events(ctx, claimID)
	if err != nil {
		return Version{}, err
	}
	if version == 0 {
		version = int64(len(records))
	}
	snap, err := audit.StateAtVersion(records, version)
	if err != nil {
		return Version{}, err
	}
	v := Version{State: snap.State, At: snap.OccurredAt}
	if s.Policies != nil {
		if err := s.withPolicy(&v, records[:version]); err != nil {
			return Version{}, err
		}
	}
	return v, nil
}

// withPolicy adds what the claim's governing policy says at version v: the shipment window's
// due time and the policy's time zone. The policy is the one recorded at registration, as the
// ledger decides by, and the clocks are folded from the events alone, so that the same version
// gives the same answer later.
func (s *Service) withPolicy(v *Version, records []eventstore.RecordedEvent) error {
	var first struct {
		PolicyVersion string `json:"policy_version"`
	}
	_ = json.Unmarshal(records[0].Metadata, &first)
	p := s.Policies.Governing(first.PolicyVersion, v.State.RegisteredAt, v.At)
	events := make([]domain.Event, len(records))
	for i := range records {
		e, err := domain.DecodeEvent(records[i].Type, records[i].Data)
		if err != nil {
			return fmt.Errorf("documents: %s revision %d: %w", records[i].Stream, records[i].Revision, err)
		}
		events[i] = e
	}
	if c, ok := domain.FoldClocks(events, p).Get(domain.ClockShipmentWindow); ok {
		v.ShipBy = c.DueAt
	}
	v.Location = p.Calendar.Loc()
	return nil
}

// HTML renders the printable page of a claim's document at a version (0: current).
func (s *Service) HTML(ctx context.Context, claimID uuid.UUID, kind Kind, version int64, lang string) ([]byte, Version, error) {
	v, err := s.At(ctx, claimID, version)
	if err != nil {
		return nil, Version{}, err
	}
	page, err := s.Renderer.HTML(v.request(kind, lang))
	return page, v, err
}

// Issue renders the PDF of a claim's document at a version (0: current) and records that it
// was issued, by whom. Issuing the same document (kind, version, language) again records
// nothing new: the event's id is derived from them.
func (s *Service) Issue(ctx context.Context, claimID uuid.UUID, kind Kind, version int64, lang, actor, role string) ([]byte, Issued, error) {
	if actor == "" {
		return nil, Issued{}, errors.New("documents: issuing needs an actor")
	}
	v, err := s.At(ctx, claimID, version)
	if err != nil {
		return nil, Issued{}, err
	}
	lang = s.Renderer.Language(lang)
	pdf, err := s.Renderer.PDF(v.request(kind, lang))
	if err != nil {
		return nil, Issued{}, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	sum := sha256.Sum256(pdf)
	rec := Issued{ClaimID: claimID, Number: v.State.Number, Kind: kind, Version: v.State.Version, Language: lang,
		SHA256: hex.EncodeToString(sum[:]), IssuedBy: actor, Role: role, IssuedAt: now().UTC()}
	got, err := s.record(ctx, rec)
	return pdf, got, err
}

// eventID is the same for the same document of the same claim version in the same language.
func eventID(rec Issued) uuid.UUID {
	return uuid.NewSHA1(rec.ClaimID, fmt.Appendf(nil, "%s|%d|%s", rec.Kind, rec.Version, rec.Language))
}

// record appends rec to the claim's documents stream unless the stream holds it already, in
// which case it returns what the stream holds.
func (s *Service) record(ctx context.Context, rec Issued) (Issued, error) {
	stream := eventlog.Documents.Stream(rec.ClaimID)
	id := eventID(rec)
	data, _ := json.Marshal(rec)
	meta, _ := json.Marshal(issuedMeta{Actor: rec.IssuedBy, Role: rec.Role, Action: "issue-document", OccurredAt: rec.IssuedAt})
	for range 5 {
		records, err := s.Store.ReadStream(ctx, stream, eventstore.Forwards, 0, 0)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return Issued{}, fmt.Errorf("documents: read %s: %w", stream, err)
		}
		expected := eventstore.NoStream
		var prev *eventstore.RecordedEvent
		for i := range records {
			if records[i].ID == id {
				var had Issued
				if err := json.Unmarshal(records[i].Data, &had); err != nil {
					return Issued{}, fmt.Errorf("documents: %s revision %d: %w", stream, records[i].Revision, err)
				}
				return had, nil
			}
		}
		if n := len(records); n > 0 {
			prev, expected = &records[n-1], eventstore.Exact(records[n-1].Revision)
		}
		events := []eventstore.EventData{{ID: id, Type: IssuedType, Data: data, Metadata: bytes.Clone(meta)}}
		if err := audit.SealEvents(stream, prev, events); err != nil {
			return Issued{}, err
		}
		_, err = s.Store.Append(ctx, stream, expected, events...)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			continue
		}
		if err != nil {
			return Issued{}, fmt.Errorf("documents: append to %s: %w", stream, err)
		}
		return rec, nil
	}
	return Issued{}, fmt.Errorf("%w: %s", audit.ErrStreamBusy, stream)
}

// Match is what a checked file matched: the issued document and its event, and whether the
// ledger renders the same bytes again at that version.
type Match struct {
	Issued   Issued
	EventID  uuid.UUID
	Stream   string
	Revision uint64
	// Reproduced is true when rendering the claim's version again gave the file's bytes; it
	// is false when the claim's data changed since (its customer's data was erased).
	Reproduced bool
}

// Check finds the issued document whose PDF is exactly file, and renders it again from the
// ledger at its version to confirm the bytes. A file that matches none gives ErrNoMatch.
func (s *Service) Check(ctx context.Context, file []byte) (Match, error) {
	sum := sha256.Sum256(file)
	want := hex.EncodeToString(sum[:])
	filter := eventstore.Filter{StreamPrefixes: []string{eventlog.Documents.Prefix()}, TypePrefixes: []string{IssuedType}}
	after := eventstore.Start
	for {
		recs, err := s.Store.ReadAll(ctx, after, 1024, filter)
		if err != nil {
			return Match{}, fmt.Errorf("documents: read issued documents: %w", err)
		}
		if len(recs) == 0 {
			return Match{}, ErrNoMatch
		}
		for _, r := range recs {
			var rec Issued
			if err := json.Unmarshal(r.Data, &rec); err != nil {
				return Match{}, fmt.Errorf("documents: %s revision %d: %w", r.Stream, r.Revision, err)
			}
			if rec.SHA256 != want {
				continue
			}
			m := Match{Issued: rec, EventID: r.ID, Stream: r.Stream, Revision: r.Revision}
			v, err := s.At(ctx, rec.ClaimID, rec.Version)
			if err != nil {
				return m, err
			}
			again, err := s.Renderer.PDF(v.request(rec.Kind, rec.Language))
			if err != nil {
				return m, err
			}
			m.Reproduced = bytes.Equal(again, file)
			return m, nil
		}
		after = recs[len(recs)-1].Position
	}
}
