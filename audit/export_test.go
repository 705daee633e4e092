package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

func (f *ledgerFixture) export(opts audit.ExportOptions) ([]byte, audit.ExportSummary) {
	f.t.Helper()
	var buf bytes.Buffer
	sum, err := audit.Export(context.Background(), f.store, &buf, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return buf.Bytes(), sum
}

func (f *ledgerFixture) check(export []byte) audit.CheckReport {
	f.t.Helper()
	r, err := audit.Check(bytes.NewReader(export), audit.NewKeys(f.signer.Public()))
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// exportCase is a ledger with two checkpoints: after claims a and b, and
// after c.
type exportCase struct {
	f       *ledgerFixture
	a, b, c string
	cp1     audit.Checkpoint
}

func newExportCase(t *testing.T) *exportCase {
	f := newLedgerFixture(t)
	ec := &exportCase{f: f}
	ec.a = eventlog.Claims.Stream(f.claim(13))
	ec.b = eventlog.Claims.Stream(f.claim(2))
	ec.cp1 = f.checkpoint()
	ec.c = eventlog.Claims.Stream(f.claim(5))
	// More of a after the first checkpoint.
	f.checkpoint()
	return ec
}

func lines(b []byte) []string { return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") }

func TestExportOfWholeLedgerChecks(t *testing.T) {
	ec := newExportCase(t)
	out, sum := ec.f.export(audit.ExportOptions{})
	// 14 + 3 + 6 claim events and the number block, all in full.
	if sum.Events != 24 || sum.Hashes != 0 || sum.Checkpoints != 2 || sum.Uncovered != 0 {
		t.Fatalf("summary %+v\n%s", sum, out)
	}
	r := ec.f.check(out)
	if !r.OK || r.Events != 24 || r.Checkpoints != 2 || r.Count != 24 {
		t.Fatalf("check: %+v", r)
	}
	// The export's chain is the ledger's.
	v := ec.f.verify(audit.VerifyOptions{})
	if r.Head != v.Head {
		t.Errorf("export head %s, ledger head %s", r.Head, v.Head)
	}
}

// A withheld stream leaves only as hashes, even in an export of everything, and the export still
// checks: its content never leaves the ledger.
func TestExportWithholdsStreams(t *testing.T) {
	ec := newExportCase(t)
	out, sum := ec.f.export(audit.ExportOptions{Withheld: func(stream string) bool { return stream == ec.a }})
	if sum.Events != 24-14 || sum.Hashes != 14 || sum.Checkpoints != 2 {
		t.Fatalf("summary %+v", sum)
	}
	if strings.Contains(string(out), ec.a) {
		t.Errorf("the export names the withheld stream")
	}
	if r := ec.f.check(out); !r.OK || r.Events != 24-14 || r.Count != 24 {
		t.Fatalf("check: %+v", r)
	}
}

func TestExportOfOneClaimDisclosesNoOtherClaim(t *testing.T) {
	ec := newExportCase(t)
	out, sum := ec.f.export(audit.ExportOptions{Stream: ec.b})
	// It ends at the first checkpoint: 18 events chained, 3 of them b's.
	if sum.Events != 3 || sum.Hashes != 18-3 || sum.Uncovered != 0 || sum.Checkpoints != 1 {
		t.Fatalf("summary %+v", sum)
	}
	for _, other := range []string{ec.a, ec.c, "Ivan Petrov"} {
		if n := strings.Count(string(out), other); other != "Ivan Petrov" && n != 0 || other == "Ivan Petrov" && n != 1 {
			t.Errorf("the export mentions %q %d times", other, n)
		}
	}
	r := ec.f.check(out)
	if !r.OK || r.Events != 3 || r.Claim != ec.b || r.Checkpoints != 1 {
		t.Fatalf("check: %+v", r)
	}
}

func TestExportOfARangeStartsAtACheckpoint(t *testing.T) {
	ec := newExportCase(t)
	cp1, _ := ec.cp1.At()
	from := eventstore.Position{Commit: cp1.Commit + 3, Prepare: cp1.Commit + 3}
	out, sum := ec.f.export(audit.ExportOptions{From: from})
	var header audit.ExportLine
	if err := json.Unmarshal([]byte(lines(out)[0]), &header); err != nil {
		t.Fatal(err)
	}
	if header.Anchor == nil || header.Anchor.Position != ec.cp1.Position || header.Anchor.Head != ec.cp1.Head {
		t.Fatalf("anchor %+v, want the first checkpoint", header.Anchor)
	}
	// After the first checkpoint: its own event, then c's 6 events, the
	// first of which is before from.
	if sum.Events != 5 || sum.Hashes != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if r := ec.f.check(out); !r.OK || r.Anchor != ec.cp1.Position || r.Events != 5 {
		t.Fatalf("check: %+v", r)
	}
}

// TestTamperedExportFails alters an export the ways a file can be altered
// on its way to the auditor.
func TestTamperedExportFails(t *testing.T) {
	ec := newExportCase(t)
	out, _ := ec.f.export(audit.ExportOptions{})
	ls := lines(out)
	find := func(substr string) int {
		for i, l := range ls {
			if strings.Contains(l, substr) {
				return i
			}
		}
		t.Fatalf("no line with %q", substr)
		return -1
	}
	join := func(ls []string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }
	with := func(i int, l string) []byte {
		c := append([]string(nil), ls...)
		c[i] = l
		return join(c)
	}
	without := func(i int) []byte {
		c := append([]string(nil), ls[:i]...)
		return join(append(c, ls[i+1:]...))
	}
	diag := find("Corrosion")
	repair := find("Replaced the regulator")
	swapped := append([]string(nil), ls...)
	swapped[diag], swapped[diag+1] = swapped[diag+1], swapped[diag]
	cpLine := find(`"kind":"checkpoint"`)
	swappedPositions := append([]string(nil), ls...)
	swappedPositions[diag], swappedPositions[repair] = swappedPositions[repair], swappedPositions[diag]

	for _, tc := range []struct {
		name string
		file []byte
		kind string
	}{
		{"changed byte of data", with(diag, strings.Replace(ls[diag], "Corrosion", "Corrosiom", 1)), audit.BreakContentHash},
		{"changed actor", with(repair, strings.Replace(ls[repair], "agent-test", "agent-evil", 1)), audit.BreakContentHash},
		{"removed event", without(diag), audit.BreakRevision},
		{"swapped events", join(swapped), audit.BreakRevision},
		{"forged checkpoint", with(cpLine, strings.Replace(ls[cpLine], `"event_count":`, `"event_count":1`, 1)), audit.BreakCheckpointSignature},
		{"removed checkpoint covering the events", without(find(`"event_count":24`)), audit.BreakUncovered},
		{"no header", without(0), audit.BreakMalformed},
		{"events out of $all order", join(swappedPositions), audit.BreakRevision},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ec.f.check(tc.file)
			if r.OK || r.Break.Kind != tc.kind {
				t.Fatalf("want a %s break, got %+v", tc.kind, r.Break)
			}
		})
	}

	t.Run("removed event with its successor relinked", func(t *testing.T) {
		// Drop b's last event: no stream link shows it, the signed count does.
		last := find(`"stream":"` + ec.b + `","revision":2`)
		r := ec.f.check(without(last))
		if r.OK || r.Break.Kind != audit.BreakCheckpoint || r.Break.Position != ec.cp1.Position {
			t.Fatalf("want a checkpoint break at %s, got %+v", ec.cp1.Position, r.Break)
		}
	})
	t.Run("another key", func(t *testing.T) {
		other, _ := audit.GenerateKey()
		r, err := audit.Check(bytes.NewReader(out), audit.NewKeys(audit.NewSigner(other).Public()))
		if err != nil || r.OK || r.Break.Kind != audit.BreakCheckpointSignature {
			t.Fatalf("%v %+v", err, r.Break)
		}
	})
}

func TestExportOfUncoveredEventsDoesNotCheck(t *testing.T) {
	ec := newExportCase(t)
	late := eventlog.Claims.Stream(ec.f.claim(1))
	out, sum := ec.f.export(audit.ExportOptions{Stream: late})
	if sum.Uncovered != 2 {
		t.Fatalf("summary %+v", sum)
	}
	r := ec.f.check(out)
	if r.OK || r.Break.Kind != audit.BreakUncovered {
		t.Fatalf("want an uncovered break, got %+v", r.Break)
	}
	// A checkpoint later, the same export checks.
	ec.f.checkpoint()
	out, _ = ec.f.export(audit.ExportOptions{Stream: late})
	if r := ec.f.check(out); !r.OK || r.Events != 2 {
		t.Fatalf("after a checkpoint: %+v", r)
	}
}
