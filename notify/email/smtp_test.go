package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/notify"
)

func plainMessage(to string) notify.Message {
	return notify.Message{ID: uuid.New(), Channel: notify.Email, Recipient: to, Kind: "claim.received",
		Language: "en", Subject: "Claim RMA-1", Text: "Your item arrived.", HTML: "<p>Your item arrived.</p>"}
}

// TestSMTPAnswers: a 5xx answer is permanent, a 4xx answer, a refused
// login and an unreachable server are worth a retry.
func TestSMTPAnswers(t *testing.T) {
	srv := startSMTP(t)
	s := testSender(t, srv)
	ctx := context.Background()
	if err := s.Send(ctx, plainMessage("reject@example.net")); err == nil || !notify.IsPermanent(err) || !strings.Contains(err.Error(), "550") {
		t.Errorf("550: %v, want a permanent error", err)
	}
	if err := s.Send(ctx, plainMessage("busy@example.net")); err == nil || notify.IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Errorf("451: %v, want an error worth a retry", err)
	}
	bad, err := NewSMTPSender(SMTPConfig{Host: "localhost", Port: srv.Port, Username: testUser, Password: "wrong",
		From: "service@acme.example", TLSConfig: &tls.Config{RootCAs: srv.Roots}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Send(ctx, plainMessage("elena@example.net")); err == nil || notify.IsPermanent(err) {
		t.Errorf("a refused login: %v, want an error worth a retry", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	gone, err := NewSMTPSender(SMTPConfig{Host: "127.0.0.1", Port: port, From: "service@acme.example", StartTLS: StartTLSNone, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Send(ctx, plainMessage("elena@example.net")); err == nil || notify.IsPermanent(err) {
		t.Errorf("no server: %v, want an error worth a retry", err)
	}
	if n := len(srv.received()); n != 0 {
		t.Errorf("the server accepted %d messages, want none", n)
	}
}

// TestKeptConnections: messages share a connection while it is fresh; one
// the server dropped, or kept past IdleTimeout, is replaced without losing
// the message; concurrent messages use at most MaxIdle connections more.
func TestKeptConnections(t *testing.T) {
	srv := startSMTP(t)
	s := testSender(t, srv)
	defer s.Close()
	ctx := context.Background()
	send := func(to string) {
		t.Helper()
		if err := s.Send(ctx, plainMessage(to)); err != nil {
			t.Fatalf("send to %s: %v", to, err)
		}
	}
	for i := range 5 {
		send(fmt.Sprintf("c%d@example.net", i))
	}
	if n := srv.connCount(); n != 1 {
		t.Errorf("5 messages one after another used %d connections, want 1", n)
	}
	srv.drop()
	send("after-drop@example.net")
	if n := srv.connCount(); n != 2 {
		t.Errorf("after the server dropped the connection: %d connections, want 2", n)
	}
	now := time.Now()
	s.now = func() time.Time { return now }
	send("before-idle@example.net")
	now = now.Add(s.cfg.IdleTimeout + time.Second)
	send("after-idle@example.net")
	if n := srv.connCount(); n != 3 {
		t.Errorf("a connection kept past IdleTimeout was used: %d connections, want 3", n)
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 5 {
				if err := s.Send(ctx, plainMessage(fmt.Sprintf("w%d-%d@example.net", w, i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := srv.received()
	if len(got) != 5+3+80 {
		t.Fatalf("the server received %d messages, want %d", len(got), 5+3+80)
	}
	for _, e := range got {
		if !e.TLS || e.User != testUser {
			t.Fatalf("message to %v: TLS %v, user %q: a kept connection must stay secured and authenticated", e.To, e.TLS, e.User)
		}
	}
	if n := srv.connCount(); n > 3+16 {
		t.Errorf("16 senders used %d connections, want at most 16", n-3)
	}
	if err := s.Send(ctx, plainMessage("reject@example.net")); !notify.IsPermanent(err) {
		t.Errorf("550 on a kept connection: %v, want a permanent error", err)
	}
	send("after-refusal@example.net")
}

// TestStartTLSPolicy: mandatory refuses a server without STARTTLS,
// opportunistic uses it when offered, none never does.
func TestStartTLSPolicy(t *testing.T) {
	ctx := context.Background()
	tlsSrv, clear := startSMTP(t), startSMTPServer(t, false)
	send := func(srv *smtpServer, policy string) error {
		s, err := NewSMTPSender(SMTPConfig{Host: "localhost", Port: srv.Port, From: "service@acme.example", StartTLS: policy,
			TLSConfig: &tls.Config{RootCAs: srv.Roots}, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return s.Send(ctx, plainMessage("elena@example.net"))
	}
	if err := send(clear, StartTLSMandatory); err == nil {
		t.Error("mandatory STARTTLS sent to a server that does not offer it")
	}
	if err := send(clear, StartTLSOpportunistic); err != nil {
		t.Errorf("opportunistic, server without TLS: %v", err)
	}
	if err := send(tlsSrv, StartTLSOpportunistic); err != nil {
		t.Errorf("opportunistic, server with TLS: %v", err)
	}
	if err := send(tlsSrv, StartTLSNone); err != nil {
		t.Errorf("none: %v", err)
	}
	if got := clear.received(); len(got) != 1 || got[0].TLS {
		t.Errorf("server without TLS received %+v", got)
	}
	if got := tlsSrv.received(); len(got) != 2 || !got[0].TLS || got[1].TLS {
		t.Errorf("server with TLS: want the opportunistic message secured and the none one not, got %+v", got)
	}
	inClear, err := NewSMTPSender(SMTPConfig{Host: "localhost", Port: clear.Port, From: "service@acme.example", StartTLS: StartTLSNone,
		Username: testUser, Password: testPassword, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := inClear.Send(ctx, plainMessage("elena@example.net")); err == nil || len(clear.received()) != 1 {
		t.Errorf("the password went in the clear with AUTH PLAIN: %v", err)
	}
	if _, err := NewSMTPSender(SMTPConfig{Host: "localhost", From: "service@acme.example", StartTLS: "sometimes"}); err == nil {
		t.Error("an unknown STARTTLS policy was accepted")
	}
	if _, err := NewSMTPSender(SMTPConfig{Host: "localhost", From: "not an address"}); err == nil {
		t.Error("a From that is no address was accepted")
	}
}

// TestDeskDigest: thirty alerts due to one address go as one e-mail that
// lists every one of them.
func TestDeskDigest(t *testing.T) {
	srv := startSMTP(t)
	s := testSender(t, srv)
	d, err := NewDeskComposer(Config{Company: "Acme Service", PublicURL: "https://service.example.com", DeskAddress: "desk@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	var alerts []notify.Message
	for i := range 30 {
		cl := testClaim("")
		cl.ID = uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)})
		cl.Number = fmt.Sprintf("RMA-2026-%06d", 100+i)
		cl.Assignee = ""
		ms, err := d.Compose(context.Background(), event(i, slaBreach(i), cl))
		if err != nil || len(ms) != 1 {
			t.Fatalf("alert %d: %v %v", i, ms, err)
		}
		alerts = append(alerts, ms[0])
	}
	alerts[3], alerts[20] = alerts[20], alerts[3]
	if err := s.SendBatch(context.Background(), alerts); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 1 || got[0].To[0] != "desk@acme.example" {
		t.Fatalf("want one e-mail to the desk, got %d", len(got))
	}
	p := parseMIME(t, got[0].Data)
	if !strings.Contains(p.subject, "30") {
		t.Errorf("subject %q lacks the count", p.subject)
	}
	last := -1
	for i := range 30 {
		n := fmt.Sprintf("RMA-2026-%06d", 100+i)
		at := strings.Index(p.text, n)
		if at < 0 || !strings.Contains(html.UnescapeString(p.html), n) {
			t.Fatalf("the digest lacks %s", n)
		}
		if at < last {
			t.Errorf("%s is out of order", n)
		}
		last = at
	}
	if c := strings.Count(p.text, "SLA breached"); c != 30 {
		t.Errorf("%d sections, want 30", c)
	}
}
