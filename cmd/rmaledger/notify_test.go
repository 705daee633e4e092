package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/rmaledger/rmaledger/internal/smtptest"
)

// mailServer is a real SMTP server in the test's process.
func mailServer(t *testing.T) *smtptest.Server {
	t.Helper()
	s, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// registrationTo is the test's claim with the customer's e-mail.
func registrationTo(email, serial string) string {
	return fmt.Sprintf(`{"customer":{"name":"Maria Georgieva","phone":"+359 888 123 456","email":%q},
 "product":{"category":"laptop","serial":%q},"purchase_date":"%s",
 "proof_of_purchase":{"kind":"receipt","reference":"R-9"},
 "price":{"amount":"899.00","currency":"BGN"},"defect":"fan noise","channel":"web"}`, email, serial, time.Now().AddDate(0, -2, 0).Format(time.DateOnly))
}

// textPart is the plain-text part of a received e-mail, decoded.
func textPart(t *testing.T, r smtptest.Received) (mail.Header, string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(string(r.Data)))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			body, _ := io.ReadAll(p)
			return m.Header, string(body)
		}
	}
}

// subject decodes an e-mail's Subject.
func subject(h mail.Header) string {
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		return h.Get("Subject")
	}
	return s
}

// TestCustomerEmailThroughSMTP: the service, configured with an SMTP server,
// e-mails the customer at registration and authorization through a real
// SMTP exchange, in the default language, with the company's name and
// signature. A message the server refuses (451) while the service is then
// killed is sent after the restart, once, with the same Message-ID.
func TestCustomerEmailThroughSMTP(t *testing.T) {
	smtp := mailServer(t)
	dataDir := t.TempDir()
	env := []string{
		"RMALEDGER_SMTP_HOST=127.0.0.1", "RMALEDGER_SMTP_PORT=" + smtp.Port(), "RMALEDGER_SMTP_STARTTLS=none",
		"RMALEDGER_SMTP_FROM=Acme Service <service@acme.example>", "RMALEDGER_PUBLIC_URL=https://rma.acme.example",
		"RMALEDGER_COMPANY_NAME=Acme Service", "RMALEDGER_MAIL_SIGNATURE=Acme desk, +359 2 000 0000",
		"RMALEDGER_DEFAULT_LANGUAGE=bg",
	}
	p := start(t, dataDir, env...)
	code, claim := p.post(t, "/v1/claims", registrationTo("maria@example.com", "SN-MAIL-1"))
	if code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, claim)
	}
	got := smtp.Wait(1, 10*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d e-mails after the registration, want 1\n%s", len(got), p.output)
	}
	h, text := textPart(t, got[0])
	if got[0].To[0] != "maria@example.com" || !strings.Contains(h.Get("From"), "service@acme.example") {
		t.Errorf("from %s to %v", h.Get("From"), got[0].To)
	}
	number := claim["number"].(string)
	for _, want := range []string{number, "Acme desk, +359 2 000 0000", "https://rma.acme.example"} {
		if !strings.Contains(text, want) {
			t.Errorf("the registration e-mail lacks %q:\n%s", want, text)
		}
	}
	if s := subject(h); !strings.Contains(s, number) || !strings.ContainsAny(s, "абвгдежзийклмнопрстуфхцчшщъьюя") {
		t.Errorf("subject %q: want the number, in Bulgarian", s)
	}

	// The next message is refused for now, and the service dies before
	// it is sent: after the restart it goes, once, with the same id.
	smtp.Refuse(451)
	id := claim["id"].(string)
	code, _ = p.post(t, "/v1/claims/"+id+"/actions/authorize", `{"service_center":{"name":"Sofia service center","address":"1 Vitosha Blvd, Sofia"}}`)
	if code != http.StatusOK {
		t.Fatalf("authorize: %d", code)
	}
	for deadline := time.Now().Add(10 * time.Second); len(smtp.Refused()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the authorization e-mail was never tried\n%s", p.output)
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	// The retry is due within the first backoff (at most 30s).
	p = start(t, dataDir, env...)
	got = smtp.Wait(2, time.Minute)
	if len(got) != 2 {
		t.Fatalf("%d e-mails, want the registration and the authorization\n%s", len(got), p.output)
	}
	refusedID := smtp.Refused()[0].Header().Get("Message-ID")
	if sentID := got[1].Header().Get("Message-ID"); sentID == "" || sentID != refusedID {
		t.Errorf("the authorization went with Message-ID %q, the refused attempt had %q", sentID, refusedID)
	}
	if _, text := textPart(t, got[1]); !strings.Contains(text, "1 Vitosha Blvd, Sofia") {
		t.Errorf("the authorization e-mail does not say where to send the item:\n%s", text)
	}
	time.Sleep(time.Second)
	if n := len(smtp.Received()); n != 2 {
		t.Errorf("%d e-mails in the end, want 2 (nothing sent twice)", n)
	}
}

// verifySignature is the Standard Webhooks check, written from the
// specification: HMAC-SHA256 keyed with the secret's bytes after whsec_,
// over "id.timestamp.body", base64, among the "v1," signatures.
func verifySignature(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// TestWebhookEndToEnd: an admin subscribes a receiver through the API; the
// claim's events reach it in order, signed, each verifying with the
// subscription's secret; the deliveries are listed as sent.
func TestWebhookEndToEnd(t *testing.T) {
	var (
		mu       sync.Mutex
		received []map[string]any
		bad      int
	)
	var secret string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !verifySignature(secret, r.Header, body) {
			bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		received = append(received, m)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	t.Setenv("RMALEDGER_API_KEYS", testAgentKey+",admin:admin-key-for-webhook-test")
	s := serveInProcess(t, "--data-dir", t.TempDir(), "--dev")
	code, sub := s.request(t, http.MethodPost, "/v1/webhooks", "admin-key-for-webhook-test",
		`{"url":"`+receiver.URL+`/hooks","event_types":["claim.registered","claim.authorized"]}`)
	if code != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", code, sub)
	}
	mu.Lock()
	secret = sub["secret"].(string)
	mu.Unlock()
	claim := s.register(t)
	id := claim["id"].(string)
	if code, _ := s.request(t, http.MethodPost, "/v1/claims/"+id+"/actions/authorize", agentKey,
		`{"service_center":{"name":"Sofia service center","address":"1 Vitosha Blvd, Sofia"}}`); code != http.StatusOK {
		t.Fatalf("authorize: %d", code)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks received, want 2\n%s", n, s.output)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if bad != 0 {
		t.Errorf("%d webhooks did not verify", bad)
	}
	if received[0]["type"] != "claim.registered" || received[1]["type"] != "claim.authorized" {
		t.Errorf("received %v then %v, want the registration then the authorization", received[0]["type"], received[1]["type"])
	}
	raw, _ := json.Marshal(received)
	if strings.Contains(string(raw), "Maria") || strings.Contains(string(raw), "+359") {
		t.Errorf("a webhook carries the customer's personal data: %s", raw)
	}
	code, list := s.request(t, http.MethodGet, "/v1/webhooks/"+sub["id"].(string)+"/deliveries?status=sent", "admin-key-for-webhook-test", "")
	if items, _ := list["items"].([]any); code != http.StatusOK || len(items) != 2 {
		t.Errorf("deliveries: %d %v", code, list)
	}
}

// outboxRows reads the outbox's database: one string column of the
// messages of a channel, in queue order.
func outboxRows(t *testing.T, dataDir, column, channel string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, outboxFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT `+column+` FROM messages WHERE channel = ? ORDER BY seq`, channel)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// outboxMessages is the recipient and kind of each message of a channel.
func outboxMessages(t *testing.T, dataDir, channel string) []string {
	return outboxRows(t, dataDir, `recipient || ' ' || kind`, channel)
}

// registerWith registers a claim as the agent and returns the answer.
func (s *served) registerWith(t *testing.T, body string) map[string]any {
	t.Helper()
	code, claim := s.request(t, http.MethodPost, "/v1/claims", agentKey, body)
	if code != http.StatusCreated {
		t.Fatalf("register: %d %v\n%s", code, claim, s.output)
	}
	return claim
}

// disputed takes a claim to the customer's appeal: authorized, received,
// found void, returned unrepaired, disputed (the technician's key is
// tech-key-for-notify-settings).
func (s *served) disputed(t *testing.T, id string) {
	t.Helper()
	for _, step := range []struct{ action, key, body string }{
		{"authorize", agentKey, `{"service_center":{"name":"Sofia service center","address":"1 Vitosha Blvd, Sofia"}}`},
		{"receive", "tech-key-for-notify-settings", `{"condition":"scratched","seals_intact":true,"received_by":"tech-1"}`},
		{"diagnose", "tech-key-for-notify-settings", `{"outcome":"warranty_void","void_reason_code":"liquid_damage","findings":"corrosion"}`},
		{"return-unrepaired", agentKey, `{"reason":"liquid damage"}`},
		{"open-dispute", agentKey, `{"reason":"there was no liquid"}`},
	} {
		if code, ans := s.request(t, http.MethodPost, "/v1/claims/"+id+"/actions/"+step.action, step.key, step.body); code != http.StatusOK {
			t.Fatalf("%s: %d %v", step.action, code, ans)
		}
	}
}

// lastErrors is the last error of each message of a channel that has one.
func lastErrors(t *testing.T, dataDir, channel string) []string {
	var out []string
	for _, e := range outboxRows(t, dataDir, "last_error", channel) {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// eventually waits up to 15s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
	}
}

// TestNotificationSettings shows each notification setting changing what
// the service does: a template directory replaces a message's subject and
// a broken one refuses the start naming the file; the desk's alerts go to
// the assignee's own address or the desk's; an SMS provider receives each
// message with its token; an SMTP user name makes the service refuse to
// send its password without TLS; a webhook network lets a private address
// through the SSRF guard.
func TestNotificationSettings(t *testing.T) {
	const adminKey = "admin-key-for-notify-settings"
	t.Setenv("RMALEDGER_API_KEYS", testAgentKey+",technician:tech-key-for-notify-settings,admin:"+adminKey)
	smtp := mailServer(t)
	var (
		mu  sync.Mutex
		sms []string
	)
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		sms = append(sms, r.Header.Get("Authorization")+" "+string(body))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer provider.Close()
	mailTo := []string{"--smtp-host", "127.0.0.1", "--smtp-port", smtp.Port(), "--smtp-starttls", "none",
		"--smtp-from", "Acme Service <service@acme.example>", "--public-url", "https://rma.acme.example"}

	templates := t.TempDir()
	if err := os.MkdirAll(filepath.Join(templates, "claim.registered"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(content string) {
		if err := os.WriteFile(filepath.Join(templates, "claim.registered", "subject.txt"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{{.T "registered.subject" .Number}} (Acme Sofia)`)

	dir := t.TempDir()
	s := serveInProcess(t, append(mailTo, "--data-dir", dir, "--dev", "--notify-templates", templates,
		"--desk-email", "desk@acme.example", "--desk-addresses", "Ana Agent=ana@acme.example",
		"--sms-url", provider.URL+"/send", "--sms-token", "sms-token-1")...)
	s.waitReady(t)
	assigned := s.registerWith(t, registrationTo("maria@example.com", "SN-SETTINGS-1"))
	plain := s.registerWith(t, registrationTo("maria@example.com", "SN-SETTINGS-2"))
	t.Run("NotifyTemplates", func(t *testing.T) {
		got := smtp.Wait(2, 15*time.Second)
		if len(got) < 2 || !strings.HasSuffix(subject(got[0].Header()), "(Acme Sofia)") {
			t.Fatalf("the registration's subject is not the deployment's: %d e-mails", len(got))
		}
	})
	t.Run("SMSURL,SMSToken", func(t *testing.T) {
		eventually(t, "two SMS", func() bool { mu.Lock(); defer mu.Unlock(); return len(sms) >= 2 })
		mu.Lock()
		defer mu.Unlock()
		if !strings.HasPrefix(sms[0], "Bearer sms-token-1 ") || !strings.Contains(sms[0], `"to":"+359888123456"`) {
			t.Errorf("the provider got %q", sms[0])
		}
	})
	t.Run("DeskEmail,DeskAddresses", func(t *testing.T) {
		if code, _ := s.request(t, http.MethodPost, "/v1/claims/"+assigned["id"].(string)+"/actions/assign", agentKey, `{"assignee":"Ana Agent"}`); code != http.StatusOK {
			t.Fatalf("assign: %d", code)
		}
		for _, c := range []map[string]any{assigned, plain} {
			s.disputed(t, c["id"].(string))
		}
		eventually(t, "two desk alerts", func() bool { return len(outboxMessages(t, dir, "desk")) >= 2 })
		got := outboxMessages(t, dir, "desk")
		if got[0] != "ana@acme.example desk.dispute_opened" || got[1] != "desk@acme.example desk.dispute_opened" {
			t.Errorf("desk alerts %v: want the assignee's, then the desk's", got)
		}
	})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	write(`{{.T "registered.subject" .Number`)
	if out, err := runInProcess(t, append([]string{"serve", "--addr", freeAddr(t), "--data-dir", dir, "--dev", "--notify-templates", templates}, mailTo...)...); err == nil ||
		!strings.Contains(err.Error(), "claim.registered/subject.txt") {
		t.Errorf("a broken template: %v, want a refusal naming it\n%s", err, out)
	}

	// A receiver on a private (here: loopback) address over https, and a
	// password the service must not send without TLS.
	receiver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer receiver.Close()
	before := len(smtp.Received())
	base := serveInProcess(t, append(mailTo, "--data-dir", t.TempDir())...)
	tunedDir := t.TempDir()
	tuned := serveInProcess(t, append(mailTo, "--data-dir", tunedDir, "--webhook-networks", "127.0.0.1/32",
		"--smtp-username", "rma", "--smtp-password", "not-in-the-clear")...)
	var subs []string
	for _, svc := range []*served{base, tuned} {
		svc.waitReady(t)
		code, sub := svc.request(t, http.MethodPost, "/v1/webhooks", adminKey, `{"url":"`+receiver.URL+`/hooks"}`)
		if code != http.StatusCreated {
			t.Fatalf("subscribe: %d %v", code, sub)
		}
		subs = append(subs, sub["id"].(string))
		svc.registerWith(t, registrationTo("maria@example.com", "SN-SETTINGS-3"))
	}
	lastError := func(svc *served, sub string) string {
		_, list := svc.request(t, http.MethodGet, "/v1/webhooks/"+sub+"/deliveries", adminKey, "")
		items, _ := list["items"].([]any)
		if len(items) == 0 {
			return ""
		}
		e, _ := items[0].(map[string]any)["last_error"].(string)
		return e
	}
	t.Run("WebhookNetworks", func(t *testing.T) {
		eventually(t, "both deliveries failed", func() bool { return lastError(base, subs[0]) != "" && lastError(tuned, subs[1]) != "" })
		if e := lastError(base, subs[0]); !strings.Contains(e, "prohibited IP address") {
			t.Errorf("without the network: %q, want the SSRF guard's refusal", e)
		}
		if e := lastError(tuned, subs[1]); strings.Contains(e, "prohibited IP address") || !strings.Contains(e, "certificate") {
			t.Errorf("with the network: %q, want it past the guard (then refused for the test's certificate)", e)
		}
	})
	t.Run("SMTPUsername,SMTPPassword", func(t *testing.T) {
		eventually(t, "the base's e-mail", func() bool { return len(smtp.Received()) > before })
		eventually(t, "the tuned one's failure", func() bool { return len(lastErrors(t, tunedDir, "email")) > 0 })
		if e := lastErrors(t, tunedDir, "email")[0]; !strings.Contains(e, "AUTH") && !strings.Contains(e, "auth") {
			t.Errorf("the tuned service's e-mail failed with %q, want a refusal to authenticate without TLS", e)
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(smtp.Received()) - before; n != 1 {
			t.Errorf("%d e-mails, want the base's only: the tuned service may not send its password without TLS", n)
		}
	})
}
