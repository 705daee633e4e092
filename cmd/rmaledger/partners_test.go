package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
)

// postAs sends POST path with a JSON body and a bearer key.
func (p *process) postAs(t *testing.T, key, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	return p.send(t, req)
}

// lastLine is the last line of a command's output: the key keys add prints.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// TestPartnerKeysCommands: `keys add --role partner --org` makes a key of
// that organisation, which a running service takes at once: it registers
// claims for its organisation, and another organisation's key finds no
// such claim. A partner key without --org, or a staff key with one, is
// refused.
func TestPartnerKeysCommands(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, dataDir)
	if out, err := keysCmdErr(t, dataDir, "add", "--role", "partner"); err == nil || !strings.Contains(out, "--org") {
		t.Errorf("a partner key without --org: %v\n%s", err, out)
	}
	if out, err := keysCmdErr(t, dataDir, "add", "--role", "agent", "--org", "acme"); err == nil {
		t.Errorf("a staff key with --org was added:\n%s", out)
	}
	acmeOut := keysCmd(t, dataDir, "add", "--role", "partner", "--org", "acme", "--name", "acme-portal")
	if !strings.Contains(acmeOut, "org:     acme") {
		t.Errorf("keys add printed:\n%s", acmeOut)
	}
	acme := lastLine(acmeOut)
	globex := lastLine(keysCmd(t, dataDir, "add", "--role", "partner", "--org", "globex"))
	if list := keysCmd(t, dataDir, "list"); !strings.Contains(list, "acme-portal") || !strings.Contains(list, "acme\n") {
		t.Errorf("keys list does not show acme-portal's organisation:\n%s", list)
	}

	code, claim := p.postAs(t, acme, "/v1/claims", registration)
	if code != http.StatusCreated || claim["organisation"] != "acme" {
		t.Fatalf("acme registers: %d %v\n%s", code, claim, p.output)
	}
	id := claim["id"].(string)
	if code := p.getAs(t, globex, "/v1/claims/"+id+"/events"); code != http.StatusNotFound {
		t.Errorf("globex reads acme's claim: %d, want 404", code)
	}
	if code := p.getAs(t, acme, "/v1/claims/"+id+"/events"); code != http.StatusOK {
		t.Errorf("acme reads its claim: %d", code)
	}
	if code := p.getAs(t, acme, "/v1/audit/trail"); code != http.StatusForbidden {
		t.Errorf("a partner reads the audit trail: %d, want 403", code)
	}
}

// TestPartnerUsersCommands: `users add --role partner --org` makes an
// account of that organisation, which users list shows; a partner without
// --org is refused and written nowhere.
func TestPartnerUsersCommands(t *testing.T) {
	dataDir := t.TempDir()
	if out, err := usersCmd(t, dataDir, "", "add", "--name", "dana", "--role", "partner"); err == nil || !strings.Contains(out, "--org") {
		t.Errorf("a partner account without --org: %v\n%s", err, out)
	}
	if out, err := usersCmd(t, dataDir, "", "add", "--name", "ivan", "--role", "technician", "--org", "acme"); err == nil {
		t.Errorf("a technician of an organisation was added:\n%s", out)
	}
	out := mustUsers(t, dataDir, "", "add", "--name", "dana", "--role", "partner", "--org", "acme")
	if !strings.Contains(out, "added dana (partner of acme)") {
		t.Errorf("users add printed:\n%s", out)
	}
	list := mustUsers(t, dataDir, "", "list")
	if !strings.Contains(list, "dana") || !strings.Contains(list, "acme") || strings.Contains(list, "ivan") {
		t.Errorf("users list:\n%s", list)
	}
	withAccounts(t, dataDir, func(d *accounts.Directory, _ eventstore.Store) {
		acc, err := d.Get(context.Background(), "dana")
		if err != nil || acc.Organisation != "acme" || acc.Role != "partner" {
			t.Errorf("dana as the service reads her: %+v, %v", acc, err)
		}
	})
}

// TestPartnerWalksEveryConsoleRoute signs a partner in to the console as
// serve mounts it (with the admin, audit and finance screens) and walks
// every console route the router serves, found by enumerating echo's
// routes, aimed at another organisation's claim: no answer shows that
// claim, and nothing is written.
func TestPartnerWalksEveryConsoleRoute(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := newConsoleWorld(t, logger)
	ctx := context.Background()
	if _, err := w.people.AddToOrganisation(ctx, accounts.Actor{Name: "test", Role: "admin"}, "pat", "partner", "acme", "a-long-enough-password"); err != nil {
		t.Fatal(err)
	}
	keys := &api.Keys{}
	if err := keys.Add(api.RoleAgent, "console-test-agent-key"); err != nil {
		t.Fatal(err)
	}
	e, err := api.New(api.Config{Ledger: w.service, Reads: w.reads, Keys: keys, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := mountConsole(e, w.people, w.service, w.reads, w.policies, time.UTC, nil, time.Now, logger, filepath.Join(w.dir, api.KeyFileName), nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	register := func(org, customer string) domain.State {
		purchase, _ := domain.ParseDate(time.Now().AddDate(0, -2, 0).Format(time.DateOnly))
		price, _ := domain.ParseMoney("899.00", "BGN")
		res, err := w.service.Register(ctx, &domain.RegisterClaim{
			Customer: domain.Customer{Name: customer, Phone: "+359888123456"}, Product: domain.Product{Category: "laptop", Serial: "SN-SHARED"},
			PurchaseDate: purchase, Price: price, Defect: "fan noise", Organisation: org,
		}, ledger.Request{Actor: ledger.Actor{Name: "key-of-" + org, Role: "partner", Org: org}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.reads.WaitFor(ctx, res.Position); err != nil {
			t.Fatal(err)
		}
		return res.Claim
	}
	register("acme", "Customer of acme")
	targets := []domain.State{register("globex", "Customer of globex"), register("", "Customer of the company")}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	send := func(req *http.Request) (int, string) {
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	_, signInPage := send(httptestGet(srv.URL + "/console/sign-in"))
	csrf := csrfRE.FindStringSubmatch(signInPage)[1]
	if code, _ := send(httptestPost(srv.URL+"/console/sign-in", url.Values{"csrf": {csrf}, "name": {"pat"}, "password": {"a-long-enough-password"}})); code != http.StatusSeeOther {
		t.Fatalf("pat signs in: %d", code)
	}
	events := func() int {
		n, after := 0, eventstore.Start
		for {
			recs, err := w.service.Store().ReadAll(ctx, after, 1000, eventstore.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				return n
			}
			n, after = n+len(recs), recs[len(recs)-1].Position
		}
	}
	paramRE := regexp.MustCompile(`:([a-z_]+)`)
	walked := 0
	for _, target := range targets {
		for _, r := range e.Router().Routes() {
			if !strings.HasPrefix(r.Path, "/console") || r.Method == http.MethodOptions || r.Method == echo.RouteNotFound ||
				r.Path == "/console/sign-out" {
				continue
			}
			walked++
			path := paramRE.ReplaceAllStringFunc(r.Path, func(p string) string {
				return map[string]string{":id": target.ID.String(), ":action": "add-note", ":op": "disable"}[p]
			})
			form := url.Values{"csrf": {csrf}, "version": {"1"}, "key": {uuid.NewString()}, "text": {"written across organisations"},
				"q": {"SN-SHARED"}, "name": {"pat"}, "role": {"admin"}}
			var req *http.Request
			if r.Method == http.MethodPost {
				req = httptestPost(srv.URL+path, form)
			} else {
				req = httptestGet(srv.URL + path + "?claim=" + target.ID.String())
			}
			before := events()
			code, body := send(req)
			if n := events(); n != before {
				t.Errorf("%s %s as a partner wrote %d events", r.Method, r.Path, n-before)
			}
			for _, mark := range []string{target.Number, target.Customer.Name} {
				if strings.Contains(body, mark) {
					t.Errorf("%s %s as a partner: %d shows %q of another organisation's claim", r.Method, r.Path, code, mark)
				}
			}
		}
	}
	if walked < 2*10 {
		t.Errorf("walked only %d console routes", walked/2)
	}
}

func httptestGet(u string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return req
}

func httptestPost(u string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}
