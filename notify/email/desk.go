package email

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/notify"
)

// DeskComposer alerts the desk by e-mail (notify.Desk) to what needs a
// person: an SLA clock breached, an appeal opened, a payment received, and
// (DueSoon) clocks about to expire. An alert goes to the assignee's address
// (Config.DeskAddresses), else to Config.DeskAddress; with neither, there
// is none. Alerts are written in Config.DeskLanguage.
type DeskComposer struct {
	cfg Config
	t   *templates
}

// NewDeskComposer parses the templates and checks the configuration.
func NewDeskComposer(cfg Config) (*DeskComposer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t, err := loadTemplates(cfg.TemplateDir)
	if err != nil {
		return nil, err
	}
	return &DeskComposer{cfg: cfg, t: t}, nil
}

// Check renders every template in every language with a sample claim, as
// CustomerComposer.Check does.
func (d *DeskComposer) Check() error { return check(d.cfg, d.t) }

// recipient is the address of the desk alerts about a claim assigned to
// assignee: theirs, else the desk's; "" for none.
func (d *DeskComposer) recipient(assignee string) string {
	if a := d.cfg.DeskAddresses[assignee]; assignee != "" && a != "" {
		return a
	}
	return d.cfg.DeskAddress
}

func (d *DeskComposer) locale() *locale { return d.t.cat.Pick("", d.cfg.DeskLanguage) }

// deskView starts an alert's view about a claim.
func (d *DeskComposer) deskView(loc *locale, id uuid.UUID, number, assignee string) view {
	v := newView(d.cfg, loc, number)
	v.Sign = d.cfg.Company
	v.ConsoleURL = d.cfg.PublicURL + consolePath + id.String()
	v.Assignee = assignee
	return v
}

// Compose gives the desk's alert an event calls for.
func (d *DeskComposer) Compose(_ context.Context, e notify.Event) ([]notify.Message, error) {
	to := d.recipient(e.Claim.Assignee)
	if to == "" {
		return nil, nil
	}
	loc := d.locale()
	v := d.deskView(loc, e.Claim.ID, e.Claim.Number, e.Claim.Assignee)
	var kind string
	switch ev := e.Event.(type) {
	case domain.SLABreached:
		kind = "desk.sla_breached"
		v.Clock, v.DueAt, v.Overrun = ev.Clock, loc.when(ev.DueAt), time.Duration(ev.Overrun).Round(time.Minute).String()
	case domain.DisputeOpened:
		kind = "desk.dispute_opened"
		v.Reason, v.Outcome = ev.Reason, ev.OriginalResolution
	case domain.PaymentRecorded:
		kind = "desk.payment_recorded"
		v.Amount, v.Method, v.Reference = loc.money(ev.Amount), ev.Method, ev.Reference
	default:
		return nil, nil
	}
	r, err := d.t.render(kind, v)
	if err != nil {
		return nil, err
	}
	return []notify.Message{{
		ID: notify.MessageID(e.Record.ID.String(), notify.Desk, to), Channel: notify.Desk, Recipient: to,
		Kind: kind, ClaimID: e.Claim.ID, Position: e.Record.Position, EventTime: e.Record.Created,
		Language: loc.Code, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
	}}, nil
}

// Upcoming is a running SLA clock of a claim and when it is due.
type Upcoming struct {
	ClaimID  uuid.UUID
	Number   string
	Clock    string
	DueAt    time.Time
	Assignee string
}

// UpcomingSource lists the running clocks due before a time, soonest
// first: the SLA timers read model (projections.Timer with the claim's
// assignee) implements it.
type UpcomingSource interface {
	UpcomingClocks(ctx context.Context, before time.Time) ([]Upcoming, error)
}

// DueSoon gives an alert for each running clock due from now to now+within.
// Its id is made of the claim, the clock and the due time, so that a clock
// is announced once however often the scan runs (the outbox drops a repeat),
// and again only when its due time moves.
func (d *DeskComposer) DueSoon(ctx context.Context, src UpcomingSource, within time.Duration, now time.Time) ([]notify.Message, error) {
	clocks, err := src.UpcomingClocks(ctx, now.Add(within))
	if err != nil {
		return nil, fmt.Errorf("email: due-soon clocks: %w", err)
	}
	loc := d.locale()
	var out []notify.Message
	for _, u := range clocks {
		to := d.recipient(u.Assignee)
		if to == "" || u.DueAt.Before(now) || u.DueAt.After(now.Add(within)) {
			continue
		}
		v := d.deskView(loc, u.ClaimID, u.Number, u.Assignee)
		v.Clock, v.DueAt = u.Clock, loc.when(u.DueAt)
		r, err := d.t.render("desk.due_soon", v)
		if err != nil {
			return nil, err
		}
		source := "desk.due_soon:" + u.ClaimID.String() + ":" + u.Clock + ":" + u.DueAt.UTC().Format(time.RFC3339Nano)
		out = append(out, notify.Message{
			ID: notify.MessageID(source, notify.Desk, to), Channel: notify.Desk, Recipient: to,
			Kind: "desk.due_soon", ClaimID: u.ClaimID, Language: loc.Code,
			Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		})
	}
	return out, nil
}
