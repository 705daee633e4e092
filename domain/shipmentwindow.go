package domain

import (
	"errors"
	"fmt"
	"time"
)

// ErrShipmentWindowNotExpired is returned for a closure with reason shipment_window_expired
// while the claim's shipment window has not expired: it still runs (the message names its due
// time), it waits on the customer's documents, the goods are already on their way, or the
// policy keeps no such window.
var ErrShipmentWindowNotExpired = errors.New("shipment window not expired")

func init() {
	ruleErrors = append(ruleErrors, ErrShipmentWindowNotExpired)
}

// ClockDependent is a command decided on the claim's SLA clocks as well as on its state. The
// clocks are not part of the request: the application folds them from the claim's history
// under the governing policy (FoldClocks) and hands them over with SetClocks before Decide,
// so that the decision stays a pure function of what it is given.
type ClockDependent interface {
	Command
	SetClocks(Clocks)
}

// SetClocks gives the claim's SLA clocks to the command.
func (c *CloseClaim) SetClocks(cs Clocks) { c.Clocks = cs }

// shipmentWindowExpired returns nil only when the claim is authorized and its shipment window
// is running past its due time at instant at.
func shipmentWindowExpired(s State, clocks Clocks, at time.Time) error {
	if s.Status != StatusAuthorized {
		return fmt.Errorf("%w: the window ends when the goods are shipped or handed in, and the claim is %s", ErrShipmentWindowNotExpired, s.Status)
	}
	w, ok := clocks.Get(ClockShipmentWindow)
	switch {
	case !ok:
		return fmt.Errorf("%w: the claim has no shipment window clock (the policy keeps none)", ErrShipmentWindowNotExpired)
	case w.Status == ClockPaused:
		return fmt.Errorf("%w: the window is paused (%s) with %s left", ErrShipmentWindowNotExpired, w.PauseReason, time.Duration(w.Remaining))
	case w.Status != ClockRunning:
		return fmt.Errorf("%w: the window is %s", ErrShipmentWindowNotExpired, w.Status)
	case at.Before(w.DueAt):
		return fmt.Errorf("%w: the window runs until %s (it is %s)", ErrShipmentWindowNotExpired,
			w.DueAt.Format(time.RFC3339), at.In(w.DueAt.Location()).Format(time.RFC3339))
	}
	return nil
}
