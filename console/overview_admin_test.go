package console_test

import (
	"context"
	"errors"
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

	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/browsertest"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/projections"
)

// admin is a stand-in for the accounts directory behind the admin screen,
// over the test's accounts: what it adds signs in, what it disables no
// longer does.
type admin struct {
	mu    sync.Mutex
	acc   *accounts
	reads *projections.Runner
	book  *domain.PolicyBook
	log   []string // "actor: change"
	// outbox stands in for the notifications outbox of the messages screen.
	outbox *outbox
}

func (a *admin) People(context.Context) ([]console.Account, error) {
	a.acc.mu.Lock()
	defer a.acc.mu.Unlock()
	var out []console.Account
	for name, p := range a.acc.people {
		out = append(out, console.Account{Name: name, Role: p.person.Role, Disabled: strings.HasPrefix(p.password, "disabled:")})
	}
	return out, nil
}

func (a *admin) record(by console.Person, change string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log = append(a.log, by.Name+": "+change)
}

func (a *admin) AddPerson(_ context.Context, by console.Person, name, role, organisation, password string) error {
	a.acc.mu.Lock()
	defer a.acc.mu.Unlock()
	if _, taken := a.acc.people[name]; taken {
		return &console.RefusedError{Reason: "taken"}
	}
	a.acc.people[name] = account{password: password, person: console.Person{ID: uuid.NewString(), Name: name, Role: role, Organisation: organisation}}
	go a.record(by, "add "+name)
	return nil
}

func (a *admin) change(by console.Person, name, what string, f func(*account)) error {
	a.acc.mu.Lock()
	defer a.acc.mu.Unlock()
	p, ok := a.acc.people[name]
	if !ok {
		return &console.RefusedError{Reason: "unknown"}
	}
	f(&p)
	a.acc.people[name] = p
	a.mu.Lock()
	a.log = append(a.log, by.Name+": "+what+" "+name)
	a.mu.Unlock()
	return nil
}

func (a *admin) DisablePerson(_ context.Context, by console.Person, name string) error {
	return a.change(by, name, "disable", func(p *account) { p.password = "disabled:" + p.password })
}

func (a *admin) EnablePerson(_ context.Context, by console.Person, name string) error {
	return a.change(by, name, "enable", func(p *account) { p.password = strings.TrimPrefix(p.password, "disabled:") })
}

func (a *admin) ResetPassword(_ context.Context, by console.Person, name, password string) error {
	return a.change(by, name, "reset", func(p *account) { p.password = password })
}

func (a *admin) SetRole(_ context.Context, by console.Person, name, role string) error {
	return a.change(by, name, "role", func(p *account) { p.person.Role = role })
}

func (a *admin) APIKeys(context.Context) ([]console.APIKey, error) {
	return []console.APIKey{{Name: "agent-desk", Role: "agent", State: "active", Revocable: true}}, nil
}

func (a *admin) RevokeAPIKey(context.Context, console.Person, string) error {
	return errors.New("not in this test")
}

func (a *admin) ReadModels(ctx context.Context) ([]projections.Status, error) {
	return a.reads.Status(ctx)
}

func (a *admin) Rebuild(_ context.Context, by console.Person, name string) error {
	a.record(by, "rebuild "+name)
	return a.reads.StartRebuild(name)
}

func (a *admin) Policies(now time.Time) ([]domain.Policy, string) {
	return a.book.Versions(), a.book.InForce(now).Version
}

// withAdmin serves the stack's console again with the admin screen, and
// adds an admin who may sign in.
func (s *stack) withAdmin(t *testing.T) *admin {
	t.Helper()
	a := &admin{acc: s.accounts, reads: s.reads, book: policy.Default(), outbox: newOutbox()}
	s.accounts.people["Adam Admin"] = account{password: "pw-admin", person: console.Person{ID: uuid.NewString(), Name: "Adam Admin", Role: "admin"}}
	sofia, _ := time.LoadLocation("Europe/Sofia")
	e := echo.New()
	if err := console.Register(e, console.Config{
		Accounts: s.accounts, Reads: s.reads, Commands: s.ledger, Location: sofia, Admin: a, Outbox: a.outbox,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}); err != nil {
		t.Fatal(err)
	}
	s.server.Close()
	s.server = httptest.NewServer(e)
	t.Cleanup(s.server.Close)
	return a
}

var weeklyRow = regexp.MustCompile(`<tr><th scope="row">[^<]*</th><td>(\d+)</td><td>(\d+)</td></tr>`)

// figure returns the hidden table of one chart on the overview.
func figure(t *testing.T, body, id string) string {
	t.Helper()
	start := strings.Index(body, `id="`+id+`-caption"`)
	if start < 0 {
		t.Fatalf("no chart %s on the overview", id)
	}
	end := strings.Index(body[start:], "</figure>")
	return body[start : start+end]
}

// TestOverviewCounts: the overview's weekly chart counts the claims
// registered and closed this week, the SLA chart the decision met in
// time, the turnaround chart puts the one closed at once under a day, the
// weekly table has a row per week of the period, and a period outside 1 to
// 52 weeks is refused.
func TestOverviewCounts(t *testing.T) {
	s := newStack(t)
	var claims []domain.State
	for i := range 3 {
		claims = append(claims, s.registerClaim(t, "SN-OVERVIEW-"+string(rune('A'+i))))
	}
	s.execute(t, claims[0].ID, &domain.WithdrawClaim{Reason: "the customer found the charger"})
	s.execute(t, claims[1].ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia center", Address: "1 Vitosha Blvd"}})
	c, _ := s.agent(t)
	p := c.get(console.OverviewPath)
	if p.Code != http.StatusOK {
		t.Fatalf("overview: %d", p.Code)
	}
	weekly := figure(t, p.Body, "weekly")
	rows := weeklyRow.FindAllStringSubmatch(weekly, -1)
	if len(rows) != 12 {
		t.Fatalf("weekly rows: %d, want 12", len(rows))
	}
	if this := rows[len(rows)-1]; this[1] != "3" || this[2] != "1" {
		t.Errorf("this week: opened %s closed %s, want 3 and 1", this[1], this[2])
	}
	if sla := figure(t, p.Body, "sla"); !strings.Contains(sla, `<tr><th scope="row">Decision</th><td>1</td><td>0</td></tr>`) {
		t.Errorf("SLA: the claim authorized at once is not one decision met:\n%s", sla)
	}
	turnaround := figure(t, p.Body, "turnaround")
	if !strings.Contains(turnaround, `<tr><th scope="row">Under 1 day</th><td>1</td></tr>`) ||
		!strings.Contains(turnaround, `<tr><th scope="row">Over 30 days</th><td>0</td></tr>`) {
		t.Errorf("turnaround: the claim withdrawn at once is not the one under a day:\n%s", turnaround)
	}
	for _, r := range rows[:len(rows)-1] {
		if r[1] != "0" {
			t.Errorf("an earlier week counts %s opened", r[1])
		}
	}
	if !strings.Contains(weekly, "<svg") || !strings.Contains(weekly, "<title>") || !strings.Contains(weekly, `class="visually-hidden"`) {
		t.Error("the weekly chart has no SVG with titles and no hidden table")
	}
	if !strings.Contains(p.Body, `href="/console/overview"`) {
		t.Error("no link to the overview in the header")
	}
	if got := len(weeklyRow.FindAllString(figure(t, c.get(console.OverviewPath+"?weeks=4").Body, "weekly"), -1)); got != 4 {
		t.Errorf("weeks=4: %d rows", got)
	}
	for _, bad := range []string{"0", "53", "x"} {
		if p := c.get(console.OverviewPath + "?weeks=" + bad); p.Code != http.StatusBadRequest {
			t.Errorf("weeks=%s: %d, want 400", bad, p.Code)
		}
	}
}

// TestAdminRefusesOthers: every admin route answers 403 to each role but
// admin, and an admin's post without the CSRF token writes nothing.
func TestAdminRefusesOthers(t *testing.T) {
	s := newStack(t)
	a := s.withAdmin(t)
	paths := []string{"/console/admin/people", "/console/admin/people/disable", "/console/admin/people/enable",
		"/console/admin/people/reset", "/console/admin/people/role", "/console/admin/keys/revoke", "/console/admin/read-models/rebuild"}
	for _, who := range [][2]string{{"Ana Agent", "pw-agent"}, {"Tom Technician", "pw-technician"}, {"Fay Finance", "pw-finance"}, {"Al Auditor", "pw-auditor"}} {
		c := s.client(t)
		token := c.signIn(who[0], who[1])
		if p := c.get(console.AdminPath); p.Code != http.StatusForbidden {
			t.Errorf("%s GET admin: %d", who[0], p.Code)
		}
		for _, path := range paths {
			if p := c.post(path, url.Values{"csrf": {token}, "name": {"Ana Agent"}, "role": {"admin"}}); p.Code != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", who[0], path, p.Code)
			}
		}
	}
	c := s.client(t)
	c.signIn("Adam Admin", "pw-admin")
	for _, path := range paths {
		if p := c.post(path, url.Values{"name": {"Ana Agent"}, "role": {"admin"}}); p.Code != http.StatusForbidden {
			t.Errorf("forged POST %s: %d, want 403", path, p.Code)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.log) != 0 {
		t.Errorf("refused posts wrote: %v", a.log)
	}
}

// TestBrowserOverviewAndAdmin: an admin opens the overview and the admin
// screen, adds a person, who signs in with the password shown once.
func TestBrowserOverviewAndAdmin(t *testing.T) {
	s := newStack(t)
	s.withAdmin(t)
	s.registerClaim(t, "SN-BROWSER-OV-1")
	s.registerClaim(t, "SN-BROWSER-OV-2")
	ctx := newBrowser(t)
	shots := &screens{t: t, dir: browsertest.ArtifactDir(t), axe: browsertest.Axe()}
	base := s.server.URL
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("bypass CSP for axe", chromedp.ActionFunc(func(ctx context.Context) error {
		return cdppage.SetBypassCSP(true).Do(ctx)
	}))
	signIn := func(name, password string) {
		t.Helper()
		run("sign in as "+name,
			chromedp.Navigate(base+"/console/sign-in"), chromedp.WaitVisible(`#name`),
			chromedp.SendKeys(`#name`, name), chromedp.SendKeys(`#password`, password),
			chromedp.Click(`form.stack button[type=submit]`), chromedp.WaitVisible(`.tabs`))
	}
	signIn("Adam Admin", "pw-admin")
	run("open the overview", chromedp.Click(`a[href="/console/overview"]`, chromedp.NodeVisible), chromedp.WaitVisible(`figure.chart svg`))
	var bars int
	run("count bars", chromedp.Evaluate(`document.querySelectorAll('#main figure svg rect').length`, &bars))
	if bars == 0 {
		t.Error("the overview draws no bars")
	}
	shots.take(ctx, "overview")
	run("open admin", chromedp.Click(`a[href="/console/admin"]`, chromedp.NodeVisible), chromedp.WaitVisible(`#add-name`))
	shots.take(ctx, "admin")
	run("open the messages", chromedp.Click(`#messages-link`, chromedp.NodeVisible), chromedp.WaitVisible(`#deliveries`))
	shots.take(ctx, "admin-messages")
	run("back to admin", chromedp.Click(`a[href="/console/admin"]`, chromedp.NodeVisible), chromedp.WaitVisible(`#add-name`))
	var password string
	run("add a person",
		chromedp.SendKeys(`#add-name`, "Nina New"), chromedp.SetValue(`#add-role`, "technician"),
		chromedp.Click(`form.admin-add button[type=submit]`), chromedp.WaitVisible(`#new-password`),
		chromedp.Text(`#new-password`, &password, chromedp.ByQuery))
	shots.take(ctx, "admin-added")
	run("sign out", chromedp.Click(`.menu button`), chromedp.WaitVisible(`#password`))
	signIn("Nina New", strings.TrimSpace(password))
	var role string
	run("who", chromedp.Text(`.person .role`, &role, chromedp.ByQuery))
	if !strings.Contains(strings.ToLower(role), "techn") {
		t.Errorf("Nina signed in as %q, want technician", role)
	}
}
