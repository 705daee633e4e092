package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// shedder bounds how many API requests run at once. A request that finds
// every slot taken waits briefly for one, then is refused with 503 and
// Retry-After: under a load the service cannot sustain, it answers what it
// can at its normal speed and turns the rest away at once, instead of
// queueing without bound until memory runs out and every answer is late.
// The embedded store's own append queue is bounded as well; this bound
// comes first so that a refused request costs nothing but its headers.
type shedder struct {
	slots chan struct{}
	wait  time.Duration
	shed  prometheus.Counter
}

func newShedder(maxInFlight int, wait time.Duration, reg prometheus.Registerer) (*shedder, error) {
	s := &shedder{
		slots: make(chan struct{}, maxInFlight),
		wait:  wait,
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rmaledger_http_requests_shed_total",
			Help: "API requests refused with 503 because MaxInFlight requests were already running.",
		}),
	}
	return s, reg.Register(s.shed)
}

func (s *shedder) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		select {
		case s.slots <- struct{}{}:
		default:
			timer := time.NewTimer(s.wait)
			defer timer.Stop()
			select {
			case s.slots <- struct{}{}:
			case <-timer.C:
				s.shed.Inc()
				return newProblem(http.StatusServiceUnavailable, "overloaded", "The service is at capacity; retry shortly",
					fmt.Sprintf("%d requests are already in progress", cap(s.slots)))
			case <-c.Request().Context().Done():
				return c.Request().Context().Err()
			}
		}
		defer func() { <-s.slots }()
		return next(c)
	}
}
