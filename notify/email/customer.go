package email

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/notify"
)

// CustomerComposer tells the customer, by e-mail and (Config.SMS) by text
// message, about each step of their claim they should know of. It never
// writes to an erased customer, and never carries notes, staff names or
// anything else the customer is not shown.
type CustomerComposer struct {
	cfg Config
	t   *templates
}

// NewCustomerComposer parses the templates (the embedded ones, replaced
// by those under cfg.TemplateDir) and checks the configuration.
func NewCustomerComposer(cfg Config) (*CustomerComposer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t, err := loadTemplates(cfg.TemplateDir)
	if err != nil {
		return nil, err
	}
	return &CustomerComposer{cfg: cfg, t: t}, nil
}

// Check renders every template (the customer's and the desk's) in every
// language with a sample claim; the error names the first template and
// language that fail. Call it at start, so that a broken override stops
// the service rather than a message.
func (c *CustomerComposer) Check() error { return check(c.cfg, c.t) }

// step is what one event tells the customer: the kind of message, whether
// it is essential, and its facts.
type step struct {
	kind      string
	essential bool
	fill      func(v *view)
}

// stepOf maps an event to its message; ok is false for events the customer
// is not told about (notes, internal steps, the desk's clocks).
func stepOf(ev domain.Event, loc *locale) (step, bool) {
	switch e := ev.(type) {
	case domain.ClaimRegistered:
		return step{"claim.registered", true, nil}, true
	case domain.ClaimRedirectedToServiceCenter:
		return step{"claim.redirected_to_service_center", true, func(v *view) { v.ServiceCenter = e.ServiceCenter }}, true
	case domain.ClaimAuthorized:
		return step{"claim.authorized", true, func(v *view) {
			v.ServiceCenter = e.ServiceCenter
			v.Documents = e.DocumentsRequested
			v.DocumentsFirst = e.DocumentsFirst && len(e.DocumentsRequested) > 0
		}}, true
	case domain.DocumentsReceived:
		return step{"claim.documents_received", false, func(v *view) { v.Documents = e.Documents }}, true
	case domain.ClaimReceived:
		return step{"claim.received", false, nil}, true
	case domain.EstimateIssued:
		return step{"claim.estimate_issued", true, func(v *view) {
			v.Amount = loc.money(e.Total)
			v.Parts, v.Labour, v.Shipping = loc.money(e.Parts), loc.money(e.Labour), loc.money(e.Shipping)
		}}, true
	case domain.PaymentRecorded:
		return step{"claim.payment_recorded", false, func(v *view) { v.Amount = loc.money(e.Amount) }}, true
	case domain.RepairCompleted:
		return step{"claim.repair_completed", false, func(v *view) { v.WorkDone = e.WorkDone }}, true
	case domain.ItemReplaced:
		return step{"claim.item_replaced", false, nil}, true
	case domain.RefundApproved:
		return step{"claim.refund_approved", false, func(v *view) { v.Amount = loc.money(e.Amount) }}, true
	case domain.RefundPaid:
		return step{"claim.refund_paid", false, func(v *view) { v.Amount = loc.money(e.Amount) }}, true
	case domain.ClaimRejected:
		return step{"claim.rejected", true, func(v *view) { v.Reason, v.ReasonCode = e.Reason, e.ReasonCode }}, true
	case domain.CreditNoteIssued:
		return step{"claim.credit_note_issued", false, func(v *view) { v.Reference, v.Amount = e.Number, loc.money(e.Amount) }}, true
	case domain.ClaimReturnedUnrepaired:
		return step{"claim.returned_unrepaired", false, func(v *view) { v.Outcome = e.Resolution }}, true
	case domain.ReturnShipped:
		return step{"claim.return_shipped", true, func(v *view) { v.Carrier, v.Tracking = e.Carrier, e.TrackingNumber }}, true
	case domain.DeliveryConfirmed:
		return step{"claim.delivery_confirmed", false, nil}, true
	case domain.ClaimClosed:
		if e.ReasonCode == domain.ReasonWithdrawn {
			return step{}, false // the withdrawal said it
		}
		return step{"claim.closed", false, func(v *view) { v.ReasonCode = e.ReasonCode }}, true
	case domain.ClaimWithdrawn:
		return step{"claim.withdrawn", false, nil}, true
	case domain.DisputeOpened:
		return step{"claim.dispute_opened", false, nil}, true
	case domain.DisputeResolved:
		return step{"claim.dispute_resolved", true, func(v *view) { v.Outcome, v.Decision = e.Outcome, e.Decision }}, true
	}
	return step{}, false
}

// Compose gives the e-mail (and the SMS) an event tells the customer.
func (c *CustomerComposer) Compose(_ context.Context, e notify.Event) ([]notify.Message, error) {
	cl := e.Claim
	if cl.Erased || (cl.Email == "" && (!c.cfg.SMS || cl.Phone == "")) {
		return nil, nil
	}
	loc := c.locale(cl.Language)
	s, ok := stepOf(e.Event, loc)
	if !ok {
		return nil, nil
	}
	v := newView(c.cfg, loc, cl.Number)
	v.Name = cl.Name
	if s.fill != nil {
		s.fill(&v)
	}
	r, err := c.t.render(s.kind, v)
	if err != nil {
		return nil, err
	}
	base := notify.Message{
		Kind: s.kind, ClaimID: cl.ID, CustomerID: cl.CustomerID, Essential: s.essential,
		Position: e.Record.Position, EventTime: e.Record.Created, Language: loc.Code,
	}
	return c.messages(base, e.Record.ID.String(), cl, r), nil
}

// messages addresses the rendered texts to the claim's e-mail and phone.
// They have no OrderKey: mail and text messages travel through relays
// that keep no order anyway, so waiting for one before handing over the
// next would only delay them, and a refused address would hold up the
// claim's other messages.
func (c *CustomerComposer) messages(base notify.Message, source string, cl notify.Claim, r rendered) []notify.Message {
	var out []notify.Message
	if cl.Email != "" {
		m := base
		m.ID = notify.MessageID(source, notify.Email, cl.Email)
		m.Channel, m.Recipient = notify.Email, cl.Email
		m.Subject, m.Text, m.HTML = r.Subject, r.Text, r.HTML
		out = append(out, m)
	}
	if c.cfg.SMS && cl.Phone != "" && r.SMS != "" {
		m := base
		m.ID = notify.MessageID(source, notify.SMS, cl.Phone)
		m.Channel, m.Recipient = notify.SMS, cl.Phone
		m.Text = r.SMS
		out = append(out, m)
	}
	return out
}

// locale is the customer's language, else the deployment's default.
func (c *CustomerComposer) locale(lang string) *locale {
	return c.t.cat.Pick("", lang, c.cfg.DefaultLanguage)
}

// Link is a private link to send: the portal issues one when a claim is
// filed online and when a customer asks for it again.
type Link struct {
	// ClaimID, Number and CustomerID are the claim's.
	ClaimID    uuid.UUID
	Number     string
	CustomerID string
	// Email and Phone are where to send it (either may be empty).
	Email, Phone string
	// Name is the customer's name, for the greeting (may be empty).
	Name string
	// Language is the language to write in (empty: the default).
	Language string
	// Token is the link's capability (links.Link.Token): the URL is
	// PublicURL + /portal/c/ + Token.
	Token string
}

// LinkMessage gives the e-mail (and, with Config.SMS, the text message)
// that carries a private link: essential, and with an id of its own per
// token, so that a link asked for again is a new message.
func (c *CustomerComposer) LinkMessage(l Link) ([]notify.Message, error) {
	if l.Token == "" || l.Number == "" {
		return nil, errors.New("email: a link message needs the claim's number and the token")
	}
	if l.Email == "" && (!c.cfg.SMS || l.Phone == "") {
		return nil, nil
	}
	loc := c.locale(l.Language)
	v := newView(c.cfg, loc, l.Number)
	v.Name = l.Name
	v.LinkURL = LinkURL(c.cfg.PublicURL, l.Token)
	r, err := c.t.render("portal.link", v)
	if err != nil {
		return nil, err
	}
	base := notify.Message{Kind: "portal.link", ClaimID: l.ClaimID, CustomerID: l.CustomerID, Essential: true, Language: loc.Code}
	source := "portal.link:" + l.ClaimID.String() + ":" + l.Token
	cl := notify.Claim{ID: l.ClaimID, Email: l.Email, Phone: l.Phone}
	return c.messages(base, source, cl, r), nil
}
