package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rmaledger/rmaledger/domain"
)

// maxRepairCandidates bounds the claims on one serial number or IMEI that a repair lookup
// reads: the most recently changed ones, far more than one unit ever comes back.
const maxRepairCandidates = 200

// RepairsOf returns the repairs the claims read model holds of a unit: claims on the same
// serial number or IMEI that were repaired and delivered (domain.RepairOnRecordOf). The
// ledger's registration counts them in eligibility (ledger.RepairFinder).
func (r *Runner) RepairsOf(ctx context.Context, unit domain.Product) ([]domain.RepairOnRecord, error) {
	return r.claims.repairsOf(ctx, unit)
}

func (q *claimsQueries) repairsOf(ctx context.Context, unit domain.Product) ([]domain.RepairOnRecord, error) {
	var (
		either []string
		args   []any
	)
	if serial := strings.TrimSpace(unit.Serial); serial != "" {
		either = append(either, `product_serial = ?`)
		args = append(args, serial)
	}
	if imei, ok := domain.NormalizeIMEI(unit.IMEI); ok {
		either = append(either, `product_imei = ?`)
		args = append(args, imei)
	}
	if len(either) == 0 {
		return nil, nil
	}
	g, release := q.p.acquire()
	defer release()
	t := g.tables.(*claimTables)
	rows, err := q.db.r.QueryContext(ctx, `SELECT state FROM `+t.table+` WHERE `+strings.Join(either, ` OR `)+
		` ORDER BY updated_at DESC`+limitClause(maxRepairCandidates), args...)
	if err != nil {
		return nil, fmt.Errorf("projections: repairs of a unit: %w", err)
	}
	defer rows.Close()
	var out []domain.RepairOnRecord
	for rows.Next() {
		var (
			raw   []byte
			state domain.State
		)
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("projections: repairs of a unit: %w", err)
		}
		if err := json.Unmarshal(raw, &state); err != nil {
			return nil, fmt.Errorf("projections: repairs of a unit: decode: %w", err)
		}
		if r, ok := domain.RepairOnRecordOf(unit, state); ok {
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: repairs of a unit: %w", err)
	}
	return out, nil
}
