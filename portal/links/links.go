// Package links keeps the customer portal's private links: capability
// tokens that let a customer see and act on one claim without an account.
//
// A token is 48 random-looking bytes in base64url: the claim's id (16
// bytes) and a secret of 256 bits from crypto/rand. Only the secret's
// SHA-256 is stored; the secret is unguessable, so a fast hash is enough
// and nothing stored lets anyone rebuild a link. Links expire, and staff
// can revoke every link of a claim at once; a new link can then be issued.
//
// The links of a claim are a stream of events in the event store
// (portal-link-<claim uuid>), sealed into the audit hash chain like every
// event, so that every instance serving one store answers the same. The
// stream holds capability hashes: audit exports withhold it (Withheld).
package links

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Event types of a links stream.
const (
	typeIssued  = "portal.link_issued.v1"
	typeRevoked = "portal.links_revoked.v1"
)

// secretBytes is the secret's size: 256 bits, well above the 128 a
// capability needs.
const secretBytes = 32

// tokenLen is the length of a token in base64url without padding.
var tokenLen = base64.RawURLEncoding.EncodedLen(16 + secretBytes)

// Errors of Resolve, matched with errors.Is. Every one of them is also
// ErrInvalid: a page answers them all the same way.
var (
	// ErrInvalid means the token opens nothing.
	ErrInvalid = errors.New("links: the link is not valid")
	// ErrExpired means the link was valid and has expired.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalid)
	// ErrRevoked means staff revoked the claim's links after this one was issued.
	ErrRevoked = fmt.Errorf("%w: revoked", ErrInvalid)
)

// Withheld reports the streams an audit export must show only as hashes
// (audit.ExportOptions.Withheld): those of the portal's links.
func Withheld(stream string) bool { return eventlog.PortalLinks.Holds(stream) }

// Actor is who issues or revokes a link, recorded in the event's metadata.
type Actor struct {
	Name string
	Role string
}

// Link is a private link of a claim.
type Link struct {
	ClaimID uuid.UUID
	// Token is the capability, set only by Issue: it is never stored.
	Token string
	// Language is the customer's preferred language (BCP 47), "" if none.
	Language  string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Config configures a Keeper. Zero fields take the defaults noted.
type Config struct {
	// Store keeps the links (required).
	Store eventstore.Store
	// TTL is how long a link opens its claim (default 180 days: a claim's
	// repair, return and appeal fit in it).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Random is the source of secrets (default crypto/rand.Reader).
	Random io.Reader
}

// Keeper issues, resolves and revokes links.
type Keeper struct {
	cfg Config
}

// New returns a Keeper.
func New(cfg Config) (*Keeper, error) {
	if cfg.Store == nil {
		return nil, errors.New("links: Store is required")
	}
	if cfg.TTL < 0 {
		return nil, errors.New("links: TTL must not be negative")
	}
	if cfg.TTL == 0 {
		cfg.TTL = 180 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	return &Keeper{cfg: cfg}, nil
}

// The events' data.
type (
	issued struct {
		LinkID    uuid.UUID `json:"link_id"`
		Hash      string    `json:"secret_sha256"`
		Language  string    `json:"language,omitempty"`
		ExpiresAt time.Time `json:"expires_at"`
		At        time.Time `json:"at"`
	}
	revoked struct {
		At time.Time `json:"at"`
	}
	metadata struct {
		Actor string `json:"actor"`
		Role  string `json:"role"`
	}
)

// Issue makes a new link to the claim; earlier links stay valid until they
// expire or are revoked.
func (k *Keeper) Issue(ctx context.Context, claimID uuid.UUID, language string, by Actor) (Link, error) {
	secret := make([]byte, secretBytes)
	if _, err := io.ReadFull(k.cfg.Random, secret); err != nil {
		return Link{}, fmt.Errorf("links: random: %w", err)
	}
	now := k.cfg.Now().UTC()
	link := Link{
		ClaimID: claimID, Language: language, IssuedAt: now, ExpiresAt: now.Add(k.cfg.TTL),
		Token: base64.RawURLEncoding.EncodeToString(append(claimID[:], secret...)),
	}
	body := issued{LinkID: uuid.New(), Hash: hashOf(secret), Language: language, ExpiresAt: link.ExpiresAt, At: now}
	if err := k.append(ctx, claimID, by, typeIssued, body); err != nil {
		return Link{}, err
	}
	return link, nil
}

// Revoke ends every link of the claim issued so far.
func (k *Keeper) Revoke(ctx context.Context, claimID uuid.UUID, by Actor) error {
	return k.append(ctx, claimID, by, typeRevoked, revoked{At: k.cfg.Now().UTC()})
}

// Resolve returns the link a token is, without its token; ErrInvalid (or
// ErrExpired, ErrRevoked) when it opens nothing.
func (k *Keeper) Resolve(ctx context.Context, token string) (Link, error) {
	if len(token) != tokenLen {
		return Link{}, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 16+secretBytes {
		return Link{}, ErrInvalid
	}
	claimID, _ := uuid.FromBytes(raw[:16])
	want, _ := hex.DecodeString(hashOf(raw[16:]))
	history, err := k.read(ctx, claimID)
	if err != nil {
		return Link{}, err
	}
	var (
		found *issued
		gone  bool
	)
	for _, h := range history {
		switch {
		case h.issued != nil:
			got, _ := hex.DecodeString(h.issued.Hash)
			if subtle.ConstantTimeCompare(got, want) == 1 {
				found, gone = h.issued, false
			}
		case h.revoked && found != nil:
			gone = true
		}
	}
	switch {
	case found == nil:
		return Link{}, ErrInvalid
	case gone:
		return Link{}, ErrRevoked
	case !k.cfg.Now().Before(found.ExpiresAt):
		return Link{}, ErrExpired
	}
	return Link{ClaimID: claimID, Language: found.Language, IssuedAt: found.At, ExpiresAt: found.ExpiresAt}, nil
}

// Language is the language chosen with the claim's latest link, "" when
// it has none.
func (k *Keeper) Language(ctx context.Context, claimID uuid.UUID) (string, error) {
	history, err := k.read(ctx, claimID)
	if err != nil {
		return "", err
	}
	lang := ""
	for _, h := range history {
		if h.issued != nil {
			lang = h.issued.Language
		}
	}
	return lang, nil
}

func hashOf(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// entry is one event of a links stream, decoded.
type entry struct {
	issued  *issued
	revoked bool
}

func (k *Keeper) read(ctx context.Context, claimID uuid.UUID) ([]entry, error) {
	records, err := k.cfg.Store.ReadStream(ctx, eventlog.PortalLinks.Stream(claimID), eventstore.Forwards, 0, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("links: read: %w", err)
	}
	out := make([]entry, 0, len(records))
	for _, r := range records {
		switch r.Type {
		case typeIssued:
			var body issued
			if err := json.Unmarshal(r.Data, &body); err != nil {
				return nil, fmt.Errorf("links: %s revision %d: %w", r.Stream, r.Revision, err)
			}
			out = append(out, entry{issued: &body})
		case typeRevoked:
			out = append(out, entry{revoked: true})
		}
	}
	return out, nil
}

// append seals an event after the stream's last one and appends it.
func (k *Keeper) append(ctx context.Context, claimID uuid.UUID, by Actor, typ string, data any) error {
	if by.Name == "" {
		return errors.New("links: a change needs an actor")
	}
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(metadata{Actor: by.Name, Role: by.Role})
	_, err = audit.AppendSealed(ctx, k.cfg.Store, eventlog.PortalLinks.Stream(claimID),
		eventstore.EventData{ID: uuid.New(), Type: typ, Data: body, Metadata: meta})
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	return nil
}
