package accounts

import (
	"cmp"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/follow"
	"github.com/rmaledger/rmaledger/internal/ratelimit"
)

// Config configures a Directory. Store and Roles are required.
type Config struct {
	Store eventstore.Store
	// Roles are the roles an account may have (the API's roles).
	Roles []string
	// CheckOrganisation, when set, says whether an account of role may
	// belong to organisation ("" for none), e.g. that a partner must and
	// the staff must not (api.CheckOrganisation). Nil accepts any pair.
	CheckOrganisation func(role, organisation string) error
	// SessionLimit is how long a session lasts at most (default 8h);
	// IdleLimit how long it lasts unused (default 1h).
	SessionLimit time.Duration
	IdleLimit    time.Duration
	// AccountLimit and AddressLimit bound failed sign-ins per account name
	// and per client address (zero: DefaultAccountLimit and
	// DefaultAddressLimit). The counts are kept by each instance.
	AccountLimit Limit
	AddressLimit Limit
	// Clock is the time (default time.Now).
	Clock func() time.Time
}

// Directory is the accounts, folded from their streams, and the sessions
// signed with the shared key. It is safe for concurrent use.
type Directory struct {
	store     eventstore.Store
	roles     []string
	checkOrg  func(role, organisation string) error
	absolute  time.Duration
	idle      time.Duration
	now       func() time.Time
	keyMu     sync.Mutex
	key       []byte           // read or created at the first sign-in or verification
	dummy     string           // a hash compared when the name is unknown, so time does not tell
	byAccount *ratelimit.Keyed // failed sign-ins
	byAddress *ratelimit.Keyed
	hashing   chan struct{} // a slot per argon2id computation allowed at once

	// fold keeps the accounts current from their streams (Follow), so
	// questions are answered from memory.
	fold follow.Fold

	mu     sync.Mutex // guards what follows, and orders the catch-ups
	byID   map[uuid.UUID]*account
	byName map[string]*account // lower-cased name
}

// account is an Account with what the directory alone sees.
type account struct {
	Account
	hash     string
	epoch    uint64                    // advanced by a password change or a disable: older sessions end
	revision uint64                    // the stream's last revision
	last     *eventstore.RecordedEvent // the stream's last event, which the next one is chained to
	ended    map[string]time.Time      // signed-out sessions, until they would have expired anyway
}

// New makes the directory over the store. It neither reads nor writes the
// store: the accounts are read at the first question, so a service starts
// while its store is unreachable, and the shared session key is read (or
// created) at the first sign-in or verification, so a service nobody signs
// in to writes nothing.
func New(ctx context.Context, cfg Config) (*Directory, error) {
	if cfg.Store == nil || len(cfg.Roles) == 0 {
		return nil, errors.New("accounts: Config needs a Store and Roles")
	}
	d := &Directory{
		store: cfg.Store, roles: cfg.Roles, checkOrg: cfg.CheckOrganisation,
		absolute: cmp.Or(cfg.SessionLimit, 8*time.Hour), idle: cmp.Or(cfg.IdleLimit, time.Hour),
		now:  cfg.Clock,
		byID: map[uuid.UUID]*account{}, byName: map[string]*account{},
		hashing: make(chan struct{}, hashesAtOnce),
	}
	if d.now == nil {
		d.now = time.Now
	}
	var err error
	if d.byAccount, err = ratelimit.New(cmp.Or(cfg.AccountLimit, DefaultAccountLimit), 1<<14, d.now); err != nil {
		return nil, err
	}
	if d.byAddress, err = ratelimit.New(cmp.Or(cfg.AddressLimit, DefaultAddressLimit), 1<<16, d.now); err != nil {
		return nil, err
	}
	d.fold = follow.Fold{Store: cfg.Store, Filter: accountStreams, Mu: &d.mu, Apply: d.apply}
	if d.dummy, err = unmatchableHash(); err != nil {
		return nil, err
	}
	return d, nil
}

// SignIn checks a name and password and opens a new session with a fresh
// id (a session id is never carried over from before the sign-in, so it
// cannot be fixed by another). Failures count against the account name and
// the client address; past either limit every attempt is refused with a
// *LimitedError, right or wrong, until the wait is over.
func (d *Directory) SignIn(ctx context.Context, name, password, clientAddr string) (Session, error) {
	now := d.now()
	nameKey := strings.ToLower(strings.TrimSpace(name))
	if wait := max(d.byAccount.Wait(nameKey), d.byAddress.Wait(clientAddr)); wait > 0 {
		return Session{}, &LimitedError{RetryAfter: wait}
	}
	if err := d.fresh(ctx); err != nil {
		return Session{}, err
	}
	d.mu.Lock()
	a, found := d.byName[nameKey]
	var snapshot account
	if found {
		snapshot = *a
	}
	d.mu.Unlock()
	hash := d.dummy
	if found {
		hash = snapshot.hash
	}
	if len(password) > 4*maxPasswordLength {
		password = "" // the same work as any other refusal, on a bounded input
	}
	if err := d.acquireHash(ctx); err != nil {
		return Session{}, err
	}
	ok, _ := passwordMatches(hash, password)
	d.releaseHash()
	if !found || !ok {
		d.byAccount.Spend(nameKey)
		d.byAddress.Spend(clientAddr)
		return Session{}, ErrBadCredentials
	}
	if snapshot.Disabled {
		return Session{}, ErrDisabled
	}
	key, err := d.signingKey(ctx)
	if err != nil {
		return Session{}, err
	}
	c := tokenClaims{Account: snapshot.ID, Session: newSessionID(), Issued: now.Unix(), Seen: now.Unix(), Epoch: snapshot.epoch}
	return d.session(key, c), nil
}

// hashesAtOnce bounds the argon2id computations running at once: each
// takes 19 MiB of memory and a core for tens of milliseconds, so a burst
// of sign-ins costs at most 38 MiB and the others wait their turn.
const hashesAtOnce = 2

// acquireHash waits for a hashing slot (or for ctx to end).
func (d *Directory) acquireHash(ctx context.Context) error {
	select {
	case d.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Directory) releaseHash() { <-d.hashing }

// signingKey is the shared session key, read or created on first use.
func (d *Directory) signingKey(ctx context.Context) ([]byte, error) {
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	if d.key == nil {
		key, err := sessionKey(ctx, d.store)
		if err != nil {
			return nil, err
		}
		d.key = key
	}
	return d.key, nil
}

// session renders the Session of claims.
func (d *Directory) session(key []byte, c tokenClaims) Session {
	issued := time.Unix(c.Issued, 0)
	expires := issued.Add(d.absolute)
	if idle := time.Unix(c.Seen, 0).Add(d.idle); idle.Before(expires) {
		expires = idle
	}
	return Session{ID: c.Session, AccountID: c.Account, IssuedAt: issued, ExpiresAt: expires,
		Token: sign(key, c), CSRF: csrfToken(key, c.Session)}
}

// Verify checks a session token: signed with the shared key, within its
// idle and absolute limits, not signed out, its account enabled and its
// password unchanged since the sign-in. It returns the account and the
// session with a renewed token.
func (d *Directory) Verify(ctx context.Context, token string) (Account, Session, error) {
	key, err := d.signingKey(ctx)
	if err != nil {
		return Account{}, Session{}, err
	}
	c, err := parse(key, token)
	if err != nil {
		return Account{}, Session{}, err
	}
	now := d.now()
	if now.Sub(time.Unix(c.Issued, 0)) >= d.absolute || now.Sub(time.Unix(c.Seen, 0)) >= d.idle {
		return Account{}, Session{}, ErrSessionExpired
	}
	if err := d.fresh(ctx); err != nil {
		return Account{}, Session{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.byID[c.Account]
	switch {
	case !ok:
		return Account{}, Session{}, ErrBadSession
	case a.Disabled:
		return Account{}, Session{}, ErrDisabled
	case a.epoch != c.Epoch:
		return Account{}, Session{}, ErrSessionExpired
	}
	if _, ended := a.ended[c.Session]; ended {
		return Account{}, Session{}, ErrSessionExpired
	}
	c.Seen = now.Unix()
	return a.Account, d.session(key, c), nil
}

// CheckCSRF reports whether a form's token is the session's.
func (d *Directory) CheckCSRF(s Session, formToken string) bool {
	d.keyMu.Lock()
	key := d.key
	d.keyMu.Unlock()
	return key != nil && s.ID != "" && hmac.Equal([]byte(csrfToken(key, s.ID)), []byte(formToken))
}

// SignOut ends the token's session on every instance (an event on the
// account's stream). An invalid or expired token is already signed out.
func (d *Directory) SignOut(ctx context.Context, token string) error {
	acc, s, err := d.Verify(ctx, token)
	if err != nil {
		if errors.Is(err, ErrBadSession) || errors.Is(err, ErrSessionExpired) || errors.Is(err, ErrDisabled) {
			return nil
		}
		return err
	}
	until := s.IssuedAt.Add(d.absolute)
	return d.change(ctx, Actor{Name: acc.Name, Role: acc.Role}, acc.Name, func(*account) (string, any, error) {
		return typeSignedOut, signedOut{Session: s.ID, Until: until}, nil
	})
}

// List returns every account, by name.
func (d *Directory) List(ctx context.Context) ([]Account, error) {
	if err := d.fresh(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Account, 0, len(d.byID))
	for _, a := range d.byID {
		out = append(out, a.Account)
	}
	slices.SortFunc(out, func(a, b Account) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
}

// Get returns the account of the name (in any case).
func (d *Directory) Get(ctx context.Context, name string) (Account, error) {
	if err := d.fresh(ctx); err != nil {
		return Account{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.byName[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Account{}, ErrNotFound
	}
	return a.Account, nil
}

// Add creates an account of the company's staff. The name must be free in
// any case, on every instance: the account's stream is created with
// expected revision NoStream.
func (d *Directory) Add(ctx context.Context, by Actor, name, role, password string) (Account, error) {
	return d.AddToOrganisation(ctx, by, name, role, "", password)
}

// AddToOrganisation creates an account, like Add, of a person of the
// partner organisation (empty: of the company's staff).
func (d *Directory) AddToOrganisation(ctx context.Context, by Actor, name, role, organisation, password string) (Account, error) {
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return Account{}, err
	}
	if err := d.checkRole(role); err != nil {
		return Account{}, err
	}
	if err := d.checkOrganisation(role, organisation); err != nil {
		return Account{}, err
	}
	if err := checkPassword(password); err != nil {
		return Account{}, err
	}
	if err := d.acquireHash(ctx); err != nil {
		return Account{}, err
	}
	hash, err := hashPassword(password)
	d.releaseHash()
	if err != nil {
		return Account{}, err
	}
	id := IDFor(name)
	stream := eventlog.Accounts.Stream(id)
	ev, err := d.event(stream, nil, by, typeAdded, added{Name: name, Role: role, Organisation: organisation, PasswordHash: hash})
	if err != nil {
		return Account{}, err
	}
	if _, err := d.store.Append(ctx, stream, eventstore.NoStream, ev); err != nil {
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			return Account{}, ErrNameTaken
		}
		return Account{}, err
	}
	if err := d.readStream(ctx, id); err != nil {
		return Account{}, err
	}
	return d.Get(ctx, name)
}

// Disable stops the account from signing in and ends its sessions.
// Disabling a disabled account changes nothing.
func (d *Directory) Disable(ctx context.Context, by Actor, name string) error {
	return d.change(ctx, by, name, func(a *account) (string, any, error) {
		if a.Disabled {
			return "", nil, nil
		}
		return typeDisabled, struct{}{}, nil
	})
}

// Enable lets a disabled account sign in again (its old sessions stay
// ended). Enabling an enabled account changes nothing.
func (d *Directory) Enable(ctx context.Context, by Actor, name string) error {
	return d.change(ctx, by, name, func(a *account) (string, any, error) {
		if !a.Disabled {
			return "", nil, nil
		}
		return typeEnabled, struct{}{}, nil
	})
}

// ResetPassword sets a new password and ends the account's sessions.
func (d *Directory) ResetPassword(ctx context.Context, by Actor, name, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	if err := d.acquireHash(ctx); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	d.releaseHash()
	if err != nil {
		return err
	}
	return d.change(ctx, by, name, func(*account) (string, any, error) {
		return typePasswordChanged, passwordChanged{PasswordHash: hash}, nil
	})
}

// SetRole gives the account another role; its sessions carry the new role
// from their next request.
func (d *Directory) SetRole(ctx context.Context, by Actor, name, role string) error {
	if err := d.checkRole(role); err != nil {
		return err
	}
	return d.change(ctx, by, name, func(a *account) (string, any, error) {
		if a.Role == role {
			return "", nil, nil
		}
		if err := d.checkOrganisation(role, a.Organisation); err != nil {
			return "", nil, err
		}
		return typeRoleChanged, roleChanged{Role: role}, nil
	})
}

// SetLanguage records the person's language (a BCP 47 tag such as "bg" or
// "en-GB"; empty: none chosen).
func (d *Directory) SetLanguage(ctx context.Context, by Actor, name, lang string) error {
	if lang != "" {
		tag, err := language.Parse(lang)
		if err != nil {
			return &InvalidError{Field: "language", Reason: fmt.Sprintf("%q is not a language tag", lang)}
		}
		lang = tag.String()
	}
	return d.change(ctx, by, name, func(a *account) (string, any, error) {
		if a.Language == lang {
			return "", nil, nil
		}
		return typeLanguageSet, languageSet{Language: lang}, nil
	})
}

func (d *Directory) checkOrganisation(role, organisation string) error {
	if d.checkOrg == nil {
		return nil
	}
	if err := d.checkOrg(role, organisation); err != nil {
		return &InvalidError{Field: "organisation", Reason: err.Error()}
	}
	return nil
}

func (d *Directory) checkRole(role string) error {
	if !slices.Contains(d.roles, role) {
		return &InvalidError{Field: "role", Reason: fmt.Sprintf("%q is not one of %s", role, strings.Join(d.roles, ", "))}
	}
	return nil
}

// change appends the event decide returns for the named account, at the
// revision decide saw; when another instance wrote in between it catches
// up and decides again. decide returns an empty type to change nothing.
func (d *Directory) change(ctx context.Context, by Actor, name string, decide func(*account) (string, any, error)) error {
	for range 5 {
		if err := d.fresh(ctx); err != nil {
			return err
		}
		d.mu.Lock()
		a, ok := d.byName[strings.ToLower(strings.TrimSpace(name))]
		var snapshot account
		if ok {
			snapshot = *a
		}
		d.mu.Unlock()
		if !ok {
			return ErrNotFound
		}
		typ, data, err := decide(&snapshot)
		if err != nil || typ == "" {
			return err
		}
		stream := eventlog.Accounts.Stream(snapshot.ID)
		ev, err := d.event(stream, snapshot.last, by, typ, data)
		if err != nil {
			return err
		}
		_, err = d.store.Append(ctx, stream, eventstore.Exact(snapshot.revision), ev)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			// Another instance wrote first: read what it wrote.
			if err := d.readStream(ctx, snapshot.ID); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		return d.readStream(ctx, snapshot.ID)
	}
	return fmt.Errorf("accounts: %s: the account kept changing; try again", name)
}

// metadata is every account event's metadata: who did it.
type metadata struct {
	Actor string `json:"actor"`
	Role  string `json:"role"`
}

// event is the event to append to stream after prev (nil: the stream is
// new), sealed into the audit hash chain like every event of the ledger.
func (d *Directory) event(stream string, prev *eventstore.RecordedEvent, by Actor, typ string, data any) (eventstore.EventData, error) {
	if by.Name == "" {
		return eventstore.EventData{}, errors.New("accounts: a change needs an actor")
	}
	body, err := json.Marshal(data)
	if err != nil {
		return eventstore.EventData{}, err
	}
	meta, _ := json.Marshal(metadata{Actor: by.Name, Role: by.Role})
	events := []eventstore.EventData{{ID: uuid.New(), Type: typ, Data: body, Metadata: meta}}
	if err := audit.SealEvents(stream, prev, events); err != nil {
		return eventstore.EventData{}, err
	}
	return events[0], nil
}

// The events' data.
type (
	added struct {
		Name string `json:"name"`
		Role string `json:"role"`
		// Organisation is absent from the events of the staff's
		// accounts, and of every account added before partners existed.
		Organisation string `json:"organisation,omitempty"`
		PasswordHash string `json:"password_hash"`
	}
	passwordChanged struct {
		PasswordHash string `json:"password_hash"`
	}
	roleChanged struct {
		Role string `json:"role"`
	}
	languageSet struct {
		Language string `json:"language"`
	}
	signedOut struct {
		Session string    `json:"session"`
		Until   time.Time `json:"until"`
	}
)

// accountStreams selects the accounts' events in $all.
var accountStreams = eventstore.Filter{StreamPrefixes: []string{eventlog.Accounts.Prefix()}}

// Follow keeps the directory current until ctx ends: it reads the
// accounts once, then follows the new events of their streams, so that
// the questions every console request asks (Verify, and List, Get, SignIn)
// are answered from memory. Without it (the command-line tools) each
// question reads what was appended since the last account event, which
// on a long log is the whole log since then. When the store fails, Follow
// falls back to reading at each question and tries again after retry.
func (d *Directory) Follow(ctx context.Context, retry time.Duration) {
	d.fold.Follow(ctx, retry)
}

// fresh makes the directory current enough to answer.
func (d *Directory) fresh(ctx context.Context) error {
	if err := d.fold.Fresh(ctx); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	return nil
}

// readStream folds the events of one account's stream that the directory
// has not seen: its own write, or another instance's that it lost to,
// without waiting for Follow or reading $all.
func (d *Directory) readStream(ctx context.Context, id uuid.UUID) error {
	d.mu.Lock()
	from := uint64(0)
	if a, ok := d.byID[id]; ok {
		from = a.revision + 1
	}
	d.mu.Unlock()
	recs, err := d.store.ReadStream(ctx, eventlog.Accounts.Stream(id), eventstore.Forwards, from, 4096)
	if err != nil {
		return fmt.Errorf("accounts: read account %s: %w", id, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range recs {
		if err := d.apply(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}

// apply folds one event into the directory, once: an event at or below
// the revision its account is at was folded already (read from its stream
// by this instance's own write, then delivered by Follow or a catch-up).
func (d *Directory) apply(rec *eventstore.RecordedEvent) error {
	id, err := eventlog.Accounts.ID(rec.Stream)
	if err != nil {
		return nil // not an account's stream
	}
	if a, ok := d.byID[id]; ok && rec.Revision <= a.revision {
		return nil
	}
	malformed := func(err error) error {
		return fmt.Errorf("accounts: %s@%d (%s): %w", rec.Stream, rec.Revision, rec.Type, err)
	}
	if rec.Type == typeAdded {
		var e added
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		a := &account{Account: Account{ID: id, Name: e.Name, Role: e.Role, Organisation: e.Organisation, Created: rec.Created, PasswordChanged: rec.Created},
			hash: e.PasswordHash, revision: rec.Revision, last: rec}
		d.byID[id] = a
		d.byName[strings.ToLower(e.Name)] = a
		return nil
	}
	a, ok := d.byID[id]
	if !ok {
		return malformed(errors.New("an event before the account was added"))
	}
	a.revision, a.last = rec.Revision, rec
	switch rec.Type {
	case typePasswordChanged:
		var e passwordChanged
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		a.hash, a.PasswordChanged = e.PasswordHash, rec.Created
		a.epoch++
	case typeDisabled:
		a.Disabled = true
		a.epoch++
	case typeEnabled:
		a.Disabled = false
	case typeRoleChanged:
		var e roleChanged
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		a.Role = e.Role
	case typeLanguageSet:
		var e languageSet
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		a.Language = e.Language
	case typeSignedOut:
		var e signedOut
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return malformed(err)
		}
		now := d.now()
		for s, until := range a.ended {
			if now.After(until) {
				delete(a.ended, s)
			}
		}
		if a.ended == nil {
			a.ended = map[string]time.Time{}
		}
		a.ended[e.Session] = e.Until
	}
	// Types this version does not know are left for a later one.
	return nil
}
