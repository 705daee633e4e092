package console_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

func actionPath(id uuid.UUID, action string) string {
	return console.Prefix + "/claims/" + id.String() + "/actions/" + action
}

// formOf reads the hidden fields of an action's form on a claim page.
func formOf(t *testing.T, body, action string) url.Values {
	t.Helper()
	i := strings.Index(body, `id="action-`+action+`"`)
	if i < 0 {
		t.Fatalf("no %s form on the page", action)
	}
	form := body[i:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, m := range regexp.MustCompile(`type="hidden" name="([a-z]+)" value="([^"]*)"`).FindAllStringSubmatch(form, -1) {
		v.Set(m[1], m[2])
	}
	return v
}

func TestSignIn(t *testing.T) {
	s := newStack(t)
	c := s.client(t)
	if p := c.get(console.QueuesPath); p.Code != http.StatusSeeOther || p.Location != console.SignInPath {
		t.Fatalf("signed out, queues: %d %q, want a redirect to sign in", p.Code, p.Location)
	}
	token := c.csrf()
	p := c.post(console.SignInPath, url.Values{"csrf": {token}, "name": {"Ana Agent"}, "password": {"wrong"}})
	if p.Code != http.StatusUnauthorized || !strings.Contains(p.Body, "The name or the password is wrong.") {
		t.Fatalf("wrong password: %d %s", p.Code, p.Body)
	}
	if !strings.Contains(p.Body, `value="Ana Agent"`) {
		t.Error("the name typed is not kept after a refusal")
	}
	c.signIn("Ana Agent", "pw-agent")
	p = c.get(console.QueuesPath)
	if p.Code != http.StatusOK || !strings.Contains(p.Body, "Ana Agent") || !strings.Contains(p.Body, `class="role">agent<`) {
		t.Fatalf("queues after sign in: %d %s", p.Code, p.Body)
	}
	if p := c.get(console.SignInPath); p.Code != http.StatusSeeOther || p.Location != console.QueuesPath {
		t.Errorf("signed in, the sign-in page: %d %q, want the queues", p.Code, p.Location)
	}
	p = c.get(console.QueuesPath)
	token = csrfInput.FindStringSubmatch(p.Body)[1]
	if p := c.post(console.SignOutPath, url.Values{"csrf": {token}}); p.Code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.Code)
	}
	if p := c.get(console.QueuesPath); p.Code != http.StatusSeeOther {
		t.Fatalf("after sign out, queues: %d, want a redirect", p.Code)
	}
}

func TestSignInLimited(t *testing.T) {
	s := newStack(t)
	c := s.client(t)
	token := c.csrf()
	var p page
	for range 6 {
		p = c.post(console.SignInPath, url.Values{"csrf": {token}, "name": {"Ana Agent"}, "password": {"guess"}})
	}
	if p.Code != http.StatusTooManyRequests || !strings.Contains(p.Body, "Too many failed attempts") {
		t.Fatalf("after 6 failures: %d %s", p.Code, p.Body)
	}
	p = c.post(console.SignInPath, url.Values{"csrf": {token}, "name": {"Ana Agent"}, "password": {""}})
	if p.Code != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Enter your name and your password.") {
		t.Fatalf("empty password: %d", p.Code)
	}
}

// TestCSRF: a state-changing post without the form's token, or with
// another, is refused with 403 and writes nothing.
func TestCSRF(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-CSRF-1")
	c, _ := s.agent(t)
	page := c.get(console.Prefix + "/claims/" + claim.ID.String())
	form := formOf(t, page.Body, "add-note")
	form.Set("text", "forged note")
	for name, token := range map[string]string{"missing": "", "wrong": "not-the-token"} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Del("csrf")
		if token != "" {
			f.Set("csrf", token)
		}
		p := c.post(actionPath(claim.ID, "add-note"), f)
		if p.Code != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this console") {
			t.Errorf("%s token: %d, want 403 with the reason", name, p.Code)
		}
		if v := s.version(t, claim.ID); v != claim.Version {
			t.Fatalf("%s token: the claim moved to version %d", name, v)
		}
	}
	// A cross-site post is refused on the browser's own word.
	req, _ := http.NewRequest(http.MethodPost, s.server.URL+actionPath(claim.ID, "add-note"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := c.do(req); p.Code != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this console") {
		t.Errorf("cross-site post: %d, want 403 with the reason", p.Code)
	}
	if v := s.version(t, claim.ID); v != claim.Version {
		t.Fatalf("cross-site post: the claim moved to version %d", v)
	}
	// The same form with its token is accepted: the refusals were the token's.
	if p := c.post(actionPath(claim.ID, "add-note"), form); p.Code != http.StatusSeeOther {
		t.Fatalf("with the token: %d %s", p.Code, p.Body)
	}
	if v := s.version(t, claim.ID); v != claim.Version+1 {
		t.Fatalf("version %d after the note, want %d", v, claim.Version+1)
	}
}

// TestRoles: a role the API does not let write sees no action form, and a
// post forged for it is refused with 403 and writes nothing; the console's
// rights are the API's table.
func TestRoles(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-ROLE-1")
	agent, _ := s.agent(t)
	genuine := formOf(t, agent.get(console.Prefix+"/claims/"+claim.ID.String()).Body, "add-note")
	for _, who := range []struct{ name, role string }{
		{"Ana Agent", "agent"}, {"Tom Technician", "technician"}, {"Fay Finance", "finance"}, {"Al Auditor", "auditor"},
	} {
		c := s.client(t)
		token := c.signIn(who.name, "pw-"+who.role)
		writes := api.Allowed(api.Role(who.role), api.PermWriteClaims)
		p := c.get(console.Prefix + "/claims/" + claim.ID.String())
		if p.Code != http.StatusOK {
			t.Fatalf("%s: claim page %d", who.role, p.Code)
		}
		if got := strings.Contains(p.Body, `id="action-add-note"`); got != writes {
			t.Errorf("%s sees the add-note form: %v, the API lets it write: %v", who.role, got, writes)
		}
		if got := strings.Contains(p.Body, `href="/console/register"`); got != writes {
			t.Errorf("%s sees the registration link: %v, the API lets it write: %v", who.role, got, writes)
		}
		if writes {
			continue
		}
		before := s.version(t, claim.ID)
		f := url.Values{"csrf": {token}, "version": {genuine.Get("version")}, "key": {uuid.NewString()}, "text": {"forged"}}
		if p := c.post(actionPath(claim.ID, "add-note"), f); p.Code != http.StatusForbidden || !strings.Contains(p.Body, "Your role may not do this") {
			t.Errorf("%s forged post: %d, want 403", who.role, p.Code)
		}
		if p := c.get(console.RegisterPath); p.Code != http.StatusForbidden {
			t.Errorf("%s register form: %d, want 403", who.role, p.Code)
		}
		if v := s.version(t, claim.ID); v != before {
			t.Errorf("%s forged post wrote: version %d -> %d", who.role, before, v)
		}
	}
}

// TestStaleVersion: a form sent on a version the claim has left shows
// what changed since, and writes nothing.
func TestStaleVersion(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-STALE-1")
	c, _ := s.agent(t)
	form := formOf(t, c.get(console.Prefix+"/claims/"+claim.ID.String()).Body, "reject")
	// Someone else authorizes the claim meanwhile.
	s.execute(t, claim.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia center", Address: "1 Vitosha Blvd"}})
	before := s.version(t, claim.ID)
	form.Set("reason_code", "other")
	p := c.post(actionPath(claim.ID, "reject"), form)
	if p.Code != http.StatusConflict {
		t.Fatalf("stale post: %d %s", p.Code, p.Body)
	}
	for _, want := range []string{"The claim changed meanwhile", "Authorize", "Other Agent", "version 1", "Your change, not written: Reject"} {
		if !strings.Contains(p.Body, want) && !strings.Contains(p.Body, strings.ReplaceAll(want, "version 1", "at version 1 when")) {
			t.Errorf("the conflict page does not say %q", want)
		}
	}
	if v := s.version(t, claim.ID); v != before {
		t.Fatalf("the stale post wrote: version %d -> %d", before, v)
	}
}

// TestValidationNextToField: the domain's problem with a field is shown
// beside that field, with what was typed kept.
func TestValidationNextToField(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-VAL-1")
	c, _ := s.agent(t)
	form := formOf(t, c.get(console.Prefix+"/claims/"+claim.ID.String()).Body, "authorize")
	form.Set("service_center.name", "Sofia center") // no address: the domain requires one
	form.Set("notes", "kept text")
	p := c.post(actionPath(claim.ID, "authorize"), form)
	if p.Code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid post: %d", p.Code)
	}
	problem := regexp.MustCompile(`<p class="problem" id="authorize-service_center.address-problem">([^<]+)</p>`).FindStringSubmatch(p.Body)
	if problem == nil || !strings.Contains(problem[1], "required") {
		t.Fatalf("no problem beside service_center.address:\n%s", p.Body)
	}
	if !strings.Contains(p.Body, `aria-describedby="authorize-service_center.address-problem"`) || !strings.Contains(p.Body, ">kept text<") {
		t.Error("the field is not tied to its problem, or the typed text was lost")
	}
	if v := s.version(t, claim.ID); v != claim.Version {
		t.Fatalf("an invalid form wrote: version %d", v)
	}
	// An amount the form cannot read is a problem of its field too.
	s.execute(t, claim.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia center", Address: "1 Vitosha Blvd"}})
	form = formOf(t, c.get(console.Prefix+"/claims/"+claim.ID.String()).Body, "add-note")
	_ = form
}

// TestDoubleSubmit: the same form posted twice (a double click, a resend)
// writes once.
func TestDoubleSubmit(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-TWICE-1")
	c, _ := s.agent(t)
	form := formOf(t, c.get(console.Prefix+"/claims/"+claim.ID.String()).Body, "add-note")
	form.Set("text", "called the customer")
	for i := range 2 {
		if p := c.post(actionPath(claim.ID, "add-note"), form); p.Code != http.StatusSeeOther {
			t.Fatalf("post %d: %d %s", i+1, p.Code, p.Body)
		}
	}
	if v := s.version(t, claim.ID); v != claim.Version+1 {
		t.Fatalf("two posts of one form: version %d, want %d", v, claim.Version+1)
	}
	events, _ := s.ledger.Events(t.Context(), claim.ID)
	var meta struct{ Actor, Role string }
	_ = json.Unmarshal(events[len(events)-1].Metadata, &meta)
	if meta.Actor != "Ana Agent" || meta.Role != "agent" {
		t.Errorf("the note's actor is %+v, want the signed-in person", meta)
	}
}

// TestQueues: tabs count their claims, a search finds by phone and serial,
// a column sorts, and the CSV holds the queue's rows.
func TestQueues(t *testing.T) {
	s := newStack(t)
	a := s.registerClaim(t, "SN-Q-1")
	b := s.registerClaim(t, "SN-Q-2")
	s.execute(t, b.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia center", Address: "1 Vitosha Blvd"}})
	c, _ := s.agent(t)
	p := c.get(console.QueuesPath)
	tab := regexp.MustCompile(`Needs a decision <span class="count">(\d+)</span>`).FindStringSubmatch(p.Body)
	arrival := regexp.MustCompile(`Awaiting arrival <span class="count">(\d+)</span>`).FindStringSubmatch(p.Body)
	if tab == nil || tab[1] != "1" || arrival == nil || arrival[1] != "1" {
		t.Fatalf("tab counts: decision %v, arrival %v", tab, arrival)
	}
	if !strings.Contains(p.Body, a.Number) || strings.Contains(p.Body, ">"+b.Number+"<") {
		t.Error("the decision queue does not hold exactly the registered claim")
	}
	token := csrfInput.FindStringSubmatch(p.Body)[1]
	for _, q := range []string{"+359 888 123 456", "0888123456", "SN-Q-2", b.Number, "maria@example.com"} {
		p := c.post(console.QueuesPath, url.Values{"csrf": {token}, "q": {q}})
		if p.Code != http.StatusOK || !strings.Contains(p.Body, b.Number) {
			t.Errorf("search %q: %d, does not find %s", q, p.Code, b.Number)
		}
		if strings.Contains(p.Body, "q="+url.QueryEscape(q)) {
			t.Errorf("search %q: the page puts it in a URL", q)
		}
	}
	// A search in a URL is not run: it would be logged.
	if p := c.get(console.QueuesPath + "?q=SN-Q-2"); strings.Contains(p.Body, "Claims matching") {
		t.Error("a search from the query string was run")
	}
	// A search's header buttons sort it, and its CSV is posted too.
	found := c.post(console.QueuesPath, url.Values{"csrf": {token}, "q": {"0888123456"}, "sort": {"number:desc"}})
	if strings.Index(found.Body, b.Number) > strings.Index(found.Body, ">"+a.Number+"<") || !strings.Contains(found.Body, `aria-sort="descending"`) {
		t.Error("the search is not sorted by number, descending")
	}
	export := c.post(console.ExportPath, url.Values{"csrf": {token}, "q": {"SN-Q-1"}})
	if lines, _ := csv.NewReader(strings.NewReader(export.Body)).ReadAll(); len(lines) != 2 || lines[1][0] != a.Number {
		t.Errorf("search CSV: %v", lines)
	}
	res := c.get(console.ExportPath + "?tab=arrival")
	if res.Code != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", res.Code, res.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "number" || rows[1][0] != b.Number || rows[1][1] != "authorized" {
		t.Fatalf("CSV rows: %v", rows)
	}
}

// TestSortByNumber: the number column sorts both ways.
func TestSortByNumber(t *testing.T) {
	s := newStack(t)
	first := s.registerClaim(t, "SN-S-1")
	second := s.registerClaim(t, "SN-S-2")
	c, _ := s.agent(t)
	asc := c.get(console.QueuesPath + "?tab=decision&sort=number").Body
	desc := c.get(console.QueuesPath + "?tab=decision&sort=number&dir=desc").Body
	if strings.Index(asc, first.Number) > strings.Index(asc, second.Number) {
		t.Error("ascending: the later number comes first")
	}
	if strings.Index(desc, first.Number) < strings.Index(desc, second.Number) {
		t.Error("descending: the earlier number comes first")
	}
	if !strings.Contains(desc, `aria-sort="descending"`) {
		t.Error("the sorted column does not say so")
	}
}

// TestSecurityHeaders: every page sets the status page's headers and keeps
// personal data out of caches.
func TestSecurityHeaders(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-H-1")
	c, _ := s.agent(t)
	for _, path := range []string{console.QueuesPath, console.RegisterPath, console.Prefix + "/claims/" + claim.ID.String(), console.ExportPath} {
		p := c.get(path)
		h := p.Header
		if p.Code != http.StatusOK {
			t.Errorf("%s: %d", path, p.Code)
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	for _, cookie := range c.http.Jar.Cookies(mustURL(t, s.server.URL+console.Prefix+"/")) {
		_ = cookie // the jar hides the attributes; checked below on the raw header
	}
	p := s.client(t).get(console.SignInPath)
	if csp := p.Header.Get("Content-Security-Policy"); p.Code != http.StatusOK || !strings.Contains(csp, "frame-ancestors 'none'") || p.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("sign-in page: %d, headers %v", p.Code, p.Header)
	}
	if sc := p.Header.Get("Set-Cookie"); !strings.Contains(sc, "SameSite=Strict") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("CSRF cookie %q, want SameSite=Strict and HttpOnly", sc)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestLanguages: the switcher's choice, then the person's, then the
// browser's Accept-Language.
func TestLanguages(t *testing.T) {
	s := newStack(t)
	rita := s.client(t)
	rita.signIn("Rita Agent", "pw-agent")
	if p := rita.get(console.QueuesPath); !strings.Contains(p.Body, `lang="ru"`) || !strings.Contains(p.Body, "Очереди") {
		t.Error("a person who chose Russian does not get it")
	}
	p := rita.get(console.LanguagePath + "?to=el&back=" + url.QueryEscape(console.QueuesPath+"?tab=hold"))
	if p.Code != http.StatusSeeOther || p.Location != console.QueuesPath+"?tab=hold" {
		t.Fatalf("switch: %d %q", p.Code, p.Location)
	}
	if p := rita.get(console.QueuesPath); !strings.Contains(p.Body, `<html lang="el"`) {
		t.Error("the switcher's choice does not win")
	}
	if p := rita.get(console.LanguagePath + "?to=bg&back=https://evil.example/"); p.Location != console.QueuesPath {
		t.Errorf("the switcher goes back to %q", p.Location)
	}
	req, _ := http.NewRequest(http.MethodGet, s.server.URL+console.SignInPath, nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	if p := s.client(t).do(req); !strings.Contains(p.Body, `lang="zh-Hans"`) || !strings.Contains(p.Body, "登录") {
		t.Error("Accept-Language zh does not give Chinese")
	}
}

// TestCatalogueComplete: every language has every English key, with the
// same arguments.
func TestCatalogueComplete(t *testing.T) {
	read := func(lang string) map[string]string {
		raw, err := os.ReadFile(filepath.Join("messages", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	en := read("en")
	args := regexp.MustCompile(`%\[\d\][a-z]`)
	for _, lang := range []string{"ru", "bg", "zh-Hans", "el"} {
		m := read(lang)
		for k, v := range en {
			tr, ok := m[k]
			if !ok || tr == "" {
				t.Errorf("%s lacks %s", lang, k)
				continue
			}
			if strings.Join(args.FindAllString(v, -1), ",") != strings.Join(args.FindAllString(tr, -1), ",") && len(args.FindAllString(v, -1)) != len(args.FindAllString(tr, -1)) {
				t.Errorf("%s %s has other arguments: %q vs %q", lang, k, tr, v)
			}
		}
	}
	for _, a := range domain.Actions() {
		if _, ok := en["action."+string(a)]; !ok {
			t.Errorf("no name for action %s", a)
		}
	}
	for _, st := range domain.Statuses() {
		if _, ok := en["status."+string(st)]; !ok {
			t.Errorf("no name for status %s", st)
		}
	}
}

// TestRegister: the form registers a claim as the signed-in person; a
// serial with an open claim brings a warning first, and nothing is
// registered until the person confirms; a missing field is named beside it.
func TestRegister(t *testing.T) {
	s := newStack(t)
	open := s.registerClaim(t, "SN-REG-1")
	c, _ := s.agent(t)
	p := c.get(console.RegisterPath)
	hidden := formValues(p.Body)
	form := url.Values{
		"csrf": {hidden.Get("csrf")}, "key": {hidden.Get("key")}, "currency": {"BGN"},
		"customer.name": {"Petar Ivanov"}, "customer.phone": {"+359 888 765 432"}, "product.category": {"laptop"},
		"product.serial": {"SN-REG-1"}, "purchase_date": {"2026-02-01"}, "price": {"999.00"}, "defect": {"cracked screen"},
		"channel": {"phone"},
	}
	missing := url.Values{}
	for k, v := range form {
		missing[k] = v
	}
	missing.Del("customer.name")
	p = c.post(console.RegisterPath, missing)
	if p.Code != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `id="register-customer.name-problem"`) {
		t.Fatalf("without a name: %d", p.Code)
	}
	p = c.post(console.RegisterPath, form)
	if p.Code != http.StatusOK || !strings.Contains(p.Body, "This unit already has an open claim") || !strings.Contains(p.Body, open.Number) {
		t.Fatalf("open claim on the serial: %d, no warning naming %s", p.Code, open.Number)
	}
	if page, _ := s.reads.Search(t.Context(), projections.SearchQuery{Serial: "SN-REG-1"}); len(page.Items) != 1 {
		t.Fatalf("the warning registered a claim: %d on the serial", len(page.Items))
	}
	form.Set("confirmed", formValues(p.Body).Get("confirmed"))
	p = c.post(console.RegisterPath, form)
	if p.Code != http.StatusSeeOther || !strings.HasPrefix(p.Location, console.Prefix+"/claims/") {
		t.Fatalf("confirmed: %d %s", p.Code, p.Body)
	}
	where, _, _ := strings.Cut(p.Location, "?")
	id := uuid.MustParse(strings.TrimPrefix(where, console.Prefix+"/claims/"))
	st, _, err := s.ledger.Claim(t.Context(), id)
	if err != nil || st.Customer.Name != "Petar Ivanov" || st.Price.Currency != "BGN" || st.Price.Amount != 99900 {
		t.Fatalf("registered %+v, %v", st, err)
	}
	// The same form again (a double submit) answers the same claim.
	if again, _, _ := strings.Cut(c.post(console.RegisterPath, form).Location, "?"); again != where {
		t.Fatalf("double submit went to %q, first to %q", again, where)
	}
}

func formValues(body string) url.Values {
	v := url.Values{}
	for _, m := range regexp.MustCompile(`type="hidden" name="([a-z]+)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		v.Set(m[1], m[2])
	}
	return v
}

// TestSecureCookiesOverHTTPS: over HTTPS every cookie the console sets is
// Secure; over plain HTTP (a developer's machine) it cannot be.
func TestSecureCookiesOverHTTPS(t *testing.T) {
	for _, https := range []bool{false, true} {
		e := echo.New()
		err := console.Register(e, console.Config{
			Accounts: newAccounts(), Reads: &projections.Runner{}, Commands: &ledger.Service{},
			HTTPS: func(*http.Request) bool { return https },
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, console.SignInPath, nil))
		cookie := rec.Header().Get("Set-Cookie")
		if strings.Contains(cookie, "; Secure") != https {
			t.Errorf("HTTPS %v: cookie %q", https, cookie)
		}
	}
}

// TestOverdue: a claim whose SLA clock has run out is in the breached tab
// and marked overdue in every queue; a role the API does not let read SLA
// timers sees no clocks.
func TestOverdue(t *testing.T) {
	later := time.Now().Add(60 * 24 * time.Hour)
	s := newStackAt(t, func() time.Time { return later })
	claim := s.registerClaim(t, "SN-LATE-1")
	c, _ := s.agent(t)
	p := c.get(console.QueuesPath + "?tab=breached")
	count := regexp.MustCompile(`SLA breached <span class="count">(\d+)</span>`).FindStringSubmatch(p.Body)
	if count == nil || count[1] != "1" || !strings.Contains(p.Body, claim.Number) {
		t.Fatalf("breached tab: %v", count)
	}
	decision := c.get(console.QueuesPath + "?tab=decision").Body
	if !strings.Contains(decision, `<tr class="overdue">`) || !strings.Contains(decision, ">overdue<") {
		t.Error("the overdue claim is not marked in its queue")
	}
	finance := s.client(t)
	finance.signIn("Fay Finance", "pw-finance")
	p = finance.get(console.QueuesPath + "?tab=breached")
	if count := regexp.MustCompile(`SLA breached <span class="count">(\d+)</span>`).FindStringSubmatch(p.Body); count == nil || count[1] != "0" {
		t.Errorf("finance sees SLA clocks: %v", count)
	}
	if p := finance.get(console.Prefix + "/claims/" + claim.ID.String()); strings.Contains(p.Body, "SLA clocks") {
		t.Error("finance sees the claim's SLA clocks")
	}
}

// TestActionNotAllowedNow: a post for an action the claim does not allow
// in its status (a stale page, a forged form) is refused and writes
// nothing; an unknown claim or action is a 404 page.
func TestActionNotAllowedNow(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-NOW-1")
	c, _ := s.agent(t)
	body := c.get(console.Prefix + "/claims/" + claim.ID.String()).Body
	if strings.Contains(body, `id="action-confirm-delivery"`) {
		t.Fatal("a registered claim offers confirm-delivery")
	}
	form := formOf(t, body, "add-note")
	form.Set("signed_by", "someone")
	if p := c.post(actionPath(claim.ID, "confirm-delivery"), form); p.Code != http.StatusConflict || !strings.Contains(p.Body, "no longer allows") {
		t.Fatalf("confirm-delivery on a registered claim: %d", p.Code)
	}
	if v := s.version(t, claim.ID); v != claim.Version {
		t.Fatalf("the refused action wrote: version %d", v)
	}
	if p := c.post(actionPath(uuid.New(), "add-note"), form); p.Code != http.StatusNotFound {
		t.Errorf("unknown claim: %d", p.Code)
	}
	if p := c.post(actionPath(claim.ID, "record-sla-breach"), form); p.Code != http.StatusNotFound {
		t.Errorf("the SLA process's own action: %d", p.Code)
	}
	if p := c.get(console.Prefix + "/claims/not-a-uuid"); p.Code != http.StatusNotFound {
		t.Errorf("a malformed id: %d", p.Code)
	}
}

// TestProblemInLanguage: a field's problem reads in the person's language.
func TestProblemInLanguage(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-RU-1")
	rita := s.client(t)
	rita.signIn("Rita Agent", "pw-agent")
	form := formOf(t, rita.get(console.Prefix+"/claims/"+claim.ID.String()).Body, "authorize")
	form.Set("service_center.name", "Sofia center")
	p := rita.post(actionPath(claim.ID, "authorize"), form)
	if !strings.Contains(p.Body, `id="authorize-service_center.address-problem">обязательно<`) {
		t.Fatalf("the problem is not in Russian: %d", p.Code)
	}
}

// TestQueueRowsBounded: a queue page shows at most 200 claims and says
// how many there are; the CSV holds them all.
func TestQueueRowsBounded(t *testing.T) {
	s := newStack(t)
	for i := range 201 {
		s.registerClaim(t, fmt.Sprintf("SN-MANY-%03d", i))
	}
	c, _ := s.agent(t)
	p := c.get(console.QueuesPath + "?tab=decision")
	if rows := strings.Count(p.Body, `<td data-label="Number">`); rows != 200 || !strings.Contains(p.Body, "Showing the first 200 of 201 claims") {
		t.Fatalf("%d rows shown", rows)
	}
	lines, err := csv.NewReader(strings.NewReader(c.get(console.ExportPath + "?tab=decision").Body)).ReadAll()
	if err != nil || len(lines) != 202 {
		t.Fatalf("CSV: %d lines, %v", len(lines), err)
	}
}

// TestStepper: the stepper marks the station a claim is at, a claim in
// transit still at "authorized", with the stations before it done.
func TestStepper(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-STEP-1")
	s.execute(t, claim.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia center", Address: "1 Vitosha Blvd"}})
	s.execute(t, claim.ID, &domain.RecordCustomerShipment{Carrier: "Speedy", TrackingNumber: "SP1"})
	c, _ := s.agent(t)
	body := c.get(console.Prefix + "/claims/" + claim.ID.String()).Body
	if !strings.Contains(body, `<li class="current" aria-current="step">Authorized</li>`) || !strings.Contains(body, `<li class="done">Registered</li>`) {
		t.Fatalf("stepper of a claim in transit:\n%s", body[strings.Index(body, `<ol class="stepper"`):][:600])
	}
}

// TestTimeline: every event with who and what, internal notes marked and
// the customer's not.
func TestTimeline(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-TL-1")
	s.execute(t, claim.ID, &domain.AddNote{Text: "drop damage suspected", Visibility: domain.VisibilityInternal})
	s.execute(t, claim.ID, &domain.AddNote{Text: "we will call you tomorrow", Visibility: domain.VisibilityCustomer})
	c, _ := s.agent(t)
	body := c.get(console.Prefix + "/claims/" + claim.ID.String()).Body
	timeline := body[strings.Index(body, `<ol class="timeline">`):]
	items := strings.Split(timeline, "<li")[1:]
	if len(items) != 3 {
		t.Fatalf("%d events in the timeline, want 3", len(items))
	}
	if !strings.Contains(items[0], "we will call you tomorrow") || strings.Contains(items[0], "tag internal") {
		t.Error("the customer note is marked internal, or missing")
	}
	if !strings.Contains(items[1], "drop damage suspected") || !strings.Contains(items[1], `<span class="tag internal">internal</span>`) {
		t.Error("the internal note is not marked")
	}
	if !strings.Contains(items[1], "Other Agent (agent)") || !strings.Contains(items[2], "Register") {
		t.Error("the timeline does not say who did what")
	}
}

// TestIntakeToday: a claim received today is in "intake today"; one
// received on an earlier day is not, even when it changed today.
func TestIntakeToday(t *testing.T) {
	s := newStack(t)
	receive := func(serial string) domain.State {
		claim := s.registerClaim(t, serial)
		s.execute(t, claim.ID, &domain.AuthorizeClaim{ServiceCenter: domain.ServiceCenter{Name: "Sofia center", Address: "1 Vitosha Blvd"}})
		yes := true
		return s.execute(t, claim.ID, &domain.ReceiveClaim{Condition: "fine", SealsIntact: &yes, ReceivedBy: "Tom"})
	}
	s.shift.Store(int64(-48 * time.Hour))
	earlier := receive("SN-IN-OLD")
	s.shift.Store(0)
	s.execute(t, earlier.ID, &domain.AddNote{Text: "customer asked for news"})
	today := receive("SN-IN-NEW")
	c, _ := s.agent(t)
	body := c.get(console.QueuesPath + "?tab=intake-today").Body
	if count := regexp.MustCompile(`Intake today <span class="count">(\d+)</span>`).FindStringSubmatch(body); count == nil || count[1] != "1" {
		t.Fatalf("intake today: %v, want 1", count)
	}
	if !strings.Contains(body, today.Number) || strings.Contains(body, ">"+earlier.Number+"<") {
		t.Error("intake today does not hold exactly today's intake")
	}
}
