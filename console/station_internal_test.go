package console

import (
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

func TestStationOf(t *testing.T) {
	received := &domain.Intake{}
	for _, tc := range []struct {
		name string
		st   domain.State
		want domain.Status
	}{
		{"diagnosed", domain.State{Status: domain.StatusDiagnosed, Intake: received}, domain.StatusDiagnosed},
		{"paid after the diagnosis", domain.State{Status: domain.StatusPaid, Intake: received}, domain.StatusDiagnosed},
		{"paid before the goods came", domain.State{Status: domain.StatusPaid}, domain.StatusAuthorized},
		{"quoted from the description", domain.State{Status: domain.StatusEstimateIssued}, domain.StatusAuthorized},
		{"in transit", domain.State{Status: domain.StatusInTransit}, domain.StatusAuthorized},
		{"resolved remotely", domain.State{Status: domain.StatusResolved}, domain.StatusResolved},
	} {
		if got := stationOf(tc.st); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
