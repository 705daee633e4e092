package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/policy"
)

// Every path of the mix must be a legal lifecycle under the default policy
// and end closed, or the benchmark would measure refusals instead of work.
func TestLifecyclesDecideToClosure(t *testing.T) {
	now := time.Now()
	pol := policy.Default().InForce(now)
	seen := map[string]int{}
	for i := range 3 * len(outcomeMix) {
		reg := registration(i, now)
		reg.ClaimID, reg.Number = uuid.New(), "RMA-2026-000001"
		events, err := domain.Decide(domain.State{}, reg, now, pol)
		if err != nil {
			t.Fatalf("claim %d: register: %v", i, err)
		}
		state, past := domain.Fold(events), events
		for k, s := range lifecycle(i) {
			at := now.Add(time.Duration(k+1) * time.Minute)
			if s.by == bySLA {
				at = at.Add(slaLate)
			}
			if c, ok := s.cmd.(domain.ClockDependent); ok {
				c.SetClocks(domain.FoldClocks(past, pol))
			}
			events, err := domain.Decide(state, s.cmd, at, pol)
			if err != nil {
				t.Fatalf("claim %d (%s) step %d %s: %v", i, outcomeOf(i), k, s.cmd.Action(), err)
			}
			for _, e := range events {
				state = domain.Evolve(state, e)
			}
			past = append(past, events...)
			// The HTTP load sends the command as JSON: it must survive the
			// round trip the API makes (strict decoding into the same type).
			body, err := json.Marshal(s.cmd)
			if err != nil {
				t.Fatal(err)
			}
			back, _ := domain.NewCommand(s.cmd.Action())
			if err := json.Unmarshal(body, back); err != nil {
				t.Fatalf("claim %d step %d: %s does not decode: %v", i, k, body, err)
			}
		}
		if state.Status != domain.StatusClosed {
			t.Errorf("claim %d (%s) ends %s, want closed", i, outcomeOf(i), state.Status)
		}
		seen[outcomeOf(i)]++
	}
	for _, o := range []string{outcomeRepaired, outcomeReplaced, outcomeRefunded, outcomeRejected, outcomeDisputed, outcomeAutoClosed} {
		if seen[o] == 0 {
			t.Errorf("the mix never reaches %s, which the issue asks for", o)
		}
	}
}

func TestIMEIIsLuhnValid(t *testing.T) {
	for _, n := range []int{0, 1, 7, 123456, 999999} {
		s := imei(n)
		sum := 0
		for i := len(s) - 1; i >= 0; i-- {
			d := int(s[i] - '0')
			if (len(s)-1-i)%2 == 1 {
				if d *= 2; d > 9 {
					d -= 9
				}
			}
			sum += d
		}
		if len(s) != 15 || sum%10 != 0 {
			t.Errorf("imei(%d) = %s is not a Luhn-valid IMEI", n, s)
		}
	}
}
