package portal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/notify/preferences"
	"github.com/rmaledger/rmaledger/portal"
	"github.com/rmaledger/rmaledger/portal/links"
)

// fieldError is the error shown next to a field of the claim form.
func fieldError(body, field string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(field) + `-error">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// Each field's mistake comes back next to that field, in the person's
// language, with what they typed kept; nothing is written.
func TestClaimFormShowsEachFieldsError(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	tomorrow := time.Now().AddDate(0, 0, 2).Format("2006-01-02")
	cases := []struct {
		field, value, lang, want string
	}{
		{"category", "", "en", "Please fill in this field."},
		{"category", "spaceship", "en", "Please choose one of the options."},
		{"serial", "", "bg", "Моля, попълнете това поле."},
		{"serial", "SN\n1", "en", "Please write at most 200 characters."},
		{"purchase_date", "", "en", "Please fill in this field."},
		{"purchase_date", "2026-02-30", "ru", "Пожалуйста, укажите дату, например 2026-03-02."},
		{"purchase_date", tomorrow, "en", "The date of purchase cannot be in the future."},
		{"price", "", "en", "Please fill in this field."},
		{"price", "-3", "el", "Εισαγάγετε ποσό μεγαλύτερο από μηδέν, για παράδειγμα 129,90."},
		{"currency", "XXX", "en", "Please choose one of the options."},
		{"proof_kind", "", "en", "Please fill in this field."},
		{"proof_kind", "selfie", "en", "Please choose one of the options."},
		{"proof_reference", "", "en", "Please fill in this field."},
		{"defect", "", "zh-Hans", "请填写此字段。"},
		{"defect", strings.Repeat("x", 4001), "en", "Please write at most 4000 characters."},
		{"name", "", "en", "Please fill in this field."},
		{"email", "", "en", "Please fill in this field."},
		{"email", "ivan.example.com", "en", "Please enter an e-mail address such as name@example.com."},
		{"email", "ivan@", "en", "Please enter an e-mail address such as name@example.com."},
		{"phone", "", "en", "Please fill in this field."},
		{"phone", "call me", "bg", "Моля, въведете телефон с кода на държавата, например +359 888 123 456."},
		{"language", "tlh", "en", "Please choose one of the options."},
		{"consent", "", "ru", "Мы можем рассмотреть заявку только с вашего согласия."},
	}
	before := e.count()
	for _, tc := range cases {
		t.Run(tc.field+"="+tc.value[:min(len(tc.value), 12)], func(t *testing.T) {
			form := validClaim(c.csrf(portal.FormPath))
			form.Set(tc.field, tc.value)
			if tc.field != "language" {
				form.Set("language", tc.lang)
			}
			a := c.post(portal.FormPath, form, nil)
			if a.Code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422\n%s", a.Code, a.Body)
			}
			if got := fieldError(a.Body, tc.field); got != tc.want {
				t.Fatalf("%s's error %q, want %q", tc.field, got, tc.want)
			}
			if n := strings.Count(a.Body, `class="field-error"`); n != 1 {
				t.Errorf("%d field errors shown, want only %s's", n, tc.field)
			}
			if !strings.Contains(a.Body, `aria-invalid="true" aria-describedby="`) && tc.field != "consent" && tc.field != "currency" {
				t.Errorf("the field is not marked invalid for assistive technology")
			}
			if tc.field == "name" || tc.field == "currency" || tc.field == "consent" {
				return
			}
			if !strings.Contains(a.Body, `value="Ivan Petrov"`) {
				t.Errorf("the other fields' values are lost")
			}
		})
	}
	if n := e.count(); n != before {
		t.Fatalf("refused forms wrote %d events", n-before)
	}
	if len(e.sender.all()) != 0 {
		t.Fatal("a refused form sent a link")
	}
}

// A valid form registers the claim through the ledger, as the customer on
// the web channel, and shows the claim number and the private link, which
// also goes to the Sender; the link opens the claim's page.
func TestFilingAClaim(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	form := validClaim(c.csrf(portal.FormPath + "?lang=bg"))
	form.Set("language", "bg")
	// A refused file is its field's error, and nothing is registered.
	refused := c.post(portal.FormPath, form, map[string]map[string]string{
		"proof_file": {"receipt.pdf": "%PDF-1.4"},
		"photos":     {"front.jpg": "jpeg", "virus.exe": "MZ"},
	})
	if refused.Code != http.StatusUnprocessableEntity || !strings.Contains(refused.Body, `id="photos-error">virus.exe: Този вид файл не се приема.`) {
		t.Fatalf("a form with a refused photo: %d\n%s", refused.Code, refused.Body)
	}
	if len(e.files.kept) != 0 || len(e.sender.all()) != 0 {
		t.Fatalf("a refused form kept files %v or sent a link", e.files.kept)
	}
	a := c.post(portal.FormPath, form, map[string]map[string]string{
		"proof_file": {"receipt.pdf": "%PDF-1.4"},
		"photos":     {"front.jpg": "jpeg"},
	})
	if a.Code != http.StatusCreated {
		t.Fatalf("status %d\n%s", a.Code, a.Body)
	}
	if got := a.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q on the page with the link", got)
	}
	number, link := c.file(validClaim(c.csrf(portal.FormPath)))
	if !strings.Contains(a.Body, "Благодарим ви, получихме рекламацията ви") {
		t.Errorf("the answer is not in the chosen language")
	}
	if len(e.files.kept) != 2 || e.files.kept[0] != portal.StepProofOfPurchase+":receipt.pdf" || e.files.kept[1] != portal.StepDefectPhoto+":front.jpg" {
		t.Errorf("files kept %v", e.files.kept)
	}
	m := linkInBody.FindStringSubmatch(a.Body)
	u, _ := url.Parse(m[1])
	s := e.claimOf(u.Path)
	if s.Channel != domain.ChannelWeb || s.Product.Serial != form.Get("serial") || s.Customer.Email != "ivan@example.com" || s.Price != eur("129.90") {
		t.Fatalf("registered %+v", s)
	}
	events, err := e.ledger.Events(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := eventlog.DecodeMetadata(events[0].Metadata)
	if meta.Role != portal.RoleCustomer || meta.Actor != portal.CustomerActor {
		t.Fatalf("registered by %s (%s), want the customer", meta.Actor, meta.Role)
	}
	sent := e.sender.all()
	if len(sent) != 2 || sent[0].Number != s.Number || sent[0].Language != "bg" || sent[0].URL != m[1] || !strings.HasPrefix(sent[0].URL, e.srv.URL+portal.LinkPrefix) ||
		sent[0].URL != e.srv.URL+portal.LinkPrefix+sent[0].Token {
		t.Fatalf("sent %+v", sent)
	}
	page := c.get(u.Path)
	if page.Code != http.StatusOK || !strings.Contains(page.Body, s.Number) || !strings.Contains(page.Body, "Регистрирана, очаква разглеждане") {
		t.Fatalf("the link's page (%d):\n%s", page.Code, page.Body)
	}
	if page.Header.Get("Referrer-Policy") != "no-referrer" || page.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", page.Header)
	}
	if other := c.get(link); !strings.Contains(other.Body, number) || strings.Contains(other.Body, s.Number) {
		t.Errorf("the second claim's link shows another claim")
	}
}

// Without Attachments the form has no file fields.
func TestNoUploadsWithoutAttachments(t *testing.T) {
	e := newEnv(t, options{noAttachments: true})
	page := e.client().get(portal.FormPath)
	if strings.Contains(page.Body, `type="file"`) || strings.Contains(page.Body, "multipart/form-data") {
		t.Fatal("file fields without Attachments")
	}
	with := newEnv(t, options{}).client().get(portal.FormPath)
	if !strings.Contains(with.Body, `name="photos" type="file" multiple`) {
		t.Fatal("no photo field with Attachments")
	}
}

// A robot that fills the hidden field gets a refusal and writes nothing.
func TestHoneypot(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	before := e.count()
	form := validClaim(c.csrf(portal.FormPath))
	form.Set("website", "http://spam.example")
	a := c.post(portal.FormPath, form, nil)
	if a.Code != http.StatusBadRequest || !strings.Contains(a.Body, "We could not accept this form") {
		t.Fatalf("status %d\n%s", a.Code, a.Body)
	}
	if e.count() != before || len(e.sender.all()) != 0 {
		t.Fatal("the honeypot let a claim through")
	}
	// The trap is out of sight and out of reach of the keyboard.
	if !strings.Contains(c.get(portal.FormPath).Body, `<input id="website" name="website" type="text" tabindex="-1" autocomplete="off">`) {
		t.Fatal("no honeypot field in the form")
	}
}

// A second claim on a unit with an open claim is refused politely, without
// anything of the other claim, and nothing is written; once the first is
// closed, the unit can be claimed again.
func TestDuplicateClaimOnAUnit(t *testing.T) {
	e := newEnv(t, options{})
	first := e.client()
	form := validClaim(first.csrf(portal.FormPath))
	number, link := first.file(form)

	other := e.client()
	again := validClaim(other.csrf(portal.FormPath))
	again.Set("serial", form.Get("serial"))
	again.Set("name", "Someone Else")
	before := e.count()
	a := other.post(portal.FormPath, again, nil)
	if a.Code != http.StatusConflict || !strings.Contains(fieldError(a.Body, "serial"), "There is already an open claim for this product") {
		t.Fatalf("status %d, serial error %q", a.Code, fieldError(a.Body, "serial"))
	}
	if strings.Contains(a.Body, number) || strings.Contains(a.Body, "Ivan Petrov") || strings.Contains(a.Body, link) {
		t.Fatal("the refusal reveals the other claim")
	}
	if e.count() != before {
		t.Fatal("a duplicate wrote events")
	}
	e.staff(e.claimOf(link).ID, &domain.WithdrawClaim{})
	if _, l := other.file(again); l == link {
		t.Fatal("no new claim after the first was withdrawn")
	}
}

// Posts are limited per client address, and claims and link requests per
// contact whatever the address.
func TestRateLimits(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, options{perClient: statuspage.Limit{Burst: 2, Every: time.Hour}})
		c := e.client()
		c.ip = "192.0.2.10"
		csrf := c.csrf(portal.FormPath)
		c.file(validClaim(csrf))
		c.file(validClaim(csrf))
		before := e.count()
		a := c.post(portal.FormPath, validClaim(csrf), nil)
		if a.Code != http.StatusTooManyRequests || a.Header.Get("Retry-After") == "" || !strings.Contains(a.Body, "Too many attempts") {
			t.Fatalf("third post: %d", a.Code)
		}
		if e.count() != before {
			t.Fatal("a limited post wrote events")
		}
		other := e.client()
		other.ip = "198.51.100.7"
		other.file(validClaim(other.csrf(portal.FormPath)))
	})
	t.Run("opening links per address", func(t *testing.T) {
		e := newEnv(t, options{perClient: statuspage.Limit{Burst: 3, Every: time.Hour}})
		c := e.client()
		c.ip = "192.0.2.20"
		_, link := c.file(validClaim(c.csrf(portal.FormPath)))
		if got := c.get(link); got.Code != http.StatusOK {
			t.Fatalf("first opening: %d", got.Code)
		}
		if got := c.get(portal.LinkPrefix + "guessing"); got.Code != http.StatusNotFound {
			t.Fatalf("a guess: %d", got.Code)
		}
		if got := c.get(link); got.Code != http.StatusTooManyRequests || got.Header.Get("Retry-After") == "" {
			t.Fatalf("beyond the limit: %d", got.Code)
		}
	})
	t.Run("link requests per claim number", func(t *testing.T) {
		e := newEnv(t, options{perContact: statuspage.Limit{Burst: 1, Every: time.Hour}})
		a, b := e.client(), e.client()
		a.ip, b.ip = "192.0.2.10", "203.0.113.5"
		number, _ := a.file(validClaim(a.csrf(portal.FormPath)))
		ask := func(c *client, contact string) int {
			return c.post(portal.ResendPath, url.Values{"csrf": {c.csrf(portal.ResendPath)}, "number": {number}, "contact": {contact}}, nil).Code
		}
		if got := ask(a, "+359 888 000 001"); got != http.StatusOK {
			t.Fatalf("first request: %d", got)
		}
		if got := ask(b, "+359 888 000 002"); got != http.StatusTooManyRequests {
			t.Fatalf("another guess at the number's contact from elsewhere: %d", got)
		}
	})
	t.Run("per contact", func(t *testing.T) {
		e := newEnv(t, options{perContact: statuspage.Limit{Burst: 1, Every: time.Hour}})
		a, b := e.client(), e.client()
		a.ip, b.ip = "192.0.2.10", "203.0.113.5"
		a.file(validClaim(a.csrf(portal.FormPath)))
		form := validClaim(b.csrf(portal.FormPath))
		form.Set("phone", "+359 888 000 111") // the same e-mail from elsewhere
		if got := b.post(portal.FormPath, form, nil); got.Code != http.StatusTooManyRequests {
			t.Fatalf("the same e-mail from another address: %d", got.Code)
		}
		form.Set("email", "other@example.com")
		form.Set("phone", "+359888123456") // the first claim's phone, written otherwise
		if got := b.post(portal.FormPath, form, nil); got.Code != http.StatusTooManyRequests {
			t.Fatalf("the same phone from another address: %d", got.Code)
		}
		form.Set("email", "third@example.com")
		form.Set("phone", "+30 691 234 5678")
		if got := b.post(portal.FormPath, form, nil); got.Code != http.StatusCreated {
			t.Fatalf("new contact details: %d", got.Code)
		}
	})
}

// Every form post needs the CSRF token of its cookie.
func TestCSRF(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	_, link := c.file(validClaim(c.csrf(portal.FormPath)))
	e.staff(e.claimOf(link).ID, estimateIssued()...)
	before := e.count()
	for name, post := range map[string]func(csrf string) answer{
		"claim form": func(csrf string) answer { return c.post(portal.FormPath, validClaim(csrf), nil) },
		"resend": func(csrf string) answer {
			return c.post(portal.ResendPath, url.Values{"csrf": {csrf}, "number": {"X"}, "contact": {"y"}}, nil)
		},
		"action": func(csrf string) answer {
			return c.post(link+"/actions/accept-estimate", url.Values{"csrf": {csrf}}, nil)
		},
	} {
		for _, token := range []string{"", "forged-token"} {
			if a := post(token); a.Code != http.StatusForbidden || !strings.Contains(a.Body, "The form expired") {
				t.Errorf("%s with CSRF token %q: %d", name, token, a.Code)
			}
		}
		// From another site, even with a good token.
		csrf := c.csrf(portal.FormPath)
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+link+"/actions/accept-estimate", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		res, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s from another site: %d", name, res.StatusCode)
		}
	}
	if e.count() != before {
		t.Fatal("a post without its CSRF token wrote events")
	}
	cookie := e.client().get(portal.FormPath).Header.Get("Set-Cookie")
	for _, attr := range []string{"rmaledger_portal_csrf=", "HttpOnly", "SameSite=Strict", "Path=/portal"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("CSRF cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("CSRF cookie %q is Secure over plain HTTP", cookie)
	}
	tls := newEnv(t, options{https: true}).client().get(portal.FormPath).Header.Get("Set-Cookie")
	if !strings.Contains(tls, "; Secure") {
		t.Errorf("CSRF cookie %q is not Secure over HTTPS", tls)
	}
}

// A token opens its own claim only; guessed, expired and revoked tokens
// open nothing, act on nothing and write nothing.
func TestTokensRefused(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	csrf := c.csrf(portal.FormPath)
	_, linkA := c.file(validClaim(csrf))
	_, linkB := c.file(validClaim(csrf))
	a, b := e.claimOf(linkA), e.claimOf(linkB)
	e.staff(a.ID, estimateIssued()...)

	// B's token acts on B: the estimate is A's, B has none to accept.
	before := e.count()
	if got := c.post(linkB+"/actions/accept-estimate", url.Values{"csrf": {csrf}}, nil); got.Code != http.StatusConflict {
		t.Fatalf("accepting with the other claim's token: %d", got.Code)
	}
	if e.count() != before || e.claimOf(linkA).Status != domain.StatusEstimateIssued {
		t.Fatal("another claim's token changed the claim")
	}

	token := strings.TrimPrefix(linkA, portal.LinkPrefix)
	guessed := []byte(token)
	guessed[len(guessed)-2] ^= 1
	revoked, err := e.links.Issue(context.Background(), b.ID, "en", links.Actor{Name: "t", Role: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.links.Revoke(context.Background(), b.ID, links.Actor{Name: "maria", Role: "agent"}); err != nil {
		t.Fatal(err)
	}
	expiring, err := links.New(links.Config{Store: e.store, TTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := expiring.Issue(context.Background(), a.ID, "en", links.Actor{Name: "t", Role: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"guessed": string(guessed), "revoked": revoked.Token, "expired": expired.Token, "another claim's revoked link": strings.TrimPrefix(linkB, portal.LinkPrefix),
		"short": "abc", "empty-ish": "-",
	} {
		page := c.get(portal.LinkPrefix + tok)
		if page.Code != http.StatusNotFound || !strings.Contains(page.Body, "This link does not work") || strings.Contains(page.Body, a.Number) {
			t.Errorf("%s token: %d", name, page.Code)
		}
		before := e.count()
		if got := c.post(portal.LinkPrefix+tok+"/actions/withdraw", url.Values{"csrf": {csrf}}, nil); got.Code != http.StatusNotFound {
			t.Errorf("%s token, withdraw: %d", name, got.Code)
		}
		if e.count() != before {
			t.Errorf("%s token wrote events", name)
		}
	}
	if e.claimOf(linkA).Status != domain.StatusEstimateIssued {
		t.Fatal("a refused token changed the claim")
	}
}

// The customer's own actions, each only when the claim allows it, each an
// event with the customer as actor.
func TestCustomerActions(t *testing.T) {
	e := newEnv(t, options{})
	e.pay.ledger = e.ledger
	c := e.client()
	csrf := c.csrf(portal.FormPath)
	_, link := c.file(validClaim(csrf))
	id := e.claimOf(link).ID

	page := c.get(link)
	for _, absent := range []string{`id="accept-estimate"`, `id="pay"`, `id="confirm-service-report"`, `id="open-dispute"`} {
		if strings.Contains(page.Body, absent) {
			t.Errorf("a registered claim offers %s", absent)
		}
	}
	for _, present := range []string{`id="withdraw"`, `id="message"`, `id="add-file"`} {
		if !strings.Contains(page.Body, present) {
			t.Errorf("a registered claim does not offer %s", present)
		}
	}
	if got := c.post(link+"/actions/open-dispute", url.Values{"csrf": {csrf}, "text": {"No."}}, nil); got.Code != http.StatusConflict {
		t.Fatalf("appeal before resolution: %d", got.Code)
	}
	if got := c.post(link+"/actions/message", url.Values{"csrf": {csrf}, "text": {""}}, nil); got.Code != http.StatusUnprocessableEntity || fieldError(got.Body, "message") != "Please fill in this field." {
		t.Fatalf("empty message: %d %q", got.Code, fieldError(got.Body, "message"))
	}
	if got := c.post(link+"/actions/message", url.Values{"csrf": {csrf}, "text": {"The screen flickers too."}}, nil); got.Code != http.StatusSeeOther {
		t.Fatalf("message: %d", got.Code)
	}
	if got := c.post(link+"/actions/file", url.Values{"csrf": {csrf}}, map[string]map[string]string{"file": {"big.jpg": strings.Repeat("x", 2000)}}); got.Code != http.StatusUnprocessableEntity || fieldError(got.Body, "file") != "This file is too large." {
		t.Fatalf("too large a file: %d %q", got.Code, fieldError(got.Body, "file"))
	}
	if got := c.post(link+"/actions/file", url.Values{"csrf": {csrf}}, map[string]map[string]string{"file": {"label.jpg": "jpeg"}}); got.Code != http.StatusSeeOther {
		t.Fatalf("file: %d", got.Code)
	}

	e.staff(id, estimateIssued()...)
	page = c.get(link)
	for _, want := range []string{"40.00 EUR", "25.00 EUR", "10.00 EUR", "75.00 EUR", `id="accept-estimate"`, `id="decline-estimate"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the estimate's page lacks %s", want)
		}
	}
	got := c.post(link+"/actions/accept-estimate", url.Values{"csrf": {csrf}, "key": {"0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e"}}, nil)
	if got.Code != http.StatusSeeOther || got.Header.Get("Location") != link+"?done=accept-estimate" {
		t.Fatalf("accept: %d %s", got.Code, got.Header.Get("Location"))
	}
	if !strings.Contains(c.get(got.Header.Get("Location")).Body, "Thank you: you accepted the estimate.") {
		t.Error("no confirmation after accepting")
	}
	// The same post again (a double click) changes nothing more.
	before := e.count()
	c.post(link+"/actions/accept-estimate", url.Values{"csrf": {csrf}, "key": {"0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e"}}, nil)
	if e.count() != before {
		t.Fatal("a repeated accept wrote events")
	}

	// The same key with another action's content is refused, not a failure of the service.
	if got := c.post(link+"/actions/message", url.Values{"csrf": {csrf}, "text": {"Hello"}, "key": {"0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e"}}, nil); got.Code != http.StatusSeeOther {
		t.Fatalf("a message with a key another action used: %d", got.Code)
	}
	got = c.post(link+"/actions/pay", url.Values{"csrf": {csrf}}, nil)
	if got.Code != http.StatusSeeOther || !strings.HasPrefix(got.Header.Get("Location"), "/fakepay?claim="+id.String()) {
		t.Fatalf("pay: %d %s", got.Code, got.Header.Get("Location"))
	}
	if e.pay.returnURL != e.srv.URL+link {
		t.Fatalf("return URL %q", e.pay.returnURL)
	}

	events, err := e.ledger.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var customerActs []string
	for _, r := range events {
		m, _ := eventlog.DecodeMetadata(r.Metadata)
		if m.Role == portal.RoleCustomer {
			customerActs = append(customerActs, m.Action)
		}
	}
	if strings.Join(customerActs, ",") != "register,add-note,accept-estimate,add-note" {
		t.Fatalf("the customer's events: %v", customerActs)
	}
}

// Without Payments the claim page shows how to pay by transfer.
func TestBankTransferWithoutPayments(t *testing.T) {
	e := newEnv(t, options{noPayments: true})
	c := e.client()
	csrf := c.csrf(portal.FormPath)
	number, link := c.file(validClaim(csrf))
	e.staff(e.claimOf(link).ID, estimateIssued()...)
	c.post(link+"/actions/accept-estimate", url.Values{"csrf": {csrf}}, nil)
	page := c.get(link)
	if strings.Contains(page.Body, `id="pay"`) || !strings.Contains(page.Body, "BG80BNBG96611020345678") || !strings.Contains(page.Body, `<dd class="code">`+number) {
		t.Fatalf("no bank transfer instructions:\n%s", page.Body)
	}
	if got := c.post(link+"/actions/pay", url.Values{"csrf": {csrf}}, nil); got.Code != http.StatusConflict {
		t.Fatalf("pay without Payments: %d", got.Code)
	}
}

// Back from the payment provider, the claim's page says how the payment
// went, as the provider's return URL tells it (payments.Service adds
// payment=succeeded or payment=cancelled), in the customer's language.
func TestBackFromThePaymentProvider(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	_, link := c.file(validClaim(c.csrf(portal.FormPath)))
	for query, want := range map[string]string{
		"?payment=succeeded":         "Thank you for the payment.",
		"?payment=cancelled":         "The payment was cancelled: nothing was charged.",
		"?payment=cancelled&lang=bg": "Плащането е отказано: нищо не е таксувано.",
	} {
		if page := c.get(link + query); !strings.Contains(page.Body, want) {
			t.Errorf("%s: the page does not say %q", query, want)
		}
	}
	if page := c.get(link + "?payment=forged"); strings.Contains(page.Body, `id="done"`) {
		t.Error("an unknown payment outcome is announced")
	}
}

// At release the customer confirms the service report or disputes it
// (open-dispute, the written appeal); a confirmed report is not disputed.
func TestServiceReport(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	csrf := c.csrf(portal.FormPath)
	_, confirmLink := c.file(validClaim(csrf))
	_, disputeLink := c.file(validClaim(csrf))
	e.staff(e.claimOf(confirmLink).ID, repaired()...)
	e.staff(e.claimOf(disputeLink).ID, repaired()...)

	page := c.get(confirmLink)
	for _, want := range []string{"Replaced the voltage regulator.", `id="confirm-service-report"`, `id="open-dispute"`, "Please read the service report below"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the resolved claim's page lacks %s", want)
		}
	}
	if got := c.post(confirmLink+"/actions/confirm-service-report", url.Values{"csrf": {csrf}, "text": {"Works."}}, nil); got.Code != http.StatusSeeOther {
		t.Fatalf("confirm: %d", got.Code)
	}
	if s := e.claimOf(confirmLink); s.Resolution.ReportConfirmedAt.IsZero() {
		t.Fatal("not confirmed")
	}
	if page := c.get(confirmLink); strings.Contains(page.Body, `id="open-dispute"`) || !strings.Contains(page.Body, "You confirmed the service report.") {
		t.Fatal("a confirmed report can still be disputed")
	}

	if got := c.post(disputeLink+"/actions/open-dispute", url.Values{"csrf": {csrf}, "text": {""}}, nil); got.Code != http.StatusUnprocessableEntity {
		t.Fatalf("appeal without a reason: %d", got.Code)
	}
	if got := c.post(disputeLink+"/actions/open-dispute", url.Values{"csrf": {csrf}, "text": {"It still does not power on."}}, nil); got.Code != http.StatusSeeOther {
		t.Fatalf("appeal: %d", got.Code)
	}
	if s := e.claimOf(disputeLink); s.Status != domain.StatusDisputed || s.Disputes[0].Reason != "It still does not power on." {
		t.Fatalf("status %s", s.Status)
	}
}

// Withdrawing ends the claim; then nothing else is offered.
func TestWithdraw(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	csrf := c.csrf(portal.FormPath)
	_, link := c.file(validClaim(csrf))
	before := e.count()
	if got := c.post(link+"/actions/withdraw", url.Values{"csrf": {csrf}, "text": {"Found the cable was broken."}}, nil); got.Code != http.StatusUnprocessableEntity ||
		fieldError(got.Body, "withdraw-confirm") != "Please tick the box to confirm that you want to withdraw the claim." || !strings.Contains(got.Body, "Found the cable was broken.") {
		t.Fatalf("withdraw without the box ticked: %d", got.Code)
	}
	if e.count() != before {
		t.Fatal("an unconfirmed withdrawal wrote events")
	}
	if got := c.post(link+"/actions/withdraw", url.Values{"csrf": {csrf}, "text": {"Found the cable was broken."}, "confirm": {"yes"}}, nil); got.Code != http.StatusSeeOther {
		t.Fatalf("withdraw: %d", got.Code)
	}
	if s := e.claimOf(link); s.Status != domain.StatusClosed || !s.Withdrawn {
		t.Fatalf("status %s", s.Status)
	}
	page := c.get(link)
	if strings.Contains(page.Body, "<form method=\"post\"") {
		t.Fatal("a closed claim still offers actions")
	}
	if got := c.post(link+"/actions/unknown", url.Values{"csrf": {csrf}}, nil); got.Code != http.StatusNotFound {
		t.Fatalf("unknown action: %d", got.Code)
	}
}

// "Send me my link again" answers the same whether or not the details
// match, and only a match issues a link, to the Sender.
func TestResendAnswersAlike(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	csrf := c.csrf(portal.ResendPath)
	number, _ := c.file(validClaim(c.csrf(portal.FormPath)))
	sentBefore := len(e.sender.all())
	ask := func(number, contact string) answer {
		return c.post(portal.ResendPath, url.Values{"csrf": {csrf}, "lang": {"en"}, "number": {number}, "contact": {contact}}, nil)
	}
	began := time.Now()
	wrongPhone := ask(number, "+359 888 999 999")
	if took := time.Since(began); took < 500*time.Millisecond {
		t.Errorf("a miss answered in %s, before the 500ms a match is given", took)
	}
	unknown := ask("RMA-2000-999999", "ivan@example.com")
	byEmail := ask(strings.ToLower(number), "IVAN@example.com")
	byPhone := ask(number, "+359888123456")
	for name, a := range map[string]answer{"wrong phone": wrongPhone, "unknown number": unknown, "e-mail": byEmail, "phone": byPhone} {
		if a.Code != http.StatusOK || a.Body != byEmail.Body {
			t.Errorf("%s: %d, a different answer", name, a.Code)
		}
	}
	sent := e.sender.all()[sentBefore:]
	if len(sent) != 2 || sent[0].Number != number || sent[1].Number != number {
		t.Fatalf("links sent: %+v", sent)
	}
	if strings.Contains(byEmail.Body, sent[0].URL) {
		t.Fatal("the answer shows the link")
	}
	// Both links work; the first still does.
	for _, m := range sent {
		u, _ := url.Parse(m.URL)
		if c.get(u.Path).Code != http.StatusOK {
			t.Fatalf("the sent link %s does not open", m.URL)
		}
	}
	if a := ask("", ""); a.Code != http.StatusUnprocessableEntity || fieldError(a.Body, "number") == "" || fieldError(a.Body, "contact") == "" {
		t.Fatalf("empty form: %d", a.Code)
	}
}

// A post larger than MaxUploadBytes is refused with a page, and writes nothing.
func TestTooLargeAPost(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	before := e.count()
	a := c.post(portal.FormPath, validClaim(c.csrf(portal.FormPath)), map[string]map[string]string{"photos": {"huge.jpg": strings.Repeat("x", 41<<20)}})
	if a.Code != http.StatusRequestEntityTooLarge || !strings.Contains(a.Body, "The files are too large together") {
		t.Fatalf("status %d", a.Code)
	}
	if e.count() != before {
		t.Fatal("a too large post wrote events")
	}
}

// Staff revoke every link of a claim and issue a new one, which goes to
// the Sender in the customer's language; the revoked links open nothing.
func TestStaffRevokeAndReissue(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	form := validClaim(c.csrf(portal.FormPath))
	form.Set("language", "el")
	_, link := c.file(form)
	id := e.claimOf(link).ID
	p := e.portal
	staff := ledger.Actor{Name: "maria", Role: "agent"}
	if err := p.RevokeLinks(context.Background(), id, staff); err != nil {
		t.Fatal(err)
	}
	if got := c.get(link); got.Code != http.StatusNotFound {
		t.Fatalf("revoked link: %d", got.Code)
	}
	expires, err := p.ReissueLink(context.Background(), id, staff, "https://service.example.com")
	if err != nil {
		t.Fatal(err)
	}
	sent := e.sender.all()
	last := sent[len(sent)-1]
	if last.Language != "el" || !last.ExpiresAt.Equal(expires) || !strings.HasPrefix(last.URL, "https://service.example.com"+portal.LinkPrefix) {
		t.Fatalf("sent %+v", last)
	}
	u, _ := url.Parse(last.URL)
	if got := c.get(u.Path); got.Code != http.StatusOK || !strings.Contains(got.Body, `lang="el"`) {
		t.Fatalf("the new link: %d", got.Code)
	}
	if got := c.get(link); got.Code != http.StatusNotFound {
		t.Fatalf("the revoked link after a new one: %d", got.Code)
	}
}

// The status and home pages link to the form at the path the portal serves.
func TestStatusPageLinksToTheForm(t *testing.T) {
	if statuspage.ClaimFormPath != portal.FormPath {
		t.Fatalf("the status page links to %s, the form is at %s", statuspage.ClaimFormPath, portal.FormPath)
	}
}

// A form's key sent again with other content (a tampered or replayed form)
// is refused and writes nothing.
func TestFormKeyReused(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	form := validClaim(c.csrf(portal.FormPath))
	c.file(form)
	before := e.count()
	other := validClaim(form.Get("csrf"))
	other.Set("key", form.Get("key"))
	if a := c.post(portal.FormPath, other, nil); a.Code != http.StatusConflict || !strings.Contains(a.Body, "We could not accept this form") || strings.Contains(a.Body, form.Get("key")) {
		t.Fatalf("reused key: %d", a.Code)
	}
	if e.count() != before {
		t.Fatal("a reused key wrote events")
	}
}

// The customer chooses from the claim's page which messages they want;
// the choice is recorded for the claim, shown as chosen, and a choice
// that is none of the two is refused with nothing written.
func TestChoiceOfMessages(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client()
	csrf := c.csrf(portal.FormPath)
	_, link := c.file(validClaim(csrf))
	id := e.claimOf(link).ID
	prefs := preferences.Keeper{Store: e.store}

	page := c.get(link)
	if !strings.Contains(page.Body, `id="messages-all" name="messages" type="radio" value="all" checked>`) {
		t.Fatalf("a new claim does not show every message as chosen\n%s", page.Body)
	}
	before := e.count()
	if got := c.post(link+"/messages", url.Values{"csrf": {csrf}, "messages": {"some"}}, nil); got.Code != http.StatusUnprocessableEntity ||
		fieldError(got.Body, "messages") != "Please fill in this field." {
		t.Fatalf("an unknown choice: %d %q", got.Code, fieldError(got.Body, "messages"))
	}
	if got := c.post(link+"/messages", url.Values{"messages": {"essential"}}, nil); got.Code != http.StatusForbidden {
		t.Fatalf("a choice without the CSRF token: %d", got.Code)
	}
	if n := e.count(); n != before {
		t.Fatalf("refused choices wrote %d events", n-before)
	}
	got := c.post(link+"/messages", url.Values{"csrf": {csrf}, "messages": {"essential"}}, nil)
	if got.Code != http.StatusSeeOther || got.Header.Get("Location") != link+"?done=messages" {
		t.Fatalf("choose essential: %d %s", got.Code, got.Header.Get("Location"))
	}
	if p, err := prefs.Get(context.Background(), id); err != nil || !p.Quiet {
		t.Fatalf("recorded %+v, %v; want quiet", p, err)
	}
	page = c.get(got.Header.Get("Location"))
	if !strings.Contains(page.Body, "Your choice of messages is saved.") || !strings.Contains(page.Body, `value="essential" checked`) {
		t.Fatalf("the page does not show the choice\n%s", page.Body)
	}
	c.post(link+"/messages", url.Values{"csrf": {csrf}, "messages": {"all"}}, nil)
	if p, _ := prefs.Get(context.Background(), id); p.Quiet {
		t.Fatal("choosing every message again was not recorded")
	}
}
