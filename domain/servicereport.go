package domain

import (
	"strings"
	"time"
)

// The service report is what the service tells the customer at release: how the claim was
// resolved and the work done. The customer either confirms it, which accepts the outcome, or
// disputes it with a written appeal (open-dispute); once confirmed it can no longer be disputed.
// A new resolution (after an overturned appeal) is a new report, to be confirmed again.

// ActionConfirmServiceReport records that the customer accepts the service report.
const ActionConfirmServiceReport Action = "confirm-service-report"

// ServiceReportConfirmed records the customer's confirmation of the service report of the
// standing resolution, with an optional comment.
type ServiceReportConfirmed struct {
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// EventType returns "claim.service_report_confirmed.v1".
func (ServiceReportConfirmed) EventType() string { return "claim.service_report_confirmed.v1" }

func (e ServiceReportConfirmed) occurredAt() time.Time { return e.At }

// ConfirmServiceReport accepts the service report of a resolved claim; comment is optional.
type ConfirmServiceReport struct {
	Comment string `json:"comment,omitempty"`
}

// Action returns ActionConfirmServiceReport.
func (ConfirmServiceReport) Action() Action { return ActionConfirmServiceReport }

// Validate checks the fields.
func (c ConfirmServiceReport) Validate() error {
	var v validation
	v.long("comment", c.Comment)
	return v.result()
}

func (c ConfirmServiceReport) decide(_ State, at time.Time, _ Policy) (Event, error) {
	return ServiceReportConfirmed{Comment: strings.TrimSpace(c.Comment), At: at}, nil
}

// reportUnconfirmed guards both answers to the service report: it is confirmed or disputed
// once, and a confirmed report is not appealed afterwards.
func reportUnconfirmed(s State) error {
	if s.Resolution != nil && !s.Resolution.ReportConfirmedAt.IsZero() {
		return blocked("the customer confirmed the service report")
	}
	return nil
}

// confirmReport applies ServiceReportConfirmed to a copy of the resolution, so that a state
// folded earlier and sharing the pointer does not change.
func (s State) confirmReport(e ServiceReportConfirmed) State {
	if s.Resolution == nil {
		return s
	}
	r := *s.Resolution
	r.ReportConfirmedAt = e.At
	s.Resolution = &r
	return s
}
