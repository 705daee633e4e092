package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/projections"
)

// The console stage: people at the desk opening the queue page and claim
// pages of the console over the big log, signed in with the development
// account the service made (it runs with --dev).
const (
	// consoleRate is each page's arrival rate (requests/s, open loop): a
	// desk of a few dozen people, each opening a page every second or two.
	consoleRate = 20
	// consoleClients are the signed-in sessions the requests go round.
	consoleClients = 4
	// consoleAccount is the development account the stage signs in as.
	consoleAccount = "dev-agent"
	// devAccountsFile is where `serve --dev` keeps the development
	// accounts' passwords (name:password, one a line) in the data directory.
	devAccountsFile = "dev-accounts"
)

// ConsoleStage is the console's queue page and claim page loaded open loop
// at a modest rate by several signed-in sessions.
type ConsoleStage struct {
	Account string `json:"account"`
	Clients int    `json:"clients"`
	// Queue is GET /console/queues, Claim GET /console/claims/{id} of the
	// big log's claims, each at Rate requests/s.
	Queue LoadRun `json:"queue_page"`
	Claim LoadRun `json:"claim_page"`
}

// csrfInput finds the sign-in form's CSRF token.
var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// consolePassword reads the development account's password that the
// service wrote into its data directory.
func consolePassword(dataDir, account string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, devAccountsFile))
	if err != nil {
		return "", fmt.Errorf("the development accounts (does serve --dev still write them?): %w", err)
	}
	for _, pair := range strings.Fields(string(b)) {
		if name, password, ok := strings.Cut(pair, ":"); ok && name == account {
			return password, nil
		}
	}
	return "", fmt.Errorf("no account %s in %s", account, filepath.Join(dataDir, devAccountsFile))
}

// consoleSession signs in to the console as a browser does: the sign-in
// page sets the CSRF cookie and carries its token in a hidden field; the
// form's post answers with the session cookie. The client keeps both and
// follows no redirect, so that a page answering with one (to the sign-in
// page, a session lost) counts as a failure.
func consoleSession(ctx context.Context, base, account, password string) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := httpClient(2)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	page, err := call(ctx, c, http.MethodGet, base+"/console/sign-in", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("the sign-in page: %w", err)
	}
	m := csrfInput.FindSubmatch(page)
	if m == nil {
		return nil, errors.New("the sign-in page has no csrf field")
	}
	form := url.Values{"name": {account}, "password": {password}, "csrf": {html.UnescapeString(string(m[1]))}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/console/sign-in", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("signing in as %s: %w", account, &statusError{Status: res.StatusCode, Body: string(body)})
	}
	return c, nil
}

// measureConsole signs in consoleClients sessions, then loads the queue
// pages (every tab, every sort) and the claim pages one after the other,
// open loop at consoleRate each for d, request i from session i mod
// consoleClients.
func measureConsole(ctx context.Context, base, dataDir string, refs []claimRef, d time.Duration) (ConsoleStage, error) {
	out := ConsoleStage{Account: consoleAccount, Clients: consoleClients}
	password, err := consolePassword(dataDir, consoleAccount)
	if err != nil {
		return out, err
	}
	sessions := make([]*http.Client, consoleClients)
	for k := range sessions {
		if sessions[k], err = consoleSession(ctx, base, consoleAccount, password); err != nil {
			return out, err
		}
	}
	page := func(path func(i int) string) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			_, err := call(ctx, sessions[i%consoleClients], http.MethodGet, base+path(i), nil, nil)
			return err
		}
	}
	// Every tab in turn, each sorted by every column in turn: the biggest
	// queues (unassigned, every open claim here) cost the most.
	tabs, sorts := projections.QueueNames(), projections.QueueSortColumns()
	out.Queue = openLoop(ctx, consoleRate, consoleClients, d, page(func(i int) string {
		return "/console/queues?tab=" + tabs[i%len(tabs)] + "&sort=" + sorts[(i/len(tabs))%len(sorts)]
	}))
	out.Claim = openLoop(ctx, consoleRate, consoleClients, d, page(func(i int) string {
		return "/console/claims/" + refs[(i*7919)%len(refs)].ID.String()
	}))
	return out, nil
}
