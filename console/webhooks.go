package console

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify/webhooks"
)

// WebhooksPath is the admin's screen of webhook subscriptions.
const WebhooksPath = Prefix + "/webhooks"

// failedShown bounds the failed deliveries listed per subscription.
const failedShown = 20

// MayWebhooks reports whether the person may open the webhooks screen.
func (v *view) MayWebhooks() bool { return v.webhooks && v.MayAdmin() }

// mountWebhooks serves the webhooks screen to admins only.
func (s *console) mountWebhooks(g *echo.Group, base *template.Template) error {
	if s.cfg.Webhooks == nil {
		return nil
	}
	if err := s.addPage(base, "webhooks"); err != nil {
		return err
	}
	only := s.permitted(mayAdmin)
	g.GET("/webhooks", s.webhooks, s.signedIn, only)
	g.POST("/webhooks", s.createWebhook, s.signedIn, only)
	g.POST("/webhooks/:id/:op", s.webhookOp, s.signedIn, only)
	return nil
}

// webhookRow is a subscription and its failed deliveries.
type webhookRow struct {
	webhooks.Subscription
	Failed []api.WebhookDelivery
}

// webhooksView is the webhooks page's data.
type webhooksView struct {
	Subscriptions []webhookRow
	// Deliveries is set when the outbox's deliveries can be listed.
	Deliveries bool
	// Done is a message key saying what was just done; Problem and Field
	// say why a change was refused.
	Done, Problem, Field string
	// SecretFor names the subscription whose new secret is shown, once.
	SecretFor, Secret string
	// Typed keeps the create form's input after a refusal.
	TypedURL, TypedTypes, TypedOrganisation, TypedDescription string
}

// webhooksDone are the outcomes a redirect after a change may name.
var webhooksDone = map[string]bool{"disable": true, "enable": true, "delete": true, "replay": true}

func (s *console) webhooksPage(c *echo.Context, status int, v webhooksView) error {
	ctx := c.Request().Context()
	subs, err := s.cfg.Webhooks.List(ctx)
	if err != nil {
		return s.fail(c, err)
	}
	v.Deliveries = s.cfg.WebhookDeliveries != nil
	for _, sub := range subs {
		row := webhookRow{Subscription: sub}
		if v.Deliveries {
			if row.Failed, err = s.cfg.WebhookDeliveries.WebhookDeliveries(ctx, sub.ID, "failed", failedShown); err != nil {
				return s.fail(c, err)
			}
		}
		v.Subscriptions = append(v.Subscriptions, row)
	}
	return s.render(c, status, "webhooks", "webhooks.title", v)
}

func (s *console) webhooks(c *echo.Context) error {
	v := webhooksView{}
	if done := c.QueryParam("done"); webhooksDone[done] {
		v.Done = "webhooks.done." + done
	}
	return s.webhooksPage(c, http.StatusOK, v)
}

// webhookRefused shows the page again with why a change was refused
// (422), or fails for an error that is not a refusal.
func (s *console) webhookRefused(c *echo.Context, err error, v webhooksView) error {
	var invalid *webhooks.InvalidError
	switch {
	case errors.As(err, &invalid):
		v.Problem, v.Field = "webhooks.invalid."+invalid.Field, invalid.Field
		return s.webhooksPage(c, http.StatusUnprocessableEntity, v)
	case errors.Is(err, webhooks.ErrNotFound):
		return s.refuse(c, http.StatusNotFound, "webhooks.not-found")
	}
	return s.fail(c, err)
}

func (s *console) createWebhook(c *echo.Context) error {
	v := webhooksView{
		TypedURL: strings.TrimSpace(c.FormValue("url")), TypedTypes: c.FormValue("event_types"),
		TypedOrganisation: strings.TrimSpace(c.FormValue("organisation")), TypedDescription: strings.TrimSpace(c.FormValue("description")),
	}
	sub, secret, err := s.cfg.Webhooks.Create(c.Request().Context(), webhooks.NewSubscription{
		URL: v.TypedURL, EventTypes: splitTypes(v.TypedTypes), Organisation: v.TypedOrganisation, Description: v.TypedDescription,
	}, webhookActor(c))
	if err != nil {
		return s.webhookRefused(c, err, v)
	}
	return s.webhooksPage(c, http.StatusOK, webhooksView{Done: "webhooks.done.create", SecretFor: sub.URL, Secret: secret})
}

// splitTypes reads the event types typed in one field, separated by
// commas, spaces or lines.
func splitTypes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func webhookActor(c *echo.Context) webhooks.Actor {
	p := personOf(c)
	return webhooks.Actor{Name: p.Name, Role: p.Role}
}

func (s *console) webhookOp(c *echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return s.refuse(c, http.StatusNotFound, "webhooks.not-found")
	}
	ctx, by := c.Request().Context(), webhookActor(c)
	sub, err := s.cfg.Webhooks.Lookup(ctx, id)
	if err != nil {
		return s.webhookRefused(c, err, webhooksView{})
	}
	op := c.Param("op")
	switch op {
	case "rotate":
		secret, err := s.cfg.Webhooks.RotateSecret(ctx, id, webhooks.DefaultOverlap, by)
		if err != nil {
			return s.webhookRefused(c, err, webhooksView{})
		}
		return s.webhooksPage(c, http.StatusOK, webhooksView{Done: "webhooks.done.rotate", SecretFor: sub.URL, Secret: secret})
	case "disable":
		err = s.cfg.Webhooks.Disable(ctx, id, strings.TrimSpace(c.FormValue("reason")), by)
	case "enable":
		err = s.cfg.Webhooks.Enable(ctx, id, by)
	case "delete":
		err = s.cfg.Webhooks.Delete(ctx, id, by)
	case "replay":
		if s.cfg.WebhookDeliveries == nil {
			return s.refuse(c, http.StatusNotFound, "refused.no-action")
		}
		var from eventstore.Position
		if from, err = parsePosition(c.FormValue("from")); err != nil {
			return s.webhookRefused(c, &webhooks.InvalidError{Field: "from", Problem: err.Error()}, webhooksView{})
		}
		_, err = s.cfg.WebhookDeliveries.ReplayWebhook(ctx, id, from)
	default:
		return s.refuse(c, http.StatusNotFound, "refused.no-action")
	}
	if err != nil {
		return s.webhookRefused(c, err, webhooksView{})
	}
	return c.Redirect(http.StatusSeeOther, WebhooksPath+"?done="+op)
}

// parsePosition reads a position as a delivery shows it: "123" or
// "commit/prepare" (eventstore.ParsePosition).
func parsePosition(s string) (eventstore.Position, error) {
	p, err := eventstore.ParsePosition(s)
	if err != nil {
		return p, errors.New(`a position: "123" or "commit/prepare"`)
	}
	return p, nil
}
