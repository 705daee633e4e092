package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/notify"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.t) {
		c.t = t
	}
	c.mu.Unlock()
}

func openStore(t testing.TB) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir(), embedded.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// appendClaim appends domain events to a claim's stream.
func appendClaim(t *testing.T, s eventstore.Store, claim uuid.UUID, events ...domain.Event) eventstore.Position {
	t.Helper()
	var data []eventstore.EventData
	for _, e := range events {
		typ, body, err := domain.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, eventstore.EventData{ID: uuid.New(), Type: typ, Data: body})
	}
	res, err := s.Append(context.Background(), "claim-"+claim.String(), eventstore.Any, data...)
	if err != nil {
		t.Fatal(err)
	}
	return res.Position
}

func appendRaw(t *testing.T, s eventstore.Store, stream, typ string, v any) {
	t.Helper()
	body, _ := json.Marshal(v)
	if _, err := s.Append(context.Background(), stream, eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: typ, Data: body}); err != nil {
		t.Fatal(err)
	}
}

func registered(claim uuid.UUID, number, email, customer string) domain.ClaimRegistered {
	return domain.ClaimRegistered{ClaimID: claim, Number: number, CustomerID: customer, At: t0,
		Customer: domain.Customer{Name: "Ivana Petrova", Phone: "+359888123456", Email: email}}
}

func assigned(to string) domain.ClaimAssigned { return domain.ClaimAssigned{Assignee: to, At: t0} }

// emailComposer writes one e-mail to the claim's customer per event,
// ordered per claim; the registration is essential.
type emailComposer struct{}

func (emailComposer) Compose(_ context.Context, e notify.Event) ([]notify.Message, error) {
	if e.Claim.Email == "" {
		return nil, nil
	}
	_, essential := e.Event.(domain.ClaimRegistered)
	return []notify.Message{{
		ID: notify.MessageID(e.Record.ID.String(), notify.Email, e.Claim.Email), Channel: notify.Email,
		Recipient: e.Claim.Email, Kind: e.Record.Type, OrderKey: e.Claim.ID.String(), Essential: essential,
		Language: e.Claim.Language, Subject: "Claim " + e.Claim.Number,
		Text: "Dear " + e.Claim.Name + ", write to " + e.Claim.Email + " (" + string(e.Claim.Status) + ")",
	}}, nil
}

// sender records what it is handed; fail decides an attempt's error.
type sender struct {
	mu    sync.Mutex
	got   []notify.Message
	at    []time.Time
	clock *clock
	fail  func(m notify.Message) error
	// after runs once the message is recorded, outside the lock.
	after func()
}

func (s *sender) Send(_ context.Context, m notify.Message) error {
	s.mu.Lock()
	if s.fail != nil {
		if err := s.fail(m); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.got = append(s.got, m)
	if s.clock != nil {
		s.at = append(s.at, s.clock.Now())
	}
	after := s.after
	s.mu.Unlock()
	if after != nil {
		after()
	}
	return nil
}

func (s *sender) messages() []notify.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.Message(nil), s.got...)
}

// counts returns how often each id was handed over.
func (s *sender) counts() map[uuid.UUID]int {
	n := map[uuid.UUID]int{}
	for _, m := range s.messages() {
		n[m.ID]++
	}
	return n
}

type options func(*Config)

func openOutbox(t testing.TB, store eventstore.Store, path string, opts ...options) *Outbox {
	t.Helper()
	cfg := Config{Path: path, Store: store, Composers: []notify.Composer{emailComposer{}}, FromStart: true, Logger: quiet}
	for _, o := range opts {
		o(&cfg)
	}
	o, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func withClock(c *clock) options { return func(cfg *Config) { cfg.Now = c.Now } }

func withSender(ch notify.Channel, s notify.Sender) options {
	return func(cfg *Config) {
		if cfg.Senders == nil {
			cfg.Senders = map[notify.Channel]notify.Sender{}
		}
		cfg.Senders[ch] = s
	}
}

func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "outbox.db") }

func mustCatchUp(t *testing.T, o *Outbox) {
	t.Helper()
	if err := o.catchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func mustDeliver(t *testing.T, o *Outbox) time.Time {
	t.Helper()
	next, err := o.deliverAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func list(t *testing.T, o *Outbox, f Filter) []Entry {
	t.Helper()
	es, err := o.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func deliveryStream(t *testing.T, s eventstore.Store, id uuid.UUID, round int) []string {
	t.Helper()
	evs, err := s.ReadStream(context.Background(), eventlog.DeliveryStream(id, round), eventstore.Forwards, 0, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	// Every delivery stream is sealed into the audit hash chain.
	if r, err := audit.VerifyStream(context.Background(), s, eventlog.DeliveryStream(id, round)); err != nil || !r.OK {
		t.Fatalf("audit verify of the delivery stream of %s: %+v, %v", id, r.Break, err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	return types
}
