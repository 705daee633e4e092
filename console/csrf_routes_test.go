package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"net/http/httptest"

	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify/webhooks"
	"github.com/rmaledger/rmaledger/policy"
)

// TestCSRFOnEveryPost walks every POST route the console registers, with
// every screen mounted, and posts a form that would change something but
// carries no CSRF token: each is refused with 403 and the console's reason,
// and nothing is written. A new form cannot escape: its route is walked too.
func TestCSRFOnEveryPost(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-CSRF-WALK")
	a := &admin{acc: s.accounts, reads: s.reads, book: policy.Default(), outbox: newOutbox()}
	s.accounts.people["Adam Admin"] = account{password: "pw-admin", person: console.Person{ID: uuid.NewString(), Name: "Adam Admin", Role: "admin"}}
	hooks, err := webhooks.New(webhooks.Config{Store: s.ledger.Store()})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	if err := console.Register(e, console.Config{
		Accounts: s.accounts, Reads: s.reads, Commands: s.ledger, Location: time.UTC, Admin: a, Outbox: a.outbox,
		Audit: console.LedgerAudit{Store: s.ledger.Store(), Trail: s.reads}, Finance: s.reads,
		Webhooks: hooks, WebhookDeliveries: &failedDeliveries{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}); err != nil {
		t.Fatal(err)
	}
	s.server.Close()
	s.server = httptest.NewServer(e)
	t.Cleanup(s.server.Close)

	events := func() int {
		t.Helper()
		all, err := s.ledger.Store().ReadAll(context.Background(), eventstore.Start, 100000, eventstore.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}
	before := events()
	c := s.client(t)
	c.signIn("Adam Admin", "pw-admin")
	failed := a.outbox.list[0].ID
	params := map[string]string{"id": claim.ID.String(), "action": "add-note", "op": "disable"}
	form := url.Values{
		"text": {"forged"}, "version": {"1"}, "name": {"Ana Agent"}, "role": {"admin"},
		"password": {"a forged password"}, "key": {"agent"}, "id": {failed.String()}, "model": {"claims"}, "q": {"SN-CSRF-WALK"},
		"url": {"https://forged.example/"}, "from": {"1"},
	}
	paramRE := regexp.MustCompile(`:([a-z_]+)`)
	posts := 0
	for _, r := range e.Router().Routes() {
		if r.Method != http.MethodPost {
			continue
		}
		posts++
		path := paramRE.ReplaceAllStringFunc(r.Path, func(p string) string {
			v, ok := params[p[1:]]
			if !ok {
				t.Fatalf("route %s: no value for %s", r.Path, p)
			}
			return v
		})
		p := c.post(path, form)
		if p.Code != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this console") {
			t.Errorf("POST %s without a token: %d, want 403 with the reason", path, p.Code)
		}
	}
	if posts < 10 {
		t.Fatalf("only %d POST routes walked", posts)
	}
	if n := events(); n != before {
		t.Errorf("%d events written by posts without a token", n-before)
	}
	if len(a.log) != 0 || len(a.outbox.retried) != 0 {
		t.Errorf("the admin screen changed: %v, retried %v", a.log, a.outbox.retried)
	}
	if p := c.get(console.QueuesPath); p.Code != http.StatusOK {
		t.Errorf("the sign-out post without a token ended the session: %d", p.Code)
	}
	s.client(t).signIn("Ana Agent", "pw-agent") // not disabled, password unchanged
}
