package console_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
)

// accounts is a stand-in for the accounts package: people with passwords
// and roles, sessions as random tokens, and a limit of failed sign-ins.
type accounts struct {
	mu       sync.Mutex
	people   map[string]account
	sessions map[string]console.Person
	failures int
	limit    int
}

type account struct {
	password string
	person   console.Person
}

func newAccounts() *accounts {
	a := &accounts{people: map[string]account{}, sessions: map[string]console.Person{}, limit: 5}
	for _, p := range []struct{ name, role, lang string }{
		{"Ana Agent", "agent", ""}, {"Tom Technician", "technician", ""}, {"Fay Finance", "finance", ""},
		{"Al Auditor", "auditor", ""}, {"Rita Agent", "agent", "ru"},
	} {
		a.people[p.name] = account{password: "pw-" + p.role, person: console.Person{ID: uuid.NewString(), Name: p.name, Role: p.role, Language: p.lang}}
	}
	return a
}

func (a *accounts) SignIn(_ context.Context, name, password, _ string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failures >= a.limit {
		return "", console.ErrTooManyAttempts
	}
	acc, ok := a.people[name]
	if !ok || acc.password != password {
		a.failures++
		return "", console.ErrBadCredentials
	}
	token := uuid.NewString()
	a.sessions[token] = acc.person
	return token, nil
}

// Verify renews the token on every use, as the accounts package does.
func (a *accounts) Verify(_ context.Context, token string) (console.Person, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.sessions[token]
	if !ok {
		return console.Person{}, "", console.ErrNoSession
	}
	renewed := uuid.NewString()
	delete(a.sessions, token) // so that a console that drops the renewed token is signed out
	a.sessions[renewed] = p
	return p, renewed, nil
}

func (a *accounts) SignOut(_ context.Context, token string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, token)
	return nil
}

// stack is the console over the real store, ledger and read models.
type stack struct {
	ledger   *ledger.Service
	reads    *projections.Runner
	accounts *accounts
	server   *httptest.Server
	// shift moves the ledger's clock from the real time, to record events
	// on another day.
	shift atomic.Int64
}

func newStack(t testing.TB) *stack {
	t.Helper()
	return newStackAt(t, time.Now)
}

// newStackAt starts a console that judges SLA clocks at now().
func newStackAt(t testing.TB, now func() time.Time) *stack {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	book := policy.Default() // the deployment's default: warranty terms, calendar, SLA targets
	reads, err := projections.New(store, projections.Config{Dir: dir, Logger: logger, Policies: book})
	if err != nil {
		t.Fatal(err)
	}
	if err := reads.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reads.Close() })
	sofia, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{reads: reads, accounts: newAccounts()}
	service, err := ledger.New(store, ledger.Config{Location: sofia, Policies: book, Repairs: reads,
		Clock: func() time.Time { return time.Now().Add(time.Duration(s.shift.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	s.ledger = service
	e := echo.New()
	if err := console.Register(e, console.Config{
		Accounts: s.accounts, Reads: reads, Commands: service, Location: sofia, Logger: logger, Clock: now,
		Policy: book.InForce(time.Now()),
	}); err != nil {
		t.Fatal(err)
	}
	s.server = httptest.NewServer(e)
	t.Cleanup(s.server.Close)
	return s
}

// client is a browser without JavaScript: it keeps cookies and does not
// follow redirects, so that each answer is seen.
type client struct {
	t    testing.TB
	s    *stack
	http *http.Client
}

func (s *stack) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, s: s, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	Code     int
	Header   http.Header
	Body     string
	Location string
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Code: res.StatusCode, Header: res.Header, Body: string(body), Location: res.Header.Get("Location")}
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.s.server.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.s.server.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token of the sign-in form, which sets the cookie.
func (c *client) csrf() string {
	c.t.Helper()
	p := c.get(console.SignInPath)
	m := csrfInput.FindStringSubmatch(p.Body)
	if m == nil {
		c.t.Fatalf("no CSRF token on the sign-in page: %s", p.Body)
	}
	return m[1]
}

// signIn signs the client in as name, failing the test otherwise.
func (c *client) signIn(name, password string) string {
	c.t.Helper()
	token := c.csrf()
	p := c.post(console.SignInPath, url.Values{"csrf": {token}, "name": {name}, "password": {password}})
	if p.Code != http.StatusSeeOther || p.Location != console.QueuesPath {
		c.t.Fatalf("sign in as %s: %d %s", name, p.Code, p.Body)
	}
	return token
}

func (s *stack) agent(t testing.TB) (*client, string) {
	c := s.client(t)
	return c, c.signIn("Ana Agent", "pw-agent")
}

// registerClaim records a claim through the ledger, as the API would.
func (s *stack) registerClaim(t testing.TB, serial string) domain.State {
	t.Helper()
	purchase, _ := domain.ParseDate("2026-02-01")
	price, _ := domain.ParseMoney("1299.90", "BGN")
	res, err := s.ledger.Register(context.Background(), &domain.RegisterClaim{
		Customer:        domain.Customer{Name: "Maria Georgieva", Phone: "+359888123456", Email: "maria@example.com"},
		Product:         domain.Product{SKU: "NB-X1", Category: "laptop", Serial: serial},
		PurchaseDate:    purchase,
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: "receipt", Reference: "R-1"},
		Price:           price, Defect: "does not power on", Channel: "phone",
	}, ledger.Request{Actor: ledger.Actor{Name: "api-key", Role: "agent"}})
	if err != nil {
		t.Fatal(err)
	}
	s.settle(t, res)
	return res.Claim
}

// execute runs an action through the ledger, as another person would.
func (s *stack) execute(t testing.TB, id uuid.UUID, cmd domain.Command) domain.State {
	t.Helper()
	res, err := s.ledger.Execute(context.Background(), id, cmd, ledger.Request{Actor: ledger.Actor{Name: "Other Agent", Role: "agent"}})
	if err != nil {
		t.Fatal(err)
	}
	s.settle(t, res)
	return res.Claim
}

func (s *stack) settle(t testing.TB, res ledger.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.reads.WaitFor(ctx, res.Position); err != nil {
		t.Fatal(err)
	}
}

// version is the claim's version in the ledger.
func (s *stack) version(t testing.TB, id uuid.UUID) int64 {
	t.Helper()
	st, _, err := s.ledger.Claim(context.Background(), id)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		t.Fatal(err)
	}
	return st.Version
}
