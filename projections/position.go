package projections

import (
	"fmt"
	"math"

	"github.com/rmaledger/rmaledger/eventstore"
)

// sqlPosition maps a position onto SQLite's signed integers. Positions past
// MaxInt64 do not occur (KurrentDB's are byte offsets in its log), but a
// silent wrap would corrupt the checkpoint order, so they are refused.
func sqlPosition(p eventstore.Position) (int64, int64, error) {
	if p.Commit > math.MaxInt64 || p.Prepare > math.MaxInt64 {
		return 0, 0, fmt.Errorf("projections: position %s does not fit in SQLite", p)
	}
	return int64(p.Commit), int64(p.Prepare), nil
}

// positionOf is the inverse of sqlPosition.
func positionOf(commit, prepare int64) eventstore.Position {
	return eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
}
