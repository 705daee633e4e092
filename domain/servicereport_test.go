package domain_test

import (
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

func TestServiceReport(t *testing.T) {
	confirmed := func(t *testing.T, name string) []domain.Event {
		return with(history(t, name), domain.ServiceReportConfirmed{Comment: "Fine.", At: t0})
	}
	run(t, []gwt{
		{
			name:  "the customer confirms the report of a repair",
			given: history(t, "resolved"),
			when:  &domain.ConfirmServiceReport{Comment: "  Works again, thank you. "},
			then:  []domain.Event{domain.ServiceReportConfirmed{Comment: "Works again, thank you.", At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusResolved || s.Resolution.Kind != domain.ResolutionRepaired || !s.Resolution.ReportConfirmedAt.Equal(whenAt) {
					t.Errorf("status %s resolution %+v", s.Status, s.Resolution)
				}
			},
		},
		{
			name:  "a report of help without the goods is confirmed too",
			given: history(t, "resolved/remotely"),
			when:  &domain.ConfirmServiceReport{},
			then:  []domain.Event{domain.ServiceReportConfirmed{At: whenAt}},
		},
		{name: "confirmed once", given: confirmed(t, "resolved"), when: &domain.ConfirmServiceReport{}, invalid: true, reason: "confirmed the service report"},
		{name: "a confirmed report is not appealed", given: confirmed(t, "resolved"), when: sample(domain.ActionOpenDispute), invalid: true, reason: "confirmed the service report"},
		{name: "nothing to confirm before resolution", given: history(t, "in_repair"), when: &domain.ConfirmServiceReport{}, invalid: true},
		{name: "nor while disputed", given: history(t, "disputed"), when: &domain.ConfirmServiceReport{}, invalid: true},
		{name: "a comment has the length of any text", given: history(t, "resolved"), when: &domain.ConfirmServiceReport{Comment: strings.Repeat("a", 4001)}, fields: []string{"comment"}},
		{
			name:  "an overturned appeal makes a new report, to be confirmed again",
			given: history(t, "resolved/repaired-instead"),
			when:  &domain.ConfirmServiceReport{},
			then:  []domain.Event{domain.ServiceReportConfirmed{At: whenAt}},
		},
		{
			name:  "shipping the item back keeps the confirmation",
			given: confirmed(t, "resolved"),
			when:  sample(domain.ActionShipReturn),
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusReturnShipped || s.Resolution.ReportConfirmedAt.IsZero() {
					t.Errorf("status %s resolution %+v", s.Status, s.Resolution)
				}
			},
		},
	})
}
