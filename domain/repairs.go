package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// RepairOnRecord is an earlier repair of the same unit that the ledger itself holds: a claim on
// the same serial number or IMEI that was repaired and delivered back to the customer. A new
// claim's eligibility counts it like a prior repair the customer shows (its days in warranty
// repair extend the warranty; a paid one carries the repair warranty from its delivery), and
// the registration records the ones it counted.
type RepairOnRecord struct {
	ClaimID     uuid.UUID `json:"claim_id"`
	Number      string    `json:"number"`
	ReceivedAt  time.Time `json:"received_at"`
	DeliveredAt time.Time `json:"delivered_at"`
	// Paid: the repair was paid work (an accepted and paid estimate, or a claim authorized as
	// paid repair), which the policy's repair warranty covers.
	Paid bool `json:"paid"`
}

// RepairOnRecordOf returns the repair that the earlier claim holds of unit, if it is one: the
// same serial number or IMEI (and the same SKU when both name one), repaired, and delivered.
func RepairOnRecordOf(unit Product, earlier State) (RepairOnRecord, bool) {
	p := earlier.Product
	serial := strings.TrimSpace(unit.Serial)
	sameUnit := (serial != "" && serial == p.Serial) ||
		(unit.IMEI != "" && sameIMEI(unit.IMEI, p.IMEI))
	switch {
	case !earlier.Exists() || !sameUnit:
		return RepairOnRecord{}, false
	case unit.SKU != "" && p.SKU != "" && !strings.EqualFold(strings.TrimSpace(unit.SKU), p.SKU):
		return RepairOnRecord{}, false
	case earlier.Resolution == nil || earlier.Resolution.Kind != ResolutionRepaired:
		return RepairOnRecord{}, false
	case earlier.Intake == nil || earlier.Delivery == nil:
		return RepairOnRecord{}, false
	}
	paid := earlier.Authorization != nil && earlier.Authorization.PaidRepair
	if e := earlier.Estimate; e != nil && e.Decision == EstimateDecisionAccepted && earlier.PaidTotal.Amount > 0 {
		paid = true
	}
	return RepairOnRecord{
		ClaimID:     earlier.ID,
		Number:      earlier.Number,
		ReceivedAt:  earlier.Intake.ReceivedAt,
		DeliveredAt: earlier.Delivery.DeliveredAt,
		Paid:        paid,
	}, true
}

// sameIMEI compares IMEIs as registration stores them (15 digits).
func sameIMEI(a, b string) bool {
	na, ok := NormalizeIMEI(a)
	return ok && na == b
}

// cleanRepairsOnRecord keeps the repairs a registration at instant at may count: each earlier
// claim once, never the claim itself, none delivered after the decision; ordered by delivery.
func cleanRepairsOnRecord(self uuid.UUID, list []RepairOnRecord, at time.Time) []RepairOnRecord {
	var out []RepairOnRecord
	for _, r := range list {
		if r.ClaimID == self || r.DeliveredAt.After(at) || slices.ContainsFunc(out, func(o RepairOnRecord) bool { return o.ClaimID == r.ClaimID }) {
			continue
		}
		r.ReceivedAt, r.DeliveredAt = r.ReceivedAt.UTC(), r.DeliveredAt.UTC()
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b RepairOnRecord) int { return a.DeliveredAt.Compare(b.DeliveredAt) })
	return out
}

// repairEvidence is the prior repairs eligibility counts: the ones the ledger holds, with their
// dates as days in the policy's time zone and the earlier claim's number as reference, and the
// ones shown as evidence, except those that name a claim the ledger holds (its record wins).
func repairEvidence(p Policy, shown []PriorRepair, onRecord []RepairOnRecord) []PriorRepair {
	if len(onRecord) == 0 {
		return shown
	}
	out := make([]PriorRepair, 0, len(shown)+len(onRecord))
	for _, r := range onRecord {
		out = append(out, PriorRepair{Reference: r.Number, ReceivedOn: p.DayOf(r.ReceivedAt), DeliveredOn: p.DayOf(r.DeliveredAt), Paid: r.Paid})
	}
	for _, r := range shown {
		if !slices.ContainsFunc(onRecord, func(o RepairOnRecord) bool { return strings.EqualFold(o.Number, r.Reference) }) {
			out = append(out, r)
		}
	}
	return out
}
