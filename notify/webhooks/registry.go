// Package webhooks is the webhook channel of notify: subscriptions kept as
// events in the store, a Composer that turns each claim event into one
// message per subscription that wants it, and a Sender that POSTs them
// signed the Standard Webhooks way (https://www.standardwebhooks.com),
// through an HTTP client that refuses to connect to private addresses.
//
// A subscription is a stream of events (webhook-subscription-<uuid>),
// sealed into the audit hash chain like every event. The stream holds the
// signing secrets, so audit exports withhold it (Withheld). Every instance
// of the service follows those streams (Registry.Follow) and answers from
// memory.
package webhooks

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/follow"
)

// Event types of a subscription's stream.
const (
	typeCreated           = "webhook.subscription_created.v1"
	typeSecretRotated     = "webhook.secret_rotated.v1"
	typeEventTypesChanged = "webhook.event_types_changed.v1"
	typeDisabled          = "webhook.subscription_disabled.v1"
	typeEnabled           = "webhook.subscription_enabled.v1"
	typeDeleted           = "webhook.subscription_deleted.v1"
)

// secretBytes is the size of a signing secret: 32 random bytes, the top
// of the 24 to 64 the Standard Webhooks specification allows.
const secretBytes = 32

// secretPrefix starts a secret in the Standard Webhooks format.
const secretPrefix = "whsec_"

// DefaultOverlap is how long the previous secret still signs after a
// rotation when the caller names no time: a day, for receivers to deploy
// the new one.
const DefaultOverlap = 24 * time.Hour

// maxAttempts bounds the tries of a write that other writers keep
// overtaking.
const maxAttempts = 10

// maxURLLength bounds a subscription's URL.
const maxURLLength = 2048

// Errors of the registry, matched with errors.Is.
var (
	// ErrNotFound means no subscription has the id (or it was deleted).
	ErrNotFound = errors.New("webhooks: no such subscription")
	// ErrConflict means the subscription kept changing under the write.
	ErrConflict = errors.New("webhooks: the subscription kept changing; try again")
)

// InvalidError is a refused field of a subscription.
type InvalidError struct {
	Field   string
	Problem string
}

func (e *InvalidError) Error() string { return "webhooks: " + e.Field + ": " + e.Problem }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Withheld reports the streams an audit export must show only as hashes
// (audit.ExportOptions.Withheld): the subscriptions', which hold secrets.
func Withheld(stream string) bool { return eventlog.WebhookSubscriptions.Holds(stream) }

// Actor is who changes a subscription, recorded in the event's metadata.
type Actor struct {
	Name string
	Role string
}

// Subscription is a webhook subscription as List and Lookup show it:
// never with its secrets.
type Subscription struct {
	ID  uuid.UUID `json:"id"`
	URL string    `json:"url"`
	// EventTypes are the claim event types sent, without their version
	// ("claim.authorized"), or prefixes ending in "." or "*" ("claim.",
	// "claim.repair_*"); empty: every claim event.
	EventTypes []string `json:"event_types"`
	// Organisation limits the claims to one partner organisation's; empty:
	// every claim.
	Organisation   string    `json:"organisation,omitempty"`
	Description    string    `json:"description,omitempty"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	Created        time.Time `json:"created"`
	// SecretRotated is when the secret was last rotated (zero: never);
	// PreviousSecretValidUntil is when the secret before it stops signing.
	SecretRotated            time.Time `json:"secret_rotated,omitzero"`
	PreviousSecretValidUntil time.Time `json:"previous_secret_valid_until,omitzero"`
}

// NewSubscription is what an admin gives to create a subscription.
type NewSubscription struct {
	URL          string
	EventTypes   []string
	Organisation string
	Description  string
}

// Config configures a Registry. Zero fields take the defaults noted.
type Config struct {
	// Store keeps the subscriptions (required).
	Store eventstore.Store
	// AllowLoopbackHTTP accepts http:// URLs to the loopback host (a
	// developer's receiver, serve --dev); otherwise only https.
	AllowLoopbackHTTP bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Random is the source of secrets (default crypto/rand.Reader).
	Random io.Reader
}

// Registry keeps the webhook subscriptions: it writes their events and
// answers from memory what it folded of them.
type Registry struct {
	cfg Config
	// fold keeps the subscriptions current from their streams (Follow).
	fold follow.Fold

	mu   sync.Mutex // guards what follows, and orders the catch-ups
	subs map[uuid.UUID]*subscription
}

// secret is a signing secret; a zero until is the current one.
type secret struct {
	value string
	until time.Time
}

// version is what the Composer needs of a subscription from a position of
// $all on.
type version struct {
	from       eventstore.Position
	eventTypes []string
	enabled    bool
	deleted    bool
}

// subscription is a Subscription with what the registry alone sees.
type subscription struct {
	Subscription
	secrets  []secret
	deleted  bool
	revision uint64
	history  []version
}

// New makes the registry over the store. It reads nothing until asked.
func New(cfg Config) (*Registry, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhooks: Store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	r := &Registry{cfg: cfg, subs: map[uuid.UUID]*subscription{}}
	r.fold = follow.Fold{Store: cfg.Store, Filter: streams, Mu: &r.mu, Apply: r.apply}
	return r, nil
}

// The events' data.
type (
	created struct {
		URL          string    `json:"url"`
		EventTypes   []string  `json:"event_types"`
		Organisation string    `json:"organisation,omitempty"`
		Description  string    `json:"description,omitempty"`
		Secret       string    `json:"secret"`
		At           time.Time `json:"at"`
	}
	secretRotated struct {
		Secret             string    `json:"secret"`
		PreviousValidUntil time.Time `json:"previous_valid_until"`
		At                 time.Time `json:"at"`
	}
	eventTypesChanged struct {
		EventTypes []string  `json:"event_types"`
		At         time.Time `json:"at"`
	}
	disabled struct {
		Reason string    `json:"reason,omitempty"`
		At     time.Time `json:"at"`
	}
	stamped struct {
		At time.Time `json:"at"`
	}
	metadata struct {
		Actor string `json:"actor"`
		Role  string `json:"role"`
	}
)

// ValidateURL checks a receiver's URL: absolute https (http only to the
// loopback host when allowLoopbackHTTP), a host, no user information and
// no fragment. The address it resolves to is checked when the sender
// connects, not here: a name can resolve elsewhere later.
func ValidateURL(raw string, allowLoopbackHTTP bool) error {
	if len(raw) > maxURLLength {
		return invalid("url", "longer than %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return invalid("url", "not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowLoopbackHTTP && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http" && allowLoopbackHTTP:
		return invalid("url", "http:// is accepted only to the loopback host in development; use https://")
	default:
		return invalid("url", "the scheme must be https")
	}
	switch {
	case u.Hostname() == "":
		return invalid("url", "no host")
	case u.User != nil:
		return invalid("url", "user information (user:password@) is not allowed; authenticate with the signature")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("url", "a fragment (#...) is not allowed")
	}
	return nil
}

// isLoopbackHost reports whether host names the loopback interface.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// unversioned returns an event type's name without its version suffix.
func unversioned(eventType string) string {
	if i := strings.LastIndex(eventType, ".v"); i > 0 {
		if rest := eventType[i+2:]; rest != "" && strings.Trim(rest, "0123456789") == "" {
			return eventType[:i]
		}
	}
	return eventType
}

// EventTypes lists the names a subscription may ask for: every claim
// event type without its version.
func EventTypes() []string {
	var out []string
	for _, t := range domain.EventTypes() {
		out = append(out, unversioned(t))
	}
	return out
}

// validateEventTypes checks that each entry is a known claim event type
// without version or a prefix ending in "." or "*" that selects one; it returns
// them sorted and without repeats.
func validateEventTypes(types []string) ([]string, error) {
	known := EventTypes()
	out := make([]string, 0, len(types))
	for _, t := range types {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			return nil, invalid("event_types", "an empty event type")
		case strings.HasSuffix(t, ".") || strings.HasSuffix(t, "*"):
			if !slices.ContainsFunc(known, func(k string) bool { return strings.HasPrefix(k, strings.TrimSuffix(t, "*")) }) {
				return nil, invalid("event_types", "the prefix %q selects no claim event type", t)
			}
		case unversioned(t) != t && slices.Contains(known, unversioned(t)):
			return nil, invalid("event_types", "%q: name the type without its version, e.g. %q", t, unversioned(t))
		case !slices.Contains(known, t):
			return nil, invalid("event_types", "unknown event type %q (see the list in the API documentation)", t)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// wants reports whether a subscription's event types select the type.
func wants(types []string, eventType string) bool {
	if len(types) == 0 {
		return true
	}
	name := unversioned(eventType)
	for _, t := range types {
		if t == name || (strings.HasSuffix(t, ".") || strings.HasSuffix(t, "*")) && strings.HasPrefix(name, strings.TrimSuffix(t, "*")) {
			return true
		}
	}
	return false
}

// newSecret returns a fresh secret in the Standard Webhooks format.
func (r *Registry) newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(r.cfg.Random, b); err != nil {
		return "", fmt.Errorf("webhooks: random: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Create adds a subscription, enabled. It returns the subscription and its
// secret, which is shown this once.
func (r *Registry) Create(ctx context.Context, n NewSubscription, by Actor) (Subscription, string, error) {
	if err := ValidateURL(n.URL, r.cfg.AllowLoopbackHTTP); err != nil {
		return Subscription{}, "", err
	}
	types, err := validateEventTypes(n.EventTypes)
	if err != nil {
		return Subscription{}, "", err
	}
	if n.Organisation != "" && !domain.ValidOrganisation(n.Organisation) {
		return Subscription{}, "", invalid("organisation", "%q: want lower-case letters, digits, '_', '-' or '.'", n.Organisation)
	}
	if len(n.Description) > 500 {
		return Subscription{}, "", invalid("description", "longer than 500 characters")
	}
	s, err := r.newSecret()
	if err != nil {
		return Subscription{}, "", err
	}
	id := uuid.New()
	body := created{URL: n.URL, EventTypes: types, Organisation: n.Organisation, Description: n.Description,
		Secret: s, At: r.cfg.Now().UTC()}
	if err := r.append(ctx, id, by, typeCreated, body, nil); err != nil {
		return Subscription{}, "", err
	}
	sub, err := r.Lookup(ctx, id)
	return sub, s, err
}

// RotateSecret gives the subscription a new secret, returned this once;
// the previous one keeps signing too for overlap (DefaultOverlap when 0),
// so receivers can switch without losing a message.
func (r *Registry) RotateSecret(ctx context.Context, id uuid.UUID, overlap time.Duration, by Actor) (string, error) {
	if overlap < 0 || overlap > 30*24*time.Hour {
		return "", invalid("overlap", "must be between 0 and 30 days")
	}
	s, err := r.newSecret()
	if err != nil {
		return "", err
	}
	now := r.cfg.Now().UTC()
	body := secretRotated{Secret: s, PreviousValidUntil: now.Add(cmp.Or(overlap, DefaultOverlap)), At: now}
	return s, r.append(ctx, id, by, typeSecretRotated, body, nil)
}

// SetEventTypes changes the event types a subscription is sent.
func (r *Registry) SetEventTypes(ctx context.Context, id uuid.UUID, types []string, by Actor) error {
	types, err := validateEventTypes(types)
	if err != nil {
		return err
	}
	return r.append(ctx, id, by, typeEventTypesChanged, eventTypesChanged{EventTypes: types, At: r.cfg.Now().UTC()},
		func(s *subscription) bool { return !slices.Equal(s.EventTypes, types) })
}

// Disable stops the messages to a subscription; reason says why.
func (r *Registry) Disable(ctx context.Context, id uuid.UUID, reason string, by Actor) error {
	return r.append(ctx, id, by, typeDisabled, disabled{Reason: reason, At: r.cfg.Now().UTC()},
		func(s *subscription) bool { return s.Enabled })
}

// Enable resumes the messages to a subscription. The events while it was
// disabled are not sent; an admin may replay them.
func (r *Registry) Enable(ctx context.Context, id uuid.UUID, by Actor) error {
	return r.append(ctx, id, by, typeEnabled, stamped{At: r.cfg.Now().UTC()},
		func(s *subscription) bool { return !s.Enabled })
}

// Delete ends a subscription for good.
func (r *Registry) Delete(ctx context.Context, id uuid.UUID, by Actor) error {
	return r.append(ctx, id, by, typeDeleted, stamped{At: r.cfg.Now().UTC()}, nil)
}

// Lookup returns a subscription; ErrNotFound when none has the id.
func (r *Registry) Lookup(ctx context.Context, id uuid.UUID) (Subscription, error) {
	if err := r.fresh(ctx); err != nil {
		return Subscription{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.subs[id]
	if !ok || s.deleted {
		return Subscription{}, ErrNotFound
	}
	return s.public(), nil
}

// List returns the subscriptions in the order they were created.
func (r *Registry) List(ctx context.Context) ([]Subscription, error) {
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	subs := make([]*subscription, 0, len(r.subs))
	for _, s := range r.subs {
		if !s.deleted {
			subs = append(subs, s)
		}
	}
	slices.SortFunc(subs, func(a, b *subscription) int { return a.history[0].from.Compare(b.history[0].from) })
	out := make([]Subscription, 0, len(subs))
	for _, s := range subs {
		out = append(out, s.public())
	}
	return out, nil
}

// target is what the sender needs of a subscription: where, and the
// secrets that sign at an instant.
type target struct {
	url     string
	enabled bool
	secrets []string
}

// target returns the subscription's URL and the secrets signing at now.
func (r *Registry) target(ctx context.Context, id uuid.UUID, now time.Time) (target, error) {
	if err := r.fresh(ctx); err != nil {
		return target{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.subs[id]
	if !ok || s.deleted {
		return target{}, ErrNotFound
	}
	t := target{url: s.URL, enabled: s.Enabled}
	for _, sec := range slices.Backward(s.secrets) {
		if sec.until.IsZero() || now.Before(sec.until) {
			t.secrets = append(t.secrets, sec.value)
		}
	}
	return t, nil
}

func (s *subscription) public() Subscription {
	p := s.Subscription
	p.EventTypes = slices.Clone(s.EventTypes)
	if p.EventTypes == nil {
		p.EventTypes = []string{}
	}
	return p
}

// Follow keeps the registry current until ctx ends, like
// accounts.Directory.Follow: it reads the subscriptions once, then follows
// the new events of their streams. Without it each question first reads
// what was appended since the last subscription event. When the store
// fails, Follow tries again after retry.
func (r *Registry) Follow(ctx context.Context, retry time.Duration) {
	r.fold.Follow(ctx, retry)
}

// streams selects the subscriptions' events in $all.
var streams = eventstore.Filter{StreamPrefixes: []string{eventlog.WebhookSubscriptions.Prefix()}}

// fresh makes the registry current enough to answer: at once while
// Follow keeps it so, else by reading what was appended since.
func (r *Registry) fresh(ctx context.Context) error {
	if err := r.fold.Fresh(ctx); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	return nil
}

// catchUp folds the subscription events appended since the last one seen
// (this instance's own write among them).
func (r *Registry) catchUp(ctx context.Context) error {
	if err := r.fold.CatchUp(ctx); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	return nil
}

// apply folds one event into the registry, once.
func (r *Registry) apply(rec *eventstore.RecordedEvent) error {
	id, err := eventlog.WebhookSubscriptions.ID(rec.Stream)
	if err != nil {
		return nil // not a subscription's stream
	}
	if s, ok := r.subs[id]; ok && rec.Revision <= s.revision {
		return nil
	}
	malformed := func(err error) error {
		return fmt.Errorf("webhooks: %s@%d (%s): %w", rec.Stream, rec.Revision, rec.Type, err)
	}
	if rec.Type == typeCreated {
		var e created
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		s := &subscription{Subscription: Subscription{ID: id, URL: e.URL, EventTypes: e.EventTypes,
			Organisation: e.Organisation, Description: e.Description, Enabled: true, Created: e.At},
			secrets: []secret{{value: e.Secret}}, revision: rec.Revision}
		s.record(rec.Position)
		r.subs[id] = s
		return nil
	}
	s, ok := r.subs[id]
	if !ok {
		return malformed(errors.New("an event before the subscription was created"))
	}
	s.revision = rec.Revision
	switch rec.Type {
	case typeSecretRotated:
		var e secretRotated
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		for i := range s.secrets {
			if s.secrets[i].until.IsZero() || s.secrets[i].until.After(e.PreviousValidUntil) {
				s.secrets[i].until = e.PreviousValidUntil
			}
		}
		// Secrets that stopped signing before this rotation are dropped.
		s.secrets = slices.DeleteFunc(s.secrets, func(x secret) bool { return !x.until.After(e.At) })
		s.secrets = append(s.secrets, secret{value: e.Secret})
		s.SecretRotated, s.PreviousSecretValidUntil = e.At, e.PreviousValidUntil
	case typeEventTypesChanged:
		var e eventTypesChanged
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		s.EventTypes = e.EventTypes
	case typeDisabled:
		var e disabled
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		s.Enabled, s.DisabledReason = false, e.Reason
	case typeEnabled:
		s.Enabled, s.DisabledReason = true, ""
	case typeDeleted:
		s.deleted, s.Enabled = true, false
		s.secrets = nil
	}
	s.record(rec.Position)
	return nil
}

// record notes the subscription's state from pos on, for the Composer.
func (s *subscription) record(pos eventstore.Position) {
	s.history = append(s.history, version{from: pos, eventTypes: s.EventTypes, enabled: s.Enabled, deleted: s.deleted})
}

// append seals an event after the subscription's last one and appends it
// at that revision, trying again when another instance wrote in between.
// A nil id stream (create) must not exist yet; otherwise the subscription
// must exist, and needed (when given) says whether the event changes it:
// an event that would change nothing is not written.
func (r *Registry) append(ctx context.Context, id uuid.UUID, by Actor, typ string, data any, needed func(*subscription) bool) error {
	if by.Name == "" {
		return errors.New("webhooks: a change needs an actor")
	}
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(metadata{Actor: by.Name, Role: by.Role})
	stream := eventlog.WebhookSubscriptions.Stream(id)
	eventID := uuid.New()
	for attempt := range maxAttempts {
		if attempt > 0 {
			// Writers that collided spread out before they try again.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(mrand.Int64N(int64(attempt) * int64(5*time.Millisecond)))):
			}
		}
		if err := r.catchUp(ctx); err != nil {
			return err
		}
		if typ != typeCreated {
			r.mu.Lock()
			s, ok := r.subs[id]
			skip := ok && !s.deleted && needed != nil && !needed(s)
			r.mu.Unlock()
			if !ok || s.deleted {
				return ErrNotFound
			}
			if skip {
				return nil
			}
		}
		last, err := r.cfg.Store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
		var prev *eventstore.RecordedEvent
		expected := eventstore.NoStream
		switch {
		case errors.Is(err, eventstore.ErrStreamNotFound):
		case err != nil:
			return fmt.Errorf("webhooks: read: %w", err)
		case len(last) == 1:
			prev, expected = &last[0], eventstore.Exact(last[0].Revision)
		}
		events := []eventstore.EventData{{ID: eventID, Type: typ, Data: body, Metadata: bytes.Clone(meta)}}
		if err := audit.SealEvents(stream, prev, events); err != nil {
			return err
		}
		_, err = r.cfg.Store.Append(ctx, stream, expected, events...)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			continue
		}
		if err != nil {
			return fmt.Errorf("webhooks: append: %w", err)
		}
		return r.catchUp(ctx)
	}
	return ErrConflict
}
