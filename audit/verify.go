package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// Kinds of break, the stable names Break.Kind takes.
const (
	// BreakUnsealed: the event's metadata carries no hashes.
	BreakUnsealed = "unsealed"
	// BreakContentHash: the event's content does not hash to the
	// content_hash it carries: data, type, id or metadata were altered.
	BreakContentHash = "content-hash"
	// BreakPrevHash: the event's prev_hash is not the content hash of the
	// stream's previous event: events were removed, inserted or reordered.
	BreakPrevHash = "prev-hash"
	// BreakRevision: the stream's revisions do not follow 0, 1, 2...
	BreakRevision = "revision"
	// BreakCheckpointSignature: a checkpoint's signature does not verify,
	// or names a key the verifier does not hold.
	BreakCheckpointSignature = "checkpoint-signature"
	// BreakCheckpoint: the ledger-wide chain recomputed up to a
	// checkpoint's position differs from what the checkpoint signed.
	BreakCheckpoint = "checkpoint"
	// BreakTruncated: a checkpoint covers a position the log no longer reaches.
	BreakTruncated = "truncated"
	// BreakMissingPosition: a store with gapless positions has a gap.
	BreakMissingPosition = "missing-position"
	// BreakFileMissing: a file attached to a claim is not in the file store.
	BreakFileMissing = "file-missing"
	// BreakFileChanged: a file's stored bytes no longer hash to the SHA-256
	// its event recorded.
	BreakFileChanged = "file-changed"
)

// Break is the first place where the ledger is not what its hashes say.
type Break struct {
	Kind     string `json:"kind"`
	Stream   string `json:"stream,omitempty"`
	Revision uint64 `json:"revision"`
	// Position is the $all position of the event (or, for a checkpoint
	// break, the position the checkpoint covers).
	Position string `json:"position,omitempty"`
	EventID  string `json:"event_id,omitempty"`
	// Expected is what the chain says should be there; Found is what is.
	Expected string `json:"expected"`
	Found    string `json:"found"`
	Detail   string `json:"detail,omitempty"`
}

// Error reads as one line: where, what was expected and what was found.
func (b *Break) Error() string {
	loc := b.Stream
	if loc != "" {
		loc = fmt.Sprintf("%s revision %d", b.Stream, b.Revision)
	}
	if b.Position != "" {
		if loc != "" {
			loc += ", "
		}
		loc += "position " + b.Position
	}
	s := fmt.Sprintf("%s break at %s: expected %s, found %s", b.Kind, loc, b.Expected, b.Found)
	if b.Detail != "" {
		s += " (" + b.Detail + ")"
	}
	return s
}

// Report is the outcome of a verification.
type Report struct {
	// OK is true when no break was found.
	OK    bool   `json:"ok"`
	Break *Break `json:"break,omitempty"`
	// Events counts the events checked, Streams the streams they belong to.
	Events  int `json:"events"`
	Streams int `json:"streams"`
	// Files counts the attached files whose stored bytes were checked
	// (VerifyOptions.Files); an erased customer's file is among them.
	Files int `json:"files,omitempty"`
	// Checkpoints counts the checkpoints whose signature and head were
	// checked; LastCheckpoint is the newest of them.
	Checkpoints    int         `json:"checkpoints"`
	LastCheckpoint *Checkpoint `json:"last_checkpoint,omitempty"`
	// From is where the ledger-wide chain started: "0/0", or the position
	// of the checkpoint a partial verification started from.
	From string `json:"from"`
	// Head, Count and Position are the ledger-wide chain after the last
	// event checked.
	Head     Hash   `json:"head_hash"`
	Count    uint64 `json:"event_count"`
	Position string `json:"position"`
	// Uncovered counts chained events after the newest checkpoint: their
	// integrity rests on the per-stream chains alone until the next one.
	Uncovered uint64 `json:"uncovered"`
	// Warnings say what the verification could not prove.
	Warnings []string `json:"warnings,omitempty"`
	// Took is how long the verification ran.
	Took time.Duration `json:"-"`
}

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// Keys verify the checkpoints' signatures. Without keys every
	// checkpoint is a break: an unverifiable signature proves nothing.
	Keys Keys
	// From, when not zero, starts at the newest checkpoint at or before it
	// instead of at the beginning of the log (an incremental check).
	From eventstore.Position
	// DensePositions says the store numbers $all 1, 2, 3... without gaps
	// (the embedded store does), so that a gap is a removed event.
	DensePositions bool
	// PageSize is how many events a read fetches (default 4096).
	PageSize int
	// Files, when set, is where attached files are stored: each file an
	// event attached is read and hashed against the SHA-256 the event
	// recorded (files.go). Nil checks the events alone.
	Files FileStore
}

// streamState is what the verifier knows of a stream so far.
type streamState struct {
	next uint64 // revision expected next
	last Hash   // content hash of the last event
}

// verifier checks events one at a time, in $all order.
type verifier struct {
	ctx    context.Context
	store  eventstore.Store
	opts   VerifyOptions
	chain  Chain
	report Report

	streams    map[string]*streamState
	pending    []pendingCheckpoint // not yet compared, by position
	lastSeen   eventstore.Position // of any event read, checkpoint events included
	firstGap   string              // the first missing position range (DensePositions)
	incomplete bool                // started after the beginning of the log
	hasher     Hasher
	files      int // attached files whose bytes were checked
}

type pendingCheckpoint struct {
	cp       Checkpoint
	pos      eventstore.Position
	revision uint64
}

// Verify recomputes every event's content hash, every stream's chain and
// the ledger-wide chain, and compares the latter with every signed
// checkpoint. It reports the first break; an error means the check could
// not be run (the store failed), not that the ledger is broken.
func Verify(ctx context.Context, store eventstore.Store, opts VerifyOptions) (Report, error) {
	started := time.Now()
	if opts.PageSize <= 0 {
		opts.PageSize = 4096
	}
	v := &verifier{ctx: ctx, store: store, opts: opts, streams: make(map[string]*streamState)}
	if err := v.loadCheckpoints(); err != nil || v.report.Break != nil {
		return v.finish(started), err
	}
	v.report.From = FormatPosition(v.chain.Position)
	var checkErr error
	err := pipeline(ctx, store, v.chain.Position, opts.PageSize, opts.DensePositions, func(events []eventstore.RecordedEvent, sums []eventSum) bool {
		for i := range events {
			if checkErr = v.event(&events[i], sums[i]); checkErr != nil || v.report.Break != nil {
				return false
			}
		}
		return true
	})
	if err == nil {
		err = checkErr
	}
	if err != nil {
		return v.finish(started), err
	}
	if v.report.Break == nil {
		v.end()
	}
	return v.finish(started), nil
}

// loadCheckpoints reads and checks every checkpoint's signature, and picks
// the one to start from.
func (v *verifier) loadCheckpoints() error {
	recs, err := v.store.ReadStream(v.ctx, eventlog.CheckpointStream, eventstore.Forwards, 0, 0)
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return fmt.Errorf("audit: read checkpoints: %w", err)
	}
	var all []pendingCheckpoint
	for _, rec := range recs {
		cp, err := decodeCheckpoint(rec.Data)
		if err == nil {
			err = v.opts.Keys.Verify(cp)
		}
		if err != nil {
			v.fail(&Break{Kind: BreakCheckpointSignature, Stream: rec.Stream, Revision: rec.Revision,
				Position: FormatPosition(rec.Position), EventID: rec.ID.String(),
				Expected: "a checkpoint signed by a known key", Found: cp.KeyID, Detail: err.Error()})
			return nil
		}
		pos, _ := cp.At()
		all = append(all, pendingCheckpoint{cp: cp, pos: pos, revision: rec.Revision})
	}
	slices.SortStableFunc(all, func(a, b pendingCheckpoint) int { return a.pos.Compare(b.pos) })
	start := -1
	if v.opts.From != eventstore.Start {
		for i, p := range all {
			if p.pos.Compare(v.opts.From) <= 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		a := all[start]
		v.chain = Chain{Head: a.cp.Head, Count: a.cp.Count, Position: a.pos}
		v.lastSeen = a.pos
		v.incomplete = a.pos != eventstore.Start
		v.matched(a)
	}
	for _, p := range all {
		if p.pos.Compare(v.chain.Position) > 0 {
			v.pending = append(v.pending, p)
		}
	}
	if len(all) == 0 {
		v.warn("no signed checkpoint: the ledger-wide chain is anchored nowhere, so a removed whole stream or the removal of streams' last events cannot be detected; create one with POST /v1/audit/checkpoints")
	}
	if v.incomplete {
		v.warn(fmt.Sprintf("verified from the checkpoint at %s: events before it are covered by that checkpoint's signature, not recomputed", FormatPosition(v.chain.Position)))
	}
	return nil
}

// event checks one event, given its hashes, against what came before it.
func (v *verifier) event(rec *eventstore.RecordedEvent, sum eventSum) error {
	if v.opts.DensePositions && rec.Position.Commit != v.lastSeen.Commit+1 && v.firstGap == "" {
		v.firstGap = positionRange(v.lastSeen.Commit+1, rec.Position.Commit-1)
	}
	v.lastSeen = rec.Position
	inChain := rec.Stream != eventlog.CheckpointStream
	if inChain {
		// The chain now holds everything before rec: compare it with the
		// checkpoints that cover positions before rec.
		for len(v.pending) > 0 && v.pending[0].pos.Compare(rec.Position) < 0 {
			if !v.compare(v.pending[0]) {
				return nil
			}
			v.pending = v.pending[1:]
		}
	}
	content, link, sealed := sum.content, sum.link, sum.sealed
	v.report.Events++
	at := func(kind, expected, found, detail string) {
		v.fail(&Break{Kind: kind, Stream: rec.Stream, Revision: rec.Revision, Position: FormatPosition(rec.Position),
			EventID: rec.ID.String(), Expected: expected, Found: found, Detail: detail})
	}
	if !sealed {
		at(BreakUnsealed, "metadata ending in content_hash and prev_hash", "no hashes", "the event was written without the hash chain, or its metadata was altered")
		return nil
	}
	if content != link.Content {
		at(BreakContentHash, link.Content.String(), content.String(), "the event's stream, type, id, data or metadata differ from what was sealed")
		return nil
	}
	st, known := v.streams[rec.Stream]
	if !known {
		st = &streamState{}
		v.streams[rec.Stream] = st
		if rec.Revision > 0 {
			if !v.incomplete {
				at(BreakRevision, "revision 0", fmt.Sprintf("revision %d", rec.Revision), v.gapDetail("the stream's first events are missing"))
				return nil
			}
			// An incremental check starts mid-stream: link to the event
			// before, which lies before the starting checkpoint.
			prev, err := v.previous(rec)
			if err != nil {
				return err
			}
			if prev == nil {
				at(BreakRevision, fmt.Sprintf("revision %d", rec.Revision-1), "none", "the event before it is missing")
				return nil
			}
			st.last, _, _ = v.hasher.Event(prev)
			st.next = rec.Revision
		}
	}
	if rec.Revision != st.next {
		at(BreakRevision, fmt.Sprintf("revision %d", st.next), fmt.Sprintf("revision %d", rec.Revision), v.gapDetail("events are missing or out of order"))
		return nil
	}
	if link.Prev != st.last {
		detail := "the stream's previous event is not the one this event was chained to: events were removed, inserted or reordered"
		if st.next == 0 {
			detail = "the stream's first event must link to the genesis hash"
		}
		at(BreakPrevHash, st.last.String(), link.Prev.String(), v.gapDetail(detail))
		return nil
	}
	st.next, st.last = rec.Revision+1, content
	if inChain {
		v.chain.Add(content, rec.Position)
	}
	return v.file(rec)
}

// previous reads the stream's event before rec.
func (v *verifier) previous(rec *eventstore.RecordedEvent) (*eventstore.RecordedEvent, error) {
	recs, err := v.store.ReadStream(v.ctx, rec.Stream, eventstore.Forwards, rec.Revision-1, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read %s: %w", rec.Stream, err)
	}
	if len(recs) == 0 || recs[0].Revision != rec.Revision-1 {
		return nil, nil
	}
	return &recs[0], nil
}

// compare checks the chain against a checkpoint at or before the events
// read so far; false means it failed.
func (v *verifier) compare(p pendingCheckpoint) bool {
	if v.chain.Head == p.cp.Head && v.chain.Count == p.cp.Count {
		v.matched(p)
		return true
	}
	found := fmt.Sprintf("head %s after %d events", v.chain.Head, v.chain.Count)
	detail := fmt.Sprintf("checkpoint %s revision %d, signed %s", eventlog.CheckpointStream, p.revision, p.cp.Time)
	if last := v.report.LastCheckpoint; last != nil {
		detail += fmt.Sprintf("; the change lies between position %s (last matching checkpoint) and %s", last.Position, p.cp.Position)
	}
	switch {
	case v.chain.Count < p.cp.Count:
		detail += fmt.Sprintf("; %d events are missing", p.cp.Count-v.chain.Count)
	case v.chain.Count > p.cp.Count:
		detail += fmt.Sprintf("; %d events were added", v.chain.Count-p.cp.Count)
	default:
		detail += "; as many events as signed, so one was altered or the order changed"
	}
	v.fail(&Break{Kind: BreakCheckpoint, Position: p.cp.Position,
		Expected: fmt.Sprintf("head %s after %d events", p.cp.Head, p.cp.Count), Found: found, Detail: v.gapDetail(detail)})
	return false
}

func (v *verifier) matched(p pendingCheckpoint) {
	v.report.Checkpoints++
	cp := p.cp
	v.report.LastCheckpoint = &cp
}

// end compares the checkpoints left: those at the last chained event, and
// those beyond the end of the log, which has lost its tail.
func (v *verifier) end() {
	for _, p := range v.pending {
		if p.pos.Compare(v.lastSeen) <= 0 {
			if !v.compare(p) {
				return
			}
			continue
		}
		v.fail(&Break{Kind: BreakTruncated, Position: p.cp.Position,
			Expected: fmt.Sprintf("events up to position %s (%d events, head %s)", p.cp.Position, p.cp.Count, p.cp.Head),
			Found:    fmt.Sprintf("the log ends at position %s after %d events", FormatPosition(v.chain.Position), v.chain.Count),
			Detail:   v.gapDetail(fmt.Sprintf("checkpoint %s revision %d covers events that are gone", eventlog.CheckpointStream, p.revision))})
		return
	}
	if v.firstGap != "" {
		v.fail(&Break{Kind: BreakMissingPosition, Position: v.firstGap, Expected: "an event at every position", Found: "none at " + v.firstGap,
			Detail: "events were removed after the newest checkpoint; create checkpoints more often to pin down which"})
	}
}

func (v *verifier) gapDetail(detail string) string {
	if v.firstGap != "" {
		detail += "; no event at position " + v.firstGap
	}
	return detail
}

func (v *verifier) fail(b *Break) {
	if v.report.Break == nil {
		v.report.Break = b
	}
}

func (v *verifier) warn(w string) { v.report.Warnings = append(v.report.Warnings, w) }

func (v *verifier) finish(started time.Time) Report {
	r := v.report
	r.OK = r.Break == nil
	r.Streams = len(v.streams)
	r.Files = v.files
	r.Head, r.Count, r.Position = v.chain.Head, v.chain.Count, FormatPosition(v.chain.Position)
	if r.From == "" {
		r.From = FormatPosition(eventstore.Start)
	}
	if r.LastCheckpoint != nil {
		r.Uncovered = v.chain.Count - r.LastCheckpoint.Count
	} else {
		r.Uncovered = v.chain.Count
	}
	r.Took = time.Since(started)
	return r
}

func positionRange(from, to uint64) string {
	if from == to {
		return fmt.Sprint(from)
	}
	return fmt.Sprintf("%d-%d", from, to)
}

// VerifyStream checks one stream's chain: every event's content hash, and
// that revisions run 0, 1, 2... each linked to the one before, and, given
// the file store, the files its events attached. It cannot see a removed
// last event, or the whole stream removed: that takes Verify and its
// checkpoints.
func VerifyStream(ctx context.Context, store eventstore.Store, stream string, files ...FileStore) (Report, error) {
	started := time.Now()
	v := &verifier{ctx: ctx, store: store, streams: make(map[string]*streamState)}
	if len(files) > 0 {
		v.opts.Files = files[0]
	}
	recs, err := store.ReadStream(ctx, stream, eventstore.Forwards, 0, 0)
	if err != nil {
		return v.finish(started), err
	}
	// The stream is checked on its own: no ledger-wide chain, no
	// checkpoints.
	for i := range recs {
		var sum eventSum
		sum.content, sum.link, sum.sealed = v.hasher.Event(&recs[i])
		if err := v.event(&recs[i], sum); err != nil || v.report.Break != nil {
			break
		}
	}
	v.warn("one stream checked on its own: the removal of its last events, or of the whole stream, shows only in a full verification against the signed checkpoints")
	r := v.finish(started)
	r.Head, r.Count, r.Position = Hash{}, 0, ""
	r.Uncovered = 0
	return r, nil
}
