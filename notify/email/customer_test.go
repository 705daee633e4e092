package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify"
)

var (
	testClaimID = uuid.MustParse("3f2a1b7c-0000-4000-8000-000000000001")
	t0          = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
)

const (
	internalNote = "INTERNAL: customer dropped the unit, do not tell"
	staffName    = "Ivana Staffmember"
	technician   = "Petar Technician"
)

func testConfig() Config {
	return Config{Company: "Acme Service", PublicURL: "https://service.example.com", SMS: true}
}

func testClaim(lang string) notify.Claim {
	return notify.Claim{
		ID: testClaimID, Number: "RMA-2026-000042", Status: domain.Status("registered"),
		Assignee: "agent.maria", CustomerID: "cust-1", Name: "Elena Petrova",
		Email: "elena@example.net", Phone: "+359888123456", Language: lang,
	}
}

// event wraps a domain event as the outbox hands it to the composers.
func event(n int, ev domain.Event, cl notify.Claim) notify.Event {
	return notify.Event{
		Record: eventstore.RecordedEvent{
			ID: uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(n)}), Stream: "claim-" + cl.ID.String(), Type: ev.EventType(),
			Revision: uint64(n), Position: eventstore.Position{Commit: uint64(100 + n), Prepare: uint64(100 + n)},
			Created: t0.Add(time.Duration(n) * time.Hour),
		},
		Event: ev, Claim: cl,
	}
}

// stepCase is one event of a claim's life and what the customer must read.
type stepCase struct {
	ev        domain.Event
	kind      string // "" when the customer is told nothing
	essential bool
	// facts must appear in the subject or text and in the HTML; money
	// written the language's way is added per language.
	facts []string
	money domain.Money
}

// life is a claim's realistic history, from registration to closure, with
// the side roads (rejection, replacement, refund, withdrawal) after it.
func life() []stepCase {
	total := domain.Money{Amount: 123450, Currency: "EUR"}
	return []stepCase{
		{ev: domain.ClaimRegistered{ClaimID: testClaimID, Number: "RMA-2026-000042",
			Customer: domain.Customer{Name: "Elena Petrova", Phone: "+359888123456", Email: "elena@example.net"},
			Product:  domain.Product{Category: "phone", Serial: "SN123"}, Defect: "does not charge", At: t0},
			kind: "claim.registered", essential: true, facts: []string{"RMA-2026-000042", "https://service.example.com/status?lang="}},
		{ev: domain.NoteAdded{Text: internalNote, Visibility: domain.VisibilityInternal, At: t0}},
		{ev: domain.ClaimRedirectedToServiceCenter{ServiceCenter: domain.ServiceCenter{Name: "Maker Service Plovdiv", Country: "BG",
			Address: "3 Maritsa St, Plovdiv"}, Notes: internalNote, At: t0},
			kind: "claim.redirected_to_service_center", essential: true, facts: []string{"Maker Service Plovdiv", "3 Maritsa St, Plovdiv"}},
		{ev: domain.ServiceCenterActRecorded{Kind: "refusal", Reference: "ACT-1", Notes: internalNote, At: t0}},
		{ev: domain.ClaimAuthorized{ServiceCenter: domain.ServiceCenter{Name: "Acme Repair Sofia", Country: "BG",
			Address: "12 Vitosha Blvd, 1000 Sofia", Contact: "+359 2 123 4567"},
			DocumentsRequested: []string{"purchase receipt", "warranty card"}, Notes: internalNote, At: t0},
			kind: "claim.authorized", essential: true,
			facts: []string{"RMA-2026-000042", "Acme Repair Sofia", "12 Vitosha Blvd, 1000 Sofia", "purchase receipt", "warranty card"}},
		{ev: domain.DocumentsReceived{Documents: []string{"purchase receipt"}, At: t0},
			kind: "claim.documents_received", facts: []string{"purchase receipt"}},
		{ev: domain.CustomerShipmentRecorded{Carrier: "Speedy", TrackingNumber: "SP1", At: t0}},
		{ev: domain.ClaimReceived{Condition: "scratched", ReceivedBy: staffName, At: t0}, kind: "claim.received", facts: []string{"RMA-2026-000042"}},
		{ev: domain.ClaimDiagnosed{Outcome: "paid_repair", Findings: internalNote, At: t0}},
		{ev: domain.EstimateIssued{DamageLevel: 2, Parts: domain.Money{Amount: 100000, Currency: "EUR"},
			Labour: domain.Money{Amount: 20000, Currency: "EUR"}, Shipping: domain.Money{Amount: 3450, Currency: "EUR"}, Total: total, At: t0},
			kind: "claim.estimate_issued", essential: true, money: total, facts: []string{"https://service.example.com/portal/link?lang="}},
		{ev: domain.EstimateAccepted{At: t0}},
		{ev: domain.PaymentRecorded{Amount: total, Reference: "PAY-1", Method: "card", At: t0}, kind: "claim.payment_recorded", money: total},
		{ev: domain.RepairStarted{Where: "ours", Technician: technician, Notes: internalNote, At: t0}},
		{ev: domain.RepairCompleted{WorkDone: "Charging port replaced", At: t0}, kind: "claim.repair_completed", facts: []string{"Charging port replaced"}},
		{ev: domain.ReturnShipped{Carrier: "DHL Express", TrackingNumber: "JD014600006281230", At: t0},
			kind: "claim.return_shipped", essential: true, facts: []string{"DHL Express", "JD014600006281230"}},
		{ev: domain.DeliveryConfirmed{SignedBy: staffName, At: t0}, kind: "claim.delivery_confirmed", facts: []string{"RMA-2026-000042"}},
		{ev: domain.DisputeOpened{Reason: "still does not charge", OriginalResolution: "repaired", At: t0}, kind: "claim.dispute_opened"},
		{ev: domain.DisputeResolved{Outcome: domain.DisputeUpheld, Decision: "The port works; the cable was faulty.", At: t0},
			kind: "claim.dispute_resolved", essential: true, facts: []string{"The port works; the cable was faulty."}},
		{ev: domain.ClaimClosed{ReasonCode: "completed", At: t0}, kind: "claim.closed"},
		// the side roads
		{ev: domain.ClaimRejected{ReasonCode: "out_of_warranty", Reason: "The warranty ended on 2025-01-31.", At: t0},
			kind: "claim.rejected", essential: true, facts: []string{"The warranty ended on 2025-01-31."}},
		{ev: domain.ItemReplaced{NewSerial: "SN999", Notes: internalNote, At: t0}, kind: "claim.item_replaced"},
		{ev: domain.RefundApproved{Amount: total, Reason: internalNote, At: t0}, kind: "claim.refund_approved", money: total},
		{ev: domain.CreditNoteIssued{Number: "CN-2026-77", Amount: total, Reason: internalNote, At: t0},
			kind: "claim.credit_note_issued", money: total, facts: []string{"CN-2026-77"}},
		{ev: domain.ClaimReturnedUnrepaired{Resolution: domain.ResolutionNoFaultFound, Reason: internalNote, At: t0}, kind: "claim.returned_unrepaired"},
		{ev: domain.RefundPaid{Amount: total, Reference: "BANK-7", At: t0}, kind: "claim.refund_paid", money: total},
		{ev: domain.ClaimWithdrawn{Reason: "found a receipt problem", At: t0}, kind: "claim.withdrawn"},
		{ev: domain.ClaimClosed{ReasonCode: domain.ReasonWithdrawn, At: t0}},
		{ev: domain.SLABreached{Clock: "repair", DueAt: t0, At: t0}},
	}
}

// languages are the five languages with a word of each one's greeting and
// 1234.50 EUR written its way.
var languages = []struct{ code, word, money string }{
	{"en", "Hello", "1,234.50 EUR"},
	{"ru", "Здравствуйте", "1\u00a0234,50 EUR"},
	{"bg", "Здравейте", "1\u00a0234,50 EUR"},
	{"zh-Hans", "您好", "1,234.50 EUR"},
	{"el", "Γεια σας", "1.234,50 EUR"},
}

// parsed is a received e-mail.
type parsed struct {
	header     mail.Header
	subject    string
	text, html string
}

func parseMIME(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: m.Header, subject: subject}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = part
		switch strings.ToLower(part.Header.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			body = quotedprintable.NewReader(part)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, part)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("want a text and an HTML part; text %d bytes, HTML %d bytes", len(p.text), len(p.html))
	}
	return p
}

func testSender(t *testing.T, srv *smtpServer) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(SMTPConfig{
		Host: "localhost", Port: srv.Port, Username: testUser, Password: testPassword,
		From: "Acme Service <service@acme.example>", StartTLS: StartTLSMandatory,
		TLSConfig: &tls.Config{RootCAs: srv.Roots}, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEveryStepInEveryLanguageThroughSMTP composes the claim's whole life
// in each language, sends every e-mail through a real SMTP server with
// STARTTLS and AUTH PLAIN, and reads what arrived.
func TestEveryStepInEveryLanguageThroughSMTP(t *testing.T) {
	srv := startSMTP(t)
	sender := testSender(t, srv)
	c, err := NewCustomerComposer(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, lang := range languages {
		t.Run(lang.code, func(t *testing.T) {
			cl := testClaim(lang.code)
			for i, st := range life() {
				ms, err := c.Compose(ctx, event(i, st.ev, cl))
				if err != nil {
					t.Fatalf("%s: %v", st.ev.EventType(), err)
				}
				if st.kind == "" {
					if len(ms) != 0 {
						t.Errorf("%s: the customer is told nothing of it, got %d messages", st.ev.EventType(), len(ms))
					}
					continue
				}
				if len(ms) != 2 || ms[0].Channel != notify.Email || ms[1].Channel != notify.SMS {
					t.Fatalf("%s: want an e-mail and an SMS, got %+v", st.kind, ms)
				}
				m, sms := ms[0], ms[1]
				checkMessage(t, m, st, cl, lang.code)
				if sms.Recipient != cl.Phone || sms.Text == "" || !strings.Contains(sms.Text, cl.Number) || sms.Essential != st.essential ||
					sms.ID != notify.MessageID(event(i, st.ev, cl).Record.ID.String(), notify.SMS, cl.Phone) || len([]rune(sms.Text)) > 320 {
					t.Errorf("%s: SMS %+v", st.kind, sms)
				}
				before := len(srv.received())
				if err := sender.Send(ctx, m); err != nil {
					t.Fatalf("%s: send: %v", st.kind, err)
				}
				got := srv.received()
				if len(got) != before+1 {
					t.Fatalf("%s: the server holds %d messages, want %d", st.kind, len(got), before+1)
				}
				env := got[len(got)-1]
				if !env.TLS || env.User != testUser || env.From != "service@acme.example" || len(env.To) != 1 || env.To[0] != cl.Email {
					t.Fatalf("%s: envelope TLS %v user %q from %q to %v", st.kind, env.TLS, env.User, env.From, env.To)
				}
				p := parseMIME(t, env.Data)
				if p.subject != m.Subject {
					t.Errorf("%s: subject %q, want %q", st.kind, p.subject, m.Subject)
				}
				if got, want := p.header.Get("Message-Id"), "<"+m.ID.String()+"@acme.example>"; got != want {
					t.Errorf("%s: Message-ID %q, want %q", st.kind, got, want)
				}
				if p.header.Get("X-Rma-Message-Id") != m.ID.String() || p.header.Get("Auto-Submitted") != "auto-generated" {
					t.Errorf("%s: headers %v", st.kind, p.header)
				}
				facts := append([]string{cl.Number, lang.word}, st.facts...)
				if !st.money.IsZero() {
					facts = append(facts, lang.money)
				}
				htmlText := html.UnescapeString(p.html)
				for _, f := range facts {
					if !strings.Contains(p.subject+"\n"+p.text, f) {
						t.Errorf("%s (%s): the text lacks %q:\n%s", st.kind, lang.code, f, p.text)
					}
					if !strings.Contains(htmlText, f) {
						t.Errorf("%s (%s): the HTML lacks %q", st.kind, lang.code, f)
					}
				}
				for _, secret := range []string{internalNote, staffName, technician, "agent.maria"} {
					if strings.Contains(p.text+p.html+p.subject+sms.Text, secret) {
						t.Errorf("%s: the customer reads %q", st.kind, secret)
					}
				}
			}
		})
	}
}

// checkMessage checks the e-mail's envelope fields as the outbox reads them.
func checkMessage(t *testing.T, m notify.Message, st stepCase, cl notify.Claim, lang string) {
	t.Helper()
	if m.Kind != st.kind || m.Recipient != cl.Email || m.ClaimID != cl.ID || m.CustomerID != cl.CustomerID ||
		m.Language != lang || m.OrderKey != "" || m.Essential != st.essential || m.Position.Commit == 0 ||
		m.Subject == "" || m.Text == "" || !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") || !strings.Contains(m.HTML, `lang="`+lang+`"`) {
		t.Errorf("%s: message %+v", st.kind, m)
	}
}
