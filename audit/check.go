package audit

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// More kinds of break, found by Check in an export.
const (
	// BreakMalformed: the file is not an export as Export writes them
	// (bad JSON, lines out of order, a missing header).
	BreakMalformed = "malformed"
	// BreakAnchor: the chain state the export starts from is neither the
	// genesis nor a checkpoint in the file.
	BreakAnchor = "anchor"
	// BreakUncovered: exported events lie after the newest checkpoint in
	// the file, so nothing signed vouches for them.
	BreakUncovered = "uncovered"
)

// CheckReport is the outcome of checking an export offline.
type CheckReport struct {
	OK    bool   `json:"ok"`
	Break *Break `json:"break,omitempty"`
	// Claim is the stream the export was limited to, if any.
	Claim string `json:"claim,omitempty"`
	// Events counts the events exported in full and checked, Hashes the
	// events present as hashes only, Checkpoints the checkpoints whose
	// signature and head matched.
	Events      int `json:"events"`
	Hashes      int `json:"hashes"`
	Checkpoints int `json:"checkpoints"`
	// LastCheckpoint is the newest checkpoint that matched.
	LastCheckpoint *Checkpoint `json:"last_checkpoint,omitempty"`
	// Anchor is where the recomputed chain started; Head and Count where
	// it ended.
	Anchor string `json:"anchor"`
	Head   Hash   `json:"head_hash"`
	Count  uint64 `json:"event_count"`
	// Warnings say what the check could not prove.
	Warnings []string `json:"warnings,omitempty"`
}

// MaxExportLine bounds one line of an export: an event of the largest size
// a store accepts, escaped.
const MaxExportLine = 16 << 20

// Check verifies an export (as written by Export) with nothing but the
// public keys: every checkpoint's signature, every exported event's content
// hash and stream links, and the ledger-wide chain recomputed from the
// export's anchor through every event line and hash line, against each
// checkpoint's signed head and count. An error means the file could not be
// read; a malformed or altered file is a break.
func Check(r io.Reader, keys Keys) (CheckReport, error) {
	c := &checker{keys: keys, streams: make(map[string]*streamState)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), MaxExportLine)
	for sc.Scan() && c.report.Break == nil {
		c.line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l ExportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			c.malformed("not a JSON object: %v", err)
			break
		}
		c.take(&l)
	}
	if err := sc.Err(); err != nil {
		return c.finish(), fmt.Errorf("audit: read export: %w", err)
	}
	if c.report.Break == nil {
		c.end()
	}
	return c.finish(), nil
}

type checker struct {
	keys    Keys
	report  CheckReport
	line    int
	header  bool
	anchor  ChainState
	chain   Chain
	signed  bool // the anchor is genesis or was matched by a signed checkpoint
	last    eventstore.Position
	pending []pendingCheckpoint
	streams map[string]*streamState
	hasher  Hasher
	// uncovered counts full events after the newest matched checkpoint.
	uncovered int
}

func (c *checker) malformed(format string, args ...any) {
	c.fail(&Break{Kind: BreakMalformed, Expected: "an export written by rmaledger audit export",
		Found: fmt.Sprintf(format, args...), Detail: fmt.Sprintf("line %d", c.line)})
}

func (c *checker) fail(b *Break) {
	if c.report.Break == nil {
		c.report.Break = b
	}
}

func (c *checker) take(l *ExportLine) {
	if !c.header {
		if l.Kind != lineHeader || l.Format != ExportFormat || l.Anchor == nil {
			c.malformed("first line is not a %s header", ExportFormat)
			return
		}
		c.header = true
		c.report.Claim = l.Claim
		c.anchor = *l.Anchor
		pos, err := eventstore.ParsePosition(l.Anchor.Position)
		if err != nil {
			c.malformed("anchor: %v", err)
			return
		}
		c.chain = Chain{Head: l.Anchor.Head, Count: l.Anchor.Count, Position: pos}
		c.last = pos
		c.signed = pos == eventstore.Start && l.Anchor.Head == Genesis && l.Anchor.Count == 0
		c.report.Anchor = FormatPosition(pos)
		return
	}
	switch l.Kind {
	case lineCheckpoint:
		c.checkpoint(l)
	case lineEvent, lineHash:
		if !c.signed {
			c.fail(&Break{Kind: BreakAnchor, Position: c.anchor.Position,
				Expected: "a signed checkpoint at the anchor before the first event", Found: "none",
				Detail: fmt.Sprintf("line %d", c.line)})
			return
		}
		c.event(l)
	default:
		c.malformed("a line of kind %q", l.Kind)
	}
}

func (c *checker) checkpoint(l *ExportLine) {
	if l.Checkpoint == nil {
		c.malformed("a checkpoint line without a checkpoint")
		return
	}
	cp := *l.Checkpoint
	pos, err := cp.At()
	if err != nil {
		c.malformed("checkpoint position: %v", err)
		return
	}
	var rev uint64
	if l.CheckpointRevision != nil {
		rev = *l.CheckpointRevision
	}
	if err := c.keys.Verify(cp); err != nil {
		c.fail(&Break{Kind: BreakCheckpointSignature, Stream: eventlog.CheckpointStream, Revision: rev, Position: cp.Position,
			Expected: "a checkpoint signed by the given public key", Found: cp.KeyID, Detail: fmt.Sprintf("line %d: %v", c.line, err)})
		return
	}
	p := pendingCheckpoint{cp: cp, pos: pos, revision: rev}
	switch pos.Compare(c.last) {
	case -1:
		c.malformed("checkpoint at %s after events up to %s", cp.Position, FormatPosition(c.last))
	case 0:
		// It covers exactly what was chained so far: the anchor, or a
		// checkpoint at the last event.
		if c.compare(p) && !c.signed {
			c.signed = true
		}
	default:
		c.pending = append(c.pending, p)
	}
}

// compare checks the chain against a checkpoint covering it.
func (c *checker) compare(p pendingCheckpoint) bool {
	if c.chain.Head != p.cp.Head || c.chain.Count != p.cp.Count {
		detail := fmt.Sprintf("line %d: checkpoint %s revision %d", c.line, eventlog.CheckpointStream, p.revision)
		if c.chain.Count != p.cp.Count {
			detail += fmt.Sprintf("; the export holds %d events where %d were signed", c.chain.Count, p.cp.Count)
		}
		c.fail(&Break{Kind: BreakCheckpoint, Position: p.cp.Position,
			Expected: fmt.Sprintf("head %s after %d events", p.cp.Head, p.cp.Count),
			Found:    fmt.Sprintf("head %s after %d events", c.chain.Head, c.chain.Count), Detail: detail})
		return false
	}
	c.report.Checkpoints++
	cp := p.cp
	c.report.LastCheckpoint = &cp
	c.uncovered = 0
	return true
}

func (c *checker) event(l *ExportLine) {
	pos, err := eventstore.ParsePosition(l.Position)
	if err != nil {
		c.malformed("position: %v", err)
		return
	}
	if pos.Compare(c.last) <= 0 {
		c.malformed("position %s does not follow %s", l.Position, FormatPosition(c.last))
		return
	}
	for len(c.pending) > 0 && c.pending[0].pos.Compare(pos) < 0 {
		if !c.compare(c.pending[0]) {
			return
		}
		c.pending = c.pending[1:]
	}
	c.last = pos
	if l.Kind == lineHash {
		if l.ContentHash == nil {
			c.malformed("a hash line without content_hash")
			return
		}
		c.report.Hashes++
		c.chain.Add(*l.ContentHash, pos)
		return
	}
	content, ok := c.full(l, pos)
	if !ok {
		return
	}
	c.report.Events++
	c.uncovered++
	c.chain.Add(content, pos)
}

// full checks an event exported in full and returns its content hash.
func (c *checker) full(l *ExportLine, pos eventstore.Position) (Hash, bool) {
	if l.Stream == "" || l.Revision == nil || l.EventID == nil || l.Type == "" {
		c.malformed("an event line without stream, revision, event_id or type")
		return Hash{}, false
	}
	data, err := bytesOf(l.Data, l.DataBase64)
	if err != nil {
		c.malformed("data: %v", err)
		return Hash{}, false
	}
	meta, err := bytesOf(l.Metadata, l.MetadataBase64)
	if err != nil {
		c.malformed("metadata: %v", err)
		return Hash{}, false
	}
	rec := eventstore.RecordedEvent{ID: *l.EventID, Stream: l.Stream, Type: l.Type, Revision: *l.Revision, Position: pos, Data: data, Metadata: meta}
	at := func(kind, expected, found, detail string) {
		c.fail(&Break{Kind: kind, Stream: rec.Stream, Revision: rec.Revision, Position: l.Position, EventID: rec.ID.String(),
			Expected: expected, Found: found, Detail: fmt.Sprintf("line %d: %s", c.line, detail)})
	}
	content, link, sealed := c.hasher.Event(&rec)
	switch {
	case !sealed:
		at(BreakUnsealed, "metadata ending in content_hash and prev_hash", "no hashes", "the event is not sealed")
		return Hash{}, false
	case content != link.Content:
		at(BreakContentHash, link.Content.String(), content.String(), "the event's content differs from what was sealed")
		return Hash{}, false
	case l.ContentHash == nil || *l.ContentHash != link.Content || l.PrevHash == nil || *l.PrevHash != link.Prev:
		at(BreakContentHash, link.Content.String(), fmt.Sprint(l.ContentHash), "the line's content_hash or prev_hash differ from the event's metadata")
		return Hash{}, false
	}
	st, known := c.streams[rec.Stream]
	switch {
	case !known && rec.Revision == 0:
		st = &streamState{}
		c.streams[rec.Stream] = st
	case !known:
		// Its earlier events lie before the export; the ledger-wide chain
		// vouches for their order.
		st = &streamState{next: rec.Revision, last: link.Prev}
		c.streams[rec.Stream] = st
	}
	if rec.Revision != st.next {
		at(BreakRevision, fmt.Sprintf("revision %d", st.next), fmt.Sprintf("revision %d", rec.Revision), "the stream's events in the export are not consecutive")
		return Hash{}, false
	}
	if link.Prev != st.last {
		at(BreakPrevHash, st.last.String(), link.Prev.String(), "the event is not chained to the stream's previous event")
		return Hash{}, false
	}
	st.next, st.last = rec.Revision+1, content
	return content, true
}

func bytesOf(text *string, b64 string) ([]byte, error) {
	if text != nil {
		return []byte(*text), nil
	}
	return base64.StdEncoding.DecodeString(b64)
}

// end compares the checkpoints that cover the last events, and requires
// every exported event to be covered by one.
func (c *checker) end() {
	if !c.header {
		c.malformed("the file is empty")
		return
	}
	for _, p := range c.pending {
		if p.pos.Compare(c.last) > 0 {
			c.fail(&Break{Kind: BreakTruncated, Position: p.cp.Position,
				Expected: fmt.Sprintf("events up to position %s", p.cp.Position), Found: "the export ends at " + FormatPosition(c.last),
				Detail: "the export lacks events its last checkpoint covers"})
			return
		}
		if !c.compare(p) {
			return
		}
	}
	if c.uncovered > 0 {
		newest := "none"
		if c.report.LastCheckpoint != nil {
			newest = c.report.LastCheckpoint.Position
		}
		c.fail(&Break{Kind: BreakUncovered, Position: FormatPosition(c.last),
			Expected: "every exported event covered by a signed checkpoint", Found: fmt.Sprintf("%d events after the newest checkpoint (%s)", c.uncovered, newest),
			Detail: "sign a checkpoint (POST /v1/audit/checkpoints) and export again"})
	}
}

func (c *checker) finish() CheckReport {
	r := c.report
	r.OK = r.Break == nil
	r.Head, r.Count = c.chain.Head, c.chain.Count
	if r.Claim != "" {
		r.Warnings = append(r.Warnings, "events of other streams are present as hashes only: their content is not disclosed, and their place in the chain is what the checkpoints vouch for")
	}
	return r
}
