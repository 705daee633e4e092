package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
)

// Personal data of the customer the console test registers, with the
// phone as typed and as the ledger stores it.
var consoleCustomer = []string{"Zornitsa", "Vasileva", "zornitsa.v@example.com", "877 654 321", "877654321"}

// linkRE finds the addresses a page links to or posts to.
var linkRE = regexp.MustCompile(`(?:href|action|src)="([^"]*)"`)

// consoleService is the console as serve mounts it (API and request log
// included) over a fresh data directory, with one agent, desk.agent.
type consoleService struct {
	server  *httptest.Server
	service *ledger.Service
	reads   *projections.Runner
	log     *lockedBuffer
}

func newConsoleService(t *testing.T) consoleService {
	t.Helper()
	ctx := context.Background()
	log := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(log, nil))
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	codec, closeKeys, err := openPrivacy(config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeKeys)
	book := policy.Default()
	reads, err := projections.New(revealed(store, codec, logger), projections.Config{Dir: dir, Logger: logger, Policies: book})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reads.Close() })
	if err := reads.Start(ctx); err != nil {
		t.Fatal(err)
	}
	service, err := ledger.New(store, ledger.Config{Policies: book, Privacy: codec, Repairs: reads})
	if err != nil {
		t.Fatal(err)
	}
	people, err := openAccounts(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := people.Add(ctx, devActor, "desk.agent", "agent", "a long password for the desk"); err != nil {
		t.Fatal(err)
	}
	keys, err := api.ParseKeys("agent:an-agent-key-for-the-console-test")
	if err != nil {
		t.Fatal(err)
	}
	registry := prometheus.NewRegistry()
	handler, err := api.New(api.Config{Ledger: service, Reads: reads, Keys: keys, Logger: logger, Registerer: registry, Gatherer: registry})
	if err != nil {
		t.Fatal(err)
	}
	if err := mountConsole(handler, people, service, reads, book, time.UTC, nil, time.Now, logger, "", nil); err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	return consoleService{server: server, service: service, reads: reads, log: log}

}

// TestConsolePersonalData: a claim is registered, opened, searched for by
// phone and exported through the console as serve mounts it, with the
// service's request log captured: the customer's name, phone and e-mail are
// in no log line and in no address a page links to. Once the customer is
// erased (the ledger's EraseCustomer), the claim page, the queue and the
// CSV show [erased] in their place.
func TestConsolePersonalData(t *testing.T) {
	ctx := context.Background()
	cs := newConsoleService(t)
	server, service, reads, log := cs.server, cs.service, cs.reads, cs.log
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var pages []string
	send := func(method, path string, form url.Values) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, server.URL+path, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		pages = append(pages, string(body))
		return res.StatusCode, res.Header.Get("Location"), string(body)
	}
	hidden := func(body string) url.Values {
		v := url.Values{}
		for _, m := range regexp.MustCompile(`type="hidden" name="([a-z]+)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
			v.Set(m[1], m[2])
		}
		return v
	}

	_, _, signIn := send(http.MethodGet, "/console/sign-in", nil)
	form := hidden(signIn)
	form.Set("name", "desk.agent")
	form.Set("password", "a long password for the desk")
	if code, _, body := send(http.MethodPost, "/console/sign-in", form); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", code, body)
	}
	_, _, register := send(http.MethodGet, "/console/register", nil)
	form = hidden(register)
	for name, value := range map[string]string{
		"customer.name": "Zornitsa Vasileva", "customer.phone": "+359 877 654 321", "customer.email": "zornitsa.v@example.com",
		"product.category": "laptop", "product.sku": "NB-X1", "product.serial": "SN-PII-1", "price": "1299.90",
		"currency": "BGN", "purchase_date": "2026-02-01", "proof_of_purchase.kind": "receipt",
		"proof_of_purchase.reference": "R-1", "defect": "does not power on",
	} {
		form.Set(name, value)
	}
	code, where, body := send(http.MethodPost, "/console/register", form)
	if code != http.StatusSeeOther || !strings.HasPrefix(where, "/console/claims/") {
		t.Fatalf("register: %d %q %s", code, where, body)
	}
	claimPath, _, _ := strings.Cut(where, "?")
	id := uuid.MustParse(strings.TrimPrefix(claimPath, "/console/claims/"))
	if _, _, body := send(http.MethodGet, where, nil); !strings.Contains(body, "Zornitsa Vasileva") {
		t.Fatalf("the claim page does not show the customer:\n%s", body)
	}
	_, _, queues := send(http.MethodGet, "/console/queues?tab=decision", nil)
	search := hidden(queues)
	search.Set("q", "0877 654 321")
	if _, _, body := send(http.MethodPost, "/console/queues", search); !strings.Contains(body, claimPath) {
		t.Fatalf("the search by phone does not find the claim:\n%s", body)
	}
	if _, _, csv := send(http.MethodGet, "/console/queues.csv?tab=decision", nil); !strings.Contains(csv, "Zornitsa Vasileva") {
		t.Fatalf("the CSV does not hold the customer:\n%s", csv)
	}

	if !strings.Contains(log.String(), "/console/claims/") {
		t.Fatalf("no console request in the log:\n%s", log)
	}
	for _, personal := range consoleCustomer {
		if strings.Contains(log.String(), personal) {
			t.Errorf("the log holds %q:\n%s", personal, log)
		}
		for _, page := range pages {
			for _, m := range linkRE.FindAllStringSubmatch(page, -1) {
				if link, _ := url.QueryUnescape(m[1]); strings.Contains(link, personal) || strings.Contains(m[1], personal) {
					t.Errorf("a page links to %q", m[1])
				}
			}
		}
	}

	state, _, err := service.Claim(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	erased, err := service.EraseCustomer(ctx, state.CustomerID, ledger.Request{Actor: ledger.Actor{Name: "dpo", Role: "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := reads.WaitFor(waitCtx, erased.Position); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"claim page": claimPath, "queue": "/console/queues?tab=decision", "CSV": "/console/queues.csv?tab=decision"} {
		_, _, body := send(http.MethodGet, path, nil)
		if !strings.Contains(body, "[erased]") || strings.Contains(body, "Zornitsa") {
			t.Errorf("the %s after erasure:\n%s", name, body)
		}
	}
}

// TestConsoleSignInLimited: through the console as serve mounts it, with the
// real accounts directory, five wrong passwords for a name make the next
// sign-in wait, even with the right password, and the page says so.
func TestConsoleSignInLimited(t *testing.T) {
	cs := newConsoleService(t)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(cs.server.URL + "/console/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(page))[1]
	signIn := func(password string) (int, string) {
		t.Helper()
		res, err := browser.PostForm(cs.server.URL+"/console/sign-in", url.Values{"csrf": {token}, "name": {"desk.agent"}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	for i := range 5 {
		if code, _ := signIn("a wrong guess"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, code)
		}
	}
	if code, body := signIn("a long password for the desk"); code != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed attempts") {
		t.Fatalf("the right password after five wrong ones: %d, want 429 with the reason", code)
	}
}
