package projections

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the projections' Prometheus series, labelled by projection.
type metrics struct {
	position   *prometheus.GaugeVec
	lagEvents  *prometheus.GaugeVec
	lagSeconds *prometheus.GaugeVec
	errors     *prometheus.CounterVec
	failed     *prometheus.GaugeVec
	applied    *prometheus.CounterVec
}

// newMetrics builds the series and registers them when reg is not nil. They
// exist either way, so the code that updates them never checks.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"projection"}
	m := &metrics{
		position: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rmaledger_projection_position",
			Help: "Commit position of the last event the projection applied (its checkpoint).",
		}, labels),
		lagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rmaledger_projection_lag_events",
			Help: "Claim events in the store after the projection's checkpoint (capped at the scan limit).",
		}, labels),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rmaledger_projection_lag_seconds",
			Help: "Age of the oldest claim event the projection has not applied yet.",
		}, labels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rmaledger_projection_handler_errors_total",
			Help: "Failed attempts to apply an event, retries included.",
		}, labels),
		failed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rmaledger_projection_failed",
			Help: "1 while the projection is stopped on an event it cannot apply.",
		}, labels),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rmaledger_projection_events_total",
			Help: "Events applied to the live read model.",
		}, labels),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.position, m.lagEvents, m.lagSeconds, m.errors, m.failed, m.applied} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
