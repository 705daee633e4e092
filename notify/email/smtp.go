package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"net/mail"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/rmaledger/rmaledger/i18n"
	"github.com/rmaledger/rmaledger/notify"
)

// The STARTTLS policies of SMTPConfig.StartTLS.
const (
	// StartTLSMandatory refuses to send over a connection STARTTLS did not
	// secure.
	StartTLSMandatory = "mandatory"
	// StartTLSOpportunistic uses STARTTLS when the server offers it, and
	// sends in the clear otherwise.
	StartTLSOpportunistic = "opportunistic"
	// StartTLSNone never uses STARTTLS (a relay on the same host).
	StartTLSNone = "none"
)

// SMTPConfig is how to reach the mail server. The service reads it from
// RMALEDGER_SMTP_HOST, _PORT, _USERNAME, _PASSWORD, _FROM and _STARTTLS.
type SMTPConfig struct {
	// Host is the mail server's name (RMALEDGER_SMTP_HOST, required).
	Host string
	// Port is its submission port (RMALEDGER_SMTP_PORT; default 587).
	Port int
	// Username and Password authenticate with SMTP AUTH when Username is
	// set (RMALEDGER_SMTP_USERNAME, RMALEDGER_SMTP_PASSWORD): the strongest
	// mechanism the server offers (SCRAM, CRAM-MD5, PLAIN, LOGIN); PLAIN
	// and LOGIN, which send the password itself, only over TLS.
	Username, Password string
	// From is the sender, an address with an optional name:
	// "Acme Service <service@example.com>" (RMALEDGER_SMTP_FROM, required).
	// Its domain ends every Message-ID.
	From string
	// StartTLS is mandatory (the default), opportunistic or none
	// (RMALEDGER_SMTP_STARTTLS).
	StartTLS string
	// TLSConfig, when set, replaces the TLS settings: to trust a private
	// CA. Its ServerName defaults to Host.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each exchange (default 30s).
	Timeout time.Duration
	// MaxIdle bounds the connections kept open between messages (default
	// 8); IdleTimeout is how long one is kept unused (default 30s).
	MaxIdle     int
	IdleTimeout time.Duration
}

// SMTPSender sends e-mail through a mail server. A connection serves one
// message at a time and is kept for the next one a while (SMTPConfig.MaxIdle,
// IdleTimeout): connecting, STARTTLS and AUTH cost the server and the
// service far more than a message, and a busy morning sends hundreds a
// minute. A message on a kept connection the server has dropped goes on a
// new one.
// It is the Sender of the Email channel, and the BatchSender of
// the Desk channel: the alerts due to one address go as one digest.
//
// A 5xx answer (an address refused, a message rejected) is
// notify.Permanent; a 4xx answer and network failures are worth a retry.
type SMTPSender struct {
	cfg    SMTPConfig
	from   *mail.Address
	domain string
	cat    *i18n.Catalogue[*locale]
	now    func() time.Time

	mailer *gomail.Client // the connections' settings, shared by them
	idle   chan idleConn
}

// idleConn is a connection kept between messages, and since when.
type idleConn struct {
	conn  *smtp.Client
	since time.Time
}

// NewSMTPSender checks the configuration.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" {
		return nil, errors.New("email: the SMTP host is required")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: the SMTP sender %q is not an address such as \"Acme Service <service@example.com>\": %w", cfg.From, err)
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("email: SMTP port %d is out of range", cfg.Port)
	}
	switch cfg.StartTLS {
	case "":
		cfg.StartTLS = StartTLSMandatory
	case StartTLSMandatory, StartTLSOpportunistic, StartTLSNone:
	default:
		return nil, fmt.Errorf("email: STARTTLS policy %q: want mandatory, opportunistic or none", cfg.StartTLS)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxIdle == 0 {
		cfg.MaxIdle = 8
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.MaxIdle < 0 || cfg.IdleTimeout < 0 {
		return nil, errors.New("email: SMTP MaxIdle and IdleTimeout must not be negative")
	}
	cat, err := loadCatalogue()
	if err != nil {
		return nil, err
	}
	s := &SMTPSender{cfg: cfg, from: from, domain: domain, cat: cat, now: time.Now, idle: make(chan idleConn, cfg.MaxIdle)}
	if s.mailer, err = s.client(); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	return s, nil
}

// client makes the go-mail client whose settings every connection uses.
func (s *SMTPSender) client() (*gomail.Client, error) {
	// No NOOP before each message: it cost a round trip per message, and a
	// connection the server dropped fails at MAIL FROM, before anything is
	// sent, which Send answers on a new connection.
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithoutNoop()}
	switch s.cfg.StartTLS {
	case StartTLSMandatory:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case StartTLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case StartTLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.TLSConfig != nil {
		tc := s.cfg.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = s.cfg.Host
		}
		opts = append(opts, gomail.WithTLSConfig(tc))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// msg turns a message into an e-mail: text and, when there is one, HTML
// as alternatives; the message id in Message-ID and X-RMA-Message-ID.
func (s *SMTPSender) msg(m notify.Message) (*gomail.Msg, error) {
	g := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := g.FromFormat(s.from.Name, s.from.Address); err != nil {
		return nil, err
	}
	if err := g.To(m.Recipient); err != nil {
		return nil, err
	}
	g.Subject(m.Subject)
	g.SetMessageIDWithValue(m.ID.String() + "@" + s.domain)
	g.SetGenHeader("X-RMA-Message-ID", m.ID.String())
	g.SetGenHeader("Auto-Submitted", "auto-generated")
	if m.Language != "" {
		g.SetGenHeader("Content-Language", m.Language)
	}
	g.SetDateWithValue(s.now())
	g.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		g.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return g, nil
}

// Send hands one e-mail to the server.
func (s *SMTPSender) Send(ctx context.Context, m notify.Message) error {
	if m.Recipient == "" {
		return notify.Permanent(errors.New("email: the message has no recipient"))
	}
	g, err := s.msg(m)
	if err != nil {
		return notify.Permanent(fmt.Errorf("email: message %s: %w", m.ID, err))
	}
	conn, kept := s.kept()
	if kept {
		err = s.mailer.SendWithSMTPClient(conn, g)
		if !dropped(err) {
			return s.done(conn, m, err)
		}
		// The server dropped the kept connection: nothing was sent on it;
		// send on a new one.
		_ = conn.Close()
	}
	// Connecting and authenticating fail the same way for every message:
	// a refusal there (a wrong password) is the deployment's to fix, and
	// the message waits for it.
	if conn, err = s.mailer.DialToSMTPClientWithContext(ctx); err != nil {
		return fmt.Errorf("email: connecting to %s: %w", s.cfg.Host, err)
	}
	return s.done(conn, m, s.mailer.SendWithSMTPClient(conn, g))
}

// dropped reports whether a message failed because its connection was
// gone before MAIL FROM was answered (no SMTP reply at all): nothing was
// sent.
func dropped(err error) bool {
	var se *gomail.SendError
	if err == nil || !errors.As(err, &se) {
		return false
	}
	return se.Reason == gomail.ErrConnCheck || (se.Reason == gomail.ErrSMTPMailFrom && se.ErrorCode() == 0)
}

// kept returns a kept connection, closing those kept too long.
func (s *SMTPSender) kept() (*smtp.Client, bool) {
	for {
		select {
		case ic := <-s.idle:
			if s.now().Sub(ic.since) < s.cfg.IdleTimeout {
				return ic.conn, true
			}
			_ = s.mailer.CloseWithSMTPClient(ic.conn)
		default:
			return nil, false
		}
	}
}

// done keeps the connection after a message it sent, or closes it after
// a failure, and classifies the failure.
func (s *SMTPSender) done(conn *smtp.Client, m notify.Message, err error) error {
	if err != nil {
		_ = conn.Close()
		return classify(fmt.Errorf("email: message %s to %s: %w", m.ID, s.cfg.Host, err))
	}
	select {
	case s.idle <- idleConn{conn: conn, since: s.now()}:
	default:
		_ = s.mailer.CloseWithSMTPClient(conn)
	}
	return nil
}

// Close ends the kept connections politely (QUIT).
func (s *SMTPSender) Close() error {
	for {
		select {
		case ic := <-s.idle:
			_ = s.mailer.CloseWithSMTPClient(ic.conn)
		default:
			return nil
		}
	}
}

// classify marks the server's 5xx answers to a message Permanent; 4xx
// answers and everything else (the network, a timeout) stay worth a retry.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		return notify.Permanent(err)
	}
	return err
}

// SendBatch sends the desk's alerts due to one address as one e-mail: a
// single alert as it is, several as a digest with their count in the
// subject and one section per alert, sorted by kind and subject.
func (s *SMTPSender) SendBatch(ctx context.Context, ms []notify.Message) error {
	switch len(ms) {
	case 0:
		return nil
	case 1:
		return s.Send(ctx, ms[0])
	}
	d, err := s.Digest(ms)
	if err != nil {
		return notify.Permanent(err)
	}
	return s.Send(ctx, d)
}

// Digest is the one e-mail that carries several alerts to one address, in
// the language of the first.
func (s *SMTPSender) Digest(ms []notify.Message) (notify.Message, error) {
	for _, m := range ms[1:] {
		if m.Recipient != ms[0].Recipient {
			return notify.Message{}, fmt.Errorf("email: a digest goes to one address, not to %s and %s", ms[0].Recipient, m.Recipient)
		}
	}
	sorted := slices.Clone(ms)
	slices.SortStableFunc(sorted, func(a, b notify.Message) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	loc := s.cat.Pick("", ms[0].Language)
	ids := make([]string, len(sorted))
	var text, htm strings.Builder
	lead := loc.T("digest.lead", len(sorted))
	text.WriteString(lead + "\n")
	htm.WriteString(`<!DOCTYPE html><html lang="` + html.EscapeString(loc.Code) + `"><head><meta charset="utf-8"><title>` +
		html.EscapeString(loc.T("digest.subject", len(sorted))) + `</title></head>` +
		`<body style="margin:0;padding:0;background-color:#f3f4f6;"><div style="max-width:640px;margin:0 auto;padding:24px 16px;` +
		`font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#1f2933;background-color:#ffffff;">` +
		`<p style="margin:0 0 16px;font-weight:bold;">` + html.EscapeString(lead) + `</p>`)
	for i, m := range sorted {
		ids[i] = m.ID.String()
		fmt.Fprintf(&text, "\n%d. %s\n%s\n", i+1, m.Subject, strings.Repeat("-", 40))
		text.WriteString(strings.TrimSpace(m.Text) + "\n")
		fmt.Fprintf(&htm, `<h2 style="margin:24px 0 8px;font-size:17px;border-top:1px solid #e4e7eb;padding-top:16px;">%d. %s</h2>`+
			`<div style="white-space:pre-wrap;">%s</div>`, i+1, html.EscapeString(m.Subject), html.EscapeString(strings.TrimSpace(m.Text)))
	}
	htm.WriteString(`</div></body></html>`)
	return notify.Message{
		ID:      notify.MessageID("desk.digest:"+strings.Join(ids, ","), notify.Desk, ms[0].Recipient),
		Channel: notify.Desk, Recipient: ms[0].Recipient, Kind: "desk.digest", Language: loc.Code,
		Subject: loc.T("digest.subject", len(sorted)), Text: text.String(), HTML: htm.String(),
	}, nil
}
