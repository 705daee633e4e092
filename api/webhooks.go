package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify/webhooks"
)

// Webhooks keeps the webhook subscriptions (*webhooks.Registry is one).
type Webhooks interface {
	Create(ctx context.Context, n webhooks.NewSubscription, by webhooks.Actor) (webhooks.Subscription, string, error)
	List(ctx context.Context) ([]webhooks.Subscription, error)
	Lookup(ctx context.Context, id uuid.UUID) (webhooks.Subscription, error)
	SetEventTypes(ctx context.Context, id uuid.UUID, types []string, by webhooks.Actor) error
	Disable(ctx context.Context, id uuid.UUID, reason string, by webhooks.Actor) error
	Enable(ctx context.Context, id uuid.UUID, by webhooks.Actor) error
	RotateSecret(ctx context.Context, id uuid.UUID, overlap time.Duration, by webhooks.Actor) (string, error)
	Delete(ctx context.Context, id uuid.UUID, by webhooks.Actor) error
}

// WebhookDeliveries reads and replays the messages queued for webhook
// subscriptions (the notification outbox, through an adapter).
type WebhookDeliveries interface {
	// WebhookDeliveries lists up to limit of a subscription's messages,
	// newest first; status is "pending", "sent", "failed" or "" for all.
	WebhookDeliveries(ctx context.Context, subscriptionID uuid.UUID, status string, limit int) ([]WebhookDelivery, error)
	// ReplayWebhook queues again the subscription's messages of the events
	// from the position on, and says how many.
	ReplayWebhook(ctx context.Context, subscriptionID uuid.UUID, from eventstore.Position) (queued int, err error)
}

// WebhookDelivery is a message to a webhook subscription and how its
// delivery went.
type WebhookDelivery struct {
	ID          uuid.UUID `json:"id"`
	Kind        string    `json:"kind"`
	ClaimID     uuid.UUID `json:"claim_id,omitzero"`
	Position    string    `json:"position,omitempty"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Queued      time.Time `json:"queued"`
	Sent        time.Time `json:"sent,omitzero"`
}

// WebhookRequest is the body of POST /v1/webhooks.
type WebhookRequest struct {
	URL          string   `json:"url"`
	EventTypes   []string `json:"event_types,omitempty"`
	Organisation string   `json:"organisation,omitempty"`
	Description  string   `json:"description,omitempty"`
}

// WebhookPatch is the body of PATCH /v1/webhooks/{id}: the fields given change.
type WebhookPatch struct {
	EventTypes     *[]string `json:"event_types,omitempty"`
	Enabled        *bool     `json:"enabled,omitempty"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
}

// WebhookCreated answers a creation: the subscription and its secret,
// shown this once.
type WebhookCreated struct {
	webhooks.Subscription
	Secret string `json:"secret"`
}

// RotateSecretRequest is the body of POST /v1/webhooks/{id}/rotate-secret.
type RotateSecretRequest struct {
	// OverlapSeconds is how long the previous secret still signs (default
	// a day, at most 30 days).
	OverlapSeconds *int64 `json:"overlap_seconds,omitempty"`
}

// RotatedSecret answers a rotation: the new secret, shown this once.
type RotatedSecret struct {
	ID                       uuid.UUID `json:"id"`
	Secret                   string    `json:"secret"`
	PreviousSecretValidUntil time.Time `json:"previous_secret_valid_until"`
}

// ReplayRequest is the body of POST /v1/webhooks/{id}/replay: the position
// ("123" or "commit/prepare", or a number) of the first event to send again.
type ReplayRequest struct {
	From json.RawMessage `json:"from"`
}

func (s *server) registerWebhooks(v1 *echo.Group) {
	manage, read := require(PermManageWebhooks), require(PermReadWebhooks)
	v1.POST("/webhooks", s.createWebhook, manage)
	v1.GET("/webhooks", s.listWebhooks, read)
	v1.GET("/webhooks/:id", s.getWebhook, read)
	v1.PATCH("/webhooks/:id", s.patchWebhook, manage)
	v1.DELETE("/webhooks/:id", s.deleteWebhook, manage)
	v1.POST("/webhooks/:id/rotate-secret", s.rotateWebhookSecret, manage)
	v1.GET("/webhooks/:id/deliveries", s.webhookDeliveries, read)
	v1.POST("/webhooks/:id/replay", s.replayWebhook, manage)
}

func webhookActor(c *echo.Context) webhooks.Actor {
	a := actorOf(c)
	return webhooks.Actor{Name: a.Name, Role: a.Role}
}

func (s *server) webhooksOn() error {
	if s.cfg.Webhooks == nil {
		return newProblem(http.StatusNotFound, "webhooks-disabled", "Webhooks are not enabled", "this service sends no webhooks")
	}
	return nil
}

// webhook checks webhooks are on and the subscription exists.
func (s *server) webhook(c *echo.Context) (webhooks.Subscription, error) {
	if err := s.webhooksOn(); err != nil {
		return webhooks.Subscription{}, err
	}
	id, err := uuid.Parse(c.Param("id"))
	if err != nil || id == uuid.Nil {
		return webhooks.Subscription{}, webhooks.ErrNotFound
	}
	return s.cfg.Webhooks.Lookup(c.Request().Context(), id)
}

func (s *server) createWebhook(c *echo.Context) error {
	var req WebhookRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if err := s.webhooksOn(); err != nil {
		return err
	}
	sub, secret, err := s.cfg.Webhooks.Create(c.Request().Context(), webhooks.NewSubscription{
		URL: req.URL, EventTypes: req.EventTypes, Organisation: req.Organisation, Description: req.Description,
	}, webhookActor(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/webhooks/"+sub.ID.String())
	return c.JSON(http.StatusCreated, WebhookCreated{Subscription: sub, Secret: secret})
}

func (s *server) listWebhooks(c *echo.Context) error {
	if err := s.webhooksOn(); err != nil {
		return err
	}
	subs, err := s.cfg.Webhooks.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": subs})
}

func (s *server) getWebhook(c *echo.Context) error {
	sub, err := s.webhook(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sub)
}

// patchWebhook changes the event types and turns the subscription on or
// off; it validates the whole body before it writes anything.
func (s *server) patchWebhook(c *echo.Context) error {
	var req WebhookPatch
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	sub, err := s.webhook(c)
	if err != nil {
		return err
	}
	if req.DisabledReason != "" && (req.Enabled == nil || *req.Enabled) {
		return webhookInvalid("disabled_reason", "only with \"enabled\": false")
	}
	if req.EventTypes == nil && req.Enabled == nil {
		return webhookInvalid("event_types", "give event_types, enabled or both")
	}
	ctx, by := c.Request().Context(), webhookActor(c)
	if req.EventTypes != nil {
		if err := s.cfg.Webhooks.SetEventTypes(ctx, sub.ID, *req.EventTypes, by); err != nil {
			return err
		}
	}
	switch {
	case req.Enabled == nil:
	case *req.Enabled:
		err = s.cfg.Webhooks.Enable(ctx, sub.ID, by)
	default:
		err = s.cfg.Webhooks.Disable(ctx, sub.ID, req.DisabledReason, by)
	}
	if err != nil {
		return err
	}
	if sub, err = s.cfg.Webhooks.Lookup(ctx, sub.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sub)
}

func (s *server) deleteWebhook(c *echo.Context) error {
	sub, err := s.webhook(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Webhooks.Delete(c.Request().Context(), sub.ID, webhookActor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *server) rotateWebhookSecret(c *echo.Context) error {
	var req RotateSecretRequest
	if err := decodeJSON(c, &req, true); err != nil {
		return err
	}
	sub, err := s.webhook(c)
	if err != nil {
		return err
	}
	overlap := webhooks.DefaultOverlap
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 1 || *req.OverlapSeconds > 30*24*3600 {
			return webhookInvalid("overlap_seconds", "between 1 and 2592000 (30 days)")
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	ctx := c.Request().Context()
	secret, err := s.cfg.Webhooks.RotateSecret(ctx, sub.ID, overlap, webhookActor(c))
	if err != nil {
		return err
	}
	if sub, err = s.cfg.Webhooks.Lookup(ctx, sub.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, RotatedSecret{ID: sub.ID, Secret: secret, PreviousSecretValidUntil: sub.PreviousSecretValidUntil})
}

func (s *server) deliveriesOn() error {
	if s.cfg.WebhookDeliveries == nil {
		return newProblem(http.StatusNotFound, "webhook-deliveries-unavailable", "Webhook deliveries are not kept here", "this service has no notification outbox")
	}
	return nil
}

func (s *server) webhookDeliveries(c *echo.Context) error {
	sub, err := s.webhook(c)
	if err != nil {
		return err
	}
	status := c.QueryParam("status")
	switch status {
	case "", "pending", "sent", "failed":
	default:
		return webhookInvalid("status", "pending, sent or failed")
	}
	limit := 100
	if q := c.QueryParam("limit"); q != "" {
		if limit, err = strconv.Atoi(q); err != nil || limit < 1 || limit > 1000 {
			return webhookInvalid("limit", "a number from 1 to 1000")
		}
	}
	if err := s.deliveriesOn(); err != nil {
		return err
	}
	ds, err := s.cfg.WebhookDeliveries.WebhookDeliveries(c.Request().Context(), sub.ID, status, limit)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []WebhookDelivery{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": ds})
}

func (s *server) replayWebhook(c *echo.Context) error {
	var req ReplayRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	sub, err := s.webhook(c)
	if err != nil {
		return err
	}
	from, err := parseReplayPosition(req.From)
	if err != nil {
		return err
	}
	if err := s.deliveriesOn(); err != nil {
		return err
	}
	n, err := s.cfg.WebhookDeliveries.ReplayWebhook(c.Request().Context(), sub.ID, from)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"id": sub.ID, "from": from.String(), "queued": n})
}

// parseReplayPosition reads a position given as a number or as the string
// a payload's data.position holds ("123" or "commit/prepare").
func parseReplayPosition(raw json.RawMessage) (eventstore.Position, error) {
	bad := webhookInvalid("from", `a position: a number, "123" or "commit/prepare"`)
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		text = string(raw)
	}
	p, err := eventstore.ParsePosition(text)
	if err != nil {
		return eventstore.Position{}, bad
	}
	return p, nil
}

func webhookInvalid(field, problem string) error {
	return &webhooks.InvalidError{Field: field, Problem: problem}
}

// webhookProblem maps the refusals of webhook subscriptions; problemFor calls it.
func webhookProblem(err error) *Problem {
	var invalid *webhooks.InvalidError
	switch {
	case errors.As(err, &invalid):
		p := newProblem(http.StatusUnprocessableEntity, "validation", "Invalid field values", invalid.Error())
		p.Errors = []domain.FieldError{{Field: invalid.Field, Problem: invalid.Problem}}
		return p
	case errors.Is(err, webhooks.ErrNotFound):
		return newProblem(http.StatusNotFound, "webhook-not-found", "No such webhook subscription", "")
	case errors.Is(err, webhooks.ErrConflict):
		return newProblem(http.StatusConflict, "webhook-changed", "The subscription changed meanwhile; try again", err.Error())
	}
	return nil
}
