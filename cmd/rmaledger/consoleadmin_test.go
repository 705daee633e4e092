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

	"github.com/rmaledger/rmaledger/api"
)

// consoleUser is a browser without JavaScript on the console as serve
// mounts it.
type consoleUser struct {
	t   *testing.T
	url string
	c   *http.Client
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newConsoleUser(t *testing.T, url string) *consoleUser {
	jar, _ := cookiejar.New(nil)
	return &consoleUser{t: t, url: url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (u *consoleUser) get(path string) (int, string) {
	u.t.Helper()
	res, err := u.c.Get(u.url + path)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// post sends a form with the CSRF token of the sign-in page unless csrf is
// false.
func (u *consoleUser) post(path string, form url.Values, csrf bool) (int, string) {
	u.t.Helper()
	if csrf {
		_, page := u.get("/console/sign-in")
		if m := csrfField.FindStringSubmatch(page); m != nil {
			form.Set("csrf", m[1])
		} else {
			_, page = u.get("/console/queues")
			form.Set("csrf", csrfField.FindStringSubmatch(page)[1])
		}
	}
	res, err := u.c.PostForm(u.url+path, form)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (u *consoleUser) signIn(name, password string) int {
	u.t.Helper()
	code, _ := u.post("/console/sign-in", url.Values{"name": {name}, "password": {password}}, true)
	return code
}

// TestConsoleAdminThroughAccounts: the admin screen as serve mounts it adds
// a person through the accounts directory with a password shown once that
// signs them in, disables them so that they cannot sign in, starts a
// rebuild, revokes a key of the keys file so that the API refuses it, and
// refuses everyone but an admin without writing anything.
func TestConsoleAdminThroughAccounts(t *testing.T) {
	ctx, logger := context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))
	w := newConsoleWorld(t, logger, [2]string{"ada", "admin"}, [2]string{"tina", "technician"}, [2]string{"fred", "finance"})
	people, service, reads, policies, dir := w.people, w.service, w.reads, w.policies, w.dir
	keys := &api.Keys{}
	if err := keys.Add(api.RoleAgent, "console-test-agent-key"); err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(dir, api.KeyFileName)
	deskKey, _, err := api.AddKey(keysFile, api.NewKey{Role: api.RoleAgent, Name: "desk-1", TTL: 720 * time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.UseFile(keysFile, logger); err != nil {
		t.Fatal(err)
	}
	e, err := api.New(api.Config{Ledger: service, Reads: reads, Keys: keys, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := mountConsole(e, people, service, reads, policies, time.UTC, nil, time.Now, logger, keysFile, keys.List()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	count := func() int {
		list, err := people.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	// Not an admin: 403 on every admin route, nothing written.
	for _, who := range []string{"tina", "fred"} {
		u := newConsoleUser(t, srv.URL)
		if code := u.signIn(who, "a-long-enough-password"); code != http.StatusSeeOther {
			t.Fatalf("%s signs in: %d", who, code)
		}
		if code, _ := u.get("/console/admin"); code != http.StatusForbidden {
			t.Errorf("%s GET /console/admin: %d, want 403", who, code)
		}
		for _, path := range []string{"/console/admin/people", "/console/admin/people/disable", "/console/admin/people/role",
			"/console/admin/people/reset", "/console/admin/keys/revoke", "/console/admin/read-models/rebuild"} {
			code, _ := u.post(path, url.Values{"name": {"ada"}, "role": {"agent"}}, true)
			if code != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", who, path, code)
			}
		}
		if _, body := u.get("/console/queues"); strings.Contains(body, `href="/console/admin"`) {
			t.Errorf("%s sees the admin link", who)
		}
	}
	if n := count(); n != 3 {
		t.Fatalf("accounts after refused posts: %d, want 3", n)
	}

	admin := newConsoleUser(t, srv.URL)
	if code := admin.signIn("ada", "a-long-enough-password"); code != http.StatusSeeOther {
		t.Fatalf("admin signs in: %d", code)
	}
	if _, body := admin.get("/console/queues"); !strings.Contains(body, `href="/console/admin"`) || !strings.Contains(body, `href="/console/overview"`) {
		t.Error("the admin's header has no link to the admin screen or the overview")
	}
	// A forged post (no CSRF token) writes nothing.
	if code, _ := admin.post("/console/admin/people", url.Values{"name": {"mallory"}, "role": {"admin"}}, false); code != http.StatusForbidden {
		t.Errorf("forged add: %d, want 403", code)
	}
	if n := count(); n != 3 {
		t.Fatalf("a forged post added an account: %d", n)
	}

	code, body := admin.post("/console/admin/people", url.Values{"name": {"nora"}, "role": {"agent"}}, true)
	password := regexp.MustCompile(`id="new-password">([^<]+)<`).FindStringSubmatch(body)
	if code != http.StatusOK || password == nil {
		t.Fatalf("add nora: %d, no password shown", code)
	}
	if _, again := admin.get("/console/admin"); strings.Contains(again, password[1]) {
		t.Error("the new password is shown a second time")
	}
	acc, err := people.Get(ctx, "nora")
	if err != nil || acc.Role != "agent" {
		t.Fatalf("nora: %+v %v", acc, err)
	}
	nora := newConsoleUser(t, srv.URL)
	if code := nora.signIn("nora", password[1]); code != http.StatusSeeOther {
		t.Fatalf("nora signs in with the password shown: %d", code)
	}
	if code, _ := admin.post("/console/admin/people", url.Values{"name": {"nora"}, "role": {"agent"}}, true); code != http.StatusUnprocessableEntity {
		t.Errorf("adding nora twice: %d, want 422", code)
	}
	if code, _ := admin.post("/console/admin/people", url.Values{"name": {"zed"}, "role": {"king"}}, true); code != http.StatusUnprocessableEntity {
		t.Errorf("an unknown role: %d, want 422", code)
	}
	if _, page := admin.get("/console/admin"); !strings.Contains(page, `<option value="partner">`) {
		t.Error("the admin screen does not offer the partner role")
	}
	// A dealer's person: a partner with its organisation; a partner
	// without one, or staff with one, is refused and nothing is written.
	accountsBefore := count()
	for _, bad := range []url.Values{
		{"name": {"pat"}, "role": {"partner"}},
		{"name": {"pat"}, "role": {"agent"}, "organisation": {"acme"}},
	} {
		if code, body := admin.post("/console/admin/people", bad, true); code != http.StatusUnprocessableEntity || !strings.Contains(body, "a partner needs its organisation") {
			t.Errorf("add %v: %d, want 422 saying why", bad, code)
		}
	}
	if n := count(); n != accountsBefore {
		t.Fatalf("refused partners added %d accounts", n-accountsBefore)
	}
	if code, body := admin.post("/console/admin/people", url.Values{"name": {"pat"}, "role": {"partner"}, "organisation": {"acme"}}, true); code != http.StatusOK || !strings.Contains(body, "acme") {
		t.Errorf("add a partner of acme: %d", code)
	}
	if acc, err := people.Get(ctx, "pat"); err != nil || acc.Role != "partner" || acc.Organisation != "acme" {
		t.Errorf("pat: %+v %v", acc, err)
	}

	if code, _ := admin.post("/console/admin/people/role", url.Values{"name": {"nora"}, "role": {"finance"}}, true); code != http.StatusSeeOther {
		t.Errorf("change nora's role: %d", code)
	}
	if acc, _ := people.Get(ctx, "nora"); acc.Role != "finance" {
		t.Errorf("nora's role: %s, want finance", acc.Role)
	}
	if code, _ := admin.post("/console/admin/people/disable", url.Values{"name": {"nora"}}, true); code != http.StatusSeeOther {
		t.Fatalf("disable nora: %d", code)
	}
	if code, _ := nora.get("/console/queues"); code != http.StatusSeeOther {
		t.Errorf("a disabled person's session still shows the queues: %d", code)
	}
	if code := newConsoleUser(t, srv.URL).signIn("nora", password[1]); code == http.StatusSeeOther {
		t.Error("a disabled person signs in")
	}
	if code, _ := admin.post("/console/admin/people/enable", url.Values{"name": {"nora"}}, true); code != http.StatusSeeOther {
		t.Fatalf("enable nora: %d", code)
	}
	code, body = admin.post("/console/admin/people/reset", url.Values{"name": {"nora"}}, true)
	reset := regexp.MustCompile(`id="new-password">([^<]+)<`).FindStringSubmatch(body)
	if code != http.StatusOK || reset == nil {
		t.Fatalf("reset nora's password: %d", code)
	}
	if code := newConsoleUser(t, srv.URL).signIn("nora", password[1]); code == http.StatusSeeOther {
		t.Error("the old password still signs in after a reset")
	}
	if code := newConsoleUser(t, srv.URL).signIn("nora", reset[1]); code != http.StatusSeeOther {
		t.Errorf("the new password does not sign in: %d", code)
	}
	if code, _ := admin.post("/console/admin/people/disable", url.Values{"name": {"ada"}}, true); code != http.StatusUnprocessableEntity {
		t.Errorf("an admin disabling themself: %d, want 422", code)
	}

	before, err := reads.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := admin.post("/console/admin/read-models/rebuild", url.Values{"name": {before[0].Name}}, true); code != http.StatusSeeOther {
		t.Fatalf("rebuild: %d", code)
	}
	after, err := reads.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !after[0].Rebuilding && after[0].Generation == before[0].Generation {
		t.Errorf("the rebuild of %s did not start: %+v", before[0].Name, after[0])
	}
	if code, _ := admin.post("/console/admin/read-models/rebuild", url.Values{"name": {"nonesuch"}}, true); code != http.StatusUnprocessableEntity {
		t.Errorf("rebuild of an unknown read model: %d, want 422", code)
	}
	_, page := admin.get("/console/admin")
	for _, want := range []string{policies.InForce(time.Now()).Version, keys.List()[0].Name, before[0].Name} {
		if !strings.Contains(page, want) {
			t.Errorf("the admin page does not show %q", want)
		}
	}
	if code, _ := admin.post("/console/admin/keys/revoke", url.Values{"name": {keys.List()[0].Name}}, true); code != http.StatusUnprocessableEntity {
		t.Errorf("revoking a key from the environment: %d, want 422", code)
	}

	// A key of the keys file is revoked through the file the API follows.
	apiStatus := func() int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/claims", nil)
		req.Header.Set("Authorization", "Bearer "+deskKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := apiStatus(); code == http.StatusUnauthorized {
		t.Fatal("the desk key is refused before it is revoked")
	}
	if !strings.Contains(page, "desk-1") {
		t.Error("the admin page does not list the keys file's key")
	}
	if code, _ := admin.post("/console/admin/keys/revoke", url.Values{"name": {"desk-1"}}, true); code != http.StatusSeeOther {
		t.Fatalf("revoke desk-1: %d", code)
	}
	records, err := api.ReadKeyFile(keysFile)
	if err != nil || len(records) != 1 || records[0].State(time.Now()) != "revoked" {
		t.Fatalf("the keys file after revoking: %+v %v", records, err)
	}
	if code := apiStatus(); code != http.StatusUnauthorized {
		t.Errorf("the revoked key still answers %d", code)
	}
	if code, _ := admin.post("/console/admin/keys/revoke", url.Values{"name": {"nonesuch"}}, true); code != http.StatusUnprocessableEntity {
		t.Errorf("revoking an unknown key: %d, want 422", code)
	}
}
