package audit_test

import (
	"testing"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventstore"
)

// TestFormatPositionReadsBack: the audit's documents spell a position with
// both halves ("42/42", "0/0", as checkpoints stored in existing data
// directories hold them), and the service's one parser reads that spelling
// back to the same position as the short form the API hands out.
func TestFormatPositionReadsBack(t *testing.T) {
	tests := []struct {
		p    eventstore.Position
		want string
	}{
		{eventstore.Start, "0/0"},
		{eventstore.Position{Commit: 52, Prepare: 52}, "52/52"},
		{eventstore.Position{Commit: 52, Prepare: 50}, "52/50"},
	}
	for _, tt := range tests {
		s := audit.FormatPosition(tt.p)
		if s != tt.want {
			t.Errorf("FormatPosition(%+v) = %q, want %q", tt.p, s, tt.want)
		}
		for _, text := range []string{s, tt.p.String()} {
			if got, err := eventstore.ParsePosition(text); err != nil || got != tt.p {
				t.Errorf("ParsePosition(%q) = %+v, %v; want %+v", text, got, err, tt.p)
			}
		}
	}
}
