package outbox

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/notify"
)

// metrics are the outbox's Prometheus metrics; a nil Registerer keeps them
// unregistered (they still count, for tests).
type metrics struct {
	reg       prometheus.Registerer
	lagHist   *prometheus.HistogramVec
	queuedC   *prometheus.CounterVec
	sentC     *prometheus.CounterVec
	failedC   *prometheus.CounterVec
	pending   prometheus.Collector
	position  prometheus.Collector
	failedNow prometheus.Collector
}

func newMetrics(reg prometheus.Registerer, o *Outbox) *metrics {
	count := func(status string) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var n int
			_ = o.queryRow(ctx, nil, `SELECT COUNT(*) FROM messages WHERE status = ?`, status).Scan(&n)
			return float64(n)
		}
	}
	m := &metrics{
		reg: reg,
		lagHist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rmaledger_notify_delivery_lag_seconds",
			Help: "Time from the event that caused a message (or its queueing) to its hand-over to the channel's sender.",
			// From a millisecond, where a live hand-over lies, to a day,
			// which retries after an outage reach.
			Buckets: []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600, 3600, 21600, 86400},
		}, []string{"channel"}),
		queuedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rmaledger_notify_messages_queued_total", Help: "Messages queued in the outbox.",
		}, []string{"channel"}),
		sentC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rmaledger_notify_messages_sent_total", Help: "Messages the channel's sender accepted.",
		}, []string{"channel"}),
		failedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rmaledger_notify_messages_failed_total", Help: "Messages given up for good.",
		}, []string{"channel"}),
		pending: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rmaledger_notify_messages_pending", Help: "Messages waiting to be sent.",
		}, count("pending")),
		position: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rmaledger_notify_position", Help: "Commit position in $all of the last event the outbox has queued the messages of.",
		}, func() float64 {
			o.mu.Lock()
			defer o.mu.Unlock()
			return float64(o.checkpoint.Commit)
		}),
		failedNow: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rmaledger_notify_messages_failed", Help: "Messages failed for good and not retried since.",
		}, count("failed")),
	}
	if reg != nil {
		for _, c := range m.collectors() {
			reg.MustRegister(c)
		}
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.lagHist, m.queuedC, m.sentC, m.failedC, m.pending, m.position, m.failedNow}
}

func (m *metrics) unregister() {
	if m.reg != nil {
		for _, c := range m.collectors() {
			m.reg.Unregister(c)
		}
	}
}

func (m *metrics) queued(n map[notify.Channel]int) {
	for ch, k := range n {
		m.queuedC.WithLabelValues(string(ch)).Add(float64(k))
	}
}

func (m *metrics) sent(ch notify.Channel)   { m.sentC.WithLabelValues(string(ch)).Inc() }
func (m *metrics) failed(ch notify.Channel) { m.failedC.WithLabelValues(string(ch)).Inc() }
func (m *metrics) lag(ch notify.Channel, d time.Duration) {
	m.lagHist.WithLabelValues(string(ch)).Observe(max(d, 0).Seconds())
}
