package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/console"
)

// outbox stands in for the notifications outbox: two failed messages, one
// waiting, one sent.
type outbox struct {
	mu      sync.Mutex
	list    []console.Delivery
	retried []string // "actor: id"
}

func newOutbox() *outbox {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	claim := uuid.New()
	return &outbox{list: []console.Delivery{
		{ID: uuid.New(), Channel: "webhook", Kind: "claim.authorized.v1", Recipient: "whsub-erp", ClaimID: claim, Number: "RMA-2026-000007",
			Status: "failed", Attempts: 31, Queued: at, LastError: "503 Service Unavailable"},
		{ID: uuid.New(), Channel: "email", Kind: "claim.registered", Recipient: "ivan@example.com", ClaimID: claim, Number: "RMA-2026-000007",
			Status: "failed", Attempts: 1, Queued: at, LastError: "550 mailbox unavailable"},
		{ID: uuid.New(), Channel: "email", Kind: "claim.received", Recipient: "", ClaimID: claim, Number: "RMA-2026-000007",
			Status: "pending", Attempts: 2, Queued: at, Next: at.Add(time.Hour), LastError: "451 try later"},
		{ID: uuid.New(), Channel: "desk", Kind: "desk.sla_breached", Recipient: "desk@example.com", Status: "sent", Queued: at},
	}}
}

func (o *outbox) Deliveries(_ context.Context, status string, limit int) ([]console.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []console.Delivery
	for _, d := range o.list {
		if d.Status == status && len(out) < limit {
			out = append(out, d)
		}
	}
	return out, nil
}

func (o *outbox) DeliveryCounts(context.Context) ([]console.DeliveryCount, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := map[[2]string]int{}
	for _, d := range o.list {
		n[[2]string{d.Channel, d.Status}]++
	}
	var out []console.DeliveryCount
	for k, v := range n {
		out = append(out, console.DeliveryCount{Channel: k[0], Status: k[1], N: v})
	}
	return out, nil
}

func (o *outbox) RetryDelivery(_ context.Context, by console.Person, id uuid.UUID) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, d := range o.list {
		if d.ID == id && d.Status == "failed" {
			o.list[i].Status = "pending"
			o.retried = append(o.retried, by.Name+": "+id.String())
			return nil
		}
	}
	return console.ErrUnknownDelivery
}

// TestMessagesScreen: an admin sees the messages counted by channel and
// status and the failed ones with their last error, and sends one again;
// a message that is not a failed one, a bad list and every other role are
// refused with nothing changed.
func TestMessagesScreen(t *testing.T) {
	s := newStack(t)
	a := s.withAdmin(t)
	c := s.client(t)
	token := c.signIn("Adam Admin", "pw-admin")

	if p := c.get(console.AdminPath); !strings.Contains(p.Body, `href="/console/admin/messages"`) {
		t.Fatal("the admin screen does not link the messages screen")
	}
	p := c.get(console.MessagesPath)
	if p.Code != http.StatusOK {
		t.Fatalf("messages: %d", p.Code)
	}
	for _, want := range []string{
		`<tr><th scope="row">E-mail</th><td>1</td><td>1</td><td>0</td><td>0</td></tr>`,
		`<tr><th scope="row">Webhooks</th><td>1</td><td>0</td><td>0</td><td>0</td></tr>`,
		"503 Service Unavailable", "550 mailbox unavailable", "ivan@example.com", "RMA-2026-000007",
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the failed list lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "451 try later") {
		t.Error("the failed list shows a waiting message")
	}
	waiting := c.get(console.MessagesPath + "?status=pending")
	if !strings.Contains(waiting.Body, "451 try later") || !strings.Contains(waiting.Body, ">erased<") || strings.Contains(waiting.Body, `action="/console/admin/messages/retry"`) {
		t.Errorf("the waiting list: erased recipient shown as such, no retry button\n%s", waiting.Body)
	}
	if p := c.get(console.MessagesPath + "?status=lost"); p.Code != http.StatusBadRequest {
		t.Errorf("an unknown list: %d, want 400", p.Code)
	}

	failed := a.outbox.list[1].ID
	for _, bad := range []string{"not-an-id", a.outbox.list[2].ID.String(), uuid.NewString()} {
		if p := c.post("/console/admin/messages/retry", url.Values{"csrf": {token}, "id": {bad}}); p.Code != http.StatusUnprocessableEntity {
			t.Errorf("retry %s: %d, want 422", bad, p.Code)
		}
	}
	if len(a.outbox.retried) != 0 {
		t.Fatalf("refused retries changed the queue: %v", a.outbox.retried)
	}
	p = c.post("/console/admin/messages/retry", url.Values{"csrf": {token}, "id": {failed.String()}})
	if p.Code != http.StatusSeeOther || !strings.Contains(c.get(p.Header.Get("Location")).Body, "The message is queued again.") {
		t.Fatalf("retry: %d %s", p.Code, p.Header.Get("Location"))
	}
	if len(a.outbox.retried) != 1 || a.outbox.retried[0] != "Adam Admin: "+failed.String() {
		t.Errorf("retried %v", a.outbox.retried)
	}

	for _, who := range [][2]string{{"Ana Agent", "pw-agent"}, {"Al Auditor", "pw-auditor"}} {
		other := s.client(t)
		tok := other.signIn(who[0], who[1])
		if p := other.get(console.MessagesPath); p.Code != http.StatusForbidden {
			t.Errorf("%s GET messages: %d", who[0], p.Code)
		}
		if p := other.post("/console/admin/messages/retry", url.Values{"csrf": {tok}, "id": {a.outbox.list[0].ID.String()}}); p.Code != http.StatusForbidden {
			t.Errorf("%s retry: %d", who[0], p.Code)
		}
	}
	if len(a.outbox.retried) != 1 {
		t.Errorf("other roles retried: %v", a.outbox.retried)
	}
}
