package projections

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rmaledger/rmaledger/eventstore"
)

// ErrBadPosition means a position string is not one that
// eventstore.Position.String produces.
var ErrBadPosition = errors.New("projections: malformed position")

// ParsePosition reads a position as eventstore.Position.String writes it:
// "42" (commit and prepare equal, the embedded store) or "42/40"
// (KurrentDB). The API hands positions out in that form and takes them back
// as min_position, so the two must round-trip.
func ParsePosition(s string) (eventstore.Position, error) {
	commit, prepare, split := strings.Cut(s, "/")
	c, err := strconv.ParseUint(commit, 10, 64)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("%w: %q", ErrBadPosition, s)
	}
	if !split {
		return eventstore.Position{Commit: c, Prepare: c}, nil
	}
	p, err := strconv.ParseUint(prepare, 10, 64)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("%w: %q", ErrBadPosition, s)
	}
	return eventstore.Position{Commit: c, Prepare: p}, nil
}

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
