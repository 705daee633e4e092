package eventstore

import "testing"

// TestFilterSelects: the filter every store applies, system events never
// selected.
func TestFilterSelects(t *testing.T) {
	claims := Filter{StreamPrefixes: []string{"claim-", "sla-"}}
	opened := Filter{TypePrefixes: []string{"claim.opened"}}
	both := Filter{StreamPrefixes: []string{"claim-"}, TypePrefixes: []string{"claim.opened"}}
	system := Filter{StreamPrefixes: []string{"$"}, TypePrefixes: []string{"$"}}
	tests := []struct {
		filter      Filter
		stream, typ string
		want        bool
	}{
		{Filter{}, "claim-1", "claim.opened.v1", true},
		{Filter{}, "$stats-127.0.0.1:2113", "$statsCollected", false},
		{Filter{}, "$$claim-1", "claim.opened.v1", false}, // system stream, user type
		{Filter{}, "claim-1", "$streamDeleted", false},    // user stream, system type
		{claims, "claim-1", "x", true},
		{claims, "sla-1", "x", true},
		{claims, "claims-1", "x", false},
		{claims, "other-1", "x", false},
		{opened, "anything", "claim.opened.v1", true},
		{opened, "anything", "claim.closed.v1", false},
		{both, "claim-1", "claim.opened.v1", true},
		{both, "claim-1", "claim.closed.v1", false},
		{both, "other-1", "claim.opened.v1", false},
		{system, "$stats", "$statsCollected", false}, // never, even when asked for
	}
	for _, tt := range tests {
		if got := tt.filter.Selects(tt.stream, tt.typ); got != tt.want {
			t.Errorf("%+v.Selects(%q, %q) = %v, want %v", tt.filter, tt.stream, tt.typ, got, tt.want)
		}
	}
}
