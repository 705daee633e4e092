package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/clock"
	"github.com/rmaledger/rmaledger/sla"
)

// TestClock is a sandbox's clock that an administrator moves forward:
// *clock.Sandbox.
type TestClock interface {
	Now() time.Time
	Advance(d time.Duration) (time.Time, error)
	Set(t time.Time) (time.Time, error)
}

// SandboxConfig wires the test clock routes of a sandbox service.
type SandboxConfig struct {
	// Clock is the test clock; the API judges timers and ages amounts by it.
	Clock TestClock
	// RunTimers runs the SLA timer process once at the clock's instant,
	// once the timers read model has every event written so far, and says
	// what it did.
	RunTimers func(ctx context.Context) (sla.Report, error)
}

// maxClockStep bounds one move of the test clock: ten years is more than
// any policy's longest term, and keeps instants far from overflow.
const maxClockStep = 10 * 366 * 24 * time.Hour

// registerClock adds the test clock routes to the authenticated /v1 group.
// They answer 409 not-a-sandbox unless the service runs as a sandbox.
func (s *server) registerClock(v1 *echo.Group) {
	v1.GET("/admin/clock", s.getClock, require(PermOperate))
	v1.POST("/admin/clock", s.moveClock, require(PermOperate))
}

// ClockResponse is the test clock's instant, and after a move what the SLA
// timer process did at it.
type ClockResponse struct {
	Now      time.Time  `json:"now"`
	Sandbox  bool       `json:"sandbox"`
	Previous *time.Time `json:"previous,omitempty"`
	// Timers is the timer process's pass at the new instant: the clocks
	// that were due, and what was done with each.
	Timers *sla.Report `json:"timers,omitempty"`
}

// MoveClockRequest moves the test clock: by a step, or to an instant.
type MoveClockRequest struct {
	// Advance is a positive step: Go's duration text ("26h", "90m") or
	// whole days with an optional rest ("45d", "1d2h").
	Advance string `json:"advance,omitempty"`
	// To is an RFC 3339 instant not before the clock's.
	To string `json:"to,omitempty"`
}

func (s *server) sandbox() (*SandboxConfig, error) {
	if s.cfg.Sandbox == nil {
		return nil, newProblem(http.StatusConflict, "not-a-sandbox", "The service is not a sandbox",
			"the clock can be moved only in a service started with --sandbox, on a sandbox data directory")
	}
	return s.cfg.Sandbox, nil
}

func (s *server) getClock(c *echo.Context) error {
	sb, err := s.sandbox()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ClockResponse{Now: sb.Clock.Now(), Sandbox: true})
}

// moveClock moves the test clock forward and runs the SLA timer process at
// the new instant at once, rather than at its next interval: the answer
// says what the clocks that came due led to.
func (s *server) moveClock(c *echo.Context) error {
	sb, err := s.sandbox()
	if err != nil {
		return err
	}
	var req MoveClockRequest
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	var step time.Duration
	var to time.Time
	switch {
	case (req.Advance == "") == (req.To == ""):
		return badRequest("invalid-clock-move", "give exactly one of advance (e.g. \"26h\", \"45d\") and to (an RFC 3339 instant)")
	case req.Advance != "":
		if step, err = parseStep(req.Advance); err != nil {
			return badRequest("invalid-clock-move", "advance %q: %v", req.Advance, err)
		}
	default:
		if to, err = time.Parse(time.RFC3339Nano, req.To); err != nil || to.Year() > 2200 {
			return badRequest("invalid-clock-move", "to must be an RFC 3339 instant before 2200, e.g. 2030-06-04T10:00:00+03:00")
		}
		if to.Sub(sb.Clock.Now()) > maxClockStep {
			return badRequest("invalid-clock-move", "to is more than ten years ahead of the clock")
		}
	}
	previous := sb.Clock.Now()
	var now time.Time
	if step > 0 {
		now, err = sb.Clock.Advance(step)
	} else {
		now, err = sb.Clock.Set(to)
	}
	if errors.Is(err, clock.ErrBackwards) {
		return newProblem(http.StatusConflict, "clock-backwards", "The test clock only moves forward", err.Error())
	}
	if err != nil {
		return err
	}
	s.cfg.Logger.Info("test clock moved", "from", previous, "to", now, "actor", actorOf(c).Name)
	report, err := sb.RunTimers(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ClockResponse{Now: now, Sandbox: true, Previous: &previous, Timers: &report})
}

var dayStep = regexp.MustCompile(`^([0-9]{1,4})d(.*)$`)

// parseStep reads a positive step of at most ten years: Go's duration text,
// or whole days ("45d") with an optional duration after them ("1d2h").
func parseStep(text string) (time.Duration, error) {
	var days time.Duration
	if m := dayStep.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1])
		days, text = time.Duration(n)*24*time.Hour, m[2]
	}
	var rest time.Duration
	if text != "" {
		var err error
		if rest, err = time.ParseDuration(text); err != nil {
			return 0, fmt.Errorf("not a step: write e.g. 26h, 90m, 45d or 1d2h")
		}
	}
	step := days + rest
	switch {
	case step <= 0 || rest < 0:
		return 0, errors.New("the step must be positive: the test clock only moves forward")
	case step > maxClockStep:
		return 0, errors.New("the step must be at most ten years")
	}
	return step, nil
}
