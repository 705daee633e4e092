package ledger

import (
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// governing returns the policy version a command on the claim is decided
// under: for a registration, the version in force now; for any later command,
// the version its registration was decided under, read from that event's
// metadata. A claim is thus handled to the end by the terms it was accepted
// under, and the metadata of each of its events names that version.
//
// Should the configuration no longer hold the recorded version (someone
// removed it), the version in force at the registration is used: the closest
// reading of "the policy of that day" that remains.
func (s *Service) governing(h history, now time.Time) domain.Policy {
	if !h.state.Exists() || len(h.records) == 0 {
		return s.cfg.Policies.InForce(now)
	}
	return s.cfg.Policies.Governing(h.first.PolicyVersion, h.state.RegisteredAt, now)
}
