package outbox

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/internal/smtptest"
	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/notify/email"
)

// mailComposer writes one e-mail per claim event, of about the size of the
// customers' e-mail (text and HTML), with no OrderKey, as e-mail has none.
type mailComposer struct{}

var benchHTML = "<p>" + strings.Repeat("Your claim moved on. ", 150) + "</p>"

func (mailComposer) Compose(_ context.Context, e notify.Event) ([]notify.Message, error) {
	return []notify.Message{{
		ID: notify.MessageID(e.Record.ID.String(), notify.Email, e.Claim.Email), Channel: notify.Email,
		Recipient: e.Claim.Email, Kind: e.Record.Type, Language: "en", Subject: "Claim " + e.Claim.Number,
		Text: "Dear " + e.Claim.Name + ", your claim is " + string(e.Claim.Status), HTML: benchHTML,
	}}, nil
}

// lagSender records each message's delivery lag: from its event's commit
// to its hand-over.
type lagSender struct {
	mu   sync.Mutex
	lags []time.Duration
}

func (s *lagSender) Send(_ context.Context, m notify.Message) error {
	lag := time.Since(m.EventTime)
	s.mu.Lock()
	s.lags = append(s.lags, lag)
	s.mu.Unlock()
	return nil
}

func (s *lagSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lags)
}

// BenchmarkDeliveryLag appends claim registrations at 2,000 events/s (open
// loop: event i is due at start + i/rate, from 8 writers), each causing one
// e-mail, to the outbox alone (no HTTP, no read models), and reports the
// delivery lag from the event's commit to the message's hand-over to its
// sender: the outbox's own share of the service's delivery lag, with a
// sender that takes no time.
func BenchmarkDeliveryLag(b *testing.B) {
	snd := &lagSender{}
	benchLag(b, snd, snd, 2000)
}

// smtpLagSender records the lag, then sends the message through a real
// SMTP exchange.
type smtpLagSender struct {
	lagSender
	smtp *email.SMTPSender
}

func (s *smtpLagSender) Send(ctx context.Context, m notify.Message) error {
	_ = s.lagSender.Send(ctx, m)
	return s.smtp.Send(ctx, m)
}

// BenchmarkSMTPDeliveryLag is BenchmarkDeliveryLag at 300 e-mails/s (the
// service benchmark's rate of customers' e-mail at 2,000 events/s), each
// sent through a real SMTP exchange with an in-process server: a sender
// holds its slot for the exchange, so hand-overs wait on the receiver.
func BenchmarkSMTPDeliveryLag(b *testing.B) {
	srv, err := smtptest.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	port, _ := strconv.Atoi(srv.Port())
	smtp, err := email.NewSMTPSender(email.SMTPConfig{Host: "127.0.0.1", Port: port, From: "service@rma.example", StartTLS: email.StartTLSNone})
	if err != nil {
		b.Fatal(err)
	}
	defer smtp.Close()
	snd := &smtpLagSender{smtp: smtp}
	benchLag(b, snd, &snd.lagSender, 300)
}

// benchLag appends rate claim events a second for two seconds per
// iteration and reports the lag snd recorded.
func benchLag(b *testing.B, sender notify.Sender, snd *lagSender, rate int) {
	const writers = 8
	events := 2 * rate
	store := openStore(b)
	o := openOutbox(b, store, dbPath(b), withSender(notify.Email, sender), func(c *Config) {
		c.Composers = []notify.Composer{mailComposer{}}
		c.FromStart = false
		c.Alone = true
	})
	if err := o.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	for !o.Health().CaughtUp {
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	for range b.N {
		want := snd.count() + events
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := w; i < events; i += writers {
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
					id := uuid.New()
					typ, body, err := domain.EncodeEvent(registered(id, "RMA-1", "ivana@example.com", "cust-1"))
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := store.Append(context.Background(), "claim-"+id.String(), eventstore.NoStream,
						eventstore.EventData{ID: uuid.New(), Type: typ, Data: body}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		for deadline := time.Now().Add(time.Minute); snd.count() < want; {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d messages handed over in a minute", snd.count(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	snd.mu.Lock()
	lags := slices.Clone(snd.lags)
	snd.mu.Unlock()
	slices.Sort(lags)
	q := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
