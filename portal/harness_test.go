package portal_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/documents"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/notify/preferences"
	"github.com/rmaledger/rmaledger/portal"
	"github.com/rmaledger/rmaledger/portal/links"
	"github.com/rmaledger/rmaledger/projections"
)

// env is a portal on a real ledger and store, with in-package fakes for
// what other packages will implement (files, payments, delivery of links)
// and for the read model's search.
type env struct {
	t      *testing.T
	store  eventstore.Store
	ledger *ledger.Service
	links  *links.Keeper
	finder *finder
	sender *sender
	files  *files
	pay    *payments
	srv    *httptest.Server
	portal *portal.Portal
	now    time.Time
}

type options struct {
	noAttachments, noPayments bool
	documents                 bool // the claim page offers the customer's documents
	https                     bool // every request counts as come over TLS
	perClient, perContact     statuspage.Limit
	logger                    *slog.Logger
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	store, err := embedded.Open(t.TempDir(), embedded.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := ledger.New(store, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keeper, err := links.New(links.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, ledger: svc, links: keeper, finder: &finder{ledger: svc}, sender: &sender{}, files: &files{}, pay: &payments{}, now: time.Now()}
	if o.perClient == (statuspage.Limit{}) {
		o.perClient = statuspage.Unlimited
	}
	if o.perContact == (statuspage.Limit{}) {
		o.perContact = statuspage.Unlimited
	}
	cfg := portal.Config{
		Ledger: recording{svc, e.finder}, Finder: e.finder, Links: keeper, Sender: e.sender,
		Attachments: e.files, Payments: e.pay, PerClient: o.perClient, PerContact: o.perContact,
		Preferences: preferences.Keeper{Store: store},
		Bank:        portal.BankAccount{Beneficiary: "RMA Ledger Ltd", IBAN: "BG80BNBG96611020345678"},
		Logger:      o.logger,
	}
	if o.https {
		cfg.HTTPS = func(*http.Request) bool { return true }
	}
	if o.noAttachments {
		cfg.Attachments = nil
	}
	if o.noPayments {
		cfg.Payments = nil
	}
	if o.documents {
		r, err := documents.New(documents.Config{Company: documents.Company{Name: "RMA Ledger Ltd"}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Documents = &documents.Service{Renderer: r, Claims: svc, Store: store}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := portal.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.portal = p
	ec := echo.New()
	// Clients say their address in X-Real-IP, as a proxy in front would.
	ec.IPExtractor = echo.ExtractIPFromRealIPHeader(echo.TrustLoopback(true))
	if err := p.Register(ec); err != nil {
		t.Fatal(err)
	}
	e.pay.mount(ec)
	e.srv = httptest.NewServer(ec)
	t.Cleanup(e.srv.Close)
	return e
}

// recording is the ledger, telling the finder of every claim registered.
type recording struct {
	*ledger.Service
	f *finder
}

func (r recording) Register(ctx context.Context, cmd *domain.RegisterClaim, req ledger.Request) (ledger.Result, error) {
	res, err := r.Service.Register(ctx, cmd, req)
	if err == nil {
		r.f.add(res.Claim.ID)
	}
	return res, err
}

// finder answers searches by number and by unit from the ledger itself,
// as the claims read model would once caught up.
type finder struct {
	ledger *ledger.Service
	mu     sync.Mutex
	ids    []uuid.UUID
}

func (f *finder) add(id uuid.UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, id)
}

func (f *finder) Search(ctx context.Context, q projections.SearchQuery) (projections.Page, error) {
	f.mu.Lock()
	ids := append([]uuid.UUID(nil), f.ids...)
	f.mu.Unlock()
	var page projections.Page
	for _, id := range ids {
		s, _, err := f.ledger.Claim(ctx, id)
		if err != nil {
			return page, err
		}
		if (q.Number == "" || strings.EqualFold(q.Number, s.Number)) && (q.Serial == "" || q.Serial == s.Product.Serial || q.Serial == s.Product.IMEI) {
			page.Items = append(page.Items, projections.ClaimSummary{ID: s.ID, Number: s.Number, Status: s.Status})
		}
	}
	return page, nil
}

// sender keeps the links it was given.
type sender struct {
	mu   sync.Mutex
	sent []portal.LinkMessage
}

func (s *sender) SendLink(_ context.Context, m portal.LinkMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return nil
}

func (s *sender) all() []portal.LinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]portal.LinkMessage(nil), s.sent...)
}

// files refuses a program (bytes starting "MZ": file.type) and a file of
// more than 1 KiB (file.too-large), and keeps the others.
type files struct {
	mu   sync.Mutex
	kept []string
}

type refusal string

func (r refusal) Error() string       { return "refused: " + string(r) }
func (r refusal) RefusalCode() string { return string(r) }

func (f *files) CheckCustomerFile(_ context.Context, body io.Reader) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(string(data), "MZ"):
		return refusal("file.type")
	case len(data) > 1024:
		return refusal("file.too-large")
	}
	return nil
}

func (f *files) AttachCustomerFile(ctx context.Context, claimID uuid.UUID, name string, body io.Reader, step string) error {
	if err := f.CheckCustomerFile(ctx, body); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kept = append(f.kept, step+":"+name)
	return nil
}

// payments sends the customer to a fake provider page on the same server,
// which records the payment through the ledger (as the real provider's
// callback would) and sends them back to returnURL.
type payments struct {
	ledger    *ledger.Service
	mu        sync.Mutex
	started   []string
	returnURL string
}

func (p *payments) StartPayment(_ context.Context, claimID uuid.UUID, returnURL string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = append(p.started, claimID.String())
	p.returnURL = returnURL
	return "/fakepay?claim=" + claimID.String(), nil
}

func (p *payments) mount(e *echo.Echo) {
	e.GET("/fakepay", func(c *echo.Context) error {
		return c.HTML(http.StatusOK, `<!doctype html><html lang="en"><head><title>Fake payment provider</title></head><body><main><h1>Fake payment provider</h1>`+
			`<form method="post" action="/fakepay?claim=`+url.QueryEscape(c.QueryParam("claim"))+`"><button type="submit" id="confirm-payment">Pay now</button></form></main></body></html>`)
	})
	e.POST("/fakepay", func(c *echo.Context) error {
		id, err := uuid.Parse(c.QueryParam("claim"))
		if err != nil {
			return err
		}
		if p.ledger != nil {
			s, _, err := p.ledger.Claim(c.Request().Context(), id)
			if err != nil {
				return err
			}
			owed, _ := s.Estimate.Total.Sub(s.PaidTotal)
			if _, err := p.ledger.Execute(c.Request().Context(), id, &domain.RecordPayment{Amount: owed, Reference: "FAKE-1", Method: domain.PaymentCard},
				ledger.Request{Actor: ledger.Actor{Name: "fakepay", Role: "agent"}}); err != nil {
				return err
			}
		}
		p.mu.Lock()
		back := p.returnURL
		p.mu.Unlock()
		return c.Redirect(http.StatusSeeOther, back+"?payment=succeeded") // as payments.Service returns
	})
}

// client is a browser without JavaScript: it keeps cookies and reads the
// CSRF token from the page it was given.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
	ip   string
	lang string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	Code   int
	Body   string
	Header http.Header
}

func (c *client) do(method, path string, body io.Reader, contentType string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.ip != "" {
		req.Header.Set("X-Real-IP", c.ip)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{Code: res.StatusCode, Body: string(b), Header: res.Header}
}

func (c *client) get(path string) answer { return c.do(http.MethodGet, path, nil, "") }

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf opens a page and returns the token its forms carry.
func (c *client) csrf(path string) string {
	c.t.Helper()
	a := c.get(path)
	m := csrfInput.FindStringSubmatch(a.Body)
	if m == nil {
		c.t.Fatalf("GET %s (%d): no CSRF token in the page", path, a.Code)
	}
	return m[1]
}

// post sends a form as multipart/form-data, with files (field -> name -> content).
func (c *client) post(path string, fields url.Values, uploads map[string]map[string]string) answer {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	for field, named := range uploads {
		for name, content := range named {
			fw, _ := w.CreateFormFile(field, name)
			fw.Write([]byte(content))
		}
	}
	w.Close()
	return c.do(http.MethodPost, path, &buf, w.FormDataContentType())
}

// validClaim is a complete claim form.
func validClaim(csrf string) url.Values {
	return url.Values{
		"csrf": {csrf}, "key": {uuid.NewString()},
		"category": {"laptop"}, "serial": {"SN-" + uuid.NewString()[:8]}, "sku": {"NB-1000"},
		"purchase_date": {time.Now().AddDate(0, -6, 0).Format("2006-01-02")}, "price": {"129.90"}, "currency": {"EUR"},
		"proof_kind": {"receipt"}, "proof_reference": {"R-1"},
		"defect": {"Does not power on."}, "name": {"Ivan Petrov"}, "email": {"ivan@example.com"}, "phone": {"+359 888 123 456"},
		"language": {"en"}, "consent": {"yes"},
	}
}

// count is how many events the store holds: a refusal must leave it as it was.
func (e *env) count() int {
	e.t.Helper()
	recs, err := e.store.ReadAll(context.Background(), eventstore.Start, 100000, eventstore.Filter{})
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		e.t.Fatal(err)
	}
	return len(recs)
}

var linkInBody = regexp.MustCompile(`id="private-link" href="([^"]+)"`)

// file posts a valid claim and returns the private link's path.
func (c *client) file(fields url.Values) (number, linkPath string) {
	c.t.Helper()
	a := c.post(portal.FormPath, fields, nil)
	if a.Code != http.StatusCreated {
		c.t.Fatalf("filing: %d\n%s", a.Code, a.Body)
	}
	m := linkInBody.FindStringSubmatch(a.Body)
	if m == nil {
		c.t.Fatalf("no private link in the answer:\n%s", a.Body)
	}
	u, _ := url.Parse(m[1])
	n := regexp.MustCompile(`id="claim-number">([^<]+)<`).FindStringSubmatch(a.Body)
	return n[1], u.Path
}

// staff runs a command as the service desk.
func (e *env) staff(id uuid.UUID, cmds ...domain.Command) {
	e.t.Helper()
	for _, cmd := range cmds {
		if _, err := e.ledger.Execute(context.Background(), id, cmd, ledger.Request{Actor: ledger.Actor{Name: "maria", Role: "agent"}}); err != nil {
			e.t.Fatalf("%s: %v", cmd.Action(), err)
		}
	}
}

func eur(s string) domain.Money {
	m, err := domain.ParseMoney(s, "EUR")
	if err != nil {
		panic(err)
	}
	return m
}

// estimateIssued takes a registered claim to an estimate waiting for the customer.
func estimateIssued() []domain.Command {
	return []domain.Command{
		&domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Address: "1 Tsarigradsko shose, Sofia"}, PaidRepair: true},
		&domain.IssueEstimate{DamageLevel: 2, Parts: eur("40.00"), Labour: eur("25.00"), Shipping: eur("10.00")},
	}
}

// repaired takes a registered claim to resolved by a repair.
func repaired() []domain.Command {
	yes := true
	return []domain.Command{
		&domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Service Sofia", Address: "1 Tsarigradsko shose, Sofia"}},
		&domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"},
		&domain.ReceiveClaim{Condition: "Scratches.", SealsIntact: &yes, ReceivedBy: "M. Ivanova"},
		&domain.DiagnoseClaim{Outcome: domain.OutcomeDefectConfirmed, Findings: "Failed regulator."},
		&domain.StartRepair{Where: domain.RepairOwn, Technician: "G. Georgiev"},
		&domain.CompleteRepair{WorkDone: "Replaced the voltage regulator.", Parts: []string{"VR-33"}},
	}
}

// claimOf returns the claim a link path opens.
func (e *env) claimOf(linkPath string) domain.State {
	e.t.Helper()
	l, err := e.links.Resolve(context.Background(), strings.TrimPrefix(linkPath, portal.LinkPrefix))
	if err != nil {
		e.t.Fatal(err)
	}
	s, _, err := e.ledger.Claim(context.Background(), l.ClaimID)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}
