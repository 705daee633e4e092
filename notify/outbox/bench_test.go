package outbox

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify"
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
// sender: the outbox's own share of the service's delivery lag.
func BenchmarkDeliveryLag(b *testing.B) {
	const (
		rate    = 2000
		events  = 4000
		writers = 8
	)
	store := openStore(b)
	snd := &lagSender{}
	o := openOutbox(b, store, dbPath(b), withSender(notify.Email, snd), func(c *Config) {
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
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
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
