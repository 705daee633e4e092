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

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// TestConsoleSignsInThroughAccounts: the console as serve mounts it, on
// the API's server, signs
// a person in with the accounts directory, shows their name and role,
// refuses a wrong password, and signs them out for good.
func TestConsoleSignsInThroughAccounts(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := newConsoleWorld(t, logger, [2]string{"tina", "technician"})
	people, service, reads, policies := w.people, w.service, w.reads, w.policies
	keys := &api.Keys{}
	if err := keys.Add(api.RoleAgent, "console-test-agent-key"); err != nil {
		t.Fatal(err)
	}
	e, err := api.New(api.Config{Ledger: service, Reads: reads, Keys: keys, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := mountConsole(e, people, service, reads, policies, time.UTC, nil, time.Now, logger, "", nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	get := func(path string) string {
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return string(body)
	}
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	post := func(path string, form url.Values) (int, string) {
		form.Set("csrf", token.FindStringSubmatch(get("/console/sign-in"))[1])
		res, err := client.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if body := get("/console"); !strings.Contains(body, `id="password"`) {
		t.Fatal("/console does not lead a stranger to the sign-in form")
	}
	if code, body := post("/console/sign-in", url.Values{"name": {"tina"}, "password": {"wrong-password-here"}}); code != http.StatusUnauthorized || !strings.Contains(body, "wrong") {
		t.Fatalf("wrong password: %d", code)
	}
	code, body := post("/console/sign-in", url.Values{"name": {"tina"}, "password": {"a-long-enough-password"}})
	if code != http.StatusOK || !strings.Contains(body, "tina") || !strings.Contains(body, `class="role">technician<`) {
		t.Fatalf("signed in: %d %s", code, body)
	}
	sessionToken := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)[1]
	res, err := client.PostForm(srv.URL+"/console/sign-out", url.Values{"csrf": {sessionToken}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if body := get("/console/queues"); !strings.Contains(body, `id="password"`) {
		t.Fatal("after signing out the queues are still shown")
	}
}

// consoleWorld is what serve wires the console to, over a fresh data directory: the store,
// the accounts directory with the given people (name, role; all with the password
// "a-long-enough-password"), the read models, the ledger and the default policy.
type consoleWorld struct {
	dir      string
	people   *accounts.Directory
	reads    *projections.Runner
	service  *ledger.Service
	policies *domain.PolicyBook
}

func newConsoleWorld(t *testing.T, logger *slog.Logger, people ...[2]string) consoleWorld {
	t.Helper()
	ctx := context.Background()
	w := consoleWorld{dir: t.TempDir()}
	store, err := embedded.Open(w.dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if w.people, err = openAccounts(ctx, store); err != nil {
		t.Fatal(err)
	}
	for _, p := range people {
		if _, err := w.people.Add(ctx, accounts.Actor{Name: "test", Role: "admin"}, p[0], p[1], "a-long-enough-password"); err != nil {
			t.Fatal(err)
		}
	}
	if w.reads, err = projections.New(store, projections.Config{Dir: w.dir, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	if err := w.reads.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.reads.Close() })
	if w.service, err = ledger.New(store, ledger.Config{}); err != nil {
		t.Fatal(err)
	}
	if w.policies, err = domain.NewPolicyBook(domain.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	return w
}
