package console

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"
)

// MessagesPath is the admin screen of the messages the service sends:
// customers' e-mail and SMS, the desk's alerts, webhooks.
const MessagesPath = AdminPath + "/messages"

// Delivery is a message of the notifications outbox as the messages
// screen lists it.
type Delivery struct {
	ID uuid.UUID
	// Channel is email, sms, desk or webhook; Kind what the message is
	// about (an event type, portal.link, desk.sla_breached).
	Channel, Kind string
	// Recipient is the address, the phone number or the webhook
	// subscription; empty once the customer's data was erased.
	Recipient string
	ClaimID   uuid.UUID
	Number    string // the claim's number, when known
	// Status is pending, sent, failed or erased.
	Status    string
	Attempts  int
	Queued    time.Time
	Next      time.Time // the next attempt of a pending message
	LastError string
}

// DeliveryCount is how many messages of a channel are in a status.
type DeliveryCount struct {
	Channel, Status string
	N               int
}

// ErrUnknownDelivery means the message to retry is not a failed one.
var ErrUnknownDelivery = errors.New("console: no such failed message")

// Outbox is what the messages screen reads and changes.
type Outbox interface {
	// Deliveries lists the messages in a status, most recent first.
	Deliveries(ctx context.Context, status string, limit int) ([]Delivery, error)
	DeliveryCounts(ctx context.Context) ([]DeliveryCount, error)
	// RetryDelivery sends a failed message again; ErrUnknownDelivery when
	// there is no failed message of that id.
	RetryDelivery(ctx context.Context, by Person, id uuid.UUID) error
}

// deliveryStatuses are the lists the screen offers, failed first: what an
// admin comes for.
var deliveryStatuses = []string{"failed", "pending", "sent", "erased"}

// messagesShown bounds one list.
const messagesShown = 100

// mountOutbox serves the messages screen to admins only.
func (s *console) mountOutbox(g *echo.Group, base *template.Template) error {
	if s.cfg.Outbox == nil || s.cfg.Admin == nil {
		return nil
	}
	if err := s.addPage(base, "outbox"); err != nil {
		return err
	}
	only := s.permitted(mayAdmin)
	g.GET("/admin/messages", s.outbox, s.signedIn, only)
	g.POST("/admin/messages/retry", s.retryDelivery, s.signedIn, only)
	return nil
}

// outboxView is the messages screen's data.
type outboxView struct {
	Statuses []string
	Status   string
	Channels []string
	// Counts[channel][status]
	Counts map[string]map[string]int
	List   []Delivery
	Done   bool
}

func (s *console) outbox(c *echo.Context) error {
	status := c.QueryParam("status")
	if status == "" {
		status = deliveryStatuses[0]
	}
	if !slices.Contains(deliveryStatuses, status) {
		return s.refuse(c, http.StatusBadRequest, "refused.bad-filter")
	}
	ctx := c.Request().Context()
	counts, err := s.cfg.Outbox.DeliveryCounts(ctx)
	if err != nil {
		return s.fail(c, err)
	}
	v := outboxView{Statuses: deliveryStatuses, Status: status, Counts: map[string]map[string]int{}, Done: c.QueryParam("done") == "retry"}
	for _, n := range counts {
		if v.Counts[n.Channel] == nil {
			v.Counts[n.Channel] = map[string]int{}
			v.Channels = append(v.Channels, n.Channel)
		}
		v.Counts[n.Channel][n.Status] = n.N
	}
	slices.Sort(v.Channels)
	if v.List, err = s.cfg.Outbox.Deliveries(ctx, status, messagesShown); err != nil {
		return s.fail(c, err)
	}
	return s.render(c, http.StatusOK, "outbox", "outbox.title", v)
}

func (s *console) retryDelivery(c *echo.Context) error {
	id, err := uuid.Parse(c.FormValue("id"))
	if err != nil {
		return s.refuse(c, http.StatusUnprocessableEntity, "refused.unknown-message")
	}
	err = s.cfg.Outbox.RetryDelivery(c.Request().Context(), personOf(c), id)
	if errors.Is(err, ErrUnknownDelivery) {
		return s.refuse(c, http.StatusUnprocessableEntity, "refused.unknown-message")
	}
	if err != nil {
		return s.fail(c, err)
	}
	return c.Redirect(http.StatusSeeOther, MessagesPath+"?status=failed&done=retry")
}
