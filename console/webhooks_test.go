package console_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/browsertest"
	"github.com/rmaledger/rmaledger/notify/webhooks"
)

// failedDeliveries stands in for the outbox: one failed delivery per
// subscription, and the replays asked for.
type failedDeliveries struct {
	mu       sync.Mutex
	replayed []string
}

func (f *failedDeliveries) WebhookDeliveries(_ context.Context, id uuid.UUID, status string, _ int) ([]api.WebhookDelivery, error) {
	if status != "failed" {
		return nil, nil
	}
	return []api.WebhookDelivery{{ID: uuid.New(), Kind: "claim.authorized", Position: "1042", Status: "failed", Attempts: 9,
		LastError: "the receiver answered 503 Service Unavailable", Queued: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}}, nil
}

func (f *failedDeliveries) ReplayWebhook(_ context.Context, id uuid.UUID, from eventstore.Position) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replayed = append(f.replayed, id.String()+" from "+from.String())
	return 1, nil
}

// withWebhooks serves the stack's console again with the webhooks screen
// over a real registry, and adds an admin who may sign in.
func (s *stack) withWebhooks(t *testing.T) (*webhooks.Registry, *failedDeliveries) {
	t.Helper()
	registry, err := webhooks.New(webhooks.Config{Store: s.ledger.Store()})
	if err != nil {
		t.Fatal(err)
	}
	deliveries := &failedDeliveries{}
	s.accounts.people["Adam Admin"] = account{password: "pw-admin", person: console.Person{ID: uuid.NewString(), Name: "Adam Admin", Role: "admin"}}
	e := echo.New()
	if err := console.Register(e, console.Config{
		Accounts: s.accounts, Reads: s.reads, Commands: s.ledger, Location: time.UTC,
		Webhooks: registry, WebhookDeliveries: deliveries,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}); err != nil {
		t.Fatal(err)
	}
	s.server.Close()
	s.server = httptest.NewServer(e)
	t.Cleanup(s.server.Close)
	return registry, deliveries
}

var secretShown = regexp.MustCompile(`id="new-secret">(whsec_[^<]+)<`)

func TestWebhooksScreen(t *testing.T) {
	s := newStack(t)
	registry, deliveries := s.withWebhooks(t)
	ctx := context.Background()
	c := s.client(t)
	token := c.signIn("Adam Admin", "pw-admin")

	p := c.get(console.WebhooksPath)
	if p.Code != http.StatusOK || !strings.Contains(p.Body, `href="/console/webhooks"`) {
		t.Fatalf("the screen: %d (and a link to it in the menu)\n%s", p.Code, p.Body)
	}
	p = c.post(console.WebhooksPath, url.Values{"csrf": {token}, "url": {"https://erp.partner.example/hooks"},
		"event_types": {"claim.authorized, claim.repair_*"}, "organisation": {"acme"}, "description": {"Acme ERP"}})
	m := secretShown.FindStringSubmatch(p.Body)
	if p.Code != http.StatusOK || m == nil {
		t.Fatalf("create: %d, no secret shown\n%s", p.Code, p.Body)
	}
	subs, _ := registry.List(ctx)
	if len(subs) != 1 || subs[0].Organisation != "acme" || strings.Join(subs[0].EventTypes, " ") != "claim.authorized claim.repair_*" {
		t.Fatalf("created %+v", subs)
	}
	if raw := html.UnescapeString(m[1]); len(raw) != len("whsec_")+44 {
		t.Fatalf("secret shown %q", raw)
	}
	if again := c.get(console.WebhooksPath); strings.Contains(again.Body, m[1]) || strings.Contains(again.Body, "whsec_") {
		t.Fatal("the secret is shown again")
	}

	// A bad URL: the form again, the field marked, nothing written.
	before, _ := s.ledger.Store().ReadAll(ctx, eventstore.Start, 1000, eventstore.Filter{})
	p = c.post(console.WebhooksPath, url.Values{"csrf": {token}, "url": {"http://10.0.0.5/hooks"}, "event_types": {"claim.authorized"}})
	if p.Code != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `aria-invalid="true"`) || !strings.Contains(p.Body, `value="http://10.0.0.5/hooks"`) {
		t.Fatalf("bad URL: %d\n%s", p.Code, p.Body)
	}
	p = c.post(console.WebhooksPath, url.Values{"csrf": {token}, "url": {"https://a.example/"}, "event_types": {"claim.teleported"}})
	if p.Code != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "unknown") && !strings.Contains(p.Body, "An event type") {
		t.Fatalf("unknown type: %d\n%s", p.Code, p.Body)
	}
	if after, _ := s.ledger.Store().ReadAll(ctx, eventstore.Start, 1000, eventstore.Filter{}); len(after) != len(before) {
		t.Fatalf("%d events written by refused forms", len(after)-len(before))
	}

	id := subs[0].ID.String()
	p = c.post(console.WebhooksPath+"/"+id+"/rotate", url.Values{"csrf": {token}})
	if n := secretShown.FindStringSubmatch(p.Body); p.Code != http.StatusOK || n == nil || n[1] == m[1] {
		t.Fatalf("rotate: %d\n%s", p.Code, p.Body)
	}
	p = c.post(console.WebhooksPath+"/"+id+"/disable", url.Values{"csrf": {token}})
	if got, _ := registry.Lookup(ctx, subs[0].ID); p.Code != http.StatusSeeOther || got.Enabled {
		t.Fatalf("disable: %d, enabled %v", p.Code, got.Enabled)
	}
	p = c.get(console.WebhooksPath)
	if !strings.Contains(p.Body, "503 Service Unavailable") || !strings.Contains(p.Body, `/console/webhooks/`+id+`/replay`) {
		t.Fatalf("the failed delivery and its replay are not shown\n%s", p.Body)
	}
	p = c.post(console.WebhooksPath+"/"+id+"/replay", url.Values{"csrf": {token}, "from": {"1042"}})
	if p.Code != http.StatusSeeOther || len(deliveries.replayed) != 1 || deliveries.replayed[0] != id+" from 1042" {
		t.Fatalf("replay: %d, outbox asked %v", p.Code, deliveries.replayed)
	}
	p = c.post(console.WebhooksPath+"/"+id+"/delete", url.Values{"csrf": {token}})
	if subs, _ := registry.List(ctx); p.Code != http.StatusSeeOther || len(subs) != 0 {
		t.Fatalf("delete: %d, left %+v", p.Code, subs)
	}

	// Another role neither sees nor changes anything.
	agent, agentToken := s.agent(t)
	if p := agent.get(console.WebhooksPath); p.Code != http.StatusForbidden {
		t.Fatalf("an agent opens the screen: %d", p.Code)
	}
	if p := agent.post(console.WebhooksPath, url.Values{"csrf": {agentToken}, "url": {"https://a.example/"}}); p.Code != http.StatusForbidden {
		t.Fatalf("an agent creates: %d", p.Code)
	}
	if subs, _ := registry.List(ctx); len(subs) != 0 {
		t.Fatal("the agent's form was obeyed")
	}
}

// TestBrowserWebhooks: an admin subscribes a partner's system in a real
// browser, sees its secret once, is refused a bad URL with the field
// marked, and finds the failed delivery with its replay button. Each
// screen is photographed at 375 and 1280 px and checked with axe-core.
func TestBrowserWebhooks(t *testing.T) {
	s := newStack(t)
	_, deliveries := s.withWebhooks(t)
	ctx := newBrowser(t)
	shots := &screens{t: t, dir: browsertest.ArtifactDir(t), axe: browsertest.Axe()}
	base := s.server.URL
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("bypass CSP for axe", chromedp.ActionFunc(func(ctx context.Context) error { return cdppage.SetBypassCSP(true).Do(ctx) }))
	run("sign in",
		chromedp.Navigate(base+"/console/sign-in"), chromedp.WaitVisible(`#name`),
		chromedp.SendKeys(`#name`, "Adam Admin"), chromedp.SendKeys(`#password`, "pw-admin"),
		chromedp.Click(`form.stack button[type=submit]`), chromedp.WaitVisible(`.tabs`))
	run("open webhooks", chromedp.Click(`a[href="/console/webhooks"]`, chromedp.NodeVisible), chromedp.WaitVisible(`#wh-url`))
	shots.take(ctx, "webhooks-empty")

	var secret string
	run("subscribe",
		chromedp.SendKeys(`#wh-url`, "https://erp.partner.example/rma/hooks"),
		chromedp.SendKeys(`#wh-types`, "claim.authorized, claim.repair_*"),
		chromedp.SendKeys(`#wh-org`, "acme"), chromedp.SendKeys(`#wh-description`, "Acme ERP"),
		chromedp.Click(`form.webhook-add button[type=submit]`), chromedp.WaitVisible(`#new-secret`),
		chromedp.Text(`#new-secret`, &secret, chromedp.ByQuery))
	if !strings.HasPrefix(strings.TrimSpace(secret), "whsec_") {
		t.Fatalf("secret shown %q", secret)
	}
	shots.take(ctx, "webhooks-created")

	var invalid string
	run("refused URL",
		chromedp.SendKeys(`#wh-url`, "https://user:pw@erp.partner.example/"),
		chromedp.Click(`form.webhook-add button[type=submit]`), chromedp.WaitVisible(`#webhook-problem`),
		chromedp.AttributeValue(`#wh-url`, "aria-invalid", &invalid, nil, chromedp.ByQuery))
	if invalid != "true" {
		t.Errorf("the refused URL's field is not marked invalid")
	}
	shots.take(ctx, "webhooks-refused")

	run("replay the failed delivery", chromedp.Click(`form[action$="/replay"] button`, chromedp.NodeVisible), chromedp.WaitVisible(`p.notice`))
	deliveries.mu.Lock()
	replays := len(deliveries.replayed)
	deliveries.mu.Unlock()
	if replays != 1 {
		t.Errorf("%d replays asked of the outbox, want 1", replays)
	}
	shots.take(ctx, "webhooks-replayed")
}
