package ledger

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

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/privacy"
)

// Errors of the write side, matched with errors.Is. Domain errors
// (domain.InvalidTransitionError, domain.ValidationErrors, rule errors) pass
// through unchanged.
var (
	// ErrNotFound means the claim does not exist.
	ErrNotFound = errors.New("ledger: claim not found")
	// ErrStaleVersion means If-Match named a version the claim is no longer at.
	ErrStaleVersion = errors.New("ledger: stale version")
	// ErrIdempotencyKeyReused means the key was already used for a different request.
	ErrIdempotencyKeyReused = errors.New("ledger: idempotency key reused for a different request")
	// ErrConflict means the claim kept changing under the command and it gave up.
	ErrConflict = errors.New("ledger: too many concurrent changes")
)

// StaleVersionError reports the version a command expected and the one found.
type StaleVersionError struct {
	Expected, Current int64
}

func (e *StaleVersionError) Error() string {
	return fmt.Sprintf("ledger: claim is at version %d, request expected %d", e.Current, e.Expected)
}

// Is makes errors.Is(err, ErrStaleVersion) true.
func (e *StaleVersionError) Is(target error) bool { return target == ErrStaleVersion }

// idNamespace derives event and claim IDs from idempotency keys, so that a
// retried request produces the same IDs and the store deduplicates it.
var idNamespace = uuid.MustParse("6f1c8f0e-5c57-4a8e-9d59-2f4a0c3b7e11")

// Config configures a Service. The zero value of each field takes a default.
type Config struct {
	// Policy decides and is recorded on events (default domain.DefaultPolicy()).
	// It is used only when Policies is nil, as a book of this one version.
	Policy domain.Policy
	// Policies are every version of the policy. A new claim is decided under
	// the version in force at its registration, and stays governed by it:
	// the version recorded in its registration's metadata decides every later
	// command on it, so that a policy change never alters how an open claim
	// is handled (see policy.go).
	Policies *domain.PolicyBook
	// Location is the deployment's time zone; claim numbers take their year
	// from it (default UTC).
	Location *time.Location
	// NumberBlock is how many claim numbers one reservation takes (default 20).
	NumberBlock int
	// MaxAttempts bounds the retries of a command whose claim changed between
	// read and append (default 5).
	MaxAttempts int
	// Clock gives the decision time (default time.Now).
	Clock func() time.Time
	// NewID makes claim and event IDs (default uuid.New).
	NewID func() uuid.UUID
	// Privacy, when set, encrypts the personal fields of events before
	// they are sealed into the hash chain and opens them on every read
	// (see privacy.go); nil stores them in the clear.
	Privacy *privacy.Codec
	// CacheSize bounds the claims whose folded history the service keeps
	// between commands (see cache.go), default DefaultCacheSize. A negative
	// size disables the cache: every command reads its claim's stream.
	CacheSize int
	// Repairs finds the earlier repairs of a unit that the ledger holds,
	// which a registration counts in its eligibility (see RepairFinder);
	// nil finds none.
	Repairs RepairFinder
}

// RepairFinder finds the repairs the ledger holds of a unit: claims on
// the same serial number or IMEI that were repaired and delivered
// (domain.RepairOnRecordOf). projections.Runner finds them in the claims
// read model.
type RepairFinder interface {
	RepairsOf(ctx context.Context, unit domain.Product) ([]domain.RepairOnRecord, error)
}

// DefaultCacheSize is the default Config.CacheSize: the claims being
// worked on at once in a busy service, not every claim ever. A cached claim
// of 12 events with sealed personal data holds about 17 KB (its stored
// records are most of it), so 1,000 claims are about 17 MiB of the
// service's 256 MiB target (docs/performance.md), and twice that in resident memory once the
// collector's headroom is counted; 10,000 would be 170 MiB.
const DefaultCacheSize = 1_000

func (c *Config) setDefaults() {
	if c.Policy.Version == "" {
		c.Policy = domain.DefaultPolicy()
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.NumberBlock == 0 {
		c.NumberBlock = 20
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.NewID == nil {
		c.NewID = uuid.New
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.NumberBlock < 1 || c.NumberBlock > 10000 {
		return fmt.Errorf("ledger: NumberBlock %d out of range 1..10000", c.NumberBlock)
	}
	if c.MaxAttempts < 1 {
		return fmt.Errorf("ledger: MaxAttempts must be at least 1")
	}
	return nil
}

// Service runs commands against claims.
type Service struct {
	store   eventstore.Store
	cfg     Config
	numbers *numberer
	cache   *claimCache // nil when disabled
}

// New returns a Service writing to store.
func New(store eventstore.Store, cfg Config) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Policies == nil {
		book, err := domain.NewPolicyBook(cfg.Policy)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		cfg.Policies = book
	}
	return &Service{store: store, cfg: cfg, numbers: newNumberer(store, cfg.NumberBlock, cfg.Location), cache: newClaimCache(cfg.CacheSize)}, nil
}

// Actor is who runs a command.
type Actor struct {
	Name string
	Role string
	// Org is the partner organisation the actor acts for; empty for the company's staff and
	// processes.
	Org string
}

// Request carries what a command needs besides itself.
type Request struct {
	Actor Actor
	// CorrelationID ties the events to the request; generated when empty.
	CorrelationID string
	// IdempotencyKey makes a retried request answer the first result and write nothing.
	IdempotencyKey string
	// IfMatch, when set, is the claim version the client acted on.
	IfMatch *int64
}

// Result is the claim after a command.
type Result struct {
	Claim domain.State
	// Position is the $all position of the command's last event.
	Position eventstore.Position
	// Replayed is true when the answer repeats an earlier request with the
	// same idempotency key and nothing was written.
	Replayed bool
}

// Register records a new claim. The claim's ID and number are assigned here.
func (s *Service) Register(ctx context.Context, cmd *domain.RegisterClaim, req Request) (Result, error) {
	if err := cmd.Validate(); err != nil {
		return Result{}, err
	}
	hash, err := requestHash(domain.ActionRegister, cmd)
	if err != nil {
		return Result{}, err
	}
	id := s.cfg.NewID()
	if req.IdempotencyKey != "" {
		id = uuid.NewSHA1(idNamespace, []byte("register\x00"+req.Actor.Name+"\x00"+req.IdempotencyKey))
	}
	for attempt := 0; attempt < s.cfg.MaxAttempts; attempt++ {
		if req.IdempotencyKey != "" {
			h, err := s.load(ctx, id)
			if err == nil {
				res, err := h.replay(req, hash)
				if errors.Is(err, errNoSuchRequest) {
					return Result{}, ErrIdempotencyKeyReused // another key derived the same ID
				}
				return res, err
			}
			if !errors.Is(err, ErrNotFound) {
				return Result{}, err
			}
		}
		if cmd.RepairsOnRecord, err = s.repairsOf(ctx, cmd.Product); err != nil {
			return Result{}, err
		}
		now := s.cfg.Clock()
		number, err := s.numbers.Next(ctx, now)
		if err != nil {
			return Result{}, err
		}
		cmd.ClaimID, cmd.Number = id, number
		res, err := s.decideAndAppend(ctx, id, history{epoch: s.cache.stamp()}, cmd, req, hash, now, eventstore.NoStream)
		if (errors.Is(err, eventstore.ErrWrongExpectedRevision) || errors.Is(err, errNotOurs)) && req.IdempotencyKey != "" {
			continue // a concurrent retry of this request won: answer with its result
		}
		return res, err
	}
	return Result{}, ErrConflict
}

// Execute runs a lifecycle command on an existing claim.
func (s *Service) Execute(ctx context.Context, id uuid.UUID, cmd domain.Command, req Request) (Result, error) {
	if err := cmd.Validate(); err != nil {
		return Result{}, err
	}
	hash, err := requestHash(cmd.Action(), cmd)
	if err != nil {
		return Result{}, err
	}
	// The first pass may run on the cached history (cache.go). Whatever it
	// does not settle with a successful append or a retried request's
	// answer is settled again from a fresh read, without counting as an
	// attempt: the outcome is the one a fresh read gives.
	useCache := true
	for attempt := 0; attempt < s.cfg.MaxAttempts; {
		h, cached, err := s.current(ctx, id, useCache)
		if err != nil {
			return Result{}, err
		}
		useCache = false
		if !cached {
			attempt++
		}
		res, replayed, retry, err := s.execute(ctx, id, h, cmd, req, hash)
		if cached && !replayed && (retry || err != nil) {
			s.cache.forget(id)
			continue
		}
		if retry {
			continue
		}
		return res, err
	}
	return Result{}, ErrConflict
}

// execute runs a command once on the claim's history h. replayed reports
// an answer (or refusal) from the events of a retried request; retry
// reports that the claim changed under the command, which is to be run
// again on a fresh read.
func (s *Service) execute(ctx context.Context, id uuid.UUID, h history, cmd domain.Command, req Request, hash string) (res Result, replayed, retry bool, err error) {
	if req.IdempotencyKey != "" {
		if res, err := h.replay(req, hash); !errors.Is(err, errNoSuchRequest) {
			return res, true, false, err
		}
	}
	if req.IfMatch != nil && *req.IfMatch != h.state.Version {
		return Result{}, false, false, &StaleVersionError{Expected: *req.IfMatch, Current: h.state.Version}
	}
	expected := eventstore.Exact(uint64(h.state.Version - 1))
	res, err = s.decideAndAppend(ctx, id, h, cmd, req, hash, s.cfg.Clock(), expected)
	switch {
	case errors.Is(err, eventstore.ErrWrongExpectedRevision) && req.IfMatch != nil:
		// Someone else wrote after the client's version: the client
		// must look again. Report the version now current.
		current := h.state.Version + 1
		if latest, lerr := s.load(ctx, id); lerr == nil {
			current = latest.state.Version
		}
		return Result{}, false, false, &StaleVersionError{Expected: *req.IfMatch, Current: current}
	case errors.Is(err, eventstore.ErrWrongExpectedRevision), errors.Is(err, errNotOurs):
		return Result{}, false, true, nil
	}
	return res, false, false, err
}

// Claim returns the claim's current state, folded from its stream. It
// always reads the stream (another process may have written to it), and
// refreshes the cache with what it read.
func (s *Service) Claim(ctx context.Context, id uuid.UUID) (domain.State, eventstore.Position, error) {
	h, _, err := s.current(ctx, id, false)
	if err != nil {
		return domain.State{}, eventstore.Position{}, err
	}
	return h.state, h.records[len(h.records)-1].Position, nil
}

// Organisation returns the partner organisation the claim belongs to ("" for the company's
// own), or ErrNotFound. A claim's organisation is fixed at registration, so a cached history
// answers as well as a fresh read.
func (s *Service) Organisation(ctx context.Context, id uuid.UUID) (string, error) {
	h, _, err := s.current(ctx, id, true)
	if err != nil {
		return "", err
	}
	return h.state.Organisation, nil
}

// Events returns the claim's stored events in order, for reading (see openForReading).
func (s *Service) Events(ctx context.Context, id uuid.UUID) ([]eventstore.RecordedEvent, error) {
	records, err := s.store.ReadStream(ctx, eventlog.Claims.Stream(id), eventstore.Forwards, 0, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.openForReading(ctx, records)
}

func (s *Service) decideAndAppend(ctx context.Context, id uuid.UUID, h history, cmd domain.Command, req Request, hash string, now time.Time, expected eventstore.ExpectedRevision) (Result, error) {
	policy := s.governing(h, now)
	if c, ok := cmd.(domain.ClockDependent); ok {
		// The clocks as the timers read model folds them: from the
		// claim's history under the policy that governs it.
		c.SetClocks(domain.FoldClocks(h.events, policy))
	}
	events, err := domain.Decide(h.state, cmd, now, policy)
	if err != nil {
		return Result{}, err
	}
	stored, err := s.sealPersonal(ctx, h, events)
	if err != nil {
		return Result{}, err
	}
	correlation := req.CorrelationID
	if correlation == "" {
		correlation = s.cfg.NewID().String()
	}
	meta, err := eventlog.Metadata{
		CorrelationID:  correlation,
		CausationID:    correlation,
		Actor:          req.Actor.Name,
		Role:           req.Actor.Role,
		Organisation:   req.Actor.Org,
		Action:         string(cmd.Action()),
		OccurredAt:     now.UTC(),
		PolicyVersion:  policy.Version,
		IdempotencyKey: req.IdempotencyKey,
		RequestHash:    hash,
	}.Encode()
	if err != nil {
		return Result{}, err
	}
	data := make([]eventstore.EventData, len(events))
	for i, e := range stored {
		typ, body, err := domain.EncodeEvent(e)
		if err != nil {
			return Result{}, err
		}
		eventID := s.cfg.NewID()
		if req.IdempotencyKey != "" {
			eventID = uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d", id, req.Actor.Name, req.IdempotencyKey, h.state.Version+int64(i)))
		}
		data[i] = eventstore.EventData{ID: eventID, Type: typ, Data: body, Metadata: meta}
	}
	if err := h.seal(eventlog.Claims.Stream(id), data); err != nil {
		return Result{}, err
	}
	res, err := s.store.Append(ctx, eventlog.Claims.Stream(id), expected, data...)
	if err != nil {
		return Result{}, err
	}
	if err := s.remember(ctx, id, h, data, events, res, req.IdempotencyKey != ""); err != nil {
		return Result{}, err
	}
	state := h.state
	for _, e := range events {
		state = domain.Evolve(state, e)
	}
	return Result{Claim: state, Position: res.Position}, nil
}

// history is a claim's stream, decoded.
type history struct {
	state   domain.State
	records []eventstore.RecordedEvent
	events  []domain.Event
	// first is the metadata of the stream's first event, the registration,
	// whose policy version governs the claim. The other events' metadata is
	// decoded only when replay looks for a retried request: decoding every
	// event's metadata on every command was an eighth of a command's CPU
	// (docs/performance.md).
	first eventlog.Metadata
	// customerID is the one the claim's personal data is sealed for, read
	// from its stored registration ("" for a claim stored in the clear).
	customerID string
	// epoch is the cache's epoch when the events were opened (cache.go).
	epoch uint64
}

func (s *Service) load(ctx context.Context, id uuid.UUID) (history, error) {
	epoch := s.cache.stamp() // before any event is opened
	records, err := s.store.ReadStream(ctx, eventlog.Claims.Stream(id), eventstore.Forwards, 0, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return history{}, ErrNotFound
	}
	if err != nil {
		return history{}, err
	}
	h := history{records: records, events: make([]domain.Event, len(records)), epoch: epoch}
	if h.first, err = eventlog.DecodeMetadata(records[0].Metadata); err != nil {
		return history{}, err
	}
	for i, r := range records {
		e, err := domain.DecodeEvent(r.Type, r.Data)
		if err != nil {
			return history{}, fmt.Errorf("ledger: %s revision %d: %w", r.Stream, r.Revision, err)
		}
		if id, ok := privacy.CustomerIDOf(e); ok {
			h.customerID = id
		}
		if e, err = s.openEvent(ctx, e); err != nil {
			return history{}, fmt.Errorf("ledger: %s revision %d: %w", r.Stream, r.Revision, err)
		}
		h.events[i] = e
		h.state = domain.Evolve(h.state, e)
	}
	return h, nil
}

// errNoSuchRequest means the stream holds no events of the request's key.
var errNoSuchRequest = errors.New("ledger: no event with this idempotency key")

// replay answers a retried request from the events it wrote the first time:
// the claim as it stood right after them.
func (h history) replay(req Request, hash string) (Result, error) {
	last := -1
	for i, r := range h.records {
		if !mayHoldKey(r.Metadata, req.IdempotencyKey) {
			continue
		}
		m, err := eventlog.DecodeMetadata(r.Metadata)
		if err != nil {
			return Result{}, err
		}
		if m.IdempotencyKey == req.IdempotencyKey && m.Actor == req.Actor.Name {
			if m.RequestHash != hash {
				return Result{}, ErrIdempotencyKeyReused
			}
			last = i
		}
	}
	if last < 0 {
		return Result{}, errNoSuchRequest
	}
	return Result{Claim: domain.Fold(h.events[:last+1]), Position: h.records[last].Position, Replayed: true}, nil
}

// mayHoldKey reports whether stored metadata can record the idempotency
// key, without decoding it: most commands carry a key, and a stream rarely
// holds it. encoding/json, which wrote the metadata, copies printable ASCII
// into a string verbatim except '"', '\\' and the HTML characters '<', '>'
// and '&', which it escapes; a key made of other printable ASCII characters
// (the API accepts printable ASCII only) appears byte for byte in metadata
// that records it. For any other key it cannot tell, and says yes.
func mayHoldKey(meta []byte, key string) bool {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return true
		}
	}
	return bytes.Contains(meta, []byte(key))
}

// requestHash fingerprints a command for idempotency checks.
func requestHash(action domain.Action, cmd domain.Command) (string, error) {
	body, err := json.Marshal(cmd)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(string(action)+"\x00"), body...))
	return hex.EncodeToString(sum[:16]), nil
}

// repairsOf looks up the unit's earlier repairs for a registration.
func (s *Service) repairsOf(ctx context.Context, unit domain.Product) ([]domain.RepairOnRecord, error) {
	if s.cfg.Repairs == nil {
		return nil, nil
	}
	repairs, err := s.cfg.Repairs.RepairsOf(ctx, unit)
	if err != nil {
		return nil, fmt.Errorf("ledger: looking up earlier repairs of the unit: %w", err)
	}
	return repairs, nil
}
