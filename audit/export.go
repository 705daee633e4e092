package audit

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// ExportFormat names the export's layout in its header line.
const ExportFormat = "rmaledger-audit-export/1"

// The kinds of line in an export.
const (
	lineHeader     = "header"
	lineCheckpoint = "checkpoint"
	lineEvent      = "event"
	lineHash       = "hash"
)

// ExportLine is one line of an export (JSON Lines); Kind says which of the
// other fields are set.
//
//   - "header" (the first line): Format, ExportedAt, From, To, Claim and
//     Anchor, the chain state the export starts from.
//   - "checkpoint": a signed checkpoint, and the revision of its event in
//     the checkpoint stream.
//   - "event": an event selected by the export, complete: Position, Stream,
//     Revision, EventID, Type, RecordedAt, Data and Metadata (the exact
//     stored bytes, as a JSON string; DataBase64 / MetadataBase64 instead
//     when they are not valid UTF-8), ContentHash and PrevHash.
//   - "hash": an event in the covered range that the export does not
//     select (another claim, or outside from..to): only its Position and
//     ContentHash, enough to recompute the ledger-wide chain without
//     disclosing it.
type ExportLine struct {
	Kind string `json:"kind"`

	// header
	Format     string      `json:"format,omitempty"`
	ExportedAt string      `json:"exported_at,omitempty"`
	From       string      `json:"from,omitempty"`
	To         string      `json:"to,omitempty"`
	Claim      string      `json:"claim,omitempty"`
	Anchor     *ChainState `json:"anchor,omitempty"`

	// checkpoint
	Checkpoint         *Checkpoint `json:"checkpoint,omitempty"`
	CheckpointRevision *uint64     `json:"checkpoint_revision,omitempty"`

	// event and hash
	Position       string     `json:"position,omitempty"`
	Stream         string     `json:"stream,omitempty"`
	Revision       *uint64    `json:"revision,omitempty"`
	EventID        *uuid.UUID `json:"event_id,omitempty"`
	Type           string     `json:"type,omitempty"`
	RecordedAt     *time.Time `json:"recorded_at,omitempty"`
	Data           *string    `json:"data,omitempty"`
	DataBase64     string     `json:"data_base64,omitempty"`
	Metadata       *string    `json:"metadata,omitempty"`
	MetadataBase64 string     `json:"metadata_base64,omitempty"`
	ContentHash    *Hash      `json:"content_hash,omitempty"`
	PrevHash       *Hash      `json:"prev_hash,omitempty"`
}

// ChainState is the ledger-wide chain at a position.
type ChainState struct {
	Position string `json:"position"`
	Head     Hash   `json:"head_hash"`
	Count    uint64 `json:"event_count"`
}

// ExportOptions selects what Export writes.
type ExportOptions struct {
	// From and To bound the positions of the events exported in full
	// (inclusive); zero To means the end of the log.
	From, To eventstore.Position
	// Stream, when set, exports only that stream's events in full (a
	// claim: "claim-<uuid>").
	Stream string
	// Withheld names streams whose events never leave in full, only as hash
	// lines, whatever the selection: the chain still checks, and what they
	// hold (password hashes, the console's session key) stays in the ledger.
	// Nil withholds none.
	Withheld func(stream string) bool
	// PageSize is how many events one read fetches (default 4096).
	PageSize int
	// Clock stamps the header (default time.Now).
	Clock func() time.Time
}

// ExportSummary says what an export holds.
type ExportSummary struct {
	Events      int `json:"events"`
	Hashes      int `json:"hashes"`
	Checkpoints int `json:"checkpoints"`
	// Uncovered counts exported events after the newest checkpoint: an
	// offline check cannot prove them until a later checkpoint is exported.
	Uncovered int `json:"uncovered"`
}

// Export writes the selected events with their hashes, and the signed
// checkpoints that cover them, as JSON Lines: enough for Check to prove,
// with only the public key, that the events are exactly those the ledger
// held when the checkpoints were signed. The export starts at the newest
// checkpoint before From (its anchor) and runs to the oldest checkpoint at
// or after the last selected event, so that the ledger-wide chain can be
// recomputed between two signed heads; events in that range that are not
// selected appear as content hashes only. Lines are in $all order, each
// checkpoint right after the last event it covers; nothing is held in
// memory but the current page.
func Export(ctx context.Context, store eventstore.Store, w io.Writer, opts ExportOptions) (ExportSummary, error) {
	var sum ExportSummary
	if opts.PageSize <= 0 {
		opts.PageSize = 4096
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	to := opts.To
	if to == eventstore.Start {
		to = eventstore.Position{Commit: ^uint64(0), Prepare: ^uint64(0)}
	}
	if opts.Stream != "" {
		// Nothing of the stream comes after its last event: the export
		// can close at the first checkpoint after that.
		last, err := store.ReadStream(ctx, opts.Stream, eventstore.Backwards, eventstore.End, 1)
		if err != nil {
			return sum, fmt.Errorf("audit: export %s: %w", opts.Stream, err)
		}
		if p := last[0].Position; p != eventstore.Start && p.Compare(to) < 0 {
			to = p // KurrentDB leaves stream reads' positions zero: then read on
		}
	}
	cps, err := readCheckpoints(ctx, store)
	if err != nil {
		return sum, err
	}
	anchor := ChainState{Position: FormatPosition(eventstore.Start), Head: Genesis}
	start, first := eventstore.Start, 0
	for i, c := range cps {
		if c.pos.Compare(opts.From) < 0 {
			anchor = ChainState{Position: c.cp.Position, Head: c.cp.Head, Count: c.cp.Count}
			start, first = c.pos, i
		}
	}
	if anchor.Position == FormatPosition(eventstore.Start) {
		first = 0
		for first < len(cps) && cps[first].pos == eventstore.Start {
			first++ // checkpoints of an empty ledger cover nothing
		}
		first-- // may be -1: nothing to emit before the events
		if first >= 0 {
			anchor = ChainState{Position: cps[first].cp.Position, Head: cps[first].cp.Head, Count: cps[first].cp.Count}
		}
	}

	buf := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	header := ExportLine{Kind: lineHeader, Format: ExportFormat, ExportedAt: opts.Clock().UTC().Format(time.RFC3339Nano),
		From: FormatPosition(opts.From), Claim: opts.Stream, Anchor: &anchor}
	if opts.To != eventstore.Start {
		header.To = FormatPosition(opts.To)
	}
	if err := enc.Encode(header); err != nil {
		return sum, err
	}
	next := 0 // the next checkpoint to emit
	emit := func(c storedCheckpoint) error {
		cp, rev := c.cp, c.revision
		sum.Checkpoints++
		sum.Uncovered = 0
		return enc.Encode(ExportLine{Kind: lineCheckpoint, Checkpoint: &cp, CheckpointRevision: &rev})
	}
	if first >= 0 {
		if err := emit(cps[first]); err != nil {
			return sum, err
		}
		next = first + 1
	}
	// emitUpTo writes the checkpoints that cover positions before p.
	emitUpTo := func(p eventstore.Position, inclusive bool) error {
		for next < len(cps) {
			c := cps[next].pos.Compare(p)
			if c > 0 || (c == 0 && !inclusive) {
				return nil
			}
			if err := emit(cps[next]); err != nil {
				return err
			}
			next++
		}
		return nil
	}
	var (
		hasher       Hasher
		after        = start
		lastSelected = start
		last         = start
	)
scan:
	for {
		page, err := store.ReadAll(ctx, after, opts.PageSize, eventstore.Filter{})
		if err != nil {
			return sum, fmt.Errorf("audit: read the log: %w", err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Position
		for i := range page {
			rec := &page[i]
			if rec.Stream == eventlog.CheckpointStream {
				continue
			}
			if err := emitUpTo(rec.Position, false); err != nil {
				return sum, err
			}
			if rec.Position.Compare(to) > 0 {
				// Past the selection: go on (hashes only) to the first
				// checkpoint covering it, if there is one.
				closed := next > 0 && cps[next-1].pos.Compare(lastSelected) >= 0
				if closed || !coveredLater(cps[next:], lastSelected) {
					break scan
				}
			}
			last = rec.Position
			selected := rec.Position.Compare(opts.From) >= 0 && rec.Position.Compare(to) <= 0 &&
				(opts.Stream == "" || rec.Stream == opts.Stream) && (opts.Withheld == nil || !opts.Withheld(rec.Stream))
			if !selected {
				content, _, _ := hasher.Event(rec)
				err = enc.Encode(ExportLine{Kind: lineHash, Position: FormatPosition(rec.Position), ContentHash: &content})
				sum.Hashes++
			} else {
				lastSelected = rec.Position
				err = enc.Encode(eventLine(rec))
				sum.Events++
				sum.Uncovered++
			}
			if err != nil {
				return sum, err
			}
		}
	}
	// Checkpoints at the last event written close the export.
	if err := emitUpTo(last, true); err != nil {
		return sum, err
	}
	return sum, buf.Flush()
}

// coveredLater reports whether one of cps covers position p.
func coveredLater(cps []storedCheckpoint, p eventstore.Position) bool {
	for _, c := range cps {
		if c.pos.Compare(p) >= 0 {
			return true
		}
	}
	return false
}

// storedCheckpoint is a checkpoint read from its stream.
type storedCheckpoint struct {
	cp       Checkpoint
	pos      eventstore.Position
	revision uint64
}

// readCheckpoints reads every checkpoint, ordered by the position it covers.
func readCheckpoints(ctx context.Context, store eventstore.Store) ([]storedCheckpoint, error) {
	recs, err := store.ReadStream(ctx, eventlog.CheckpointStream, eventstore.Forwards, 0, 0)
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	cps := make([]storedCheckpoint, 0, len(recs))
	for _, rec := range recs {
		cp, err := decodeCheckpoint(rec.Data)
		if err != nil {
			return nil, fmt.Errorf("audit: checkpoint %d: %w", rec.Revision, err)
		}
		pos, _ := cp.At()
		cps = append(cps, storedCheckpoint{cp: cp, pos: pos, revision: rec.Revision})
	}
	slices.SortStableFunc(cps, func(a, b storedCheckpoint) int { return a.pos.Compare(b.pos) })
	return cps, nil
}

// eventLine is an event exported in full.
func eventLine(rec *eventstore.RecordedEvent) ExportLine {
	l := ExportLine{Kind: lineEvent, Position: FormatPosition(rec.Position), Stream: rec.Stream, Type: rec.Type}
	rev, id, at := rec.Revision, rec.ID, rec.Created
	l.Revision, l.EventID, l.RecordedAt = &rev, &id, &at
	if utf8.Valid(rec.Data) {
		s := string(rec.Data)
		l.Data = &s
	} else {
		l.DataBase64 = base64.StdEncoding.EncodeToString(rec.Data)
	}
	if utf8.Valid(rec.Metadata) {
		s := string(rec.Metadata)
		l.Metadata = &s
	} else {
		l.MetadataBase64 = base64.StdEncoding.EncodeToString(rec.Metadata)
	}
	if _, link, ok := splitPrefix(rec.Metadata); ok {
		l.ContentHash, l.PrevHash = &link.Content, &link.Prev
	}
	return l
}
