package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// tamperCase builds a ledger of three claims (14, 5 and 9 events, plus the
// claim-number stream) with a checkpoint after them, and two more claims
// (4 events and 1) after the checkpoint, then tampers with events.db.
type tamperCase struct {
	f                   *ledgerFixture
	a, b, c, late, tail string // claim streams
	checkpointedAt      audit.Checkpoint
}

func newTamperCase(t *testing.T) *tamperCase {
	t.Helper()
	f := newLedgerFixture(t)
	tc := &tamperCase{f: f}
	tc.a = eventlog.Claims.Stream(f.claim(13))
	tc.b = eventlog.Claims.Stream(f.claim(4))
	tc.c = eventlog.Claims.Stream(f.claim(8))
	tc.checkpointedAt = f.checkpoint()
	tc.late = eventlog.Claims.Stream(f.claim(3))
	tc.tail = eventlog.Claims.Stream(f.claim(0))
	return tc
}

func TestUntouchedLedgerVerifiesClean(t *testing.T) {
	tc := newTamperCase(t)
	r := tc.f.verify(audit.VerifyOptions{})
	if !r.OK {
		t.Fatalf("untouched ledger: %v", r.Break)
	}
	// 14 + 5 + 9 + 4 + 1 claim events, the claim-number stream's block
	// and the checkpoint.
	if r.Events != 14+5+9+4+1+1+1 || r.Count != 14+5+9+4+1+1 || r.Streams != 7 {
		t.Errorf("events %d, chained %d, streams %d", r.Events, r.Count, r.Streams)
	}
	if r.Checkpoints != 1 || r.LastCheckpoint == nil || r.LastCheckpoint.Head != tc.checkpointedAt.Head {
		t.Errorf("checkpoints %d, last %+v", r.Checkpoints, r.LastCheckpoint)
	}
	if r.Uncovered != 5 {
		t.Errorf("uncovered %d, want the 5 events of the claims registered after the checkpoint", r.Uncovered)
	}
	for _, stream := range []string{tc.a, tc.b, tc.c, tc.late, tc.tail, eventlog.CheckpointStream} {
		sr, err := audit.VerifyStream(context.Background(), tc.f.store, stream)
		if err != nil || !sr.OK {
			t.Errorf("VerifyStream(%s): %v %v", stream, err, sr.Break)
		}
	}
}

// wantBreak checks the kind and exact location of the reported break.
func wantBreak(t *testing.T, r audit.Report, kind, stream string, revision uint64, position int64) *audit.Break {
	t.Helper()
	if r.OK || r.Break == nil {
		t.Fatalf("verification passed; want a %s break at %s@%d", kind, stream, revision)
	}
	b := r.Break
	if b.Kind != kind || b.Stream != stream || b.Revision != revision {
		t.Fatalf("break %q at %s@%d, want %q at %s@%d\n%v", b.Kind, b.Stream, b.Revision, kind, stream, revision, b)
	}
	if position > 0 && b.Position != fmt.Sprintf("%d/%d", position, position) {
		t.Fatalf("break at position %s, want %d\n%v", b.Position, position, b)
	}
	if b.Expected == b.Found {
		t.Fatalf("expected and found are the same: %v", b)
	}
	return b
}

func TestTamperChangedByteOfData(t *testing.T) {
	tc := newTamperCase(t)
	pos, _ := tc.f.eventAt(tc.a, 5)
	tc.f.tamper(func(db *sql.DB) {
		// "Corrosion" becomes "Corrosiom": one byte of the diagnosis.
		exec(t, db, `UPDATE events SET data = CAST(replace(CAST(data AS TEXT), 'Corrosion', 'Corrosiom') AS BLOB) WHERE stream = ? AND revision = 5`, tc.a)
	})
	b := wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakContentHash, tc.a, 5, pos)
	if !strings.Contains(b.Error(), tc.a+" revision 5") {
		t.Errorf("message does not name the place: %v", b)
	}
	// The stream on its own shows it too.
	sr, err := audit.VerifyStream(context.Background(), tc.f.store, tc.a)
	if err != nil || sr.OK || sr.Break.Revision != 5 {
		t.Errorf("VerifyStream: %v %+v", err, sr.Break)
	}
}

func TestTamperChangedMetadata(t *testing.T) {
	tc := newTamperCase(t)
	pos, _ := tc.f.eventAt(tc.b, 2)
	tc.f.tamper(func(db *sql.DB) {
		// Who did it is part of what is sealed.
		exec(t, db, `UPDATE events SET metadata = CAST(replace(CAST(metadata AS TEXT), 'agent-test', 'agent-evil') AS BLOB) WHERE stream = ? AND revision = 2`, tc.b)
	})
	wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakContentHash, tc.b, 2, pos)
}

func TestTamperDeletedEvent(t *testing.T) {
	tc := newTamperCase(t)
	pos, _ := tc.f.eventAt(tc.a, 4)
	next, _ := tc.f.eventAt(tc.a, 5)
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `DELETE FROM events WHERE stream = ? AND revision = 4`, tc.a)
	})
	b := wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakRevision, tc.a, 5, next)
	if b.Expected != "revision 4" || b.Found != "revision 5" {
		t.Errorf("expected %q found %q", b.Expected, b.Found)
	}
	if !strings.Contains(b.Detail, fmt.Sprintf("no event at position %d", pos)) {
		t.Errorf("detail does not name the emptied position %d: %s", pos, b.Detail)
	}
}

func TestTamperDeletedEventRenumbered(t *testing.T) {
	// A careful intruder closes the revision gap; the hash link still breaks.
	tc := newTamperCase(t)
	prev, _ := tc.f.eventAt(tc.a, 3)
	next, _ := tc.f.eventAt(tc.a, 5)
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `DELETE FROM events WHERE stream = ? AND revision = 4`, tc.a)
		exec(t, db, `UPDATE events SET revision = revision - 1 WHERE stream = ? AND revision > 4`, tc.a)
	})
	b := wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakPrevHash, tc.a, 4, next)
	recs, err := tc.f.store.ReadStream(context.Background(), tc.a, eventstore.Forwards, 3, 1)
	if err != nil || int64(recs[0].Position.Commit) != prev {
		t.Fatal(err)
	}
	var h audit.Hasher
	content, _, _ := h.Event(&recs[0])
	if b.Expected != content.String() {
		t.Errorf("expected %s (revision 3's content hash), got %s", content, b.Expected)
	}
}

func TestTamperSwappedEvents(t *testing.T) {
	tc := newTamperCase(t)
	pos1, _ := tc.f.eventAt(tc.c, 1)
	pos2, _ := tc.f.eventAt(tc.c, 2)
	tc.f.tamper(func(db *sql.DB) {
		// Swap the order of revisions 1 and 2: each row keeps its content,
		// but they trade places in the stream and in $all.
		exec(t, db, `UPDATE events SET revision = -1, position = -1 WHERE stream = ? AND revision = 1`, tc.c)
		exec(t, db, `UPDATE events SET revision = 1, position = ? WHERE stream = ? AND revision = 2`, pos1, tc.c)
		exec(t, db, `UPDATE events SET revision = 2, position = ? WHERE stream = ? AND revision = -1`, pos2, tc.c)
	})
	b := wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakPrevHash, tc.c, 1, pos1)
	if !strings.Contains(b.Detail, "reordered") {
		t.Errorf("detail: %s", b.Detail)
	}
}

func TestTamperSwappedContent(t *testing.T) {
	tc := newTamperCase(t)
	pos, _ := tc.f.eventAt(tc.c, 6)
	tc.f.tamper(func(db *sql.DB) {
		// Two events of different claims trade their data.
		exec(t, db, `UPDATE events SET data = (SELECT data FROM events WHERE stream = ? AND revision = 1) WHERE stream = ? AND revision = 6`, tc.a, tc.c)
	})
	wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakContentHash, tc.c, 6, pos)
}

func TestTamperDroppedStream(t *testing.T) {
	tc := newTamperCase(t)
	first, _ := tc.f.eventAt(tc.b, 0)
	last, _ := tc.f.eventAt(tc.b, 4)
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `DELETE FROM events WHERE stream = ?`, tc.b)
	})
	r := tc.f.verify(audit.VerifyOptions{})
	// Every remaining stream is intact; only the signed checkpoint, which
	// counted those 5 events into its head, shows the loss, and the
	// positions left empty say where.
	b := wantBreak(t, r, audit.BreakCheckpoint, "", 0, 0)
	if b.Position != tc.checkpointedAt.Position {
		t.Errorf("break at %s, want the checkpoint's position %s", b.Position, tc.checkpointedAt.Position)
	}
	if !strings.Contains(b.Detail, "5 events are missing") {
		t.Errorf("detail: %s", b.Detail)
	}
	if gap := fmt.Sprintf("no event at position %d-%d", first, last); !strings.Contains(b.Detail, gap) {
		t.Errorf("detail does not say %q: %s", gap, b.Detail)
	}
	if !strings.Contains(b.Expected, tc.checkpointedAt.Head.String()) {
		t.Errorf("expected %s, want the signed head", b.Expected)
	}
}

func TestTamperDroppedStreamRecomputedHashes(t *testing.T) {
	// The intruder drops a stream and renumbers positions so that no gap
	// shows: the signed checkpoint still does not match.
	tc := newTamperCase(t)
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `DELETE FROM events WHERE stream = ?`, tc.b)
		exec(t, db, `CREATE TEMP TABLE renumber AS SELECT position AS old, row_number() OVER (ORDER BY position) AS new FROM events`)
		exec(t, db, `UPDATE events SET position = -(SELECT new FROM renumber WHERE old = events.position)`)
		exec(t, db, `UPDATE events SET position = -position`)
	})
	b := wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakCheckpoint, "", 0, 0)
	if b.Position != tc.checkpointedAt.Position || !strings.Contains(b.Detail, "events are missing") {
		t.Errorf("break at %s: %s", b.Position, b.Detail)
	}
}

func TestTamperDeletedLastEventOfStream(t *testing.T) {
	// The last event of a stream has no successor to betray it; the
	// checkpoint does.
	tc := newTamperCase(t)
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `DELETE FROM events WHERE stream = ? AND revision = 8`, tc.c)
	})
	b := wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakCheckpoint, "", 0, 0)
	if !strings.Contains(b.Detail, "1 events are missing") {
		t.Errorf("detail: %s", b.Detail)
	}
}

func TestTamperTruncatedTail(t *testing.T) {
	// Every event from the checkpoint's position on is gone, but for the
	// checkpoint itself.
	tc := newTamperCase(t)
	cpPos, err := tc.checkpointedAt.At()
	if err != nil {
		t.Fatal(err)
	}
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `DELETE FROM events WHERE position >= ? AND stream <> ?`, int64(cpPos.Commit), eventlog.CheckpointStream)
	})
	b := wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakCheckpoint, "", 0, 0)
	if b.Position != tc.checkpointedAt.Position || !strings.Contains(b.Detail, "1 events are missing") ||
		!strings.Contains(b.Detail, fmt.Sprintf("no event at position %d", cpPos.Commit)) {
		t.Errorf("break at %s: %s", b.Position, b.Detail)
	}
}

func TestTamperRemovedUncoveredEvent(t *testing.T) {
	// After the newest checkpoint only the gapless positions show a
	// removed last event of a stream.
	tc := newTamperCase(t)
	pos, _ := tc.f.eventAt(tc.late, 3)
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `DELETE FROM events WHERE stream = ? AND revision = 3`, tc.late)
	})
	r := tc.f.verify(audit.VerifyOptions{})
	if r.OK || r.Break.Kind != audit.BreakMissingPosition || r.Break.Position != fmt.Sprint(pos) {
		t.Fatalf("want a missing-position break at %d, got %+v", pos, r.Break)
	}
}

func TestTamperForgedCheckpoint(t *testing.T) {
	tc := newTamperCase(t)
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `UPDATE events SET data = CAST(replace(CAST(data AS TEXT), '"event_count":29', '"event_count":28') AS BLOB) WHERE stream = ?`, eventlog.CheckpointStream)
	})
	b := wantBreak(t, tc.f.verify(audit.VerifyOptions{}), audit.BreakCheckpointSignature, eventlog.CheckpointStream, 0, 0)
	if !strings.Contains(b.Detail, "does not verify") {
		t.Errorf("detail: %s", b.Detail)
	}
}

func TestCheckpointsOfAnotherKeyAreRefused(t *testing.T) {
	tc := newTamperCase(t)
	other, _ := audit.GenerateKey()
	r := tc.f.verify(audit.VerifyOptions{Keys: audit.NewKeys(audit.NewSigner(other).Public())})
	wantBreak(t, r, audit.BreakCheckpointSignature, eventlog.CheckpointStream, 0, 0)
}

func TestVerifyFromCheckpoint(t *testing.T) {
	tc := newTamperCase(t)
	cpPos, _ := tc.checkpointedAt.At()
	r := tc.f.verify(audit.VerifyOptions{From: cpPos})
	if !r.OK {
		t.Fatalf("incremental: %v", r.Break)
	}
	if r.From != tc.checkpointedAt.Position || r.Count != 29+5 || r.Events != 6 {
		t.Errorf("from %s, count %d, events %d", r.From, r.Count, r.Events)
	}
	// A change after the starting checkpoint is still found, and the link
	// from the first event checked back to its stream's earlier events holds.
	pos, _ := tc.f.eventAt(tc.late, 2)
	tc.f.tamper(func(db *sql.DB) {
		exec(t, db, `UPDATE events SET data = CAST(replace(CAST(data AS TEXT), 'SP123', 'SP124') AS BLOB) WHERE stream = ? AND revision = 2`, tc.late)
	})
	wantBreak(t, tc.f.verify(audit.VerifyOptions{From: cpPos}), audit.BreakContentHash, tc.late, 2, pos)
}

func TestCheckpointerContinuesFromItsLastCheckpoint(t *testing.T) {
	tc := newTamperCase(t)
	// A new checkpointer (a restarted service) starts from the signed
	// head rather than the beginning, and reaches the same chain.
	cp := tc.f.checkpoint()
	full := tc.f.verify(audit.VerifyOptions{})
	if !full.OK || full.Checkpoints != 2 || full.Uncovered != 0 {
		t.Fatalf("%+v", full)
	}
	if cp.Head != full.Head || cp.Count != full.Count {
		t.Errorf("checkpoint %s/%d, recomputed %s/%d", cp.Head, cp.Count, full.Head, full.Count)
	}
}
