package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// deliveryLagMetric is the service's histogram of the time from an event
// to each message it caused being handed to its sender.
const deliveryLagMetric = "rmaledger_notify_delivery_lag_seconds"

// Delivery is the notifications outbox during the projection lag stage:
// the customers' e-mail the stage's commands caused, sent through a real
// SMTP exchange to the benchmark's own SMTP server.
type Delivery struct {
	// Messages is how many messages the service handed to a sender during
	// the stage; Received how many e-mails the SMTP server accepted.
	Messages int `json:"messages"`
	Received int `json:"received"`
	// P50MS and P99MS are the delivery lag's quantiles, interpolated in
	// the buckets of the service's histogram as Prometheus's
	// histogram_quantile does; BucketMS is the upper bound of the bucket
	// the p99 fell in.
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	BucketMS float64 `json:"p99_bucket_ms"`
	// BacklogSeconds is how long the outbox took, before the stage, to send
	// the e-mail the commands stage had queued (the stage starts on an
	// empty queue).
	BacklogSeconds float64 `json:"backlog_s"`
}

// The service's gauges of the messages waiting to be sent, of the last
// event the outbox queued the messages of, and of the last event each read
// model applied.
const (
	pendingMetric            = "rmaledger_notify_messages_pending"
	outboxPositionMetric     = "rmaledger_notify_position"
	projectionPositionMetric = "rmaledger_projection_position"
)

// waitForEmptyOutbox waits up to timeout until the outbox has queued the
// messages of every claim event the read models have (its position is at
// least the claims read model's) and sent them all, and says how long that
// took.
func waitForEmptyOutbox(ctx context.Context, svc *child, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, svc.base+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(res.Body)
		res.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("GET /metrics: %w", err)
		}
		gauge := func(name, projection string) float64 {
			v := 0.0
			for _, m := range families[name].GetMetric() {
				if projection == "" || slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetValue() == projection }) {
					v += m.GetGauge().GetValue()
				}
			}
			return v
		}
		pending := gauge(pendingMetric, "")
		if pending == 0 && gauge(outboxPositionMetric, "") >= gauge(projectionPositionMetric, "claims") {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("the outbox still held %.0f messages %s after the commands stage", pending, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lagBuckets is a snapshot of the delivery lag histogram, summed over
// channels: cumulative counts by upper bound (seconds).
type lagBuckets struct {
	bounds []float64
	counts []uint64
	total  uint64
}

// scrapeDeliveryLag reads the service's delivery lag histogram.
func scrapeDeliveryLag(ctx context.Context, svc *child) (lagBuckets, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, svc.base+"/metrics", nil)
	if err != nil {
		return lagBuckets{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return lagBuckets{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return lagBuckets{}, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		return lagBuckets{}, fmt.Errorf("GET /metrics: %w", err)
	}
	return sumHistograms(families[deliveryLagMetric]), nil
}

func sumHistograms(f *dto.MetricFamily) lagBuckets {
	var b lagBuckets
	if f == nil {
		return b
	}
	for _, m := range f.GetMetric() {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		b.total += h.GetSampleCount()
		for _, bk := range h.GetBucket() {
			i := slices.Index(b.bounds, bk.GetUpperBound())
			if i < 0 {
				b.bounds = append(b.bounds, bk.GetUpperBound())
				b.counts = append(b.counts, 0)
				i = len(b.bounds) - 1
			}
			b.counts[i] += bk.GetCumulativeCount()
		}
	}
	return b
}

// since is the histogram of what was observed between before and b.
func (b lagBuckets) since(before lagBuckets) lagBuckets {
	out := lagBuckets{bounds: b.bounds, counts: slices.Clone(b.counts), total: b.total - before.total}
	for i, bound := range b.bounds {
		if j := slices.Index(before.bounds, bound); j >= 0 {
			out.counts[i] -= before.counts[j]
		}
	}
	return out
}

// quantile interpolates linearly within the bucket the q-th observation
// falls in, and returns that bucket's upper bound too (seconds). An
// observation beyond the last finite bound counts as that bound.
func (b lagBuckets) quantile(q float64) (value, bucket float64) {
	if b.total == 0 {
		return 0, 0
	}
	order := make([]int, len(b.bounds))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return cmpFloat(b.bounds[x], b.bounds[y]) })
	rank := q * float64(b.total)
	lower, below := 0.0, uint64(0)
	for _, i := range order {
		upper, count := b.bounds[i], b.counts[i]
		if float64(count) >= rank {
			if math.IsInf(upper, 1) {
				return lower, lower
			}
			in := float64(count - below)
			if in == 0 {
				return upper, upper
			}
			return lower + (upper-lower)*(rank-float64(below))/in, upper
		}
		lower, below = upper, count
	}
	return lower, lower
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// delivery is what the outbox did since the snapshot before the stage: it
// waits up to ten seconds for the e-mail still on its way.
func (b *bench) delivery(ctx context.Context, svc *child, before lagBuckets, mailBefore int, backlog time.Duration) (*Delivery, error) {
	var now lagBuckets
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if now, err = scrapeDeliveryLag(ctx, svc); err != nil {
			return nil, err
		}
		if int(now.total-before.total) <= len(b.mail.Received())-mailBefore || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	d := now.since(before)
	p50, _ := d.quantile(0.50)
	p99, bucket := d.quantile(0.99)
	return &Delivery{
		Messages: int(d.total), Received: len(b.mail.Received()) - mailBefore,
		P50MS: round3(p50 * 1000), P99MS: round3(p99 * 1000), BucketMS: round3(bucket * 1000), BacklogSeconds: round3(backlog.Seconds()),
	}, nil
}
