package main

import (
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

	"github.com/rmaledger/rmaledger/api"
)

// TestConsoleAuditAndFinanceMounted: serve's console has the auditor's and
// the finance screens, linked for an auditor and answered from the ledger
// and the read models.
func TestConsoleAuditAndFinanceMounted(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := newConsoleWorld(t, logger, [2]string{"ada", "auditor"})
	people, service, reads, policies := w.people, w.service, w.reads, w.policies
	keys := &api.Keys{}
	if err := keys.Add(api.RoleAuditor, "console-test-auditor-key"); err != nil {
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
	get := func(path string) (int, string) {
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	_, signIn := get("/console/sign-in")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(signIn)[1]
	res, err := client.PostForm(srv.URL+"/console/sign-in", url.Values{"csrf": {csrf}, "name": {"ada"}, "password": {"a-long-enough-password"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `href="/console/audit"`) || !strings.Contains(string(body), `href="/console/finance"`) {
		t.Fatalf("an auditor's header lacks the audit and finance links: %d %s", res.StatusCode, body)
	}
	for _, path := range []string{"/console/audit", "/console/finance", "/console/finance.csv"} {
		if code, body := get(path); code != http.StatusOK {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
}
