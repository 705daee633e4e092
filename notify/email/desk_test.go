package email

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/notify"
)

func slaBreach(i int) domain.SLABreached {
	return domain.SLABreached{Clock: "repair", DueAt: t0.Add(time.Duration(i) * time.Minute),
		Overrun: domain.Duration(90 * time.Minute), At: t0.Add(2 * time.Hour)}
}

func deskComposer(t *testing.T, lang string) *DeskComposer {
	t.Helper()
	d, err := NewDeskComposer(Config{Company: "Acme Service", PublicURL: "https://service.example.com",
		DeskAddress: "desk@acme.example", DeskAddresses: map[string]string{"agent.maria": "maria@acme.example"}, DeskLanguage: lang})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDeskAlerts: breaches, appeals and payments alert the assignee, else
// the desk; nothing else does, and with no address there is no alert.
func TestDeskAlerts(t *testing.T) {
	d := deskComposer(t, "")
	ctx := context.Background()
	total := domain.Money{Amount: 12990, Currency: "EUR"}
	for _, tc := range []struct {
		name     string
		assignee string
		ev       domain.Event
		to, kind string
		facts    []string
	}{
		{"breach, assigned", "agent.maria", slaBreach(0), "maria@acme.example", "desk.sla_breached", []string{"repair", "1h30m0s", "09:00 UTC"}},
		{"breach, assignee without address", "agent.ivan", slaBreach(0), "desk@acme.example", "desk.sla_breached", []string{"repair"}},
		{"breach, unassigned", "", slaBreach(0), "desk@acme.example", "desk.sla_breached", nil},
		{"appeal", "", domain.DisputeOpened{Reason: "still broken", OriginalResolution: "repaired", At: t0}, "desk@acme.example", "desk.dispute_opened", []string{"still broken", "repaired"}},
		{"payment", "agent.maria", domain.PaymentRecorded{Amount: total, Reference: "PAY-9", Method: "card", At: t0}, "maria@acme.example", "desk.payment_recorded", []string{"129.90 EUR", "PAY-9", "card"}},
		{"registration", "", domain.ClaimRegistered{Number: "RMA-2026-000042", At: t0}, "", "", nil},
		{"internal note", "", domain.NoteAdded{Text: internalNote, Visibility: domain.VisibilityInternal, At: t0}, "", "", nil},
	} {
		cl := testClaim("ru")
		cl.Assignee = tc.assignee
		ms, err := d.Compose(ctx, event(1, tc.ev, cl))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.to == "" {
			if len(ms) != 0 {
				t.Errorf("%s: want no alert, got %+v", tc.name, ms)
			}
			continue
		}
		if len(ms) != 1 {
			t.Fatalf("%s: %d alerts", tc.name, len(ms))
		}
		m := ms[0]
		if m.Channel != notify.Desk || m.Recipient != tc.to || m.Kind != tc.kind || m.Language != "en" ||
			m.ID != notify.MessageID(event(1, tc.ev, cl).Record.ID.String(), notify.Desk, tc.to) {
			t.Errorf("%s: %+v", tc.name, m)
		}
		for _, f := range append(tc.facts, cl.Number, "https://service.example.com/console/claims/"+cl.ID.String()) {
			if !strings.Contains(m.Subject+m.Text, f) || !strings.Contains(m.HTML, f) {
				t.Errorf("%s: the alert lacks %q:\n%s", tc.name, f, m.Text)
			}
		}
	}
	none, err := NewDeskComposer(Config{PublicURL: "https://service.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := none.Compose(ctx, event(1, slaBreach(0), testClaim(""))); len(ms) != 0 {
		t.Errorf("no desk address: want no alert, got %d", len(ms))
	}
	ru := deskComposer(t, "ru")
	if ms, _ := ru.Compose(ctx, event(1, slaBreach(0), testClaim("en"))); len(ms) != 1 || !strings.Contains(ms[0].Subject, "Срок SLA нарушен") || ms[0].Language != "ru" {
		t.Errorf("DeskLanguage ru: %+v", ms)
	}
}

// upcoming is a fixed list of clocks; it answers as the timers read model
// would, with the clocks due before the time asked.
type upcoming []Upcoming

func (u upcoming) UpcomingClocks(_ context.Context, before time.Time) ([]Upcoming, error) {
	var out []Upcoming
	for _, c := range u {
		if c.DueAt.Before(before) {
			out = append(out, c)
		}
	}
	return out, nil
}

// TestDueSoon: clocks due within the window are announced, each with an
// id of its claim, clock and due time, so that a second scan repeats the
// same ids and a moved due time is a new alert.
func TestDueSoon(t *testing.T) {
	d := deskComposer(t, "")
	now := t0
	a := uuid.New()
	src := upcoming{
		{ClaimID: a, Number: "RMA-A", Clock: "repair", DueAt: now.Add(30 * time.Minute), Assignee: "agent.maria"},
		{ClaimID: uuid.New(), Number: "RMA-B", Clock: "response", DueAt: now.Add(3 * time.Hour)},
		{ClaimID: uuid.New(), Number: "RMA-C", Clock: "response", DueAt: now.Add(-time.Minute)}, // breached: alerted as such
	}
	first, err := d.DueSoon(context.Background(), src, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0].Recipient != "maria@acme.example" || first[0].Kind != "desk.due_soon" ||
		!strings.Contains(first[0].Subject, "RMA-A") || !strings.Contains(first[0].Text, "09:30 UTC") {
		t.Fatalf("first scan: %+v", first)
	}
	again, _ := d.DueSoon(context.Background(), src, time.Hour, now.Add(10*time.Minute))
	if len(again) != 1 || again[0].ID != first[0].ID {
		t.Errorf("a second scan gave %+v, want the same id %s", again, first[0].ID)
	}
	src[0].DueAt = now.Add(40 * time.Minute)
	moved, _ := d.DueSoon(context.Background(), src, time.Hour, now)
	if len(moved) != 1 || moved[0].ID == first[0].ID {
		t.Errorf("a moved due time kept the id %s", first[0].ID)
	}
	wider, _ := d.DueSoon(context.Background(), src, 4*time.Hour, now)
	if len(wider) != 2 || wider[1].Recipient != "desk@acme.example" {
		t.Errorf("a four-hour window: %+v", wider)
	}
}
