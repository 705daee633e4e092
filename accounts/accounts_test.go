package accounts

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

var roles = []string{"agent", "technician", "finance", "auditor", "admin"}

var admin = Actor{Name: "root", Role: "admin"}

const password = "correct horse battery"

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openStore is an embedded store in a fresh directory.
func openStore(t *testing.T) eventstore.Store { return benchStore(t) }

// benchStore is openStore for tests and benchmarks alike.
func benchStore(t testing.TB) eventstore.Store {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// instance is a Directory over store, as one service instance has it.
func instance(t *testing.T, store eventstore.Store, clk *clock, tweak ...func(*Config)) *Directory {
	t.Helper()
	cfg := Config{Store: store, Roles: roles, Clock: clk.Now}
	for _, f := range tweak {
		f(&cfg)
	}
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func mustAdd(t *testing.T, d *Directory, name, role string) Account {
	t.Helper()
	a, err := d.Add(context.Background(), admin, name, role, password)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// countEvents is how many events the store holds.
func countEvents(t *testing.T, store eventstore.Store) int {
	t.Helper()
	recs, err := store.ReadAll(context.Background(), eventstore.Start, 10000, eventstore.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func TestAddRefusesBadInputAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	d := instance(t, store, newClock())
	mustAdd(t, d, "maria.petrova", "agent")
	for _, tc := range []struct {
		name, role, password string
		want                 error
	}{
		{"ivan", "agent", "short", ErrWeakPassword},
		{"ivan", "agent", "elevenchars", ErrWeakPassword},
		{"ivan", "clerk", password, ErrInvalid},
		{"", "agent", password, ErrInvalid},
		{"ivan ivanov", "agent", password, ErrInvalid},
		{"-ivan", "agent", password, ErrInvalid},
		{strings.Repeat("a", 65), "agent", password, ErrInvalid},
		{"maria.petrova", "agent", password, ErrNameTaken},
		{"Maria.Petrova", "admin", password, ErrNameTaken},
	} {
		before := countEvents(t, store)
		_, err := d.Add(ctx, admin, tc.name, tc.role, tc.password)
		if !errors.Is(err, tc.want) {
			t.Errorf("Add(%q, %q, %q): %v, want %v", tc.name, tc.role, tc.password, err, tc.want)
		}
		if n := countEvents(t, store); n != before {
			t.Errorf("Add(%q) refused but wrote %d events", tc.name, n-before)
		}
	}
	if _, err := d.Add(ctx, admin, "ivan", "agent", "twelve chars"); err != nil {
		t.Errorf("a password of exactly %d characters: %v", MinPasswordLength, err)
	}
}

// TestNameUniqueAcrossInstances: two instances on one store cannot both add
// a name, whether one after the other or at the same moment.
func TestNameUniqueAcrossInstances(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	clk := newClock()
	a, b := instance(t, store, clk), instance(t, store, clk)
	mustAdd(t, a, "desk", "agent")
	if _, err := b.Add(ctx, admin, "DESK", "admin", password); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("instance B added a name instance A had: %v", err)
	}
	for round := range 5 {
		name := "racer" + string(rune('a'+round))
		errs := make(chan error, 2)
		for _, d := range []*Directory{a, b} {
			go func() { _, err := d.Add(ctx, admin, name, "agent", password); errs <- err }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) || !(errors.Is(e1, ErrNameTaken) || errors.Is(e2, ErrNameTaken)) {
			t.Fatalf("%s added at once on two instances: %v, %v (want one success and one ErrNameTaken)", name, e1, e2)
		}
	}
	list, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 6 {
		t.Fatalf("B lists %d accounts, want 6: %+v", len(list), list)
	}
}

func TestSignIn(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	d := instance(t, store, newClock())
	mustAdd(t, d, "maria", "technician")
	mustAdd(t, d, "gone", "agent")
	if err := d.Disable(ctx, admin, "gone"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc, name, password string
		want                 error
	}{
		{"the right password", "maria", password, nil},
		{"the name in another case", "MARIA", password, nil},
		{"a wrong password", "maria", password + "!", ErrBadCredentials},
		{"an empty password", "maria", "", ErrBadCredentials},
		{"an unknown name", "nobody", password, ErrBadCredentials},
		{"a huge password", "maria", strings.Repeat("x", 1<<16), ErrBadCredentials},
		{"a disabled account", "gone", password, ErrDisabled},
		{"a disabled account, wrong password", "gone", "wrong password!", ErrBadCredentials},
	} {
		s, err := d.SignIn(ctx, tc.name, tc.password, "192.0.2.1")
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.desc, err, tc.want)
			continue
		}
		if tc.want == nil {
			acc, _, err := d.Verify(ctx, s.Token)
			if err != nil || acc.Name != "maria" || acc.Role != "technician" {
				t.Errorf("%s: the session verifies as %+v, %v", tc.desc, acc, err)
			}
		}
	}
}

// TestSignInRotatesSession: every sign-in gets a new session id, so a
// session id known before the sign-in is never the signed-in one.
func TestSignInRotatesSession(t *testing.T) {
	ctx := context.Background()
	d := instance(t, openStore(t), newClock())
	mustAdd(t, d, "maria", "agent")
	s1, err := d.SignIn(ctx, "maria", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := d.SignIn(ctx, "maria", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if s1.ID == s2.ID || s1.Token == s2.Token || s1.CSRF == s2.CSRF {
		t.Fatalf("two sign-ins share a session: %+v %+v", s1, s2)
	}
}

func TestSignInLimitPerAccount(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	d := instance(t, openStore(t), clk, func(c *Config) { c.AccountLimit = Limit{Burst: 3, Every: time.Minute} })
	mustAdd(t, d, "maria", "agent")
	for i := range 3 { // from three addresses: the account's count is its own
		if _, err := d.SignIn(ctx, "maria", "wrong password", "192.0.2."+string(rune('1'+i))); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	_, err := d.SignIn(ctx, "Maria", password, "198.51.100.7")
	var limited *LimitedError
	if !errors.As(err, &limited) || !errors.Is(err, ErrLimited) || limited.RetryAfter <= 0 || limited.RetryAfter > time.Minute {
		t.Fatalf("the right password past the account's limit: %v", err)
	}
	if _, err := d.SignIn(ctx, "other", "wrong password", "198.51.100.7"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("another name is not limited by maria's failures: %v", err)
	}
	clk.advance(limited.RetryAfter)
	if _, err := d.SignIn(ctx, "maria", password, "198.51.100.7"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

func TestSignInLimitPerAddress(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	d := instance(t, openStore(t), clk, func(c *Config) { c.AddressLimit = Limit{Burst: 4, Every: 10 * time.Second} })
	mustAdd(t, d, "maria", "agent")
	for i := range 4 { // four names from one address: each name below its own limit
		if _, err := d.SignIn(ctx, "guess"+string(rune('a'+i)), password, "203.0.113.9"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if _, err := d.SignIn(ctx, "maria", password, "203.0.113.9"); !errors.Is(err, ErrLimited) {
		t.Fatalf("the right password from a blocked address: %v", err)
	}
	if _, err := d.SignIn(ctx, "maria", password, "203.0.113.10"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	clk.advance(10 * time.Second)
	if _, err := d.SignIn(ctx, "maria", password, "203.0.113.9"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		desc  string
		steps []time.Duration // each step, then Verify with the renewed token
		want  error
	}{
		{"used within the idle limit", []time.Duration{50 * time.Minute}, nil},
		{"idle past the limit", []time.Duration{time.Hour}, ErrSessionExpired},
		{"used every 50 minutes until just before 8h", []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 29 * time.Minute}, nil},
		{"used every 50 minutes past 8h", []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 30 * time.Minute}, ErrSessionExpired},
	} {
		clk := newClock()
		d := instance(t, openStore(t), clk)
		mustAdd(t, d, "maria", "agent")
		s, err := d.SignIn(ctx, "maria", password, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if want := clk.Now().Add(time.Hour); !s.ExpiresAt.Equal(want) {
			t.Errorf("%s: a new session expires at %s, want %s", tc.desc, s.ExpiresAt, want)
		}
		token := s.Token
		for _, step := range tc.steps {
			clk.advance(step)
			_, s, err = d.Verify(ctx, token)
			if err != nil {
				break
			}
			token = s.Token
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.desc, err, tc.want)
		}
	}
}

// TestSessionsAcrossInstances: a session signed on one instance verifies on
// another over the same store, and a change made on one ends it on the other.
func TestSessionsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		desc   string
		change func(d *Directory, s Session) error
		want   error
	}{
		{"nothing changed", func(*Directory, Session) error { return nil }, nil},
		{"the password reset", func(d *Directory, _ Session) error {
			return d.ResetPassword(ctx, admin, "maria", "a brand new password")
		}, ErrSessionExpired},
		{"the account disabled", func(d *Directory, _ Session) error { return d.Disable(ctx, admin, "maria") }, ErrDisabled},
		{"disabled and enabled again", func(d *Directory, _ Session) error {
			if err := d.Disable(ctx, admin, "maria"); err != nil {
				return err
			}
			return d.Enable(ctx, admin, "maria")
		}, ErrSessionExpired},
		{"signed out", func(d *Directory, s Session) error { return d.SignOut(ctx, s.Token) }, ErrSessionExpired},
		{"the role changed", func(d *Directory, _ Session) error { return d.SetRole(ctx, admin, "maria", "finance") }, nil},
	} {
		// B reads the store at each question, or follows the accounts.
		for _, follows := range []bool{false, true} {
			desc := fmt.Sprintf("%s (B following: %v)", tc.desc, follows)
			store := openStore(t)
			clk := newClock()
			a := instance(t, store, clk)
			mustAdd(t, a, "maria", "agent")
			b := instance(t, store, clk) // started after the key exists
			if follows {
				following(t, b)
			}
			s, err := a.SignIn(ctx, "maria", password, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.Verify(ctx, s.Token); err != nil {
				t.Fatalf("%s: A's session on B: %v", desc, err)
			}
			if err := tc.change(a, s); err != nil {
				t.Fatalf("%s: %v", desc, err)
			}
			// A following instance hears of the change a moment later.
			var acc Account
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				acc, _, err = b.Verify(ctx, s.Token)
				if errors.Is(err, tc.want) && (tc.desc != "the role changed" || acc.Role == "finance") || time.Now().After(deadline) {
					break
				}
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: B verifies A's session: %v, want %v", desc, err, tc.want)
			}
			if tc.desc == "the role changed" && acc.Role != "finance" {
				t.Errorf("%s: B sees the role %q after the change on A", desc, acc.Role)
			}
		}
	}
}

// following runs d.Follow for the test and waits until it follows.
func following(t *testing.T, d *Directory) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Follow(ctx, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); !d.fold.Following(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Follow never caught up")
		}
	}
}

// countingStore counts the reads of $all that go through it.
type countingStore struct {
	eventstore.Store
	reads atomic.Int64
}

func (c *countingStore) ReadAll(ctx context.Context, after eventstore.Position, max int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	c.reads.Add(1)
	return c.Store.ReadAll(ctx, after, max, f)
}

// TestFollowAnswersFromMemory: while Follow runs, checking a session,
// listing people and signing in read nothing from the store, however long
// the log has grown since the last account event, and the instance's own
// changes count at once.
func TestFollowAnswersFromMemory(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Store: openStore(t)}
	clk := newClock()
	d := instance(t, store, clk)
	mustAdd(t, d, "maria", "agent")
	s, err := d.SignIn(ctx, "maria", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	following(t, d)
	before := store.reads.Load()
	for range 20 {
		if _, _, err := d.Verify(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := d.List(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.reads.Load() - before; n != 0 {
		t.Fatalf("20 verifications and lists read $all %d times while following", n)
	}
	if err := d.Disable(ctx, admin, "maria"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Verify(ctx, s.Token); !errors.Is(err, ErrDisabled) {
		t.Fatalf("right after disabling, the instance verifies the session: %v, want ErrDisabled", err)
	}
	// Without Follow every question reads the store.
	other := instance(t, store, clk)
	before = store.reads.Load()
	if _, err := other.List(ctx); err != nil {
		t.Fatal(err)
	}
	if store.reads.Load() == before {
		t.Fatal("a directory that does not follow answered without reading the store")
	}
}

// TestKeySharedByRacingInstances: instances that need the key at once on
// an empty store agree on one; opening a directory writes nothing.
func TestKeySharedByRacingInstances(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	clk := newClock()
	dirs := make([]*Directory, 4)
	for i := range dirs {
		dirs[i] = instance(t, store, clk)
	}
	if n := countEvents(t, store); n != 0 {
		t.Fatalf("opening directories wrote %d events", n)
	}
	var wg sync.WaitGroup
	for _, d := range dirs {
		wg.Go(func() {
			if _, err := d.signingKey(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	mustAdd(t, dirs[0], "maria", "agent")
	s, err := dirs[0].SignIn(ctx, "maria", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs {
		if _, _, err := d.Verify(ctx, s.Token); err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	recs, err := store.ReadStream(ctx, eventlog.ConsoleKeyStream, eventstore.Forwards, 0, 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("%s holds %d events (%v), want 1", eventlog.ConsoleKeyStream, len(recs), err)
	}
}

func TestTamperedTokenRefused(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	d := instance(t, openStore(t), clk)
	mustAdd(t, d, "maria", "agent")
	mustAdd(t, d, "boss", "admin")
	s, err := d.SignIn(ctx, "maria", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	other := instance(t, openStore(t), clk) // another store: another key
	mustAdd(t, other, "boss", "admin")
	foreign, err := other.SignIn(ctx, "boss", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	payloadEnd := strings.LastIndexByte(s.Token, '.')
	// A payload naming the admin, signed with maria's signature.
	key, _ := d.signingKey(ctx)
	c, _ := parse(key, s.Token)
	c.Account = IDFor("boss")
	forged := sign([]byte("not the key, but thirty-two byte"), c)
	swapped := forged[:strings.LastIndexByte(forged, '.')] + s.Token[payloadEnd:]
	flip := []byte(s.Token)
	flip[len(tokenPrefix)+3] ^= 1
	for _, tc := range []struct{ desc, token string }{
		{"empty", ""},
		{"garbage", "hello"},
		{"a byte of the payload changed", string(flip)},
		{"signature cut off", s.Token[:payloadEnd]},
		{"another payload with this signature", swapped},
		{"signed with another key", forged},
		{"from another store's instance", foreign.Token},
		{"another version", "v2" + s.Token[2:]},
	} {
		if _, _, err := d.Verify(ctx, tc.token); !errors.Is(err, ErrBadSession) {
			t.Errorf("%s: %v, want ErrBadSession", tc.desc, err)
		}
	}
}

func TestCSRF(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	clk := newClock()
	a, b := instance(t, store, clk), instance(t, store, clk)
	mustAdd(t, a, "maria", "agent")
	s1, _ := a.SignIn(ctx, "maria", password, "192.0.2.1")
	s2, _ := a.SignIn(ctx, "maria", password, "192.0.2.1")
	_, renewed, err := b.Verify(ctx, s1.Token)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc    string
		session Session
		token   string
		want    bool
	}{
		{"the session's own, checked on another instance", renewed, s1.CSRF, true},
		{"another session's", renewed, s2.CSRF, false},
		{"none", renewed, "", false},
		{"no session", Session{}, s1.CSRF, false},
	} {
		if got := b.CheckCSRF(tc.session, tc.token); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.desc, got, tc.want)
		}
	}
}

// TestUnknownNameCostsAHash: signing in as nobody does the work of an
// argon2id comparison (19 MiB of memory), as a known name with a wrong
// password does, so the time taken does not tell which names exist.
func TestUnknownNameCostsAHash(t *testing.T) {
	ctx := context.Background()
	d := instance(t, openStore(t), newClock(), func(c *Config) {
		c.AccountLimit, c.AddressLimit = Limit{Burst: -1}, Limit{Burst: -1}
	})
	mustAdd(t, d, "maria", "agent")
	allocated := func(name string) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := d.SignIn(ctx, name, "wrong password!", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	known, unknown := allocated("maria"), allocated("nobody")
	if known < argonMemory*1024 || unknown < argonMemory*1024 {
		t.Fatalf("allocated %d bytes for a known name and %d for an unknown one; want both at least %d (one argon2id pass)", known, unknown, argonMemory*1024)
	}
}

func TestPasswordHash(t *testing.T) {
	h1, err := hashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword(password)
	if h1 == h2 || !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hashes %q and %q: want PHC argon2id with a salt each", h1, h2)
	}
	for _, tc := range []struct {
		hash, password string
		want           bool
		err            error
	}{
		{h1, password, true, nil},
		{h2, password, true, nil},
		{h1, password + " ", false, nil},
		{"$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", password, false, errBadHash},
		{"plain", password, false, errBadHash},
	} {
		got, err := passwordMatches(tc.hash, tc.password)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("passwordMatches(%q, %q) = %v, %v", tc.hash, tc.password, got, err)
		}
	}
}

// TestEventsRecordTheActor: every change is an event of a stable type on
// the account's stream with the person who made it.
func TestEventsRecordTheActor(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	d := instance(t, store, newClock())
	mustAdd(t, d, "maria", "agent")
	steps := []func() error{
		func() error { return d.SetLanguage(ctx, Actor{Name: "maria", Role: "agent"}, "maria", "bg") },
		func() error { return d.SetLanguage(ctx, admin, "maria", "bg") }, // no change: no event
		func() error { return d.SetRole(ctx, admin, "maria", "finance") },
		func() error { return d.ResetPassword(ctx, admin, "maria", "another long password") },
		func() error { return d.Disable(ctx, admin, "maria") },
		func() error { return d.Disable(ctx, admin, "maria") }, // no change: no event
		func() error { return d.Enable(ctx, admin, "maria") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SetLanguage(ctx, admin, "maria", "not a language!"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a bad language: %v", err)
	}
	if err := d.Disable(ctx, admin, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("disable nobody: %v", err)
	}
	recs, err := store.ReadStream(ctx, eventlog.Accounts.Stream(IDFor("maria")), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		var m struct{ Actor, Role, ContentHash, PrevHash string }
		if err := json.Unmarshal(r.Metadata, &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s by %s (%s)", r.Type, m.Actor, m.Role))
		if strings.Contains(string(r.Data), password) {
			t.Errorf("%s holds the password in clear", r.Type)
		}
	}
	want := []string{
		"account.added.v1 by root (admin)",
		"account.language_set.v1 by maria (agent)",
		"account.role_changed.v1 by root (admin)",
		"account.password_changed.v1 by root (admin)",
		"account.disabled.v1 by root (admin)",
		"account.enabled.v1 by root (admin)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	acc, err := instance(t, store, newClock()).Get(ctx, "MARIA")
	if err != nil || acc.Role != "finance" || acc.Language != "bg" || acc.Disabled {
		t.Fatalf("a new instance folds %+v, %v", acc, err)
	}
	// The account events and the session key are sealed into the audit
	// hash chain like the ledger's own.
	if _, err := d.SignIn(ctx, "maria", "another long password", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	report, err := audit.Verify(ctx, store, audit.VerifyOptions{})
	if err != nil || !report.OK || report.Events != len(recs)+1 {
		t.Fatalf("audit verify: %+v, %v (break %+v)", report, err, report.Break)
	}
}

func TestCookie(t *testing.T) {
	s := Session{Token: "v1.abc.def", ExpiresAt: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	c := SessionCookie(s, true)
	line := c.String()
	for _, want := range []string{"rmaledger_session=v1.abc.def", "Path=/console", "HttpOnly", "Secure", "SameSite=Lax", "Expires=Mon, 02 Mar 2026 10:00:00 GMT"} {
		if !strings.Contains(line, want) {
			t.Errorf("cookie %q lacks %q", line, want)
		}
	}
	if strings.Contains(SessionCookie(s, false).String(), "Secure") {
		t.Error("a cookie over plain HTTP is marked Secure")
	}
	if cl := ClearCookie(false).String(); !strings.Contains(cl, "Max-Age=0") || !strings.Contains(cl, "Path=/console") {
		t.Errorf("clearing cookie %q", cl)
	}
	proxy := netip.MustParseAddr("10.0.0.1")
	trusted := func(a netip.Addr) bool { return a == proxy }
	req := func(remote, proto string, tlsOn bool) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/console", nil)
		r.RemoteAddr = remote
		if proto != "" {
			r.Header.Set("X-Forwarded-Proto", proto)
		}
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		return r
	}
	for _, tc := range []struct {
		desc string
		r    *http.Request
		want bool
	}{
		{"TLS", req("192.0.2.1:5000", "", true), true},
		{"plain", req("192.0.2.1:5000", "", false), false},
		{"a trusted proxy says https", req("10.0.0.1:5000", "https", false), true},
		{"a trusted proxy says http", req("10.0.0.1:5000", "http", false), false},
		{"an untrusted client says https", req("192.0.2.1:5000", "https", false), false},
	} {
		if got := IsHTTPS(tc.r, trusted); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.desc, got, tc.want)
		}
	}
}

// downStore is a store that cannot be reached.
type downStore struct{ eventstore.Store }

func (downStore) ReadAll(context.Context, eventstore.Position, int, eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	return nil, eventstore.ErrUnavailable
}

func (downStore) ReadStream(context.Context, string, eventstore.Direction, uint64, int) ([]eventstore.RecordedEvent, error) {
	return nil, eventstore.ErrUnavailable
}

// TestStoreUnreachable: a directory opens over a store it cannot reach (the
// service starts and waits for it), and each question answers the store's
// error rather than a refusal of the person.
func TestStoreUnreachable(t *testing.T) {
	ctx := context.Background()
	d, err := New(ctx, Config{Store: downStore{openStore(t)}, Roles: roles})
	if err != nil {
		t.Fatalf("New over an unreachable store: %v", err)
	}
	if _, err := d.SignIn(ctx, "maria", password, "192.0.2.1"); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("SignIn: %v, want ErrUnavailable", err)
	}
	if _, _, err := d.Verify(ctx, "v1.abc.def"); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("Verify: %v, want ErrUnavailable", err)
	}
	if _, err := d.List(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("List: %v, want ErrUnavailable", err)
	}
}

// TestHashesAtOnceBounded: with every hashing slot taken a sign-in waits
// (here until its context ends) instead of computing a fifth 19 MiB hash.
func TestHashesAtOnceBounded(t *testing.T) {
	ctx := context.Background()
	d := instance(t, openStore(t), newClock())
	mustAdd(t, d, "maria", "agent")
	for range hashesAtOnce {
		if err := d.acquireHash(ctx); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := d.SignIn(short, "maria", password, "192.0.2.1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a sign-in with every slot taken: %v, want it to wait", err)
	}
	d.releaseHash()
	if _, err := d.SignIn(ctx, "maria", password, "192.0.2.1"); err != nil {
		t.Fatalf("with a slot free: %v", err)
	}
}

// TestUnmatchableHash: the hash an unknown name's password is compared
// with reads as any other (so the comparison costs a full argon2id) and no
// password matches it.
func TestUnmatchableHash(t *testing.T) {
	h, err := unmatchableHash()
	if err != nil {
		t.Fatal(err)
	}
	real, err := hashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	got, want := strings.Split(h, "$"), strings.Split(real, "$")
	if len(got) != 6 || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] || len(got[4]) != len(want[4]) || len(got[5]) != len(want[5]) {
		t.Fatalf("%s does not read as a hash of the same parameters as %s", h, real)
	}
	for _, p := range []string{password, "", GeneratePassword()} {
		if ok, err := passwordMatches(h, p); ok || err != nil {
			t.Fatalf("%q matches: %v, %v", p, ok, err)
		}
	}
}
