package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/feed"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/notify/email"
	"github.com/rmaledger/rmaledger/notify/outbox"
	"github.com/rmaledger/rmaledger/notify/sms"
	"github.com/rmaledger/rmaledger/notify/webhooks"
	"github.com/rmaledger/rmaledger/portal"
	"github.com/rmaledger/rmaledger/projections"
)

// outboxFile is the notifications outbox's database in the data directory.
const outboxFile = "outbox.db"

// dueSoonEvery is how often the desk is told of the clocks about to run
// out, and dueSoonWithin how far ahead it looks.
const (
	dueSoonEvery  = 5 * time.Minute
	dueSoonWithin = 4 * time.Hour
)

// notifications is the outbox and what feeds it: the composers of the
// customers' messages and the desk's alerts, and the channels' senders.
type notifications struct {
	outbox   *outbox.Outbox
	webhooks *webhooks.Registry
	customer *email.CustomerComposer // nil: customers get no messages
	desk     *email.DeskComposer     // nil: the desk gets no alerts
	service  *ledger.Service
	reads    *projections.Runner
	logger   *slog.Logger
}

// publicOrigin is where customers reach the service: --public-url, or with
// --dev the address it listens on.
func publicOrigin(cfg config) string {
	if cfg.PublicURL != "" || !cfg.Dev {
		return cfg.PublicURL
	}
	return "http://" + cfg.Addr
}

// startNotifications opens the outbox over the store (which reveals
// personal data), with the composers and senders the configuration
// offers, and starts it. With an SMTP server customers get e-mail and the
// desk its alerts; with --dev and no SMTP server the messages are logged.
// Webhooks go to the subscriptions admins make. The returned function
// stops it all.
func startNotifications(ctx context.Context, cfg config, store eventstore.Store, live *feed.Feed, service *ledger.Service, reads *projections.Runner,
	reg prometheus.Registerer, logger *slog.Logger,
) (*notifications, func(), error) {
	logger = logger.With("component", "notify")
	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	stopAll := func() { cancel(); running.Wait() }
	hooks, err := webhooks.New(webhooks.Config{Store: store, AllowLoopbackHTTP: cfg.Dev})
	if err != nil {
		cancel()
		return nil, nil, err
	}
	// Every instance knows the subscriptions from memory, kept current by
	// following their streams.
	running.Go(func() { hooks.Follow(ctx, time.Second) })
	networks, _ := parseNetworks(cfg.WebhookNetworks) // Validate parsed them already
	hookSender, err := webhooks.NewSender(webhooks.SenderConfig{Registry: hooks, AllowLoopbackHTTP: cfg.Dev, AllowedNetworks: networks})
	if err != nil {
		stopAll()
		return nil, nil, err
	}
	senders := map[notify.Channel]notify.Sender{notify.Webhook: hookSender}
	var mail *email.SMTPSender // its kept connections are closed at the end
	switch {
	case cfg.SMTPHost != "":
		smtp, err := email.NewSMTPSender(email.SMTPConfig{
			Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
			From: cfg.SMTPFrom, StartTLS: cmp.Or(cfg.SMTPStartTLS, "mandatory"),
		})
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("smtp: %w", err)
		}
		senders[notify.Email], senders[notify.Desk] = oneByOne{smtp}, smtp
		mail = smtp
	case cfg.Dev:
		logged := email.LogSender{Logger: logger}
		senders[notify.Email], senders[notify.Desk] = oneByOne{logged}, logged
	}
	if cfg.SMSURL != "" {
		s, err := sms.New(sms.Config{URL: cfg.SMSURL, Token: cfg.SMSToken})
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("sms: %w", err)
		}
		senders[notify.SMS] = s
	}
	n := &notifications{webhooks: hooks, service: service, reads: reads, logger: logger}
	composers := []notify.Composer{webhooks.NewComposer(hooks)}
	if senders[notify.Email] != nil {
		deskAddresses, _ := parseDeskAddresses(cfg.DeskAddresses) // Validate parsed them already
		mcfg := email.Config{
			Company: cfg.CompanyName, Signature: cfg.MailSignature, PublicURL: publicOrigin(cfg),
			DefaultLanguage: cfg.DefaultLanguage, SMS: senders[notify.SMS] != nil, TemplateDir: cfg.NotifyTemplates,
			DeskAddress: cfg.DeskEmail, DeskAddresses: deskAddresses,
		}
		if err := n.compose(mcfg, cfg.DeskEmail != "" || len(deskAddresses) > 0); err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("notify-templates: %w", err)
		}
		composers = append(composers, n.customer)
		if n.desk != nil {
			composers = append(composers, n.desk)
		}
	}
	box, err := outbox.Open(outbox.Config{
		Path: filepath.Join(cfg.DataDir, outboxFile), Store: store, Feed: live, Composers: composers, Senders: senders,
		// The embedded store admits one process: its outbox sends alone.
		// Instances sharing a KurrentDB claim each message in the store.
		Alone:      cfg.EventStoreURL == "",
		Registerer: reg, Logger: logger,
	})
	if err != nil {
		stopAll()
		return nil, nil, err
	}
	n.outbox = box
	if err := box.Start(ctx); err != nil {
		box.Close()
		stopAll()
		return nil, nil, err
	}
	running.Go(func() { n.announceDueSoon(ctx) })
	return n, func() {
		stopAll()
		if err := box.Close(); err != nil {
			logger.Error("closing the outbox", "error", err)
		}
		if mail != nil {
			_ = mail.Close()
		}
	}, nil
}

// compose makes the composers of the customers' messages and, with desk,
// of the desk's alerts, and checks their templates: one that does not
// render refuses the start, naming it.
func (n *notifications) compose(cfg email.Config, desk bool) error {
	var err error
	if n.customer, err = email.NewCustomerComposer(cfg); err != nil {
		return err
	}
	if err := n.customer.Check(); err != nil {
		return err
	}
	if !desk {
		return nil
	}
	if n.desk, err = email.NewDeskComposer(cfg); err != nil {
		return err
	}
	return n.desk.Check()
}

// oneByOne hands a sender the messages one at a time: customers' e-mail
// goes at once, while the desk's alerts (the same sender's SendBatch)
// wait to be sent together.
type oneByOne struct{ s notify.Sender }

func (o oneByOne) Send(ctx context.Context, m notify.Message) error { return o.s.Send(ctx, m) }

// announceDueSoon queues, every dueSoonEvery, an alert for each running
// clock due within dueSoonWithin; each clock is announced once (the
// alert's id is the clock's and its due time's).
func (n *notifications) announceDueSoon(ctx context.Context) {
	if n.desk == nil {
		return
	}
	tick := time.NewTicker(dueSoonEvery)
	defer tick.Stop()
	for {
		ms, err := n.desk.DueSoon(ctx, upcoming{n.reads}, dueSoonWithin, time.Now())
		if err == nil {
			err = n.outbox.Enqueue(ctx, ms...)
		}
		if err != nil && ctx.Err() == nil {
			n.logger.Warn("announcing the clocks due soon failed; trying again later", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// upcoming lists the running clocks due soon from the timers read model,
// with each claim's assignee from the claims read model.
type upcoming struct{ reads *projections.Runner }

func (u upcoming) UpcomingClocks(ctx context.Context, before time.Time) ([]email.Upcoming, error) {
	var out []email.Upcoming
	q := projections.TimerQuery{States: []string{"running", "due_soon"}, Limit: projections.MaxSearchLimit}
	for {
		page, err := u.reads.Timers(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Items {
			if t.DueAt.IsZero() || !t.DueAt.Before(before) {
				return out, nil // soonest first: the rest are later
			}
			rec, err := u.reads.Claim(ctx, t.ClaimID)
			if err != nil && !errors.Is(err, projections.ErrNotFound) {
				return nil, err
			}
			out = append(out, email.Upcoming{ClaimID: t.ClaimID, Number: t.Number, Clock: t.Name, DueAt: t.DueAt, Assignee: rec.State.Assignee})
		}
		if page.NextCursor == "" {
			return out, nil
		}
		q.Cursor = page.NextCursor
	}
}

// SendLink queues the private link the portal issued for the customer,
// by e-mail (and SMS), in the outbox: it is the portal's Sender.
func (n *notifications) SendLink(ctx context.Context, m portal.LinkMessage) error {
	if n.customer == nil {
		n.logger.WarnContext(ctx, "no sender is configured: a private link was not delivered (set --smtp-host)", "claim", m.Number)
		return nil
	}
	state, _, err := n.service.Claim(ctx, m.ClaimID)
	if err != nil {
		return err
	}
	ms, err := n.customer.LinkMessage(email.Link{
		ClaimID: m.ClaimID, Number: m.Number, CustomerID: state.CustomerID, Email: state.Customer.Email, Phone: state.Customer.Phone,
		Name: state.Customer.Name, Language: m.Language, Token: m.Token,
	})
	if err != nil {
		return err
	}
	return n.outbox.Enqueue(ctx, ms...)
}

// The messages screen of the console, over the outbox.

// Deliveries lists the outbox's messages in a status, most recent first.
func (n *notifications) Deliveries(ctx context.Context, status string, limit int) ([]console.Delivery, error) {
	entries, err := n.outbox.List(ctx, outbox.Filter{Status: outbox.Status(status), Newest: true, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]console.Delivery, 0, len(entries))
	numbers := map[uuid.UUID]string{}
	for _, e := range entries {
		m := e.Message
		d := console.Delivery{
			ID: m.ID, Channel: string(m.Channel), Kind: m.Kind, Recipient: m.Recipient, ClaimID: m.ClaimID, Status: string(e.Status),
			Attempts: e.Attempts, Queued: e.QueuedAt, Next: e.NextAttempt, LastError: e.LastError,
		}
		if m.ClaimID != uuid.Nil {
			number, known := numbers[m.ClaimID]
			if !known {
				if rec, err := n.reads.Claim(ctx, m.ClaimID); err == nil {
					number = rec.State.Number
				}
				numbers[m.ClaimID] = number
			}
			d.Number = number
		}
		out = append(out, d)
	}
	return out, nil
}

// DeliveryCounts counts the outbox's messages per channel and status.
func (n *notifications) DeliveryCounts(ctx context.Context) ([]console.DeliveryCount, error) {
	stats, err := n.outbox.Stats(ctx)
	if err != nil {
		return nil, err
	}
	var out []console.DeliveryCount
	for ch, byStatus := range stats.Counts {
		for st, count := range byStatus {
			out = append(out, console.DeliveryCount{Channel: string(ch), Status: string(st), N: count})
		}
	}
	return out, nil
}

// WebhookDeliveries lists a subscription's messages, newest first.
func (n *notifications) WebhookDeliveries(ctx context.Context, subscription uuid.UUID, status string, limit int) ([]api.WebhookDelivery, error) {
	entries, err := n.outbox.List(ctx, outbox.Filter{Channel: notify.Webhook, Recipient: subscription.String(), Status: outbox.Status(status), Newest: true, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]api.WebhookDelivery, 0, len(entries))
	for _, e := range entries {
		d := api.WebhookDelivery{
			ID: e.Message.ID, Kind: e.Message.Kind, ClaimID: e.Message.ClaimID, Status: string(e.Status), Attempts: e.Attempts,
			LastError: e.LastError, NextAttempt: e.NextAttempt, Queued: e.QueuedAt, Sent: e.SentAt,
		}
		if e.Message.Position != eventstore.Start {
			d.Position = e.Message.Position.String()
		}
		out = append(out, d)
	}
	return out, nil
}

// ReplayWebhook queues a subscription's messages of the events from a
// position on again.
func (n *notifications) ReplayWebhook(ctx context.Context, subscription uuid.UUID, from eventstore.Position) (int, error) {
	return n.outbox.Replay(ctx, notify.Webhook, subscription.String(), from)
}

// RetryDelivery queues a failed message again.
func (n *notifications) RetryDelivery(ctx context.Context, by console.Person, id uuid.UUID) error {
	err := n.outbox.Retry(ctx, id)
	if errors.Is(err, outbox.ErrNotFailed) {
		return console.ErrUnknownDelivery
	}
	if err == nil {
		n.logger.InfoContext(ctx, "a failed message is queued again", "message", id, "by", by.Name)
	}
	return err
}

// checkNotifications refuses notification settings that cannot work.
func (c config) checkNotifications() error {
	var errs []error
	if c.SMTPHost != "" {
		if c.SMTPFrom == "" {
			errs = append(errs, errors.New("smtp-from is required with smtp-host: the sender of every e-mail"))
		} else if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
			errs = append(errs, fmt.Errorf("smtp-from %q: %w", c.SMTPFrom, err))
		}
		if c.SMTPPort < 1 || c.SMTPPort > 65535 {
			errs = append(errs, fmt.Errorf("smtp-port %d: want 1 to 65535", c.SMTPPort))
		}
		if c.PublicURL == "" && !c.Dev {
			errs = append(errs, errors.New("public-url is required with smtp-host: customers' e-mail links to the status page and the portal"))
		}
	}
	if c.SMTPStartTLS != "" && !slices.Contains([]string{"mandatory", "opportunistic", "none"}, c.SMTPStartTLS) {
		errs = append(errs, fmt.Errorf("smtp-starttls %q: want mandatory, opportunistic or none", c.SMTPStartTLS))
	}
	if c.DefaultLanguage != "" && !slices.Contains([]string{"en", "ru", "bg", "zh-Hans", "el"}, c.DefaultLanguage) {
		errs = append(errs, fmt.Errorf("default-language %q: want en, ru, bg, zh-Hans or el", c.DefaultLanguage))
	}
	if c.DeskEmail != "" {
		if _, err := mail.ParseAddress(c.DeskEmail); err != nil {
			errs = append(errs, fmt.Errorf("desk-email %q: %w", c.DeskEmail, err))
		}
	}
	if _, err := parseDeskAddresses(c.DeskAddresses); err != nil {
		errs = append(errs, err)
	}
	if c.SMSURL != "" {
		if u, err := url.Parse(c.SMSURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(c.Dev && u.Scheme == "http" && isLoopback(u.Hostname()))) {
			errs = append(errs, fmt.Errorf("sms-url %q: want an https URL (http only to loopback with --dev)", c.SMSURL))
		}
	}
	if _, err := parseNetworks(c.WebhookNetworks); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseDeskAddresses reads "name=address,name=address".
func parseDeskAddresses(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		name, addr, ok := strings.Cut(pair, "=")
		name, addr = strings.TrimSpace(name), strings.TrimSpace(addr)
		if !ok || name == "" {
			return nil, fmt.Errorf("desk-addresses %q: want name=address pairs separated by commas", pair)
		}
		if _, err := mail.ParseAddress(addr); err != nil {
			return nil, fmt.Errorf("desk-addresses: %s: %w", name, err)
		}
		out[name] = addr
	}
	return out, nil
}

// parseNetworks reads CIDR networks (or addresses) separated by commas.
func parseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return nil, fmt.Errorf("webhook-networks %q: %w", part, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// isLoopback reports whether host is a loopback address or localhost.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
